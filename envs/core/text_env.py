"""The single-agent base class of every turngym environment."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import gymnasium

from turngym.envs.core.errors import check_kwargs


class TextEnv(gymnasium.Env):
    """A Gymnasium env whose observations and actions are text (DESIGN §3).

    Subclasses follow the info contract (``state_key``, ``admissible_actions``, ``action_valid``,
    ``turn``, ``success``, ``task``), never raise on an action string, keep ``terminated`` (the task
    ended) apart from ``truncated`` (a budget ran out), and own their RNG (``self.np_random``).
    Games and dilemmas also accept ``obs_mode="vector"``: a ``Dict(observation, action_mask)``
    observation and a ``Discrete`` action space with the same dynamics.
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi", "human"]}
    env_id: str = ""

    def __new__(cls, *args: Any, **kwargs: Any) -> TextEnv:
        """Checks keyword names before ``__init__`` runs.

        ``gym.make`` calls the registered class directly (its entry point is the ``"module:Class"`` string,
        DESIGN §3 Registry), so this is where a misspelt keyword becomes a ``ConfigError`` naming the
        argument meant instead of Python's bare ``TypeError``. Unpickling calls ``__new__`` without
        arguments, which always passes.
        """
        check_kwargs(cls, cls.__name__, kwargs)
        return super().__new__(cls)

    @abstractmethod
    def get_state(self) -> bytes:
        """Snapshot of the whole episode (dynamics, RNG, counters) as bytes."""

    @abstractmethod
    def set_state(self, blob: bytes) -> None:
        """Restores a ``get_state`` snapshot; replaying the same actions then gives identical results."""
