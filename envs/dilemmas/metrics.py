"""Social-outcome metrics of multi-agent episodes (Perolat et al. 2017), plus the cooperation rate.

Perolat et al. 2017, "A multi-agent reinforcement learning model of common-pool resource appropriation".

Every function is pure and takes whole-episode arrays, so envs compute them once at episode end and put
them in ``info`` (``info["social"]``), and experiments can recompute them from logged rewards.

Notation: ``N`` agents, ``T`` steps, ``r[t, i]`` the reward of agent ``i`` at step ``t`` (0-based),
``R_i = sum_t r[t, i]`` the episode return.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _rewards(rewards: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """``rewards`` as a float ``(T, N)`` array (raises ``ValueError`` on any other shape)."""
    r = np.asarray(rewards, dtype=np.float64)
    if r.ndim != 2:
        raise ValueError(f"rewards must be a (steps, agents) array, got shape {r.shape}")
    return r


def utilitarian_efficiency(rewards: np.ndarray | Sequence[Sequence[float]]) -> float:
    """U = sum_i R_i / T: the collective return per step (Perolat et al. 2017, eq. for U).

    Args:
        rewards: ``(T, N)`` per-step rewards.

    Returns:
        The sum of all agents' returns divided by the episode length (0 for an empty episode).
    """
    r = _rewards(rewards)
    return float(r.sum() / r.shape[0]) if r.shape[0] else 0.0


def equality(returns: np.ndarray | Sequence[float]) -> float:
    """E = 1 - Gini = 1 - sum_i sum_j |R_i - R_j| / (2 N sum_i |R_i|) (Perolat et al. 2017, eq. for E).

    The Gini denominator uses ``|R_i|`` so the value stays in [0, 1] even when some returns are negative
    (with non-negative returns it is exactly Perolat's formula).

    Args:
        returns: ``(N,)`` episode returns.

    Returns:
        1 for perfectly equal returns (including all zero), down to 0 when one agent takes everything
        in a large group.
    """
    x = np.asarray(returns, dtype=np.float64).ravel()
    total = np.abs(x).sum()
    if x.size == 0 or total == 0.0:
        return 1.0
    gini = np.abs(x[:, None] - x[None, :]).sum() / (2.0 * x.size * total)
    return float(1.0 - min(gini, 1.0))


def sustainability(rewards: np.ndarray | Sequence[Sequence[float]]) -> float:
    """S = (1/N) sum_i t_i, with t_i the mean step at which agent ``i`` got a positive reward.

    Perolat et al. 2017 (eq. for S): late collection means the resource lasted. Steps are counted from 1
    (a reward at the first step has time 1). Agents that never got a positive reward are left out of the
    mean; when nobody did, nothing was collected and S is 0.

    Args:
        rewards: ``(T, N)`` per-step rewards.

    Returns:
        The mean over collecting agents of their mean positive-reward time.
    """
    r = _rewards(rewards)
    positive = r > 0
    counts = positive.sum(axis=0)
    if not counts.any():
        return 0.0
    steps = np.arange(1, r.shape[0] + 1, dtype=np.float64)[:, None]
    mean_time = (positive * steps).sum(axis=0)[counts > 0] / counts[counts > 0]
    return float(mean_time.mean())


def peace(removed: np.ndarray | Sequence[Sequence[bool]]) -> float:
    """P = (N T - sum_{t,i} removed[t, i]) / T: the mean number of agents in play per step.

    Perolat et al. 2017 (eq. for P), where ``removed[t, i]`` is 1 while agent ``i`` is tagged out.

    Args:
        removed: ``(T, N)`` booleans, True where the agent was out of play at that step.

    Returns:
        N when nobody was ever tagged, less the average number of agents out of play.
    """
    x = np.asarray(removed, dtype=bool)
    if x.ndim != 2:
        raise ValueError(f"removed must be a (steps, agents) array, got shape {x.shape}")
    steps, agents = x.shape
    return float((agents * steps - x.sum()) / steps) if steps else float(agents)


def cooperation_rate(cooperated: np.ndarray | Sequence[bool] | Sequence[Sequence[bool]]) -> float:
    """The fraction of moves that were cooperative, over every agent and step given.

    Args:
        cooperated: Booleans of any shape (one per agent-move).

    Returns:
        The mean (0 for no moves).
    """
    x = np.asarray(cooperated, dtype=bool)
    return float(x.mean()) if x.size else 0.0


def social_outcomes(rewards: np.ndarray | Sequence[Sequence[float]],
                    removed: np.ndarray | Sequence[Sequence[bool]] | None = None) -> dict[str, float]:
    """All four Perolat et al. (2017) metrics of one episode.

    Args:
        rewards: ``(T, N)`` per-step rewards.
        removed: ``(T, N)`` tagged-out flags (None: nobody is ever removed, so peace = N).

    Returns:
        ``{"efficiency", "equality", "sustainability", "peace"}``.
    """
    r = _rewards(rewards)
    out = np.zeros_like(r, dtype=bool) if removed is None else np.asarray(removed, dtype=bool)
    if out.shape != r.shape:
        raise ValueError(f"removed has shape {out.shape}, rewards {r.shape}")
    return {"efficiency": utilitarian_efficiency(r), "equality": equality(r.sum(axis=0)),
            "sustainability": sustainability(r), "peace": peace(out)}
