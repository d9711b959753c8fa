"""Supervised warm start on scripted-expert trajectories (``turngym sft``).

Expert turns are formatted with the rollout's own prompt format (``turngym.agents.rollout.format_prompt``,
same history length), so the fine-tuned model sees at RL time exactly the kind of prompt it was taught
on. Sources: the tool-use families' scripted experts (``turngym.envs.tooluse.trajectories``) and, for
two-player zero-sum card games, a CFR+ policy solved through the env API.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from turngym.agents.policies.base import Message
from turngym.agents.policies.lm import LMPolicy, forward_logprobs
from turngym.agents.rollout import format_prompt
from turngym.agents.train.tensors import pad_pairs
from turngym.envs.core.errors import ConfigError
from turngym.envs.core.registry import make

Example = tuple[list[Message], str]
"""A prompt and the expert's reply."""

_TOOLUSE = ("turngym/ToolQA-v0", "turngym/ToolMath-v0", "turngym/ToolSQL-v0")
_CFR_GAMES = ("turngym/KuhnPoker-v0", "turngym/LeducHoldem-v0")


def expert_examples(env_id: str, episodes: int, seed: int, env_kwargs: dict[str, Any] | None = None,
                    history_turns: int = 0, include_first: bool = True) -> list[Example]:
    """Scripted-expert (prompt, reply) pairs for ``env_id``.

    Args:
        env_id: A tool-use id (scripted expert) or a card game (CFR+ expert for the learner's seat).
        episodes: Expert episodes to play.
        seed: Root seed of the episodes.
        env_kwargs: Env arguments (as for training).
        history_turns: Prompt history length (as for training).
        include_first: Keep the first observation in every prompt (as for training).

    Raises:
        ConfigError: When the suite has no scripted expert for ``env_id``.
    """
    kwargs = dict(env_kwargs or {})
    if env_id in _TOOLUSE:
        from turngym.envs.tooluse.trajectories import expert_trajectories

        return [ex for ep in expert_trajectories(env_id, episodes, seed, **kwargs)
                for ex in _episode_examples([t["observation"] for t in ep["turns"]] + [""],
                                            [t["action"] for t in ep["turns"]], history_turns, include_first)]
    if env_id in _CFR_GAMES:
        return _cfr_examples(env_id, episodes, seed, kwargs, history_turns, include_first)
    raise ConfigError("env_id", "an env with a scripted expert: " + ", ".join(_TOOLUSE + _CFR_GAMES), env_id,
                      _TOOLUSE + _CFR_GAMES)


def _episode_examples(observations: Sequence[str], actions: Sequence[str], history_turns: int,
                      include_first: bool) -> list[Example]:
    """Examples of one episode: ``observations[t]`` was answered by ``actions[t]``."""
    out = []
    for t, action in enumerate(actions):
        exchanges = [(actions[j], observations[j + 1]) for j in range(t)]
        out.append((format_prompt(observations[0], exchanges, history_turns, include_first), action))
    return out


def _cfr_examples(env_id: str, episodes: int, seed: int, kwargs: dict[str, Any],
                  history_turns: int, include_first: bool) -> list[Example]:
    from turngym.agents.cfr import solve

    policy = solve(env_id, 300, progress=False, seed=seed).policy
    rng = np.random.default_rng(seed)
    env = make(env_id, **{**kwargs, "obs_mode": "text"})
    out: list[Example] = []
    for k in range(episodes):
        obs, info = env.reset(seed=int(seed * 1_000_003 + k))
        observations, actions, done = [str(obs)], [], False
        while not done:
            action_id = policy.act([obs], [info], rng=rng)[0]
            word = info["admissible_actions"][list(info["legal_action_ids"]).index(action_id)]
            obs, _, terminated, truncated, info = env.step(word)
            observations.append(str(obs))
            actions.append(word)
            done = terminated or truncated
        out.extend(_episode_examples(observations, actions, history_turns, include_first))
    env.close()
    return out


def save_policy(policy: LMPolicy, out_dir: Path) -> Path:
    """Saves the policy's model and tokenizer (``save_pretrained``) so ``--model.name out_dir`` loads them."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    policy.model.save_pretrained(out_dir)
    policy.tokenizer.save_pretrained(out_dir)
    return out_dir


def supervised_finetune(
    policy: LMPolicy,
    examples: Sequence[Example],
    *,
    steps: int,
    batch_size: int = 16,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
    log: Callable[[int, dict[str, float]], None] | None = None,
) -> list[float]:
    """Fine-tunes ``policy.model`` to maximize the log-likelihood of the expert replies.

    The loss is the mean negative log-likelihood of each reply's tokens followed by the end-of-sequence
    token (so the model learns to stop); prompt tokens are not trained.

    Args:
        policy: The policy (its model is trained in place).
        examples: (prompt, reply) pairs.
        steps: Optimizer steps.
        batch_size: Examples per step.
        lr: AdamW learning rate.
        seed: Seed of the example sampling.
        progress: Show a progress bar.
        log: Called as ``log(step, {"loss": ...})`` after each step.

    Returns:
        The loss of every step.

    Raises:
        ValueError: Without examples.
    """
    if not examples:
        raise ValueError("supervised_finetune: no examples")
    tok = policy.tokenizer
    eos = tok.eos_token_id
    encoded = []
    for prompt, reply in examples:
        p = policy.encode_prompt(prompt)
        c = tok(reply, add_special_tokens=False)["input_ids"] + ([eos] if eos is not None else [])
        encoded.append((p, c))
    params = [p for p in policy.model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr)
    gen = np.random.default_rng(seed)
    device = next(policy.model.parameters()).device
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    losses: list[float] = []
    policy.model.train()
    for step in tqdm(range(steps), desc="sft", disable=not progress, leave=False):
        pick = gen.integers(len(encoded), size=min(batch_size, len(encoded)))
        ids, attn, mask = pad_pairs([encoded[i] for i in pick], pad)
        logp = forward_logprobs(policy.model, ids.to(device), attn.to(device))[0]
        loss = -(logp.float() * mask.to(device)).sum() / mask.sum().clamp(min=1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        losses.append(float(loss.detach()))
        if log is not None:
            log(step, {"loss": losses[-1]})
    policy.model.eval()
    return losses
