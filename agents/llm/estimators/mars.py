"""MARS: per-player returns-to-go with agent-specific (role-wise) normalization for self-play."""

from __future__ import annotations

import numpy as np

from turngym.agents.llm.batch import TurnBatch
from turngym.agents.llm.estimators._segments import EPS, dense_codes, group_mean_std, layout, reverse_scan, std_ddof
from turngym.agents.llm.estimators.registry import register, register_metrics


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
def mars(batch: TurnBatch, *, gamma: float = 1.0, normalize_std: bool = False, eps: float = EPS,
         unbiased_std: bool = False) -> np.ndarray:
    """MARS advantage: each player's return-to-go minus the mean episode return of the same role in the group.

    Yuan, Xu et al. (2025), "MARS: Reinforcing Multi-Agent Reasoning of LLMs through Self-Play in Strategic
    Games" (arXiv:2510.15414), Sec. 3: a turn-level advantage (the acting player's return-to-go, so each
    turn is credited with what followed it) and agent-specific advantage normalization (the baseline, and
    optionally the scale, come from the returns of the same player role only, because roles of an
    asymmetric game earn on different scales; one pooled baseline would favour whichever seat pays more):

    * ``G_t``: return-to-go of the player who acted at turn t over its own turns (``player_returns_to_go``);
    * ``R_{e,a}``: the episode return of role a in episode e, i.e. ``G`` at the role's first turn of e (the
      plain sum of its rewards when ``gamma = 1``);
    * ``A_t = G_t - mean_{e in group} R_{e,a_t}``, divided by ``std_{e in group} R_{e,a_t} + eps`` when
      ``normalize_std``; the statistics go over the episodes of the task group in which role ``a_t`` acted,
      one return per episode (not one per turn row, so long episodes do not weigh more).

    The role is the ``agent_id`` column. A batch whose rows all have one ``agent_id`` (every single-agent env,
    and today's rollouts, which seat the learner in one seat against fixed opponents) is single-role: then
    MARS is GRPO's centering with a turn-level return-to-go. ``mars_metrics`` (logged by the trainer as the
    estimator's metrics) reports ``roles`` and ``single_role`` so a run shows which case it is in.

    Args:
        batch: The turns; ``agent_id`` is the player role.
        gamma: Discount over the player's own turns.
        normalize_std: Also divide by the role's std.
        eps: Added to the std.
        unbiased_std: Divide the squared deviations by N - 1 instead of N (see ``grpo``); default False.
    """
    lay = layout(batch)
    g = player_returns_to_go(batch, gamma)
    if g.size == 0:
        return g
    agent = batch.agent_id - batch.agent_id.min(initial=0)
    span = int(agent.max(initial=0)) + 1
    role, n_roles = dense_codes(lay.group[lay.episode].astype(np.int64) * span + agent)
    # The first row of each (episode, role) holds that role's episode return R_{e,a}.
    _, first = np.unique(lay.episode.astype(np.int64) * span + agent, return_index=True)
    mean, std, _ = group_mean_std(g[first], role[first], n_roles, ddof=std_ddof(unbiased_std))
    adv = g - mean[role]
    if normalize_std:
        adv = adv / (std[role] + eps)
    return adv


@register_metrics("mars")
def mars_metrics(batch: TurnBatch) -> dict[str, float]:
    """``roles``: distinct ``agent_id`` values; ``single_role``: 1.0 when there is only one (see ``mars``)."""
    roles = int(np.unique(batch.agent_id).size)
    return {"roles": float(roles), "single_role": float(roles <= 1)}
