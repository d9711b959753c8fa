"""Harvest: PPO with parameter sharing vs uniformly random players, over several seeds.

The social outcomes of Perolat et al. (2017), "A multi-agent reinforcement learning model of common-pool
resource appropriation" (NeurIPS; arXiv 1707.06600): utilitarian efficiency (apples per step, all players
together), equality (1 - Gini of the returns), sustainability (mean time of the positive rewards) and peace
(mean number of players not tagged out), read from the env's own end-of-episode ``info["social"]``.

Protocol, per seed ``s`` of ``--seed .. --seed + --seeds - 1``:

1. Train one PPO policy shared by every player (``turngym.agents.baselines.dilemmas.harvest.train_harvest_ppo``:
   SuperSuit's PettingZoo -> SB3 conversion) for ``--timesteps`` agent-steps; the training games, the
   weights and PPO's sampling all come from ``s``.
2. Evaluate it and the random players on the *same* ``--episodes`` evaluation episodes (reset seeds drawn
   from ``SeedSequence(EVAL_SEED_BASE + s)``, a stream apart from the training games'). The random baseline of
   seed ``s`` depends on ``s`` alone, so it is reproducible per seed whatever else the run contains.

Per metric and agent: the mean over seeds with a Student-t 95% CI (each seed contributes the mean of its
evaluation episodes). PPO vs random is a paired comparison over seeds (same evaluation episodes): the mean
difference with its t-CI, the paired t-test (``scipy.stats.ttest_rel``) and the exact Wilcoxon signed-rank
test (``scipy.stats.wilcoxon``; with n seeds its smallest two-sided p is 2 / 2^n, 0.0625 for 5 seeds, hence
10 seeds by default). Writes ``harvest.json`` (config, seeds, per-seed results, summary, versions),
``harvest.md`` and ``harvest.png``.

Run:
    python -m turngym.benchmarks.harvest [--seeds 10] [--timesteps 60000] [--quick] [--out docs/harvest]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shlex
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats
from tqdm import tqdm

from turngym.agents.stats import mean_ci

PAPER = "Perolat et al. 2017, arXiv 1707.06600"
AGENTS = ("ppo", "random")
#: Evaluation episodes of seed ``s`` reset from ``SeedSequence(EVAL_SEED_BASE + s)``: far from the small
#: training seeds (copy ``i`` of training seed ``s`` resets with ``s + i``), so no evaluation game is a
#: training game.
EVAL_SEED_BASE = 1_000_000
#: What each metric measures, for the report's legend.
METRIC_INFO: dict[str, tuple[str, str]] = {
    "efficiency": ("apples per step, all players", "higher is better"),
    "equality": ("1 - Gini of the returns", "higher is better"),
    "sustainability": ("mean step of the positive rewards", "later = the resource lasted"),
    "peace": ("players not tagged out, per step", "higher is better"),
}
DEFAULTS = {"seeds": 10, "timesteps": 60_000, "horizon": 200, "players": 5, "episodes": 4, "num_copies": 2,
            "n_steps": 128, "batch_size": 256}
QUICK = {"seeds": 2, "timesteps": 320, "horizon": 40, "episodes": 1, "num_copies": 1, "n_steps": 32,
         "batch_size": 80}


def metric_bounds(metric: str, horizon: int, players: int) -> tuple[float, float]:
    """The range a metric's value can take (Perolat et al. 2017 definitions, ``envs/dilemmas/metrics.py``).

    Confidence intervals are clipped to it: a t-interval over a few seeds can overshoot a bound the metric
    cannot cross.
    """
    return {"efficiency": (0.0, math.inf), "equality": (0.0, 1.0), "sustainability": (0.0, float(horizon)),
            "peace": (0.0, float(players))}[metric]


def eval_seed(seed: int) -> int:
    """Root seed of the evaluation episodes of training seed ``seed`` (shared by PPO and random)."""
    return EVAL_SEED_BASE + seed


def run_seed(seed: int, *, timesteps: int, episodes: int, env_kwargs: dict[str, Any], num_copies: int,
             n_steps: int, batch_size: int, deterministic: bool = False) -> dict[str, Any]:
    """Trains PPO with seed ``seed`` and evaluates it and the random players on the same episodes.

    Returns:
        ``{"seed", "eval_seed", "ppo": {metric: mean, "per_episode": [...]}, "random": {...},
        "train_s", "eval_s"}``.
    """
    from turngym.agents.baselines.dilemmas.harvest import evaluate_harvest, ppo_act, train_harvest_ppo

    t0 = time.perf_counter()
    model = train_harvest_ppo(timesteps, seed=seed, num_copies=num_copies, n_steps=n_steps, batch_size=batch_size,
                              **env_kwargs)
    t1 = time.perf_counter()
    ppo = evaluate_harvest(ppo_act(model, deterministic=deterministic), episodes, seed=eval_seed(seed), **env_kwargs)
    rand = evaluate_random(seed, episodes, env_kwargs)
    model.get_env().close()
    return {"seed": seed, "eval_seed": eval_seed(seed), "trained_timesteps": int(model.num_timesteps),
            "ppo": _trim(ppo), "random": rand, "train_s": t1 - t0, "eval_s": time.perf_counter() - t1}


def evaluate_random(seed: int, episodes: int, env_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The random players' social outcomes on the evaluation episodes of training seed ``seed``."""
    from turngym.agents.baselines.dilemmas.harvest import evaluate_harvest, random_act

    return _trim(evaluate_harvest(random_act, episodes, seed=eval_seed(seed), **env_kwargs))


def _trim(result: dict[str, Any]) -> dict[str, Any]:
    """``evaluate_harvest``'s result without the per-episode stds (recomputable from ``per_episode``)."""
    from turngym.agents.baselines.dilemmas.harvest import METRICS

    return {**{k: result[k] for k in METRICS}, "per_episode": result["per_episode"]}


def _finite_or_none(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def paired_comparison(a: list[float], b: list[float]) -> dict[str, Any]:
    """PPO-minus-random over seeds: mean difference, its t-CI, paired t-test and Wilcoxon p-values.

    Args:
        a: One value per seed (PPO).
        b: The same seeds' values (random), in the same order.

    Returns:
        ``{"diff_mean", "diff_ci", "t", "t_p", "wilcoxon_p"}``; a test that is undefined (fewer than two
        seeds, or every difference zero) gives ``None``.
    """
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    d = x - y
    mean, lo, hi = mean_ci(d)
    out: dict[str, Any] = {"diff_mean": mean, "diff_ci": [lo, hi], "t": None, "t_p": None, "wilcoxon_p": None}
    if d.size < 2 or not np.any(d != 0):
        return out
    if float(np.std(d)) > 0:  # constant non-zero differences: t is infinite, the t-test says nothing finite
        t = stats.ttest_rel(x, y)
        out["t"], out["t_p"] = _finite_or_none(t.statistic), _finite_or_none(t.pvalue)
    # Exact null distribution when there are no ties or zeros (scipy's "auto" picks it for n <= 50).
    out["wilcoxon_p"] = _finite_or_none(stats.wilcoxon(x, y).pvalue)
    return out


def summarize(runs: list[dict[str, Any]], horizon: int, players: int) -> dict[str, Any]:
    """Per metric: each agent's mean and clipped 95% t-CI over seeds, and the paired comparison."""
    from turngym.agents.baselines.dilemmas.harvest import METRICS

    summary: dict[str, Any] = {}
    for m in METRICS:
        lo_b, hi_b = metric_bounds(m, horizon, players)
        row: dict[str, Any] = {}
        for agent in AGENTS:
            mean, lo, hi = mean_ci([r[agent][m] for r in runs])
            row[agent] = {"mean": mean, "ci": [max(lo_b, lo), min(hi_b, hi)]}
        row["paired"] = paired_comparison([r["ppo"][m] for r in runs], [r["random"][m] for r in runs])
        summary[m] = row
    return summary


def _fmt_p(p: float | None) -> str:
    return "n/a" if p is None else f"{p:.3g}"


def markdown(result: dict[str, Any]) -> str:
    """The result as a Markdown report: setup, command, the table, per-seed values."""
    c = result["config"]
    lines = [
        f"# Harvest: PPO with parameter sharing vs random players ({PAPER} metrics)", "",
        f"{c['players']} players, classic map, horizon {c['horizon']}; PPO (SB3, one MLP policy for every player "
        f"through SuperSuit) trained for {c['timesteps']:,} agent-steps per seed ({c['num_copies']} game(s) x "
        f"{c['n_steps']} steps per rollout, minibatch {c['batch_size']}); {c['episodes']} evaluation episodes per "
        f"seed, the same episodes for PPO and random. Seeds {c['seeds']}. Mean and 95% t-CI over seeds; "
        "PPO - random is paired over seeds (paired t-test and exact Wilcoxon signed-rank). "
        f"Wall time {result['seconds']:.0f} s ({platform_line(result)}).", "",
        f"Command: `{result['command']}`", "",
        "| metric | PPO | 95% CI | random | 95% CI | PPO - random | 95% CI | t-test p | Wilcoxon p |",
        "|---|---:|---|---:|---|---:|---|---:|---:|",
    ]
    for m, row in result["summary"].items():
        p, r, d = row["ppo"], row["random"], row["paired"]
        lines.append(f"| {m} | {p['mean']:.3f} | [{p['ci'][0]:.3f}, {p['ci'][1]:.3f}] | {r['mean']:.3f} | "
                     f"[{r['ci'][0]:.3f}, {r['ci'][1]:.3f}] | {d['diff_mean']:+.3f} | "
                     f"[{d['diff_ci'][0]:+.3f}, {d['diff_ci'][1]:+.3f}] | {_fmt_p(d['t_p'])} | "
                     f"{_fmt_p(d['wilcoxon_p'])} |")
    n = len(result["runs"])
    lines += ["", f"With {n} seeds the exact two-sided Wilcoxon p cannot go below 2 / 2^{n} = {2 / 2 ** n:.3g}; "
              "the paired t-test assumes roughly normal per-seed differences.",
              "", "Metrics: " + "; ".join(f"{m} = {what} ({how})" for m, (what, how) in METRIC_INFO.items()) + ".",
              "", "Per seed (mean of its evaluation episodes):", "",
              "| seed | eval seed | agent | " + " | ".join(result["summary"]) + " | train s |",
              "|---:|---:|---|" + "---:|" * (len(result["summary"]) + 1)]
    for run in result["runs"]:
        for agent in AGENTS:
            vals = " | ".join(f"{run[agent][m]:.3f}" for m in result["summary"])
            train_s = f"{run['train_s']:.0f}" if agent == "ppo" else ""
            lines.append(f"| {run['seed']} | {run['eval_seed']} | {agent} | {vals} | {train_s} |")
    return "\n".join(lines) + "\n"


def platform_line(result: dict[str, Any]) -> str:
    """Machine and thread count, for the report."""
    return f"{result['platform']}, {result['config']['threads']} torch thread(s)"


def plot(result: dict[str, Any], path: Path) -> None:
    """One panel per metric: PPO and random bars (mean over seeds, 95% t-CI) with the per-seed values."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = result["summary"]
    fig, axes = plt.subplots(1, len(summary), figsize=(3.0 * len(summary), 3.4))
    colors = {"ppo": "tab:blue", "random": "tab:gray"}
    for ax, (m, row) in zip(axes, summary.items(), strict=True):
        for k, agent in enumerate(AGENTS):
            mean, (lo, hi) = row[agent]["mean"], row[agent]["ci"]
            ax.bar(k, mean, yerr=[[mean - lo], [hi - mean]], capsize=5, color=colors[agent], alpha=0.8,
                   label=agent)
            per_seed = [r[agent][m] for r in result["runs"]]
            ax.scatter(np.full(len(per_seed), k) + np.linspace(-0.15, 0.15, len(per_seed)), per_seed, s=10,
                       color="black", zorder=3)
        ax.set_xticks(range(len(AGENTS)), AGENTS)
        ax.set_title(f"{m}\npaired Wilcoxon p = {_fmt_p(row['paired']['wilcoxon_p'])}", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    c = result["config"]
    fig.suptitle(f"Harvest, {c['players']} players, horizon {c['horizon']}: PPO ({c['timesteps']:,} agent-steps) "
                 f"vs random, {len(c['seeds'])} seeds (bars: mean, 95% t-CI; dots: seeds)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries the numbers depend on (None when absent)."""
    out: dict[str, str | None] = {}
    for name in ("turngym", "stable-baselines3", "supersuit", "pettingzoo", "gymnasium", "torch", "numpy", "scipy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (defaults: README's budget; ``--quick``: a smoke size)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=None, help=f"number of seeds (default {DEFAULTS['seeds']})")
    ap.add_argument("--seed", type=int, default=0, help="first seed (seeds are seed .. seed + seeds - 1)")
    ap.add_argument("--timesteps", type=int, default=None,
                    help=f"PPO agent-steps per seed (default {DEFAULTS['timesteps']:,})")
    ap.add_argument("--horizon", type=int, default=None, help=f"steps per episode (default {DEFAULTS['horizon']})")
    ap.add_argument("--players", type=int, default=None, help=f"players (default {DEFAULTS['players']})")
    ap.add_argument("--episodes", type=int, default=None,
                    help=f"evaluation episodes per seed and agent (default {DEFAULTS['episodes']})")
    ap.add_argument("--num-copies", type=int, default=None, help="Harvest games per PPO rollout (default 2)")
    ap.add_argument("--n-steps", type=int, default=None, help="PPO rollout length per player slot (default 128)")
    ap.add_argument("--batch-size", type=int, default=None, help="PPO minibatch size (default 256)")
    ap.add_argument("--deterministic", action="store_true", help="evaluate PPO greedily instead of sampling")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the machine is shared)")
    ap.add_argument("--out", type=Path, default=None,
                    help="output folder (default docs/harvest; with --quick runs/harvest-quick)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke size: 2 seeds, 320 agent-steps, horizon 40, 1 evaluation episode")
    ap.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    sizes = {**DEFAULTS, **(QUICK if args.quick else {})}
    for key, value in sizes.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    for key in ("seeds", "timesteps", "horizon", "players", "episodes", "num_copies", "n_steps", "batch_size",
                "threads"):
        if getattr(args, key) < 1:
            ap.error(f"--{key.replace('_', '-')} must be >= 1, got {getattr(args, key)}")
    if args.seed < 0:
        ap.error(f"--seed must be >= 0, got {args.seed}")
    if args.out is None:
        args.out = Path("runs/harvest-quick") if args.quick else Path("docs/harvest")
    return args


def main(argv: list[str] | None = None) -> int:
    """Runs every seed, writes ``harvest.json``, ``harvest.md`` and ``harvest.png``; prints the report."""
    args = parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)  # benchmark script, not library code: it owns the process
    raw = list(sys.argv[1:] if argv is None else argv)
    seeds = list(range(args.seed, args.seed + args.seeds))
    env_kwargs = {"horizon": args.horizon, "num_players": args.players}
    started = time.perf_counter()
    runs = []
    bar = tqdm(seeds, desc="harvest seeds", disable=args.no_progress)
    for seed in bar:
        bar.set_postfix_str(f"seed={seed}")
        runs.append(run_seed(seed, timesteps=args.timesteps, episodes=args.episodes, env_kwargs=env_kwargs,
                             num_copies=args.num_copies, n_steps=args.n_steps, batch_size=args.batch_size,
                             deterministic=args.deterministic))
    config = {"seeds": seeds, "eval_seeds": [eval_seed(s) for s in seeds], "timesteps": args.timesteps,
              "horizon": args.horizon, "players": args.players, "map": "classic", "episodes": args.episodes,
              "num_copies": args.num_copies, "n_steps": args.n_steps, "batch_size": args.batch_size,
              "deterministic": args.deterministic, "threads": args.threads, "quick": args.quick}
    result = {"benchmark": "harvest", "paper": PAPER, "config": config,
              "command": shlex.join(["python", "-m", "turngym.benchmarks.harvest", *raw]),
              "seconds": time.perf_counter() - started, "platform": platform.platform(),
              "versions": library_versions(), "summary": summarize(runs, args.horizon, args.players), "runs": runs}
    print(write_report(result, args.out))
    return 0


def write_report(result: dict[str, Any], out: Path) -> str:
    """Writes ``harvest.json``, ``harvest.md`` and ``harvest.png`` into ``out``; returns the Markdown."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "harvest.json").write_text(json.dumps(result, indent=1, allow_nan=False) + "\n")
    text = markdown(result)
    (out / "harvest.md").write_text(text)
    plot(result, out / "harvest.png")
    return text


if __name__ == "__main__":
    sys.exit(main())
