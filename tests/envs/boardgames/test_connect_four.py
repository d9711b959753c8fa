"""Connect Four: known-answer rules, lockstep with OpenSpiel, the alpha-beta search, bad input, snapshots."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

import turngym.envs as te
from turngym.envs import ConfigError, SnapshotError
from turngym.envs.boardgames.connect_four import COLUMN_NAMES, ConnectFourGame
from turngym.envs.boardgames.solvers import (
    WIN,
    ConnectFourSearch,
    connect_four_best_moves,
    connect_four_bitboards,
    connect_four_expert,
    connect_four_heuristic,
    connect_four_value,
)
from turngym.envs.core.checker import bad_inputs

ENV_ID = "turngym/ConnectFour-v0"
#: A full board without four in a line (found by random play in OpenSpiel, which scores it 0 / 0).
DRAW = [5, 5, 5, 0, 5, 4, 4, 6, 6, 3, 5, 1, 3, 5, 2, 1, 2, 3, 0, 4, 1, 4, 3, 0, 2, 2, 2, 1, 0, 0, 0, 2, 1, 6, 1, 3,
        4, 4, 3, 6, 6, 6]


def play(moves):
    g = ConnectFourGame()
    s = g.new_state()
    for a in moves:
        assert a in g.legal_actions(s), (a, s)
        g.apply_action(s, a)
    return g, s


def openspiel_returns(moves):
    pyspiel = pytest.importorskip("pyspiel")
    s = pyspiel.load_game("connect_four").new_initial_state()
    for a in moves:
        s.apply_action(a)
    assert s.is_terminal()
    return s.returns()


# ------------------------------------------------------------------ rules
@pytest.mark.parametrize(
    ("moves", "returns"),
    [
        ([0, 1, 0, 1, 0, 1, 0], [1, -1]),  # X: column a
        ([0, 0, 1, 1, 2, 2, 3], [1, -1]),  # X: bottom row a-d
        ([6, 0, 6, 1, 6, 2, 0, 3], [-1, 1]),  # O: bottom row a-d while X stacks column g
        ([0, 1, 1, 2, 3, 2, 2, 3, 4, 3, 3], [1, -1]),  # X: diagonal a1-d4
        ([6, 5, 5, 4, 3, 4, 4, 3, 2, 3, 3], [1, -1]),  # X: anti-diagonal g1-d4
        (DRAW, [0, 0]),
    ],
)
def test_lines_win_and_a_full_board_draws(moves, returns):
    g, s = play(moves)
    assert g.is_terminal(s) and g.current_player(s) == -1 and g.legal_actions(s) == []
    assert g.returns(s) == returns == openspiel_returns(moves)


def test_full_column_is_illegal_with_a_reason():
    g, s = play([3] * 6)
    assert g.legal_actions(s) == [0, 1, 2, 4, 5, 6]
    assert g.illegal_reason(s, 3) == "column d is full; pick a column with room"


# ------------------------------------------------------------------ OpenSpiel
def test_lockstep_with_openspiel():
    """Random games in both engines agree on the player to move, legal actions, board and payoffs."""
    pyspiel = pytest.importorskip("pyspiel")
    game = pyspiel.load_game("connect_four")
    rng = np.random.default_rng(0)
    outcomes = set()
    for episode in range(200):
        text = episode % 2 == 1  # text mode plays the column's letter, vector mode its id
        ours = te.make_aec(ENV_ID, obs_mode="text" if text else "vector")
        ours.reset(seed=episode)
        theirs = game.new_initial_state()
        while not theirs.is_terminal():
            agent = ours.agent_selection
            assert agent == f"player_{theirs.current_player()}"
            assert ours.infos[agent]["legal_action_ids"] == theirs.legal_actions()
            a = theirs.legal_actions()[rng.integers(len(theirs.legal_actions()))]
            theirs.apply_action(a)
            ours.step(COLUMN_NAMES[a] if text else a)
            assert ours.infos[agent]["action_valid"]
        assert all(ours.terminations.values()) and not any(ours.truncations.values())
        assert ours.infos["player_0"]["returns"] == theirs.returns()
        assert ours.session.game.board_string(ours.session.state) == str(theirs).strip()
        outcomes.add(tuple(theirs.returns()))
    assert outcomes == {(1.0, -1.0), (-1.0, 1.0)}  # wins of both seats were compared (draws: DRAW above)


# ------------------------------------------------------------------ the search
def bitboards(s, player):
    """(player's stones, the other's) of a rules state, through the vector observation the search reads."""
    g = ConnectFourGame()
    out = np.zeros(g.obs_size, dtype=np.float32)
    g.encode(s, player, out)
    return connect_four_bitboards(out)


def reference_value(g, s, depth):
    """Plain depth-limited negamax over the rules (no pruning, no bitboards): the loop reference."""
    mover = g.current_player(s)
    if g.is_terminal(s):
        return 0  # only draws are reached: a winning move is scored where it is made
    if depth == 0:
        return connect_four_heuristic(*bitboards(s, mover))
    return max(reference_move_scores(g, s, depth).values())


def reference_move_scores(g, s, depth):
    scores = {}
    for c in g.legal_actions(s):
        child = g.copy_state(s)
        g.apply_action(child, c)
        scores[c] = WIN + depth if child.winner >= 0 else -reference_value(g, child, depth - 1)
    return scores


def test_alpha_beta_matches_plain_negamax():
    g = ConnectFourGame()
    rng = np.random.default_rng(2)
    checked = 0
    while checked < 25:
        s = g.new_state()
        for _ in range(rng.integers(4, 30)):
            if g.is_terminal(s):
                break
            g.apply_action(s, int(rng.choice(g.legal_actions(s))))
        if g.is_terminal(s):
            continue
        own, other = bitboards(s, g.current_player(s))
        scores = reference_move_scores(g, s, 3)
        best = max(scores.values())
        assert connect_four_value(own, other, 3) == best
        assert connect_four_best_moves(own, other, g.legal_actions(s), 3) == [c for c, v in scores.items() if v == best]
        checked += 1


def test_search_wins_at_once_blocks_and_sees_a_forced_win():
    search = ConnectFourSearch()
    g = ConnectFourGame()
    _, s = play([0, 0, 1, 1, 2, 2])  # X a1 b1 c1: X wins at d1
    assert connect_four_best_moves(*bitboards(s, 0), g.legal_actions(s)) == [3]
    _, s = play([0, 0, 1, 1, 2])  # O must block d1
    assert connect_four_best_moves(*bitboards(s, 1), g.legal_actions(s)) == [3]
    _, s = play([2, 2, 3, 3])  # X c1 d1 with a1, b1, e1, f1 open: b1 or e1 makes an open three, a win in 3 plies
    own, other = bitboards(s, 0)
    assert connect_four_value(own, other, 3) == WIN + 1
    assert connect_four_best_moves(own, other, g.legal_actions(s)) == [1, 4]
    obs = np.zeros(g.obs_size, dtype=np.float32)
    g.encode(s, 0, obs)
    picks = {search.act([obs], [{"legal_action_ids": g.legal_actions(s)}], rng=np.random.default_rng(k))[0]
             for k in range(20)}
    assert picks == {1, 4}  # ties broken by the rng it is given


def test_search_beats_random_in_both_seats():
    results = []
    for seat in (0, 1):
        env = gym.make(ENV_ID, opponents=["search"], seat=seat, obs_mode="vector")
        for seed in range(30):
            obs, info = env.reset(seed=seed)
            rng = np.random.default_rng(seed + 1000)
            done = False
            while not done:
                ids = info["legal_action_ids"]
                obs, r, term, trunc, info = env.step(ids[rng.integers(len(ids))])
                done = term or trunc
            assert term
            results.append(r)
    assert results.count(-1.0) >= 0.9 * len(results)  # the random learner loses at least 90% of 60 games


def test_deeper_search_beats_a_shallow_one():
    first_wins = []
    for game in range(12):
        deep, shallow = ConnectFourSearch(4), ConnectFourSearch(1)
        players = (deep, shallow) if game % 2 == 0 else (shallow, deep)
        env = te.make_aec(ENV_ID, obs_mode="vector")
        env.reset(seed=game)
        rng = np.random.default_rng(game)
        for agent in env.agent_iter():
            obs, _, term, trunc, info = env.last()
            env.step(None if term or trunc else players[int(agent[-1])].act([obs], [info], rng=rng)[0])
        first_wins.append(env.session.final_returns[game % 2] > 0)  # the deep search's seat
    assert sum(first_wins) >= 10


def test_search_is_reproducible_and_checks_its_depth():
    def rollout(seed):
        env = gym.make(ENV_ID, opponents="search", seat=1, obs_mode="vector")
        obs, info = env.reset(seed=seed)
        boards = [obs["observation"].tolist()]
        done = False
        while not done:
            obs, _, term, trunc, info = env.step(info["legal_action_ids"][-1])
            boards.append(obs["observation"].tolist())
            done = term or trunc
        return boards

    runs = [rollout(s) for s in range(8)]
    assert runs == [rollout(s) for s in range(8)]
    assert len({json.dumps(r) for r in runs}) > 1  # the search's tie-breaks follow the env's seed
    for depth in (0, -1, 2.5, "4", True):
        with pytest.raises(ConfigError, match="depth"):
            ConnectFourSearch(depth)


@pytest.mark.parametrize("mode", ["text", "vector"])
def test_conformance_against_the_search(mode):
    # The registry-wide sweep (tests/envs/test_conformance.py) plays the default random opponent.
    te.check_env(gym.make(ENV_ID, obs_mode=mode, opponents=["search"], seat="random"))


def test_opponent_names():
    with pytest.raises(ConfigError, match="'random', 'search'") as err:
        gym.make(ENV_ID, opponents=["serach"])
    assert "Did you mean 'search'" in str(err.value)
    with pytest.raises(ConfigError):
        gym.make(ENV_ID, opponents="solver")  # tic-tac-toe's opponent


def test_expert_beats_random_in_text_mode():
    wins = 0
    for seat in (0, 1):
        env = gym.make(ENV_ID, seat=seat)
        expert = connect_four_expert(ENV_ID, seed=seat)
        for seed in range(10):
            obs, info = env.reset(seed=seed)
            done = False
            while not done:
                word = expert(env, obs, info)
                assert word in info["admissible_actions"]
                obs, r, term, trunc, info = env.step(f"[{word}]")
                done = term or trunc
            wins += r > 0
    assert wins >= 18


# ------------------------------------------------------------------ observations and input
def test_vector_observation_layout():
    env = te.make_aec(ENV_ID, obs_mode="vector")
    env.reset(seed=0)
    for a in (3, 3, 4):
        env.step(a)
    vec = env.observe("player_1")["observation"]
    assert vec.shape == (128,) and vec[:2].tolist() == [0, 1]
    own, other, empty = vec[2:].reshape(3, 6, 7)  # row 0 at the bottom
    assert own[1, 3] == 1 and own.sum() == 1
    assert other[0, 3] == other[0, 4] == 1 and other.sum() == 2
    assert empty.sum() == 39
    env.step(0)
    for _ in range(5):
        env.step(0)
    assert env.observe(env.agent_selection)["action_mask"].tolist() == [0, 1, 1, 1, 1, 1, 1]


@pytest.mark.parametrize("word", ["d", "D", "[d]", "column d", "<action>Column  D</action>", "d."])
def test_accepted_action_forms(word):
    env = gym.make(ENV_ID, seat=0)
    env.reset(seed=0)
    _, _, _, _, info = env.step(word)
    assert info["action_valid"] and env.unwrapped.session.state.board[3] == 0


def test_hostile_actions_are_invalid_and_change_nothing():
    hostile = [a for _, a in bad_inputs(0)] + [
        "x" * (10 << 20), "h", "column h", "0", "7", "<action>d", b"\xff\xfe", 10**30, -1, 7, 2.0, True,
        np.bool_(True), np.array([1, 2]), {"column": "d"}, ["d"], object(),
    ]
    for mode in ("text", "vector"):
        env = gym.make(ENV_ID, seat=0, obs_mode=mode, max_turns=len(hostile) + 20, invalid_action_penalty=-0.1)
        env.reset(seed=3)
        _, _, _, _, info = env.step(3)
        snap, key, turn = env.unwrapped.get_state(), info["state_key"], 1
        board = list(env.unwrapped.session.state.board)
        for action in hostile:
            obs, r, term, trunc, info = env.step(action)
            turn += 1
            assert info["action_valid"] is False and info["error"] and r == -0.1, action
            assert not term and not trunc and info["turn"] == turn and info["state_key"] == key
            assert env.unwrapped.session.state.board == board
        if mode == "text":
            assert obs.startswith("Invalid action:")
        env.unwrapped.set_state(snap)


def test_full_column_in_the_env():
    env = te.make_aec(ENV_ID)
    env.reset(seed=0)
    for _ in range(6):
        env.step("d")
    env.step("d")
    info = env.infos[env.agent_selection]
    assert info["action_valid"] is False and info["error"] == "column d is full; pick a column with room"
    assert "d" not in info["admissible_actions"]
    assert env.observe(env.agent_selection).startswith("Invalid action: column d is full")


def test_forged_histories_are_rejected():
    env = te.make_aec(ENV_ID)
    env.reset(seed=0)
    env.step("d")
    snap = json.loads(env.get_state())
    for history in ([3] * 7, [0, 1, 0, 1, 0, 1, 0, 1], [7], [-1], DRAW + [0], "3", [3.0]):
        snap["session"]["game"]["history"] = history
        with pytest.raises(SnapshotError):
            env.set_state(json.dumps(snap).encode())
    snap["session"]["game"]["history"] = [3, 3]
    snap["session"]["turn"] = 2
    snap["agent_selection"] = "player_0"
    env.set_state(json.dumps(snap).encode())
    assert env.session.state.heights[3] == 2 and env.infos["player_0"]["legal_action_ids"] == list(range(7))


def test_registration():
    info = te.env_info(ENV_ID)
    assert (info.family, info.modes, info.kinds) == ("boardgames", ("text", "vector"), ("gymnasium", "aec"))
    assert info.expert == "turngym.envs.boardgames.solvers:connect_four_expert"
