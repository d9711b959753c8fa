"""FrozenLake on generated maps, with Gymnasium's own dynamics.

Maps come from Gymnasium's ``generate_random_map(size, p, seed)`` (which only returns maps with a path from
start to goal), seeded by a draw from the env's ``np_random``. Moves follow the transition table that
Gymnasium's ``FrozenLakeEnv`` builds for the map (``FrozenLakeEnv.P``), sampled with Gymnasium's
``categorical_sample`` on the env's RNG, which is exactly ``FrozenLakeEnv.step``: the same map, RNG state
and actions give the same cells as Gymnasium's env, slips included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from gymnasium.envs.toy_text.frozen_lake import generate_random_map, is_valid
from gymnasium.envs.toy_text.utils import categorical_sample

from turngym.envs.core.errors import ConfigError, SnapshotError
from turngym.envs.core.session import read_dict
from turngym.envs.puzzles.base import PuzzleEnv, manhattan, read_cell, read_rows
from turngym.envs.puzzles.solvers import LAKE_ACTIONS, lake_policy, lake_transitions, solve_lake

ENV_ID = "turngym/FrozenLake-v0"
#: Text of the map cells: ``S`` and ``F`` are both frozen floor (the start is always the top-left cell).
_CELL = {"S": "_", "F": "_", "H": "O", "G": "G"}
#: The player's character on each kind of cell: on ice, in a hole, on the goal.
_PLAYER = {"S": "P", "F": "P", "H": "X", "G": "√"}


@dataclass(frozen=True)
class LakeLevel:
    """A generated map.

    Attributes:
        rows: Gymnasium's map rows (``S`` start, ``F`` frozen, ``H`` hole, ``G`` goal).
        optimal_length: Fewest moves from start to goal without slips.
        optimal_success: Highest probability of reaching the goal (1.0 without slips).
    """

    rows: tuple[str, ...]
    optimal_length: int
    optimal_success: float


class FrozenLakeEnv(PuzzleEnv):
    """Cross a generated frozen lake to the goal without falling into a hole (Gymnasium's FrozenLake).

    Description:
        A ``size x size`` map from Gymnasium's ``generate_random_map`` (each cell frozen with probability
        ``p``; always a path), start top-left, goal bottom-right, drawn at every reset from the env's RNG (same
        seed, same map). Dynamics are Gymnasium's ``FrozenLakeEnv`` transition table; with ``is_slippery`` a
        move goes the intended way with probability 1/3 and to either side with 1/3 each. ``split`` keeps
        held-out maps apart: a map is in the test split iff its layout digest is 0 mod 5. ``state_key``
        hashes the grid only (map and position), a Markov anchor for GiGPO.

    Observation:
        Text: the grid (``_`` frozen, ``O`` hole, ``G`` goal, ``P`` player, ``X`` player in a hole, ``√``
        player on the goal) under a legend, then the actions; an invalid action adds a first line saying what
        was wrong. Vector: ``Dict(observation=Box(0, 1, (3 * size * size,)), action_mask=MultiBinary(4))``,
        three row-major binary planes: hole, goal, player.

    Action:
        ``left``, ``down``, ``right``, ``up`` (ids 0-3, Gymnasium's order), case-insensitive, bare, in
        ``<action>...</action>`` / ``<answer>...</answer>`` tags or in brackets. A move off the map stays put
        (Gymnasium). Unparseable text is invalid: nothing moves (no slip is drawn), the turn is consumed.

    Reward:
        1 on reaching the goal, 0 otherwise (Gymnasium's), plus ``invalid_action_penalty`` for an invalid
        action.

    Episode end:
        Terminated on the goal (``success=True``) or in a hole (``success=False``); truncated
        (``success=False``) after ``max_steps`` turns, invalid ones included.

    Arguments:
        size: Side of the map, 2..12 (default 4).
        p: Probability that a cell is frozen, 0.5..1 (default 0.8, Gymnasium's).
        is_slippery: Gymnasium's slippery ice (default False).
        max_steps: Turns before truncation (default 20; 4x4 maps need 6 moves, or 8 around holes, without
            slips; raise it for slippery ice, where Gymnasium's TimeLimit is 100).
        obs_mode: ``"text"`` or ``"vector"``.
        split: ``"train"`` or ``"test"`` (held-out maps).
        invalid_action_penalty: Added to the reward of an invalid action (default 0).
        render_mode: ``None``, ``"ansi"`` or ``"human"``.

    Version history:
        v0: first version.
    """

    action_names: ClassVar[tuple[str, ...]] = LAKE_ACTIONS
    kind: ClassVar[str] = "frozenlake"
    title: ClassVar[str] = "FrozenLake"
    instruction: ClassVar[str] = "Walk from the start to the goal (G) without falling into a hole (O)."
    legend: ClassVar[str] = ("_ frozen, O hole, G goal, P player, X player in a hole, √ player on the goal; "
                             "up is toward the first row")
    planes: ClassVar[int] = 3
    env_id = ENV_ID

    def __init__(self, size: int = 4, p: float = 0.8, is_slippery: bool = False, max_steps: int = 20,
                 obs_mode: str = "text", split: str = "train", invalid_action_penalty: float = 0.0,
                 render_mode: str | None = None):
        if type(size) is not int or not 2 <= size <= 12:
            raise ConfigError("size", "an int in 2..12", size)
        # generate_random_map redraws until a path exists, without a bound: below p = 0.5 (site percolation
        # on the square lattice needs p > 0.59) large maps would make it loop for a very long time.
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.5 <= p <= 1.0:
            raise ConfigError("p", "a frozen-cell probability in 0.5..1", p)
        if type(is_slippery) is not bool:
            raise ConfigError("is_slippery", "True or False", is_slippery)
        self.height = self.width = self.size = size
        self.p = float(p)
        self.is_slippery = is_slippery
        super().__init__(obs_mode, split, max_steps, invalid_action_penalty, render_mode)
        if is_slippery:
            self.instruction = self.instruction + " The ice is slippery: a move may go sideways."

    # ------------------------------------------------------------------ levels
    def _draw_level(self, rng: np.random.Generator) -> LakeLevel:
        rows = generate_random_map(self.size, self.p, seed=int(rng.integers(2**32)))
        return LakeLevel(tuple(rows), -1, -1.0)

    def _accept(self, level: LakeLevel) -> LakeLevel:
        return self._complete(level.rows)

    def _complete(self, rows: tuple[str, ...]) -> LakeLevel:
        plan = solve_lake(rows)
        if plan is None:  # generate_random_map guarantees a path; a snapshot reader relies on this too
            raise SnapshotError("level: the goal cannot be reached")
        success = float(lake_policy(rows).success[0]) if self.is_slippery else 1.0
        return LakeLevel(rows, len(plan), success)

    def _level_args(self) -> dict[str, Any]:
        return {"size": self.size, "p": self.p}

    def _start(self, level: LakeLevel) -> int:
        return 0

    def _task_extra(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"size": self.size, "is_slippery": self.is_slippery}
        if self.is_slippery:
            extra["optimal_success"] = self.level.optimal_success
        return extra

    # ------------------------------------------------------------------ dynamics
    def _move(self, action: int) -> float:
        # FrozenLakeEnv.step, on the env's own RNG: one uniform draw per move, slippery or not.
        transitions = lake_transitions(self.level.rows, self.is_slippery)[self.position][action]
        _, cell, reward, _ = transitions[categorical_sample([t[0] for t in transitions], self.np_random)]
        self.position = int(cell)
        return float(reward)

    def _cell(self) -> str:
        return self.level.rows[self.position // self.size][self.position % self.size]

    def solved(self) -> bool:
        """The player is on the goal."""
        return self._cell() == "G"

    def failed(self) -> bool:
        """The player fell into a hole."""
        return self._cell() == "H"

    def _failure_text(self) -> str:
        return "You fell into a hole."

    # ------------------------------------------------------------------ views
    def grid(self) -> list[str]:
        """The current grid (legend in the class docstring)."""
        flat = [_CELL[ch] for ch in "".join(self.level.rows)]
        flat[self.position] = _PLAYER["".join(self.level.rows)[self.position]]
        n = self.size
        return ["".join(flat[r * n:(r + 1) * n]) for r in range(n)]

    def _encode(self, out: np.ndarray) -> None:
        flat, n = "".join(self.level.rows), self.size * self.size
        out[:n] = [ch == "H" for ch in flat]
        out[n:2 * n] = [ch == "G" for ch in flat]
        out[2 * n + self.position] = 1.0

    # ------------------------------------------------------------------ snapshots
    def _dump(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"map": list(self.level.rows)}, {"player": list(divmod(self.position, self.size))}

    def _parse(self, level: Any, position: Any, turn: int) -> tuple[LakeLevel, int]:
        fields = read_dict(level, "level", ("map",))
        if set(fields) != {"map"}:
            raise SnapshotError("level: expected exactly the key map")
        n = self.size
        rows = read_rows(fields["map"], n, n, "SFHG", "level map")
        flat = "".join(rows)
        if flat[0] != "S" or flat[-1] != "G" or flat.count("S") != 1 or flat.count("G") != 1:
            raise SnapshotError("level map: the start must be top-left and the goal bottom-right, once each")
        if not is_valid([list(r) for r in rows], n):
            raise SnapshotError("level map: no path from the start to the goal")
        self.check_level_split(rows)
        fields = read_dict(position, "position", ("player",))
        if set(fields) != {"player"}:
            raise SnapshotError("position: expected exactly the key player")
        cell = read_cell(fields["player"], n, n, "position player")
        if manhattan(cell, 0, n) > turn:  # a move changes the cell by at most one step, slipping or not
            raise SnapshotError(f"position: not reachable from the start in {turn} turns")
        return self._complete(rows), cell


__all__ = ["ENV_ID", "FrozenLakeEnv", "LakeLevel"]
