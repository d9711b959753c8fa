"""IGPO: information-gain-based turn rewards with separately normalized outcome rewards."""

from __future__ import annotations

import numpy as np

from turngym.agents.llm.batch import TurnBatch
from turngym.agents.llm.estimators._segments import EPS, Layout, episode_scan, layout, normalize
from turngym.agents.llm.estimators.registry import register


def outcome_per_episode(batch: TurnBatch, lay: Layout) -> np.ndarray:
    """Returns each episode's outcome reward: the ``outcome`` column at its last turn, else its last reward."""
    col = batch.outcome if batch.outcome is not None else batch.reward
    return col[lay.ends]


def info_gain(batch: TurnBatch, score0: float | np.ndarray | None = None) -> np.ndarray:
    """Returns the per-turn information gain ``r_t = s_t - s_{t-1}``.

    ``batch.score[t]`` holds the score (mean log-prob of the gold answer, teacher forced) computed with the
    history up to and including turn t. The rollout gets the answer from the env's registry-declared
    accessor (``EnvInfo.gold_answer``, see ``turngym.agents.llm.rollout.collect``), never from an info.
    ``s_{-1}``, the score with no turn taken, comes from ``score0``: a scalar, or a per-row array read at
    each episode's first row; ``None`` means ``s_{-1} = s_0`` (the first turn then has zero gain).
    """
    if batch.score is None:
        raise ValueError("igpo: the batch has no `score` column (per-turn information-gain scores)")
    lay = layout(batch)
    s = batch.score
    prev = np.empty_like(s)
    prev[1:] = s[:-1]
    if score0 is None:
        first = s[lay.starts]
    else:
        first = np.broadcast_to(np.asarray(score0, dtype=np.float64), s.shape)[lay.starts]
    prev[lay.starts] = first
    return s - prev


@register("igpo", requires=("score",))
def igpo(batch: TurnBatch, *, gamma: float = 1.0, score0: float | np.ndarray | None = None,
         eps: float = EPS) -> np.ndarray:
    """IGPO turn advantages.

    Wang et al. (2025), "Information Gain-based Policy Optimization" (arXiv:2510.14967), as specified in
    DESIGN section 4: ``r_t = s_t - s_{t-1}`` (see ``info_gain``), plus the outcome reward at the last turn.
    The info-gain rewards (pooled over every turn of the group) and the outcome rewards (one per episode
    of the group) are z-normalized separately within the group (population std, ``+ eps``);
    ``r~_t = z(IG_t) + [t = T] z(outcome)``; ``A_t = r~_t + gamma A_{t+1}`` (gamma = 1 by default).

    Args:
        batch: The turns; needs ``score``; the outcome comes from ``outcome`` (else the last turn's reward).
        gamma: Discount of the advantage recursion.
        score0: ``s_{-1}``, see ``info_gain``.
        eps: Added to the stds.
    """
    lay = layout(batch)
    ig = info_gain(batch, score0)
    row_group = lay.group[lay.episode]
    z_ig = normalize(ig, row_group, lay.num_groups, "mean_std_norm", eps)
    z_out = normalize(outcome_per_episode(batch, lay), lay.group, lay.num_groups, "mean_std_norm", eps)
    shaped = z_ig.copy()
    shaped[lay.ends] += z_out
    return episode_scan(batch, lay, shaped, gamma)
