"""Outcome-level group estimators: GRPO and RLOO (one return per episode, broadcast to its turns)."""

from __future__ import annotations

import numpy as np

from turngym.agents.llm.batch import TurnBatch
from turngym.agents.llm.estimators._segments import EPS, episode_returns, group_mean_std, layout, std_ddof
from turngym.agents.llm.estimators.registry import register


@register("grpo")
def grpo(batch: TurnBatch, *, normalize_std: bool = True, eps: float = EPS,
         unbiased_std: bool = False) -> np.ndarray:
    """GRPO advantage, broadcast to every turn of the episode.

    Shao et al. (2024), "DeepSeekMath" (arXiv:2402.03300), section 4.1.2, outcome supervision:
    ``A_i = (R_i - mean_group(R)) / (std_group(R) + eps)`` with ``R_i`` the episode's summed reward and the
    statistics taken over the episodes of the group.

    Args:
        batch: The turns.
        normalize_std: Divide by ``std + eps`` (False gives Dr. GRPO's ``R_i - mean``).
        eps: Added to the std.
        unbiased_std: False (default): the population std (divide by G), as the paper writes std and as
            this package always did (kept so earlier runs reproduce); True: the unbiased sample std
            (divide by G - 1), as TRL's ``GRPOTrainer`` and verl-agent compute it with ``torch.std``. For
            groups of equal size G the two differ by the constant factor ``sqrt((G-1)/G)`` (0.935 at G=8).
            A group of one episode gets 0 either way.
    """
    lay = layout(batch)
    ret = episode_returns(batch, lay)
    mean, std, _ = group_mean_std(ret, lay.group, lay.num_groups, ddof=std_ddof(unbiased_std))
    adv = ret - mean[lay.group]
    if normalize_std:
        adv = adv / (std[lay.group] + eps)
    return adv[lay.episode]


@register("rloo")
def rloo(batch: TurnBatch) -> np.ndarray:
    """REINFORCE leave-one-out advantage, broadcast to every turn of the episode.

    Kool, van Hoof, Welling (2019), "Buy 4 REINFORCE Samples, Get a Baseline for Free!"; Ahmadian et al.
    (2024), "Back to Basics" (arXiv:2402.14740), eq. 6: ``A_i = R_i - 1/(G-1) * sum_{j != i} R_j``.
    A group holding a single episode has no baseline and gets 0.
    """
    lay = layout(batch)
    ret = episode_returns(batch, lay)
    total = np.bincount(lay.group, weights=ret, minlength=lay.num_groups)[lay.group]
    count = np.bincount(lay.group, minlength=lay.num_groups)[lay.group]
    adv = np.where(count > 1, ret - (total - ret) / np.maximum(count - 1, 1), 0.0)
    return adv[lay.episode]
