"""Losses: token-level PPO clip, turn-level PPO (ST-PPO), EPO entropy control, KL, value (DESIGN section 4).

Policy losses are looked up by name in a registry (``register_loss``, ``loss_requirements``,
``build_loss``), like the estimators.

Every term is called as ``term(inputs: LossInputs) -> (scalar loss to minimize, metrics)``; policy losses
share ``PolicyLoss`` and differ only in its ``objective`` hook (and the ratio level); ``CompositeLoss``
sums a policy loss with extra terms and prefixes their metrics.

Example:
    >>> import torch
    >>> from turngym.agents.llm.losses import CompositeLoss, KLPenalty, LossInputs, TurnPPO
    >>> lp = torch.tensor([[-1.0, -0.5, -0.2]], requires_grad=True)
    >>> x = LossInputs(logp=lp, old_logp=lp.detach(), mask=torch.tensor([[False, True, True]]),
    ...                advantages=torch.tensor([0.5]), ref_logp=lp.detach())
    >>> loss, metrics = CompositeLoss(TurnPPO(), [KLPenalty(coef=0.1)])(x)
    >>> round(loss.item(), 4), metrics["policy/clip_frac"], metrics["kl/kl"]
    (-0.5, 0.0, 0.0)
"""

from turngym.agents.llm.losses.base import (
    AGG_ALIASES,
    AGGREGATIONS,
    CompositeLoss,
    LossInputs,
    LossTerm,
    PolicyLoss,
    aggregate,
    masked_mean,
    trust_region_weight,
    turn_mean,
)
from turngym.agents.llm.losses.epo import (
    BANDS,
    EntropyControl,
    PhaseSchedule,
    band_penalty,
    phase_weight,
    trajectory_entropy,
)
from turngym.agents.llm.losses.kl import KL_KINDS, KLPenalty, kl_k1, kl_k2, kl_k3
from turngym.agents.llm.losses.ppo import PPOClip, ppo_clip_objective
from turngym.agents.llm.losses.registry import (
    LOSS_REQUIRES,
    LOSSES,
    build_loss,
    get_loss,
    loss_requirements,
    phase_schedule,
    register_loss,
)
from turngym.agents.llm.losses.turn import TurnPPO
from turngym.agents.llm.losses.value import ValueHead, ValueLoss, explained_variance

__all__ = [
    "AGGREGATIONS", "AGG_ALIASES", "BANDS", "KL_KINDS", "LOSSES", "LOSS_REQUIRES", "CompositeLoss",
    "EntropyControl", "KLPenalty", "LossInputs", "LossTerm", "PPOClip", "PhaseSchedule", "PolicyLoss", "TurnPPO",
    "ValueHead", "ValueLoss", "aggregate", "band_penalty", "build_loss", "explained_variance", "get_loss",
    "kl_k1", "kl_k2", "kl_k3", "loss_requirements", "masked_mean", "phase_schedule", "phase_weight",
    "ppo_clip_objective", "register_loss", "trajectory_entropy", "trust_region_weight", "turn_mean",
]
