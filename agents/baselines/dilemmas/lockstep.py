"""Lockstep driver: several Q-learners step one spatial prisoner's dilemma lattice together.

Every lattice step (``lockstep_step``):

1. each learner computes the Q-values of its own agents' observations;
2. actions for all agents are drawn from the joint ``(N, 2)`` Q-values with one exploration rule
   (epsilon-greedy or Boltzmann) and the driver's ``np.random.Generator``;
3. the ``SpatialPD`` core plays all actions at once;
4. each learner receives exactly its agents' transitions ``(s, a, r, s')`` and updates on its schedule.

This reproduces the three learning architectures of arXiv 2601.05509 (Weng & Lee 2026): one network
shared by all agents, one per group of agents, and independent learners (``build_learners``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from tqdm import tqdm

from turngym.agents.baselines.dilemmas.exploration import ExplorationKind, explore, greedy
from turngym.agents.baselines.dilemmas.learners import (
    DQNConfig,
    Learner,
    SB3DQNLearner,
    TabularConfig,
    TabularQLearners,
)
from turngym.agents.baselines.dilemmas.partition import PartitionLayout, partition_lattice
from turngym.envs.dilemmas.spatial import SpatialPD

Method = Literal["shared", "grouped", "independent"]
METHODS: tuple[str, ...] = ("shared", "grouped", "independent")
#: Beyond this many agents, independent SB3 DQN models (one per agent) are refused as impractical.
MAX_DQN_MODELS = 100


def build_learners(method: Method, size: int, *, groups: int = 10, layout: PartitionLayout = "blocks",
                   independent_backend: Literal["tabular", "dqn"] = "tabular",
                   dqn: DQNConfig | None = None, tabular: TabularConfig | None = None,
                   seed: int = 0) -> list[Learner]:
    """The learners of one architecture on a ``size x size`` lattice.

    Args:
        method: ``shared`` (one SB3 DQN for all agents), ``grouped`` (one SB3 DQN per group of
            ``partition_lattice(size, groups, layout)``) or ``independent`` (one learner per agent).
        size: Lattice side L.
        groups: Number of groups for ``grouped``.
        layout: Partition layout for ``grouped``.
        independent_backend: ``tabular`` (``TabularQLearners``, any size) or ``dqn`` (one SB3 DQN per
            agent; at most ``MAX_DQN_MODELS`` agents).
        dqn: DQN hyperparameters (default ``DQNConfig()``).
        tabular: Tabular hyperparameters (default: ``TabularConfig`` with the DQN discount).
        seed: Seeds the partition and every model (independent streams via ``np.random.SeedSequence``).

    Returns:
        Learners whose ``agents`` partition ``0..L*L-1``.

    Raises:
        ValueError: unknown method or backend, or too many agents for per-agent DQN.
    """
    dqn = dqn or DQNConfig()
    n = size * size
    seq = np.random.SeedSequence(seed)
    part_seq, model_seq = seq.spawn(2)

    def model_seeds(k: int) -> list[int]:
        return [int(s.generate_state(1)[0]) for s in model_seq.spawn(k)]

    if method == "shared":
        return [SB3DQNLearner(np.arange(n), dqn, model_seeds(1)[0])]
    if method == "grouped":
        ids = partition_lattice(size, groups, layout, np.random.default_rng(part_seq))
        return [SB3DQNLearner(np.flatnonzero(ids == g), dqn, s) for g, s in enumerate(model_seeds(groups))]
    if method == "independent":
        if independent_backend == "tabular":
            return [TabularQLearners(np.arange(n), tabular or TabularConfig(gamma=dqn.gamma))]
        if independent_backend == "dqn":
            if n > MAX_DQN_MODELS:
                raise ValueError(f"one SB3 DQN per agent is limited to {MAX_DQN_MODELS} agents, got {n}; "
                                 "use independent_backend='tabular' or a smaller lattice")
            return [SB3DQNLearner(np.array([i]), dqn, s) for i, s in enumerate(model_seeds(n))]
        raise ValueError(f"independent_backend must be 'tabular' or 'dqn', got {independent_backend!r}")
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def joint_q_values(learners: Sequence[Learner], obs: np.ndarray) -> np.ndarray:
    """``(N, 2)`` Q-values of all agents, each row from the learner that owns that agent."""
    q = np.empty((obs.shape[0], 2), dtype=np.float64)
    for learner in learners:
        q[learner.agents] = learner.q_values(obs[learner.agents])
    return q


def lockstep_step(core: SpatialPD, learners: Sequence[Learner], obs: np.ndarray, kind: ExplorationKind,
                  strength: float, rng: np.random.Generator, step: int,
                  total_steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """One lattice step: act (explore), play, hand each learner its own transitions, update.

    Args:
        core: The lattice, mid-episode.
        learners: Learners partitioning the agents.
        obs: ``(N, 5)`` current observations.
        kind: Exploration rule.
        strength: Epsilon or temperature.
        rng: Exploration RNG.
        step: 1-based count of lattice steps including this one (drives the learners' schedules).
        total_steps: Lattice steps in the whole run (learning-rate progress).

    Returns:
        ``(next_obs, actions, rewards, info)`` of ``core.step``.
    """
    actions = explore(joint_q_values(learners, obs), kind, strength, rng)
    next_obs, rewards, _, _, info = core.step(actions)
    for learner in learners:
        idx = learner.agents
        learner.observe(obs[idx], actions[idx], rewards[idx].astype(np.float32), next_obs[idx])
        learner.update(step, total_steps)
    return next_obs, actions, rewards, info


@dataclass
class RunResult:
    """Outcome of one training run.

    Attributes:
        coop_curve: Cooperation rate after every training lattice step (behaviour policy).
        episode_coop: Mean cooperation rate of each training episode.
        final_coop: Mean cooperation rate over the last ``final_episodes`` training episodes
            (with exploration on: what the agents actually played at the end of training).
        greedy_coop: Mean cooperation rate of ``eval_episodes`` fresh episodes played greedily
            (exploration off): what the learned policies sustain.
        num_models: Independent Q-functions in the run (networks, or one table per agent).
        seconds: Wall time of training and evaluation.
    """

    coop_curve: np.ndarray
    episode_coop: np.ndarray
    final_coop: float
    greedy_coop: float
    num_models: int
    seconds: float
    extra: dict = field(default_factory=dict)


def evaluate_greedy(learners: Sequence[Learner], core: SpatialPD, episodes: int, seed: int) -> float:
    """Mean cooperation rate of ``episodes`` fresh episodes with every agent greedy (ties broken at random).

    Learners are not updated. ``core`` is reset with seeds drawn from ``seed``.
    """
    seq = np.random.SeedSequence(seed)
    rng = np.random.default_rng(seq.spawn(1)[0])
    rates = []
    for ep_seed in seq.generate_state(episodes):
        obs = core.reset(seed=int(ep_seed))
        truncated = False
        while not truncated:
            obs, _, _, truncated, info = core.step(greedy(joint_q_values(learners, obs), rng))
        rates.append(info["social"]["cooperation_rate"])
    return float(np.mean(rates))


def train_lockstep(method: Method, *, size: int = 30, dr: float = 0.25, horizon: int = 50, episodes: int = 40,
                   kind: ExplorationKind = "epsilon", strength: float = 0.1, seed: int = 0, groups: int = 10,
                   layout: PartitionLayout = "blocks", independent_backend: Literal["tabular", "dqn"] = "tabular",
                   dqn: DQNConfig | None = None, tabular: TabularConfig | None = None, init_coop: float = 0.5,
                   final_episodes: int = 5, eval_episodes: int = 2, progress: bool = False) -> RunResult:
    """Trains one architecture on the spatial PD with fixed exploration and reports cooperation.

    Args:
        method: ``shared``, ``grouped`` or ``independent`` (``build_learners``).
        size: Lattice side L.
        dr: Dilemma strength (R=1, P=0, S=-Dr, T=1+Dr).
        horizon: Steps per episode.
        episodes: Training episodes (the lattice is re-drawn at random at each episode start).
        kind: ``epsilon`` or ``boltzmann``.
        strength: Epsilon or temperature, constant during training.
        seed: Master seed (env, exploration, models and evaluation get independent streams).
        groups: Groups for ``grouped``.
        layout: Partition layout for ``grouped``.
        independent_backend: ``tabular`` or ``dqn`` (``build_learners``).
        dqn: DQN hyperparameters.
        tabular: Tabular hyperparameters.
        init_coop: Probability of an initial cooperative move.
        final_episodes: Training episodes averaged into ``final_coop``.
        eval_episodes: Greedy evaluation episodes averaged into ``greedy_coop``.
        progress: Show a tqdm bar over episodes.

    Returns:
        A ``RunResult``.
    """
    started = time.perf_counter()
    env_seq, explore_seq, model_seq, eval_seq = np.random.SeedSequence(seed).spawn(4)
    learners = build_learners(method, size, groups=groups, layout=layout, independent_backend=independent_backend,
                              dqn=dqn, tabular=tabular, seed=int(model_seq.generate_state(1)[0]))
    core = SpatialPD(size=size, dr=dr, horizon=horizon, init_coop=init_coop, seed=int(env_seq.generate_state(1)[0]))
    rng = np.random.default_rng(explore_seq)
    total = episodes * horizon
    curve = np.empty(total, dtype=np.float64)
    episode_coop = np.empty(episodes, dtype=np.float64)
    step = 0
    desc = f"{method} {kind}={strength:g} seed={seed}"
    for ep in tqdm(range(episodes), desc=desc, disable=not progress, leave=False):
        obs = core.reset()
        truncated = False
        while not truncated:
            step += 1
            obs, _, _, info = lockstep_step(core, learners, obs, kind, strength, rng, step, total)
            truncated = core.t >= core.horizon
            curve[step - 1] = info["cooperation_rate"]
        episode_coop[ep] = info["social"]["cooperation_rate"]
    final = float(episode_coop[-max(1, min(final_episodes, episodes)):].mean())
    eval_core = SpatialPD(size=size, dr=dr, horizon=horizon, init_coop=init_coop)
    greedy_rate = evaluate_greedy(learners, eval_core, eval_episodes, int(eval_seq.generate_state(1)[0]))
    return RunResult(coop_curve=curve, episode_coop=episode_coop, final_coop=final, greedy_coop=greedy_rate,
                     num_models=sum(learner.num_models for learner in learners), seconds=time.perf_counter() - started)
