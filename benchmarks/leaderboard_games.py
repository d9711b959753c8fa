"""Leaderboard runner throughput: games per second on Kuhn poker with six agents.

Protocol: a suite of six agents on ``turngym/KuhnPoker-v0`` (CFR+ at 300, 100, 30, 10 and 3 iterations, and
random), every pair seat-swapped on ``--seeds`` seeds, one deal per game (15 pairs x 2 seatings x seeds
games). For each worker count in ``--workers``, the whole suite is played into a fresh folder with
``runner.run_suite`` (agents built, games played, each game appended to the JSONL log and flushed), timed from
the first game to the last; agent building (the CFR+ solves) is in the time, once per process. The ratings
(``runner.summarize``: Bradley–Terry, ``--n-boot`` bootstrap refits, openskill) are timed apart.

Writes ``leaderboard_games.json`` (config, command, versions, platform, results) into ``--out``.

Run:
    python -m turngym.benchmarks.leaderboard_games [--seeds 200] [--workers 1 2] [--out docs/leaderboard]
"""

from __future__ import annotations

import argparse
import json
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
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="Worker counts to time.")
    parser.add_argument("--n-boot", type=int, default=1000, help="Bootstrap resamples of the ratings.")
    parser.add_argument("--out", type=Path, default=Path("docs/leaderboard"), help="Output folder.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Times the runner at each worker count; writes ``leaderboard_games.json`` and prints a table."""
    args = parse_args(argv)
    raw = list(sys.argv[1:] if argv is None else argv)
    suite = parse_suite(kuhn_suite(args.seeds, args.n_boot))
    runs = []
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as tmp:
            tick = time.perf_counter()
            result = run_suite(suite, tmp, workers=workers)
            seconds = time.perf_counter() - tick
            tick = time.perf_counter()
            summarize(suite, result.records)
            rating_seconds = time.perf_counter() - tick
        runs.append({"workers": workers, "games": result.played, "seconds": seconds,
                     "games_per_s": result.played / seconds, "rating_seconds": rating_seconds})
    out = {"benchmark": "leaderboard_games", "config": {"seeds": args.seeds, "n_boot": args.n_boot,
                                                        "agents": [a.name for a in suite.agents], "env": KUHN},
           "command": shlex.join(["python", "-m", "turngym.benchmarks.leaderboard_games", *raw]),
           "platform": platform.platform(), "versions": package_versions(), "runs": runs}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "leaderboard_games.json").write_text(json.dumps(out, indent=1) + "\n")
    print("| workers | games | seconds | games/s | rating s |\n|---:|---:|---:|---:|---:|")
    for r in runs:
        print(f"| {r['workers']} | {r['games']} | {r['seconds']:.2f} | {r['games_per_s']:.0f} | "
              f"{r['rating_seconds']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
