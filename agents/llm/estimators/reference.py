"""Plain-Python loop reference implementations, written literally from the definitions.

They exist so tests can check the vectorized estimators against them; they are slow on purpose
(dicts and lists, one row at a time). Each takes the same arguments as its vectorized counterpart.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from turngym.agents.llm.batch import TurnBatch

EPS = 1e-6


def _episodes(batch: TurnBatch) -> dict[int, list[int]]:
    """Episode id -> its row indices in turn order (insertion order = row order)."""
    eps: dict[int, list[int]] = {}
    for i in range(len(batch)):
        eps.setdefault(int(batch.episode_id[i]), []).append(i)
    return eps


def _mean_std(xs: list[float], ws: list[float] | None = None, ddof: int = 0) -> tuple[float, float]:
    """Mean and std (divide by the weight sum minus ``ddof``; 0 when that is not positive)."""
    ws = ws if ws is not None else [1.0] * len(xs)
    tot = sum(ws)
    mean = sum(w * x for w, x in zip(ws, xs, strict=True)) / tot
    ss = sum(w * (x - mean) ** 2 for w, x in zip(ws, xs, strict=True))
    return mean, math.sqrt(ss / (tot - ddof)) if tot - ddof > 0 else 0.0


def _norm(x: float, mean: float, std: float, mode: str, eps: float) -> float:
    return (x - mean) / (std + eps) if mode == "mean_std_norm" else x - mean


def _episode_return(batch: TurnBatch, rows: list[int]) -> float:
    return float(sum(batch.reward[i] for i in rows))


def _by_group(batch: TurnBatch, eps_rows: dict[int, list[int]]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = defaultdict(list)
    for e, rows in eps_rows.items():
        groups[int(batch.group_id[rows[0]])].append(e)
    return groups


def _discounted(rewards: list[float], gamma: float) -> list[float]:
    out = [0.0] * len(rewards)
    acc = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        acc = rewards[t] + gamma * acc
        out[t] = acc
    return out


def grpo_ref(batch: TurnBatch, *, normalize_std: bool = True, eps: float = EPS,
             unbiased_std: bool = False) -> np.ndarray:
    """Loop GRPO."""
    out = np.zeros(len(batch))
    eps_rows = _episodes(batch)
    for members in _by_group(batch, eps_rows).values():
        rets = [_episode_return(batch, eps_rows[e]) for e in members]
        mean, std = _mean_std(rets, ddof=int(unbiased_std))
        for e, r in zip(members, rets, strict=True):
            a = (r - mean) / (std + eps) if normalize_std else r - mean
            for i in eps_rows[e]:
                out[i] = a
    return out


def rloo_ref(batch: TurnBatch) -> np.ndarray:
    """Loop RLOO."""
    out = np.zeros(len(batch))
    eps_rows = _episodes(batch)
    for members in _by_group(batch, eps_rows).values():
        rets = {e: _episode_return(batch, eps_rows[e]) for e in members}
        for e in members:
            others = [rets[j] for j in members if j != e]
            a = rets[e] - sum(others) / len(others) if others else 0.0
            for i in eps_rows[e]:
                out[i] = a
    return out


def gae_ref(batch: TurnBatch, *, gamma: float = 1.0, lam: float = 0.95) -> np.ndarray:
    """Loop GAE (bootstrap 0 when terminated, else the last turn's own value)."""
    assert batch.value is not None
    out = np.zeros(len(batch))
    for rows in _episodes(batch).values():
        adv = 0.0
        for k in range(len(rows) - 1, -1, -1):
            i = rows[k]
            if k == len(rows) - 1:
                nxt = 0.0 if batch.terminated[i] else batch.value[i]
                adv = 0.0
            else:
                nxt = batch.value[rows[k + 1]]
            delta = batch.reward[i] + gamma * nxt - batch.value[i]
            adv = delta + gamma * lam * adv
            out[i] = adv
    return out


def gigpo_ref(batch: TurnBatch, *, step_weight: float = 1.0, gamma: float = 0.95, mode: str = "mean_std_norm",
              episode_norm_over: str = "trajectories", eps: float = EPS, unbiased_std: bool = False) -> np.ndarray:
    """Loop GiGPO (a negative ``state_key`` is unknown: its row is never pooled, so it gets no A_S)."""
    ddof = int(unbiased_std)
    out = np.zeros(len(batch))
    eps_rows = _episodes(batch)
    disc: dict[int, float] = {}
    for rows in eps_rows.values():
        for i, r in zip(rows, _discounted([float(batch.reward[i]) for i in rows], gamma), strict=True):
            disc[i] = r
    for members in _by_group(batch, eps_rows).values():
        rets = [_episode_return(batch, eps_rows[e]) for e in members]
        ws = [float(len(eps_rows[e])) for e in members] if episode_norm_over == "rows" else None
        mean, std = _mean_std(rets, ws, ddof)
        steps: dict[int, list[int]] = defaultdict(list)
        for e, r in zip(members, rets, strict=True):
            for i in eps_rows[e]:
                out[i] = _norm(r, mean, std, mode, eps)
                if batch.state_key[i] >= 0:
                    steps[int(batch.state_key[i])].append(i)
        for rows in steps.values():
            if len(rows) < 2:
                continue
            m, s = _mean_std([disc[i] for i in rows], ddof=ddof)
            for i in rows:
                out[i] += step_weight * _norm(disc[i], m, s, mode, eps)
    return out


def igpo_ref(batch: TurnBatch, *, gamma: float = 1.0, score0: float | np.ndarray | None = None,
             eps: float = EPS) -> np.ndarray:
    """Loop IGPO."""
    assert batch.score is not None
    out = np.zeros(len(batch))
    eps_rows = _episodes(batch)
    outcome_col = batch.outcome if batch.outcome is not None else batch.reward
    for members in _by_group(batch, eps_rows).values():
        gains: dict[int, float] = {}
        for e in members:
            rows = eps_rows[e]
            for k, i in enumerate(rows):
                if k > 0:
                    prev = batch.score[rows[k - 1]]
                elif score0 is None:
                    prev = batch.score[i]
                elif np.ndim(score0) == 0:
                    prev = float(score0)
                else:
                    prev = float(np.asarray(score0)[i])
                gains[i] = float(batch.score[i] - prev)
        gm, gs = _mean_std(list(gains.values()))
        outs = {e: float(outcome_col[eps_rows[e][-1]]) for e in members}
        om, osd = _mean_std(list(outs.values()))
        for e in members:
            rows = eps_rows[e]
            shaped = [(gains[i] - gm) / (gs + eps) for i in rows]
            shaped[-1] += (outs[e] - om) / (osd + eps)
            for i, a in zip(rows, _discounted(shaped, gamma), strict=True):
                out[i] = a
    return out


def mars_ref(batch: TurnBatch, *, gamma: float = 1.0, normalize_std: bool = False, eps: float = EPS,
             unbiased_std: bool = False) -> np.ndarray:
    """Loop MARS: return-to-go minus the mean (over the group's episodes) of the same role's episode return."""
    out = np.zeros(len(batch))
    g: dict[int, float] = {}
    episode_return: dict[tuple[int, int], float] = {}  # (episode, role) -> R_{e,a}
    for e, rows in _episodes(batch).items():
        by_agent: dict[int, list[int]] = defaultdict(list)
        for i in rows:
            by_agent[int(batch.agent_id[i])].append(i)
        for a, agent_rows in by_agent.items():
            rets = _discounted([float(batch.reward[i]) for i in agent_rows], gamma)
            for i, r in zip(agent_rows, rets, strict=True):
                g[i] = r
            episode_return[(e, a)] = rets[0]
    roles: dict[tuple[int, int], list[float]] = defaultdict(list)  # (group, role) -> episode returns
    group_of = {int(batch.episode_id[i]): int(batch.group_id[i]) for i in range(len(batch))}
    for (e, a), r in episode_return.items():
        roles[(group_of[e], a)].append(r)
    for i in range(len(batch)):
        m, s = _mean_std(roles[(int(batch.group_id[i]), int(batch.agent_id[i]))], ddof=int(unbiased_std))
        out[i] = (g[i] - m) / (s + eps) if normalize_std else g[i] - m
    return out


REFERENCES = {"grpo": grpo_ref, "rloo": rloo_ref, "gae": gae_ref, "gigpo": gigpo_ref, "igpo": igpo_ref,
              "mars": mars_ref}
