"""FrozenLake: Gymnasium's dynamics (slips included), holes and goal, solvers and expert (issue 13, item 13).

Every test fails on main, where ``turngym.envs.puzzles`` does not exist.
"""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.envs.toy_text.frozen_lake import FrozenLakeEnv as GymFrozenLake
from helpers_puzzles import lake_at

from turngym.envs import ConfigError
from turngym.envs.puzzles.experts import frozenlake_expert
from turngym.envs.puzzles.frozenlake import FrozenLakeEnv
from turngym.envs.puzzles.solvers import lake_move, lake_policy, lake_transitions, solve_lake

MAP = ["SFFF",
       "FHFH",
       "FFFH",
       "HFFG"]


def test_hole_ends_the_episode_without_success():
    env = lake_at(MAP)
    env.step("right")
    obs, r, term, trunc, info = env.step("down")  # (1, 1) is a hole
    assert (r, term, trunc, info["success"]) == (0.0, True, False, False)
    assert env.grid()[1] == "_X_O" and "hole" in obs


def test_goal_gives_reward_one_and_success():
    env = lake_at(MAP)
    *_, info = env.step("down")
    for a in ("down", "right", "right", "down"):
        _, r, term, _, info = env.step(a)
    assert env.grid()[3] == "O_PG" and (r, term) == (0.0, False)
    _, r, term, trunc, info = env.step("right")
    assert (r, term, trunc, info["success"]) == (1.0, True, False, True) and env.grid()[3] == "O__√"


def test_moves_off_the_map_stay_put_and_are_valid():
    env = lake_at(MAP)
    _, _, _, _, info = env.step("up")
    assert env.position == 0 and info["action_valid"] is True


def test_slippery_moves_equal_gymnasiums_for_the_same_rng_state():
    env = FrozenLakeEnv(is_slippery=True, max_steps=100)
    rng = np.random.default_rng(1)
    for seed in range(5):
        env.reset(seed=seed)
        gym_env = GymFrozenLake(desc=list(env.level.rows), is_slippery=True)
        gym_env.reset(seed=0)
        gym_env.np_random = np.random.Generator(np.random.PCG64())
        gym_env.np_random.bit_generator.state = env.np_random.bit_generator.state
        gym_env.s = 0
        while True:
            a = int(rng.integers(4))
            cell, reward, term, _, _ = gym_env.step(a)
            _, r, t, trunc, _ = env.step(a)
            assert (env.position, r, t) == (cell, reward, term)
            if t or trunc:
                break


def test_bfs_and_value_iteration_on_a_hand_checked_map():
    plan = solve_lake(MAP)
    cell = 0
    for a in plan:
        cell = lake_move(MAP, cell, a)
        assert "".join(MAP)[cell] != "H"
    assert len(plan) == 6 and cell == 15
    assert len(solve_lake(["SFFF", "HHHF", "FFFF", "FHHG"])) == 6
    assert solve_lake(["SH", "HG"]) is None
    # Slippery: on the map without holes the goal is reached almost surely; with this map's holes, less.
    assert lake_policy(("SFFF", "FFFF", "FFFF", "FFFG")).success[0] == pytest.approx(1.0)
    policy = lake_policy(tuple(MAP))
    assert 0.0 < policy.success[0] < 1.0
    # Bellman optimality on Gymnasium's table: each value is the best action's, and the policy takes one.
    table = lake_transitions(tuple(MAP), True)
    for s in range(16):
        q = [sum(p * (r + (0.0 if done else policy.success[s2])) for p, s2, r, done in table[s][a]) for a in range(4)]
        assert policy.success[s] == pytest.approx(max(q), abs=1e-9)
        assert q[policy.action[s]] == pytest.approx(max(q), abs=1e-9)


def test_expert_reaches_the_goal_in_the_optimal_number_of_moves():
    env = FrozenLakeEnv()
    expert = frozenlake_expert("turngym/FrozenLake-v0")
    for seed in range(200):
        _, info = env.reset(seed=seed)
        for _ in range(info["task"]["optimal_length"]):
            _, _, term, _, info = env.step(expert(env, None, info))
        assert term and info["success"]


def test_slippery_expert_beats_random_play():
    wins = {"expert": 0, "random": 0}
    rng = np.random.default_rng(0)
    expert = frozenlake_expert()
    for name in wins:
        env = FrozenLakeEnv(is_slippery=True, max_steps=100)
        for seed in range(60):
            _, info = env.reset(seed=seed)
            while True:
                a = expert(env, None, info) if name == "expert" else env.action_names[int(rng.integers(4))]
                _, _, term, trunc, info = env.step(a)
                if term or trunc:
                    wins[name] += info["success"]
                    break
    assert wins["expert"] > 2 * wins["random"] and wins["expert"] >= 30


def test_arguments_are_checked():
    for bad in ({"size": 1}, {"p": 0.1}, {"p": True}, {"is_slippery": 1}, {"obs_mode": "pixels"}):
        with pytest.raises(ConfigError):
            FrozenLakeEnv(**bad)


def test_a_split_with_no_layout_is_a_config_error_not_a_hang():
    # p=1 leaves one possible 3x3 map; whichever split it is in, the other split has none.
    from turngym.envs.puzzles.base import layout_digest, split_of

    only = split_of(layout_digest("frozenlake", ["SFF", "FFF", "FFG"]))
    other = "test" if only == "train" else "train"
    assert FrozenLakeEnv(size=3, p=1.0, split=only).reset(seed=0)[1]["task"]["split"] == only
    with pytest.raises(ConfigError, match="split"):
        FrozenLakeEnv(size=3, p=1.0, split=other).reset(seed=0)
