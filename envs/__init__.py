"""turngym environments. Importing this package registers every ``turngym/...`` id with Gymnasium.

Example:
    >>> import gymnasium as gym
    >>> import turngym.envs
    >>> env = gym.make("turngym/LeducHoldem-v0")
    >>> obs, info = env.reset(seed=0)
"""

from turngym.envs import (
    cards,  # noqa: F401  (registers the card games)
    dilemmas,  # noqa: F401  (registers the simultaneous-move games)
    tooluse,  # noqa: F401  (registers the tool-use task families)
)
from turngym.envs.core import (
    Agent,
    ConfigError,
    RandomLegalAgent,
    SnapshotError,
    Text,
    TextEnv,
    TurnGymError,
    UnknownEnvError,
    env_info,
    list_envs,
    make,
    make_aec,
    make_parallel,
)
from turngym.envs.core.checker import check_env, check_multiagent_env

__all__ = [
    "Agent", "ConfigError", "RandomLegalAgent", "SnapshotError", "Text", "TextEnv", "TurnGymError",
    "UnknownEnvError", "check_env", "check_multiagent_env", "env_info", "list_envs", "make", "make_aec",
    "make_parallel",
]
