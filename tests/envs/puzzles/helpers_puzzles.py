"""Hand-made puzzle levels, placed into real envs through validated snapshots."""

from __future__ import annotations

import json

from turngym.envs.puzzles.base import layout_digest, split_of
from turngym.envs.puzzles.frozenlake import FrozenLakeEnv
from turngym.envs.puzzles.sokoban import SokobanEnv

_ROOM = {"#": "#", "_": "_", "O": "O", "X": "_", "√": "O", "P": "_", "S": "O"}


def sokoban_at(grid: list[str], **kwargs) -> SokobanEnv:
    """A reset ``SokobanEnv`` whose level is ``grid`` (RAGEN characters), in the split the level belongs to."""
    cells = [(r, c, ch) for r, row in enumerate(grid) for c, ch in enumerate(row)]
    player = next([r, c] for r, c, ch in cells if ch in "PS")
    boxes = [[r, c] for r, c, ch in cells if ch in "X√"]
    kwargs.setdefault("split", split_of(layout_digest("sokoban", grid)))
    env = SokobanEnv(dim_room=(len(grid), len(grid[0])), num_boxes=len(boxes), **kwargs)
    env.reset(seed=0)
    snap = json.loads(env.get_state())
    snap["level"] = {"room": ["".join(_ROOM[ch] for ch in row) for row in grid], "player": player, "boxes": boxes}
    snap["position"] = {"player": player, "boxes": boxes}
    snap["turn"], snap["error"] = 0, None
    env.set_state(json.dumps(snap).encode())
    return env


def lake_at(rows: list[str], **kwargs) -> FrozenLakeEnv:
    """A reset ``FrozenLakeEnv`` on the map ``rows`` (Gymnasium's S/F/H/G), in the split the map belongs to."""
    kwargs.setdefault("split", split_of(layout_digest("frozenlake", rows)))
    env = FrozenLakeEnv(size=len(rows), **kwargs)
    env.reset(seed=0)
    snap = json.loads(env.get_state())
    snap["level"], snap["position"] = {"map": list(rows)}, {"player": [0, 0]}
    snap["turn"], snap["error"] = 0, None
    env.set_state(json.dumps(snap).encode())
    return env
