"""Name -> estimator registry. The trainer looks estimators up by name and never branches on it."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from turngym.agents.batch import TurnBatch
from turngym.envs.core.errors import ConfigError

Estimator = Callable[..., np.ndarray]

ESTIMATORS: dict[str, Estimator] = {}
#: Optional batch columns each estimator needs (``value``: critic values; ``score``: information-gain
#: scores). The trainer reads this to decide what to compute, so it never branches on a name.
REQUIRES: dict[str, frozenset[str]] = {}


def register(name: str, requires: tuple[str, ...] = ()) -> Callable[[Estimator], Estimator]:
    """Returns a decorator that registers ``fn(batch, **options) -> advantages`` under ``name``.

    Args:
        name: Registry name.
        requires: Optional ``TurnBatch`` columns the estimator reads (``"value"``, ``"score"``).

    Raises:
        ValueError: When ``name`` is already registered.
    """

    def deco(fn: Estimator) -> Estimator:
        if name in ESTIMATORS:
            raise ValueError(f"estimator {name!r} is already registered")
        ESTIMATORS[name] = fn
        REQUIRES[name] = frozenset(requires)
        return fn

    return deco


def requirements(name: str) -> frozenset[str]:
    """The optional batch columns estimator ``name`` needs (see ``REQUIRES``)."""
    get_estimator(name)
    return REQUIRES[name]


def get_estimator(name: str) -> Estimator:
    """Returns the estimator registered under ``name``.

    Raises:
        ConfigError: For an unknown name, suggesting the nearest registered one.
    """
    try:
        return ESTIMATORS[name]
    except KeyError:
        raise ConfigError("estimator", f"one of {sorted(ESTIMATORS)}", name, choices=ESTIMATORS) from None


def estimate(name: str, batch: TurnBatch, **options: object) -> np.ndarray:
    """Runs the estimator ``name`` on ``batch`` and returns one advantage per turn row."""
    return get_estimator(name)(batch, **options)
