"""Vectorized advantage estimators against their plain-Python loop references, on ~10^6 turns.

Run:
    python -m turngym.benchmarks.estimators [--quick] [--turns 1000000] [--ref-turns 100000] [--out runs]

The batch has groups of 8 episodes of 5-15 turns (mean 10, so ~100k episodes for 10^6 turns) and
~50k distinct state keys, each repeated within its group so GiGPO's step groups are non-trivial. Every
vectorized estimator runs on the full batch (best of 3); its loop reference runs in the same process on the first
``--ref-turns`` rows (whole episodes), best of 2, and its time is scaled per row to the full size. Prints a table and
writes ``estimators.json`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from turngym.agents.llm.batch import TurnBatch
from turngym.agents.llm.estimators import ESTIMATORS
from turngym.agents.llm.estimators.reference import REFERENCES


def synthetic_batch(turns: int, seed: int = 0, group_size: int = 8, keys: int = 50_000) -> TurnBatch:
    """Returns a batch of about ``turns`` rows (whole episodes, grouped by ``group_size``)."""
    rng = np.random.default_rng(seed)
    n_eps = max(group_size, int(round(turns / 10 / group_size)) * group_size)
    length = rng.integers(5, 16, size=n_eps)
    n = int(length.sum())
    ep = np.repeat(np.arange(n_eps, dtype=np.int64), length)
    starts = np.cumsum(length) - length
    turn = np.arange(n, dtype=np.int64) - np.repeat(starts, length)
    group = ep // group_size
    last = np.zeros(n, dtype=bool)
    last[starts + length - 1] = True
    term = last & (rng.random(n) < 0.7)
    n_groups = int(group.max()) + 1
    per_group = max(2, keys // n_groups)  # ~`keys` distinct (group, key) pairs overall
    state = group * per_group + rng.integers(0, per_group, size=n)
    return TurnBatch(episode_id=ep, group_id=group, turn=turn, reward=rng.normal(size=n),
                     agent_id=turn % 2, state_key=state, terminated=term, truncated=last & ~term,
                     value=rng.normal(size=n), score=rng.normal(size=n), outcome=rng.integers(0, 2, size=n) * 1.0)


def head(batch: TurnBatch, rows: int) -> TurnBatch:
    """Returns the first ``rows`` rows of ``batch``, cut at an episode boundary."""
    ends = np.flatnonzero(np.append(batch.episode_id[1:] != batch.episode_id[:-1], True))
    cut = int(ends[np.searchsorted(ends, rows - 1)]) + 1 if rows < len(batch) else len(batch)
    cols = {f: (v[:cut] if isinstance(v, np.ndarray) else v) for f, v in vars(batch).items()}
    return TurnBatch(**cols)


def best_of(fn, repeats: int) -> float:
    """Returns the fastest of ``repeats`` wall-clock timings of ``fn()``."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def run(turns: int, ref_turns: int, repeats: int = 3) -> list[dict]:
    """Times every registered estimator and its loop reference; returns one row per estimator."""
    full = synthetic_batch(turns)
    sub = head(full, ref_turns)
    rows = []
    for name in sorted(ESTIMATORS):
        vec = ESTIMATORS[name]
        ref = REFERENCES[name]
        np.testing.assert_allclose(vec(sub), ref(sub), atol=1e-6)  # same answer before timing
        t_vec = best_of(lambda v=vec: v(full), repeats)
        t_ref_sub = best_of(lambda r=ref: r(sub), 2)
        t_ref = t_ref_sub * len(full) / len(sub)
        rows.append({"estimator": name, "turns": len(full), "episodes": full.num_episodes,
                     "vectorized_s": t_vec, "loop_ref_rows": len(sub), "loop_ref_measured_s": t_ref_sub,
                     "loop_ref_scaled_s": t_ref, "speedup": t_ref / t_vec,
                     "vectorized_turns_per_s": len(full) / t_vec})
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the benchmark, prints the table, writes the JSON."""
    p = argparse.ArgumentParser(prog="estimators", description=__doc__.split("\n\n")[0])
    p.add_argument("--turns", type=int, default=1_000_000)
    p.add_argument("--ref-turns", type=int, default=100_000)
    p.add_argument("--quick", action="store_true", help="100k turns, loop reference on 20k")
    p.add_argument("--out", default="runs")
    args = p.parse_args(argv)
    turns, ref_turns = (100_000, 20_000) if args.quick else (args.turns, args.ref_turns)
    rows = run(turns, ref_turns)
    print(f"{'estimator':10s} {'turns':>9s} {'vectorized s':>13s} {'loop s (scaled)':>16s} {'speedup':>9s}")
    for r in rows:
        print(f"{r['estimator']:10s} {r['turns']:9d} {r['vectorized_s']:13.4f} {r['loop_ref_scaled_s']:16.3f} "
              f"{r['speedup']:8.1f}x")
    print(f"loop references timed on the first {rows[0]['loop_ref_rows']} rows (whole episodes), scaled per row "
          f"to {rows[0]['turns']} turns")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "estimators.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {out / 'estimators.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
