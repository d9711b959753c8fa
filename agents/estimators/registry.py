"""Name -> estimator registry. The trainer looks estimators up by name and never branches on it."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from turngym.agents.batch import TurnBatch
from turngym.envs.core.errors import ConfigError

Estimator = Callable[..., np.ndarray]

ESTIMATORS: dict[str, Estimator] = {}


def register(name: str) -> Callable[[Estimator], Estimator]:
    """Returns a decorator that registers ``fn(batch, **options) -> advantages`` under ``name``.

    Raises:
        ValueError: When ``name`` is already registered.
    """

    def deco(fn: Estimator) -> Estimator:
        if name in ESTIMATORS:
            raise ValueError(f"estimator {name!r} is already registered")
        ESTIMATORS[name] = fn
        return fn

    return deco


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
