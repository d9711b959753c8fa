"""``turngym train`` and ``turngym sft``: command lines generated from the config dataclasses by tyro.

Every ``TrainConfig`` field is a flag (nested ones dotted: ``--algo.estimator grpo``); ``--help`` prints
each field's docstring. ``turngym train`` with no flags runs the embedded default (README). A run folder
(``--out-dir``) holds one run: a second run there needs ``--resume`` or ``--overwrite``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import tyro

from turngym.agents.llm.train.checkpoint import ensure_writable_folder
from turngym.agents.llm.train.config import (
    EnvConfig,
    ModelConfig,
    RolloutConfig,
    SFTConfig,
    TrainConfig,
    validate_config,
)


def parse_train_args(args: Sequence[str]) -> TrainConfig:
    """A ``TrainConfig`` from command-line arguments (tyro; exits with status 2 on bad flags)."""
    return tyro.cli(TrainConfig, args=list(args), prog="turngym train",
                    description="Train a text policy with RL on a turngym env (defaults: tiny + GiGPO on Leduc).")


def train_main(args: Sequence[str]) -> int:
    """Runs ``turngym train`` and prints the before/after held-out evaluation."""
    cfg = parse_train_args(args)
    validate_config(cfg)  # before importing torch and transformers: a bad flag fails at once
    from turngym.agents.llm.train.loop import train

    result = train(cfg)
    b, a = result.eval_before, result.eval_after
    print(json.dumps({"out_dir": str(result.out_dir),
                      "eval_before": {k: round(v, 4) for k, v in b.items()},
                      "eval_after": {k: round(v, 4) for k, v in a.items()}}, indent=2))
    print(f"held-out return {b['return_mean']:+.3f} -> {a['return_mean']:+.3f}, "
          f"success {b['success_rate']:.3f} -> {a['success_rate']:.3f}; curves: {result.out_dir / 'curves.png'}")
    paired = result.eval_paired
    if paired:
        print(f"paired on the same {int(paired['n'])} held-out seeds (McNemar): {int(paired['gained'])} gained, "
              f"{int(paired['lost'])} lost, p = {paired['p_value']:.3g}")
    return 0


@dataclass
class SFTCommand:
    """Supervised fine-tuning of a policy on scripted-expert trajectories."""

    model: ModelConfig = field(default_factory=ModelConfig)
    env: EnvConfig = field(default_factory=lambda: EnvConfig(env_id="turngym/ToolQA-v0",
                                                             kwargs='{"difficulty": 1, "format": "plain"}'))
    rollout: RolloutConfig = field(default_factory=lambda: RolloutConfig(history_turns=2, include_first=True))
    sft: SFTConfig = field(default_factory=lambda: SFTConfig(episodes=200, steps=300))
    seed: int = 0
    """Seed of the model init, expert episodes and batches."""
    out_dir: str = "runs/sft"
    """Where the fine-tuned model and tokenizer are saved (``save_pretrained`` format)."""
    progress: bool = True
    """Show a progress bar."""


def sft_main(args: Sequence[str]) -> int:
    """Runs ``turngym sft``: expert episodes -> fine-tuning -> saved model + loss curve."""
    from turngym.agents.llm.policies.tiny import build_policy
    from turngym.agents.llm.train.sft import expert_examples, save_policy, supervised_finetune

    cmd = tyro.cli(SFTCommand, args=list(args), prog="turngym sft")
    ensure_writable_folder(cmd.out_dir, "out_dir")  # before fine-tuning, not after
    cmd.env.registry_entry()  # imports the user's env modules; a bad id fails before the model is built
    policy = build_policy(cmd.model.name, seed=cmd.seed, device=cmd.model.device)
    examples = expert_examples(cmd.env.env_id, cmd.sft.episodes, cmd.seed, cmd.env.train_kwargs(),
                               cmd.rollout.history_turns, cmd.rollout.include_first)
    losses = supervised_finetune(policy, examples, steps=cmd.sft.steps, batch_size=cmd.sft.batch_size,
                                 lr=cmd.sft.lr, seed=cmd.seed, prompt_weight=cmd.sft.prompt_weight,
                                 progress=cmd.progress)
    out = save_policy(policy, Path(cmd.out_dir))
    (out / "sft_losses.json").write_text(json.dumps(losses))
    print(f"{len(examples)} expert turns, loss {losses[0]:.3f} -> {losses[-1]:.3f}; saved to {out} "
          f"(train from it with --model.name {out})")
    return 0
