"""Spatial prisoner's dilemma: lattice payoffs by hand, observations, the numpy core, the SB3 VecEnv."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

import turngym.envs as te
from turngym.envs import ConfigError
from turngym.envs.dilemmas.spatial import ENV_ID, SpatialPD, lattice_observations, lattice_rewards

C, D = 0, 1
DR = 0.2
R, S, T, P = 1.0, -DR, 1.0 + DR, 0.0
# A 4x4 pattern (row-major): a defector at (0, 0) (its neighbours wrap to (3, 0) and (0, 3)), a defector
# pair at (1, 2) and (2, 2), everyone else cooperates.
GRID = np.array([[D, C, C, C],
                 [C, C, D, C],
                 [C, C, D, C],
                 [C, C, C, C]])


def loop_reference(grid: np.ndarray, dr: float) -> np.ndarray:
    """Mean pairwise payoff per site, one site at a time (independent of the vectorized code)."""
    table = {(C, C): 1.0, (C, D): -dr, (D, C): 1.0 + dr, (D, D): 0.0}
    n = grid.shape[0]
    out = np.zeros_like(grid, dtype=float)
    for i in range(n):
        for j in range(n):
            nbrs = [grid[(i - 1) % n, j], grid[(i + 1) % n, j], grid[i, (j - 1) % n], grid[i, (j + 1) % n]]
            out[i, j] = sum(table[grid[i, j], b] for b in nbrs) / 4
    return out


def test_lattice_rewards_by_hand_on_4x4():
    rewards = lattice_rewards(GRID.reshape(-1), 4, DR).reshape(4, 4)
    # (0, 0) defects; its neighbours (3, 0), (1, 0), (0, 3), (0, 1) all cooperate: T.
    assert rewards[0, 0] == pytest.approx(T)
    # (0, 1) cooperates; neighbours (3, 1) C, (1, 1) C, (0, 0) D, (0, 2) C: (3R + S) / 4.
    assert rewards[0, 1] == pytest.approx((3 * R + S) / 4)
    # (3, 0) cooperates; neighbours (2, 0) C, (0, 0) D via the wrap, (3, 3) C via the wrap, (3, 1) C.
    assert rewards[3, 0] == pytest.approx((3 * R + S) / 4)
    # (0, 3) cooperates; neighbours (3, 3) C, (1, 3) C, (0, 2) C, (0, 0) D via the wrap.
    assert rewards[0, 3] == pytest.approx((3 * R + S) / 4)
    # (1, 2) defects next to defector (2, 2): neighbours (0, 2) C, (2, 2) D, (1, 1) C, (1, 3) C: (3T + P) / 4.
    assert rewards[1, 2] == pytest.approx((3 * T + P) / 4)
    # (1, 1) cooperates; neighbours (0, 1) C, (2, 1) C, (1, 0) C, (1, 2) D.
    assert rewards[1, 1] == pytest.approx((3 * R + S) / 4)
    # (2, 3) cooperates; neighbours (1, 3) C, (3, 3) C, (2, 2) D, (2, 0) C via the wrap.
    assert rewards[2, 3] == pytest.approx((3 * R + S) / 4)
    # (3, 3) cooperates among cooperators only: R.
    assert rewards[3, 3] == pytest.approx(R)
    np.testing.assert_allclose(rewards, loop_reference(GRID, DR))


@pytest.mark.parametrize("seed", range(3))
def test_lattice_rewards_match_the_loop_on_random_grids(seed):
    rng = np.random.default_rng(seed)
    for n, dr in ((3, 0.5), (5, 0.0), (7, 1.3)):
        grid = rng.integers(0, 2, size=(n, n))
        np.testing.assert_allclose(lattice_rewards(grid.reshape(-1), n, dr).reshape(n, n), loop_reference(grid, dr))


def test_observation_is_own_and_neighbour_moves_with_wrap():
    obs = lattice_observations(GRID.reshape(-1), 4)
    assert obs.shape == (16, 5) and obs.dtype == np.float32
    # Agent 0 = (0, 0): self D, north (3, 0) C, south (1, 0) C, west (0, 3) C, east (0, 1) C; 1.0 = cooperated.
    assert obs[0].tolist() == [0, 1, 1, 1, 1]
    # Agent 6 = (1, 2): self D, north (0, 2) C, south (2, 2) D, west (1, 1) C, east (1, 3) C.
    assert obs[6].tolist() == [0, 1, 0, 1, 1]
    # Agent 12 = (3, 0): north (2, 0) C, south (0, 0) D (wrap), west (3, 3) C (wrap), east (3, 1) C.
    assert obs[12].tolist() == [1, 1, 0, 1, 1]
    # Agent 3 = (0, 3): east wraps to (0, 0) D.
    assert obs[3].tolist() == [1, 1, 1, 1, 0]


# ------------------------------------------------------------------------------------------- the core
def test_core_step_pays_and_observes_the_new_moves():
    core = SpatialPD(size=4, dr=DR, horizon=3)
    obs0 = core.reset(seed=0)
    assert obs0.shape == (16, 5) and set(np.unique(obs0)) <= {0.0, 1.0}
    obs, rewards, term, trunc, info = core.step(GRID.reshape(-1))
    np.testing.assert_allclose(rewards, loop_reference(GRID, DR).reshape(-1))
    np.testing.assert_array_equal(obs, lattice_observations(GRID.reshape(-1), 4))
    assert not term and not trunc and info["t"] == 1 and info["action_valid"] is True
    assert info["cooperation_rate"] == pytest.approx(13 / 16) and "social" not in info
    core.step(np.zeros(16, np.int64))
    _, rewards, term, trunc, info = core.step(np.ones(16, np.int64))
    assert not term and trunc and (rewards == 0).all()  # the horizon is a time limit
    social = info["social"]
    all_c = np.ones(16)  # second step: everyone cooperates, reward R
    expected_eff = (loop_reference(GRID, DR).sum() + all_c.sum() + 0.0) / 3
    assert social["efficiency"] == pytest.approx(expected_eff)
    assert social["cooperation_rate"] == pytest.approx((13 / 16 + 1 + 0) / 3)
    assert social["peace"] == 16.0
    with pytest.raises(RuntimeError, match="reset"):
        core.step(np.zeros(16, np.int64))


def test_core_initial_moves_follow_init_coop_and_seed():
    assert SpatialPD(size=5, init_coop=0.0).reset(seed=1)[:, 0].sum() == 0
    assert SpatialPD(size=5, init_coop=1.0).reset(seed=1)[:, 0].sum() == 25
    core = SpatialPD(size=30, init_coop=0.3)
    frac = core.reset(seed=7)[:, 0].mean()
    assert abs(frac - 0.3) < 0.05  # 900 Bernoulli(0.3) draws: sd 0.015
    np.testing.assert_array_equal(core.reset(seed=7), SpatialPD(size=30, init_coop=0.3).reset(seed=7))
    assert not np.array_equal(core.reset(seed=7), core.reset(seed=8))


@pytest.mark.parametrize("bad", [np.zeros(15, np.int64), np.zeros((4, 4), np.int64), np.full(16, 2),
                                 np.full(16, -1), np.zeros(16) + 0.5, "cooperate" * 1000, None, b"\x00\xff",
                                 [[1, 2], [3]], {"a": 1}, np.zeros(16, bool)])
def test_core_bad_actions_void_the_step(bad):
    core = SpatialPD(size=4, horizon=5)
    core.reset(seed=0)
    moves = core.moves.copy()
    obs, rewards, term, trunc, info = core.step(bad)
    assert info["action_valid"] is False and isinstance(info["error"], str) and info["error"]
    np.testing.assert_array_equal(core.moves, moves)
    assert (rewards == 0).all() and info["t"] == 1
    np.testing.assert_array_equal(obs, lattice_observations(moves, 4))


def test_core_snapshot_round_trip():
    core = SpatialPD(size=6, horizon=8)
    core.reset(seed=2)
    rng = np.random.default_rng(0)
    for _ in range(3):
        core.step(rng.integers(0, 2, 36))
    snap = json.loads(json.dumps(core.get_state()))
    tail = [rng.integers(0, 2, 36) for _ in range(5)]
    first = [core.step(a) for a in tail]
    other = SpatialPD(size=6, horizon=8)
    other.set_state(snap)
    again = [other.step(a) for a in tail]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
        assert a[2:4] == b[2:4]
    assert first[-1][4]["social"] == again[-1][4]["social"]
    with pytest.raises(ValueError, match="malformed"):
        other.set_state({"moves": [3] * 36})


def test_configuration_errors():
    for kwargs in ({"size": 2}, {"size": "30"}, {"dr": float("inf")}, {"horizon": 0}, {"init_coop": 1.5}):
        with pytest.raises(ConfigError):
            SpatialPD(**kwargs)
    with pytest.raises(ConfigError, match="size"):
        te.make_parallel(ENV_ID, size=1)


# ------------------------------------------------------------------------------ PettingZoo / single
def test_parallel_env_rewards_observations_and_social():
    env = te.make_parallel(ENV_ID, size=4, horizon=2, obs_mode="vector")
    obs, infos = env.reset(seed=0)
    assert len(env.possible_agents) == 16 and "cooperation_rate" in infos["player_0"]
    joint = {f"player_{i}": int(m) for i, m in enumerate(GRID.reshape(-1))}
    obs, rewards, terms, truncs, infos = env.step(joint)
    expected = loop_reference(GRID, DR).reshape(-1)
    assert [rewards[f"player_{i}"] for i in range(16)] == pytest.approx(expected.tolist())
    assert obs["player_0"]["observation"].tolist() == [0, 1, 1, 1, 1]
    assert obs["player_12"]["observation"].tolist() == [1, 1, 0, 1, 1]
    assert infos["player_5"]["cooperation_rate"] == pytest.approx(13 / 16)
    # Same local view at the same step: same state key, wherever the agent sits.
    # (2, 0) and (3, 3) both see five cooperators; (0, 1) has a defector to the west.
    assert infos["player_8"]["state_key"] == infos["player_15"]["state_key"] != infos["player_1"]["state_key"]
    obs, rewards, terms, truncs, infos = env.step({a: C for a in env.agents})
    assert all(terms.values()) and not any(truncs.values()) and set(rewards.values()) == {1.0}
    assert infos["player_0"]["social"]["cooperation_rate"] == pytest.approx((13 / 16 + 1) / 2)
    assert infos["player_0"]["social"]["efficiency"] == pytest.approx((expected.sum() + 16) / 2)


def test_text_view_and_single_agent_form():
    env = gym.make(ENV_ID, size=3, horizon=2, opponents="random", seat=4)
    obs, info = env.reset(seed=0)
    assert "agent 4 (row 1, column 1)" in obs and "Legal actions: cooperate, defect." in obs
    obs, r, term, trunc, info = env.step("defect")
    assert "self defect" in obs and "Your last reward" in obs and info["action_valid"]
    assert 0.0 <= r <= 1.0 + DR  # a defector earns between P and T
    obs, r, term, trunc, info = env.step("<action>c</action>")
    assert term and not trunc and "social" in info and "success" in info


# ------------------------------------------------------------------------------------------ VecEnv
def test_vecenv_auto_reset_follows_sb3_conventions():
    pytest.importorskip("stable_baselines3")
    from turngym.envs.dilemmas.spatial_vec import SpatialPDVecEnv

    venv = SpatialPDVecEnv(size=4, horizon=3, seed=5)
    assert venv.num_envs == 16 and venv.observation_space.shape == (5,) and venv.action_space.n == 2
    obs = venv.reset()
    assert obs.shape == (16, 5)
    for t in range(3):
        actions = GRID.reshape(-1) if t == 2 else np.zeros(16, np.int64)
        obs, rewards, dones, infos = venv.step(actions)
        assert rewards.shape == (16,) and dones.dtype == bool and len(infos) == 16
        assert dones.all() == (t == 2) and dones.any() == (t == 2)
    # The final observation of each slot is its view of GRID; the returned obs belong to the new episode.
    final = lattice_observations(GRID.reshape(-1), 4)
    for i, info in enumerate(infos):
        np.testing.assert_array_equal(info["terminal_observation"], final[i])
        assert info["TimeLimit.truncated"] is True and info["social"]["peace"] == 16.0
    np.testing.assert_allclose(rewards, loop_reference(GRID, DR).reshape(-1), rtol=1e-6)
    assert venv.core.t == 0
    np.testing.assert_array_equal(obs, venv.core.observations())
    obs2, _, dones, infos = venv.step(np.zeros(16, np.int64))
    assert not dones.any() and "terminal_observation" not in infos[0] and venv.core.t == 1
    # seed() applies at the next reset, as in SB3.
    venv.seed(9)
    a = venv.reset()
    venv.seed(9)
    np.testing.assert_array_equal(a, venv.reset())


def test_vecenv_trains_with_sb3_dqn():
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import DQN

    from turngym.envs.dilemmas.spatial_vec import SpatialPDVecEnv

    venv = SpatialPDVecEnv(size=4, horizon=10, seed=0)
    model = DQN("MlpPolicy", venv, buffer_size=2_000, learning_starts=64, batch_size=32, train_freq=1,
                gradient_steps=1, target_update_interval=50, policy_kwargs={"net_arch": [16]}, seed=0, device="cpu")
    model.learn(total_timesteps=16 * 40)  # 40 lattice steps = 4 episodes, 640 agent-steps
    assert model.num_timesteps >= 16 * 40
    assert model.replay_buffer.size() > 0 and model._n_updates > 0
    # Episode boundaries were stored as timeouts (bootstrapped), never as terminal transitions.
    n = model.replay_buffer.size()
    assert model.replay_buffer.timeouts[:n].sum() == model.replay_buffer.dones[:n].sum() > 0
    actions, _ = model.predict(venv.reset(), deterministic=True)
    assert actions.shape == (16,) and set(np.unique(actions)) <= {0, 1}
