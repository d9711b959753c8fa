"""Credit-assignment comparison: GRPO vs GiGPO vs turn-level PPO vs IGPO vs EPO on/off, paired over seeds.

Every method trains the embedded tiny model with the same budget (iterations x tasks x group size, same
optimizer, same warm start when the env preset has one) from the same seed, and is evaluated on the same
held-out levels (the env's ``split="test"``: layouts or questions never produced for training). Runs are
paired by seed: seed ``s`` of every method starts from the same initial weights and sees the same training
tasks in the same order, so the per-seed difference of two methods is the unit of comparison (paired t-test
and a bootstrap CI of the mean difference), never two independent means.

Usage:
    python -m turngym.benchmarks.credit_assignment --env frozenlake --seeds 0 1 2 3 4 --jobs 2 --out docs/credit
    python -m turngym.benchmarks.credit_assignment --env sokoban --seeds 0 1 2 3 4 --jobs 2 --out docs/credit
    python -m turngym.benchmarks.credit_assignment --env leduc --seeds 0 1 2 3 4 --out docs/credit
    python -m turngym.benchmarks.credit_assignment --env frozenlake --quick      # a smoke check in ~1 minute

Writes ``credit_assignment_<env>.json`` (the command, budget, seeds, every eval point of every run, the
per-iteration training diagnostics each run logged, the aggregate and the paired tests) and
``credit_assignment_<env>.png`` (held-out metric vs iteration with 95% bands, and the paired per-seed
differences) under ``--out``. Runs go to ``--runs`` (one run folder each; a rerun replaces them).
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

#: method name -> (estimator, loss, EPO on, training guards on). ``*-epo`` adds EPO's entropy control to the same
#: estimator; ``gigpo-unguarded`` is GiGPO without the update guards of issue 13 item 15d (no approx-KL early
#: stop, ``--optim.target-kl None``; no gradient-norm clipping, ``--optim.max-grad-norm 1e9``), the arm that
#: shows what the guards do.
METHODS: dict[str, tuple[str, str, bool, bool]] = {
    "grpo": ("grpo", "ppo", False, True),
    "gigpo": ("gigpo", "ppo", False, True),
    "turn-ppo": ("gae", "turn-ppo", False, True),
    "igpo": ("igpo", "ppo", False, True),
    "gigpo-epo": ("gigpo", "ppo", True, True),
    "gigpo-unguarded": ("gigpo", "ppo", False, False),
}

#: Methods run when ``--methods`` is not given (igpo only where the env has gold answers).
DEFAULT_METHODS: tuple[str, ...] = ("grpo", "gigpo", "turn-ppo", "igpo", "gigpo-epo")

#: (method, baseline) pairs tested per seed. Each pair is one question of the issue: does step-level credit
#: (GiGPO), a critic (turn-level PPO) or information gain (IGPO) beat outcome-only GRPO, and does EPO help GiGPO.
PAIRS: tuple[tuple[str, str], ...] = (("gigpo", "grpo"), ("turn-ppo", "grpo"), ("igpo", "grpo"),
                                      ("gigpo-epo", "gigpo"), ("gigpo", "gigpo-unguarded"))

#: Training diagnostics kept per iteration from each run's metrics (averaged over iterations in the table).
DIAGNOSTICS: tuple[str, ...] = (
    "rollout/success_rate", "rollout/return_mean", "rollout/turns_mean", "train/advantage_std",
    "train/advantage_mean", "env/step_group_nonsingleton_frac", "env/step_group_size_mean",
    "train/policy/approx_kl", "train/grad_norm", "train/early_stopped", "train/skipped_nonfinite",
)


@dataclass(frozen=True)
class Preset:
    """One env's shared budget.

    Attributes:
        env_id: Registered id.
        kwargs: Env arguments for training (JSON object text).
        eval_kwargs: Overrides for the held-out evaluation (the test split).
        metric: Held-out metric compared (``success_rate`` or ``return_mean``).
        iterations: RL iterations.
        tasks_per_iter: Task groups per iteration.
        group_size: Episodes per task (G).
        eval_every: Evaluate every this many iterations.
        eval_episodes: Held-out episodes per evaluation.
        max_turns: Turn cap of a rollout episode.
        history_turns: Past exchanges in the prompt.
        include_first: Keep the first observation in every prompt.
        max_new_tokens: Generation cap per turn.
        constrain: Decode only admissible actions.
        sft_episodes: Expert episodes of the warm start (0: none).
        sft_steps: Warm-start optimizer steps.
        sft_prompt_weight: Weight of the prompt tokens in the warm-start loss (``SFTConfig.prompt_weight``).
        lr: RL learning rate.
        has_gold: The env declares gold answers (IGPO runs only then).
        shared_warm_start: Train the warm start once (``turngym sft``, seed ``warm_seed``) and start every run
            of every seed from it, as the papers start every seed from one base model; otherwise each run
            repeats the warm start inside ``turngym train`` with its own seed.
        warm_seed: Seed of the shared warm start.
        stop: Stop strings of free-text replies (None: the model config's default).
        metric_name: What ``metric`` measures, for the plot's axis (default: from ``metric``).
    """

    env_id: str
    kwargs: str = "{}"
    eval_kwargs: str = '{"split": "test"}'
    metric: str = "success_rate"
    iterations: int = 40
    tasks_per_iter: int = 8
    group_size: int = 8
    eval_every: int = 10
    eval_episodes: int = 200
    max_turns: int = 16
    history_turns: int = 0
    include_first: bool = False
    max_new_tokens: int = 8
    constrain: bool = True
    sft_episodes: int = 0
    sft_steps: int = 200
    sft_prompt_weight: float = 0.0
    lr: float = 3e-4
    has_gold: bool = False
    shared_warm_start: bool = False
    warm_seed: int = 0
    stop: tuple[str, ...] | None = None
    metric_name: str = ""


PRESETS: dict[str, Preset] = {
    # Gymnasium's FrozenLake dynamics on random 4x4 maps, text grid, no warm start: the trial of issue 13.
    # 12 iterations x 4 tasks x G=8 keeps one run near 4 minutes on one core, so 4 methods x 5 seeds fit 2 cores
    # in about 40 minutes.
    "frozenlake": Preset("turngym/FrozenLake-v0", kwargs='{"size": 4}', max_turns=12, iterations=12,
                         tasks_per_iter=4, eval_every=4),
    # Generated 6x6 rooms with one box: longer horizons and anchors that repeat within a group. From scratch the
    # tiny model does not read the grid at this budget (README), so every run starts from one shared warm start
    # that trains on the prompts too (2,500 steps, ~25 min on one core, held-out 0.78); then README's setting (C):
    # 8 tasks x G=8 at lr 1e-4, 10 iterations (~60 s each on one core).
    "sokoban": Preset("turngym/Sokoban-v0", kwargs='{"dim_room": [6, 6], "num_boxes": 1}', max_turns=20,
                      iterations=10, tasks_per_iter=8, eval_every=5, eval_episodes=400, sft_episodes=2000,
                      sft_steps=2500, sft_prompt_weight=1.0, lr=1e-4, shared_warm_start=True),
    # The embedded default run's setting (Leduc vs a random opponent, chips per hand).
    "leduc": Preset("turngym/LeducHoldem-v0", eval_kwargs="{}", metric="return_mean", iterations=30,
                    eval_episodes=1000, max_turns=16, max_new_tokens=16),
    # Multi-hop questions; the plain call format, a warm start on scripted-expert episodes.
    "toolqa": Preset("turngym/ToolQA-v0", kwargs=json.dumps({"difficulty": 1, "format": "plain", "max_turns": 6,
                                                              "max_tool_output_chars": 400}),
                     iterations=8, tasks_per_iter=4, group_size=4, eval_every=4, eval_episodes=50, max_turns=6,
                     history_turns=1, include_first=True, max_new_tokens=32, constrain=False, sft_episodes=150,
                     sft_steps=150, lr=1e-4, has_gold=True),
    # WebShop (issue 14): the metric is WebShop's score (mean reward in [0, 1]); success (score 1) is kept beside
    # it. Every page repeats the instruction, so the prompt is the current page only. Clicks are decoded from
    # the page's admissible list; the search page's open action (``search[<your query>]``) is free text that
    # stops at "]". One shared warm start on the scripted shopper's episodes (700 steps, ~40 min on one core:
    # ~400-token prompts make a step ~3.5 s), then 8 iterations of 4 tasks x G=8 at lr 1e-4, 10 turns at most
    # (the shopper needs 4-6), evaluated on 100 held-out tasks.
    "webshop": Preset("turngym/WebShop-v0", metric="return_mean", iterations=8, tasks_per_iter=4, eval_every=4,
                      eval_episodes=100, max_turns=10, max_new_tokens=48, sft_episodes=1000, sft_steps=700,
                      sft_prompt_weight=1.0, lr=1e-4, shared_warm_start=True, stop=("]",),
                      metric_name="WebShop score"),
}


def quick(preset: Preset) -> Preset:
    """A smoke-check budget of ``preset`` (seconds to a minute per run)."""
    return replace(preset, iterations=2, tasks_per_iter=2, group_size=2, eval_every=1, eval_episodes=4,
                   sft_episodes=min(preset.sft_episodes, 4), sft_steps=min(preset.sft_steps, 4))


def warm_start_args(preset: Preset, out: Path) -> list[str]:
    """The ``turngym sft`` flags of the shared warm start: the preset's env, prompt layout and SFT budget."""
    return ["--env.env-id", preset.env_id, "--env.kwargs", preset.kwargs,
            "--rollout.history-turns", str(preset.history_turns),
            "--rollout.include-first" if preset.include_first else "--rollout.no-include-first",
            "--sft.episodes", str(preset.sft_episodes), "--sft.steps", str(preset.sft_steps),
            "--sft.prompt-weight", str(preset.sft_prompt_weight), "--seed", str(preset.warm_seed),
            "--out-dir", str(out), "--no-progress"]


def shared_warm_start(preset: Preset, runs: Path) -> Path:
    """Trains (or reuses) the warm start every run of ``preset`` starts from; returns its model folder.

    The folder records the exact ``turngym sft`` arguments in ``warm_start.json``; a folder whose record differs
    (another budget, env or seed) is trained again, so a cached warm start is never a stale one.
    """
    from turngym.agents.llm.train.cli import sft_main

    out = runs / "warm-start"
    args = warm_start_args(preset, out)
    record = out / "warm_start.json"
    if record.is_file() and (out / "config.json").is_file():
        try:
            if json.loads(record.read_text()).get("args") == args:
                return out
        except (OSError, ValueError):
            pass
    if out.exists():
        import shutil

        shutil.rmtree(out)
    started = time.perf_counter()
    sft_main(args)
    record.write_text(json.dumps({"args": args, "command": "turngym sft " + shlex.join(args),
                                  "seconds": time.perf_counter() - started}, indent=2))
    return out


def run_config(preset: Preset, method: str, seed: int, out: Path, warm: Path | None = None) -> Any:
    """The training config of one (method, seed) run: everything but the method is shared.

    With ``warm`` (a shared warm start's folder) the run loads it and does no warm start of its own.
    """
    from turngym.agents.llm.train.config import (
        AlgoConfig,
        EnvConfig,
        ModelConfig,
        OptimConfig,
        RolloutConfig,
        SFTConfig,
        TrainConfig,
    )

    estimator, loss, epo, guards = METHODS[method]
    stop = preset.stop if preset.stop is not None else (
        (")", "</answer>") if preset.env_id.startswith("turngym/Tool") else ModelConfig().stop)
    return TrainConfig(
        model=ModelConfig(max_new_tokens=preset.max_new_tokens, stop=stop,
                          **({"name": str(warm)} if warm is not None else {})),
        env=EnvConfig(env_id=preset.env_id, kwargs=preset.kwargs, eval_kwargs=preset.eval_kwargs),
        rollout=RolloutConfig(tasks_per_iter=preset.tasks_per_iter, group_size=preset.group_size,
                              history_turns=preset.history_turns, include_first=preset.include_first,
                              max_turns=preset.max_turns, constrain=preset.constrain),
        algo=AlgoConfig(estimator=estimator, loss=loss, epo=epo),
        optim=(OptimConfig(lr=preset.lr) if guards else OptimConfig(lr=preset.lr, target_kl=None, max_grad_norm=1e9)),
        sft=(SFTConfig() if warm is not None else
             SFTConfig(episodes=preset.sft_episodes, steps=preset.sft_steps, prompt_weight=preset.sft_prompt_weight)),
        iterations=preset.iterations, seed=seed, eval_every=preset.eval_every,
        eval_episodes=preset.eval_episodes, checkpoint_every=preset.iterations, out_dir=str(out),
        tensorboard=False, progress=False, torch_threads=1, overwrite=True,
    )


def cli_args(cfg: Any) -> list[str]:
    """The ``turngym train`` flags that give ``cfg`` (every leaf field that differs from the CLI default).

    ``parse_train_args(cli_args(cfg)) == cfg`` (tested), so each run of the benchmark can be repeated alone with
    the command recorded next to its results.
    """
    import dataclasses

    from turngym.agents.llm.train.config import TrainConfig

    def walk(obj: Any, default: Any, prefix: str) -> list[str]:
        out: list[str] = []
        for f in dataclasses.fields(obj):
            value, base = getattr(obj, f.name), getattr(default, f.name)
            flag = "--" + prefix + f.name.replace("_", "-")
            if dataclasses.is_dataclass(value):
                out += walk(value, base, prefix + f.name + ".")
            elif value != base:
                if isinstance(value, bool):
                    out.append(flag if value else "--" + prefix + "no-" + f.name.replace("_", "-"))
                elif isinstance(value, tuple | list):
                    out += [flag, *map(str, value)]
                else:
                    out += [flag, "None" if value is None else str(value)]
        return out

    return walk(cfg, TrainConfig(), "")


def run_one(preset: Preset, method: str, seed: int, runs: Path, warm: Path | None = None) -> dict[str, Any]:
    """Trains one (method, seed) run in this process and returns its curve and diagnostics."""
    from turngym.agents.llm.train.loop import train

    cfg = run_config(preset, method, seed, runs / f"{method}-seed{seed}", warm)
    started = time.perf_counter()
    result = train(cfg)
    metric = f"eval/{preset.metric}"
    band = f"eval/{preset.metric.split('_')[0]}_ci"  # evaluate() names the bands success_ci_* / return_ci_*
    curve = [{"iteration": int(r["iteration"]), "value": float(r[metric]),
              "ci_low": float(r.get(f"{band}_low", r[metric])), "ci_high": float(r.get(f"{band}_high", r[metric])),
              **({"success": float(r["eval/success_rate"])} if "eval/success_rate" in r else {})}
             for r in result.history if metric in r]
    diag = {k: [float(r[k]) for r in result.history if k in r] for k in DIAGNOSTICS}
    return {"method": method, "seed": seed, "curve": curve, "diagnostics": {k: v for k, v in diag.items() if v},
            "seconds": time.perf_counter() - started, "command": "turngym train " + shlex.join(cli_args(cfg))}


def _run_job(job: tuple[Preset, str, int, str, str | None]) -> dict[str, Any]:
    preset, method, seed, runs, warm = job
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    return run_one(preset, method, seed, Path(runs), None if warm is None else Path(warm))


def paired_test(a: Sequence[float], b: Sequence[float], seed: int = 0) -> dict[str, Any]:
    """Paired comparison of per-seed values ``a - b``: mean difference, paired t-test, bootstrap 95% CI.

    The bootstrap resamples seeds (the pairs), 10,000 times, percentile interval (``scipy.stats.bootstrap``,
    seeded). Fewer than two pairs give NaN statistics.
    """
    from scipy import stats

    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    out: dict[str, Any] = {"n": int(d.size), "differences": d.tolist(),
                           "mean_diff": float(d.mean()) if d.size else float("nan"),
                           "wins": int((d > 0).sum()), "losses": int((d < 0).sum())}
    if d.size < 2 or float(d.std()) == 0.0:
        out.update(t=float("nan"), p_value=float("nan"), ci_low=out["mean_diff"], ci_high=out["mean_diff"])
        return out
    t = stats.ttest_rel(a, b)
    boot = stats.bootstrap((d,), np.mean, n_resamples=10_000, confidence_level=0.95, method="percentile",
                           random_state=np.random.default_rng(seed))
    out.update(t=float(t.statistic), p_value=float(t.pvalue), ci_low=float(boot.confidence_interval.low),
               ci_high=float(boot.confidence_interval.high))
    return out


def summarize(runs: list[dict[str, Any]], methods: Sequence[str], seeds: Sequence[int]) -> dict[str, Any]:
    """Per-method curves (mean and t-band over seeds), final and area-under-curve values, paired tests."""
    from turngym.agents.stats import mean_ci

    by = {(r["method"], r["seed"]): r for r in runs}
    table: dict[str, Any] = {}
    for m in methods:
        mine = [by[(m, s)] for s in seeds if (m, s) in by]
        if not mine:
            continue
        iters = sorted({p["iteration"] for r in mine for p in r["curve"]})
        curve = []
        for i in iters:
            vals = [p["value"] for r in mine for p in r["curve"] if p["iteration"] == i]
            mean, lo, hi = mean_ci(vals)
            curve.append({"iteration": i, "mean": mean, "ci_low": lo, "ci_high": hi, "n": len(vals)})
        finals = [r["curve"][-1]["value"] for r in mine]
        # Held-out success beside a score metric (WebShop reports both), start and end of each seed.
        success = {k: [r["curve"][j]["success"] for r in mine if "success" in r["curve"][j]]
                   for k, j in (("start", 0), ("final", -1))}
        start = [r["curve"][0]["value"] for r in mine]
        auc = [float(np.mean([p["value"] for p in r["curve"][1:]] or [np.nan])) for r in mine]
        diag = {k: float(np.mean([np.mean(r["diagnostics"][k]) for r in mine if k in r["diagnostics"]]))
                for k in DIAGNOSTICS if any(k in r["diagnostics"] for r in mine)}
        collapses = sum(_collapses(r["diagnostics"].get("rollout/success_rate", [])) for r in mine)
        table[m] = {"curve": curve, "start": start, "final": finals, "auc": auc, "final_ci": mean_ci(finals),
                    "diagnostics": diag, "collapses": collapses,
                    **({"success": success} if success["final"] else {}),
                    "seconds_mean": float(np.mean([r["seconds"] for r in mine]))}
    paired = {}
    for a, b in PAIRS:
        if a in table and b in table:
            common = [s for s in seeds if (a, s) in by and (b, s) in by]
            fa = [by[(a, s)]["curve"][-1]["value"] for s in common]
            fb = [by[(b, s)]["curve"][-1]["value"] for s in common]
            ua = [float(np.mean([p["value"] for p in by[(a, s)]["curve"][1:]])) for s in common]
            ub = [float(np.mean([p["value"] for p in by[(b, s)]["curve"][1:]])) for s in common]
            paired[f"{a} - {b}"] = {"seeds": common, "final": paired_test(fa, fb), "auc": paired_test(ua, ub)}
    return {"methods": table, "paired": paired}


def _collapses(success: Sequence[float], drop: float = 0.5) -> int:
    """Iterations whose training success fell by more than ``drop`` from the previous one (a collapse)."""
    s = np.asarray(success, dtype=np.float64)
    return int((s[:-1] - s[1:] > drop).sum()) if s.size > 1 else 0


def plot(summary: dict[str, Any], path: Path, title: str, ylabel: str, rate: bool = True) -> None:
    """Left: held-out metric vs iteration (mean, 95% t-band over seeds; clipped to [0, 1] for a rate).

    Right: the per-seed paired differences of the final held-out value, their mean and bootstrap 95% CI.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    for method, row in summary["methods"].items():
        x = [p["iteration"] for p in row["curve"]]
        ax.plot(x, [p["mean"] for p in row["curve"]], "o-", label=method)
        lo, hi = [p["ci_low"] for p in row["curve"]], [p["ci_high"] for p in row["curve"]]
        if rate:  # a success rate lives in [0, 1]; the t-band over 5 seeds does not know that
            lo, hi = np.clip(lo, 0.0, 1.0), np.clip(hi, 0.0, 1.0)
        ax.fill_between(x, lo, hi, alpha=0.15)
    ax.set_xlabel("RL iteration")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    names = list(summary["paired"])
    for k, name in enumerate(names):
        test = summary["paired"][name]["final"]
        bx.scatter(test["differences"], [k] * test["n"], color="0.4", s=14, zorder=3)
        bx.errorbar(test["mean_diff"], k, xerr=[[test["mean_diff"] - test["ci_low"]],
                                                  [test["ci_high"] - test["mean_diff"]]],
                    fmt="D", color="C3", capsize=4, zorder=4)
    bx.axvline(0.0, color="k", lw=0.8)
    bx.set_yticks(range(len(names)), [f"{n}\np={summary['paired'][n]['final']['p_value']:.2g}" for n in names],
                  fontsize=8)
    bx.set_xlabel("final held-out difference per seed (dots);\nmean and bootstrap 95% CI (diamond)")
    bx.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def print_table(summary: dict[str, Any], metric: str) -> None:
    """The aggregate and the paired tests as text."""
    print(f"held-out {metric}: start -> final (mean over seeds, 95% t-CI), area under the curve, diagnostics")
    print(f"{'method':10s} {'start':>6s} {'final':>6s} {'95% CI':>16s} {'AUC':>6s} {'|A| std':>8s} "
          f"{'nonsingleton':>12s} {'collapses':>9s} {'s/run':>6s}")
    for m, row in summary["methods"].items():
        f = row["final_ci"]
        d = row["diagnostics"]
        print(f"{m:10s} {np.mean(row['start']):6.3f} {f[0]:6.3f} [{f[1]:6.3f}, {f[2]:6.3f}] "
              f"{np.mean(row['auc']):6.3f} {d.get('train/advantage_std', float('nan')):8.3f} "
              f"{d.get('env/step_group_nonsingleton_frac', float('nan')):12.3f} {row['collapses']:9d} "
              f"{row['seconds_mean']:6.0f}")
    print("paired by seed (final held-out): mean difference [bootstrap 95% CI], paired t p-value, wins/losses")
    for name, test in summary["paired"].items():
        t = test["final"]
        print(f"  {name:18s} {t['mean_diff']:+.3f} [{t['ci_low']:+.3f}, {t['ci_high']:+.3f}]  p={t['p_value']:.3g}  "
              f"{t['wins']}/{t['losses']}")


def _title(preset: Preset, seeds: Sequence[int]) -> tuple[str, str]:
    ylabel = "held-out " + (preset.metric_name or (
        "chips per hand" if preset.metric == "return_mean" else "success rate"))
    title = (f"{preset.env_id}, tiny model, {len(seeds)} seeds, {preset.iterations} it x "
             f"{preset.tasks_per_iter} tasks x G={preset.group_size}")
    return title, ylabel


def replot(out: Path, stem: str) -> int:
    """Redraws ``<stem>.png`` and reprints the tables from the JSON ``<stem>.json`` a run wrote."""
    result = json.loads((out / f"{stem}.json").read_text())
    preset = Preset(**{k: tuple(v) if isinstance(v, list) else v for k, v in result["preset"].items()})
    title, ylabel = _title(preset, result["seeds"])
    plot(result["summary"], out / f"{stem}.png", title, ylabel, rate=preset.metric == "success_rate")
    print_table(result["summary"], preset.metric)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Runs the comparison and writes JSON + PNG; prints the tables."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--env", default="frozenlake", choices=list(PRESETS))
    ap.add_argument("--methods", nargs="+", default=None, choices=list(METHODS),
                    help="default: every method the env supports (igpo only where gold answers exist)")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--iterations", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None, help="RL learning rate (default: the preset's)")
    ap.add_argument("--name", default=None, help="stem of the JSON/PNG (default: credit_assignment_<env>)")
    ap.add_argument("--jobs", type=int, default=1, help="runs trained at once (one torch thread each)")
    ap.add_argument("--quick", action="store_true", help="a tiny budget (smoke check)")
    ap.add_argument("--out", type=Path, default=Path("runs/credit_assignment"))
    ap.add_argument("--runs", type=Path, default=None, help="run folders (default: <out>/runs-<env>)")
    ap.add_argument("--replot", action="store_true", help="redraw the PNG and table from the JSON in --out")
    args = ap.parse_args(argv)
    if args.replot:
        return replot(args.out, args.name or f"credit_assignment_{args.env}")
    preset = PRESETS[args.env]
    if args.quick:
        preset = quick(preset)
    if args.iterations:
        preset = replace(preset, iterations=args.iterations, eval_every=max(1, args.iterations // 4))
    if args.lr is not None:
        preset = replace(preset, lr=args.lr)
    methods = args.methods or [m for m in DEFAULT_METHODS if preset.has_gold or METHODS[m][0] != "igpo"]
    if not preset.has_gold and any(METHODS[m][0] == "igpo" for m in methods):
        ap.error(f"{preset.env_id} declares no gold answers: igpo cannot run on it")
    stem = args.name or f"credit_assignment_{args.env}"
    runs_dir = args.runs or args.out / f"runs-{stem.removeprefix('credit_assignment_')}"
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    warm: str | None = None
    if preset.shared_warm_start and preset.sft_episodes > 0:
        print(f"shared warm start: turngym sft {shlex.join(warm_start_args(preset, runs_dir / 'warm-start'))}")
        warm = str(shared_warm_start(preset, runs_dir))
    jobs = [(preset, m, s, str(runs_dir), warm) for s in args.seeds for m in methods]
    results: list[dict[str, Any]] = []
    from tqdm.auto import tqdm

    bar = tqdm(total=len(jobs), desc=f"credit assignment {args.env}", unit="run")
    if args.jobs <= 1:
        for job in jobs:
            results.append(_run_job(job))
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=get_context("spawn")) as ex:
            for res in ex.map(_run_job, jobs):
                results.append(res)
                bar.update()
    bar.close()
    summary = summarize(results, methods, args.seeds)
    result = {"command": "python -m turngym.benchmarks.credit_assignment " + shlex.join(argv or sys.argv[1:]),
              "env": args.env, "preset": asdict(preset), "metric": preset.metric, "methods": methods,
              "seeds": args.seeds, "runs": results, "summary": summary,
              "warm_start": json.loads((Path(warm) / "warm_start.json").read_text()) if warm else None,
              "seconds": time.perf_counter() - started}
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=2))
    title, ylabel = _title(preset, args.seeds)
    plot(summary, args.out / f"{stem}.png", title, ylabel, rate=preset.metric == "success_rate")
    print_table(summary, preset.metric)
    print(f"wrote {args.out / (stem + '.json')} and {args.out / (stem + '.png')} in {result['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
