"""Self-play experiment (issue 16): does MARS-style self-play on tic-tac-toe learn, and does it transfer?

The MARS paper (Yuan, Xu et al. 2025, arXiv:2510.15414) trains one policy by self-play on tic-tac-toe and Kuhn
poker and asks whether the skill carries over to held-out games (Connect Four, Leduc hold'em). This script asks
the same questions of ``turngym train --selfplay`` on the embedded tiny model, on 2 CPUs:

(a) win rate against a uniformly random opponent, and the non-loss (draw) rate against the perfect-play
    tic-tac-toe solver, at every saved checkpoint (a win against the solver is impossible);
(b) the last checkpoint against its own earlier checkpoints, head to head (score: win 1, draw 1/2);
(c) the held-out games (Connect Four and Leduc, plus Kuhn, which this run does not train on) against a random
    opponent, before and after training.

Every training seed ``s`` is one run (``turngym train --selfplay`` on ``turngym/TicTacToe-v0`` with the MARS
estimator and a pool of past checkpoints); the initial policy of seed ``s`` is the tiny model initialized with
seed ``s`` (the run's ``iter0``). Every checkpoint of every seed is evaluated on the same evaluation seeds
(``EVAL_SEED_BASE + k``): the same deals and seats, so checkpoint comparisons are paired by episode. The unit
for intervals over training is the training seed: a mean over seeds with a Student-t 95% interval, and paired
t-tests of the per-seed differences (after minus before); McNemar's test on the pooled paired episodes is given
beside it. Policies are evaluated as trained: sampled at temperature 1 from the admissible actions.

Usage:
    python -m turngym.benchmarks.selfplay --seeds 0 1 2 3 4 --jobs 2 --out docs/selfplay
    python -m turngym.benchmarks.selfplay --quick --out /tmp/selfplay-quick     # a smoke check in ~2 minutes

Writes ``selfplay.json`` (the command, budget, seeds, every evaluation of every checkpoint of every seed,
the aggregates and the tests), ``selfplay.md`` (the tables) and ``selfplay.png`` (the curves) under ``--out``;
run folders go to ``--runs`` (a rerun replaces them).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

#: Game trained on.
TRAIN_ENV = "turngym/TicTacToe-v0"
#: Held-out games (MARS's Connect Four and Leduc; Kuhn is in MARS's training set but not in this run's).
HELD_OUT = ("turngym/ConnectFour-v0", "turngym/LeducHoldem-v0", "turngym/KuhnPoker-v0")
#: Evaluation reset seeds start here (far from the training task seeds).
EVAL_SEED_BASE = 900_000
#: Seed of every evaluation's sampling stream (the same for every checkpoint: paired).
EVAL_SAMPLE_SEED = 77


@dataclass(frozen=True)
class Budget:
    """One training run's budget and the evaluation's size.

    Attributes:
        iterations: RL iterations of the run.
        checkpoint_every: A checkpoint is saved, and evaluated, every this many iterations.
        tasks_per_iter: Task groups per iteration (N).
        group_size: Games per task (G).
        lr: Adam learning rate.
        epochs: Passes over each rollout batch.
        opponent_fraction: Expected fraction of seats held by past checkpoints.
        pool_snapshot_every: A frozen copy joins the opponent pool every this many iterations.
        episodes: Evaluation episodes per (checkpoint, opponent) and head-to-head games per pair.
        held_out_max_turns: Turn budget of the held-out games (a Connect Four seat can need 21 moves).
    """

    iterations: int = 40
    checkpoint_every: int = 10
    tasks_per_iter: int = 8
    group_size: int = 8
    lr: float = 1e-3
    epochs: int = 2
    opponent_fraction: float = 0.25
    pool_snapshot_every: int = 10
    episodes: int = 200
    held_out_max_turns: int = 32


QUICK = Budget(iterations=4, checkpoint_every=2, tasks_per_iter=4, group_size=4, pool_snapshot_every=2, episodes=24)


def train_config(seed: int, budget: Budget, run_dir: Path) -> Any:
    """The ``turngym train --selfplay`` config of one seed."""
    from turngym.agents.llm.train.config import (
        AlgoConfig,
        EnvConfig,
        OpponentPoolConfig,
        OptimConfig,
        RolloutConfig,
        TrainConfig,
    )

    return TrainConfig(
        env=EnvConfig(env_id=TRAIN_ENV),
        rollout=RolloutConfig(tasks_per_iter=budget.tasks_per_iter, group_size=budget.group_size),
        algo=AlgoConfig(estimator="mars"),
        optim=OptimConfig(lr=budget.lr, epochs=budget.epochs),
        selfplay=True,
        opponents=OpponentPoolConfig(fraction=budget.opponent_fraction, snapshot_every=budget.pool_snapshot_every),
        iterations=budget.iterations, seed=seed, eval_every=budget.checkpoint_every, eval_episodes=budget.episodes,
        checkpoint_every=budget.checkpoint_every, keep_checkpoints=0, out_dir=str(run_dir), overwrite=True,
        progress=False, tensorboard=False, torch_threads=1,
    )


def load_policy(run_dir: Path, cfg: Any, iteration: int) -> Any:
    """The policy of ``iteration`` (0: the run's initial weights, rebuilt from its seed)."""
    from turngym.agents.llm.policies.tiny import build_policy
    from turngym.agents.llm.serve import load_served_policy
    from turngym.agents.llm.train.checkpoint import checkpoint_path

    m = cfg.model
    kwargs = {"temperature": m.temperature, "top_p": m.top_p, "max_new_tokens": m.max_new_tokens, "stop": m.stop}
    if iteration == 0:
        return build_policy(m.name, seed=cfg.seed, device="cpu", **kwargs)
    return load_served_policy(str(checkpoint_path(run_dir, iteration)), seed=cfg.seed, device="cpu", **kwargs)


def outcomes(episodes: Sequence[Any]) -> list[dict[str, Any]]:
    """Each episode's seed, return and result (1 win, 0 draw, -1 loss; None: unscored)."""
    out = []
    for ep in episodes:
        scored = ep.infra_error is None and not ep.truncated
        out.append({"seed": int(ep.seed), "return": float(ep.total_reward),
                    "result": None if not scored else int(np.sign(ep.total_reward))})
    return out


def play_vs(policy: Any, env_id: str, opponent: str, n: int, settings: Any) -> list[dict[str, Any]]:
    """``n`` single-agent episodes of ``policy`` against a built-in opponent, in a random seat."""
    from turngym.agents.llm.train.evaluate import evaluate
    from turngym.envs.pool import make_pool

    pool = make_pool(env_id, min(64, n), env_kwargs={"obs_mode": "text", "opponents": [opponent], "seat": "random"})
    try:
        _, episodes = evaluate(policy, pool, [EVAL_SEED_BASE + k for k in range(n)], settings, temperature=1.0,
                               sample_seed=EVAL_SAMPLE_SEED, prompt_length=lambda m: len(policy.encode_prompt(m)))
    finally:
        pool.close()
    return outcomes(episodes)


def head_to_head(policy: Any, other: Any, n: int, settings: Any) -> list[float]:
    """``n`` tic-tac-toe games of ``policy`` against ``other``, seats drawn at random: the score of each."""
    import torch

    from turngym.agents.llm.selfplay import LEARNER, Opponent, collect_selfplay, frozen_copy

    policy.set_rng_state(torch.Generator().manual_seed(EVAL_SAMPLE_SEED).get_state())  # paired across pairs
    rollout = collect_selfplay(TRAIN_ENV, policy, [EVAL_SEED_BASE + k for k in range(n)], 1, settings,
                               opponents=[Opponent("other", frozen_copy(other, EVAL_SAMPLE_SEED + 1))],
                               opponent_fraction=0.5, rng=np.random.default_rng(EVAL_SAMPLE_SEED),
                               prompt_length=lambda m: len(policy.encode_prompt(m)))
    scores = []
    for g in rollout.games:
        if g.infra_error is not None:
            continue
        mine = [r for s, r in zip(g.seats, g.returns, strict=True) if s == LEARNER][0]
        theirs = [r for s, r in zip(g.seats, g.returns, strict=True) if s != LEARNER][0]
        scores.append(1.0 if mine > theirs else 0.5 if mine == theirs else 0.0)
    return scores


def run_seed(seed: int, budget: Budget, runs: str) -> dict[str, Any]:
    """Trains seed ``seed`` and evaluates every checkpoint (one process; torch on one thread)."""
    import torch

    from turngym.agents.llm.rollout import RolloutSettings
    from turngym.agents.llm.train.logs import read_metrics
    from turngym.agents.llm.train.loop import train

    torch.set_num_threads(1)
    run_dir = Path(runs) / f"seed{seed}"
    cfg = train_config(seed, budget, run_dir)
    t0 = time.perf_counter()
    train(cfg)
    train_s = time.perf_counter() - t0
    r = cfg.rollout
    settings = RolloutSettings(history_turns=r.history_turns, max_turns=r.max_turns,
                               max_context_tokens=r.max_context_tokens, constrain=r.constrain,
                               include_first=r.include_first)
    held_settings = replace(settings, max_turns=budget.held_out_max_turns)
    its = [0, *range(budget.checkpoint_every, budget.iterations + 1, budget.checkpoint_every)]
    if its[-1] != budget.iterations:
        its.append(budget.iterations)
    policies = {it: load_policy(run_dir, cfg, it) for it in its}
    last = its[-1]
    evals: dict[str, Any] = {"random": {}, "solver": {}, "held_out": {}, "vs_last": {}}
    for it in its:
        evals["random"][it] = play_vs(policies[it], TRAIN_ENV, "random", budget.episodes, settings)
        evals["solver"][it] = play_vs(policies[it], TRAIN_ENV, "solver", budget.episodes, settings)
    for env_id in HELD_OUT:
        evals["held_out"][env_id] = {it: play_vs(policies[it], env_id, "random", budget.episodes, held_settings)
                                     for it in (0, last)}
    for it in its[:-1]:
        evals["vs_last"][it] = head_to_head(policies[last], policies[it], budget.episodes, settings)
    metrics = read_metrics(run_dir / "metrics.jsonl")
    curve = [{"iteration": int(m["iteration"]), **{k: m[k] for k in ("pool/rating", "rollout/pool_score",
                                                                      "rollout/seat0_return_mean",
                                                                      "rollout/seat1_return_mean") if k in m}}
             for m in metrics if "rollout/games" in m]
    return {"seed": seed, "iterations": its, "train_s": round(train_s, 1),
            "eval_s": round(time.perf_counter() - t0 - train_s, 1), "evals": evals, "training": curve}


# ------------------------------------------------------------------------------------------------ statistics
def rate(rows: Sequence[dict[str, Any]], what: str) -> float:
    """Share of scored episodes that are wins (``win``), or not losses (``nonloss``)."""
    res = [r["result"] for r in rows if r["result"] is not None]
    if not res:
        return float("nan")
    return float(np.mean([x > 0 for x in res] if what == "win" else [x >= 0 for x in res]))


def over_seeds(values: Sequence[float], bounds: tuple[float, float] | None = None) -> dict[str, float]:
    """Mean over training seeds with a Student-t 95% interval (clipped to ``bounds``: a rate's is [0, 1])."""
    from turngym.agents.stats import mean_ci

    mean, low, high = mean_ci([float(v) for v in values])
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])
    return {"mean": mean, "ci_low": low, "ci_high": high, "n_seeds": len(values)}


def paired(before: Sequence[float], after: Sequence[float]) -> dict[str, float]:
    """Paired t-test over seeds of ``after - before`` (and the mean difference with its t interval)."""
    from scipy import stats

    diff = np.asarray(after, float) - np.asarray(before, float)
    out = {"diff": over_seeds(diff)}
    out["t_test_p"] = float(stats.ttest_rel(after, before).pvalue) if len(diff) > 1 and np.ptp(diff) > 1e-12 else 1.0
    return out


def mcnemar(runs: Sequence[dict[str, Any]], key: str, it0: int, it1: int, what: str) -> dict[str, float]:
    """McNemar's test of the pooled episodes (seed x evaluation seed) scored at both checkpoints."""
    from turngym.agents.stats import paired_rate_test

    a, b = [], []
    for run in runs:
        x = {r["seed"]: r["result"] for r in run["evals"][key][it0]}
        y = {r["seed"]: r["result"] for r in run["evals"][key][it1]}
        for s in sorted(set(x) & set(y)):
            if x[s] is not None and y[s] is not None:
                a.append(x[s] > 0 if what == "win" else x[s] >= 0)
                b.append(y[s] > 0 if what == "win" else y[s] >= 0)
    return paired_rate_test(a, b)


def aggregate(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Every table number, over seeds (runs must share their checkpoint iterations)."""
    its = runs[0]["iterations"]
    first, last = its[0], its[-1]
    out: dict[str, Any] = {"curves": {}, "tests": {}, "vs_last": {}, "held_out": {}}
    for key, what in (("random", "win"), ("random", "nonloss"), ("solver", "nonloss")):
        name = f"{key}_{what}"
        per_seed = {it: [rate(run["evals"][key][it], what) for run in runs] for it in its}
        out["curves"][name] = {it: {**over_seeds(v, (0.0, 1.0)), "per_seed": v} for it, v in per_seed.items()}
        out["tests"][name] = {**paired(per_seed[first], per_seed[last]),
                              "mcnemar": mcnemar(runs, key, first, last, what)}
    for it in its[:-1]:
        scores = [float(np.mean(run["evals"]["vs_last"][it])) for run in runs]
        from scipy import stats

        p = float(stats.ttest_1samp(scores, 0.5).pvalue) if len(scores) > 1 and np.ptp(scores) > 1e-12 else 1.0
        out["vs_last"][it] = {**over_seeds(scores, (0.0, 1.0)), "per_seed": scores, "t_test_vs_half_p": p}
    for env_id in HELD_OUT:
        row: dict[str, Any] = {}
        for what in ("win", "return"):
            vals = {}
            for it in (first, last):
                vals[it] = [rate(run["evals"]["held_out"][env_id][it], "win") if what == "win" else
                            float(np.mean([r["return"] for r in run["evals"]["held_out"][env_id][it]
                                           if r["result"] is not None] or [np.nan])) for run in runs]
            bounds = (0.0, 1.0) if what == "win" else None
            row[what] = {"before": over_seeds(vals[first], bounds), "after": over_seeds(vals[last], bounds),
                         "per_seed_before": vals[first], "per_seed_after": vals[last],
                         **paired(vals[first], vals[last])}
        out["held_out"][env_id] = row
    return out


# ------------------------------------------------------------------------------------------------- reports
def _ci(d: dict[str, float], pct: bool = True) -> str:
    f = (lambda x: f"{100 * x:.1f}%") if pct else (lambda x: f"{x:+.3f}")
    return f"{f(d['mean'])} [{f(d['ci_low'])}, {f(d['ci_high'])}]"


def markdown(result: dict[str, Any]) -> str:
    """The tables of ``selfplay.md``."""
    agg, its = result["aggregate"], result["runs"][0]["iterations"]
    n = len(result["runs"])
    lines = [f"Seeds {result['seeds']} ({n} training seeds, {result['budget']['episodes']} evaluation episodes "
             f"per checkpoint and opponent); mean over seeds [Student-t 95% CI]. Command: `{result['command']}`", ""]
    lines += ["| iteration | win vs random | non-loss vs random | non-loss (draw) vs solver |", "|---|---|---|---|"]
    for it in its:
        c = agg["curves"]
        lines.append(f"| {it} | {_ci(c['random_win'][it])} | {_ci(c['random_nonloss'][it])} | "
                     f"{_ci(c['solver_nonloss'][it])} |")
    lines += ["", "| change, first to last checkpoint | mean difference [95% CI] | paired t-test p "
              "(seeds) | McNemar p (pooled episodes) |", "|---|---|---|---|"]
    for name, t in agg["tests"].items():
        lines.append(f"| {name.replace('_', ' ')} | {_ci(t['diff'])} | {t['t_test_p']:.3g} | "
                     f"{t['mcnemar']['p_value']:.3g} |")
    lines += ["", f"| iteration {its[-1]} against | score (win 1, draw 1/2) [95% CI] | t-test vs 0.5 p |",
              "|---|---|---|"]
    for it, v in agg["vs_last"].items():
        lines.append(f"| iteration {it} | {_ci(v)} | {v['t_test_vs_half_p']:.3g} |")
    lines += ["", "| held-out game (vs random) | win before | win after | return before | return after | "
              "return change p |", "|---|---|---|---|---|---|"]
    for env_id, row in agg["held_out"].items():
        lines.append(f"| {env_id} | {_ci(row['win']['before'])} | {_ci(row['win']['after'])} | "
                     f"{_ci(row['return']['before'], False)} | {_ci(row['return']['after'], False)} | "
                     f"{row['return']['t_test_p']:.3g} |")
    return "\n".join(lines) + "\n"


def plot(result: dict[str, Any], path: Path) -> None:
    """Curves over checkpoints (mean and 95% band over seeds), the pool rating, head-to-head and held-out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agg, runs = result["aggregate"], result["runs"]
    its = runs[0]["iterations"]
    fig, ax = plt.subplots(1, 4, figsize=(19, 4.2))
    for name, label in (("random_win", "win vs random"), ("solver_nonloss", "draw vs solver")):
        c = agg["curves"][name]
        m = [c[it]["mean"] for it in its]
        ax[0].plot(its, m, marker="o", label=label)
        ax[0].fill_between(its, [c[it]["ci_low"] for it in its], [c[it]["ci_high"] for it in its], alpha=0.2)
    ax[0].set(xlabel="iteration", ylabel="rate", title="tic-tac-toe (trained)", ylim=(0, 1))
    ax[0].legend()
    window = 5  # the rating of one iterate rests on its few pool games: a moving average of 5 iterations
    for k, run in enumerate(runs):
        pts = [(p["iteration"], p["pool/rating"]) for p in run["training"] if "pool/rating" in p]
        if len(pts) >= window:
            y = np.convolve([b for _, b in pts], np.ones(window) / window, mode="valid")
            ax[1].plot([a for a, _ in pts][window - 1:], y, color=f"C{k}", alpha=0.8, label=f"seed {run['seed']}")
    ax[1].axhline(0, color="grey", lw=0.8)
    ax[1].set(xlabel="iteration", ylabel="Bradley-Terry rating - iter0",
              title=f"learner's rating vs its pool ({window}-iteration mean)")
    if ax[1].get_legend_handles_labels()[0]:
        ax[1].legend(fontsize=7)
    v = agg["vs_last"]
    xs = list(v)
    ax[2].errorbar([str(x) for x in xs], [v[x]["mean"] for x in xs],
                   yerr=[[v[x]["mean"] - v[x]["ci_low"] for x in xs], [v[x]["ci_high"] - v[x]["mean"] for x in xs]],
                   fmt="o", capsize=4)
    ax[2].axhline(0.5, color="grey", lw=0.8)
    ax[2].set(xlabel="earlier checkpoint", ylabel="score", ylim=(0, 1), title=f"iteration {its[-1]} vs earlier")
    envs = list(agg["held_out"])
    x = np.arange(len(envs))
    for k, (when, off) in enumerate((("before", -0.2), ("after", 0.2))):
        d = [agg["held_out"][e]["win"][when] for e in envs]
        ax[3].bar(x + off, [q["mean"] for q in d], 0.4, label=when, color=f"C{k}",
                  yerr=[[q["mean"] - q["ci_low"] for q in d], [q["ci_high"] - q["mean"] for q in d]], capsize=4)
    ax[3].set_xticks(x, [e.split("/")[1].removesuffix("-v0") for e in envs])
    ax[3].set(ylabel="win rate vs random", ylim=(0, 1), title="held-out games")
    ax[3].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


def main(argv: list[str] | None = None) -> int:
    """CLI entry point (module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="training seeds (>= 2)")
    ap.add_argument("--iterations", type=int, default=None, help="RL iterations per run")
    ap.add_argument("--checkpoint-every", type=int, default=None, help="evaluate every this many iterations")
    ap.add_argument("--episodes", type=int, default=None, help="evaluation episodes per checkpoint and opponent")
    ap.add_argument("--lr", type=float, default=None, help="learning rate")
    ap.add_argument("--jobs", type=int, default=1, help="seeds trained at once (one process each, one thread)")
    ap.add_argument("--quick", action="store_true", help="a tiny budget: a smoke check")
    ap.add_argument("--report-only", action="store_true", help="rewrite selfplay.md/png from --out's selfplay.json")
    ap.add_argument("--out", default="docs/selfplay", help="folder for selfplay.{json,md,png}")
    ap.add_argument("--runs", default="runs/selfplay", help="folder for the run folders")
    args = ap.parse_args(argv)
    out = Path(args.out)
    if args.report_only:
        result = json.loads((out / "selfplay.json").read_text(encoding="utf-8"))
        result["aggregate"] = aggregate(_keyed(result["runs"]))
        write_report(result, out)
        return 0
    if len(args.seeds) < 2 or len(set(args.seeds)) != len(args.seeds):
        ap.error("--seeds: at least two distinct training seeds (the intervals are over seeds)")
    budget = QUICK if args.quick else Budget()
    for field_, value in (("iterations", args.iterations), ("checkpoint_every", args.checkpoint_every),
                          ("episodes", args.episodes), ("lr", args.lr)):
        if value is not None:
            budget = replace(budget, **{field_: value})
    if budget.iterations < 1 or budget.checkpoint_every < 1 or budget.episodes < 2:
        ap.error("--iterations and --checkpoint-every must be >= 1 and --episodes >= 2")
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    runs: list[dict[str, Any]] = []
    bar = tqdm(total=len(args.seeds), desc="self-play seeds", unit="seed")
    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as ex:
            for res in ex.map(run_seed, args.seeds, [budget] * len(args.seeds), [args.runs] * len(args.seeds)):
                runs.append(res)
                bar.update()
    else:
        for seed in args.seeds:
            runs.append(run_seed(seed, budget, args.runs))
            bar.update()
    bar.close()
    result = {"command": "python -m turngym.benchmarks.selfplay " + shlex.join(sys.argv[1:] if argv is None
                                                                              else argv),
              "seeds": list(args.seeds), "train_env": TRAIN_ENV, "held_out": list(HELD_OUT),
              "eval_seeds": f"{EVAL_SEED_BASE} + k, k < {budget.episodes}", "eval_sample_seed": EVAL_SAMPLE_SEED,
              "budget": asdict(budget), "cpus": os.cpu_count(), "wall_s": round(time.perf_counter() - t0, 1),
              "runs": runs}
    result["aggregate"] = aggregate(runs)
    out.mkdir(parents=True, exist_ok=True)
    (out / "selfplay.json").write_text(json.dumps(_jsonable(result)) + "\n", encoding="utf-8")
    write_report(result, out)
    return 0


def write_report(result: dict[str, Any], out: Path) -> None:
    """Writes ``selfplay.md`` and ``selfplay.png`` and prints the tables."""
    md = markdown(result)
    (out / "selfplay.md").write_text(md, encoding="utf-8")
    plot(result, out / "selfplay.png")
    print(md)
    print(f"wrote {out / 'selfplay.json'}, {out / 'selfplay.md'}, {out / 'selfplay.png'}")


def _keyed(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs read back from JSON with their iteration keys as ints again."""
    def ints(d: dict[str, Any]) -> dict[Any, Any]:
        return {int(k) if str(k).isdigit() else k: v for k, v in d.items()}

    for run in runs:
        ev = run["evals"]
        for key in ("random", "solver", "vs_last"):
            ev[key] = ints(ev[key])
        ev["held_out"] = {env: ints(v) for env, v in ev["held_out"].items()}
    return runs


if __name__ == "__main__":
    raise SystemExit(main())
