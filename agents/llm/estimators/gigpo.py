"""GiGPO: group-in-group policy optimization (episode-level plus anchor-state step-level advantages)."""

from __future__ import annotations

import numpy as np

from turngym.agents.llm.batch import TurnBatch
from turngym.agents.llm.estimators._segments import (
    EPS,
    Layout,
    check_mode,
    dense_codes,
    dense_index,
    episode_returns,
    episode_scan,
    layout,
    normalize,
    std_ddof,
)
from turngym.agents.llm.estimators.registry import register
from turngym.envs.core.errors import ConfigError

NORM_OVER = ("trajectories", "rows")


def gigpo_episode(batch: TurnBatch, *, mode: str = "mean_std_norm", episode_norm_over: str = "trajectories",
                  eps: float = EPS, unbiased_std: bool = False) -> np.ndarray:
    """Episode-level advantage ``A_E`` (Feng et al. 2025, eq. 3), one value per turn row.

    Args:
        batch: The turns.
        mode: "mean_norm" (``R - mean``) or "mean_std_norm" (``(R - mean)/(std + eps)``).
        episode_norm_over: "trajectories" (the paper: each of the G episodes counts once) or "rows" (the
            reference code's behaviour: statistics over step rows, each episode weighted by its length).
        eps: Added to the std.
        unbiased_std: See ``gigpo``.
    """
    check_mode(mode)
    if episode_norm_over not in NORM_OVER:
        raise ConfigError("episode_norm_over", f"one of {list(NORM_OVER)}", episode_norm_over, choices=NORM_OVER)
    return _episode_adv(batch, layout(batch), mode, episode_norm_over, eps, std_ddof(unbiased_std))


def _episode_adv(batch: TurnBatch, lay: Layout, mode: str, episode_norm_over: str, eps: float,
                 ddof: int) -> np.ndarray:
    ret = episode_returns(batch, lay)
    weights = lay.length if episode_norm_over == "rows" else None
    return normalize(ret, lay.group, lay.num_groups, mode, eps, weights, ddof)[lay.episode]


def _step_groups(batch: TurnBatch, lay: Layout) -> tuple[np.ndarray, int]:
    """Dense id of each row's (task group, state_key) pair, and the number of pairs.

    A negative key means "unknown" (``TurnBatch`` fills -1 when no ``state_key`` is given): such a row
    is its own step group, never pooled with another unknown row (two unknown states are not known to be
    the same anchor; issue 13, bug 3). Each gets a fresh key above every known one.
    """
    group = lay.group[lay.episode].astype(np.int64)
    key = batch.state_key
    if key.size == 0:
        return np.zeros(0, dtype=np.int64), 0
    unknown = key < 0
    if unknown.any():
        fresh = (int(key.max(initial=0)) + 1) + np.arange(int(unknown.sum()), dtype=np.int64)
        key = key.copy()
        key[unknown] = fresh
    lo, span = int(key.min()), int(key.max()) - int(key.min()) + 1
    if span * max(lay.num_groups, 1) < 2**62:  # one int64 key, one sort
        return dense_codes(group * span + (key - lo))
    return dense_index(group, key)


def gigpo_step(batch: TurnBatch, *, mode: str = "mean_std_norm", gamma: float = 0.95,
               eps: float = EPS, unbiased_std: bool = False) -> np.ndarray:
    """Step-level advantage ``A_S`` (Feng et al. 2025, eqs. 5-7), one value per turn row.

    Within each task group, turns with equal ``state_key`` form one step group (pooled across trajectories
    and time steps). Each turn's discounted return ``R_t = r_t + gamma R_{t+1}`` is normalized within its
    step group with ``mode``; singleton step groups get 0, and so does every row whose ``state_key`` is
    unknown (negative): it forms a singleton group (see ``_step_groups``).
    """
    check_mode(mode)
    return _step_adv(batch, layout(batch), mode, gamma, eps, std_ddof(unbiased_std))


def _step_adv(batch: TurnBatch, lay: Layout, mode: str, gamma: float, eps: float, ddof: int) -> np.ndarray:
    ret = episode_scan(batch, lay, batch.reward, gamma)  # eq. 6: R_t = r_t + gamma R_{t+1}
    step_idx, n_steps = _step_groups(batch, lay)
    counts = np.bincount(step_idx, minlength=n_steps)
    adv = normalize(ret, step_idx, n_steps, mode, eps, ddof=ddof)  # eq. 7
    return np.where(counts[step_idx] > 1, adv, 0.0)


@register("gigpo")
def gigpo(batch: TurnBatch, *, step_weight: float = 1.0, gamma: float = 0.95, mode: str = "mean_std_norm",
          episode_norm_over: str = "trajectories", eps: float = EPS, unbiased_std: bool = False) -> np.ndarray:
    """GiGPO advantage ``A = A_E + w * A_S``.

    Feng, Xue, Liu, An (2025), "Group-in-Group Policy Optimization for LLM Agent Training"
    (arXiv:2505.10978), eq. 8. See ``gigpo_episode`` and ``gigpo_step``.

    Args:
        batch: The turns; ``state_key`` defines the anchor states.
        step_weight: ``w``.
        gamma: Discount of the step-level returns.
        mode: "mean_norm" or "mean_std_norm", used by both levels.
        episode_norm_over: "trajectories" (paper, default) or "rows" (reference code).
        eps: Added to the stds.
        unbiased_std: False (default): population std (divide by N), as the paper's eqs. 3 and 7 read and
            as this package always did; True: the unbiased sample std (divide by N - 1), as verl-agent's
            GiGPO code computes it with ``torch.std``. With G equal-sized groups the two differ by the
            constant factor ``sqrt((N-1)/N)`` on A_E (0.935 at G=8), which Adam mostly absorbs; on A_S,
            whose step groups vary in size, they weigh small groups differently (N=2: factor 0.71).
    """
    check_mode(mode)
    if episode_norm_over not in NORM_OVER:
        raise ConfigError("episode_norm_over", f"one of {list(NORM_OVER)}", episode_norm_over, choices=NORM_OVER)
    ddof = std_ddof(unbiased_std)
    lay = layout(batch)
    a_e = _episode_adv(batch, lay, mode, episode_norm_over, eps, ddof)
    return a_e + step_weight * _step_adv(batch, lay, mode, gamma, eps, ddof)  # eq. 8
