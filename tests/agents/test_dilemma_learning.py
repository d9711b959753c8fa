"""Learning on the social dilemmas: lockstep SB3 DQN on the spatial PD, tabular learners, Harvest PPO."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from scipy import stats

from turngym.agents.baselines.dilemmas import (
    DQNConfig,
    SB3DQNLearner,
    TabularConfig,
    TabularQLearners,
    boltzmann,
    boltzmann_probs,
    build_learners,
    epsilon_greedy,
    explore,
    greedy,
    lockstep_step,
    observation_states,
    partition_lattice,
    train_lockstep,
)
from turngym.envs.dilemmas.spatial import SpatialPD

SMALL_DQN = DQNConfig(net_arch=(16,), batch_size=16, buffer_steps=50, target_update_steps=5, learning_starts=2)


def _within_binomial(count: int, n: int, p: float, alpha: float = 1e-4) -> bool:
    return stats.binomtest(count, n, p).pvalue > alpha


# ------------------------------------------------------------------------------------------ partitions
@pytest.mark.parametrize("layout", ["blocks", "stripes", "random"])
def test_partition_covers_lattice_in_equal_groups(layout):
    ids = partition_lattice(30, 10, layout, np.random.default_rng(0))
    assert ids.shape == (900,)
    assert np.bincount(ids).tolist() == [90] * 10


def test_block_partition_is_rectangles():
    ids = partition_lattice(30, 10, "blocks").reshape(30, 30)
    for g in range(10):
        rows, cols = np.nonzero(ids == g)
        h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert h * w == rows.size  # the group fills its bounding box: a contiguous rectangle
    assert sorted({(h, w) for h, w in [(15, 6)]}) == [(15, 6)]
    assert (ids[:15, :6] == ids[0, 0]).all()


def test_random_partition_depends_on_rng_only():
    a = partition_lattice(10, 4, "random", np.random.default_rng(3))
    b = partition_lattice(10, 4, "random", np.random.default_rng(3))
    c = partition_lattice(10, 4, "random", np.random.default_rng(4))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    with pytest.raises(ValueError):
        partition_lattice(10, 101)


# ----------------------------------------------------------------------------------------- exploration
def test_epsilon_greedy_follows_epsilon():
    rng = np.random.default_rng(0)
    n = 20000
    q = np.tile([0.0, 1.0], (n, 1))  # greedy action: 1 (defect)
    for eps in (0.0, 0.3, 1.0):
        a = epsilon_greedy(q, eps, rng)
        assert set(np.unique(a)) <= {0, 1}
        # The non-greedy action is taken only when exploring and the uniform pick lands on it: eps / 2.
        assert _within_binomial(int((a == 0).sum()), n, eps / 2) if 0 < eps else (a == 1).all()
    with pytest.raises(ValueError):
        epsilon_greedy(q, 1.5, rng)


def test_boltzmann_follows_temperature():
    rng = np.random.default_rng(1)
    n = 20000
    q = np.tile([0.0, 0.2], (n, 1))
    for tau in (0.05, 0.2, 5.0):
        p1 = 1.0 / (1.0 + np.exp(-0.2 / tau))  # two-action softmax
        assert boltzmann_probs(q[:1], tau)[0, 1] == pytest.approx(p1)
        a = boltzmann(q, tau, rng)
        assert set(np.unique(a)) <= {0, 1}
        assert _within_binomial(int((a == 1).sum()), n, p1)
    probs = boltzmann_probs(np.array([[1000.0, 0.0, -1000.0]]), 1.0)  # no overflow
    assert probs[0].tolist() == pytest.approx([1.0, 0.0, 0.0])
    assert (explore(q[:5], "boltzmann", 0.0, rng) == 1).all()  # tau = 0: greedy


def test_greedy_breaks_ties_at_random():
    rng = np.random.default_rng(2)
    a = greedy(np.zeros((4000, 2)), rng)
    assert _within_binomial(int(a.sum()), 4000, 0.5)
    assert (greedy(np.array([[0.0, 1.0], [2.0, 1.0]]), rng) == [1, 0]).all()


def test_exploration_uses_only_the_given_rng():
    q = np.random.default_rng(0).normal(size=(100, 2))
    np_state = np.random.get_state()
    a = explore(q, "epsilon", 0.5, np.random.default_rng(7))
    b = explore(q, "epsilon", 0.5, np.random.default_rng(7))
    assert np.array_equal(a, b)
    assert np.array_equal(np.random.get_state()[1], np_state[1])


# ------------------------------------------------------------------------------------------- learners
def test_shared_has_one_model_grouped_k_independent_one_per_agent():
    shared = build_learners("shared", 6, dqn=SMALL_DQN)
    assert len(shared) == 1 and isinstance(shared[0], SB3DQNLearner)
    assert np.array_equal(shared[0].agents, np.arange(36)) and shared[0].model.n_envs == 36
    grouped = build_learners("grouped", 6, groups=4, dqn=SMALL_DQN)
    assert len(grouped) == 4 and all(isinstance(g, SB3DQNLearner) for g in grouped)
    owned = np.concatenate([g.agents for g in grouped])
    assert sorted(owned.tolist()) == list(range(36))
    nets = [g.model.q_net for g in grouped]
    assert len({id(n) for n in nets}) == 4  # separate networks
    assert not torch.equal(nets[0].q_net[0].weight, nets[1].q_net[0].weight)  # differently initialized
    indep = build_learners("independent", 6)
    assert sum(x.num_models for x in indep) == 36
    dqn_each = build_learners("independent", 3, independent_backend="dqn", dqn=SMALL_DQN)
    assert len(dqn_each) == 9 and all(len(x.agents) == 1 for x in dqn_each)
    with pytest.raises(ValueError):
        build_learners("independent", 30, independent_backend="dqn")


def test_lockstep_gives_each_model_exactly_its_agents_transitions():
    size, steps = 4, 6
    learners = build_learners("grouped", size, groups=4, layout="random", dqn=SMALL_DQN, seed=5)
    core = SpatialPD(size=size, dr=0.3, horizon=steps, seed=11)
    replay = SpatialPD(size=size, dr=0.3, horizon=steps, seed=11)  # replays the same actions independently
    obs, ref_obs = core.reset(), replay.reset()
    rng = np.random.default_rng(0)
    expected = []
    for t in range(1, steps + 1):
        next_obs, actions, rewards, _ = lockstep_step(core, learners, obs, "epsilon", 0.5, rng, t, steps)
        ref_next, ref_rewards, *_ = replay.step(actions)
        assert np.array_equal(next_obs, ref_next) and np.allclose(rewards, ref_rewards)
        expected.append((ref_obs, actions, ref_rewards, ref_next))
        obs, ref_obs = next_obs, ref_next
    for learner in learners:
        buf, idx = learner.model.replay_buffer, learner.agents
        assert buf.pos == steps and buf.n_envs == len(idx)
        for row, (o, a, r, o2) in enumerate(expected):
            assert np.array_equal(buf.observations[row], o[idx])
            assert np.array_equal(buf.next_observations[row], o2[idx])
            assert np.array_equal(buf.actions[row, :, 0], a[idx])
            assert np.allclose(buf.rewards[row], r[idx])
            assert not buf.dones[row].any()  # the horizon is a time limit: always bootstrap
        # SB3 trained on schedule: every step from learning_starts on, one gradient step each.
        assert learner.model._n_updates == steps - SMALL_DQN.learning_starts + 1


def test_target_network_follows_the_schedule():
    learner = build_learners("shared", 4, dqn=SMALL_DQN, seed=0)[0]
    core = SpatialPD(size=4, horizon=20, seed=0)
    obs = core.reset()
    rng = np.random.default_rng(0)
    m = learner.model

    def same() -> bool:
        return all(torch.equal(a, b) for a, b in zip(m.q_net.parameters(), m.q_net_target.parameters(), strict=True))

    for t in range(1, SMALL_DQN.target_update_steps + 1):
        obs, *_ = lockstep_step(core, [learner], obs, "epsilon", 0.3, rng, t, 20)
        if t == SMALL_DQN.target_update_steps - 1:
            assert not same()  # trained since construction, target not yet copied
    assert same()


def test_replay_sampling_is_seeded_and_draws_stored_transitions():
    learners = [SB3DQNLearner(np.arange(9), SMALL_DQN, seed=s) for s in (1, 1)]
    rng = np.random.default_rng(0)
    for _ in range(3):
        o = rng.integers(0, 2, (9, 5)).astype(np.float32)
        a, r = rng.integers(0, 2, 9), rng.normal(size=9).astype(np.float32)
        for learner in learners:
            learner.observe(o, a, r, 1 - o)
    a, b = (x.model.replay_buffer.sample(32) for x in learners)
    assert torch.equal(a.observations, b.observations) and torch.equal(a.rewards, b.rewards)
    stored = {tuple(r) for r in learners[0].model.replay_buffer.observations[:3].reshape(-1, 5).tolist()}
    assert {tuple(r) for r in a.observations.tolist()} <= stored
    assert torch.equal(a.next_observations, 1 - a.observations)


def test_tabular_q_learning_update():
    learner = TabularQLearners(np.arange(2), TabularConfig(alpha=0.5, gamma=0.9))
    learner.q[1, 31] = [2.0, 4.0]
    obs = np.array([[0, 0, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=np.float32)
    assert observation_states(obs).tolist() == [0, 31]
    learner.observe(obs, np.array([1, 0]), np.array([1.0, -1.0]), obs[::-1].copy())
    # Agent 0: Q(0,1) = 0 + 0.5 (1 + 0.9 * max Q_0(31) - 0) = 0.5 (its own table: Q_0(31) = 0).
    # Agent 1: Q(31,0) = 2 + 0.5 (-1 + 0.9 * max Q_1(0) - 2) = 0.5.
    assert learner.q[0, 0].tolist() == [0.0, 0.5]
    assert learner.q[1, 31].tolist() == [0.5, 4.0]


# ------------------------------------------------------------------------------------------- training
def test_training_is_deterministic_per_seed_and_leaves_global_rng_alone():
    kwargs = {"size": 4, "dr": 0.3, "horizon": 8, "episodes": 3, "strength": 0.2, "groups": 2, "dqn": SMALL_DQN}
    np_state, py_state, torch_state = np.random.get_state(), random.getstate(), torch.get_rng_state()
    a = train_lockstep("grouped", seed=3, **kwargs)
    assert np.array_equal(np.random.get_state()[1], np_state[1]) and random.getstate() == py_state
    assert torch.equal(torch.get_rng_state(), torch_state)
    np.random.seed(123)  # global seeding elsewhere must not matter
    torch.manual_seed(123)
    b = train_lockstep("grouped", seed=3, **kwargs)
    c = train_lockstep("grouped", seed=4, **kwargs)
    assert np.array_equal(a.coop_curve, b.coop_curve) and a.greedy_coop == b.greedy_coop
    assert not np.array_equal(a.coop_curve, c.coop_curve)
    assert a.num_models == 2 and a.coop_curve.shape == (24,) and a.episode_coop.shape == (3,)


@pytest.mark.parametrize("method", ["shared", "independent"])
def test_learning_raises_cooperation_when_it_pays(method):
    # Dr = -0.5 gives R=1, S=0.5, T=0.5, P=0: cooperating beats defecting against any neighbour, so every
    # learner should move from the random start (each agent cooperates with probability 0.5) to cooperation.
    cfg = DQNConfig(net_arch=(32,), batch_size=32, buffer_steps=40, target_update_steps=10, learning_starts=5)
    r = train_lockstep(method, size=6, dr=-0.5, horizon=20, episodes=5 if method == "shared" else 60,
                       strength=0.2, seed=0, dqn=cfg, tabular=TabularConfig(alpha=0.5, gamma=0.9))
    assert r.episode_coop[0] < r.final_coop
    assert r.greedy_coop > 0.9 and r.final_coop > 0.8  # final: with epsilon = 0.2, at most 1 - 0.1 expected


# -------------------------------------------------------------------------------------------- Harvest
HARVEST = {"horizon": 40}


def test_harvest_vec_env_is_seeded_and_has_one_slot_per_player():
    from turngym.agents.baselines.dilemmas.harvest import make_harvest_vec_env

    a, b = make_harvest_vec_env(2, seed=1, **HARVEST), make_harvest_vec_env(2, seed=1, **HARVEST)
    assert a.num_envs == 10 and a.observation_space.shape == (605,) and a.action_space.n == 8
    oa, ob = a.reset(), b.reset()
    assert np.array_equal(oa, ob)
    acts = np.random.default_rng(0).integers(0, 8, 10)
    assert np.array_equal(a.step(acts)[0], b.step(acts)[0])


def test_harvest_ppo_trains_through_supersuit_and_reports_social_metrics():
    from stable_baselines3 import PPO

    from turngym.agents.baselines.dilemmas.harvest import (
        METRICS,
        evaluate_harvest,
        ppo_act,
        random_act,
        train_harvest_ppo,
    )

    model = train_harvest_ppo(320, seed=0, num_copies=1, n_steps=32, batch_size=80, **HARVEST)
    assert isinstance(model, PPO) and model.num_timesteps >= 320 and model.get_env().num_envs == 5
    trained = evaluate_harvest(ppo_act(model), episodes=1, seed=0, **HARVEST)
    rand = evaluate_harvest(random_act, episodes=2, seed=0, **HARVEST)
    again = evaluate_harvest(random_act, episodes=2, seed=0, **HARVEST)
    assert rand == again  # seeded
    for res in (trained, rand):
        assert set(METRICS) <= set(res)
        assert 0.0 <= res["equality"] <= 1.0 and 0.0 <= res["peace"] <= 5.0
        assert 0.0 <= res["sustainability"] <= HARVEST["horizon"] and res["efficiency"] >= 0.0
    assert len(rand["per_episode"]) == 2
    assert rand["efficiency"] == pytest.approx(np.mean([e["efficiency"] for e in rand["per_episode"]]))
