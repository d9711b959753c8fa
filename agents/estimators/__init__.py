"""Advantage estimators: pure, vectorized functions of a ``TurnBatch``, selected by name (DESIGN section 4).

Example:
    >>> import numpy as np
    >>> from turngym.agents.batch import TurnBatch
    >>> from turngym.agents.estimators import get_estimator
    >>> b = TurnBatch(episode_id=np.array([0, 1]), group_id=np.array([0, 0]), turn=np.array([0, 0]),
    ...               reward=np.array([1.0, 0.0]))
    >>> get_estimator("rloo")(b).tolist()
    [1.0, -1.0]
"""

from turngym.agents.estimators.gae import gae, gae_returns
from turngym.agents.estimators.gigpo import gigpo, gigpo_episode, gigpo_step
from turngym.agents.estimators.igpo import igpo, info_gain
from turngym.agents.estimators.mars import mars, player_returns_to_go
from turngym.agents.estimators.outcome import grpo, rloo
from turngym.agents.estimators.registry import ESTIMATORS, REQUIRES, estimate, get_estimator, register, requirements
from turngym.agents.estimators.shaping import gated_accumulation, invalid_action_penalty

__all__ = [
    "ESTIMATORS", "REQUIRES", "estimate", "gae", "gae_returns", "gated_accumulation", "get_estimator", "gigpo",
    "gigpo_episode", "gigpo_step", "grpo", "igpo", "info_gain", "invalid_action_penalty", "mars",
    "player_returns_to_go", "register", "requirements", "rloo",
]
