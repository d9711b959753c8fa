"""Sokoban with procedurally generated, verified-solvable rooms (the gym-sokoban / RAGEN task).

Generation (gym-sokoban's recipe, Schrader 2018, written anew): carve a random room topology by a random
walk of brush strokes inside the outer wall; put the boxes on randomly chosen targets and the player on
another floor cell; then play Sokoban *backwards* for ``num_gen_steps`` random moves, each of which may pull
the box behind the player along. Every reverse pull is a forward push, so the state reached is solvable; the
reverse-walk state with the largest total box displacement (among those where every box left its target)
becomes the level, rooms where a box never moved are rejected, and a breadth-first search
(``turngym.envs.puzzles.solvers``) confirms the level within a node budget and gives its optimal length.
All randomness comes from the env's ``np_random``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from turngym.envs.core.errors import ConfigError, SnapshotError
from turngym.envs.core.session import read_dict, read_list
from turngym.envs.puzzles.base import PuzzleEnv, manhattan, read_cell, read_rows
from turngym.envs.puzzles.solvers import (
    DEFAULT_BUDGET,
    SOKOBAN_ACTIONS,
    SokobanBoard,
    distances_to_solved,
    sokoban_optimal_length,
)

ENV_ID = "turngym/Sokoban-v0"
#: gym-sokoban's rewards (``SokobanEnv``: penalty_for_step, reward_box_on_target, penalty_box_off_target,
#: reward_finished), which RAGEN and verl-agent keep.
STEP_REWARD = -0.1
BOX_ON_TARGET = 1.0
BOX_OFF_TARGET = -1.0
FINISHED = 10.0
#: Probability that the carving walk turns (gym-sokoban's ``p_change_directions``).
TURN_PROB = 0.35
#: Carving strokes per cell of the room's height + width.
STROKES_PER_SIDE = 2
#: Probability that a reverse move pulls the box behind the player along.
PULL_PROB = 0.5
#: Cells a carving stroke opens around the walker: a dot, dominoes, a 2x2 block, bars of three.
_BRUSHES = (((0, 0),), ((0, 0), (0, 1)), ((0, 0), (1, 0)), ((0, 0), (0, 1), (1, 0), (1, 1)),
            ((0, -1), (0, 0), (0, 1)), ((-1, 0), (0, 0), (1, 0)))
_STEPS = ((-1, 0), (1, 0), (0, -1), (0, 1))


@dataclass(frozen=True)
class SokobanLevel:
    """A generated level.

    Attributes:
        board: Walls and targets.
        player: The player's start cell.
        boxes: The boxes' start cells, ascending.
        optimal_length: Fewest moves that solve it (-1 until verified).
    """

    board: SokobanBoard
    player: int
    boxes: tuple[int, ...]
    optimal_length: int = -1

    @property
    def rows(self) -> list[str]:
        """The initial grid (the level's layout, whose digest decides its split)."""
        return draw_grid(self.board, self.player, frozenset(self.boxes))


def draw_grid(board: SokobanBoard, player: int, boxes: frozenset[int]) -> list[str]:
    """The grid in RAGEN's characters.

    ``#`` wall, ``_`` floor, ``O`` target, ``X`` box, ``√`` box on target, ``P`` player, ``S`` player on target.
    """
    flat = list("".join(board.rows))
    for b in boxes:
        flat[b] = "√" if flat[b] == "O" else "X"
    flat[player] = "S" if flat[player] == "O" else "P"
    w = board.width
    return ["".join(flat[r * w:(r + 1) * w]) for r in range(board.height)]


def carve_room(rng: np.random.Generator, height: int, width: int, strokes: int) -> list[bool]:
    """Open cells of a random room: a walk of ``strokes`` brush strokes that never touches the outer wall."""
    open_ = [False] * (height * width)
    r, c = int(rng.integers(1, height - 1)), int(rng.integers(1, width - 1))
    d = int(rng.integers(4))
    for _ in range(strokes):
        if rng.random() < TURN_PROB:
            d = int(rng.integers(4))
        r = min(max(r + _STEPS[d][0], 1), height - 2)
        c = min(max(c + _STEPS[d][1], 1), width - 2)
        for dr, dc in _BRUSHES[int(rng.integers(len(_BRUSHES)))]:
            rr, cc = r + dr, c + dc
            if 1 <= rr <= height - 2 and 1 <= cc <= width - 2:
                open_[rr * width + cc] = True
    return open_


def reverse_play(rng: np.random.Generator, board: SokobanBoard, player: int, steps: int,
                 budget: int = DEFAULT_BUDGET) -> tuple[int, tuple[int, ...], int] | None:
    """Plays ``steps`` random reverse moves from the solved room; returns the hardest state visited.

    Each reverse move walks one cell (up, down, left or right, uniformly) and, with ``PULL_PROB``, pulls the
    box behind the player along. Every visited state is solvable (a pull is a push played backwards); its
    optimal solution length comes from one backward search over the room (``distances_to_solved``).

    Returns:
        (player, boxes ascending, optimal length) of the visited state with the longest optimal solution
        among those where every box left its own target (the latest on ties), or None when none did.
    """
    targets = sorted(board.targets)
    boxes = list(targets)
    deltas = board.deltas()
    dist = distances_to_solved(board, budget)
    best: tuple[int, tuple[int, ...], int] | None = None
    for _ in range(steps):
        d = deltas[int(rng.integers(4))]
        pull = rng.random() < PULL_PROB
        ahead = player + d
        if not board.open[ahead] or ahead in boxes:
            continue
        behind = player - d
        if pull and behind in boxes:
            boxes[boxes.index(behind)] = player
        player = ahead
        if any(b == t for b, t in zip(boxes, targets, strict=True)):
            continue
        length = dist.get((player, frozenset(boxes)), 0)
        if length and (best is None or length >= best[2]):
            best = (player, tuple(sorted(boxes)), length)
    return best


def generate_level(rng: np.random.Generator, height: int, width: int, num_boxes: int, num_gen_steps: int,
                   budget: int = DEFAULT_BUDGET) -> SokobanLevel | None:
    """One level draw: topology, targets and player, reverse play. None when the draw failed.

    The optimal length is the backward search's; ``SokobanEnv`` confirms it with a forward search.
    """
    open_ = carve_room(rng, height, width, strokes=STROKES_PER_SIDE * (height + width))
    cells = [i for i, ok in enumerate(open_) if ok]
    if len(cells) < num_boxes + 2:
        return None
    picks = rng.permutation(len(cells))[:num_boxes + 1]
    targets = {cells[int(i)] for i in picks[:num_boxes]}
    flat = ["O" if i in targets else ("_" if ok else "#") for i, ok in enumerate(open_)]
    board = SokobanBoard.from_rows(tuple("".join(flat[r * width:(r + 1) * width]) for r in range(height)))
    found = reverse_play(rng, board, cells[int(picks[-1])], num_gen_steps, budget)
    if found is None:
        return None
    return SokobanLevel(board, found[0], found[1], found[2])


def _check_dim(dim_room: Any) -> tuple[int, int]:
    ok = (isinstance(dim_room, (tuple, list)) and len(dim_room) == 2
          and all(type(x) is int and 3 <= x <= 16 for x in dim_room))
    if not ok:
        raise ConfigError("dim_room", "(rows, cols), two ints in 3..16 (the outer wall included)", dim_room)
    return int(dim_room[0]), int(dim_room[1])


class SokobanEnv(PuzzleEnv):
    """Push every box onto a target in a generated room (gym-sokoban rules, RAGEN's text grid).

    Description:
        A room of ``dim_room`` cells (outer wall included) with ``num_boxes`` boxes and as many targets.
        Each reset generates a new room from the env's RNG by reverse play (module docstring), verified
        solvable by breadth-first search; the same seed gives the same room. ``split`` keeps held-out rooms
        apart: a room is in the test split iff its layout digest is 0 mod 5 (``turngym.envs.puzzles.base``).
        Long-horizon and fully observed: ``state_key`` hashes the grid only (layout and positions), so the
        same situation reached on different paths of a GiGPO group is one anchor state.

    Observation:
        Text: the grid in RAGEN's characters (``#`` wall, ``_`` floor, ``O`` target, ``X`` box, ``√`` box on
        target, ``P`` player, ``S`` player on target) under a legend, then the actions; an invalid action
        adds a first line saying what was wrong. Vector: ``Dict(observation=Box(0, 1, (4 * rows * cols,)),
        action_mask=MultiBinary(4))``, the observation being four row-major binary planes: wall, target,
        box, player.

    Action:
        ``up``, ``down``, ``left``, ``right`` (ids 0-3), case-insensitive, bare, in ``<action>...</action>``
        or ``<answer>...</answer>`` tags, or in brackets (``turngym.envs.core.parsing``). The player walks,
        or pushes the box ahead if the cell behind it is free; a blocked move is a valid move that goes
        nowhere (gym-sokoban). Unparseable text is invalid: nothing moves, the turn is consumed.

    Reward:
        As gym-sokoban: -0.1 per turn, +1 when a push puts a box on a target, -1 when it takes one off, +10
        when every box is on a target. An invalid action gets -0.1 + ``invalid_action_penalty``.

    Episode end:
        Terminated (``success=True``) when every box is on a target; truncated (``success=False``) after
        ``max_steps`` turns, invalid ones included. Unsolvable positions (a box in a corner) are not ended
        early, as in gym-sokoban.

    Arguments:
        dim_room: (rows, cols) of the room, outer wall included, each 3..16 (default (6, 6), RAGEN's size).
        num_boxes: Boxes (and targets), 1..4 (default 1).
        max_steps: Turns before truncation (default 20: default rooms need 4.2 moves on average and at most
            13 in 500 rooms, ``python -m turngym.envs.puzzles.stats``, so 20 leaves room for detours while
            keeping episodes short at CPU scale; a uniformly random policy solves 24%).
        num_gen_steps: Random reverse moves per generated room; more gives longer solutions (default
            ``4 * (rows + cols)``: gym-sokoban's ``1.7 * (rows + cols)`` gives 6x6 rooms that need 3 moves on
            average, too short for a long-horizon task).
        solver_budget: States the verifying search may expand before a room is redrawn.
        obs_mode: ``"text"`` or ``"vector"``.
        split: ``"train"`` or ``"test"`` (held-out rooms).
        invalid_action_penalty: Added to the reward of an invalid action (default 0).
        render_mode: ``None``, ``"ansi"`` or ``"human"``.

    Version history:
        v0: first version.
    """

    action_names: ClassVar[tuple[str, ...]] = SOKOBAN_ACTIONS
    kind: ClassVar[str] = "sokoban"
    title: ClassVar[str] = "Sokoban"
    instruction: ClassVar[str] = "Push every box (X) onto a target (O)."
    legend: ClassVar[str] = ("# wall, _ floor, O target, X box, √ box on target, P player, S player on target; "
                             "up is toward the first row")
    planes: ClassVar[int] = 4
    step_reward: ClassVar[float] = STEP_REWARD
    env_id = ENV_ID

    def __init__(self, dim_room: Sequence[int] = (6, 6), num_boxes: int = 1, max_steps: int = 20,
                 num_gen_steps: int | None = None, solver_budget: int = DEFAULT_BUDGET, obs_mode: str = "text",
                 split: str = "train", invalid_action_penalty: float = 0.0, render_mode: str | None = None):
        self.height, self.width = _check_dim(dim_room)
        if type(num_boxes) is not int or not 1 <= num_boxes <= 4:
            raise ConfigError("num_boxes", "an int in 1..4", num_boxes)
        if num_gen_steps is None:
            num_gen_steps = 4 * (self.height + self.width)
        if type(num_gen_steps) is not int or not 1 <= num_gen_steps <= 100_000:
            raise ConfigError("num_gen_steps", "an int in 1..100000 (or None)", num_gen_steps)
        if type(solver_budget) is not int or solver_budget < 1:
            raise ConfigError("solver_budget", "a positive int", solver_budget)
        self.dim_room = (self.height, self.width)
        self.num_boxes = num_boxes
        self.num_gen_steps = num_gen_steps
        self.solver_budget = solver_budget
        super().__init__(obs_mode, split, max_steps, invalid_action_penalty, render_mode)

    # ------------------------------------------------------------------ levels
    def _draw_level(self, rng: np.random.Generator) -> SokobanLevel | None:
        return generate_level(rng, self.height, self.width, self.num_boxes, self.num_gen_steps, self.solver_budget)

    def _accept(self, level: SokobanLevel) -> SokobanLevel | None:
        length = sokoban_optimal_length(level.board.rows, level.player, level.boxes, self.solver_budget)
        return None if not length else replace(level, optimal_length=length)

    def _level_args(self) -> dict[str, Any]:
        return {"dim_room": self.dim_room, "num_boxes": self.num_boxes, "num_gen_steps": self.num_gen_steps}

    def _start(self, level: SokobanLevel) -> tuple[int, frozenset[int]]:
        return level.player, frozenset(level.boxes)

    def _task_extra(self) -> dict[str, Any]:
        return {"dim_room": list(self.dim_room), "num_boxes": self.num_boxes}

    # ------------------------------------------------------------------ dynamics
    def _move(self, action: int) -> float:
        board = self.level.board
        player, boxes = self.position
        new_player, new_boxes, _, _ = board.move(player, boxes, action)
        self.position = (new_player, new_boxes)
        before, after = len(boxes & board.targets), len(new_boxes & board.targets)
        reward = BOX_ON_TARGET if after > before else BOX_OFF_TARGET if after < before else 0.0
        return reward + (FINISHED if after == len(new_boxes) else 0.0)

    def solved(self) -> bool:
        """Every box is on a target."""
        return self.position[1] <= self.level.board.targets

    def failed(self) -> bool:
        """Sokoban ends only by success or truncation."""
        return False

    # ------------------------------------------------------------------ views
    def grid(self) -> list[str]:
        """The current grid in RAGEN's characters."""
        return draw_grid(self.level.board, *self.position)

    def _encode(self, out: np.ndarray) -> None:
        board, n = self.level.board, self.height * self.width
        out[:n] = [0.0 if ok else 1.0 for ok in board.open]
        out[n + np.fromiter(board.targets, dtype=np.int64)] = 1.0
        out[2 * n + np.fromiter(self.position[1], dtype=np.int64)] = 1.0
        out[3 * n + self.position[0]] = 1.0

    # ------------------------------------------------------------------ snapshots
    def _cells(self, cells: Any) -> list[list[int]]:
        return [list(divmod(c, self.width)) for c in cells]

    def _dump(self) -> tuple[dict[str, Any], dict[str, Any]]:
        level, (player, boxes) = self.level, self.position
        return ({"room": list(level.board.rows), "player": self._cells([level.player])[0],
                 "boxes": self._cells(level.boxes)},
                {"player": self._cells([player])[0], "boxes": self._cells(sorted(boxes))})

    def _read_position(self, data: Any, board: SokobanBoard, what: str) -> tuple[int, tuple[int, ...]]:
        fields = read_dict(data, what, ("player", "boxes"))
        if set(fields) != {"player", "boxes"}:
            raise SnapshotError(f"{what}: expected exactly the keys player and boxes")
        h, w = self.height, self.width
        player = read_cell(fields["player"], h, w, f"{what} player")
        boxes = tuple(read_cell(b, h, w, f"{what} boxes") for b in read_list(fields["boxes"], f"{what} boxes",
                                                                                 self.num_boxes))
        if list(boxes) != sorted(set(boxes)):
            raise SnapshotError(f"{what} boxes: expected distinct cells in row-major order")
        if not all(board.open[c] for c in (player, *boxes)) or player in boxes:
            raise SnapshotError(f"{what}: the player and the boxes need distinct floor cells")
        return player, boxes

    def _parse(self, level: Any, position: Any, turn: int) -> tuple[SokobanLevel, tuple[int, frozenset[int]]]:
        fields = read_dict(level, "level", ("room", "player", "boxes"))
        if set(fields) != {"room", "player", "boxes"}:
            raise SnapshotError("level: expected exactly the keys room, player and boxes")
        h, w = self.height, self.width
        rows = read_rows(fields["room"], h, w, "#_O", "level room")
        if rows[0] != "#" * w or rows[-1] != "#" * w or any(r[0] != "#" or r[-1] != "#" for r in rows):
            raise SnapshotError("level room: the outer wall must be closed")
        board = SokobanBoard.from_rows(rows)
        if len(board.targets) != self.num_boxes:
            raise SnapshotError(f"level room: expected {self.num_boxes} targets, got {len(board.targets)}")
        start_player, start_boxes = self._read_position({"player": fields["player"], "boxes": fields["boxes"]},
                                                        board, "level")
        start = SokobanLevel(board, start_player, start_boxes)
        self.check_level_split(start.rows)
        length = sokoban_optimal_length(rows, start_player, start_boxes, self.solver_budget)
        if not length:
            raise SnapshotError("level: not a level this env generates (solved at the start, or not solvable "
                                f"within {self.solver_budget} search states)")
        player, boxes = self._read_position(position, board, "position")
        # One move per turn: the player walks at most one cell, and at most one box moves, by one cell.
        if manhattan(player, start_player, w) > turn or len(set(boxes) - set(start_boxes)) > turn:
            raise SnapshotError(f"position: not reachable from the start in {turn} turns")
        return replace(start, optimal_length=length), (player, frozenset(boxes))


__all__ = ["ENV_ID", "SokobanEnv", "SokobanLevel", "carve_room", "draw_grid", "generate_level", "reverse_play"]
