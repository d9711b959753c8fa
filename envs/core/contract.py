"""Pieces of the info contract (DESIGN §3) shared by the turn-based and simultaneous-move sessions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def add_outcome(info: dict[str, Any], returns: Sequence[float] | None, player: int, truncated: bool) -> None:
    """Adds ``success`` (and ``returns``) to a final step's info: a seat succeeds when its payoff is > 0.

    Args:
        info: The info dict of ``player``, updated in place.
        returns: Every seat's payoff when the game ended by its rules, else None.
        player: The seat the info belongs to.
        truncated: True when a budget (turn cap) ended the episode: ``success`` is then False.
    """
    if returns is not None:
        info["success"] = bool(returns[player] > 0)
        info["returns"] = list(returns)
    elif truncated:
        info["success"] = False


def game_task(env_id: str, seed: int | None, player: int, instruction: str) -> dict[str, Any]:
    """``info["task"]`` of a game at reset: its id (env, seed and seat), the seed, the seat, the instruction.

    Unseeded resets continue the env's RNG, so their deal has no reproducible id (``id`` is None).
    """
    return {
        "id": f"{env_id}/seed={seed}/seat={player}" if seed is not None else None,
        "env_id": env_id,
        "seed": seed,
        "seat": player,
        "instruction": instruction,
    }
