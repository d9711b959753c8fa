"""Base classes, spaces, registry, parsing, conformance checkers."""

from turngym.envs.core.aec import GameAECEnv
from turngym.envs.core.agent_api import Agent, RandomLegalAgent
from turngym.envs.core.errors import ConfigError, SnapshotError, TurnGymError, UnknownEnvError
from turngym.envs.core.game import TurnGame
from turngym.envs.core.parallel import GameParallelEnv, SimultaneousSingleAgentEnv
from turngym.envs.core.registry import (
    EnvInfo,
    env_info,
    list_envs,
    make,
    make_aec,
    make_parallel,
    register_env,
)
from turngym.envs.core.simultaneous import SimultaneousGame, SimultaneousSession
from turngym.envs.core.single import GameSingleAgentEnv
from turngym.envs.core.spaces import Text
from turngym.envs.core.state_key import make_state_key
from turngym.envs.core.text_env import TextEnv

__all__ = [
    "Agent", "ConfigError", "EnvInfo", "GameAECEnv", "GameParallelEnv", "GameSingleAgentEnv", "RandomLegalAgent",
    "SimultaneousGame", "SimultaneousSession", "SimultaneousSingleAgentEnv", "SnapshotError", "Text", "TextEnv",
    "TurnGame", "TurnGymError", "UnknownEnvError", "env_info", "list_envs", "make", "make_aec", "make_parallel",
    "make_state_key", "register_env",
]
