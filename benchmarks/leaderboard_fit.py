"""Leaderboard rating fit: time the Bradley–Terry fit on 10^5 games, side by side with its peers.

Protocol, for each agent count ``K`` in ``--agents`` (default 6, 12, 20):

1. Draw true log-strengths ``N(0, 1)`` (centred) and ``--games`` two-seat games from the Bradley–Terry
   model (``turngym.agents.leaderboard.simulate_bt_games``), all from ``Generator(SeedSequence([seed, K]))``.
2. Time, on the same games (median of ``--repeats`` interleaved runs after one untimed warm-up; the two slow
   peers once, without warm-up):

   * ``turngym end-to-end``: ``bradley_terry(records)``: records -> win matrix -> ratings (what a
     leaderboard pays);
   * ``turngym fit``: the fit alone, choix ILSR on the dense win matrix (``ratings.fit_matrix``);
   * ``scipy L-BFGS``: the same posterior mode by direct L-BFGS on the same matrix
     (``ratings.fit_matrix_scipy``);
   * ``choix ILSR list``: ``choix.ilsr_pairwise`` on the per-game ``(winner, loser)`` list (choix's sparse
     input, same algorithm, plain ML);
   * ``choix Newton-CG list``: ``choix.opt_pairwise`` on that list (pure-Python likelihood loops; its
     ``alpha`` is an L2 penalty, 1e-6 here);
   * ``openskill sequential``: ``openskill_ratings(records)``, one PlackettLuce update per game in order
     (the online ratings; a different model, compared by rank only);
   * ``bootstrap``: ``--n-boot`` refits on resampled games (``ratings.bootstrap_draws``).

3. Report each method's seconds, its ratio to ``turngym fit`` (peer / ours: above 1 means ours is faster),
   its largest distance to the truth and to ``turngym fit``, and the Spearman correlation with the truth.

Writes ``leaderboard_fit.json`` (config with seeds, command, versions, platform, per-K results) and
``leaderboard_fit.md`` into ``--out``.

Run:
    python -m turngym.benchmarks.leaderboard_fit [--games 100000] [--agents 6 12 20] [--quick] [--out docs/leaderboard]
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import choix
import numpy as np
from scipy import stats

from turngym.agents.leaderboard.games import GameRecord, simulate_bt_games
from turngym.agents.leaderboard.ratings import (
    DEFAULT_ALPHA,
    bootstrap_draws,
    bradley_terry,
    fit_matrix,
    fit_matrix_scipy,
    openskill_ratings,
    pair_counts,
)

DEFAULTS: dict[str, Any] = {"games": 100_000, "agents": [6, 12, 20], "repeats": 5, "n_boot": 200, "seed": 0}
QUICK: dict[str, Any] = {"games": 2_000, "agents": [6], "repeats": 2, "n_boot": 20}
#: The reference all ratios divide by.
OURS = "turngym fit"


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """``fn()``, its wall seconds and its CPU seconds (of this process: steadier on a shared machine)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def tournament(n_agents: int, n_games: int, seed: int) -> tuple[np.ndarray, list[GameRecord]]:
    """True centred log-strengths and games drawn from them, from ``SeedSequence([seed, n_agents])``."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, n_agents]))
    truth = rng.normal(0.0, 1.0, n_agents)
    truth -= truth.mean()
    return truth, simulate_bt_games(truth, n_games, rng)


def run_agents(n_agents: int, *, games: int, seed: int, repeats: int, n_boot: int) -> dict[str, Any]:
    """All methods on one tournament of ``n_agents`` agents (module docstring, steps 1-3)."""
    truth, records = tournament(n_agents, games, seed)
    names = [f"a{i}" for i in range(n_agents)]
    counts = pair_counts(records, names)
    wins = counts.matrix()
    pairs = [(int(w), int(loser)) for w, loser in zip(counts.winner, counts.loser, strict=True)]  # no draws here
    methods: dict[str, tuple[Callable[[], np.ndarray], bool]] = {  # name -> (fit, slow: timed once)
        "turngym end-to-end": (lambda: np.array(list(bradley_terry(records, names).values())), False),
        OURS: (lambda: fit_matrix(wins, DEFAULT_ALPHA), False),
        "scipy L-BFGS": (lambda: fit_matrix_scipy(wins, DEFAULT_ALPHA), False),
        "choix ILSR list": (lambda: choix.ilsr_pairwise(n_agents, pairs), False),
        "choix Newton-CG list": (lambda: choix.opt_pairwise(n_agents, pairs), True),
        "openskill sequential": (lambda: np.array([r.mu for r in openskill_ratings(records, names).values()]), True),
    }
    walls: dict[str, list[float]] = {name: [] for name in methods}
    cpus: dict[str, list[float]] = {name: [] for name in methods}
    results: dict[str, np.ndarray] = {}
    for fn, slow in methods.values():  # warm-up: first-call imports and caches are not the fit's cost
        if not slow:
            fn()
    for round_ in range(repeats):  # round-robin, so a burst of load on the shared machine hits every method
        for name, (fn, slow) in methods.items():
            if slow and round_ > 0:
                continue
            ratings, wall, cpu = _timed(fn)
            walls[name].append(wall)
            cpus[name].append(cpu)
            results[name] = np.asarray(ratings, dtype=np.float64) - np.mean(ratings)
    out: dict[str, Any] = {"agents": n_agents, "games": games, "truth": truth.tolist(), "methods": {}}
    ours = results[OURS]
    for name, ratings in results.items():
        comparable = name != "openskill sequential"  # openskill's mu is on its own scale
        out["methods"][name] = {
            "seconds": statistics.median(walls[name]), "cpu_seconds": statistics.median(cpus[name]),
            "seconds_each": walls[name], "cpu_seconds_each": cpus[name],
            "ratio_to_ours": statistics.median(walls[name]) / statistics.median(walls[OURS]),
            "cpu_ratio_to_ours": statistics.median(cpus[name]) / statistics.median(cpus[OURS]),
            "ratings": ratings.tolist(),
            "spearman_vs_truth": float(stats.spearmanr(ratings, truth).statistic),
            "max_abs_error_vs_truth": float(np.abs(ratings - truth).max()) if comparable else None,
            "max_abs_diff_vs_ours": float(np.abs(ratings - ours).max()) if comparable else None,
        }
    rng = np.random.default_rng(np.random.SeedSequence([seed, n_agents, 1]))
    draws, wall, cpu = _timed(lambda: bootstrap_draws(counts, n_boot, rng))
    lo, hi = np.quantile(draws, [0.025, 0.975], axis=0)
    out["bootstrap"] = {"n_boot": n_boot, "seconds": wall, "cpu_seconds": cpu, "seconds_per_refit": wall / n_boot,
                        "ci95_low": lo.tolist(), "ci95_high": hi.tolist(),
                        "truth_covered": int(np.sum((lo <= truth) & (truth <= hi)))}
    return out


def library_versions() -> dict[str, str]:
    """Versions of the libraries timed here."""
    return {name: metadata.version(name) for name in ("numpy", "scipy", "choix", "openskill")}


def markdown(result: dict[str, Any]) -> str:
    """The result as Markdown: one table per agent count."""
    c = result["config"]
    lines = ["# Leaderboard fit: Bradley–Terry on synthetic games", "",
             f"{c['games']:,} two-seat games per tournament, seed {c['seed']}, median of {c['repeats']} runs "
             f"(the Newton-CG and openskill peers once), methods interleaved. Ratio = seconds / seconds of `{OURS}` "
             "(above 1: ours is faster); CPU = this process's CPU time, steadier than wall time on a shared "
             "machine.", "",
             f"Command: `{result['command']}`  ", f"Platform: {result['platform']}; versions {result['versions']}", ""]
    for run in result["runs"]:
        lines += [f"## {run['agents']} agents", "",
                  "| method | wall s | ratio | CPU s | CPU ratio | Spearman vs truth | max abs error vs truth "
                  "| max abs diff vs ours |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for name, m in run["methods"].items():
            err = "–" if m["max_abs_error_vs_truth"] is None else f"{m['max_abs_error_vs_truth']:.4f}"
            diff = "–" if m["max_abs_diff_vs_ours"] is None else f"{m['max_abs_diff_vs_ours']:.1e}"
            lines.append(f"| {name} | {m['seconds']:.4f} | {m['ratio_to_ours']:.1f} | {m['cpu_seconds']:.4f} "
                         f"| {m['cpu_ratio_to_ours']:.1f} | {m['spearman_vs_truth']:.3f} | {err} | {diff} |")
        b = run["bootstrap"]
        lines += ["", f"Bootstrap: {b['n_boot']} refits in {b['seconds']:.3f} s ({1e3 * b['seconds_per_refit']:.2f} "
                  f"ms each); the 95% intervals cover {b['truth_covered']} of {run['agents']} true strengths.", ""]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options (``--quick`` sets the smoke sizes unless given explicitly)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--games", type=int, default=None, help=f"games per tournament (default {DEFAULTS['games']})")
    p.add_argument("--agents", type=int, nargs="+", default=None, help="agent counts (default 6 12 20)")
    p.add_argument("--repeats", type=int, default=None, help="timed runs per fast method (median reported)")
    p.add_argument("--n-boot", type=int, default=None, help="bootstrap refits timed")
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"], help="root seed")
    p.add_argument("--quick", action="store_true", help="smoke size: 2,000 games, 6 agents")
    p.add_argument("--out", type=Path, default=Path("docs/leaderboard"), help="output folder")
    args = p.parse_args(argv)
    base = {**DEFAULTS, **(QUICK if args.quick else {})}
    for key in ("games", "agents", "repeats", "n_boot"):
        if getattr(args, key) is None:
            setattr(args, key, base[key])
    return args


def main(argv: list[str] | None = None) -> int:
    """Runs every agent count, writes ``leaderboard_fit.json`` and ``.md``; prints the Markdown."""
    args = parse_args(argv)
    raw = list(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    runs = [run_agents(k, games=args.games, seed=args.seed, repeats=args.repeats, n_boot=args.n_boot)
            for k in args.agents]
    config = {"games": args.games, "agents": args.agents, "repeats": args.repeats, "n_boot": args.n_boot,
              "seed": args.seed, "seed_sequences": {str(k): [args.seed, k] for k in args.agents},
              "bootstrap_seed_sequences": {str(k): [args.seed, k, 1] for k in args.agents},
              "alpha": DEFAULT_ALPHA, "quick": args.quick}
    result = {"benchmark": "leaderboard_fit", "config": config,
              "command": shlex.join(["python", "-m", "turngym.benchmarks.leaderboard_fit", *raw]),
              "seconds": time.perf_counter() - started, "platform": platform.platform(),
              "versions": library_versions(), "runs": runs}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "leaderboard_fit.json").write_text(json.dumps(result, indent=1, allow_nan=False) + "\n")
    text = markdown(result)
    (args.out / "leaderboard_fit.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
