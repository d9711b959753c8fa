"""Maps of the Harvest and Cleanup gridworlds: the ASCII format, the shipped layouts, the random generators.

Map legend (one character per cell; every row the same width; the outside of the map counts as wall):

======  ==============================================================================================
``#``   wall
``.``   floor (a space is read as floor too)
``A``   apple cell with an apple at the start (Harvest: apples regrow only on apple cells; Cleanup: the
        orchard, where apples spawn)
``a``   apple cell, empty at the start
``P``   spawn point (players start, and return after being tagged out, on a free spawn point)
``0-9`` spawn point where player ``k`` starts (other players are placed on the ``P`` cells)
``~``   river cell, clean (Cleanup only)
``w``   river cell holding waste at the start (Cleanup only)
======  ==============================================================================================

The shipped layouts (``HARVEST_MAP``, ``CLEANUP_MAP``) are written for this package in the spirit of the
maps of Perolat et al. (2017) and Hughes et al. (2018): Harvest has apple patches of several sizes in an
open field (small patches are easy to deplete for good); Cleanup has a river on the left, separated
from the field by a wall with gaps, and an orchard on the right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from turngym.envs.core.errors import ConfigError

#: Bits of the per-cell code grid that observations are cut from (one bit per thing a cell can hold).
WALL, APPLE, RIVER, WASTE, AGENT, BEAM = 1, 2, 4, 8, 16, 32

MAP_CHARS = "#. AaP0123456789~w"
MAX_MAP_SIDE = 256

HARVEST_MAP = """
##########################
#P.....A.........A......P#
#.....AAA.......AAA......#
#....AAAAA.....AAAAA.....#
#.....AAA.......AAA..A...#
#P.....A.........A..AAA..#
#..................AAAAA.#
#.........P.........AAA..#
#....A...............A..P#
#...AAA.......A..........#
#P.AAAAA.....AAA.........#
#...AAA.....AAAAA....A...#
#....A.......AAA....AAA..#
#.............A......A..P#
#P........P........P.....#
##########################
"""

CLEANUP_MAP = """
##########################
#~~w~~#.P........aaaaaaaa#
#~w~~~#...P......aaaaaaaa#
#~~~w~...........aaaaaaaa#
#w~~~~#....P.....aaaaaaaa#
#~~w~~#.....P....aaaaaaaa#
#~~~~w.......P...aaaaaaaa#
#~w~~~#.P........aaaaaaaa#
#~~~~~#....P.....aaaaaaaa#
#~~w~w.......P...aaaaaaaa#
#~~~~~#...P......aaaaaaaa#
#w~~~~#.....P....aaaaaaaa#
##########################
"""


@dataclass(frozen=True, eq=False)
class Layout:
    """The static part of a map, parsed once.

    Attributes:
        rows: The ASCII rows the layout was parsed from (snapshots store them).
        walls: ``(H, W)`` bool, wall cells.
        apple_cells: ``(H, W)`` bool, cells where apples grow (Harvest) or spawn (Cleanup orchard).
        river: ``(H, W)`` bool, river cells (where waste accumulates).
        init_apples: ``(H, W)`` bool, apples at the start.
        init_waste: ``(H, W)`` bool, waste at the start.
        spawns: ``(K, 2)`` int, spawn points (``P`` and digit cells) in row-major order.
        fixed_starts: Player index -> (row, col) for digit cells.
        static_bits: ``(H, W)`` uint8, the ``WALL`` and ``RIVER`` bits of every cell.
        wall_rows: ``walls`` as nested tuples (fast per-cell lookups in the Python parts of a step).
    """

    rows: tuple[str, ...]
    walls: np.ndarray
    apple_cells: np.ndarray
    river: np.ndarray
    init_apples: np.ndarray
    init_waste: np.ndarray
    spawns: np.ndarray
    fixed_starts: dict[int, tuple[int, int]]
    static_bits: np.ndarray
    wall_rows: tuple[tuple[bool, ...], ...]

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width)."""
        return self.walls.shape  # type: ignore[return-value]


def split_rows(text: str) -> list[str]:
    """The rows of an ASCII map: blank leading and trailing lines and trailing whitespace dropped."""
    rows = [line.rstrip() for line in text.splitlines()]
    while rows and not rows[0]:
        rows.pop(0)
    while rows and not rows[-1]:
        rows.pop()
    return rows


def parse_map(rows: list[str] | tuple[str, ...], river_allowed: bool) -> Layout:
    """Parses ASCII rows (legend in the module docstring) into a ``Layout``.

    Args:
        rows: The map rows, all the same width.
        river_allowed: Whether ``~`` and ``w`` may appear (Cleanup only).

    Raises:
        ConfigError: ragged or empty rows, an unknown character, a map side over ``MAX_MAP_SIDE``, or a
            digit used twice.
    """
    rows = [str(r) for r in rows]
    if not rows or not rows[0]:
        raise ConfigError("map", "at least one non-empty row", rows)
    width = len(rows[0])
    if any(len(r) != width for r in rows):
        raise ConfigError("map", "rows of equal width", sorted({len(r) for r in rows}))
    if len(rows) > MAX_MAP_SIDE or width > MAX_MAP_SIDE:
        raise ConfigError("map", f"at most {MAX_MAP_SIDE} rows and columns", (len(rows), width))
    allowed = MAP_CHARS if river_allowed else MAP_CHARS.replace("~w", "")
    grid = np.array([list(r) for r in rows], dtype="<U1")
    unknown = sorted(set(np.unique(grid)) - set(allowed))
    if unknown:
        raise ConfigError("map character", f"one of {allowed!r}", "".join(unknown))
    walls = grid == "#"
    apple_cells = (grid == "A") | (grid == "a")
    river = (grid == "~") | (grid == "w")
    digits = np.char.isdigit(grid)
    spawn_mask = (grid == "P") | digits
    fixed: dict[int, tuple[int, int]] = {}
    for r, c in zip(*np.nonzero(digits), strict=True):
        k = int(grid[r, c])
        if k in fixed:
            raise ConfigError("map", f"each player digit at most once (digit {k} repeats)", k)
        fixed[k] = (int(r), int(c))
    static = (walls * WALL + river * RIVER).astype(np.uint8)
    return Layout(
        rows=tuple(rows), walls=walls, apple_cells=apple_cells, river=river, init_apples=grid == "A",
        init_waste=grid == "w", spawns=np.argwhere(spawn_mask).astype(np.int64), fixed_starts=fixed,
        static_bits=static, wall_rows=tuple(tuple(row) for row in walls.tolist()),
    )


def _border(height: int, width: int) -> np.ndarray:
    """A ``(height, width)`` char grid of floor inside a wall border."""
    grid = np.full((height, width), ".", dtype="<U1")
    grid[0, :] = grid[-1, :] = "#"
    grid[:, 0] = grid[:, -1] = "#"
    return grid


def _place_spawns(grid: np.ndarray, region: np.ndarray, count: int, rng: np.random.Generator) -> None:
    """Marks ``count`` distinct floor cells of ``region`` (bool mask) as spawn points ``P``."""
    free = np.argwhere(region & (grid == "."))
    picks = rng.choice(len(free), size=min(count, len(free)), replace=False)
    for r, c in free[np.sort(picks)]:
        grid[r, c] = "P"


def random_harvest_rows(rng: np.random.Generator, num_players: int) -> list[str]:
    """A random Harvest map, drawn from ``rng``.

    Generator: a floor of 16 rows by ``max(24, 6 * num_players)`` columns inside a wall border; 6 to 9
    apple patches, each an L1 diamond of radius 1 or 2 (5 or 13 apple cells, full at the start) around a
    uniformly drawn centre (patches may merge); 0 to 3 straight wall segments of length 2 to 5; then
    ``2 * num_players`` spawn points on distinct free floor cells.
    """
    height, width = 16, max(24, 6 * num_players)
    grid = _border(height, width)
    rr, cc = np.mgrid[0:height, 0:width]
    for _ in range(int(rng.integers(6, 10))):
        r0, c0 = int(rng.integers(3, height - 3)), int(rng.integers(3, width - 3))
        radius = int(rng.integers(1, 3))
        grid[(np.abs(rr - r0) + np.abs(cc - c0) <= radius)] = "A"
    for _ in range(int(rng.integers(0, 4))):
        length = int(rng.integers(2, 6))
        r0, c0 = int(rng.integers(2, height - 2)), int(rng.integers(2, width - 2))
        if rng.random() < 0.5:
            cells = grid[r0, c0:min(c0 + length, width - 2)]
        else:
            cells = grid[r0:min(r0 + length, height - 2), c0]
        cells[cells == "."] = "#"
    _place_spawns(grid, np.ones_like(grid, dtype=bool), 2 * num_players, rng)
    return ["".join(row) for row in grid]


def random_cleanup_rows(rng: np.random.Generator, num_players: int) -> list[str]:
    """A random Cleanup map, drawn from ``rng``.

    Generator: ``max(12, 2 * num_players + 2)`` rows by 28 columns inside a wall border; a river of 4 to
    6 columns on the left, each cell holding waste at the start with a probability drawn uniformly in
    [0.1, 0.4]; a wall column right of the river with a gap in every third row (drawn offset); an
    orchard of 6 to 9 columns on the right, empty at the start; ``2 * num_players`` spawn points on
    free floor cells between them.
    """
    height, width = max(12, 2 * num_players + 2), 28
    grid = _border(height, width)
    river_w, orchard_w = int(rng.integers(4, 7)), int(rng.integers(6, 10))
    dirt = rng.uniform(0.1, 0.4)
    river = rng.random((height - 2, river_w)) < dirt
    grid[1:-1, 1:1 + river_w] = np.where(river, "w", "~")
    gaps = (np.arange(1, height - 1) + int(rng.integers(3))) % 3 == 0
    grid[1:-1, 1 + river_w] = np.where(gaps, ".", "#")
    grid[1:-1, width - 1 - orchard_w:width - 1] = "a"
    middle = np.zeros_like(grid, dtype=bool)
    middle[1:-1, 2 + river_w:width - 1 - orchard_w] = True
    _place_spawns(grid, middle, 2 * num_players, rng)
    return ["".join(row) for row in grid]
