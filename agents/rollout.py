"""Multi-turn rollouts: N tasks x G episodes, batched generation across live episodes (DESIGN section 4).

The G episodes of a group reset with the same seed, so they face the same task (tool use: the same
question; games: the same deal and opponent stream) and differ only where the policy's choices differ;
this is what group-relative estimators (GRPO, GiGPO, ...) compare. Every live episode's next prompt goes
into one ``policy.generate`` call per turn; the envs are stepped by an ``EnvPool`` (in-process, subprocess
or Ray), so the same code serves every executor.

Prompts are chat messages: the first observation (the task statement) as a user message, then the
last ``history_turns`` exchanges (assistant action, user observation), then the current observation.
Budgets end an episode as ``truncated``: ``max_turns`` turns, or a prompt longer than
``max_context_tokens`` tokens (the episode ends before that turn is generated).

Information-gain rewards (IGPO) score the gold answer. Infos never carry it (the acting policy reads
infos, DESIGN section 3); the rollout asks each env for it through the accessor that the env's registry
entry declares (``EnvInfo.gold_answer``), called through the pool (``pool.call(i, method)``), so it works
the same on every executor and the trainer never names an env.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from turngym.agents.batch import TurnBatch, encode_keys
from turngym.agents.envpool import EnvPool
from turngym.agents.policies.base import Generation, Message, TextPolicy
from turngym.envs.core.errors import ConfigError


@dataclass
class Turn:
    """One policy turn: what it saw, what it said, what it got.

    Attributes:
        turn: 0-based index within the episode.
        state_key: ``info["state_key"]`` of the observation the action answered ("" when absent).
        prompt: The chat messages the policy saw.
        generation: The sampled completion (token ids and log-probs included).
        reward: Reward of the env step.
        action_valid: ``info["action_valid"]`` after the step (False when the env rejected the action).
        score: Information-gain score after the turn (see ``collect``'s ``answer_of``), else NaN.
    """

    turn: int
    state_key: str
    prompt: list[Message]
    generation: Generation
    reward: float = 0.0
    action_valid: bool = True
    score: float = float("nan")


@dataclass
class Episode:
    """One episode of a rollout.

    Attributes:
        episode_id: Index of the episode in its rollout.
        group_id: Task group (the G episodes of one task share it).
        seed: Reset seed (equal within a group).
        turns: The policy's turns, in order.
        terminated: The env reached a terminal state.
        truncated: Cut by a budget (env time limit, ``max_turns`` or the context budget).
        success: ``info["success"]`` at the end (False when absent).
        score0: Information-gain score before the first turn (NaN when not scored).
        final_info: The info dict of the last step.
    """

    episode_id: int
    group_id: int
    seed: int
    turns: list[Turn] = field(default_factory=list)
    terminated: bool = False
    truncated: bool = False
    success: bool = False
    score0: float = float("nan")
    final_info: dict[str, Any] = field(default_factory=dict)

    @property
    def infra_error(self) -> str | None:
        """``info["infra_error"]`` of the last step, or None.

        Set when the env's outside world failed: the episode is not scored (DESIGN §3), and trainers and
        evaluations leave it out.
        """
        error = self.final_info.get("infra_error")
        return None if error is None else str(error)

    @property
    def total_reward(self) -> float:
        """Undiscounted sum of the turn rewards."""
        return float(sum(t.reward for t in self.turns))


@dataclass
class RolloutSettings:
    """How episodes are played out.

    Attributes:
        history_turns: Past exchanges (action, observation) kept in the prompt besides the first
            observation and the current one.
        max_turns: Turn budget per episode (the env's own limit still applies); the episode ends as
            truncated after this many turns.
        max_context_tokens: Prompt budget in tokens; an episode whose next prompt is longer ends as
            truncated before that turn. ``None``: no budget.
        constrain: Constrain decoding to ``info["admissible_actions"]`` when the env lists them.
        include_first: Keep the first observation in every prompt (see ``format_prompt``).
    """

    history_turns: int = 2
    max_turns: int = 16
    max_context_tokens: int | None = 2048
    constrain: bool = False
    include_first: bool = True


def format_prompt(first_observation: str, exchanges: Sequence[tuple[str, str]], history_turns: int,
                  include_first: bool = True) -> list[Message]:
    """Chat messages for the next turn.

    Args:
        first_observation: The reset observation (the task statement).
        exchanges: ``(action, next_observation)`` of every turn so far, oldest first; the last one's
            observation is the current observation.
        history_turns: How many exchanges before the current one to keep (0: only the current observation,
            plus the first one when ``include_first``).
        include_first: Always keep the first observation (tool use: it states the task). Envs whose
            observations carry the whole state (card games) can leave it out to halve the prompt.
    """
    observations = [str(first_observation)] + [str(o) for _, o in exchanges]
    actions = [a for a, _ in exchanges]
    t = len(actions)
    start = max(0, t - history_turns)  # index of the oldest observation kept
    messages: list[Message] = []
    if include_first and start > 0:
        # Older exchanges are dropped; say so, so the model is not misled into thinking nothing happened.
        note = f"\n\n[{start - 1} earlier turn(s) omitted]" if start > 1 else ""
        messages.append({"role": "user", "content": observations[0] + note})
        messages.append({"role": "assistant", "content": actions[start - 1]})
    for j in range(start, t):
        messages.append({"role": "user", "content": observations[j]})
        messages.append({"role": "assistant", "content": actions[j]})
    messages.append({"role": "user", "content": observations[t]})
    return messages


def collect(
    pool: EnvPool,
    policy: TextPolicy,
    seeds: Sequence[int],
    group_size: int,
    settings: RolloutSettings | None = None,
    *,
    answer_of: Callable[[str], str] | None = None,
    prompt_length: Callable[[list[Message]], int] | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[Episode]:
    """Plays ``len(seeds) * group_size`` episodes to the end and returns them.

    Args:
        pool: Env pool with at least ``len(seeds) * group_size`` envs.
        policy: The policy; one ``generate`` call per turn over every live episode.
        seeds: One reset seed per task group.
        group_size: G, episodes per task.
        settings: Budgets and prompt formatting.
        answer_of: For information-gain rewards: renders an env's gold answer as the policy would write
            it (``"Paris"`` -> ``"<answer>Paris</answer>"``). When given, every env's answer is fetched
            after its reset through the accessor its registry entry declares (``gold_answer_method``,
            called with ``pool.call``), and the policy scores the rendered answer (``policy.score``)
            before the first turn and after every turn. ``None``: no answer is fetched, no scoring.
        prompt_length: Token count of a prompt, for ``max_context_tokens`` (needed when that is set).
        progress: Called with the number of env steps after each turn.

    Raises:
        ConfigError: ``answer_of`` is given but the pool's env declares no gold-answer accessor.
        ValueError: The pool is too small, or ``max_context_tokens`` is set without ``prompt_length``.
    """
    cfg = settings or RolloutSettings()
    total = len(seeds) * group_size
    if total > pool.num_envs:
        raise ValueError(f"collect: {len(seeds)} tasks x {group_size} episodes need {total} envs; "
                         f"the pool has {pool.num_envs}")
    if cfg.max_context_tokens is not None and prompt_length is None:
        raise ValueError("collect: max_context_tokens needs prompt_length (a token counter)")
    method = gold_answer_method(pool.env_id) if answer_of is not None else None  # fail before any reset
    episodes = [Episode(episode_id=i, group_id=i // group_size, seed=int(seeds[i // group_size]))
                for i in range(total)]
    indices = list(range(total))
    resets = pool.reset(indices, [e.seed for e in episodes])
    first_obs = [str(obs) for obs, _ in resets]
    infos = [info for _, info in resets]
    exchanges: list[list[tuple[str, str]]] = [[] for _ in range(total)]
    gold: list[str | None] = [None] * total
    if answer_of is not None and method is not None:  # both or neither (``method`` is for the type checker)
        gold = [_rendered_gold(pool, i, method, answer_of) for i in indices]

    def prompt_of(i: int) -> list[Message]:
        return format_prompt(first_obs[i], exchanges[i], cfg.history_turns, cfg.include_first)

    if answer_of is not None:
        _score(policy, [(i, prompt_of(i)) for i in indices], gold, lambda i, s: setattr(episodes[i], "score0", s))
    live = indices
    while live:
        prompts, stepping = [], []
        for i in live:
            prompt = prompt_of(i)
            if len(episodes[i].turns) >= cfg.max_turns or (
                    cfg.max_context_tokens is not None and prompt_length(prompt) > cfg.max_context_tokens):
                episodes[i].truncated = True  # a budget ends the episode (DESIGN: budgets end as truncated)
                continue
            prompts.append(prompt)
            stepping.append(i)
        if not stepping:
            break
        admissible = None
        if cfg.constrain:
            admissible = [infos[i].get("admissible_actions") or None for i in stepping]
        generations = policy.generate(prompts, admissible=admissible)
        results = pool.step(stepping, [g.text for g in generations])
        next_live = []
        for i, prompt, gen, (obs, reward, terminated, truncated, info) in zip(
                stepping, prompts, generations, results, strict=True):
            ep = episodes[i]
            ep.turns.append(Turn(turn=len(ep.turns), state_key=str(infos[i].get("state_key", "")),
                                 prompt=prompt, generation=gen, reward=float(reward),
                                 action_valid=bool(info.get("action_valid", True))))
            exchanges[i].append((gen.text, str(obs)))
            infos[i] = info
            if terminated or truncated:
                ep.terminated, ep.truncated = bool(terminated), bool(truncated) and not terminated
                ep.success, ep.final_info = bool(info.get("success", False)), info
            else:
                next_live.append(i)
        if answer_of is not None:
            _score(policy, [(i, prompt_of(i)) for i in stepping], gold,
                   lambda i, s: setattr(episodes[i].turns[-1], "score", s))
        if progress is not None:
            progress(len(stepping))
        live = next_live
    for ep in episodes:
        if not ep.terminated and not ep.truncated:
            ep.truncated = True
        if ep.truncated and not ep.final_info:
            ep.final_info = infos[ep.episode_id]
    return episodes


def gold_answer_method(env_id: str) -> str:
    """Name of the env method that returns ``env_id``'s current gold answer (``EnvInfo.gold_answer``).

    Args:
        env_id: A registered env id.

    Raises:
        ConfigError: The env's registry entry declares no gold-answer accessor, so information-gain
            rewards cannot be computed on it (the message lists the ids that declare one).
    """
    import turngym.envs  # noqa: F401  (registers the suite's ids; a pool may have made its envs elsewhere)
    from turngym.envs.core.registry import env_info, list_envs

    info = env_info(env_id)
    if info.gold_answer is None:
        with_answers = [e.id for e in list_envs() if e.gold_answer is not None]
        # No ``choices``: the id is not a typo of another one, so a "did you mean" would mislead.
        raise ConfigError("env_id", "an env whose registry entry declares a gold-answer accessor "
                          "(EnvInfo.gold_answer), which information-gain scoring needs: "
                          + (", ".join(with_answers) or "none is registered"), info.id)
    return info.gold_answer


def _rendered_gold(pool: EnvPool, index: int, method: str, render: Callable[[str], str]) -> str | None:
    """Env ``index``'s gold answer through its declared accessor, rendered; ``None`` when it has none."""
    gold = pool.call(index, method)
    if gold is None:
        return None
    if not isinstance(gold, str):
        raise TypeError(f"{pool.env_id}: the gold-answer accessor {method}() returned {type(gold).__name__}, "
                        "expected str (or None when the task has no answer)")
    return render(gold)


def _score(policy: TextPolicy, items: list[tuple[int, list[Message]]], gold: list[str | None],
           put: Callable[[int, float], None]) -> None:
    """Scores the gold answer after each prompt (teacher forced) and stores it with ``put``."""
    items = [(i, p) for i, p in items if gold[i] is not None]
    if not items:
        return
    scores = policy.score([p for _, p in items], [gold[i] for i, _ in items])  # type: ignore[misc]
    for (i, _), s in zip(items, scores, strict=True):
        put(i, float(s))


def to_turn_batch(episodes: Sequence[Episode]) -> TurnBatch:
    """The estimators' view of a rollout: one row per turn, episodes in order (DESIGN section 4 Batch).

    The ``outcome`` column holds each episode's outcome reward (its last turn's reward, i.e. the task
    reward of a tool-use answer or a game's payoff) on every row; ``score`` holds the information-gain
    scores when they were computed (NaN otherwise).
    """
    rows = [(ep, t) for ep in episodes for t in ep.turns]
    if not rows:
        return TurnBatch(episode_id=np.zeros(0, np.int64), group_id=np.zeros(0, np.int64),
                         turn=np.zeros(0, np.int64), reward=np.zeros(0))
    last = np.array([t.turn == len(ep.turns) - 1 for ep, t in rows])
    outcome = np.array([ep.turns[-1].reward for ep, _ in rows], dtype=np.float64)
    return TurnBatch(
        episode_id=np.array([ep.episode_id for ep, _ in rows], dtype=np.int64),
        group_id=np.array([ep.group_id for ep, _ in rows], dtype=np.int64),
        turn=np.array([t.turn for _, t in rows], dtype=np.int64),
        reward=np.array([t.reward for _, t in rows], dtype=np.float64),
        agent_id=np.zeros(len(rows), dtype=np.int64),
        state_key=encode_keys([t.state_key or f"\0row{k}" for k, (_, t) in enumerate(rows)]),
        terminated=last & np.array([ep.terminated for ep, _ in rows]),
        truncated=last & np.array([ep.truncated for ep, _ in rows]),
        score=np.array([t.score for _, t in rows], dtype=np.float64),
        outcome=outcome,
    )


def score0_column(episodes: Sequence[Episode]) -> np.ndarray:
    """Per-row ``s_{-1}`` (the score before the first turn), for the ``igpo`` estimator's ``score0``."""
    return np.array([ep.score0 for ep in episodes for _ in ep.turns], dtype=np.float64)


def rollout_metrics(episodes: Sequence[Episode]) -> dict[str, float]:
    """Summary numbers of a rollout (``rollout/`` namespace in the logs).

    ``infra_error_frac`` counts the episodes whose outside world failed; every other number is over the
    scored episodes only.
    """
    if not episodes:
        return {}
    infra = float(np.mean([ep.infra_error is not None for ep in episodes]))
    episodes = [ep for ep in episodes if ep.infra_error is None]  # unscored: the outside world failed
    if not episodes:
        return {"infra_error_frac": infra}
    turns = [len(ep.turns) for ep in episodes]
    gens = [t.generation for ep in episodes for t in ep.turns]
    return {
        "infra_error_frac": infra,
        "success_rate": float(np.mean([ep.success for ep in episodes])),
        "return_mean": float(np.mean([ep.total_reward for ep in episodes])),
        "turns_mean": float(np.mean(turns)),
        "truncated_frac": float(np.mean([ep.truncated for ep in episodes])),
        "invalid_action_frac": float(np.mean([not t.action_valid for ep in episodes for t in ep.turns]))
        if gens else 0.0,
        "completion_tokens_mean": float(np.mean([len(g.completion_ids) for g in gens])) if gens else 0.0,
        # Monte-Carlo estimate of the per-token entropy of the sampling policy: E[-log p(sampled token)].
        "entropy_estimate": float(-np.mean([lp for g in gens for lp in g.logprobs]))
        if any(g.logprobs for g in gens) else 0.0,
        "prompt_tokens_mean": float(np.mean([len(g.prompt_ids) for g in gens])) if gens else 0.0,
    }
