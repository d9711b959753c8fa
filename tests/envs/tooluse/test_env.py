"""The tool-use env end to end: experts through real tools, rewards, budgets, bad input, snapshots."""

from __future__ import annotations

import json
import os
from pathlib import Path

import gymnasium as gym
import pytest

import turngym.envs as te
from turngym.envs.tooluse import formats, tasks
from turngym.envs.tooluse.env import ToolUseEnv
from turngym.envs.tooluse.trajectories import ExpertAgent, expert_trajectories

IDS = ["turngym/ToolQA-v0", "turngym/ToolMath-v0", "turngym/ToolSQL-v0"]


def _play_expert(env, seed, options=None):
    obs, info = env.reset(seed=seed, options=options)
    agent = ExpertAgent(env)
    total, steps = 0.0, []
    while True:
        action = agent.next_text()
        obs, reward, terminated, truncated, info = env.step(action)
        total += reward
        steps.append((action, obs, reward, info["state_key"]))
        if terminated or truncated:
            return total, info, steps


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("fmt", formats.FORMATS)
def test_expert_solves_through_the_env_in_every_format(env_id, fmt):
    env = te.make(env_id, format=fmt)
    wins = 0
    for seed in range(4):
        total, info, _ = _play_expert(env, seed)
        wins += info["success"]
        assert info["success"] == (total == pytest.approx(1.0))
    assert wins >= 3


def test_task_info_carries_the_format_but_never_the_gold_answer():
    env = gym.make("turngym/ToolSQL-v0")
    _, info = env.reset(seed=3)
    task = info["task"]
    assert "answer" not in task and task["answer_format"] and task["id"] and task["instruction"]
    gold = env.unwrapped.gold_answer()  # the registry-declared accessor (EnvInfo.gold_answer)
    assert gold and gold not in task["question"]
    assert info["admissible_actions"] is None and info["action_valid"] is True


def test_wrong_answer_terminates_with_zero_reward():
    env = te.make("turngym/ToolMath-v0")
    _, info = env.reset(seed=1)
    obs, reward, terminated, truncated, info = env.step("<answer>definitely wrong</answer>")
    assert terminated and not truncated and reward == 0.0 and info["success"] is False
    assert "not correct" in obs


def test_turn_cap_and_tool_budget_truncate():
    env = te.make("turngym/ToolMath-v0", max_turns=2)
    env.reset(seed=0)
    call = formats.render_calls([tasks_call("calculator", expression="1+1")], env.format)
    _, _, term, trunc, _ = env.step(call)
    assert not term and not trunc
    _, _, term, trunc, info = env.step(call)
    assert trunc and not term and info["success"] is False
    env = te.make("turngym/ToolMath-v0", max_tool_calls=3)
    env.reset(seed=0)
    obs, _, term, trunc, info = env.step(formats.render_calls([tasks_call("calculator", expression="2*3")] * 4,
                                                              env.format))
    assert trunc and not term and info["tool_calls"] == 3 and "budget" in obs


def tasks_call(name, **arguments):
    from turngym.envs.tooluse.base import ToolCall

    return ToolCall(name, arguments)


@pytest.mark.parametrize("fmt", formats.FORMATS)
def test_invalid_turns_say_what_is_wrong_and_change_nothing(fmt):
    env = te.make("turngym/ToolSQL-v0", format=fmt)
    env.reset(seed=2)
    key = env.state_key()
    for bad in ["", "SELECT * FROM customers", "<tool_call>{\"name\": \"sq", "x" * 100_000,
                formats.render_calls([tasks_call("shell", cmd="ls")], fmt),
                formats.render_calls([tasks_call("sql", query=3)], fmt), None, b"\xff"]:
        obs, reward, terminated, truncated, info = env.step(bad)
        assert info["action_valid"] is False and "invalid" in obs.lower() and info["error"]
        assert info["state_key"] == key and not terminated
        if truncated:
            break
    env.reset(seed=2)
    obs, *_ = env.step("")
    assert "<answer>" in obs  # the message shows the right form


HOSTILE_PY = {
    "fork bomb": "import os\nwhile True:\n    os.fork()",
    "infinite loop": "while True:\n    pass",
    "10 GB write": "f = open('big.bin', 'wb')\nfor _ in range(10240):\n    f.write(b'0' * (1 << 20))",
    "network": "import socket\ns = socket.create_connection(('1.1.1.1', 80), timeout=2)\nprint('connected')",
}


@pytest.mark.parametrize("name", list(HOSTILE_PY))
def test_hostile_python_is_contained_and_the_env_stays_usable(name, tmp_path):
    env = te.make("turngym/ToolMath-v0", python_timeout_s=3.0)
    env.reset(seed=0)
    action = formats.render_calls([tasks_call("python", code=HOSTILE_PY[name])], env.format)
    obs, reward, terminated, truncated, info = env.step(action)
    assert info["action_valid"] is True and not terminated  # a legal call whose tool run failed
    assert "connected" not in obs
    # The env still works: the expert solves the same task from here.
    total, info, _ = _continue_expert(env)
    assert info["success"]


def _continue_expert(env):
    agent = ExpertAgent(env)
    total = 0.0
    while True:
        obs, reward, terminated, truncated, info = env.step(agent.next_text())
        total += reward
        if terminated or truncated:
            return total, info, obs


def test_python_cannot_touch_the_host(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    target = tmp_path / "planted.txt"
    env = te.make("turngym/ToolMath-v0")
    env.reset(seed=0)
    code = (f"print(open({str(secret)!r}).read())\n")
    obs, *_ = env.step(formats.render_calls([tasks_call("python", code=code)], env.format))
    assert "top secret" not in obs
    code = f"open({str(target)!r}, 'w').write('x')\nprint('written')"
    env.step(formats.render_calls([tasks_call("python", code=code)], env.format))
    assert not target.exists()


@pytest.mark.parametrize("query", ["DROP TABLE customers", "DELETE FROM orders", "INSERT INTO customers VALUES (1)",
                                   "UPDATE products SET price = 0", "CREATE TABLE x (a)",
                                   "SELECT 1; DROP TABLE orders"])
def test_sql_writes_are_refused_and_the_data_is_intact(query):
    env = te.make("turngym/ToolSQL-v0")
    env.reset(seed=5)
    count = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
    before, *_ = env.step(formats.render_calls([tasks_call("sql", query=count)], env.format))
    obs, *_ = env.step(formats.render_calls([tasks_call("sql", query=query)], env.format))
    after, *_ = env.step(formats.render_calls([tasks_call("sql", query=count)], env.format))
    assert before == after
    total, info, _ = _continue_expert(env)
    assert info["success"]


@pytest.mark.parametrize("env_id", IDS)
def test_snapshot_replay_gives_identical_turns(env_id):
    env = te.make(env_id)
    env.reset(seed=7)
    agent = ExpertAgent(env)
    env.step(agent.next_text())
    snap = env.get_state()
    first = []
    while True:
        obs, r, term, trunc, info = env.step(agent.next_text())
        first.append((obs, r, term, trunc, info["state_key"]))
        if term or trunc:
            break
    fresh = te.make(env_id)
    fresh.set_state(snap)
    agent2 = ExpertAgent(fresh)
    second = []
    while True:
        obs, r, term, trunc, info = fresh.step(agent2.next_text())
        second.append((obs, r, term, trunc, info["state_key"]))
        if term or trunc:
            break
    assert first == second


def test_seeded_tasks_are_deterministic_and_splits_are_disjoint():
    a = te.make("turngym/ToolQA-v0")
    b = te.make("turngym/ToolQA-v0")
    assert a.reset(seed=11) == b.reset(seed=11)
    train = te.make("turngym/ToolQA-v0", split="train")
    test = te.make("turngym/ToolQA-v0", split="test")
    train_seeds = {train.reset(seed=s)[1]["task"]["seed"] for s in range(20)}
    test_seeds = {test.reset(seed=s)[1]["task"]["seed"] for s in range(20)}
    assert not train_seeds & test_seeds
    assert all(tasks.split_of(s) == "test" for s in test_seeds)


def test_expert_trajectories_for_warm_starts():
    trajs = expert_trajectories("turngym/ToolSQL-v0", n=3, seed=0, format="openai")
    assert len(trajs) == 3 and all(t["success"] for t in trajs)
    for t in trajs:
        assert t["turns"][-1]["action"].startswith("<answer>")
        assert t["answer"] in t["turns"][-1]["action"]
        json.dumps(t)  # plain data, ready to write as JSONL


def test_jsonl_tasks(tmp_path: Path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps({"doc_id": "d1", "title": "Zorvan", "text": "Zorvan was founded in 1871."}) + "\n")
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps({"question": "When was Zorvan founded?", "answer": "1871",
                                "corpus": str(corpus), "tools": ["search", "open"]}) + "\n")
    env = ToolUseEnv(tasks=tasks.load_jsonl(path))
    obs, info = env.reset(seed=0)
    assert "When was Zorvan founded?" in obs
    obs, *_ = env.step(formats.render_calls([tasks_call("search", query="Zorvan founded")], env.format))
    assert "d1" in obs
    _, reward, terminated, _, info = env.step("<answer>1871</answer>")
    assert terminated and reward == 1.0 and info["success"]
    assert os.path.exists(path)


@pytest.mark.parametrize("env_id", IDS)
@pytest.mark.parametrize("fmt", [f for f in formats.FORMATS if f != "hermes"])  # hermes: test_conformance
def test_conformance_in_every_call_format(env_id, fmt):
    te.check_env(gym.make(env_id, format=fmt))
