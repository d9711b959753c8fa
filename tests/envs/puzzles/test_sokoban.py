"""Sokoban dynamics, rewards, generation and the BFS solver on hand-made rooms (issue 13, item 13).

Every test fails on main, where ``turngym.envs.puzzles`` does not exist.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers_puzzles import sokoban_at

from turngym.envs.puzzles.experts import sokoban_expert
from turngym.envs.puzzles.sokoban import SokobanEnv
from turngym.envs.puzzles.solvers import SokobanBoard, distances_to_solved, solve_sokoban

CORRIDOR = ["#######",
            "#P_X_O#",
            "#######"]


def test_push_moves_the_box_and_a_blocked_push_moves_nothing():
    env = sokoban_at(["######",
                      "#PX_O#",
                      "#____#",
                      "######"])
    obs, r, *_ = env.step("right")
    assert env.grid()[1] == "#_PXO#" and r == pytest.approx(-0.1)
    env2 = sokoban_at(["######",
                       "#__O_#",
                       "#_PX##",
                       "#____#",
                       "######"])
    before = env2.grid()
    _, r, _, _, info = env2.step("right")  # the box is against the wall
    assert env2.grid() == before and info["action_valid"] is True and r == pytest.approx(-0.1)
    env2.step("up")
    env2.step("up")  # into the outer wall: a valid move that goes nowhere
    assert env2.grid()[1] == "#_PO_#"


def test_two_boxes_in_a_row_cannot_be_pushed():
    env = sokoban_at(["#######",
                      "#_____#",
                      "#PXX_O#",
                      "#____O#",
                      "#######"])
    before = env.grid()
    env.step("right")
    assert env.grid() == before


def test_rewards_box_on_target_off_target_and_finish():
    env = sokoban_at(["#######",
                      "#P_XO_#",
                      "#_____#",
                      "#_X_O_#",
                      "#######"])
    assert env.step("right")[1] == pytest.approx(-0.1)
    _, r, term, _, _ = env.step("right")  # first box onto its target
    assert r == pytest.approx(-0.1 + 1.0) and not term
    _, r, *_ = env.step("right")  # and off again
    assert r == pytest.approx(-0.1 - 1.0)
    env = sokoban_at(CORRIDOR)
    assert [env.step("right")[1] for _ in range(2)] == pytest.approx([-0.1, -0.1])
    _, r, term, trunc, info = env.step("right")
    assert r == pytest.approx(-0.1 + 1.0 + 10.0)
    assert term and not trunc and info["success"] is True and info["admissible_actions"] == []


def test_truncation_after_max_steps_counts_invalid_turns():
    env = sokoban_at(CORRIDOR, max_steps=3, invalid_action_penalty=-0.5)
    _, r, *_ = env.step("jump")
    assert r == pytest.approx(-0.6)
    env.step("left")
    _, _, term, trunc, info = env.step("<action>LEFT</action>")
    assert (term, trunc, info["success"], info["turn"]) == (False, True, False, 3)
    with pytest.raises(RuntimeError, match="reset"):
        env.step("right")


def test_bfs_is_optimal_on_hand_checked_rooms():
    # Corridor: walk 1, push 1 -> 2 moves. The second room needs the player to walk around the box:
    # the box must go up, so the player walks down-around to below it (5 moves by hand).
    assert solve_sokoban(SokobanBoard.from_rows(["#######", "#__#_O#", "#######"]), 8, [10]) is None
    corridor = SokobanBoard.from_rows(["#######", "#___O_#", "#######"])
    assert solve_sokoban(corridor, 8, [10]) == [3, 3]
    room = SokobanBoard.from_rows(["#####",
                                   "#_O_#",
                                   "#___#",
                                   "#___#",
                                   "#___#",
                                   "#####"])
    w = room.width
    plan = solve_sokoban(room, 2 * w + 1, [3 * w + 2])  # player left of the box, box two below the target
    assert plan == [1, 1, 3, 0, 0]  # down, down, right, up (push), up (push)


def test_backward_search_gives_each_states_optimal_length():
    board = SokobanBoard.from_rows(["######", "#____#", "#_#O_#", "#____#", "######"])
    dist = distances_to_solved(board)
    rng = np.random.default_rng(0)
    states = list(dist)
    for k in rng.choice(len(states), min(40, len(states)), replace=False):
        player, boxes = states[k]
        assert len(solve_sokoban(board, player, boxes)) == dist[states[k]]


def test_generated_levels_are_solvable_at_their_reported_length_and_the_expert_achieves_it():
    env = SokobanEnv()
    expert = sokoban_expert("turngym/Sokoban-v0")
    optimal = 0
    for seed in range(200):
        _, info = env.reset(seed=seed)
        length = info["task"]["optimal_length"]
        assert length >= 1
        assert len(solve_sokoban(env.level.board, env.level.player, env.level.boxes)) == length
        for _ in range(length):
            _, _, term, trunc, info = env.step(expert(env, None, info))
        optimal += bool(term and info["success"])
    assert optimal >= 198  # the bar: >= 99% solved at the optimal length


def test_generation_arguments_are_checked():
    from turngym.envs import ConfigError

    for bad in ({"dim_room": (2, 6)}, {"num_boxes": 0}, {"num_gen_steps": 0}, {"split": "dev"}, {"max_steps": 0}):
        with pytest.raises(ConfigError):
            SokobanEnv(**bad)


def test_two_box_rooms_generate_and_every_box_moved():
    env = SokobanEnv(dim_room=(7, 7), num_boxes=2)
    for seed in range(10):
        env.reset(seed=seed)
        assert len(env.level.boxes) == len(env.level.board.targets) == 2
        assert set(env.level.boxes) != set(env.level.board.targets) and env.level.optimal_length >= 2
