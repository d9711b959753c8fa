"""MARS: per-player returns-to-go with agent-specific (role-wise) normalization for self-play."""

from __future__ import annotations

import numpy as np

from turngym.agents.batch import TurnBatch
from turngym.agents.estimators._segments import EPS, dense_codes, layout, normalize, reverse_scan
from turngym.agents.estimators.registry import register


def player_returns_to_go(batch: TurnBatch, gamma: float = 1.0) -> np.ndarray:
    """Returns ``G_t = sum_{k >= t, agent_k = agent_t} gamma^(#own turns between) r_k`` for every row.

    Each reward row belongs to the player who acted on that turn; the discount counts that player's turns.
    """
    lay = layout(batch)
    agent = batch.agent_id - batch.agent_id.min(initial=0)
    span = int(agent.max(initial=0)) + 1
    # stable sort by (episode, agent): turn order is kept because turns increase within an episode
    order = np.argsort(lay.episode * span + agent, kind="stable")
    ep, ag = lay.episode[order], batch.agent_id[order]
    end = np.ones(order.size, dtype=bool)
    end[:-1] = (ep[1:] != ep[:-1]) | (ag[1:] != ag[:-1])
    out = np.empty(order.size, dtype=np.float64)
    out[order] = reverse_scan(batch.reward[order], gamma, end)
    return out


@register("mars")
def mars(batch: TurnBatch, *, gamma: float = 1.0, normalize_std: bool = False, eps: float = EPS) -> np.ndarray:
    """MARS advantage: each player's return-to-go minus the mean of the same role in the group.

    Multi-Agent Reinforcement learning for Self-play (MARS, 2025), agent-specific advantage normalization:
    ``A_t = G_t - mean{G_k : group_k = group_t, agent_k = agent_t}`` over the turn rows of that role in the
    group, optionally divided by that role's ``std + eps``.

    Args:
        batch: The turns; ``agent_id`` is the player role.
        gamma: Discount over the player's own turns.
        normalize_std: Also divide by the role's std.
        eps: Added to the std.
    """
    lay = layout(batch)
    g = player_returns_to_go(batch, gamma)
    agent = batch.agent_id - batch.agent_id.min(initial=0)
    span = int(agent.max(initial=0)) + 1
    role, n = dense_codes(lay.group[lay.episode].astype(np.int64) * span + agent)
    return normalize(g, role, n, "mean_std_norm" if normalize_std else "mean_norm", eps)
