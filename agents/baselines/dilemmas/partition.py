"""Fixed partitions of the lattice into policy groups (who shares parameters with whom)."""

from __future__ import annotations

from typing import Literal

import numpy as np

PartitionLayout = Literal["blocks", "stripes", "random"]
LAYOUTS: tuple[str, ...] = ("blocks", "stripes", "random")


def _grid_factors(groups: int) -> tuple[int, int]:
    """The factor pair ``(a, b)``, ``a * b == groups``, ``a <= b``, closest to square."""
    a = int(np.floor(np.sqrt(groups)))
    while groups % a:
        a -= 1
    return a, groups // a


def partition_lattice(size: int, groups: int, layout: PartitionLayout = "blocks",
                      rng: np.random.Generator | None = None) -> np.ndarray:
    """Group id of every lattice site (row-major), ``groups`` groups of (nearly) equal size.

    Layouts:
        * ``blocks``: contiguous rectangles on an ``a x b`` grid with ``a * b = groups`` as square as
          possible (10 groups on 30x30: 2 x 5 blocks of 15 x 6 sites); neighbours mostly share a group.
        * ``stripes``: contiguous runs of the row-major order (10 groups on 30x30: 3 rows each).
        * ``random``: a random permutation cut into equal parts (neighbours mostly differ in group).

    Args:
        size: Lattice side L.
        groups: Number of groups, 1..L*L (1: one shared policy; L*L: one per agent).
        layout: One of ``LAYOUTS``.
        rng: Needed for ``random``.

    Returns:
        ``(L * L,)`` int64 group ids in ``0..groups-1``; every id occurs.

    Raises:
        ValueError: bad ``groups`` or ``layout``, or ``random`` without ``rng``.
    """
    n = size * size
    if not 1 <= groups <= n:
        raise ValueError(f"groups must be in 1..{n} for a {size}x{size} lattice, got {groups}")
    if layout == "stripes":
        return (np.arange(n) * groups // n).astype(np.int64)
    if layout == "random":
        if rng is None:
            raise ValueError("the random layout needs an rng")
        ids = np.empty(n, dtype=np.int64)
        ids[rng.permutation(n)] = np.arange(n) * groups // n
        return ids
    if layout == "blocks":
        a, b = _grid_factors(groups)
        if a > size or b > size:
            raise ValueError(f"{groups} blocks ({a} x {b}) do not fit a {size}x{size} lattice; use stripes or random")
        rows, cols = np.divmod(np.arange(n), size)
        return ((rows * a // size) * b + cols * b // size).astype(np.int64)
    raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
