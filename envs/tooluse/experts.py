"""The tool-use families' scripted expert as a registry expert factory (``EnvInfo.expert``).

Trainers find an env's expert through its registry entry and never by its id (DESIGN §3, Registry): the
entry names ``"turngym.envs.tooluse.experts:scripted_expert"``, and ``turngym sft`` calls it as
``scripted_expert(env_id, seed=..., env_kwargs=...)`` to get ``act(env, observation, info) -> str``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from turngym.envs.core.errors import ConfigError
from turngym.envs.tooluse.env import ToolUseEnv
from turngym.envs.tooluse.trajectories import ExpertAgent

ExpertAct = Callable[[Any, Any, dict[str, Any]], str]
"""``act(env, observation, info) -> action text`` for the current state of a live env."""


def scripted_expert(env_id: str, *, seed: int = 0, env_kwargs: dict[str, Any] | None = None) -> ExpertAct:
    """The task family's scripted expert, acting from the live env's state.

    The expert replays its plan over the env's recorded history each turn (``expert_next_step``: no tool runs
    again), so it holds no state between calls and can take over any episode, including one started by
    another policy. It is deterministic: ``seed`` and ``env_kwargs`` change nothing (the env's ``format`` is
    read from the env itself).

    Args:
        env_id: The registered id the expert is asked for (any tool-use id).
        seed: Unused (the expert does not sample).
        env_kwargs: Unused (the expert reads the env it is given).

    Returns:
        ``act(env, observation, info)``: the expert's next message in the env's call format (tool calls, or
        the final ``<answer>``). ``env`` may be wrapped; its ``unwrapped`` env must be a ``ToolUseEnv`` after
        ``reset``.
    """
    del seed, env_kwargs  # a deterministic plan, read from the env it acts in

    def act(env: Any, observation: Any, info: dict[str, Any]) -> str:
        inner = getattr(env, "unwrapped", env)
        if not isinstance(inner, ToolUseEnv):
            raise ConfigError(f"{env_id} expert env", "a tool-use env (ToolUseEnv)", type(inner).__name__)
        return ExpertAgent(inner).next_text()

    return act


__all__ = ["ExpertAct", "scripted_expert"]
