"""Rules and contract of repeated rock-paper-scissors (Parallel form and single-agent view)."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

import turngym.envs as te
from turngym.envs import ConfigError, SnapshotError
from turngym.envs.dilemmas.matrix import RepeatedMatrixGame
from turngym.envs.dilemmas.rps import ENV_ID, PAPER, ROCK, SCISSORS

NAMES = ("rock", "paper", "scissors")
P0, P1 = "player_0", "player_1"


def expected_payoff(a0: int, a1: int) -> int:
    """Player 0's payoff, written from the rules rather than the table: X beats the move before it."""
    beats = {"rock": "scissors", "scissors": "paper", "paper": "rock"}
    if a0 == a1:
        return 0
    return 1 if beats[NAMES[a0]] == NAMES[a1] else -1


def play(env, moves):
    """Plays (a0, a1) pairs; returns the step outputs of the last one."""
    out = None
    for a0, a1 in moves:
        out = env.step({P0: a0, P1: a1})
    return out


class Always:
    """Opponent that always plays one move (by word), and records what it was shown."""

    def __init__(self, word, obs_mode="text"):
        self.word, self.obs_mode, self.seen = word, obs_mode, []

    def act(self, observations, infos):
        self.seen.extend(zip(observations, infos, strict=True))
        return [self.word] * len(observations)


# ------------------------------------------------------------------------------------------- payoffs
@pytest.mark.parametrize("a0", range(3))
@pytest.mark.parametrize("a1", range(3))
def test_payoff_of_every_cell(a0, a1):
    env = te.make_parallel(ENV_ID, rounds=1, obs_mode="vector")
    env.reset(seed=0)
    _, rewards, terms, truncs, infos = env.step({P0: a0, P1: a1})
    u = expected_payoff(a0, a1)
    assert rewards == {P0: float(u), P1: float(-u)}
    assert terms == {P0: True, P1: True} and truncs == {P0: False, P1: False}
    assert infos[P0]["returns"] == [u, -u]
    assert infos[P0]["success"] is (u > 0) and infos[P1]["success"] is (u < 0)


def test_rewards_are_per_round_and_returns_sum_them():
    env = te.make_parallel(ENV_ID, rounds=4)
    env.reset(seed=0)
    seen = []
    for a0, a1 in [("rock", "scissors"), ("rock", "paper"), ("paper", "rock"), ("scissors", "scissors")]:
        _, rewards, _, _, infos = env.step({P0: a0, P1: a1})
        seen.append(rewards[P0])
    assert seen == [1.0, -1.0, 1.0, 0.0]
    assert infos[P0]["returns"] == [1.0, -1.0] and infos[P0]["success"] is True
    assert infos[P1]["success"] is False


# ---------------------------------------------------------------------------------------- observations
def test_text_observation_shows_history_and_score_from_each_seat():
    env = te.make_parallel(ENV_ID, rounds=3)
    env.reset(seed=0)
    obs, *_ = play(env, [("rock", "paper"), ("scissors", "paper")])
    assert "round 1: you rock, opponent paper -> you -1" in obs[P0]
    assert "round 2: you scissors, opponent paper -> you +1" in obs[P0]
    assert "round 1: you paper, opponent rock -> you +1" in obs[P1]
    assert "Score: you 0, opponent 0." in obs[P0]
    assert "Round 3 of 3" in obs[P0] and "Legal actions: rock, paper, scissors." in obs[P0]
    obs, *_ = env.step({P0: "rock", P1: "paper"})
    assert "Score: you -1, opponent +1." in obs[P0]
    assert "Game over after 3 rounds: you lost" in obs[P0] and "you won" in obs[P1]
    assert "Legal actions" not in obs[P0]


def test_vector_observation_is_an_egocentric_one_hot_history_and_round_counter():
    env = te.make_parallel(ENV_ID, rounds=3, obs_mode="vector")
    obs, _ = env.reset(seed=0)
    assert env.observation_space(P0)["observation"].shape == (3 * 6 + 1,)
    assert not obs[P0]["observation"].any() and obs[P0]["action_mask"].tolist() == [1, 1, 1]
    obs, *_ = play(env, [(ROCK, PAPER), (SCISSORS, SCISSORS)])
    v0, v1 = obs[P0]["observation"], obs[P1]["observation"]
    expect0 = np.zeros(19, np.float32)
    expect0[[0 + ROCK, 3 + PAPER, 6 + SCISSORS, 9 + SCISSORS]] = 1
    expect0[-1] = 2 / 3
    expect1 = np.zeros(19, np.float32)
    expect1[[0 + PAPER, 3 + ROCK, 6 + SCISSORS, 9 + SCISSORS]] = 1  # own move first
    expect1[-1] = 2 / 3
    np.testing.assert_allclose(v0, expect0)
    np.testing.assert_allclose(v1, expect1)
    obs, *_ = env.step({P0: PAPER, P1: ROCK})
    assert obs[P0]["observation"][-1] == 1.0 and obs[P0]["action_mask"].tolist() == [0, 0, 0]
    assert all(env.observation_space(a).contains(o) for a, o in obs.items())


# ------------------------------------------------------------------------------------------ state keys
def keys_after(moves, rounds=5, seed=0):
    env = te.make_parallel(ENV_ID, rounds=rounds)
    _, infos = env.reset(seed=seed)
    for a0, a1 in moves:
        *_, infos = env.step({P0: a0, P1: a1})
    return infos[P0]["state_key"], infos[P1]["state_key"]


def test_state_key_is_equal_for_equal_histories_and_different_otherwise():
    h = [(ROCK, PAPER), (SCISSORS, ROCK)]
    k0, k1 = keys_after(h)
    assert keys_after(h, seed=123) == (k0, k1)  # the seed does not matter, only the information state
    assert k0 != k1  # the seats saw different (egocentric) histories
    # Symmetric game: seat 1 with seat 0's egocentric history shares seat 0's key.
    mirrored = [(b, a) for a, b in h]
    assert keys_after(mirrored)[1] == k0
    assert keys_after([(ROCK, PAPER)])[0] != k0  # another round
    assert keys_after(list(reversed(h)))[0] != k0  # same moves, other order
    assert keys_after([(ROCK, PAPER), (SCISSORS, PAPER)])[0] != k0  # opponent's move differs
    assert keys_after(h, rounds=6)[0] != k0  # another horizon is another decision situation
    assert len({keys_after([])[0], keys_after([(ROCK, ROCK)])[0], keys_after([(ROCK, ROCK)] * 2)[0]}) == 3


def test_asymmetric_matrix_games_keep_the_seat_in_the_key():
    # Battle of the sexes: the seats value the outcomes differently, so equal histories are not equal states.
    bos = RepeatedMatrixGame("Battle of the sexes", ("opera", "football"),
                             [[(2, 1), (0, 0)], [(0, 0), (1, 2)]], rounds=2)
    rps = te.make_parallel(ENV_ID).game
    assert not bos.symmetric and rps.symmetric
    s = bos.new_state()
    assert bos.info_encoding(s, 0) != bos.info_encoding(s, 1)
    assert "player 0, player 1" in bos.rules and "opera, football: 0, 0" in bos.rules
    with pytest.raises(ConfigError, match="payoffs"):
        RepeatedMatrixGame("bad", ("a", "b"), [[1, 2], [3, 4]], rounds=2)


# ------------------------------------------------------------------------------------------ episode end
def test_rounds_horizon_terminates_not_truncates():
    env = te.make_parallel(ENV_ID, rounds=3, max_turns=50)
    env.reset(seed=0)
    for t in range(3):
        assert env.agents == [P0, P1]
        _, _, terms, truncs, infos = env.step({P0: "rock", P1: "rock"})
        assert infos[P0]["turn"] == t + 1
    assert terms == {P0: True, P1: True} and truncs == {P0: False, P1: False}
    assert env.agents == []
    with pytest.raises(RuntimeError, match="reset"):
        env.step({P0: "rock", P1: "rock"})


def test_max_turns_truncates_distinct_from_termination():
    env = te.make_parallel(ENV_ID, rounds=5, max_turns=3)
    env.reset(seed=0)
    _, _, terms, truncs, infos = play(env, [("rock", "paper")] * 3)
    assert truncs == {P0: True, P1: True} and terms == {P0: False, P1: False}
    assert infos[P0]["success"] is False and "returns" not in infos[P0]
    assert env.agents == []
    # Void steps count toward the cap too.
    single = gym.make(ENV_ID, rounds=5, max_turns=2)
    single.reset(seed=0)
    single.step("hmm")
    _, _, term, trunc, info = single.step("")
    assert trunc and not term and info["turn"] == 2 and info["success"] is False
    assert te.make(ENV_ID, rounds=7).session.max_turns == 14  # default: twice the horizon


# ------------------------------------------------------------------------------------------ bad input
def test_invalid_action_voids_the_step_and_leaves_the_other_player_unaffected():
    env = te.make_parallel(ENV_ID, rounds=3, invalid_action_penalty=-0.5)
    env.reset(seed=0)
    play(env, [("rock", "paper")])
    before = json.loads(env.get_state())
    obs, rewards, terms, truncs, infos = env.step({P0: "I choose the boulder", P1: "scissors"})
    after = json.loads(env.get_state())
    assert after["session"]["game"] == before["session"]["game"]  # no round was played
    assert after["rng"] == before["rng"]
    assert infos[P0]["turn"] == infos[P1]["turn"] == 2  # the turn was consumed
    assert infos[P0]["action_valid"] is False and "unknown action" in infos[P0]["error"]
    assert infos[P1]["action_valid"] is True and "error" not in infos[P1]
    assert rewards == {P0: -0.5, P1: 0.0}
    assert not any(terms.values()) and not any(truncs.values())
    assert obs[P0].startswith("Invalid action: unknown action") and "Legal actions: rock, paper, scissors." in obs[P0]
    assert "not played because the action of player 0 was invalid" in obs[P1]
    assert "Invalid action" not in obs[P1]
    # The same joint step played validly afterwards is round 2, as if nothing had happened.
    obs, rewards, *_ , infos = env.step({P0: "rock", P1: "scissors"})
    assert rewards == {P0: 1.0, P1: -1.0}
    assert "round 2: you rock, opponent scissors" in obs[P0] and "Invalid action" not in obs[P0]
    assert "not played" not in obs[P1] and infos[P0]["action_valid"] is True


@pytest.mark.parametrize("bad", ["", "x" * (1 << 20), None, 3.0, True, -1, 3, np.int64(7), b"rock",
                                 "<action>rock paper</action>", "\ud800"])
def test_bad_inputs_are_invalid_and_never_raise(bad):
    env = te.make_parallel(ENV_ID, obs_mode="vector")
    _, infos0 = env.reset(seed=0)
    _, _, _, _, infos = env.step({P0: ROCK, P1: bad})
    assert infos[P1]["action_valid"] is False and isinstance(infos[P1]["error"], str)
    assert infos[P0]["action_valid"] is True
    assert infos[P1]["state_key"] == infos0[P1]["state_key"]


def test_accepted_action_forms():
    env = te.make_parallel(ENV_ID, rounds=6, obs_mode="vector")
    env.reset(seed=0)
    forms = [("  Rock. ", np.int64(1)), ("<think>paper?</think><action>scissors</action>", "[r]"),
             ("P", 2)]
    for a0, a1 in forms:
        *_, infos = env.step({P0: a0, P1: a1})
        assert infos[P0]["action_valid"] and infos[P1]["action_valid"], (a0, a1)


def test_missing_and_unknown_agents():
    env = te.make_parallel(ENV_ID)
    obs, _ = env.reset(seed=0)
    obs, rewards, _, _, infos = env.step({P0: "rock"})
    assert infos[P1]["action_valid"] is False and "no action" in infos[P1]["error"]
    assert infos[P0]["action_valid"] is True and rewards == {P0: 0.0, P1: 0.0}
    with pytest.raises(ValueError, match="unknown agent"):
        env.step({P0: "rock", P1: "rock", "player_2": "rock"})


# ------------------------------------------------------------------------------------------ snapshots
def test_snapshot_round_trip_same_and_fresh_env():
    env = te.make_parallel(ENV_ID, rounds=6)
    env.reset(seed=5)
    play(env, [("rock", "paper"), ("bad", "rock")])
    snap = env.get_state()
    assert json.loads(snap)["env_id"] == ENV_ID  # JSON, not pickle
    tail = [("paper", "paper"), ("scissors", "rock"), ("", "rock"), ("rock", "scissors")]
    first = [env.step({P0: a, P1: b}) for a, b in tail]
    env.set_state(snap)
    assert env.get_state() == snap
    again = [env.step({P0: a, P1: b}) for a, b in tail]
    fresh = te.make_parallel(ENV_ID, rounds=6)
    fresh.reset(seed=99)
    fresh.set_state(snap)
    third = [fresh.step({P0: a, P1: b}) for a, b in tail]
    assert first == again == third
    assert "Invalid action" in first[2][0][P0]
    with pytest.raises(SnapshotError):
        env.set_state(b"\x80\x04 not a snapshot")
    with pytest.raises(SnapshotError):
        te.make_parallel(ENV_ID, rounds=2).set_state(fresh.get_state())  # 4 rounds do not fit a 2-round game
    kuhn = te.make_aec("turngym/KuhnPoker-v0")
    kuhn.reset(seed=0)
    with pytest.raises(SnapshotError, match="KuhnPoker"):
        te.make(ENV_ID).set_state(kuhn.get_state())


# --------------------------------------------------------------------------------- single-agent view
def test_opponents_see_their_own_view_and_fixed_opponent_is_exploitable():
    rock = Always("rock")
    env = gym.make(ENV_ID, rounds=4, opponents=[rock], seat=1)
    obs, info = env.reset(seed=0)
    assert "You are player 1" in obs and info["seat"] == 1 and info["task"]["seat"] == 1
    total, done = 0.0, False
    while not done:
        obs, r, term, trunc, info = env.step("paper")
        total += r
        done = term or trunc
    assert term and not trunc and total == 4.0 and info["returns"] == [-4.0, 4.0] and info["success"]
    assert len(rock.seen) == 4
    opp_obs, opp_info = rock.seen[1]
    assert "You are player 0" in opp_obs and "round 1: you rock, opponent paper" in opp_obs
    assert opp_info["legal_action_ids"] == [0, 1, 2]
    vec_opp = Always("scissors", obs_mode="vector")
    env = gym.make(ENV_ID, opponents=vec_opp, obs_mode="vector")
    env.reset(seed=0)
    _, r, *_ = env.step(ROCK)
    assert r == 1.0 and isinstance(vec_opp.seen[0][0], dict)
    assert env.unwrapped.action_masks().tolist() == [True, True, True]


def test_invalid_learner_action_does_not_ask_opponents_and_invalid_opponent_voids_the_step():
    rock = Always("rock")
    env = gym.make(ENV_ID, rounds=3, opponents=[rock])
    env.reset(seed=0)
    obs, r, _, _, info = env.step("lizard")
    assert rock.seen == [] and info["action_valid"] is False and "unknown action 'lizard'" in obs
    garbage = Always("\x00 not a move")
    env = gym.make(ENV_ID, rounds=3, max_turns=4, opponents=[garbage])
    env.reset(seed=0)
    for _ in range(4):
        obs, r, term, trunc, info = env.step("rock")
        assert info["action_valid"] is True and r == 0.0 and "not played" in obs and "History: no rounds" in obs
    assert trunc and not term


def test_random_seat_and_opponent_are_deterministic_per_seed():
    def episode(seed):
        env = gym.make(ENV_ID, rounds=8, seat="random", obs_mode="vector")
        obs, info = env.reset(seed=seed)
        out = [info["seat"]]
        done = False
        while not done:
            obs, r, term, trunc, info = env.step(int(obs["observation"][-1] * 8) % 3)
            out.append((r, info["state_key"]))
            done = term or trunc
        return out

    assert episode(3) == episode(3)
    runs = [episode(s) for s in range(12)]
    assert {r[0] for r in runs} == {0, 1}
    assert len({tuple(r[1:]) for r in runs}) > 1  # the random opponent's moves depend on the seed


def test_configuration_errors_are_typed():
    with pytest.raises(ConfigError, match="rounds"):
        te.make_parallel(ENV_ID, rounds=0)
    with pytest.raises(ConfigError, match="seat"):
        te.make(ENV_ID, seat=2)
    with pytest.raises(ConfigError, match="Did you mean 'rounds'"):
        te.make_parallel(ENV_ID, round=3)
    with pytest.raises(ConfigError, match="max_turns"):
        te.make(ENV_ID, max_turns=0)


def test_render_shows_every_agent():
    env = te.make_parallel(ENV_ID, render_mode="ansi")
    env.reset(seed=0)
    text = env.render()
    assert "== player_0 ==" in text and "== player_1 ==" in text and "You are player 1" in text
