"""Dilemmas and other simultaneous-move games: repeated matrix games (rock-paper-scissors)."""

from turngym.envs.core.registry import EnvInfo, register_env
from turngym.envs.dilemmas.matrix import MatrixState, RepeatedMatrixGame
from turngym.envs.dilemmas.rps import RockPaperScissorsEnv, RockPaperScissorsGame, RockPaperScissorsParallel

register_env(EnvInfo("turngym/RockPaperScissors-v0", "dilemmas", RockPaperScissorsEnv,
                     parallel=RockPaperScissorsParallel, modes=("text", "vector"),
                     summary="Repeated rock-paper-scissors, 2 players, simultaneous moves"))

__all__ = ["MatrixState", "RepeatedMatrixGame", "RockPaperScissorsEnv", "RockPaperScissorsGame",
           "RockPaperScissorsParallel"]
