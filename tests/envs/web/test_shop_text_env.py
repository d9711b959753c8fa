"""``turngym/WebShop-v0``: actions, observations, info contract, snapshots, hostile input, expert (issue 14).

Fails on main: the id is not registered and ``turngym.envs.web.shop`` is a placeholder.
"""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

import turngym.envs as te
import turngym.envs.web.shop  # noqa: F401  (registers the id)
from turngym.envs import ConfigError, SnapshotError
from turngym.envs.web.shop.experts import shop_expert
from turngym.envs.web.shop.text_env import SEARCH_PLACEHOLDER, parse_shop_action

ID = "turngym/WebShop-v0"
SMALL = {"num_products": 2000}


def make(**kw):
    return gym.make(ID, **{**SMALL, **kw})


def run_expert(env, task):
    act = shop_expert(ID)
    obs, info = env.reset(options={"task_index": task})
    steps = []
    while True:
        action = act(env, obs, info)
        obs, reward, terminated, truncated, info = env.step(action)
        steps.append((action, obs, reward, terminated, truncated, info))
        if terminated or truncated:
            return steps


def test_registered_with_expert_and_held_out_eval_split():
    info = te.env_info(ID)
    assert info.family == "web" and info.eval_kwargs == {"split": "test"} and info.replayable
    assert info.expert == "turngym.envs.web.shop.experts:shop_expert"


def test_reset_shows_the_search_page_and_the_task_without_the_answer():
    env = make()
    obs, info = env.reset(seed=3)
    goal = env.unwrapped.goal
    assert obs == f"WebShop [SEP] Instruction: [SEP] {goal.instruction} [SEP] Search"
    assert info["admissible_actions"] == [SEARCH_PLACEHOLDER] and info["turn"] == 0
    assert info["task"]["instruction"] == goal.instruction and goal.asin not in str(info["task"])
    assert env.reset(seed=3) == (obs, info)
    assert len({make().reset(seed=s)[1]["task"]["task_index"] for s in range(20)}) > 15


def test_expert_buys_and_scores_one_with_raw_score_in_info():
    env = make(split="test")
    steps = run_expert(env, 0)
    action, obs, reward, terminated, truncated, info = steps[-1]
    assert action == "click[buy now]" and terminated and not truncated
    assert reward == info["score"] == 1.0 and info["success"] is True
    assert info["score_parts"]["r_type"] == 1.0 and info["admissible_actions"] == []
    assert obs.startswith("Thank you for shopping with us!")
    assert steps[0][0].startswith("search[") and steps[1][5]["state_key"] != steps[0][5]["state_key"]


def test_expert_success_on_held_out_tasks():
    env = make(split="test")
    wins = [run_expert(env, k)[-1][5]["success"] for k in range(40)]
    assert np.mean(wins) >= 0.95


def test_actions_in_action_tags_and_webshop_case_rules():
    env = make()
    env.reset(seed=0)
    obs, _, _, _, info = env.step("I think so.\n<action>SEARCH[Gluten Free Chocolate]</action>")
    assert info["action_valid"] and env.unwrapped.page.query == "gluten free chocolate"
    assert "click[next >]" in info["admissible_actions"]
    _, _, _, _, info = env.step("click[Next >]")
    assert info["action_valid"] and env.unwrapped.page.page == 2
    assert parse_shop_action("click[a] [b]") == ("click", "a] [b")


@pytest.mark.parametrize("bad", ["", "search[", "click[", "click[" + "x" * (10 << 20) + "]", "\x00" * 64, "\ud800",
                                 "<action><action>click[next >]</action></action>", "click[search]",
                                 "click[b0nope00000]", "search[]", "search[a\x00b]", "search[" + "q" * 600 + "]",
                                 "buy[now]", None, b"click[x]", 42])
def test_hostile_actions_are_invalid_and_change_nothing(bad):
    env = make()
    env.reset(seed=1)
    env.step("search[dark chocolate]")
    before = env.unwrapped.get_state()
    key = env.unwrapped.state_key()
    obs, reward, terminated, truncated, info = env.step(bad)
    assert info["action_valid"] is False and reward == 0.0 and not terminated
    assert obs.startswith("Invalid action:") and all(a in obs for a in info["admissible_actions"])
    assert info["state_key"] == key and len(obs) < 20_000
    after = env.unwrapped
    assert after.page.query == "dark chocolate" and after.turn == 2 and before != after.get_state()


def test_search_only_on_the_search_page_and_scripts_stay_text():
    env = make()
    env.reset(seed=1)
    _, _, _, _, info = env.step("search[<script>alert(1)</script> chocolate]")
    assert info["action_valid"] and env.unwrapped.page.query == "<script>alert(1)</script> chocolate"
    obs, _, _, _, info = env.step("search[chocolate]")
    assert not info["action_valid"] and "search page" in info["error"]


def test_turn_cap_truncates_without_success():
    env = make(max_turns=3)
    env.reset(seed=0)
    outs = [env.step("click[nothing]") for _ in range(3)]
    assert [o[3] for o in outs] == [False, False, True] and not any(o[2] for o in outs)
    assert outs[-1][4]["success"] is False and outs[-1][4]["score"] == 0.0
    with pytest.raises(RuntimeError):
        env.step("click[back to search]")
    assert make().unwrapped.max_turns == 15


def test_state_key_is_the_page_not_the_path_to_it():
    env = make()
    env.reset(seed=4)
    start = env.unwrapped.state_key()
    _, _, _, _, a = env.step("search[coffee]")
    env.step("click[next >]")
    _, _, _, _, b = env.step("click[< prev]")
    assert a["state_key"] == b["state_key"] != start
    _, _, _, _, c = env.step("click[back to search]")
    assert c["state_key"] == start
    other = make()
    other.reset(seed=5)
    assert other.unwrapped.state_key() != start  # another instruction, another anchor


def test_snapshots_restore_and_replay_and_reject_forgeries():
    env, fresh = make(), make()
    env.reset(seed=2)
    env.step("search[running shoes]")
    snap = env.unwrapped.get_state()
    tail = [env.step(a) for a in ("click[next >]", "click[< prev]")]
    fresh.reset(seed=9)
    fresh.unwrapped.set_state(snap)
    assert fresh.unwrapped.get_state() == snap
    assert [fresh.step(a) for a in ("click[next >]", "click[< prev]")] == tail

    data = json.loads(snap)
    current = fresh.unwrapped.get_state()
    for field, value in (("page", ["item", "", 1, "B0NOPE0000", [], ""]), ("task", 10**9), ("split", "test"),
                         ("page", ["done", "", 1, "", [], ""]), ("turn", -1)):
        forged = json.dumps({**data, field: value}).encode()
        with pytest.raises(SnapshotError):
            fresh.unwrapped.set_state(forged)
    assert fresh.unwrapped.get_state() == current


def test_bad_configuration_raises_config_errors():
    for kwargs in ({"split": "dev"}, {"obs_mode": "vector"}, {"max_turns": 0}, {"num_products": -5},
                   {"render_mode": "rgb_array"}):
        with pytest.raises(ConfigError):
            make(**kwargs)
    env = make()
    with pytest.raises(ConfigError):
        env.reset(options={"task_index": 10**9})
    with pytest.raises(ConfigError):
        env.reset(options={"task": 1})


def test_conformance():
    te.check_env(make())
