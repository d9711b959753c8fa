"""Puzzles: single-agent, long-horizon tasks with Markov anchor states (Sokoban, FrozenLake).

Both generate a level at every reset from the env's RNG, verify it with an optimal solver
(``turngym.envs.puzzles.solvers``) and report its optimal length in ``info["task"]``; ``split="test"`` gives
held-out levels that no ``split="train"`` seed produces. Each id declares its scripted optimal expert
(``turngym.envs.puzzles.experts``) in the registry.
"""

from turngym.envs.core.registry import TEST_SPLIT, EnvInfo, register_env
from turngym.envs.puzzles.frozenlake import FrozenLakeEnv
from turngym.envs.puzzles.sokoban import SokobanEnv

register_env(EnvInfo("turngym/Sokoban-v0", "puzzles", SokobanEnv, modes=("text", "vector"),
                     summary="Sokoban in generated solvable rooms (gym-sokoban rules)",
                     expert="turngym.envs.puzzles.experts:sokoban_expert", eval_kwargs=TEST_SPLIT))
register_env(EnvInfo("turngym/FrozenLake-v0", "puzzles", FrozenLakeEnv, modes=("text", "vector"),
                     summary="FrozenLake on generated maps (Gymnasium's dynamics)",
                     expert="turngym.envs.puzzles.experts:frozenlake_expert", eval_kwargs=TEST_SPLIT))

__all__ = ["FrozenLakeEnv", "SokobanEnv"]
