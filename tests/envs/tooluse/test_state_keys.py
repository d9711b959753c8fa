"""Tool-use anchor keys (issue 13, item 11): the ``state_key`` argument, ``"history"`` or ``"markov"``.

Under ``"history"`` (the default, v0's keys) two paths share a key only while their interactions are the same;
under ``"markov"`` every path that has learned the same tool results shares it. On main there was no
``state_key`` argument (``make`` raised ConfigError for it), so every test here but the default one fails there.
"""

from __future__ import annotations

import pytest

import turngym.envs  # noqa: F401
from turngym.envs.core.errors import ConfigError
from turngym.envs.core.registry import make

QA = "turngym/ToolQA-v0"
A, B = 'search(query="capital")', 'search(query="mayor")'


def keys_along(state_key: str | None, actions: list[str], seed: int = 1) -> list[str]:
    """``info["state_key"]`` after reset and after each action of one ToolQA episode (plain format)."""
    kwargs = {"format": "plain"} if state_key is None else {"format": "plain", "state_key": state_key}
    env = make(QA, **kwargs)
    _, info = env.reset(seed=seed)
    keys = [info["state_key"]]
    for action in actions:
        _, _, terminated, truncated, info = env.step(action)
        keys.append(info["state_key"])
        assert not (terminated or truncated)
    env.close()
    return keys


PATHS = {
    "a then b": [A, B],
    "b then a": [B, A],
    "both in one turn": [f"{A}\n{B}"],
    "a, invalid, a again, b": [A, "no tool here(", A, B],
}


def test_paths_to_the_same_tool_results_share_the_markov_key_only():
    markov = {name: keys_along("markov", path)[-1] for name, path in PATHS.items()}
    history = {name: keys_along("history", path)[-1] for name, path in PATHS.items()}
    assert len(set(markov.values())) == 1
    # History keys differ by order and turn split; an invalid turn is not in the history (state unchanged),
    # but the repeated call is.
    assert len(set(history.values())) == len(PATHS)


def test_markov_key_separates_different_knowledge_and_tasks():
    a, b = keys_along("markov", [A])[-1], keys_along("markov", [B])[-1]
    assert a != b
    first = keys_along("markov", [])[0]
    assert first != a and keys_along("markov", [], seed=2)[0] != first  # another task
    # The two kinds never collide, even at reset where both hold the same (empty) history.
    assert keys_along("markov", [])[0] != keys_along("history", [])[0]


def test_invalid_turns_leave_both_keys_unchanged():
    for kind in ("history", "markov"):
        keys = keys_along(kind, [A, "garbage((", ""])
        assert keys[1] == keys[2] == keys[3] != keys[0]


def test_default_is_history_with_v0_keys_unchanged():
    assert keys_along(None, [A, B]) == keys_along("history", [A, B])
    # v0's key: the hash of the task id and the history, as before the argument existed.
    import json

    from turngym.envs.core.state_key import make_state_key

    env = make(QA, format="plain")
    _, info = env.reset(seed=1)
    _, _, _, _, info = env.step(A)
    assert info["state_key"] == make_state_key(QA, json.dumps([env.task.task_id, env.history], sort_keys=True,
                                                                ensure_ascii=True))


def test_markov_keys_survive_snapshots_and_answers():
    env = make(QA, format="plain", state_key="markov")
    env.reset(seed=1)
    env.step(A)
    blob = env.get_state()
    after = env.step(B)[4]["state_key"]
    env.set_state(blob)
    assert env.step(B)[4]["state_key"] == after
    final = env.step("<answer>nobody</answer>")[4]["state_key"]
    assert final != after


def test_unknown_kind_is_a_config_error():
    with pytest.raises(ConfigError, match="markov"):
        make(QA, state_key="markow")
