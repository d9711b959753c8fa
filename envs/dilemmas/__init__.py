"""Dilemmas and other simultaneous-move games.

Repeated matrix games (rock-paper-scissors, prisoner's dilemma, stag hunt, chicken), the N-player public
goods game, the spatial prisoner's dilemma, and (in ``gridworld``) Harvest and Cleanup.
"""

from turngym.envs.core.registry import EnvInfo, register_env
from turngym.envs.dilemmas import gridworld  # noqa: F401  (registers Harvest and Cleanup)
from turngym.envs.dilemmas.games import (
    CHICKEN_ID,
    PD_ID,
    STAG_HUNT_ID,
    ChickenEnv,
    ChickenGame,
    ChickenParallel,
    PrisonersDilemmaEnv,
    PrisonersDilemmaGame,
    PrisonersDilemmaParallel,
    StagHuntEnv,
    StagHuntGame,
    StagHuntParallel,
    SymmetricDilemmaGame,
)
from turngym.envs.dilemmas.matrix import MatrixState, RepeatedMatrixGame, RepeatedStageGame
from turngym.envs.dilemmas.public_goods import ENV_ID as PUBLIC_GOODS_ID
from turngym.envs.dilemmas.public_goods import PublicGoodsEnv, PublicGoodsGame, PublicGoodsParallel
from turngym.envs.dilemmas.rps import RockPaperScissorsEnv, RockPaperScissorsGame, RockPaperScissorsParallel
from turngym.envs.dilemmas.spatial import ENV_ID as SPATIAL_PD_ID
from turngym.envs.dilemmas.spatial import SpatialPD, SpatialPDEnv, SpatialPDGame, SpatialPDParallel

_MODES = ("text", "vector")

register_env(EnvInfo("turngym/RockPaperScissors-v0", "dilemmas", RockPaperScissorsEnv,
                     parallel=RockPaperScissorsParallel, modes=_MODES,
                     summary="Repeated rock-paper-scissors, 2 players, simultaneous moves"))
register_env(EnvInfo(PD_ID, "dilemmas", PrisonersDilemmaEnv, parallel=PrisonersDilemmaParallel, modes=_MODES,
                     summary="Repeated prisoner's dilemma, 2 players, fixed or random horizon"))
register_env(EnvInfo(STAG_HUNT_ID, "dilemmas", StagHuntEnv, parallel=StagHuntParallel, modes=_MODES,
                     summary="Repeated stag hunt, 2 players, fixed or random horizon"))
register_env(EnvInfo(CHICKEN_ID, "dilemmas", ChickenEnv, parallel=ChickenParallel, modes=_MODES,
                     summary="Repeated chicken (hawk-dove), 2 players, fixed or random horizon"))
register_env(EnvInfo(PUBLIC_GOODS_ID, "dilemmas", PublicGoodsEnv, parallel=PublicGoodsParallel, modes=_MODES,
                     summary="Repeated N-player public goods game, discrete contribution levels"))
register_env(EnvInfo(SPATIAL_PD_ID, "dilemmas", SpatialPDEnv, parallel=SpatialPDParallel, modes=_MODES,
                     summary="Spatial prisoner's dilemma on a periodic lattice, von Neumann neighbours"))

__all__ = ["ChickenEnv", "ChickenGame", "ChickenParallel", "MatrixState", "PrisonersDilemmaEnv",
           "PrisonersDilemmaGame", "PrisonersDilemmaParallel", "PublicGoodsEnv", "PublicGoodsGame",
           "PublicGoodsParallel", "RepeatedMatrixGame", "RepeatedStageGame", "RockPaperScissorsEnv",
           "RockPaperScissorsGame", "RockPaperScissorsParallel", "SpatialPD", "SpatialPDEnv", "SpatialPDGame",
           "SpatialPDParallel", "StagHuntEnv", "StagHuntGame", "StagHuntParallel",
           "SymmetricDilemmaGame"]
