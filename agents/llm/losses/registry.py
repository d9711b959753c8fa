"""Name -> policy-loss registry and ``build_loss``: the trainer builds its objective without branching on names.

Like the estimators' registry (``turngym.agents.llm.estimators.registry``): each policy loss is registered
under a name with a factory ``factory(algo) -> PolicyLoss`` and the model parts it needs
(``requires=("value",)``: a value head). The trainer asks ``loss_requirements(name)`` what to build and
``build_loss(algo, with_value)`` for the composite objective (policy loss + value, EPO and KL terms).

Example:
    >>> from turngym.agents.llm.losses.registry import LOSSES, loss_requirements
    >>> sorted(LOSSES), sorted(loss_requirements("turn-ppo"))
    (['ppo', 'turn-ppo'], ['value'])
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Protocol

from turngym.agents.llm.losses.base import CompositeLoss, LossTerm, PolicyLoss
from turngym.agents.llm.losses.epo import EntropyControl, PhaseSchedule
from turngym.agents.llm.losses.kl import KLPenalty
from turngym.agents.llm.losses.ppo import PPOClip
from turngym.agents.llm.losses.turn import TurnPPO
from turngym.agents.llm.losses.value import ValueLoss
from turngym.envs.core.errors import ConfigError


class LossConfig(Protocol):
    """The fields ``build_loss`` reads (``turngym.agents.llm.train.config.AlgoConfig`` has them all)."""

    loss: str
    clip: float
    clip_high: float | None
    dual_clip: float | None
    agg: str
    value_coef: float
    epo: bool
    epo_coef: float
    epo_smooth_coef: float
    epo_kappa_low: float
    epo_kappa_high: float
    epo_band: str
    epo_traj_weighting: str
    epo_schedule: str
    kl_coef: float
    kl_kind: str


LossFactory = Callable[[LossConfig], PolicyLoss]

LOSSES: dict[str, LossFactory] = {}
#: Model parts each policy loss needs (``"value"``: a value head whose values and targets reach the loss).
LOSS_REQUIRES: dict[str, frozenset[str]] = {}


def register_loss(name: str, requires: tuple[str, ...] = ()) -> Callable[[LossFactory], LossFactory]:
    """Returns a decorator that registers ``factory(algo) -> PolicyLoss`` under ``name``.

    Args:
        name: Registry name (the value of ``--algo.loss``).
        requires: Model parts the loss needs (``"value"``).

    Raises:
        ValueError: When ``name`` is already registered.
    """

    def deco(factory: LossFactory) -> LossFactory:
        if name in LOSSES:
            raise ValueError(f"loss {name!r} is already registered")
        LOSSES[name] = factory
        LOSS_REQUIRES[name] = frozenset(requires)
        return factory

    return deco


def get_loss(name: str) -> LossFactory:
    """Returns the policy-loss factory registered under ``name``.

    Raises:
        ConfigError: For an unknown name, suggesting the nearest registered one.
    """
    try:
        return LOSSES[name]
    except KeyError:
        raise ConfigError("loss", f"one of {sorted(LOSSES)}", name, choices=LOSSES) from None


def loss_requirements(name: str) -> frozenset[str]:
    """The model parts policy loss ``name`` needs (see ``LOSS_REQUIRES``).

    Raises:
        ConfigError: For an unknown name.
    """
    get_loss(name)
    return LOSS_REQUIRES[name]


@register_loss("ppo")
def _ppo(algo: LossConfig) -> PolicyLoss:
    """Token-level PPO clip (``PPOClip``)."""
    return PPOClip(clip_low=algo.clip, clip_high=algo.clip_high, dual_clip=algo.dual_clip, agg=algo.agg)


@register_loss("turn-ppo", requires=("value",))
def _turn_ppo(algo: LossConfig) -> PolicyLoss:
    """Turn-level PPO (ST-PPO, ``TurnPPO``): an actor-critic method, so it needs a value head."""
    return TurnPPO(clip_low=algo.clip, clip_high=algo.clip_high, dual_clip=algo.dual_clip, agg=algo.agg)


def phase_schedule(text: str) -> PhaseSchedule:
    """The phase schedule named by ``--algo.epo-schedule``.

    Args:
        text: ``"epo"`` (``PhaseSchedule.epo_default()``, the reference code's two-phase decay),
            ``"constant"`` (weight 1 throughout), or a JSON list of ``[progress, weight]`` knots
            (piecewise linear), e.g. ``"[[0, 1], [1, 0]]"``.

    Raises:
        ConfigError: On anything else, or knots that ``PhaseSchedule`` rejects.
    """
    if text == "epo":
        return PhaseSchedule.epo_default()
    if text == "constant":
        return PhaseSchedule.constant(1.0)
    expected = "'epo', 'constant' or a JSON list of [progress, weight] knots, e.g. '[[0, 1], [1, 0]]'"
    try:
        knots = json.loads(text)
        return PhaseSchedule(tuple((float(b), float(w)) for b, w in knots))
    except (json.JSONDecodeError, TypeError, ValueError) as err:
        raise ConfigError("algo.epo_schedule", expected, text, choices=("epo", "constant")) from err


def build_loss(algo: LossConfig, with_value: bool) -> CompositeLoss:
    """The composite objective of ``algo``: the registered policy loss plus value, EPO and KL terms.

    Args:
        algo: An ``AlgoConfig`` (any object with the ``LossConfig`` fields).
        with_value: Add the value loss (the trainer built a value head because the estimator or the policy
            loss requires one).

    Raises:
        ConfigError: For an unknown loss name or EPO schedule.
        ValueError: When a term rejects its settings (clip ranges, aggregation, band, KL kind).
    """
    policy = get_loss(algo.loss)(algo)
    terms: list[LossTerm] = []
    if with_value:
        terms.append(ValueLoss(coef=algo.value_coef))
    if algo.epo:
        terms.append(EntropyControl(
            beta=algo.epo_coef, smooth_coef=algo.epo_smooth_coef, kappa_low=algo.epo_kappa_low,
            kappa_high=algo.epo_kappa_high, band=algo.epo_band, traj_weighting=algo.epo_traj_weighting,
            smooth_schedule=phase_schedule(algo.epo_schedule)))
    if algo.kl_coef > 0:  # a KL term (in the loss or the reward) is what needs the reference model
        terms.append(KLPenalty(coef=algo.kl_coef, kind=algo.kl_kind))
    return CompositeLoss(policy, terms)
