"""Learned Dhumbal agents: the masked DQN, seeded training, and the shipped PPO / DQN weights."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

pytest.importorskip("sb3_contrib")

from turngym.agents.baselines.dhumbal import make_agent  # noqa: E402
from turngym.agents.baselines.dhumbal.learned import (  # noqa: E402
    MASKED_Q,
    TRAINING_TABLES,
    LearnedAgent,
    _masked_dqn_classes,
    evaluate_against,
    make_training_envs,
    train,
    weights_path,
)
from turngym.envs.core.registry import make_aec  # noqa: E402


def _params(model) -> list[np.ndarray]:
    return [p.detach().cpu().numpy().copy() for p in model.policy.parameters()]


def test_masked_q_network_scores_illegal_actions_out_and_targets_take_the_legal_max():
    masked_dqn, policy = _masked_dqn_classes()
    envs = make_training_envs("standard", seed=0, tables=[("random",)])
    model = masked_dqn(policy, envs, seed=0, learning_starts=10, device="cpu")
    obs = envs.reset()
    obs_t, _ = model.policy.obs_to_tensor(obs)
    with torch.no_grad():
        q = model.q_net(obs_t)[0].numpy()
        q_target = model.q_net_target(obs_t)[0].numpy()
    legal = obs["action_mask"][0].astype(bool)
    assert legal.sum() >= 2
    assert np.all(q[~legal] == MASKED_Q) and np.all(q[legal] > MASKED_Q / 2)
    assert np.all(q_target[~legal] == MASKED_Q)  # the bootstrap max ranges over legal actions only
    # A row with no legal action at all (terminal observations) is left unmasked, never all -1e8.
    obs_t["action_mask"] = torch.zeros_like(obs_t["action_mask"])
    with torch.no_grad():
        assert np.all(model.q_net(obs_t)[0].numpy() > MASKED_Q / 2)


class _RecordValidity(gym.Wrapper):
    """Records ``info["action_valid"]`` of every learner step."""

    def __init__(self, env):
        super().__init__(env)
        self.valid: list[bool] = []

    def step(self, action):
        out = self.env.step(action)
        self.valid.append(bool(out[4].get("action_valid", True)))
        return out


def test_dqn_exploration_only_plays_legal_actions():
    masked_dqn, policy = _masked_dqn_classes()
    envs = make_training_envs("standard", seed=1, tables=[("random", "random")])
    recorder = _RecordValidity(envs.envs[0])
    envs.envs[0] = recorder
    model = masked_dqn(policy, envs, seed=1, learning_starts=50, train_freq=8, exploration_fraction=0.5,
                       device="cpu")
    model.learn(total_timesteps=400)
    assert len(recorder.valid) == 400 and all(recorder.valid)  # warm-up, epsilon and greedy steps alike
    obs = envs.reset()
    for _ in range(50):
        action, _ = model.predict(obs, deterministic=False)
        assert obs["action_mask"][0][int(action[0])] == 1


def test_ppo_training_is_reproducible_per_seed():
    a = train("ppo", "standard", timesteps=600, seed=3, progress=False, n_steps=100, batch_size=50)
    b = train("ppo", "standard", timesteps=600, seed=3, progress=False, n_steps=100, batch_size=50)
    c = train("ppo", "standard", timesteps=600, seed=4, progress=False, n_steps=100, batch_size=50)
    for x, y in zip(_params(a), _params(b), strict=True):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, z) for x, z in zip(_params(a), _params(c), strict=True))


def test_training_pool_covers_two_and_four_player_tables():
    sizes = {len(t) + 1 for t in TRAINING_TABLES}
    assert sizes == {2, 4}
    envs = make_training_envs("paper", seed=0)
    assert envs.num_envs == len(TRAINING_TABLES)
    assert {e.unwrapped.game.num_players for e in envs.envs} == {2, 4}
    assert all(e.unwrapped.game.ruleset == "paper" for e in envs.envs)


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
@pytest.mark.parametrize("ruleset", ["standard", "paper"])
def test_shipped_weights_play_full_legal_games(algo, ruleset):
    assert weights_path(algo, ruleset).exists(), "shipped weights are missing"
    agent = make_agent(algo, ruleset=ruleset, seed=0)
    assert isinstance(agent, LearnedAgent)
    for n in (2, 4):
        env = make_aec("turngym/Dhumbal-v0", num_players=n, ruleset=ruleset, obs_mode="vector")
        others = [make_agent("random", seed=s) for s in range(n)]
        env.reset(seed=7)
        moves = 0
        for agent_id in env.agent_iter():
            obs, _, term, trunc, info = env.last()
            if term or trunc:
                env.step(None)
                continue
            seat = int(agent_id.rsplit("_", 1)[1])
            action = (agent if seat == 0 else others[seat]).act([obs], [info])[0]
            if seat == 0:
                assert obs["action_mask"][action] == 1
                moves += 1
            env.step(action)
        assert moves >= 1
        assert env.unwrapped.session.state.results  # the round was played to its end


def test_shipped_ppo_is_deterministic_and_beats_a_random_table():
    agent = make_agent("ppo", ruleset="standard")
    env = make_aec("turngym/Dhumbal-v0", num_players=4, obs_mode="vector")
    env.reset(seed=3)
    obs, _, _, _, info = env.last()
    assert agent.act([obs], [info]) == agent.act([obs], [info])
    result = evaluate_against(agent, ("random",) * 3, "standard", episodes=200, seed=5)
    assert result["coins_ci95"][0] > 0.0, result  # a trained agent takes coins from random players


def test_missing_weights_say_how_to_train(tmp_path):
    with pytest.raises(FileNotFoundError, match="--algo dqn"):
        LearnedAgent("dqn", path=tmp_path / "nothing.zip")
