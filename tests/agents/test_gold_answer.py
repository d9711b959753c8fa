"""The gold answer stays out of every info; IGPO gets it through the registry-declared accessor (issue 12.10).

On the code before this change, the tool-use envs returned the answer in ``info["task"]["answer"]`` at
reset and the trainer read it from there. There, the tool-use info scans find the ``answer`` key, the envs
have no ``gold_answer`` accessor, the registry entries declare none, and ``collect`` neither fetches the
answer through the pool nor refuses an env that has none (the module does not even import); the game
scans and the leak detector's self-check pass on both (they guard against a regression).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest

import turngym.envs as te
from turngym.agents.llm.policies.base import Message
from turngym.agents.llm.policies.tiny import build_policy
from turngym.agents.llm.rollout import RolloutSettings, collect, gold_answer_method, score_answers
from turngym.envs.core.errors import ConfigError
from turngym.envs.pool import make_pool
from turngym.envs.tooluse.base import Task
from turngym.envs.tooluse.env import ToolUseEnv
from turngym.envs.tooluse.rewards import normalize_answer

TOOL_IDS = [e.id for e in te.list_envs("tooluse")]
#: Live-browser ids (real Chromium, ~20 s each here) are represented by one of each kind; the family's own tests
#: cover the rest.
LIVE_SAMPLE = {"turngym/WebShopBrowser-v0", "turngym/MiniWoB-login-user-v0"}
ALL_IDS = [e.id for e in te.list_envs() if e.replayable or e.id in LIVE_SAMPLE]
#: Keys that would hand the agent the solution, under any name (``answer_format`` only describes the form).
SUSPECT_KEY = re.compile(r"answer|gold|solution", re.IGNORECASE)
ALLOWED_KEYS = {"answer_format"}


def answer_text(gold: str, env_id: str = "turngym/ToolQA-v0") -> str:
    """The gold answer as the policy writes it, through the env's registry-declared ``answer_template``."""
    return te.env_info(env_id).answer_template.format(gold)


# ------------------------------------------------------------------------------------- leak detector
def _leaves(obj: Any, path: str = "info") -> Iterator[tuple[str, Any]]:
    """Every (path, leaf value) of a nested info."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, f"{path}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _leaves(v, f"{path}[{i}]")
    else:
        yield path, obj


def suspect_keys(obj: Any, path: str = "info") -> list[str]:
    """Paths of the keys that name an answer (``answer``, ``gold``, ``solution``) anywhere in an info."""
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(k, str) and SUSPECT_KEY.search(k) and k not in ALLOWED_KEYS:
                out.append(f"{path}.{k}")
            out += suspect_keys(v, f"{path}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out += suspect_keys(v, f"{path}[{i}]")
    return out


def leaks(info: dict[str, Any], gold: str) -> list[str]:
    """Paths of the values of ``info`` that hold ``gold`` (SQuAD-normalized, as the env scores answers).

    A value leaks when it *is* the answer; a text leaks when it contains the answer's words in order, for
    answers long enough (>= 4 characters) not to occur by chance in counters, digests or the question.
    """
    target = normalize_answer(gold)
    words = target.split()
    distinctive = len(target) >= 4
    out = []
    for path, leaf in _leaves(info):
        if isinstance(leaf, bool) or leaf is None:
            continue
        text = normalize_answer(str(leaf))
        if text == target and (isinstance(leaf, str) or distinctive):
            out.append(path)
        elif distinctive and isinstance(leaf, str):
            toks = text.split()
            if any(toks[k:k + len(words)] == words for k in range(len(toks) - len(words) + 1)):
                out.append(path)
    return out


def test_leak_detector_catches_the_old_info_shape():
    # The check the scans below rely on: the pre-fix info ({"task": {"answer": gold}}) is caught by key and
    # by value, an answer quoted in a text is caught, and a short answer does not match a counter.
    old = {"task": {"id": "t", "answer": "Drethom Kebruqueix", "answer_format": "a name"}, "turn": 0}
    assert suspect_keys(old) == ["info.task.answer"]
    assert suspect_keys({"hints": [{"gold": 1}], "solution_path": []}) == ["info.hints[0].gold", "info.solution_path"]
    assert leaks(old, "Drethom Kebruqueix") == ["info.task.answer"]
    assert leaks({"note": "hint: the answer is drethom kebruqueix."}, "Drethom Kebruqueix") == ["info.note"]
    assert leaks({"task": {"answer": 20475}}, "20475") == ["info.task.answer"]
    assert leaks({"turn": 4, "tool_calls": 4, "state_key": "4" * 8}, "4") == []
    assert suspect_keys({"task": {"answer_format": "an integer"}}) == []


# --------------------------------------------------------------------------------- every registered id
def _drive(env: Any, info: dict[str, Any], steps: int) -> Iterator[dict[str, Any]]:
    """Plays up to ``steps`` legal (or, for open action sets, well-formed) actions; yields every info."""
    yield info
    for _ in range(steps):
        actions = info.get("admissible_actions")
        if not actions and hasattr(env, "example_actions"):
            actions = env.example_actions()  # tool use: the expert's next call, then its answer
        if not actions:
            return
        _, _, terminated, truncated, info = env.step(actions[0])
        yield info
        if terminated or truncated:
            return


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_no_info_of_any_env_names_or_holds_the_answer(env_id):
    declared = te.env_info(env_id).gold_answer
    env = te.make(env_id)
    for seed in range(3):
        _, info = env.reset(seed=seed)
        gold = getattr(env, declared)() if declared else None
        for k, step_info in enumerate(_drive(env, info, steps=12)):
            assert suspect_keys(step_info) == [], f"{env_id} seed {seed} step {k}: {suspect_keys(step_info)}"
            if gold is not None:
                assert leaks(step_info, gold) == [], f"{env_id} seed {seed} step {k}: gold {gold!r} leaks"
    env.close()


@pytest.mark.parametrize("env_id", [e.id for e in te.list_envs() if e.aec is not None or e.parallel is not None])
def test_multiagent_forms_keep_answers_out_of_reset_infos(env_id):
    info = te.env_info(env_id)
    if info.aec is not None:
        env = te.make_aec(env_id)
        env.reset(seed=0)
        infos = env.infos
    else:
        env = te.make_parallel(env_id)
        _, infos = env.reset(seed=0)
    assert all(suspect_keys(i) == [] for i in infos.values())
    env.close()


@pytest.mark.parametrize("env_id", TOOL_IDS)
def test_tool_use_answers_many_tasks_without_leaking(env_id):
    # More tasks than the scan above, every difficulty, the whole expert episode (its last info included).
    for difficulty in (1, 2, 3):
        env = te.make(env_id, difficulty=difficulty)
        for seed in range(6):
            _, info = env.reset(seed=seed)
            gold = env.gold_answer()
            infos = list(_drive(env, info, steps=20))
            assert infos[-1].get("success") is True  # the expert answered with the gold: the accessor is right
            for step_info in infos:
                assert suspect_keys(step_info) == [] and leaks(step_info, gold) == []
        env.close()


def test_a_canary_answer_never_reaches_an_info():
    canary = "zq-canary-7731 Vexmoor"
    task = Task(task_id="custom/0", family="jsonl", question="What is 6 times 7?", answer=canary,
                answer_format="a phrase", tools=("calculator",))
    env = ToolUseEnv(tasks=[task], format="hermes")
    _, info = env.reset(seed=0)
    infos = [info]
    for action in ('<tool_call>{"name": "calculator", "arguments": {"expression": "6*7"}}</tool_call>',
                   "not a tool call", "<answer>wrong</answer>"):
        infos.append(env.step(action)[4])
    for step_info in infos:
        assert "canary" not in repr(step_info) and "Vexmoor" not in repr(step_info)
    assert env.gold_answer() == canary


# ------------------------------------------------------------------------------------------ the accessor
def test_tool_use_registry_entries_declare_the_accessor():
    assert TOOL_IDS and all(te.env_info(i).gold_answer == "gold_answer" for i in TOOL_IDS)
    # Games have no gold answer: their entries declare none, and nothing else does by accident.
    assert {e.id for e in te.list_envs() if e.gold_answer is not None} == set(TOOL_IDS)


@pytest.mark.parametrize("env_id", TOOL_IDS)
def test_accessor_returns_the_scored_answer_and_needs_a_reset(env_id):
    env = te.make(env_id)
    method = gold_answer_method(env_id)
    with pytest.raises(RuntimeError, match="before reset"):
        getattr(env, method)()
    env.reset(seed=5)
    gold = getattr(env, method)()
    assert isinstance(gold, str) and gold
    _, reward, terminated, _, info = env.step(answer_text(gold, env_id))  # the rendered answer is what the env scores
    assert terminated and reward == 1.0 and info["success"] is True
    env.close()


def test_gold_answer_method_refuses_an_env_without_an_accessor():
    with pytest.raises(ConfigError, match="gold-answer accessor") as err:
        gold_answer_method("turngym/LeducHoldem-v0")
    msg = str(err.value)
    assert "turngym/LeducHoldem-v0" in msg and all(i in msg for i in TOOL_IDS) and "Did you mean" not in msg


# --------------------------------------------------------------------------- the rollout, every executor
class ScoreRecorder:
    """The real scorer (``score_answers``), with a record of what it was asked to score (the rollout's hand-off)."""

    def __init__(self) -> None:
        self.continuations: list[list[str]] = []
        self.prefixes: list[list[str]] = []

    def __call__(self, policy: Any, prompts: Sequence[Sequence[Message]], prefixes: Sequence[str],
                 answers: Sequence[str]) -> list[float]:
        self.continuations.append(list(answers))
        self.prefixes.append(list(prefixes))
        return score_answers(policy, prompts, prefixes, answers)


TOOLQA_KWARGS = {"difficulty": 1, "format": "plain", "max_turns": 2}


@pytest.fixture(scope="module")
def tiny():
    return build_policy("tiny", seed=0, max_new_tokens=6)


def _expected_golds(seeds: list[int], group_size: int) -> list[str]:
    env = te.make("turngym/ToolQA-v0", **TOOLQA_KWARGS)
    golds = []
    for s in seeds:
        env.reset(seed=s)
        golds += [env.gold_answer()] * group_size
    env.close()
    return golds


@pytest.fixture
def executor_ready(request: pytest.FixtureRequest) -> str:
    if request.param == "ray":
        ray = pytest.importorskip("ray", reason="ray is not installed (pip install turngym[dist])")
        if not ray.is_initialized():
            ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True, log_to_driver=False)
            request.addfinalizer(ray.shutdown)
    return request.param


@pytest.mark.parametrize("executor_ready", ["inprocess", "subprocess", pytest.param("ray", marks=pytest.mark.slow)],
                         indirect=True)
def test_igpo_rollout_scores_the_answer_fetched_through_the_pool(tiny, executor_ready):
    seeds, group_size = [3, 8], 2
    recorder = ScoreRecorder()
    settings = RolloutSettings(max_turns=2, max_context_tokens=None)
    with make_pool("turngym/ToolQA-v0", 4, executor=executor_ready, workers=2, env_kwargs=TOOLQA_KWARGS) as pool:
        assert pool.env_id == "turngym/ToolQA-v0"
        episodes = collect(pool, tiny, seeds, group_size, settings, score_gold=True, scorer=recorder)
    expected = _expected_golds(seeds, group_size)
    assert len(set(expected)) == 2  # two different tasks: the answers are per env, not one for the batch
    assert recorder.continuations[0] == expected  # s_{-1}: every env's own answer, before the first turn
    # The answer tag comes from the registry entry (answer_template), as unscored context.
    assert {p for call in recorder.prefixes for p in call} == {"<answer>"}
    for call in recorder.continuations[1:]:
        assert set(call) <= set(expected)
    for ep in episodes:
        assert np.isfinite(ep.score0) and ep.turns and all(np.isfinite(t.score) for t in ep.turns)


def test_rollout_without_answer_of_fetches_nothing(tiny):
    recorder = ScoreRecorder()
    with make_pool("turngym/ToolQA-v0", 2, env_kwargs=TOOLQA_KWARGS) as pool:
        episodes = collect(pool, tiny, [3], 2, RolloutSettings(max_turns=1, max_context_tokens=None),
                           scorer=recorder)
    assert recorder.continuations == [] and all(np.isnan(ep.score0) for ep in episodes)


def test_information_gain_on_an_env_without_answers_is_a_config_error(tiny):
    recorder = ScoreRecorder()
    with make_pool("turngym/LeducHoldem-v0", 2, env_kwargs={"opponents": ["random"]}) as pool:
        with pytest.raises(ConfigError, match="gold-answer accessor"):
            collect(pool, tiny, [0], 2, RolloutSettings(max_context_tokens=None), score_gold=True, scorer=recorder)
    assert recorder.continuations == []
