from __future__ import annotations

import gymnasium as gym
import pytest

import turngym.envs as te
from turngym.envs import ConfigError, UnknownEnvError


def test_gym_make_and_aec_share_one_id():
    env = gym.make("turngym/LeducHoldem-v0")
    obs, info = env.reset(seed=3)
    assert isinstance(obs, str) and "Leduc" in obs
    aec = te.make_aec("turngym/LeducHoldem-v0")
    aec.reset(seed=3)
    assert aec.possible_agents == ["player_0", "player_1"]


def test_unknown_id_suggests_the_nearest():
    with pytest.raises(UnknownEnvError, match="Did you mean 'turngym/LeducHoldem-v0'"):
        te.make_aec("turngym/LeducHoldum-v0")
    with pytest.raises(UnknownEnvError) as err:
        te.make("Kuhn-v0")
    assert err.value.expected.startswith("a registered turngym id")


def test_wrong_kwarg_is_a_typed_error_with_suggestion():
    with pytest.raises(ConfigError, match="Did you mean 'opponents'"):
        gym.make("turngym/KuhnPoker-v0", oponents="random")
    with pytest.raises(ConfigError, match="obs_mode"):
        te.make("turngym/KuhnPoker-v0", obs_mode="pixels")
    with pytest.raises(ConfigError, match="seat"):
        te.make("turngym/KuhnPoker-v0", seat=5)
    with pytest.raises(ConfigError, match="Did you mean 'random'"):
        te.make("turngym/KuhnPoker-v0", opponents="randon")
    with pytest.raises(ConfigError, match="1 agent"):
        te.make("turngym/KuhnPoker-v0", opponents=["random", "random"])


def test_multiagent_form_required():
    with pytest.raises(ConfigError, match="Parallel"):
        te.make_parallel("turngym/KuhnPoker-v0")


def test_list_envs_families():
    cards = te.list_envs("cards")
    assert [e.id for e in cards] == sorted(e.id for e in cards)
    assert all(e.family == "cards" and "aec" in e.kinds for e in cards)
    assert te.list_envs("no-such-family") == []


def test_text_space_accepts_any_string_up_to_length():
    space = te.Text(10)
    assert space.contains("a b{}\n\x00é")
    assert not space.contains("x" * 11)
    assert not space.contains(b"bytes")
    space = te.Text(100, examples=("call", "raise"), seed=0)
    draws = [space.sample() for _ in range(200)]
    assert all(space.contains(d) for d in draws)
    assert 0.8 < sum(d in ("call", "raise") for d in draws) / 200 < 0.98
