"""Advantage estimators: pure, vectorized functions of a ``TurnBatch``, selected by name (DESIGN section 4).

Example:
    >>> import numpy as np
    >>> from turngym.agents.llm.batch import TurnBatch
    >>> from turngym.agents.llm.estimators import get_estimator
    >>> b = TurnBatch(episode_id=np.array([0, 1]), group_id=np.array([0, 0]), turn=np.array([0, 0]),
    ...               reward=np.array([1.0, 0.0]))
    >>> get_estimator("rloo")(b).tolist()
    [1.0, -1.0]
"""

from turngym.agents.llm.estimators.gae import gae, gae_returns
from turngym.agents.llm.estimators.gigpo import gigpo, gigpo_episode, gigpo_step
from turngym.agents.llm.estimators.igpo import igpo, info_gain
from turngym.agents.llm.estimators.mars import mars, mars_metrics, player_returns_to_go
from turngym.agents.llm.estimators.outcome import grpo, rloo
from turngym.agents.llm.estimators.registry import (
    ESTIMATORS,
    REQUIRES,
    check_options,
    estimate,
    estimator_metrics,
    get_estimator,
    has_value_targets,
    option_names,
    register,
    register_metrics,
    register_value_targets,
    requirements,
    value_targets,
)
from turngym.agents.llm.estimators.shaping import gated_accumulation, invalid_action_penalty

__all__ = [
    "ESTIMATORS", "REQUIRES", "check_options", "estimate", "estimator_metrics", "gae", "gae_returns",
    "gated_accumulation", "get_estimator", "gigpo", "gigpo_episode", "gigpo_step", "grpo", "has_value_targets",
    "igpo", "info_gain", "invalid_action_penalty", "mars", "mars_metrics", "option_names", "player_returns_to_go",
    "register", "register_metrics", "register_value_targets", "requirements", "rloo", "value_targets",
]
