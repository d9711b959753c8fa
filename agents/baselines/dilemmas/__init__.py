"""Learning in the social dilemmas with existing libraries (Stable-Baselines3, SuperSuit).

* Spatial prisoner's dilemma (arXiv 2601.05509): SB3 DQN with one network shared by all agents, one per
  group, or independent per-agent learners, stepped in lockstep on one lattice (``lockstep``).
* Harvest: PPO with one shared policy through SuperSuit's PettingZoo -> SB3 vector conversion
  (``harvest``; imported lazily because it needs SuperSuit).
"""

from turngym.agents.baselines.dilemmas.exploration import boltzmann, boltzmann_probs, epsilon_greedy, explore, greedy
from turngym.agents.baselines.dilemmas.learners import (
    DQNConfig,
    GeneratorReplayBuffer,
    SB3DQNLearner,
    TabularConfig,
    TabularQLearners,
    make_dqn,
    observation_states,
)
from turngym.agents.baselines.dilemmas.lockstep import (
    METHODS,
    RunResult,
    build_learners,
    evaluate_greedy,
    joint_q_values,
    lockstep_step,
    train_lockstep,
)
from turngym.agents.baselines.dilemmas.partition import partition_lattice

__all__ = [
    "METHODS", "DQNConfig", "GeneratorReplayBuffer", "RunResult", "SB3DQNLearner", "TabularConfig",
    "TabularQLearners", "boltzmann", "boltzmann_probs", "build_learners", "epsilon_greedy", "evaluate_greedy",
    "explore", "greedy", "joint_q_values", "lockstep_step", "make_dqn", "observation_states", "partition_lattice",
    "train_lockstep",
]
