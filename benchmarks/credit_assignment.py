"""Credit-assignment comparison on ToolQA with the tiny model: GiGPO vs GRPO vs turn-level PPO, IGPO vs GRPO.

Every method starts from the same supervised warm start per seed (scripted-expert trajectories), gets
the same budget (iterations x tasks x group size, same optimizer), and is evaluated on the same held-out
test-split questions. Success rates are averaged over seeds with Student-t 95% bands.

Usage:
    python -m turngym.benchmarks.credit_assignment                  # default size
    python -m turngym.benchmarks.credit_assignment --quick          # a few minutes, for smoke checks
    python -m turngym.benchmarks.credit_assignment --seeds 0 1 2 --iterations 40 --out runs/credit

Writes ``credit_assignment_<env>.json`` (every eval point of every run, plus the aggregate) and
``credit_assignment_<env>.png`` (held-out metric vs iteration, mean and band per method) under ``--out``.
``--env leduc`` runs GiGPO / GRPO / turn-level PPO from scratch on the embedded default run's setting
(Leduc against a random opponent, chips per hand), where learning is fast enough for many seeds on a CPU.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

#: method name -> (estimator, loss)
METHODS: dict[str, tuple[str, str]] = {
    "gigpo": ("gigpo", "ppo"),
    "grpo": ("grpo", "ppo"),
    "turn-ppo": ("gae", "turn-ppo"),
    "igpo": ("igpo", "ppo"),
}


@dataclass
class Budget:
    """The shared budget of every method.

    The ToolQA defaults fit a 2-core CPU in about an hour, and at that size the tiny model does not solve
    ToolQA at all (0% after the warm start, so every outcome reward is 0 and no method gets a signal):
    raise ``sft_steps`` and ``iterations`` on a GPU for a meaningful ToolQA comparison.
    """

    iterations: int = 8
    tasks_per_iter: int = 4
    group_size: int = 4
    eval_every: int = 4
    eval_episodes: int = 50
    sft_episodes: int = 150
    sft_steps: int = 150
    difficulty: int = 1


def base_config(budget: Budget, seed: int, out: Path, env: str = "toolqa") -> Any:
    """The training config shared by every method (tiny model; ToolQA in the plain call format, or Leduc)."""
    from turngym.agents.train.config import (
        AlgoConfig,
        EnvConfig,
        ModelConfig,
        OptimConfig,
        RolloutConfig,
        TrainConfig,
    )

    if env == "leduc":  # the embedded default run's setting, with this budget
        return TrainConfig(rollout=RolloutConfig(tasks_per_iter=budget.tasks_per_iter, group_size=budget.group_size),
                           iterations=budget.iterations, seed=seed, eval_every=budget.eval_every,
                           eval_episodes=budget.eval_episodes, checkpoint_every=budget.iterations,
                           out_dir=str(out), tensorboard=False, progress=True)
    # Tool outputs are cut to 400 characters (head and tail) to keep prompts short enough for a CPU.
    env_kwargs = json.dumps({"difficulty": budget.difficulty, "format": "plain", "max_turns": 6,
                             "max_tool_output_chars": 400})
    return TrainConfig(
        model=ModelConfig(max_new_tokens=32, stop=(")", "</answer>")),
        env=EnvConfig(env_id="turngym/ToolQA-v0", kwargs=env_kwargs, eval_kwargs='{"split": "test"}'),
        rollout=RolloutConfig(tasks_per_iter=budget.tasks_per_iter, group_size=budget.group_size,
                              history_turns=1, include_first=True, max_turns=6, max_context_tokens=1536,
                              constrain=False),
        algo=AlgoConfig(),
        optim=OptimConfig(lr=1e-4, minibatch_size=64),
        iterations=budget.iterations, seed=seed, eval_every=budget.eval_every,
        eval_episodes=budget.eval_episodes, checkpoint_every=budget.iterations, out_dir=str(out),
        tensorboard=False, progress=True,
    )


def warm_start(budget: Budget, seed: int, out: Path) -> Path:
    """SFT of the tiny model on expert ToolQA episodes; returns the saved model directory."""
    from turngym.agents.policies.tiny import build_policy
    from turngym.agents.train.sft import expert_examples, save_policy, supervised_finetune

    target = out / f"sft-seed{seed}"
    if (target / "config.json").exists():
        return target
    cfg = base_config(budget, seed, out)
    policy = build_policy("tiny", seed=seed)
    examples = expert_examples(cfg.env.env_id, budget.sft_episodes, seed, cfg.env.train_kwargs(),
                               cfg.rollout.history_turns, cfg.rollout.include_first)
    supervised_finetune(policy, examples, steps=budget.sft_steps, batch_size=8, lr=1e-3, seed=seed)
    return save_policy(policy, target)


def run_method(method: str, budget: Budget, seed: int, model_dir: Path | None, out: Path, env: str,
               metric: str) -> list[tuple[int, float]]:
    """Trains one method (from the warm start when given); returns ``(iteration, held-out metric)`` points."""
    from turngym.agents.train.loop import train

    estimator, loss = METHODS[method]
    cfg = base_config(budget, seed, out / f"{env}-{method}-seed{seed}", env)
    if model_dir is not None:
        cfg = replace(cfg, model=replace(cfg.model, name=str(model_dir)))
    cfg = replace(cfg, algo=replace(cfg.algo, estimator=estimator, loss=loss))
    # The benchmark owns its per-method folders: a rerun replaces the previous run of the same method/seed.
    result = train(replace(cfg, overwrite=True))
    return [(int(r["iteration"]), float(r[f"eval/{metric}"])) for r in result.history if f"eval/{metric}" in r]


def aggregate(curves: dict[str, dict[int, list[tuple[int, float]]]]) -> dict[str, Any]:
    """Mean and Student-t 95% band of success per method and eval point."""
    from turngym.agents.stats import mean_ci

    out: dict[str, Any] = {}
    for method, by_seed in curves.items():
        iters = sorted({i for pts in by_seed.values() for i, _ in pts})
        rows = []
        for i in iters:
            vals = [s for pts in by_seed.values() for j, s in pts if j == i]
            m, lo, hi = mean_ci(vals)
            rows.append({"iteration": i, "mean": m, "ci_low": lo, "ci_high": hi, "n": len(vals)})
        out[method] = rows
    return out


def plot(agg: dict[str, Any], path: Path, title: str, metric: str) -> None:
    """Success rate vs iteration with 95% bands, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for method, rows in agg.items():
        x = [r["iteration"] for r in rows]
        ax.plot(x, [r["mean"] for r in rows], "o-", label=method)
        ax.fill_between(x, [r["ci_low"] for r in rows], [r["ci_high"] for r in rows], alpha=0.2)
    ax.set_xlabel("RL iteration")
    ax.set_ylabel("held-out " + ("chips per hand" if metric == "return_mean" else "success rate"))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Runs the comparison and writes JSON + PNG; prints the final table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--iterations", type=int, default=None)
    ap.add_argument("--env", default="toolqa", choices=["toolqa", "leduc"],
                    help="toolqa (SFT warm start, success rate) or leduc (from scratch, chips per hand)")
    ap.add_argument("--sft-steps", type=int, default=None, help="SFT steps of the ToolQA warm start")
    ap.add_argument("--quick", action="store_true", help="tiny budget (smoke check)")
    ap.add_argument("--out", type=Path, default=Path("runs/credit_assignment"))
    args = ap.parse_args(argv)
    budget = Budget(iterations=2, tasks_per_iter=2, group_size=2, eval_every=1, eval_episodes=4,
                    sft_episodes=4, sft_steps=4) if args.quick else Budget()
    if args.env == "leduc" and not args.quick:
        budget = Budget(iterations=30, tasks_per_iter=8, group_size=8, eval_every=10, eval_episodes=1000)
    if args.iterations:
        budget = replace(budget, iterations=args.iterations, eval_every=max(1, args.iterations // 3))
    if args.sft_steps:
        budget = replace(budget, sft_steps=args.sft_steps)
    methods = [m for m in args.methods if not (args.env == "leduc" and m == "igpo")]  # igpo needs gold answers
    metric = "return_mean" if args.env == "leduc" else "success_rate"
    args.out.mkdir(parents=True, exist_ok=True)
    curves: dict[str, dict[int, list[tuple[int, float]]]] = {m: {} for m in methods}
    started = time.perf_counter()
    for seed in args.seeds:
        model_dir = warm_start(budget, seed, args.out) if args.env == "toolqa" else None
        for method in methods:
            curves[method][seed] = run_method(method, budget, seed, model_dir, args.out, args.env, metric)
    agg = aggregate(curves)
    result = {"env": args.env, "metric": metric, "budget": budget.__dict__, "seeds": args.seeds, "runs": curves,
              "aggregate": agg, "seconds": time.perf_counter() - started}
    stem = f"credit_assignment_{args.env}"
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=2))
    title = (f"ToolQA d={budget.difficulty}" if args.env == "toolqa" else "Leduc vs random") + \
        f", tiny model, {len(args.seeds)} seeds (95% t-bands)"
    plot(agg, args.out / f"{stem}.png", title, metric)
    print(f"{args.env}: held-out {metric}")
    print(f"{'method':10s} {'start':>8s} {'final':>8s} {'95% CI':>18s}")
    for method, rows in agg.items():
        f = rows[-1]
        print(f"{method:10s} {rows[0]['mean']:8.3f} {f['mean']:8.3f}   [{f['ci_low']:.3f}, {f['ci_high']:.3f}]")
    print(f"wrote {args.out / (stem + '.json')} and {args.out / (stem + '.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
