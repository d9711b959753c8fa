"""Scripted optimal experts of the puzzles (the ``EnvInfo.expert`` factories of Sokoban and FrozenLake).

A factory is called as ``factory(env_id, seed=..., env_kwargs=...)`` and returns ``act(env, observation,
info) -> str``: the text of the next optimal action from the env's *current* state, read from the unwrapped
env (a teacher for supervised warm starts, never an acting policy in an evaluation). It replans from the
current state at every call, so it stays optimal after a slip, an invalid action or a ``set_state``; plans
are memoized per state, which gives the same answers as replanning from scratch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from turngym.envs.core.errors import ConfigError
from turngym.envs.puzzles.solvers import lake_policy, solve_lake, solve_sokoban

Act = Callable[[Any, Any, dict[str, Any]], str]


def _unwrapped(env: Any, cls_name: str) -> Any:
    base = getattr(env, "unwrapped", env)
    if type(base).__name__ != cls_name or getattr(base, "level", None) is None:
        raise ConfigError("expert env", f"a reset {cls_name} (gym.make of its id)", type(base).__name__)
    return base


def sokoban_expert(env_id: str = "turngym/Sokoban-v0", seed: int | None = None,
                   env_kwargs: dict[str, Any] | None = None) -> Act:
    """Breadth-first-search expert of ``turngym/Sokoban-v0``: the first move of a shortest solution.

    Args:
        env_id: The id (for the registry's calling convention).
        seed: Unused: the expert is deterministic (ties go to the lowest action id: up, down, left, right).
        env_kwargs: Unused: the expert reads the room from the env.

    Returns:
        ``act(env, observation, info) -> str``. From a position with no solution (a box pushed into a
        dead end), or beyond the env's search budget, it answers ``up``.
    """
    plans: dict[tuple[Any, ...], int] = {}

    def act(env: Any, observation: Any = None, info: dict[str, Any] | None = None) -> str:
        base = _unwrapped(env, "SokobanEnv")
        board = base.level.board
        player, boxes = base.position
        key = (board.rows, player, boxes)
        if key not in plans:
            if len(plans) > 100_000:
                plans.clear()
            plan = solve_sokoban(board, player, boxes, base.solver_budget) or [0]
            # Every suffix of a shortest plan is a shortest plan from the state it starts at (Bellman).
            for action in plan:
                plans[(board.rows, player, boxes)] = action
                player, boxes, _, _ = board.move(player, boxes, action)
        return base.action_names[plans[key]]

    return act


def frozenlake_expert(env_id: str = "turngym/FrozenLake-v0", seed: int | None = None,
                      env_kwargs: dict[str, Any] | None = None) -> Act:
    """Optimal expert of ``turngym/FrozenLake-v0``.

    Without slips: the first move of a shortest path (breadth-first search). With slips: the action of the
    value-iteration policy on Gymnasium's transition table (highest probability of reaching the goal,
    ``turngym.envs.puzzles.solvers``).

    Args:
        env_id: The id (for the registry's calling convention).
        seed: Unused: the expert is deterministic.
        env_kwargs: Unused: the expert reads the map and ``is_slippery`` from the env.

    Returns:
        ``act(env, observation, info) -> str``.
    """
    def act(env: Any, observation: Any = None, info: dict[str, Any] | None = None) -> str:
        base = _unwrapped(env, "FrozenLakeEnv")
        rows, cell = base.level.rows, base.position
        if base.is_slippery:
            return base.action_names[int(lake_policy(rows).action[cell])]
        plan = solve_lake(rows, cell) or [0]
        return base.action_names[plan[0]]

    return act


__all__ = ["frozenlake_expert", "sokoban_expert"]
