"""Vectorized segment helpers shared by the estimators (no Python loops over rows)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from turngym.agents.llm.batch import TurnBatch
from turngym.envs.core.errors import ConfigError

EPS = 1e-6
MODES = ("mean_norm", "mean_std_norm")


@dataclass(frozen=True)
class Layout:
    """Episode structure of a batch.

    Attributes:
        starts: Row index of each episode's first turn, in row order.
        ends: Row index of each episode's last turn.
        episode: Episode index (0..E-1, in row order) of every row.
        is_last: Whether each row is its episode's last turn.
        length: Number of turns of each episode.
        group: Dense group index (0..num_groups-1) of each episode.
        num_groups: Number of distinct groups.
    """

    starts: np.ndarray
    ends: np.ndarray
    episode: np.ndarray
    is_last: np.ndarray
    length: np.ndarray
    group: np.ndarray
    num_groups: int


def layout(batch: TurnBatch) -> Layout:
    """Returns the episode ``Layout`` of ``batch`` (which ``TurnBatch`` has already validated)."""
    n = len(batch)
    start = np.ones(n, dtype=bool)
    if n:
        start[1:] = batch.episode_id[1:] != batch.episode_id[:-1]
    starts = np.flatnonzero(start)
    ends = np.append(starts[1:] - 1, n - 1) if n else starts
    is_last = np.zeros(n, dtype=bool)
    is_last[ends] = True
    _, group = np.unique(batch.group_id[starts], return_inverse=True)
    group = group.reshape(-1)
    return Layout(starts, ends, np.cumsum(start) - 1, is_last, ends - starts + 1, group,
                  int(group.max()) + 1 if group.size else 0)


def dense_index(*keys: np.ndarray) -> tuple[np.ndarray, int]:
    """Returns (dense id of each row's key tuple, number of distinct tuples), via one lexsort."""
    n = keys[0].shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64), 0
    order = np.lexsort(keys[::-1])
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for k in keys:
        ks = k[order]
        change[1:] |= ks[1:] != ks[:-1]
    ids = np.empty(n, dtype=np.int64)
    ids[order] = np.cumsum(change) - 1
    return ids, int(change.sum())


def dense_codes(key: np.ndarray) -> tuple[np.ndarray, int]:
    """Returns (dense 0-based code of each non-negative int64 ``key``, number of distinct keys).

    Same result as ``np.unique(key, return_inverse=True)``, but the argsort is done by one plain (SIMD)
    sort of ``key`` with the row index packed into its low bits, when that fits in 63 bits.
    """
    n = key.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64), 0
    bits = max(1, int(n - 1).bit_length())
    if int(key.min()) < 0 or int(key.max()) >= 2 ** (62 - bits):
        _, inv = np.unique(key, return_inverse=True)
        inv = inv.reshape(-1)
        return inv, int(inv.max()) + 1
    packed = np.sort((key << bits) | np.arange(n, dtype=np.int64))
    order = packed & ((1 << bits) - 1)
    sk = packed >> bits
    change = np.empty(n, dtype=bool)
    change[0] = True
    np.not_equal(sk[1:], sk[:-1], out=change[1:])
    ids = np.empty(n, dtype=np.int64)
    ids[order] = np.cumsum(change) - 1
    return ids, int(change.sum())


def group_mean_std(x: np.ndarray, idx: np.ndarray, n: int, weights: np.ndarray | None = None,
                   ddof: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns per-group (weighted) mean, std and count of ``x`` grouped by ``idx``.

    Args:
        x: Values.
        idx: Dense group index of each value.
        n: Number of groups.
        weights: Optional frequency weights (a weight of k counts the value k times).
        ddof: 0 for the population std (divide by the weight sum), 1 for the unbiased sample std (divide by
            the weight sum minus 1, as ``torch.std`` and ``np.std(ddof=1)``); groups whose weight sum is
            at most ``ddof`` get std 0 (not NaN: their values all equal their mean).
    """
    count = np.bincount(idx, minlength=n).astype(np.float64)
    w = None if weights is None else weights.astype(np.float64)
    wsum = count if w is None else np.bincount(idx, weights=w, minlength=n)
    safe = np.where(wsum > 0, wsum, 1.0)
    mean = np.bincount(idx, weights=x if w is None else w * x, minlength=n) / safe
    sq = np.square(x - mean[idx])
    ss = np.bincount(idx, weights=sq if w is None else w * sq, minlength=n)
    denom = wsum - ddof
    var = np.where(denom > 0, ss / np.where(denom > 0, denom, 1.0), 0.0)
    return mean, np.sqrt(np.maximum(var, 0.0)), count


def normalize(x: np.ndarray, idx: np.ndarray, n: int, mode: str, eps: float = EPS,
              weights: np.ndarray | None = None, ddof: int = 0) -> np.ndarray:
    """Group-normalizes ``x``: ``x - mean`` ("mean_norm") or ``(x - mean)/(std + eps)`` ("mean_std_norm").

    ``ddof`` chooses the std (0: population, 1: unbiased; see ``group_mean_std``).
    """
    check_mode(mode)
    mean, std, _ = group_mean_std(x, idx, n, weights, ddof)
    out = x - mean[idx]
    if mode == "mean_std_norm":
        out = out / (std[idx] + eps)
    return out


def std_ddof(unbiased_std: bool) -> int:
    """``ddof`` of the ``unbiased_std`` estimator option (1 when True, 0 when False).

    Raises:
        ConfigError: When the option is not a bool (a JSON ``"true"`` string would otherwise count as True).
    """
    if not isinstance(unbiased_std, bool | np.bool_):
        raise ConfigError("unbiased_std", "true or false", unbiased_std)
    return int(bool(unbiased_std))


def check_mode(mode: str) -> None:
    """Raises ConfigError unless ``mode`` is one of ``MODES``."""
    if mode not in MODES:
        raise ConfigError("mode", f"one of {list(MODES)}", mode, choices=MODES)


def reverse_scan(x: np.ndarray, coef: np.ndarray | float, seg_end: np.ndarray,
                 seg: np.ndarray | None = None, pos: np.ndarray | None = None) -> np.ndarray:
    """Segmented reverse linear recurrence ``y_i = x_i + coef_i * y_{i+1}`` (``y_i = x_i`` at segment ends).

    Segments are contiguous runs of rows ending where ``seg_end`` is True. Rows are laid out in a padded
    ``[max_len, num_segments]`` matrix (padding 0) and the loop runs over its rows, each step vectorized
    across segments; when padding would exceed 4x the data, the rows are bucketed by distance to their
    segment end instead.

    Args:
        x: Values, one per row.
        coef: Scalar or per-row coefficient.
        seg_end: True on the last row of each segment.
        seg: Optional precomputed 0-based segment index of each row (in row order).
        pos: Optional precomputed position of each row within its segment.
    """
    n = x.shape[0]
    y = x.astype(np.float64).copy()
    if n == 0:
        return y
    scalar = np.ndim(coef) == 0
    c = np.broadcast_to(np.asarray(coef, dtype=np.float64), (n,))
    if seg is None or pos is None:
        start = np.ones(n, dtype=bool)
        start[1:] = seg_end[:-1]
        seg = np.cumsum(start) - 1
        pos = np.arange(n) - np.flatnonzero(start)[seg]
    num_seg, max_len = int(seg[-1]) + 1, int(pos.max()) + 1
    if num_seg * max_len <= 4 * n:
        flat = pos * num_seg + seg
        xm = np.zeros((max_len + 1, num_seg))
        xm.reshape(-1)[flat] = x
        if scalar:
            cf = float(coef)
            for k in range(max_len - 2, -1, -1):
                xm[k] += cf * xm[k + 1]
        else:
            cm = np.zeros((max_len + 1, num_seg))
            cm.reshape(-1)[flat] = c
            for k in range(max_len - 2, -1, -1):
                xm[k] += cm[k] * xm[k + 1]
        return xm.reshape(-1)[flat]
    ends = np.flatnonzero(seg_end)
    dist = ends[seg] - np.arange(n)
    order = np.argsort(dist, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(dist))))
    for k in range(1, bounds.size - 1):
        rows = order[bounds[k]:bounds[k + 1]]
        y[rows] = x[rows] + c[rows] * y[rows + 1]
    return y


def episode_scan(batch: TurnBatch, lay: Layout, x: np.ndarray, coef: np.ndarray | float) -> np.ndarray:
    """``reverse_scan`` over the episodes of ``batch`` (``y_t = x_t + coef_t * y_{t+1}`` within episodes)."""
    return reverse_scan(x, coef, lay.is_last, lay.episode, batch.turn)


def episode_returns(batch: TurnBatch, lay: Layout) -> np.ndarray:
    """Returns the undiscounted return (sum of rewards) of each episode, in ``lay`` order."""
    return np.bincount(lay.episode, weights=batch.reward, minlength=lay.starts.size)
