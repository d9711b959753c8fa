"""Reward shapers: pure functions of a batch returning a new reward array (the batch is not modified)."""

from __future__ import annotations

import numpy as np

from turngym.agents.llm.batch import TurnBatch
from turngym.agents.llm.estimators._segments import layout
from turngym.agents.llm.estimators.igpo import outcome_per_episode


def gated_accumulation(batch: TurnBatch, gate: float) -> np.ndarray:
    """G-RA: step rewards count only when the episode's outcome reward passes the gate.

    Gated Reward Accumulation (Sun et al. 2025, arXiv:2508.10548): the immediate (non-final) rewards of an
    episode are kept when its outcome reward is ``>= gate`` and zeroed otherwise; the last turn's reward
    is always kept. The outcome is the ``outcome`` column at the last turn, else the last turn's reward.
    """
    lay = layout(batch)
    passed = (outcome_per_episode(batch, lay) >= gate)[lay.episode]
    return np.where(lay.is_last | passed, batch.reward, 0.0)


def invalid_action_penalty(batch: TurnBatch, invalid_mask: np.ndarray, penalty: float) -> np.ndarray:
    """Returns ``reward - penalty`` on the turns where ``invalid_mask`` is True (an invalid action).

    Raises:
        ValueError: When the mask's length differs from the batch's.
    """
    mask = np.asarray(invalid_mask, dtype=bool)
    if mask.shape != (len(batch),):
        raise ValueError(f"invalid_mask: expected shape ({len(batch)},), got {mask.shape}")
    return batch.reward - penalty * mask
