"""Q-learners that act for a subset of the lattice's agents: Stable-Baselines3 DQN, or per-agent tables.

A learner owns the agents ``agents`` (lattice indices). The lockstep driver (``lockstep``) asks every
learner for its agents' Q-values, picks actions with its own exploration RNG, steps the lattice once,
then hands each learner exactly its own agents' transitions and lets it update.

* ``SB3DQNLearner`` wraps one ``stable_baselines3.DQN``: its ``q_net``/``q_net_target``, its replay
  buffer (one SB3 "env" slot per owned agent) and its own ``train(gradient_steps, batch_size)`` and
  ``_on_step`` (target-network updates). Nothing of DQN is reimplemented. One learner for all agents is
  the shared-parameter setting of arXiv 2601.05509; one per group is their grouped setting.
* ``TabularQLearners`` holds one Q-table per agent for independent learners (the observation has
  2**5 = 32 states, so a table is an exact, fully independent representation; see its docstring).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import DQN
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.type_aliases import ReplayBufferSamples

#: Observation and action spaces of one lattice agent (``SpatialPD``: 5 last moves; cooperate / defect).
OBS_SPACE = spaces.Box(0.0, 1.0, (5,), np.float32)
ACTION_SPACE = spaces.Discrete(2)
#: Bit weights that turn a 0/1 observation ``[self, N, S, W, E]`` into a state id in 0..31.
STATE_BITS = np.array([16, 8, 4, 2, 1], dtype=np.int64)


class Learner(Protocol):
    """What the lockstep driver needs from a learner."""

    agents: np.ndarray
    num_models: int
    """Independent Q-functions the learner holds (1 for an SB3 model, one per agent for tables)."""

    def q_values(self, obs: np.ndarray) -> np.ndarray:
        """``(len(agents), 2)`` Q-values for the owned agents' observations ``(len(agents), 5)``."""
        ...

    def observe(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray) -> None:
        """Records one transition per owned agent (arrays aligned with ``agents``)."""
        ...

    def update(self, step: int, total_steps: int) -> None:
        """Called once per lattice step after ``observe``; ``step`` counts lattice steps so far (1-based)."""
        ...


@dataclass
class DQNConfig:
    """Hyperparameters of every SB3 DQN model in a run (equal for shared, grouped and per-agent models)."""

    net_arch: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the Q-network MLP."""
    learning_rate: float = 1e-3
    """Adam learning rate."""
    gamma: float = 0.9
    """Discount factor."""
    batch_size: int = 64
    """Transitions per gradient step (sampled uniformly from the model's replay buffer)."""
    buffer_steps: int = 200
    """Lattice steps each model's replay buffer keeps (capacity = buffer_steps x the model's agents), so every
    model remembers the same stretch of history however many agents it serves."""
    train_every: int = 1
    """Lattice steps between calls to the model's ``train``."""
    gradient_steps: int = 1
    """Gradient steps per ``train`` call."""
    target_update_steps: int = 50
    """Lattice steps between hard target-network updates (SB3 ``_on_step``, tau = 1)."""
    learning_starts: int = 10
    """Lattice steps collected before the first ``train`` call."""
    max_grad_norm: float = 10.0
    """Gradient-norm clip of SB3's DQN."""


@dataclass
class TabularConfig:
    """Hyperparameters of per-agent tabular Q-learning."""

    alpha: float = 0.1
    """Step size of the Q-learning update."""
    gamma: float = 0.9
    """Discount factor (keep equal to ``DQNConfig.gamma`` for a fair comparison)."""


class GeneratorReplayBuffer(ReplayBuffer):
    """SB3 ``ReplayBuffer`` that samples from its own ``np.random.Generator`` instead of numpy's global RNG.

    Storage and the returned ``ReplayBufferSamples`` are SB3's; only the index draws change, so a run is
    reproducible from its seed without seeding global state. ``optimize_memory_usage`` is not supported.

    Args:
        *args: ``ReplayBuffer`` arguments.
        rng: Source of the sampled indices (a fresh unseeded one when None).
        **kwargs: ``ReplayBuffer`` keyword arguments.
    """

    def __init__(self, *args: Any, rng: np.random.Generator | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if self.optimize_memory_usage:
            raise ValueError("GeneratorReplayBuffer does not support optimize_memory_usage")
        self.rng = rng if rng is not None else np.random.default_rng()

    def size(self) -> int:
        """Rows filled (each row holds one transition per slot)."""
        return self.buffer_size if self.full else self.pos

    def sample(self, batch_size: int, env: Any = None) -> ReplayBufferSamples:
        """``batch_size`` transitions drawn uniformly (with replacement) over all stored (row, slot) pairs."""
        rows = self.rng.integers(0, self.size(), size=batch_size)
        slots = self.rng.integers(0, self.n_envs, size=batch_size)
        data = (
            self._normalize_obs(self.observations[rows, slots, :], env),
            self.actions[rows, slots, :],
            self._normalize_obs(self.next_observations[rows, slots, :], env),
            (self.dones[rows, slots] * (1 - self.timeouts[rows, slots])).reshape(-1, 1),
            self._normalize_reward(self.rewards[rows, slots].reshape(-1, 1), env),
        )
        return ReplayBufferSamples(*tuple(map(self.to_torch, data)))


def make_dqn(num_agents: int, config: DQNConfig, seed: int) -> DQN:
    """An SB3 ``DQN`` whose replay buffer has one slot per agent it serves; no env is attached.

    The model is built with ``_init_setup_model=False`` and given the lattice agent's spaces and
    ``n_envs = num_agents``, then ``_setup_model()`` creates the Q-network, target network, optimizer and
    replay buffer exactly as ``DQN(env=...)`` would. Weights are initialized under a forked torch RNG
    seeded with ``seed`` (the global torch RNG is left untouched); replay sampling uses a
    ``GeneratorReplayBuffer`` seeded from ``seed``.

    Args:
        num_agents: Agents whose transitions the model stores and learns from.
        config: Hyperparameters.
        seed: Seed of the weights and the replay sampling.

    Returns:
        A ready ``DQN`` with a silent logger (``train`` records into it).
    """
    model = DQN(
        "MlpPolicy", env=None, learning_rate=config.learning_rate,
        buffer_size=config.buffer_steps * num_agents, learning_starts=0, batch_size=config.batch_size,
        tau=1.0, gamma=config.gamma, train_freq=config.train_every, gradient_steps=config.gradient_steps,
        replay_buffer_class=GeneratorReplayBuffer,
        replay_buffer_kwargs={"rng": np.random.default_rng(seed), "handle_timeout_termination": False},
        # _on_step divides the interval by n_envs (one call = n_envs transitions): this makes it lattice steps.
        target_update_interval=config.target_update_steps * num_agents,
        max_grad_norm=config.max_grad_norm, policy_kwargs={"net_arch": list(config.net_arch)},
        device="cpu", _init_setup_model=False,
    )
    model.observation_space, model.action_space, model.n_envs = OBS_SPACE, ACTION_SPACE, num_agents
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model._setup_model()
    model.set_logger(Logger(folder=None, output_formats=[]))
    return model


class SB3DQNLearner:
    """One SB3 DQN model acting and learning for ``agents``.

    Args:
        agents: Lattice indices of the agents this model controls.
        config: Hyperparameters.
        seed: Seed of the model (weights, replay sampling).

    Attributes:
        agents: As given (int64 array).
        model: The ``stable_baselines3.DQN``.
    """

    def __init__(self, agents: np.ndarray, config: DQNConfig, seed: int):
        self.agents = np.asarray(agents, dtype=np.int64)
        self.config = config
        self.model = make_dqn(len(self.agents), config, seed)
        self.num_models = 1
        self._no_done = np.zeros(len(self.agents), dtype=np.float32)

    def q_values(self, obs: np.ndarray) -> np.ndarray:
        """Online-network Q-values of the owned agents' observations."""
        with torch.no_grad():
            return self.model.q_net(torch.as_tensor(obs, dtype=torch.float32)).numpy()

    def observe(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray) -> None:
        """Adds one transition per owned agent to the model's replay buffer (one row, one slot per agent).

        ``done`` is always 0: the lattice never terminates, and the horizon is a time limit, so the
        target bootstraps through it (Pardo et al. 2018); ``next_obs`` at the horizon is the final one.
        """
        self.model.replay_buffer.add(obs, next_obs, actions, rewards, self._no_done, [])
        self.model.num_timesteps += len(self.agents)

    def update(self, step: int, total_steps: int) -> None:
        """SB3's own training call on schedule, then ``_on_step`` (hard target update every N steps).

        ``train`` minimizes the Huber TD loss towards r + gamma max_a' Q_target(s', a') (Mnih et al.
        2015, eq. 2 of Methods); ``_on_step`` copies the online weights to the target network.
        """
        m = self.model
        m._update_current_progress_remaining(step, total_steps)
        if step >= self.config.learning_starts and step % self.config.train_every == 0:
            m.train(gradient_steps=self.config.gradient_steps, batch_size=self.config.batch_size)
        m._on_step()


def observation_states(obs: np.ndarray) -> np.ndarray:
    """State id 0..31 of each 0/1 observation row ``[self, N, S, W, E]`` (binary, self = high bit)."""
    return (np.asarray(obs) > 0.5).astype(np.int64) @ STATE_BITS


class TabularQLearners:
    """Independent Q-learning with one 32 x 2 table per agent, all updated in one vectorized call.

    Why not one SB3 DQN per agent: 900 SB3 models cost ~900 Python-level ``train`` calls per lattice
    step (about a second on 2 CPU cores), which makes a sweep infeasible. The observation is 5 bits,
    so a table is an exact representation with no parameters shared between agents, which is the
    property the comparison is about (arXiv 2601.05509: collapse disappears without parameter sharing).
    It uses the same discount and the same exploration rule and strength as the DQN learners; it
    differs in the function class (table vs MLP) and in having no replay buffer or target network.
    For an SB3-DQN-per-agent run on a small lattice, use ``SB3DQNLearner`` per agent
    (``build_learners(..., independent_backend="dqn")``).

    Args:
        agents: Lattice indices of the agents.
        config: Step size and discount.

    Attributes:
        q: ``(len(agents), 32, 2)`` float64 tables, initialized to 0.
    """

    def __init__(self, agents: np.ndarray, config: TabularConfig):
        self.agents = np.asarray(agents, dtype=np.int64)
        self.config = config
        self.q = np.zeros((len(self.agents), 32, 2), dtype=np.float64)
        self.num_models = len(self.agents)
        self._rows = np.arange(len(self.agents))

    def q_values(self, obs: np.ndarray) -> np.ndarray:
        """Each agent's own table row for its observation."""
        return self.q[self._rows, observation_states(obs)]

    def observe(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray) -> None:
        """Watkins Q-learning, Q(s,a) += alpha (r + gamma max_a' Q(s',a') - Q(s,a)) (Sutton & Barto 2018, eq. 6.8).

        As for DQN, the horizon is a time limit, so the target always bootstraps.
        """
        s, s2 = observation_states(obs), observation_states(next_obs)
        a = np.asarray(actions, dtype=np.int64)
        target = np.asarray(rewards, dtype=np.float64) + self.config.gamma * self.q[self._rows, s2].max(axis=1)
        self.q[self._rows, s, a] += self.config.alpha * (target - self.q[self._rows, s, a])

    def update(self, step: int, total_steps: int) -> None:
        """Nothing: the tables learn online in ``observe``."""
