"""The one protocol for everything that acts, and the random-legal agent envs use as default opponent.

``act(observations, infos) -> actions`` is batched: one entry per environment the agent acts in. The
richer agent zoo lives in ``turngym.agents``; this module holds only what envs need so that
``turngym.envs`` does not depend on ``turngym.agents`` (DESIGN §2).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Agent(Protocol):
    """Anything that maps a batch of observations and infos to a batch of actions."""

    def act(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]]) -> list[Any]:
        """Returns one action (a word or an action id) per observation."""
        ...


def legal_ids(info: dict[str, Any], observation: Any = None) -> list[int]:
    """Legal action ids from an info dict (or a vector observation's action mask)."""
    ids = info.get("legal_action_ids")
    if ids is None and isinstance(observation, dict) and "action_mask" in observation:
        ids = np.flatnonzero(observation["action_mask"]).tolist()
    return list(ids or [])


class RandomLegalAgent:
    """Picks uniformly among the legal actions.

    Args:
        seed: Seed of the agent's own RNG, used when the caller passes no ``rng``.
    """

    name = "random"

    def __init__(self, seed: int | None = None):
        self.rng = np.random.default_rng(seed)

    def act(
        self,
        observations: Sequence[Any],
        infos: Sequence[dict[str, Any]],
        *,
        rng: np.random.Generator | None = None,
    ) -> list[Any]:
        """One uniformly random legal action id per environment (``None`` where nothing is legal)."""
        gen = rng if rng is not None else self.rng
        out: list[Any] = []
        for obs, info in zip(observations, infos, strict=True):
            ids = legal_ids(info, obs)
            out.append(ids[int(gen.integers(len(ids)))] if ids else None)
        return out


def accepts_rng(agent: Any) -> bool:
    """True when ``agent.act`` takes an ``rng`` keyword (envs then share their RNG stream with it)."""
    try:
        return "rng" in inspect.signature(agent.act).parameters
    except (TypeError, ValueError):
        return False
