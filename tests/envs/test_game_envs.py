"""Behaviour of the game front ends: single-agent view with opponents, AEC, invalid actions, snapshots."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

import turngym.envs as te
from turngym.envs import SnapshotError


class Recorder:
    """Opponent that records what it was shown and always plays its first legal action."""

    def __init__(self, obs_mode="text"):
        self.obs_mode = obs_mode
        self.seen = []

    def act(self, observations, infos):
        self.seen.extend(zip(observations, infos, strict=True))
        return [info["legal_action_ids"][0] for info in infos]


class Garbage:
    """Opponent that only ever answers nonsense."""

    def act(self, observations, infos):
        return ["\x00 definitely not an action"] * len(observations)


def test_opponents_get_their_own_view_in_their_mode():
    text_opp, vec_opp = Recorder("text"), Recorder("vector")
    for opp in (text_opp, vec_opp):
        env = gym.make("turngym/LeducHoldem-v0", opponents=[opp], seat=1)
        env.reset(seed=0)
    obs, info = text_opp.seen[0]
    assert isinstance(obs, str) and "You are player 0" in obs
    assert info["admissible_actions"] == ["call", "raise"]
    obs, info = vec_opp.seen[0]
    assert obs["action_mask"].tolist() == [0, 1, 1]


def test_learner_reward_is_its_payoff_and_seats_alternate():
    seats, total = set(), 0.0
    env = gym.make("turngym/KuhnPoker-v0", seat="random", obs_mode="vector")
    for seed in range(60):
        obs, info = env.reset(seed=seed)
        seats.add(info["seat"])
        ep = 0.0
        done = False
        while not done:
            action = int(np.flatnonzero(obs["action_mask"])[0])
            obs, r, term, trunc, info = env.step(action)
            ep += r
            done = term or trunc
        assert term and not trunc
        assert ep == info["returns"][info["seat"]]
        assert info["success"] == (ep > 0)
        total += ep
    assert seats == {0, 1}


def test_invalid_actions_consume_turns_then_truncate():
    env = gym.make("turngym/KuhnPoker-v0", max_turns=5, invalid_action_penalty=-0.5)
    obs, info = env.reset(seed=1)
    key = info["state_key"]
    for turn in range(1, 6):
        obs, r, term, trunc, info = env.step("please raise the stakes")
        assert info["action_valid"] is False and r == -0.5
        assert info["turn"] == turn and info["state_key"] == key
        assert "Invalid action: unknown action" in obs and "pass, bet" in obs
    assert trunc and not term and info["success"] is False


def test_garbage_opponent_cannot_hang_the_env():
    env = gym.make("turngym/LeducHoldem-v0", opponents=[Garbage()], max_turns=30)
    obs, info = env.reset(seed=0)
    obs, r, term, trunc, info = env.step("raise")
    assert trunc and not term  # the opponent burned the turn budget


def test_aec_invalid_action_keeps_the_same_agent_and_says_why():
    env = te.make_aec("turngym/LeducHoldem-v0")
    env.reset(seed=4)
    env.step("fold")  # nothing to fold to
    assert env.agent_selection == "player_0"
    info = env.infos["player_0"]
    assert info["action_valid"] is False and "no bet to fold to" in info["error"]
    assert "Invalid action" in env.observe("player_0")
    env.step("raise")
    assert env.agent_selection == "player_1" and env.infos["player_1"]["action_valid"] is True


def test_state_key_is_the_information_state():
    env = te.make_aec("turngym/KuhnPoker-v0", obs_mode="vector", chance="explicit")
    keys = {}
    for c0 in range(3):
        for c1 in range(3):
            if c0 == c1:
                continue
            env.reset()
            env.apply_chance(c0)
            env.apply_chance(c1)
            keys[(c0, c1)] = env.infos["player_0"]["state_key"]
    # Player 0's key depends on its own card only, never on the opponent's hidden card.
    assert keys[(0, 1)] == keys[(0, 2)] and keys[(1, 0)] == keys[(1, 2)]
    assert len({keys[(0, 1)], keys[(1, 0)], keys[(2, 0)]}) == 3


def test_snapshot_rejects_foreign_and_malformed_bytes():
    env = te.make("turngym/LeducHoldem-v0")
    env.reset(seed=0)
    other = te.make("turngym/KuhnPoker-v0")
    other.reset(seed=0)
    for blob in (b"", b"\xff\xfe", b"[]", other.get_state(), "not bytes"):
        with pytest.raises(SnapshotError):
            env.set_state(blob)
    data = json.loads(env.get_state())
    data["session"]["game"]["history"] = [[7], []]
    with pytest.raises(SnapshotError):
        env.set_state(json.dumps(data).encode())
    # The env is still usable after rejected snapshots.
    obs, r, term, trunc, info = env.step("call")
    assert info["action_valid"]


def test_vector_and_text_share_seeds():
    a = te.make("turngym/LeducHoldem-v0", obs_mode="text")
    b = te.make("turngym/LeducHoldem-v0", obs_mode="vector")
    _, ia = a.reset(seed=11)
    _, ib = b.reset(seed=11)
    assert ia["state_key"] == ib["state_key"]


def test_explicit_chance_rejects_unknown_outcomes():
    env = te.make_aec("turngym/KuhnPoker-v0", chance="explicit")
    env.reset()
    with pytest.raises(ValueError, match="not pending"):
        env.apply_chance(7)
    with pytest.raises(RuntimeError, match="chance event is pending"):
        env.step("bet")


def _play(env_id, obs_mode, seed, vandalize):
    """Plays one seeded hand with the first legal action; optionally scribbles over what it was given."""
    env = te.make_aec(env_id, obs_mode=obs_mode)
    env.reset(seed=seed)
    trace = []
    for agent in env.agent_iter():
        obs, reward, term, trunc, info = env.last()
        trace.append((agent, json.dumps(obs.tolist() if isinstance(obs, np.ndarray) else
                                        {k: v.tolist() for k, v in obs.items()} if isinstance(obs, dict) else obs),
                      reward, info.get("state_key"), list(info.get("legal_action_ids", []))))
        action = None if term or trunc else info["legal_action_ids"][-1]
        if vandalize:
            if isinstance(obs, dict):
                obs["observation"][:] = 7.0
                obs["action_mask"][:] = 0
            info.get("legal_action_ids", []).append(99)
            info.get("admissible_actions", []).clear()
        env.step(action)
    return trace


@pytest.mark.parametrize("env_id", ["turngym/KuhnPoker-v0", "turngym/LeducHoldem-v0"])
@pytest.mark.parametrize("obs_mode", ["text", "vector"])
def test_cached_views_survive_callers_mutating_what_they_got(env_id, obs_mode):
    # Views are cached per information state and shared between envs; callers get copies, so scribbling
    # over observations and info lists must not change what any env shows later.
    clean = [_play(env_id, obs_mode, seed, vandalize=False) for seed in range(30)]
    for seed in range(30):
        _play(env_id, obs_mode, seed, vandalize=True)
    assert [_play(env_id, obs_mode, seed, vandalize=False) for seed in range(30)] == clean


@pytest.mark.parametrize("env_id", ["turngym/KuhnPoker-v0", "turngym/LeducHoldem-v0"])
def test_copy_state_keeps_every_view(env_id):
    env = te.make_aec(env_id)
    game, rng = env.session.game, np.random.default_rng(0)
    for seed in range(20):
        env.reset(seed=seed)
        while not env.session.terminal:
            s = env.session.state
            twin = game.copy_state(s)
            for p in range(game.num_players):
                assert game.info_encoding(twin, p) == game.info_encoding(s, p)
                assert game.render(twin, p) == game.render(s, p)
            assert game.to_json(twin) == game.to_json(s)
            legal = env.infos[env.agent_selection]["legal_action_ids"]
            env.step(int(rng.choice(legal)))
