"""Hanabi: the cooperative card game with the rules of the Hanabi Learning Environment (OpenSpiel's ``hanabi``).

``turngym/Hanabi-v0`` has text and vector modes, a PettingZoo AEC form (self-play: every seat gets the team
reward) and a single-agent form whose other seats are played by built-in partners, ``"heuristic"`` (the
default and the registry's expert, ``turngym.envs.hanabi.partners``) or ``"random"``. OpenSpiel is not needed:
the rules are implemented here and checked against OpenSpiel's in the tests.
"""

from turngym.envs.core.registry import EnvInfo, register_env
from turngym.envs.hanabi.env import HanabiAEC, HanabiEnv
from turngym.envs.hanabi.game import HanabiConfig, HanabiGame
from turngym.envs.hanabi.partners import HeuristicPartner

#: Training a single policy: text, with the heuristic partner, in a random seat (so it learns to open and to answer).
_TRAINING = {"obs_mode": "text", "opponents": ["heuristic"], "seat": "random"}
register_env(EnvInfo("turngym/Hanabi-v0", "hanabi", HanabiEnv, aec=HanabiAEC, modes=("text", "vector"),
                     summary="Hanabi, 2-5 players, cooperative (OpenSpiel/HLE rules); default 2 players, 2 colors, "
                             "5 ranks, hand 3; 'heuristic' partner",
                     expert="turngym.envs.hanabi.partners:hanabi_expert", train_kwargs=_TRAINING))

__all__ = ["HanabiAEC", "HanabiConfig", "HanabiEnv", "HanabiGame", "HeuristicPartner"]
