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

Information-gain rewards (IGPO, Wang et al. 2025, arXiv:2510.14967, eq. 3) score the gold answer. Infos
never carry it (the acting policy reads infos, DESIGN section 3); the rollout asks each env for it through
the accessor that the env's registry entry declares (``EnvInfo.gold_answer``), called through the pool
(``pool.call(i, method)``), so it works the same on every executor and the trainer never names an env. As
the paper defines the score (DESIGN section 4, IGPO):

* only the answer's own tokens are scored: the text the env's ``EnvInfo.answer_template`` puts before the
  answer (``<answer>``) is appended to the context unscored, the text after it is not scored at all;
* the scoring context holds the whole history (every exchange so far), whatever ``history_turns`` keeps in
  the acting prompt, so evidence the window dropped still counts;
* a score is taken only before an acting turn: before the first one (``Episode.score0``) and after every
  turn the episode continues from. No scoring context holds the observation that ends an episode (the
  env's verdict, "Your answer 'X' is correct", would leak the outcome into the gain), and the last turn
  gets no gain: its score is the one before it (``r_T`` is the outcome alone, the paper's eq. 4).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from turngym.agents.llm.batch import TurnBatch, encode_keys
from turngym.agents.llm.policies.base import Generation, Message, PolicyInfraError, TextPolicy
from turngym.agents.llm.policies.lm import forward_logprobs
from turngym.envs.core.errors import ConfigError
from turngym.envs.core.registry import answer_affixes, env_info
from turngym.envs.pool import EnvPool

#: ``scorer(policy, prompts, prefixes, answers) -> scores``: the mean log-prob of each answer after its prompt
#: and unscored prefix (``score_answers`` for language-model policies).
AnswerScorer = Callable[[Any, Sequence[Sequence[Message]], Sequence[str], Sequence[str]], list[float]]


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
        score: Information-gain score after the turn (see ``collect``'s ``score_gold``), else NaN. The last
            turn of an episode carries the score before it (its gain is 0; see the module docstring).
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
    score_gold: bool = False,
    scorer: AnswerScorer | None = None,
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
        score_gold: For information-gain rewards: fetch every env's gold answer after its reset through the
            accessor its registry entry declares (``gold_answer_method``, called with ``pool.call``) and score
            it (``scorer``) before every acting turn, as the module docstring says: ``Episode.score0`` before
            the first turn, ``Turn.score`` after each turn the episode continues from. False: no answer is
            fetched, nothing is scored.
        scorer: Scores ``(prompt, prefix, answer)`` triples; default ``score_answers`` (a language model).
        prompt_length: Token count of a prompt, for ``max_context_tokens`` (needed when that is set).
        progress: Called with the number of env steps after each turn.

    Raises:
        ConfigError: ``score_gold`` is set but the pool's env declares no gold-answer accessor.
        ValueError: The pool is too small, or ``max_context_tokens`` is set without ``prompt_length``.
    """
    cfg = settings or RolloutSettings()
    total = len(seeds) * group_size
    if total > pool.num_envs:
        raise ValueError(f"collect: {len(seeds)} tasks x {group_size} episodes need {total} envs; "
                         f"the pool has {pool.num_envs}")
    if cfg.max_context_tokens is not None and prompt_length is None:
        raise ValueError("collect: max_context_tokens needs prompt_length (a token counter)")
    method = gold_answer_method(pool.env_id) if score_gold else None  # fail before any reset
    episodes = [Episode(episode_id=i, group_id=i // group_size, seed=int(seeds[i // group_size]))
                for i in range(total)]
    indices = list(range(total))
    resets = pool.reset(indices, [e.seed for e in episodes])
    first_obs = [str(obs) for obs, _ in resets]
    infos = [info for _, info in resets]
    exchanges: list[list[tuple[str, str]]] = [[] for _ in range(total)]
    gold: list[str | None] = [None] * total
    prefix = ""
    if method is not None:
        gold = [_gold_of(pool, i, method) for i in indices]
        # The text before the answer (``<answer>``) is context, never scored; the text after it is not scored.
        prefix, _ = answer_affixes(env_info(pool.env_id).answer_template, f"{pool.env_id} answer_template")

    def prompt_of(i: int) -> list[Message]:
        return format_prompt(first_obs[i], exchanges[i], cfg.history_turns, cfg.include_first)

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
        if method is not None:  # the score before this turn: s_{t-1}, from the whole history (IGPO)
            _score_before_turn(policy, scorer or score_answers, episodes, stepping, gold, prefix,
                               [full_history(first_obs[i], exchanges[i]) for i in stepping])
        admissible = None
        if cfg.constrain:
            admissible = [infos[i].get("admissible_actions") or None for i in stepping]
        try:
            generations = policy.generate(prompts, admissible=admissible)
        except PolicyInfraError as err:
            # DESIGN section 3: the policy's endpoint failed, not the agent. Those episodes end here, unscored
            # (``infra_error`` in their final info: the trainer and leaderboards leave them out); the rest go on.
            for k, reason in err.reasons.items():
                i = stepping[k]
                episodes[i].truncated = True
                episodes[i].final_info = {**infos[i], "infra_error": f"policy: {reason}"}
            kept = [k for k in range(len(stepping)) if k not in err.failures]
            stepping, prompts = [stepping[k] for k in kept], [prompts[k] for k in kept]
            generations = [err.partial[k] for k in kept]
        results = pool.step(stepping, [g.text for g in generations]) if stepping else []
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
        if progress is not None:
            progress(len(stepping))
        live = next_live
    for ep in episodes:
        if not ep.terminated and not ep.truncated:
            ep.truncated = True
        if ep.truncated and not ep.final_info:
            ep.final_info = infos[ep.episode_id]
        if method is not None and ep.turns:
            # No score after the last turn (its context would hold the verdict): the final answer turn gets
            # no information gain, only the outcome (IGPO eq. 4).
            ep.turns[-1].score = ep.turns[-2].score if len(ep.turns) > 1 else ep.score0
    return episodes


def full_history(first_observation: str, exchanges: Sequence[tuple[str, str]]) -> list[Message]:
    """The chat messages of every exchange so far (the first observation included): IGPO's scoring context."""
    return format_prompt(first_observation, exchanges, history_turns=len(exchanges), include_first=True)


def _score_before_turn(policy: TextPolicy, scorer: AnswerScorer, episodes: list[Episode], stepping: list[int],
                       gold: list[str | None], prefix: str, contexts: list[list[Message]]) -> None:
    """Scores the gold answer before the next turn of each stepping episode and stores it as ``s_{t-1}``.

    The score before turn 0 is ``Episode.score0``; the score before turn t > 0 is the score after turn t-1
    (``Turn.score`` of the episode's last turn so far). Episodes without a gold answer are left unscored.
    """
    rows = [(i, c) for i, c in zip(stepping, contexts, strict=True) if gold[i] is not None]
    if not rows:
        return
    scores = scorer(policy, [c for _, c in rows], [prefix] * len(rows), [gold[i] for i, _ in rows])  # type: ignore[misc]
    for (i, _), s in zip(rows, scores, strict=True):
        ep = episodes[i]
        if ep.turns:
            ep.turns[-1].score = float(s)
        else:
            ep.score0 = float(s)


def answer_tokens(policy: Any, messages: Sequence[Message], prefix: str, answer: str) -> tuple[list[int], int]:
    """Token ids of ``messages`` (as the policy prompts), then ``prefix``, then ``answer``; and where the answer starts.

    ``prefix + answer`` is tokenized as one text, as the policy would have written it; the answer's tokens are
    those after the prefix's own tokens when the tokenizer keeps that boundary, else the prefix and the
    answer are tokenized apart. The prompt is left-truncated so the whole sequence fits the model's context.

    Returns:
        ``(ids, start)``: ``ids[start:]`` are the answer's tokens (the only ones scored).
    """
    def encode(text: str) -> list[int]:
        return list(policy.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    pre = encode(prefix) if prefix else []
    joint = encode(prefix + answer)
    tail = joint[len(pre):] if joint[:len(pre)] == pre else encode(answer)
    prompt = list(policy.encode_prompt(messages))
    limit = getattr(getattr(policy.model, "config", None), "max_position_embeddings", None)
    if limit:
        prompt = prompt[max(0, len(prompt) + len(pre) + len(tail) - int(limit)):]
    return prompt + pre + tail, len(prompt) + len(pre)


def score_answers(policy: Any, prompts: Sequence[Sequence[Message]], prefixes: Sequence[str],
                  answers: Sequence[str], chunk: int = 16) -> list[float]:
    """Mean log-prob (temperature 1, teacher forced) of each answer's own tokens after its prompt and prefix.

    IGPO's ``s_t`` (Wang et al. 2025, eq. 2, in log space as DESIGN section 4 states it): the prefix (the
    env's answer tag) is context, not scored; nothing after the answer is scored. An empty answer scores 0.

    Args:
        policy: A language-model policy (``LMPolicy``: ``model``, ``tokenizer``, ``encode_prompt``).
        prompts: Chat messages to score after (the whole history).
        prefixes: Text appended to each prompt as the start of the reply, unscored.
        answers: The text scored.
        chunk: Rows per forward pass.
    """
    if not len(prompts) == len(prefixes) == len(answers):
        raise ValueError(f"score_answers: {len(prompts)} prompts, {len(prefixes)} prefixes, {len(answers)} answers")
    rows = [answer_tokens(policy, m, p, a) for m, p, a in zip(prompts, prefixes, answers, strict=True)]
    pad = policy.tokenizer.pad_token_id
    pad = int(pad if pad is not None else policy.tokenizer.eos_token_id or 0)
    device = next(policy.model.parameters()).device
    scores: list[float] = []
    with torch.no_grad():
        for begin in range(0, len(rows), chunk):
            part = rows[begin:begin + chunk]
            width = max(len(ids) for ids, _ in part)
            ids = torch.full((len(part), width), pad, dtype=torch.long)
            attn = torch.zeros((len(part), width), dtype=torch.long)
            scored = torch.zeros((len(part), width), dtype=torch.bool)
            for r, (seq, start) in enumerate(part):
                ids[r, :len(seq)] = torch.tensor(seq, dtype=torch.long)
                attn[r, :len(seq)] = 1
                scored[r, start:len(seq)] = True
            logp, _ = forward_logprobs(policy.model, ids.to(device), attn.to(device), temperature=1.0,
                                       score_mask=scored.to(device))[:2]
            for r, (seq, start) in enumerate(part):
                scores.append(float(logp[r, start:len(seq)].float().mean()) if len(seq) > start else 0.0)
    return scores


def gold_answer_method(env_id: str) -> str:
    """Name of the env method that returns ``env_id``'s current gold answer (``EnvInfo.gold_answer``).

    Args:
        env_id: A registered env id.

    Raises:
        ConfigError: The env's registry entry declares no gold-answer accessor, so information-gain
            rewards cannot be computed on it (the message lists the ids that declare one).
    """
    import turngym.envs  # noqa: F401  (registers the suite's ids; a pool may have made its envs elsewhere)
    from turngym.envs.core.registry import list_envs

    info = env_info(env_id)
    if info.gold_answer is None:
        with_answers = [e.id for e in list_envs() if e.gold_answer is not None]
        # No ``choices``: the id is not a typo of another one, so a "did you mean" would mislead.
        raise ConfigError("env_id", "an env whose registry entry declares a gold-answer accessor "
                          "(EnvInfo.gold_answer), which information-gain scoring needs: "
                          + (", ".join(with_answers) or "none is registered"), info.id)
    return info.gold_answer


def _gold_of(pool: EnvPool, index: int, method: str) -> str | None:
    """Env ``index``'s gold answer through its declared accessor; ``None`` when its task has none."""
    gold = pool.call(index, method)
    if gold is not None and not isinstance(gold, str):
        raise TypeError(f"{pool.env_id}: the gold-answer accessor {method}() returned {type(gold).__name__}, "
                        "expected str (or None when the task has no answer)")
    return gold


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
