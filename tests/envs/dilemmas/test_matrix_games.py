"""Prisoner's dilemma, stag hunt, chicken and public goods: payoffs, horizons, observations, contract."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

import turngym.envs as te
from turngym.envs import ConfigError, SnapshotError
from turngym.envs.dilemmas.games import CHICKEN_ID, PD_ID, STAG_HUNT_ID
from turngym.envs.dilemmas.public_goods import ENV_ID as PG_ID
from turngym.envs.dilemmas.public_goods import public_goods_payoffs

P0, P1 = "player_0", "player_1"
NEW_IDS = [PD_ID, STAG_HUNT_ID, CHICKEN_ID, PG_ID, "turngym/SpatialPD-v0"]
#: Row player's payoff per (my move, other's move), written out from the textbook tables.
EXPECTED = {
    PD_ID: {(0, 0): 3, (0, 1): 0, (1, 0): 5, (1, 1): 1},
    STAG_HUNT_ID: {(0, 0): 4, (0, 1): 0, (1, 0): 3, (1, 1): 2},
    CHICKEN_ID: {(0, 0): 0, (0, 1): -1, (1, 0): 1, (1, 1): -10},
}
WORDS = {PD_ID: ("cooperate", "defect"), STAG_HUNT_ID: ("stag", "hare"), CHICKEN_ID: ("swerve", "straight")}


def run_parallel(env, joint_moves):
    """Plays joint moves (tuples in seat order); returns the outputs of every step."""
    out = []
    for joint in joint_moves:
        out.append(env.step({f"player_{i}": a for i, a in enumerate(joint)}))
    return out


# ------------------------------------------------------------------------------------------- payoffs
@pytest.mark.parametrize("env_id", list(EXPECTED))
@pytest.mark.parametrize(("a0", "a1"), [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_every_cell_of_every_2x2_game(env_id, a0, a1):
    env = te.make_parallel(env_id, rounds=1)
    env.reset(seed=0)
    words = WORDS[env_id]
    _, rewards, terms, _, infos = env.step({P0: words[a0], P1: words[a1]})
    assert rewards == {P0: float(EXPECTED[env_id][a0, a1]), P1: float(EXPECTED[env_id][a1, a0])}
    assert terms == {P0: True, P1: True}
    assert infos[P0]["social"]["cooperation_rate"] == ((a0 == 0) + (a1 == 0)) / 2


def test_payoffs_are_constructor_arguments():
    env = te.make_parallel(PD_ID, reward=2, sucker=-1, temptation=4, punishment=0.5, rounds=4, obs_mode="vector")
    env.reset(seed=0)
    steps = run_parallel(env, [(0, 0), (0, 1), (1, 0), (1, 1)])
    assert [s[1][P0] for s in steps] == [2.0, -1.0, 4.0, 0.5]
    assert [s[1][P1] for s in steps] == [2.0, 4.0, -1.0, 0.5]
    assert "Both cooperate: +2 each" in env.game.rules
    with pytest.raises(ConfigError, match="temptation"):
        te.make_parallel(PD_ID, temptation="lots")
    with pytest.raises(ConfigError, match="reward"):
        te.make(STAG_HUNT_ID, reward=float("nan"))


@pytest.mark.parametrize("joint", [(0, 0, 0), (2, 1, 0), (2, 2, 2), (1, 0, 0)])
def test_public_goods_formula(joint):
    # 3 players, endowment 10, multiplier 2, levels 0 / 5 / 10.
    env = te.make_parallel(PG_ID, num_players=3, endowment=10, multiplier=2.0, levels=3, rounds=1)
    env.reset(seed=0)
    _, rewards, *_ = env.step({f"player_{i}": a for i, a in enumerate(joint)})
    gifts = [5.0 * a for a in joint]
    expected = [10.0 - g + 2.0 * sum(gifts) / 3 for g in gifts]
    assert [rewards[f"player_{i}"] for i in range(3)] == pytest.approx(expected)
    assert public_goods_payoffs(gifts, 10.0, 2.0) == pytest.approx(expected)


def test_public_goods_hand_computed_and_words():
    env = te.make_parallel(PG_ID, num_players=3, endowment=10, multiplier=2.0, levels=3, rounds=2)
    env.reset(seed=0)
    assert env.game.action_names == ("give0", "give5", "give10")
    # Gifts 10, 5, 0: pool 15 * 2 / 3 = 10 each; payoffs 10, 15, 20.
    _, rewards, *_ = env.step({P0: "give10", P1: "[give5]", "player_2": "keep"})
    assert rewards == {P0: 10.0, P1: 15.0, "player_2": 20.0}
    *_, infos = env.step({P0: "contribute", P1: 0, "player_2": 0})
    social = infos[P0]["social"]
    assert social["cooperation_rate"] == pytest.approx(3 / 6)  # three of six moves gave something
    assert social["contribution_rate"] == pytest.approx((10 + 5 + 10) / (6 * 10))
    default = te.make_parallel(PG_ID)
    assert default.game.action_names == ("keep", "contribute") and len(default.possible_agents) == 4
    with pytest.raises(ConfigError, match="num_players"):
        te.make(PG_ID, num_players=1)
    with pytest.raises(ConfigError, match="endowment"):
        te.make(PG_ID, endowment=0)
    with pytest.raises(ConfigError, match="levels"):
        te.make(PG_ID, levels=1)


# ------------------------------------------------------------------------------------- random horizon
def episode_length(env_id, seed, **kwargs):
    env = te.make_parallel(env_id, obs_mode="vector", **kwargs)
    env.reset(seed=seed)
    n = len(env.possible_agents)
    length = 0
    while env.agents:
        *_, terms, truncs, infos = env.step({a: 0 for a in env.agents})
        length += 1
    assert all(terms.values()) and not any(truncs.values())
    assert infos[P0]["social"]["rounds"] == length and n >= 2
    return length


def test_continuation_probability_gives_geometric_lengths():
    delta = 0.8
    lengths = np.array([episode_length(PD_ID, seed, continuation=delta, rounds=1000) for seed in range(400)])
    # Geometric with mean 1 / (1 - δ) = 5 and sd sqrt(δ) / (1 - δ) ≈ 4.47: the standard error of 400 is 0.22.
    assert abs(lengths.mean() - 1 / (1 - delta)) < 0.7
    assert lengths.min() == 1 and lengths.max() > 15
    # P(length = 1) = 1 - δ.
    assert abs((lengths == 1).mean() - (1 - delta)) < 0.07
    assert [episode_length(PD_ID, s, continuation=delta, rounds=1000) for s in range(5)] == list(lengths[:5])


def test_continuation_edges_and_cap():
    assert {episode_length(STAG_HUNT_ID, s, continuation=0.0, rounds=50) for s in range(5)} == {1}
    assert {episode_length(CHICKEN_ID, s, continuation=1.0, rounds=7) for s in range(3)} == {7}
    assert max(episode_length(PG_ID, s, continuation=0.95, rounds=3) for s in range(20)) == 3
    with pytest.raises(ConfigError, match="continuation"):
        te.make(PD_ID, continuation=1.5)
    with pytest.raises(ConfigError, match="continuation"):
        te.make(PD_ID, continuation="often")


def test_text_observation_under_random_horizon():
    env = te.make_parallel(PD_ID, continuation=0.9, rounds=40)
    obs, infos = env.reset(seed=3)
    assert "goes on with probability 0.9 (at most 40 rounds)" in obs[P0]
    assert "Round 1 (at most 40)" in obs[P0]
    assert "0.9" in infos[P0]["task"]["instruction"]
    obs, *_ = env.step({P0: "c", P1: "d"})
    assert "round 1: you cooperate, opponent defect -> you 0" in obs[P0]
    assert "round 1: you defect, opponent cooperate -> you +5" in obs[P1]


def test_text_history_is_bounded_for_long_games():
    env = te.make_parallel(PD_ID, rounds=100)
    env.reset(seed=0)
    steps = run_parallel(env, [(0, 1)] * 40)
    obs = steps[-1][0][P0]
    assert "(rounds 1-10 not shown)" in obs and "round 40:" in obs and "round 10:" not in obs
    assert "Score: you 0, opponent +200." in obs and "Legal actions: cooperate, defect." in obs


# ------------------------------------------------------------------------------------------ vector
def test_vector_window_holds_recent_moves_and_payoffs():
    env = te.make_parallel(PD_ID, rounds=5, window=2, obs_mode="vector")
    obs, _ = env.reset(seed=0)
    assert env.observation_space(P0)["observation"].shape == (2 * 7 + 1,)
    assert not obs[P0]["observation"].any()
    steps = run_parallel(env, [(0, 0), (0, 1), (1, 1)])
    v0, v1 = steps[-1][0][P0]["observation"], steps[-1][0][P1]["observation"]
    # Slot 0 = round 3 (D, D: 1 each), slot 1 = round 2 (C vs D: 0 / 5); payoffs / 5; round 1 has left the window.
    np.testing.assert_allclose(v0, [1, 0, 1, 0, 1, 0.2, 0.2, 1, 1, 0, 0, 1, 0.0, 1.0, 3 / 5], atol=1e-6)
    np.testing.assert_allclose(v1, [1, 0, 1, 0, 1, 0.2, 0.2, 1, 0, 1, 1, 0, 1.0, 0.0, 3 / 5], atol=1e-6)
    assert all(env.observation_space(a).contains(o) for a, o in steps[-1][0].items())
    with pytest.raises(ConfigError, match="window"):
        te.make(PD_ID, window=0)


def test_public_goods_vector_is_egocentric():
    env = te.make_parallel(PG_ID, num_players=3, endowment=10, multiplier=2.0, rounds=2, window=1, obs_mode="vector")
    env.reset(seed=0)
    obs, *_ = env.step({P0: 1, P1: 0, "player_2": 0})
    # Pool 10 * 2 / 3: the giver gets 20/3, the others 50/3; scale = 10 * (1 + 2 * 2 / 3) = 70/3.
    scale = 70 / 3
    expect_p1 = [1, 1, 0, 1, 0, 0, 1, 50 / 3 / scale, 50 / 3 / scale, 20 / 3 / scale, 0.5]  # p1, p2, then p0
    np.testing.assert_allclose(obs[P1]["observation"], expect_p1, atol=1e-6)


# ------------------------------------------------------------------------------------- social metrics
def test_social_metrics_at_episode_end_only():
    env = te.make_parallel(PD_ID, rounds=3)
    _, infos = env.reset(seed=0)
    assert "social" not in infos[P0]
    steps = run_parallel(env, [("cooperate", "cooperate"), ("cooperate", "defect")])
    assert "social" not in steps[-1][4][P0]
    *_, infos = env.step({P0: "defect", P1: "defect"})
    social = infos[P0]["social"]
    # Returns 3 + 0 + 1 = 4 and 3 + 5 + 1 = 9 over 3 rounds; Gini = 10 / (2 * 2 * 13).
    assert social["efficiency"] == pytest.approx(13 / 3)
    assert social["equality"] == pytest.approx(1 - 10 / 52)
    assert social["sustainability"] == pytest.approx((1 + 3) / 2 / 2 + (1 + 2 + 3) / 3 / 2)
    assert social["peace"] == 2.0 and social["cooperation_rate"] == 0.5 and social["rounds"] == 3
    assert infos[P1]["social"] == social and infos[P1]["social"] is not social


def test_single_agent_view_reports_social_on_truncation_too():
    env = gym.make(CHICKEN_ID, rounds=5, max_turns=2)
    env.reset(seed=0)
    env.step("swerve")
    _, _, term, trunc, info = env.step("honk")
    assert trunc and not term and info["social"]["rounds"] == 1


# ------------------------------------------------------------------------------------- determinism
@pytest.mark.parametrize("env_id", NEW_IDS)
def test_seeded_episodes_repeat(env_id):
    def episode(seed):
        env = gym.make(env_id, seat="random", obs_mode="vector")
        obs, info = env.reset(seed=seed)
        out = [info["seat"], obs["observation"].tolist()]
        done = False
        while not done:
            obs, r, term, trunc, info = env.step(int(obs["observation"].sum() * 7) % 2)
            out.append((r, info["state_key"], obs["observation"].tolist()))
            done = term or trunc
        return out

    assert episode(11) == episode(11)
    assert len({json.dumps(episode(s)) for s in range(6)}) > 1


# ---------------------------------------------------------------------------------------- snapshots
@pytest.mark.parametrize("env_id", NEW_IDS)
def test_snapshot_round_trip(env_id):
    kwargs = {"continuation": 0.99, "rounds": 30} if env_id != "turngym/SpatialPD-v0" else {}
    env = te.make_parallel(env_id, **kwargs)
    env.reset(seed=4)
    rng = np.random.default_rng(0)

    def joint():
        return {a: int(rng.integers(2)) for a in env.agents}

    for _ in range(2):
        env.step(joint())
    snap = env.get_state()
    tail_actions = [joint() for _ in range(4)]

    def replay(e):
        out = []
        for acts in tail_actions:
            if not e.agents:
                break
            out.append(e.step({a: acts[a] for a in e.agents}))
        return out

    first = replay(env)
    env.set_state(snap)
    assert env.get_state() == snap
    fresh = te.make_parallel(env_id, **kwargs)
    fresh.reset(seed=123)
    fresh.set_state(snap)
    assert replay(env) == first == replay(fresh)
    with pytest.raises(SnapshotError):
        env.set_state(snap.replace(b'"history"', b'"hist"'))
    with pytest.raises(SnapshotError):
        env.set_state(b"\x00garbage")


def test_snapshot_keeps_the_stop_flag():
    env = te.make_parallel(PD_ID, continuation=0.0, rounds=5)
    env.reset(seed=0)
    env.step({P0: 0, P1: 0})
    snap = json.loads(env.get_state())
    assert snap["session"]["game"]["stopped"] is True and env.agents == []
    fixed = te.make_parallel(PD_ID, rounds=5)
    snap["env_id"] = PD_ID
    with pytest.raises(SnapshotError):  # a fixed-horizon game cannot have stopped early
        fixed.set_state(json.dumps(snap).encode())


# ---------------------------------------------------------------------------------------- bad input
HOSTILE = ["", "   ", "x" * (1 << 20), "\x00\x01\x02", b"cooperate", "\udcff\ud800", '{"action": [1, 2',
           "<action>cooperate defect</action>", "cooperate; import os", None, 2.5, True, -1, 10**12, [0]]


@pytest.mark.parametrize("env_id", NEW_IDS)
@pytest.mark.parametrize("bad", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_actions_are_rejected_with_a_message(env_id, bad):
    env = te.make_parallel(env_id, invalid_action_penalty=-1.0)
    _, infos0 = env.reset(seed=0)
    before = json.loads(env.get_state())
    joint = {a: 0 for a in env.agents}
    joint[P1] = bad
    obs, rewards, terms, truncs, infos = env.step(joint)
    assert infos[P1]["action_valid"] is False and isinstance(infos[P1]["error"], str) and infos[P1]["error"]
    assert infos[P0]["action_valid"] is True and rewards[P1] == -1.0 and rewards[P0] == 0.0
    assert obs[P1].startswith("Invalid action") and all(w in obs[P1] for w in infos[P1]["admissible_actions"])
    after = json.loads(env.get_state())
    assert after["session"]["game"] == before["session"]["game"] and after["rng"] == before["rng"]
    assert infos[P1]["state_key"] == infos0[P1]["state_key"] and not any(terms.values())
    single = gym.make(env_id)
    single.reset(seed=0)
    o, r, *_, info = single.step(bad)
    assert info["action_valid"] is False and "Invalid action" in o
