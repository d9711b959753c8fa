"""Leaderboard runner throughput: games per second on Kuhn poker with six agents.

Protocol: a suite of six agents on ``turngym/KuhnPoker-v0`` (CFR+ at 300, 100, 30, 10 and 3 iterations, and
random), every pair seat-swapped on ``--seeds`` seeds, one deal per game (15 pairs x 2 seatings x seeds
games). The whole suite is played into a fresh folder with ``runner.run_suite`` (agents built, games played,
each game appended to the JSONL log and flushed) once in-process, then on each executor of ``--executors``
(``subprocess``: worker processes, ``ray``: Ray actors; ``workers.py``) at each worker count of ``--workers``.
Each run is timed from the call to its return: worker start-up and agent building (the CFR+ solves, once per
worker) are in the time; a local Ray instance, when one is started, is started before the clock (its start-up
is reported apart as ``ray_init_seconds``). Every run must log the same games as the in-process one (checked,
timing aside). The ratings (``runner.summarize``: Bradley–Terry, ``--n-boot`` bootstrap refits, openskill) are
timed apart.

Writes ``leaderboard_games.json`` (config, command, versions, platform, results) into ``--out``.

Run:
    python -m turngym.benchmarks.leaderboard_games [--seeds 200] [--executors subprocess ray] [--workers 2]
        [--out docs/leaderboard]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from turngym.agents.leaderboard.runner import package_versions, run_suite, summarize
from turngym.agents.leaderboard.suite import parse_suite

KUHN = "turngym/KuhnPoker-v0"
CFR_ITERATIONS = (300, 100, 30, 10, 3)


def kuhn_suite(seeds: int, n_boot: int) -> dict[str, Any]:
    """The benchmark's suite (module docstring)."""
    agents = [{"name": f"cfr+{it}", "kind": "cfr", "iterations": it} for it in CFR_ITERATIONS]
    agents.append({"name": "random", "kind": "random", "seed": 0})
    return {"name": "kuhn-six", "seeds": {"start": 0, "count": seeds}, "n_boot": n_boot, "agents": agents,
            "envs": [{"id": KUHN}]}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (module docstring)."""
    parser = argparse.ArgumentParser(prog="turngym.benchmarks.leaderboard_games", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=200, help="Seeds (each pair plays 2 games per seed).")
    parser.add_argument("--executors", nargs="*", default=["subprocess", "ray"], choices=["subprocess", "ray"],
                        help="Executors timed after the in-process run (ray is skipped when not installed).")
    parser.add_argument("--workers", type=int, nargs="+", default=[2], help="Worker counts of each executor.")
    parser.add_argument("--n-boot", type=int, default=1000, help="Bootstrap resamples of the ratings.")
    parser.add_argument("--out", type=Path, default=Path("docs/leaderboard"), help="Output folder.")
    return parser.parse_args(argv)


def _strip(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


def main(argv: list[str] | None = None) -> int:
    """Times the runner on each executor; writes ``leaderboard_games.json`` and prints a table."""
    args = parse_args(argv)
    raw = list(sys.argv[1:] if argv is None else argv)
    suite = parse_suite(kuhn_suite(args.seeds, args.n_boot))
    plan = [("inprocess", 1)] + [(ex, w) for ex in args.executors for w in args.workers]
    runs, skipped, reference = [], [], None
    ray_init_seconds = None
    for executor, workers in plan:
        if executor == "ray":
            try:
                import ray
            except ImportError:
                skipped.append("ray (not installed: pip install turngym[dist])")
                continue
            if not ray.is_initialized():
                tick = time.perf_counter()
                ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
                ray_init_seconds = time.perf_counter() - tick
        with tempfile.TemporaryDirectory() as tmp:
            tick = time.perf_counter()
            result = run_suite(suite, tmp, executor=executor, workers=workers)
            seconds = time.perf_counter() - tick
            tick = time.perf_counter()
            summarize(suite, result.records)
            rating_seconds = time.perf_counter() - tick
        if reference is None:
            reference = _strip(result.records)
        same = _strip(result.records) == reference
        runs.append({"executor": executor, "workers": workers, "games": result.played, "seconds": seconds,
                     "games_per_s": result.played / seconds, "rating_seconds": rating_seconds,
                     "same_games_as_inprocess": same})
        if not same:
            print(f"error: {executor} x {workers} logged other games than the in-process run", file=sys.stderr)
            return 1
    out = {"benchmark": "leaderboard_games", "config": {"seeds": args.seeds, "n_boot": args.n_boot,
                                                        "agents": [a.name for a in suite.agents], "env": KUHN},
           "command": shlex.join(["python", "-m", "turngym.benchmarks.leaderboard_games", *raw]),
           "platform": platform.platform(), "cpus": os.cpu_count(), "versions": package_versions(), "runs": runs,
           "ray_init_seconds": ray_init_seconds, "skipped": skipped}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "leaderboard_games.json").write_text(json.dumps(out, indent=1) + "\n")
    print("| executor | workers | games | seconds | games/s | rating s |\n|---|---:|---:|---:|---:|---:|")
    for r in runs:
        print(f"| {r['executor']} | {r['workers']} | {r['games']} | {r['seconds']:.2f} | {r['games_per_s']:.0f} | "
              f"{r['rating_seconds']:.2f} |")
    for what in skipped:
        print(f"skipped: {what}")
    if ray_init_seconds is not None:
        print(f"Ray start-up (not in the times): {ray_init_seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
