"""turngym environments. Importing this package registers every ``turngym/...`` id with Gymnasium.

Your own ids register the same way, under your own namespace (README, "Custom environments"):
``register_env(EnvInfo("myorg/Nim-v0", "games", NimEnv, aec=NimAEC))``.

Example:
    >>> import gymnasium as gym
    >>> import turngym.envs
    >>> env = gym.make("turngym/LeducHoldem-v0")
    >>> obs, info = env.reset(seed=0)
"""

from turngym.envs import (
    boardgames,  # noqa: F401  (registers tic-tac-toe and Connect Four)
    cards,  # noqa: F401  (registers the card games)
    dilemmas,  # noqa: F401  (registers the simultaneous-move games)
    hanabi,  # noqa: F401  (registers turngym/Hanabi-v0)
    puzzles,  # noqa: F401  (registers Sokoban and FrozenLake)
    swe,  # noqa: F401  (registers turngym/SWE-v0 by name: no sandbox, no docker SDK until the first make)
    tooluse,  # noqa: F401  (registers the tool-use task families)
    web,  # noqa: F401  (registers the shop and MiniWoB++; browser ids load playwright on first make only)
)
from turngym.envs.core import (
    Agent,
    ConfigError,
    EnvInfo,
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
    register_env,
)
from turngym.envs.core.checker import check_env, check_multiagent_env
from turngym.envs.core.errors import MissingExtraError

__all__ = [
    "Agent", "ConfigError", "EnvInfo", "MissingExtraError", "RandomLegalAgent", "SnapshotError", "Text", "TextEnv",
    "TurnGymError", "UnknownEnvError", "check_env", "check_multiagent_env", "env_info", "list_envs", "make",
    "make_aec", "make_parallel", "register_env",
]
