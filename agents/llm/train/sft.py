"""Supervised warm start on scripted-expert trajectories (``turngym sft``).

Expert turns are formatted with the rollout's own prompt format (``turngym.agents.llm.rollout.format_prompt``,
same history length), so the fine-tuned model sees at RL time exactly the kind of prompt it was taught
on. The expert of an env is the one its registry entry names (``EnvInfo.expert``, DESIGN §3 Registry): this
module knows no env by name, so a user's env with an expert factory gets a warm start like the suite's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from turngym.agents.llm.policies.base import Message
from turngym.agents.llm.policies.lm import LMPolicy, forward_logprobs
from turngym.agents.llm.rollout import format_prompt
from turngym.agents.llm.train.tensors import pad_pairs
from turngym.envs.core.errors import ConfigError
from turngym.envs.core.registry import env_info, list_envs, load_entry_point, make

Example = tuple[list[Message], str]
"""A prompt and the expert's reply."""

ExpertAct = Callable[[Any, Any, dict[str, Any]], str]
"""``act(env, observation, info) -> action text``, what an expert factory returns."""


def load_expert(env_id: str, seed: int, env_kwargs: dict[str, Any] | None = None) -> ExpertAct:
    """The scripted expert the registry entry of ``env_id`` names, built for these episodes.

    Args:
        env_id: A registered id whose entry has an ``expert`` (``"module:attr"`` of a factory).
        seed: Passed to the factory (e.g. the seed of a sampling expert's RNG).
        env_kwargs: The env's arguments, passed to the factory.

    Returns:
        ``act(env, observation, info) -> str``.

    Raises:
        ConfigError: The env has no expert (the message lists the ids that have one), the expert string
            does not import, or it does not name a callable.
        UnknownEnvError: ``env_id`` is not registered.
    """
    import turngym.envs  # noqa: F401  (registers the suite's ids and their experts)

    info = env_info(env_id)
    if info.expert is None:
        have = [e.id for e in list_envs() if e.expert is not None]
        raise ConfigError("env_id", "an env whose registry entry names a scripted expert (EnvInfo.expert): "
                          + (", ".join(have) or "none registered"), env_id, have)
    factory = load_entry_point(info.expert, what=f"{info.id} expert")
    if not callable(factory):
        raise ConfigError(f"{info.id} expert", "a factory(env_id, seed=..., env_kwargs=...)", info.expert)
    act = factory(info.id, seed=seed, env_kwargs=dict(env_kwargs or {}))
    if not callable(act):
        raise ConfigError(f"{info.id} expert", "a factory that returns act(env, observation, info)",
                          type(act).__name__)
    return act


def expert_seeds(seed: int, episodes: int) -> list[int]:
    """Reset seeds of the expert episodes: ``SeedSequence(seed)`` (as ``expert_trajectories`` draws them)."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(episodes, dtype=np.uint32)]


def expert_examples(env_id: str, episodes: int, seed: int, env_kwargs: dict[str, Any] | None = None,
                    history_turns: int = 0, include_first: bool = True) -> list[Example]:
    """Scripted-expert (prompt, reply) pairs for ``env_id``: its registered expert plays a real env.

    Episode ``k`` resets with ``expert_seeds(seed, episodes)[k]``; each turn the expert answers the current
    observation and the pair is formatted as the rollout formats prompts.

    Args:
        env_id: A registered id whose entry names an expert (``turngym list``; ``EnvInfo.expert``).
        episodes: Expert episodes to play.
        seed: Root seed of the episodes (reset seeds and the expert's own).
        env_kwargs: Env arguments (as for training; text observations).
        history_turns: Prompt history length (as for training).
        include_first: Keep the first observation in every prompt (as for training).

    Raises:
        ConfigError: When the registry names no scripted expert for ``env_id`` (or one that does not load), or
            the env's observations are not text.
    """
    kwargs = dict(env_kwargs or {})
    act = load_expert(env_id, seed, kwargs)
    env = make(env_id, **kwargs)
    out: list[Example] = []
    try:
        for reset_seed in expert_seeds(seed, episodes):
            obs, info = env.reset(seed=reset_seed)
            observations, actions, done = [obs], [], False
            while not done:
                if not isinstance(obs, str):
                    raise ConfigError("env_kwargs obs_mode", "text observations (expert examples are prompts)",
                                      type(obs).__name__)
                action = act(env, obs, info)
                obs, _, terminated, truncated, info = env.step(action)
                observations.append(obs)
                actions.append(action)
                done = terminated or truncated
            out.extend(_episode_examples(observations, actions, history_turns, include_first))
    finally:
        env.close()
    return out


def _episode_examples(observations: Sequence[str], actions: Sequence[str], history_turns: int,
                      include_first: bool) -> list[Example]:
    """Examples of one episode: ``observations[t]`` was answered by ``actions[t]``."""
    out = []
    for t, action in enumerate(actions):
        exchanges = [(actions[j], observations[j + 1]) for j in range(t)]
        out.append((format_prompt(observations[0], exchanges, history_turns, include_first), action))
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
    prompt_weight: float = 0.0,
    progress: bool = True,
    log: Callable[[int, dict[str, float]], None] | None = None,
) -> list[float]:
    """Fine-tunes ``policy.model`` to maximize the log-likelihood of the expert replies.

    The loss is the mean negative log-likelihood of each reply's tokens followed by the end-of-sequence
    token (so the model learns to stop). With ``prompt_weight`` > 0 the mean negative log-likelihood of the
    prompt tokens is added with that weight (what TRL calls ``completion_only_loss=False`` and Axolotl
    ``train_on_inputs``): the model also learns to predict the observations. For a randomly initialized model
    this is the pretraining a language model has and the tiny one lacks: one supervised token per reply is
    too sparse a signal to grow the attention that reads a grid (on Sokoban a reply-only warm start stays at
    chance, README), while every grid cell is a prediction target when the prompt is trained.

    Args:
        policy: The policy (its model is trained in place).
        examples: (prompt, reply) pairs.
        steps: Optimizer steps.
        batch_size: Examples per step.
        lr: AdamW learning rate.
        seed: Seed of the example sampling.
        prompt_weight: Weight of the prompt tokens' mean negative log-likelihood (0: replies only).
        progress: Show a progress bar.
        log: Called as ``log(step, {"loss": ...})`` after each step.

    Returns:
        The loss of every step.

    Raises:
        ValueError: Without examples.
    """
    if not examples:
        raise ValueError("supervised_finetune: no examples")
    if not math.isfinite(prompt_weight) or prompt_weight < 0:
        raise ValueError(f"supervised_finetune: prompt_weight must be a finite number >= 0, got {prompt_weight}")
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
        ids, attn, mask = ids.to(device), attn.to(device), mask.to(device)
        # Replies only: the LM head runs at the reply positions alone (score_mask). With the prompt: everywhere.
        scored = attn.bool() if prompt_weight > 0 else mask
        logp = forward_logprobs(policy.model, ids, attn, score_mask=scored)[0].float()
        loss = -(logp * mask).sum() / mask.sum().clamp(min=1)
        if prompt_weight > 0:
            prompt = attn.bool() & ~mask
            prompt[:, 0] = False  # the first token has no prediction
            loss = loss - prompt_weight * (logp * prompt).sum() / prompt.sum().clamp(min=1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        losses.append(float(loss.detach()))
        if log is not None:
            log(step, {"loss": losses[-1]})
    policy.model.eval()
    return losses
