"""The mutable state of a Harvest or Cleanup episode, and its JSON snapshot encoding."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from turngym.envs.dilemmas.gridworld.maps import Layout

#: Orientations (0 north/up the map, 1 east, 2 south, 3 west) as (row, col) steps.
DIRS = ((-1, 0), (0, 1), (1, 0), (0, -1))
ORIENTATION_NAMES = ("north", "east", "south", "west")


@dataclass
class GridState:
    """One episode of a gridworld dilemma.

    Attributes:
        layout: The map (static cells, spawn points).
        t: Joint steps played so far.
        apples: ``(H, W)`` bool, apples on the map.
        waste: ``(H, W)`` bool, waste in the river (always empty in Harvest).
        pos: ``(N, 2)`` int, every player's cell (meaningless while the player is tagged out).
        orient: ``(N,)`` int, every player's orientation (index into ``DIRS``).
        timeout: ``(N,)`` int, steps a player still stays out of play after being tagged (0 = in play).
        beams: ``(H, W)`` bool, cells covered by a beam fired in the last step (visible for one step).
        last_rewards: ``(N,)`` rewards of the last joint step.
        scores: ``(N,)`` returns so far.
        reward_hist: ``(horizon, N)`` per-step rewards; rows ``< t`` are filled.
        removed_hist: ``(horizon, N)`` bool, True where a player was out of play at that step.
        cache: Views computed from this state (not part of snapshots). Equal states may share one cache
            dict, so code that changes a state must call ``invalidate()``, which rebinds a fresh dict
            rather than clearing the shared one.
    """

    layout: Layout
    t: int
    apples: np.ndarray
    waste: np.ndarray
    pos: np.ndarray
    orient: np.ndarray
    timeout: np.ndarray
    beams: np.ndarray
    last_rewards: np.ndarray
    scores: np.ndarray
    reward_hist: np.ndarray
    removed_hist: np.ndarray
    cache: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def invalidate(self) -> None:
        """Drops the cached views after a change (a new dict: other states may share the old one)."""
        self.cache = {}

    @property
    def active(self) -> np.ndarray:
        """``(N,)`` bool, players in play (not tagged out)."""
        return self.timeout == 0

    def copy(self) -> GridState:
        """Independent copy; the layout and the cached views (read-only) are shared, the cache dict is not."""
        return GridState(
            self.layout, self.t, self.apples.copy(), self.waste.copy(), self.pos.copy(), self.orient.copy(),
            self.timeout.copy(), self.beams.copy(), self.last_rewards.copy(), self.scores.copy(),
            self.reward_hist.copy(), self.removed_hist.copy(), dict(self.cache),
        )


# --------------------------------------------------------------------------- snapshot helpers
def pack_bools(mask: np.ndarray) -> str:
    """Base64 of the bit-packed bool array (its shape is known to the reader)."""
    return base64.b64encode(np.packbits(mask.ravel()).tobytes()).decode("ascii")


def unpack_bools(text: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of ``pack_bools``; ``ValueError``/``TypeError`` when ``text`` does not fit ``shape``."""
    if not isinstance(text, str):
        raise TypeError(f"expected a base64 string, got {type(text).__name__}")
    raw = np.frombuffer(base64.b64decode(text.encode("ascii"), validate=True), dtype=np.uint8)
    size = int(np.prod(shape))
    if raw.size != (size + 7) // 8:
        raise ValueError(f"packed array has {raw.size} bytes, expected {(size + 7) // 8} for shape {shape}")
    return np.unpackbits(raw, count=size).astype(bool).reshape(shape)


def pack_floats(values: np.ndarray) -> str:
    """Base64 of little-endian float64 bytes (exact round trip, unlike decimal JSON of sums)."""
    return base64.b64encode(np.ascontiguousarray(values, dtype="<f8").tobytes()).decode("ascii")


def unpack_floats(text: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of ``pack_floats``; rejects a wrong size and non-finite values."""
    if not isinstance(text, str):
        raise TypeError(f"expected a base64 string, got {type(text).__name__}")
    raw = base64.b64decode(text.encode("ascii"), validate=True)
    size = int(np.prod(shape))
    if len(raw) != 8 * size:
        raise ValueError(f"packed floats have {len(raw)} bytes, expected {8 * size} for shape {shape}")
    out = np.frombuffer(raw, dtype="<f8").astype(np.float64).reshape(shape)
    if not np.isfinite(out).all():
        raise ValueError("non-finite reward in snapshot")
    return out


def int_list(values: Any, length: int, low: int, high: int, what: str) -> np.ndarray:
    """``values`` as an int64 array of ``length`` entries in ``[low, high]`` (``ValueError`` otherwise)."""
    if not isinstance(values, list) or len(values) != length:
        raise ValueError(f"{what}: expected a list of {length} ints")
    if not all(type(v) is int for v in values):
        raise TypeError(f"{what}: expected ints")
    if any(not low <= v <= high for v in values):
        raise ValueError(f"{what}: values must lie in [{low}, {high}]")
    return np.array(values, dtype=np.int64)
