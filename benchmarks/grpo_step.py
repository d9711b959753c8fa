"""One GRPO iteration, turngym's trainer vs TRL's ``GRPOTrainer``, same model and settings, one run.

The issue's GPU check: a 0.5B-parameter Qwen2-style model (random init from a config, bf16), 64 prompts,
G = 8 completions each, 128 new tokens, one optimizer step over the 512 completions, no KL, no
reference model. Both trainers get a fresh copy of the same initial weights, the same chat prompts (the
shipped tokenizer's template), the same reward function, the same micro-batch size and learning rate.
Each is timed on its second iteration (the first warms up kernels and allocators); samples/s =
completions per iteration / seconds per iteration (generation + reward + advantages + log-prob
recomputation + update).

Usage:
    python -m turngym.benchmarks.grpo_step                       # 0.5B on cuda (the issue's setting)
    python -m turngym.benchmarks.grpo_step --model tiny --prompts 4 --group 2 --new-tokens 8   # CPU smoke
Writes ``grpo_step.json`` under ``--out``.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

#: Qwen2-0.5B's architecture (vocab cut to the shipped tokenizer is NOT done: the full 151,936 rows are
#: kept so the embedding and LM-head cost match the real model).
QWEN2_05B = dict(hidden_size=896, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
                 intermediate_size=4864, vocab_size=151936, max_position_embeddings=4096,
                 tie_word_embeddings=True, rope_theta=1_000_000.0)


def build_model(name: str, seed: int, device: str) -> tuple[Any, Any]:
    """A randomly initialized model (``qwen2-0.5b`` or ``tiny``) and the shipped tokenizer."""
    from turngym.agents.llm.policies.tiny import load_tiny_tokenizer, make_tiny_model

    tok = load_tiny_tokenizer()
    if name == "tiny":
        model = make_tiny_model(seed=seed)
    elif name == "qwen2-0.5b":
        model = make_tiny_model(seed=seed, **QWEN2_05B)
    else:
        raise ValueError(f"--model: expected 'qwen2-0.5b' or 'tiny', got {name!r}")
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    return model.to(device=device, dtype=dtype), tok


def make_prompts(n: int, seed: int) -> list[list[dict[str, str]]]:
    """``n`` short chat prompts (arithmetic questions, ~20 tokens each)."""
    rng = np.random.default_rng(seed)
    return [[{"role": "user", "content": f"What is {a} plus {b}? Think, then answer."}]
            for a, b in rng.integers(10, 999, size=(n, 2))]


def reward_fn(texts: list[str]) -> list[float]:
    """A cheap deterministic reward (fraction of distinct characters), the same for both trainers."""
    return [len(set(t)) / max(len(t), 1) for t in texts]


def run_turngym(model: Any, tok: Any, prompts: list, group: int, new_tokens: int, micro: int, lr: float,
                device: str, iterations: int = 2) -> dict[str, float]:
    """Times GRPO iterations of turngym's pipeline (generate -> grpo -> token batch -> PPO update)."""
    from turngym.agents.llm.batch import TurnBatch
    from turngym.agents.llm.estimators import estimate
    from turngym.agents.llm.policies.lm import LMPolicy
    from turngym.agents.llm.rollout import Episode, Turn
    from turngym.agents.llm.train.config import AlgoConfig, OptimConfig
    from turngym.agents.llm.train.tensors import build_token_batch
    from turngym.agents.llm.train.update import UpdateInputs, build_loss, ppo_update

    policy = LMPolicy(model, tok, temperature=1.0, max_new_tokens=new_tokens, device=device, seed=0,
                      batch_size=len(prompts) * group, max_batch_tokens=10**9)
    loss_fn = build_loss(AlgoConfig(estimator="grpo", dual_clip=None), with_value=False)
    opt = torch.optim.AdamW(policy.model.parameters(), lr=lr)
    n = len(prompts) * group
    optim = OptimConfig(minibatch_size=n, micro_batch_size=micro)
    gen = torch.Generator().manual_seed(0)
    times, lengths = [], []
    for _ in range(iterations):
        _sync(device)
        t0 = time.perf_counter()
        policy.model.eval()
        gens = policy.generate([p for p in prompts for _ in range(group)])
        rewards = reward_fn([g.text for g in gens])
        episodes = [Episode(episode_id=i, group_id=i // group, seed=0,
                            turns=[Turn(turn=0, state_key="", prompt=[], generation=g, reward=r)], terminated=True)
                    for i, (g, r) in enumerate(zip(gens, rewards, strict=True))]
        batch = TurnBatch(episode_id=np.arange(n), group_id=np.arange(n) // group, turn=np.zeros(n, np.int64),
                          reward=np.asarray(rewards), terminated=np.ones(n, bool))
        adv = estimate("grpo", batch)
        tb = build_token_batch(episodes, tok.pad_token_id)
        ppo_update(policy.model, tb, UpdateInputs(torch.as_tensor(adv, dtype=torch.float32)), loss_fn, opt,
                   optim, gen, temperature=1.0)
        _sync(device)
        times.append(time.perf_counter() - t0)
        lengths.append(float(np.mean([len(g.completion_ids) for g in gens])))
    return {"seconds": times[-1], "samples_per_s": n / times[-1], "completion_tokens_mean": lengths[-1],
            "all_seconds": times}


def run_trl(model: Any, tok: Any, prompts: list, group: int, new_tokens: int, micro: int, lr: float,
            device: str, out: Path, iterations: int = 2) -> dict[str, float]:
    """Times GRPO iterations of TRL's ``GRPOTrainer`` (one optimizer step per generation batch)."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    n = len(prompts) * group
    times: list[float] = []
    lengths: list[float] = []

    class Timer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):  # noqa: ANN001, D102
            _sync(device)
            self.t0 = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):  # noqa: ANN001, D102
            _sync(device)
            times.append(time.perf_counter() - self.t0)

        def on_log(self, args, state, control, logs=None, **kw):  # noqa: ANN001, D102
            if logs and "completions/mean_length" in logs:
                lengths.append(float(logs["completions/mean_length"]))

    def reward(completions: list, **kw: Any) -> list[float]:
        return reward_fn([c[-1]["content"] if isinstance(c, list) else str(c) for c in completions])

    cfg = GRPOConfig(
        output_dir=str(out / "trl"), per_device_train_batch_size=micro, gradient_accumulation_steps=n // micro,
        num_generations=group, max_completion_length=new_tokens, temperature=1.0, learning_rate=lr, beta=0.0,
        num_iterations=1, max_steps=iterations, save_strategy="no", report_to="none", logging_steps=1,
        bf16=device.startswith("cuda"), use_cpu=not device.startswith("cuda"), seed=0,
        loss_type="grpo", scale_rewards="group", disable_tqdm=True,
    )
    trainer = GRPOTrainer(model=model, reward_funcs=reward, args=cfg, processing_class=tok,
                          train_dataset=Dataset.from_dict({"prompt": prompts * iterations}),
                          callbacks=[Timer()])
    trainer.train()
    return {"seconds": times[-1], "samples_per_s": n / times[-1],
            "completion_tokens_mean": lengths[-1] if lengths else float("nan"), "all_seconds": times}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main(argv: list[str] | None = None) -> int:
    """Runs both trainers and prints samples/s and the ratio."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="qwen2-0.5b", choices=["qwen2-0.5b", "tiny"])
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--micro-batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-6)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", type=Path, default=Path("runs/grpo_step"))
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    model, tok = build_model(args.model, 0, args.device)
    prompts = make_prompts(args.prompts, 0)
    micro = min(args.micro_batch, args.prompts * args.group)
    ours = run_turngym(copy.deepcopy(model), tok, prompts, args.group, args.new_tokens, micro, args.lr, args.device)
    theirs = run_trl(copy.deepcopy(model), tok, prompts, args.group, args.new_tokens, micro, args.lr, args.device,
                     args.out)
    result = {"settings": vars(args) | {"out": str(args.out)}, "params": sum(p.numel() for p in model.parameters()),
              "device_name": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
              "turngym": ours, "trl": theirs, "ratio": ours["samples_per_s"] / theirs["samples_per_s"]}
    (args.out / "grpo_step.json").write_text(json.dumps(result, indent=2))
    print(f"{'trainer':10s} {'s/iter':>8s} {'samples/s':>10s} {'tokens/completion':>18s}")
    for name, r in (("turngym", ours), ("TRL", theirs)):
        print(f"{name:10s} {r['seconds']:8.2f} {r['samples_per_s']:10.1f} {r['completion_tokens_mean']:18.1f}")
    print(f"ratio turngym/TRL: {result['ratio']:.2f}x  ({result['params'] / 1e6:.0f}M params, {result['device_name']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
