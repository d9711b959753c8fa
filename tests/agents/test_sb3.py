"""Stable-Baselines3 on the single-agent vector envs: SB3's checker, the policy adapter, MaskablePPO."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("stable_baselines3")
pytest.importorskip("sb3_contrib")

from sb3_contrib import MaskablePPO  # noqa: E402
from stable_baselines3 import DQN, PPO  # noqa: E402
from stable_baselines3.common.env_checker import check_env as sb3_check_env  # noqa: E402

import turngym.envs  # noqa: E402
from turngym.agents.baselines.sb3 import SB3Policy, evaluate, make_masked_env, train_maskable_ppo  # noqa: E402

VECTOR_IDS = [i.id for i in turngym.envs.list_envs() if i.single and "vector" in i.modes]
LEDUC = "turngym/LeducHoldem-v0"


@pytest.mark.parametrize("env_id", VECTOR_IDS)
def test_sb3_check_env_passes(env_id: str) -> None:
    env = gym.make(env_id, obs_mode="vector").unwrapped
    sb3_check_env(env, warn=True)  # raises on any violation of SB3's expectations


def test_masked_env_exposes_the_learner_mask() -> None:
    env = make_masked_env(LEDUC, seat=0)
    obs, info = env.reset(seed=4)
    mask = env.action_masks()
    assert mask.dtype == bool
    assert np.flatnonzero(mask).tolist() == info["legal_action_ids"]
    assert np.array_equal(mask, obs["action_mask"].astype(bool))


@pytest.fixture(scope="module")
def tiny_ppo() -> PPO:
    env = gym.make(LEDUC, obs_mode="vector")
    return PPO("MultiInputPolicy", env, n_steps=64, batch_size=32, seed=0, device="cpu")


def test_policy_never_plays_an_illegal_action(tiny_ppo: PPO) -> None:
    agent = SB3Policy(tiny_ppo, deterministic=False, seed=0)
    env = turngym.envs.make_aec(LEDUC, obs_mode="vector")
    rng = np.random.default_rng(0)
    for hand in range(200):
        env.reset(seed=hand)
        for name in env.agent_iter():
            obs, _, term, trunc, info = env.last()
            if term or trunc:
                env.step(None)
                continue
            (action,) = agent.act([obs], [info], rng=rng)
            assert action in info["legal_action_ids"]
            env.step(action)
            assert env.infos[name].get("action_valid", True)


def test_deterministic_pick_is_the_best_legal_score(tiny_ppo: PPO) -> None:
    agent = SB3Policy(tiny_ppo, deterministic=True)
    env = gym.make(LEDUC, obs_mode="vector", seat=0)
    obs, info = env.reset(seed=1)
    scores = agent.scores([obs])[0]
    legal = info["legal_action_ids"]
    assert agent.act([obs], [info]) == [legal[int(np.argmax(scores[legal]))]]
    # Nothing legal (not this agent's turn): None, never a made-up action.
    assert agent.act([obs], [{"legal_action_ids": []}]) == [None]


def test_dqn_is_supported_and_rejects_other_models() -> None:
    env = gym.make(LEDUC, obs_mode="vector")
    dqn = DQN("MultiInputPolicy", env, learning_starts=0, seed=0, device="cpu")
    agent = SB3Policy(dqn)
    obs, info = env.reset(seed=2)
    assert agent.act([obs], [info])[0] in info["legal_action_ids"]
    with pytest.raises(TypeError, match="SB3Policy supports"):
        SB3Policy(object())


def test_policy_plays_as_an_opponent_inside_the_env(tiny_ppo: PPO) -> None:
    env = gym.make(LEDUC, obs_mode="vector", opponents=[SB3Policy(tiny_ppo, deterministic=False)], seat=1)
    obs, info = env.reset(seed=0)
    done = False
    while not done:
        obs, _, term, trunc, info = env.step(info["legal_action_ids"][0])
        done = term or trunc
    assert term and "returns" in info


def test_evaluate_is_seeded_and_its_interval_covers_a_fair_matchup() -> None:
    a = evaluate(LEDUC, turngym.envs.RandomLegalAgent(), "random", episodes=1500, seed=3)
    b = evaluate(LEDUC, turngym.envs.RandomLegalAgent(), "random", episodes=1500, seed=3)
    assert a == b
    low, high = a["ci95"]
    assert low < a["mean"] < high
    assert low < 0.0 < high  # random vs random is a fair game over balanced seats
    assert a["n"] == 1500 and len(a["seat_means"]) == 2
    with pytest.raises(ValueError, match="at least 2"):
        evaluate(LEDUC, turngym.envs.RandomLegalAgent(), episodes=1)


@pytest.mark.slow
def test_maskable_ppo_beats_the_random_opponent() -> None:
    model = train_maskable_ppo(LEDUC, total_timesteps=30_000, seed=0, n_steps=512, batch_size=128)
    assert isinstance(model, MaskablePPO)
    result = evaluate(LEDUC, SB3Policy(model), "random", episodes=2000, seed=1)
    low, _ = result["ci95"]
    assert low > 0.0, result  # wins chips against random play, with 95% confidence
