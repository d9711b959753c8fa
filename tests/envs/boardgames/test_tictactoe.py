"""Tic-tac-toe: known-answer rules, lockstep with OpenSpiel, the perfect-play solver, bad input, registration."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

import turngym.envs as te
from turngym.envs import ConfigError, SnapshotError
from turngym.envs.boardgames.boards import decode_planes
from turngym.envs.boardgames.solvers import (
    ConnectFourSearch,
    TicTacToeSolver,
    tictactoe_expert,
    tictactoe_move_values,
    tictactoe_value,
)
from turngym.envs.boardgames.tictactoe import CELL_NAMES, TicTacToeGame
from turngym.envs.core.checker import bad_inputs

ENV_ID = "turngym/TicTacToe-v0"


def play(moves):
    g = TicTacToeGame()
    s = g.new_state()
    for a in moves:
        assert a in g.legal_actions(s), (a, s)
        g.apply_action(s, a)
    return g, s


def masks(s):
    """(X marks, O marks) of a state as bitmasks."""
    return (sum(1 << i for i, c in enumerate(s.board) if c == 0), sum(1 << i for i, c in enumerate(s.board) if c == 1))


# ------------------------------------------------------------------ rules
@pytest.mark.parametrize(
    ("moves", "returns"),
    [
        ([0, 3, 1, 4, 2], [1, -1]),  # X: top row
        ([0, 1, 3, 2, 6], [1, -1]),  # X: left column
        ([1, 0, 2, 4, 3, 8], [-1, 1]),  # O: main diagonal
        ([0, 2, 1, 4, 3, 6], [-1, 1]),  # O: anti-diagonal
        ([0, 4, 8, 1, 7, 6, 2, 5, 3], [0, 0]),  # full board, no line
    ],
)
def test_lines_win_and_a_full_board_draws(moves, returns):
    g, s = play(moves)
    assert g.is_terminal(s) and g.current_player(s) == -1 and g.legal_actions(s) == []
    assert g.returns(s) == returns


def test_a_line_made_on_the_ninth_move_wins():
    g, s = play([0, 1, 2, 4, 5, 3, 7, 6, 8])  # X: a1 c1 c2 b3, then c3 completes column c on a full board
    assert len(s.history) == 9 and s.winner == 0 and g.returns(s) == [1.0, -1.0]
    g, s = play([4, 0, 2, 6, 3, 5, 1, 7, 8])  # the same count of moves without a line: a draw
    assert s.winner == -1 and g.is_terminal(s) and g.returns(s) == [0.0, 0.0]


def test_taken_cell_is_illegal_with_a_reason():
    g, s = play([4])
    assert 4 not in g.legal_actions(s)
    assert g.illegal_reason(s, 4) == "b2 is taken (it holds an X); pick an empty cell"


# ------------------------------------------------------------------ OpenSpiel
def test_lockstep_with_openspiel():
    """Random games in both engines agree on the player to move, legal actions, board and payoffs."""
    pyspiel = pytest.importorskip("pyspiel")
    game = pyspiel.load_game("tic_tac_toe")
    rng = np.random.default_rng(0)
    outcomes = set()
    for episode in range(300):
        text = episode % 2 == 1  # text mode plays the cell's word, vector mode its id
        ours = te.make_aec(ENV_ID, obs_mode="text" if text else "vector")
        ours.reset(seed=episode)
        theirs = game.new_initial_state()
        while not theirs.is_terminal():
            agent = ours.agent_selection
            assert agent == f"player_{theirs.current_player()}"
            info = ours.infos[agent]
            assert info["legal_action_ids"] == theirs.legal_actions()
            assert ours.session.game.board_string(ours.session.state) == str(theirs).replace("\n", "")
            a = theirs.legal_actions()[rng.integers(len(theirs.legal_actions()))]
            theirs.apply_action(a)
            ours.step(CELL_NAMES[a] if text else a)
            assert ours.infos[agent]["action_valid"]
        assert all(ours.terminations.values()) and not any(ours.truncations.values())
        assert ours.infos["player_0"]["returns"] == theirs.returns()
        assert ours.session.game.board_string(ours.session.state) == str(theirs).replace("\n", "")
        outcomes.add(tuple(theirs.returns()))
    assert outcomes == {(1.0, -1.0), (-1.0, 1.0), (0.0, 0.0)}  # wins of both seats and draws were compared


def test_solver_values_agree_with_openspiel_minimax():
    pyspiel = pytest.importorskip("pyspiel")
    from open_spiel.python.algorithms.minimax import alpha_beta_search

    game = pyspiel.load_game("tic_tac_toe")
    assert tictactoe_value(0, 0) == 0  # perfect play draws
    rng = np.random.default_rng(1)
    g = TicTacToeGame()
    for _ in range(150):
        theirs, s = game.new_initial_state(), g.new_state()
        for _ in range(rng.integers(0, 8)):
            if theirs.is_terminal():
                break
            a = theirs.legal_actions()[rng.integers(len(theirs.legal_actions()))]
            theirs.apply_action(a)
            g.apply_action(s, a)
        if theirs.is_terminal():
            continue
        mover = theirs.current_player()
        value, _ = alpha_beta_search(game, state=theirs, maximizing_player_id=mover)
        x, o = masks(s)
        own, other = (x, o) if mover == 0 else (o, x)
        assert np.sign(tictactoe_value(own, other)) == value
        # Every move the solver rates best keeps the game-theoretic value.
        values = tictactoe_move_values(own, other)
        for a in (a for a, v in values.items() if v == max(values.values())):
            child = theirs.clone()
            child.apply_action(a)
            if not child.is_terminal():
                assert alpha_beta_search(game, state=child, maximizing_player_id=mover)[0] == value


# ------------------------------------------------------------------ the solver as an opponent
def random_episode(env, seed):
    """One episode of a uniformly random learner; returns the learner's total reward."""
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng(seed + 1000)
    total, done = 0.0, False
    while not done:
        ids = info["legal_action_ids"]
        obs, r, term, trunc, info = env.step(ids[rng.integers(len(ids))])
        total += r
        done = term or trunc
    assert term and not trunc
    return total


def test_solver_never_loses_to_random_in_either_seat():
    results = []
    for seat in (0, 1):
        env = gym.make(ENV_ID, opponents=["solver"], seat=seat, obs_mode="vector")
        results += [random_episode(env, seed) for seed in range(150)]
    assert max(results) <= 0.0  # the random learner never wins
    assert results.count(-1.0) >= 0.75 * len(results)  # and the solver converts most of its mistakes


def test_solver_against_itself_always_draws():
    solver = TicTacToeSolver(seed=0)
    rng = np.random.default_rng(0)
    firsts = set()
    for episode in range(40):
        env = te.make_aec(ENV_ID, obs_mode="vector")
        env.reset(seed=episode)
        for _ in env.agent_iter():
            obs, _, term, trunc, info = env.last()
            env.step(None if term or trunc else solver.act([obs], [info], rng=rng)[0])
        assert env.session.final_returns == [0.0, 0.0]
        firsts.add(env.session.state.history[0])
    assert len(firsts) > 3  # ties are broken at random, so the games differ


def test_solver_takes_a_win_and_blocks_a_loss():
    solver = TicTacToeSolver(seed=0)
    for moves, best in (([0, 3, 1, 4], 2),  # X a1 b1, O a2 b2: X wins at c1 (and would lose at c2 otherwise)
                        ([0, 3, 1], 2)):  # X a1 b1, O a2: O must block c1
        env = te.make_aec(ENV_ID, obs_mode="vector")
        env.reset(seed=0)
        for a in moves:
            env.step(a)
        obs, _, _, _, info = env.last()
        assert [solver.act([obs], [info], rng=np.random.default_rng(k))[0] for k in range(5)] == [best] * 5


def test_solver_is_reproducible_from_the_env_rng():
    def rollout(seed):
        env = gym.make(ENV_ID, opponents="solver", seat=1)
        obs, info = env.reset(seed=seed)
        moves = [obs]
        obs, *_ = env.step(info["admissible_actions"][-1])
        moves.append(obs)
        return moves

    runs = [rollout(seed) for seed in range(12)]
    assert runs == [rollout(seed) for seed in range(12)]
    assert len({r[0] for r in runs}) > 1  # the solver's tie-breaks do differ between seeds (X's first move)


def test_solver_reads_vector_observations_only():
    with pytest.raises(TypeError, match="obs_mode='vector'"):
        TicTacToeSolver().act(["a text board"], [{"legal_action_ids": [0]}])
    assert TicTacToeSolver().act([{"observation": np.zeros(29), "action_mask": np.zeros(9)}], [{}]) == [None]


@pytest.mark.parametrize("mode", ["text", "vector"])
def test_conformance_against_the_solver(mode):
    # The registry-wide sweep (tests/envs/test_conformance.py) plays the default random opponent.
    te.check_env(gym.make(ENV_ID, obs_mode=mode, opponents=["solver"], seat="random"))


def test_opponent_names():
    env = gym.make(ENV_ID, opponents=["solver"]).unwrapped
    assert isinstance(env.opponents[0], TicTacToeSolver)
    with pytest.raises(ConfigError, match="'random', 'solver'") as err:
        gym.make(ENV_ID, opponents=["solve"])
    assert "Did you mean 'solver'" in str(err.value)
    with pytest.raises(ConfigError):
        gym.make(ENV_ID, opponents="search")  # Connect Four's opponent, not tic-tac-toe's
    assert isinstance(te.make("turngym/ConnectFour-v0", opponents="search").opponents[0], ConnectFourSearch)


def test_expert_never_loses_in_text_mode():
    for seat in (0, 1):
        env = gym.make(ENV_ID, seat=seat)
        expert = tictactoe_expert(ENV_ID, seed=seat)
        for seed in range(30):
            obs, info = env.reset(seed=seed)
            done = False
            while not done:
                word = expert(env, obs, info)
                assert word in info["admissible_actions"]
                obs, r, term, trunc, info = env.step(f"<action>{word}</action>")
                done = term or trunc
            assert term and r >= 0.0


# ------------------------------------------------------------------ observations and input
def test_vector_observation_layout():
    env = te.make_aec(ENV_ID, obs_mode="vector")
    env.reset(seed=0)
    for a in (4, 0, 8):
        env.step(a)
    for seat in (0, 1):
        vec = env.observe(f"player_{seat}")["observation"]
        assert vec.shape == (29,) and vec[seat] == 1 and vec[1 - seat] == 0
        planes = vec[2:].reshape(3, 9)
        assert np.all(planes.sum(axis=0) == 1)  # each cell is exactly one of own / other / empty
        own, other = decode_planes(vec, 9)
        x, o = 1 << 4 | 1 << 8, 1 << 0
        assert (own, other) == ((x, o) if seat == 0 else (o, x))
    assert env.observe("player_1")["action_mask"].tolist() == [0, 1, 1, 1, 0, 1, 1, 1, 0]


@pytest.mark.parametrize("word", ["b2", "B2", " b2. ", "I think... <action>b2</action>", "[b2]", "2b", "[ B2 ]"])
def test_accepted_action_forms(word):
    env = gym.make(ENV_ID, seat=0)
    env.reset(seed=0)
    _, _, _, _, info = env.step(word)
    assert info["action_valid"] and env.unwrapped.session.state.board[4] == 0


def test_hostile_actions_are_invalid_and_change_nothing():
    hostile = [a for _, a in bad_inputs(0)] + [
        "x" * (10 << 20), "b2" * 40, "d4", "a0", "<action>b2", b"\xff\xfe", bytearray(b"b2"), 10**30, -1, 9,
        2.0, True, np.bool_(True), np.array([1, 2]), {"cell": "b2"}, ["b2"], object(),
    ]
    for mode in ("text", "vector"):
        env = gym.make(ENV_ID, seat=0, obs_mode=mode, max_turns=len(hostile) + 5, invalid_action_penalty=-0.1)
        env.reset(seed=3)
        _, _, _, _, info = env.step(4)
        snap, key, turn = env.unwrapped.get_state(), info["state_key"], 1
        board = list(env.unwrapped.session.state.board)
        for action in hostile:
            obs, r, term, trunc, info = env.step(action)
            turn += 1
            assert info["action_valid"] is False and info["error"] and r == -0.1, action
            assert not term and not trunc and info["turn"] == turn
            assert env.unwrapped.session.state.board == board
            assert info["state_key"] == key
        if mode == "text":
            assert obs.startswith("Invalid action:")
        env.unwrapped.set_state(snap)  # the snapshot taken before the battery still restores
        _, _, _, _, info = env.step("b2")  # taken: a specific reason
        assert info["error"] == "b2 is taken (it holds an X); pick an empty cell"
        _, r, _, _, info = env.step(np.int64(info["legal_action_ids"][0]))  # numpy ids are ids
        assert info["action_valid"] and r == 0.0


def test_forged_histories_are_rejected():
    env = te.make_aec(ENV_ID)
    env.reset(seed=0)
    env.step("b2")
    snap = json.loads(env.get_state())
    for history in ([4, 4], [0, 3, 1, 4, 2, 5], [9], [-1], [0] * 10, "04"):
        snap["session"]["game"]["history"] = history
        with pytest.raises(SnapshotError):
            env.set_state(json.dumps(snap).encode())
    snap["session"]["game"]["history"] = [4, 0]
    snap["session"]["turn"] = 2
    snap["agent_selection"] = "player_0"
    env.set_state(json.dumps(snap).encode())
    assert env.session.state.board[:5] == [1, -1, -1, -1, 0]


def test_registration():
    info = te.env_info(ENV_ID)
    assert (info.family, info.modes, info.kinds) == ("boardgames", ("text", "vector"), ("gymnasium", "aec"))
    assert info.train_kwargs == {"obs_mode": "text", "opponents": ["random"], "seat": "random"}
    assert {e.id for e in te.list_envs("boardgames")} == {ENV_ID, "turngym/ConnectFour-v0"}
    env = gym.make(ENV_ID, **info.train_kwargs)
    _, first = env.reset(seed=0)
    assert first["task"]["id"] == f"{ENV_ID}/seed=0/seat={first['seat']}"
