"""Name -> estimator registry. The trainer looks estimators up by name and never branches on it.

Besides the estimator itself (``fn(batch, **options) -> advantages``), a name may carry:

* ``requires``: the optional ``TurnBatch`` columns the estimator reads (the trainer computes them);
* value targets (``register_value_targets``): what a value head regresses to when this estimator is used,
  computed from the SAME options as the advantages, so that for ``gae`` the targets are exactly
  ``A + V`` (issue 13, bug 2). ``value_targets`` is the one call the trainer makes;
* diagnostics (``register_metrics``): a few floats about the batch as the estimator sees it (e.g. MARS
  reports how many player roles it found), which the trainer logs without knowing the name.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping

import numpy as np

from turngym.agents.llm.batch import TurnBatch
from turngym.envs.core.errors import ConfigError

Estimator = Callable[..., np.ndarray]
Diagnostics = Callable[[TurnBatch], dict[str, float]]

ESTIMATORS: dict[str, Estimator] = {}
#: Optional batch columns each estimator needs (``value``: critic values; ``score``: information-gain
#: scores). The trainer reads this to decide what to compute, so it never branches on a name.
REQUIRES: dict[str, frozenset[str]] = {}
#: Value-target functions by estimator name (same signature and options as the estimator).
TARGETS: dict[str, Estimator] = {}
#: Diagnostic functions by estimator name.
METRICS: dict[str, Diagnostics] = {}


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


def register_value_targets(name: str) -> Callable[[Estimator], Estimator]:
    """Returns a decorator that registers ``fn(batch, **options) -> targets`` as the value targets of ``name``.

    ``fn`` must accept exactly the estimator's options (``value_targets`` checks them against the
    estimator's signature before calling it).

    Raises:
        ValueError: When ``name`` is not a registered estimator or already has value targets.
    """

    def deco(fn: Estimator) -> Estimator:
        if name not in ESTIMATORS:
            raise ValueError(f"register_value_targets: {name!r} is not a registered estimator")
        if name in TARGETS:
            raise ValueError(f"estimator {name!r} already has value targets")
        TARGETS[name] = fn
        return fn

    return deco


def register_metrics(name: str) -> Callable[[Diagnostics], Diagnostics]:
    """Returns a decorator that registers ``fn(batch) -> {metric: float}`` as the diagnostics of ``name``.

    Raises:
        ValueError: When ``name`` is not a registered estimator or already has diagnostics.
    """

    def deco(fn: Diagnostics) -> Diagnostics:
        if name not in ESTIMATORS:
            raise ValueError(f"register_metrics: {name!r} is not a registered estimator")
        if name in METRICS:
            raise ValueError(f"estimator {name!r} already has diagnostics")
        METRICS[name] = fn
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


def option_names(name: str) -> tuple[str, ...]:
    """The keyword options estimator ``name`` accepts (every parameter after the batch)."""
    params = list(inspect.signature(get_estimator(name)).parameters.values())[1:]
    return tuple(p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))


def check_options(name: str, options: Mapping[str, object]) -> None:
    """Checks that every key of ``options`` is an option of estimator ``name``.

    Raises:
        ConfigError: On the first unknown key, naming the accepted options and the nearest one (so a typo
            such as ``lamda`` fails before training instead of being silently dropped).
    """
    accepted = option_names(name)
    for key in options:
        if key not in accepted:
            raise ConfigError(f"algo.estimator_options of {name!r}", f"options among {list(accepted)}", key,
                              choices=accepted)


def estimate(name: str, batch: TurnBatch, **options: object) -> np.ndarray:
    """Runs the estimator ``name`` on ``batch`` and returns one advantage per turn row.

    Raises:
        ConfigError: For an unknown name or an option the estimator does not take.
    """
    check_options(name, options)
    return get_estimator(name)(batch, **options)


def has_value_targets(name: str) -> bool:
    """True when estimator ``name`` defines its own value targets (``register_value_targets``)."""
    get_estimator(name)
    return name in TARGETS


def value_targets(name: str, batch: TurnBatch, **options: object) -> np.ndarray:
    """The value head's regression targets, one per turn row, for a run that uses estimator ``name``.

    Call it with the SAME ``options`` as ``estimate``. When the estimator registered value targets (``gae``:
    ``gae_returns``, the lambda-returns ``A + V``), they are computed with those options, so the critic
    learns the returns its own advantages assume. Otherwise the value head is an auxiliary critic of the
    loss (turn-level PPO with a critic-free estimator): its targets are ``gae_returns`` with GAE's default
    options (gamma 1, lambda 0.95), and the estimator's options, which mean something else, are not passed.

    Raises:
        ConfigError: For an unknown name or an option the estimator does not take.
        ValueError: When the batch has no ``value`` column.
    """
    check_options(name, options)
    if name in TARGETS:
        return TARGETS[name](batch, **options)
    return TARGETS["gae"](batch)


def estimator_metrics(name: str, batch: TurnBatch) -> dict[str, float]:
    """Diagnostics of estimator ``name`` on ``batch`` (empty when it registered none)."""
    get_estimator(name)
    fn = METRICS.get(name)
    return dict(fn(batch)) if fn is not None else {}
