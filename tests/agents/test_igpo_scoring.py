"""IGPO scores the gold answer as the paper defines it (issue 13, item 7), with the real tiny model on ToolQA.

Wang et al. 2025 (arXiv:2510.14967): only the answer's own tokens are scored, with the whole history, and the
final answer turn gets the outcome reward, no information gain. On the code before this change every test
here fails: the rollout scored ``<answer>X</answer>`` whole (tags included, 9 tokens for a 3-token answer),
with the acting prompt's ``history_turns`` window (history_turns=0 dropped every earlier observation), and
scored once more after the terminal step, with the env's verdict ("Your answer 'wrong' is not correct") in
the context, so the last turn's gain measured the verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import torch

import turngym.envs as te
from turngym.agents.llm.estimators import info_gain
from turngym.agents.llm.policies.base import Generation, Message
from turngym.agents.llm.policies.lm import forward_logprobs
from turngym.agents.llm.policies.tiny import build_policy
from turngym.agents.llm.rollout import (
    RolloutSettings,
    answer_tokens,
    collect,
    score0_column,
    score_answers,
    to_turn_batch,
)
from turngym.envs.core.errors import ConfigError
from turngym.envs.core.registry import EnvInfo, answer_affixes
from turngym.envs.pool import make_pool

ENV = "turngym/ToolQA-v0"
KWARGS = {"difficulty": 1, "format": "plain", "max_turns": 6}
#: A wrong action, a tool call, then a wrong final answer: three turns, the last one terminal with a verdict.
SCRIPT = ("hello there", 'search(query="labs")', "<answer>wrong</answer>")


@pytest.fixture(scope="module")
def tiny():
    return build_policy("tiny", seed=0, max_new_tokens=6)


class ScriptedPolicy:
    """Acts the same scripted text in every live episode, one script line per turn (the acting side only)."""

    def __init__(self, script: Sequence[str]):
        self.script, self.calls = list(script), 0

    def generate(self, prompts: Sequence[Sequence[Message]], admissible: Any = None) -> list[Generation]:
        text = self.script[self.calls]
        self.calls += 1
        return [Generation(text=text, prompt_ids=[1], completion_ids=[2], logprobs=[0.0]) for _ in prompts]


class Recorder:
    """The real scorer on the tiny model, recording every (context, prefix, answer) it scored."""

    def __init__(self, model_policy: Any):
        self.model_policy = model_policy
        self.calls: list[list[tuple[list[Message], str, str]]] = []

    def __call__(self, policy: Any, prompts: Sequence[Sequence[Message]], prefixes: Sequence[str],
                 answers: Sequence[str]) -> list[float]:
        self.calls.append([(list(p), x, a) for p, x, a in zip(prompts, prefixes, answers, strict=True)])
        return score_answers(self.model_policy, prompts, prefixes, answers)


@pytest.fixture(scope="module")
def scripted_rollout(tiny):
    """Two groups x 2 episodes of SCRIPT on ToolQA, acting prompts with no history (history_turns=0)."""
    recorder = Recorder(tiny)
    settings = RolloutSettings(history_turns=0, include_first=False, max_turns=5, max_context_tokens=None)
    with make_pool(ENV, 4, env_kwargs=KWARGS) as pool:
        episodes = collect(pool, ScriptedPolicy(SCRIPT), [3, 8], 2, settings, score_gold=True, scorer=recorder)
    return episodes, recorder


# ------------------------------------------------------------------------------ (a) the answer's tokens only
def test_tool_use_entries_declare_the_answer_template():
    for env_id in [e.id for e in te.list_envs("tooluse")]:
        assert answer_affixes(te.env_info(env_id).answer_template) == ("<answer>", "</answer>")
    assert answer_affixes(None) == ("", "")
    assert answer_affixes(r"\boxed{{{}}}") == (r"\boxed{", "}")
    with pytest.raises(ConfigError, match="exactly one"):
        EnvInfo("me/Bad-v0", "mine", "me.env:Env", answer_template="<answer></answer>")


def test_only_the_answer_tokens_are_scored(tiny):
    messages = [{"role": "user", "content": "Who makes the widget?"}]
    answer = "Fikofou Labs"
    ids, start = answer_tokens(tiny, messages, "<answer>", answer)
    encode = lambda text: tiny.tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    prompt = tiny.encode_prompt(messages)
    prefix, joint = encode("<answer>"), encode("<answer>" + answer)
    assert joint[:len(prefix)] == prefix  # the tokenizer keeps the tag's boundary here
    # Context = prompt + tag (unscored); scored = the answer's own tokens; the closing tag is not there at all.
    assert ids == prompt + joint and start == len(prompt) + len(prefix)
    assert ids[start:] == joint[len(prefix):] and 0 < len(ids) - start < len(encode(f"<answer>{answer}</answer>")) - 3
    with torch.no_grad():
        logp, _ = forward_logprobs(tiny.model, torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.long))[:2]
    expected = float(logp[0, start:].mean())
    got = score_answers(tiny, [messages], ["<answer>"], [answer])[0]
    assert got == pytest.approx(expected, abs=1e-6)
    # The old score (tags included, as the policy's ``score`` of the whole rendered answer) is another number.
    assert abs(tiny.score([messages], [f"<answer>{answer}</answer>"])[0] - got) > 1e-3
    assert score_answers(tiny, [messages], ["<answer>"], [""]) == [0.0]


def test_batched_scores_equal_one_at_a_time(tiny):
    prompts = [[{"role": "user", "content": "q" * n}] for n in (1, 30, 7)]
    answers = ["a", "Fikofou Labs", "1234"]
    together = score_answers(tiny, prompts, ["<answer>"] * 3, answers, chunk=2)
    alone = [score_answers(tiny, [p], ["<answer>"], [a])[0] for p, a in zip(prompts, answers, strict=True)]
    assert np.allclose(together, alone, atol=1e-5)


# ---------------------------------------------------------------------------------- (b) the full history
def test_scoring_context_holds_every_observation_when_history_turns_is_0(scripted_rollout):
    episodes, recorder = scripted_rollout
    assert all(len(ep.turns) == len(SCRIPT) for ep in episodes)
    for k, call in enumerate(recorder.calls):  # call k: the score before turn k of every live episode
        assert len(call) == len(episodes)
        for ep, (context, prefix, answer) in zip(episodes, call, strict=True):
            users = [m["content"] for m in context if m["role"] == "user"]
            assistants = [m["content"] for m in context if m["role"] == "assistant"]
            assert len(users) == k + 1 and assistants == list(SCRIPT[:k])  # every exchange so far
            assert users[0] == ep.turns[0].prompt[0]["content"]  # the task statement
            assert users[-1] == ep.turns[k].prompt[-1]["content"]  # the observation turn k acts on
            assert prefix == "<answer>" and "<answer>" not in answer
        # The acting prompt of the same turn kept only the current observation (history_turns=0).
        assert all(len(ep.turns[k].prompt) == 1 for ep in episodes)


# --------------------------------------------------------------------- (c) no verdict, no gain at the end
def _verdict(seed: int) -> str:
    """The observation that ends SCRIPT on task ``seed`` (the env's verdict on the answer)."""
    env = te.make(ENV, **KWARGS)
    env.reset(seed=seed)
    for action in SCRIPT:
        obs, _, terminated, _, _ = env.step(action)
    assert terminated
    env.close()
    return str(obs)


def test_no_scoring_context_holds_the_terminal_observation(scripted_rollout):
    episodes, recorder = scripted_rollout
    assert all(ep.terminated and not ep.success for ep in episodes)
    verdicts = {_verdict(3), _verdict(8)}
    assert all("is not correct" in v for v in verdicts)
    scored = [m["content"] for call in recorder.calls for context, _, _ in call for m in context]
    assert not verdicts & set(scored) and not any("is not correct" in text for text in scored)
    # A score before each acting turn only (score0, then after each non-final turn): none after the last.
    assert len(recorder.calls) == len(SCRIPT)


def test_the_final_turn_gets_no_information_gain(scripted_rollout):
    episodes, _ = scripted_rollout
    batch = to_turn_batch(episodes)
    gain = info_gain(batch, score0_column(episodes))
    last = np.append(batch.episode_id[1:] != batch.episode_id[:-1], True)
    assert np.all(gain[last] == 0.0)
    assert np.all(np.isfinite(gain)) and np.any(gain[~last] != 0.0)  # earlier turns do carry gain
    for ep in episodes:
        assert np.isfinite(ep.score0)
        assert ep.turns[-1].score == ep.turns[-2].score
