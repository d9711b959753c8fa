"""Optimal solvers of the puzzles, used to verify generated levels, to report their optimal length, and as experts.

- Sokoban: breadth-first search over (player cell, box cells). Every move costs one step, so the first goal
  state BFS reaches is reached in the fewest player moves (the env's step count), not the fewest pushes.
- FrozenLake without slips: breadth-first search over cells, holes excluded.
- Slippery FrozenLake: value iteration on Gymnasium's own transition table (``FrozenLakeEnv.P``). The policy
  maximizes the probability of reaching the goal (undiscounted, Sutton & Barto §4.4); among actions whose
  success probability is maximal to 1e-9 it takes the one with the highest 0.99-discounted success, i.e. the
  quickest of the safest, so the policy never idles where every action is equally safe.

Cells are flat indices ``row * width + col``; actions are the env's action ids.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

#: Sokoban action ids, in the env's order: up, down, left, right.
SOKOBAN_ACTIONS = ("up", "down", "left", "right")
#: FrozenLake action ids, in Gymnasium's order: left, down, right, up.
LAKE_ACTIONS = ("left", "down", "right", "up")
#: Node budget of one Sokoban search (states expanded); beyond it the search gives up (returns None).
DEFAULT_BUDGET = 200_000


@dataclass(frozen=True)
class SokobanBoard:
    """The fixed part of a Sokoban room: walls and targets. Rows use ``#`` wall, ``_`` floor, ``O`` target.

    The room is surrounded by walls (the generator and the snapshot reader both guarantee it), so a move
    from an open cell never leaves the grid.

    Attributes:
        rows: The room's rows.
        height: Number of rows.
        width: Number of columns.
        open: Per flat cell, True for floor and targets.
        targets: Flat cells of the targets.
        dead: Open non-target cells in a corner (walls on two perpendicular sides): a box pushed there can
            never move again, so the search never pushes one there (a standard, exact Sokoban pruning).
    """

    rows: tuple[str, ...]
    height: int
    width: int
    open: tuple[bool, ...]
    targets: frozenset[int]
    dead: frozenset[int]

    @staticmethod
    def from_rows(rows: Sequence[str]) -> SokobanBoard:
        """Builds a board from rows of ``#``, ``_`` and ``O``."""
        rows = tuple(rows)
        height, width = len(rows), len(rows[0])
        flat = "".join(rows)
        open_ = tuple(ch != "#" for ch in flat)
        targets = frozenset(i for i, ch in enumerate(flat) if ch == "O")
        dead = set()
        for i, ch in enumerate(flat):
            if ch != "_":
                continue
            up, down, left, right = (not open_[i - width], not open_[i + width], not open_[i - 1], not open_[i + 1])
            if (up or down) and (left or right):
                dead.add(i)
        return SokobanBoard(rows, height, width, open_, targets, frozenset(dead))

    def deltas(self) -> tuple[int, int, int, int]:
        """Flat offsets of up, down, left, right."""
        return (-self.width, self.width, -1, 1)

    def move(self, player: int, boxes: frozenset[int], action: int) -> tuple[int, frozenset[int], int, int]:
        """One Sokoban move (gym-sokoban rules): walk, or push the one box ahead if the cell behind it is free.

        Args:
            player: The player's cell.
            boxes: The boxes' cells.
            action: 0 up, 1 down, 2 left, 3 right.

        Returns:
            (player, boxes, box moved from, box moved to); the last two are -1 without a push. A blocked move
            (a wall, or a box against a wall or another box) returns the input unchanged.
        """
        d = self.deltas()[action]
        ahead = player + d
        if not self.open[ahead]:
            return player, boxes, -1, -1
        if ahead in boxes:
            beyond = ahead + d
            if not self.open[beyond] or beyond in boxes:
                return player, boxes, -1, -1
            return ahead, (boxes - {ahead}) | {beyond}, ahead, beyond
        return ahead, boxes, -1, -1


def solve_sokoban(board: SokobanBoard, player: int, boxes: Iterable[int],
                  budget: int = DEFAULT_BUDGET) -> list[int] | None:
    """The shortest action sequence (fewest moves) that puts every box on a target.

    Args:
        board: The room.
        player: The player's cell.
        boxes: The boxes' cells.
        budget: Most states to expand before giving up.

    Returns:
        The action ids (empty when already solved), or None when there is no solution or the budget ran out.
    """
    start = (player, frozenset(boxes))
    if start[1] <= board.targets:
        return []
    parents: dict[tuple[int, frozenset[int]], tuple[tuple[int, frozenset[int]], int] | None] = {start: None}
    frontier = deque([start])
    dead, targets = board.dead, board.targets
    expanded = 0
    while frontier:
        state = frontier.popleft()
        expanded += 1
        if expanded > budget:
            return None
        for action in range(4):
            p, b, _, to = board.move(state[0], state[1], action)
            if p == state[0] or to in dead:
                continue
            nxt = (p, b)
            if nxt in parents:
                continue
            parents[nxt] = (state, action)
            if b <= targets:
                return _path(parents, nxt)
            frontier.append(nxt)
    return None


def _path(parents: dict, end: tuple) -> list[int]:
    actions = []
    link = parents[end]
    while link is not None:
        end, action = link
        actions.append(action)
        link = parents[end]
    return actions[::-1]


def distances_to_solved(board: SokobanBoard, budget: int = DEFAULT_BUDGET) -> dict[tuple[int, frozenset[int]], int]:
    """Optimal solution length of every state from which the room can be solved, by one backward search.

    A breadth-first search from all solved states (every box on a target, the player on any free cell) over
    *reverse* moves (walk, or walk and pull the box behind along) runs on the transpose of the move graph,
    so the depth at which it reaches a state is that state's shortest distance to a solved state.

    Args:
        board: The room.
        budget: Most states to label; the search stops there (states beyond it are missing).

    Returns:
        ``{(player, boxes): optimal length}``.
    """
    boxes = board.targets
    dist = {(p, boxes): 0 for p, ok in enumerate(board.open) if ok and p not in boxes}
    frontier = deque(dist)
    deltas = board.deltas()
    while frontier and len(dist) < budget:
        state = frontier.popleft()
        player, boxes = state
        depth = dist[state] + 1
        for d in deltas:
            ahead = player + d
            if not board.open[ahead] or ahead in boxes:
                continue
            successors = [(ahead, boxes)]
            if player - d in boxes:
                successors.append((ahead, (boxes - {player - d}) | {player}))
            for nxt in successors:
                if nxt not in dist:
                    dist[nxt] = depth
                    frontier.append(nxt)
    return dist


@functools.lru_cache(maxsize=4096)
def sokoban_optimal_length(rows: tuple[str, ...], player: int, boxes: tuple[int, ...],
                           budget: int = DEFAULT_BUDGET) -> int | None:
    """Optimal solution length of a level (memoized: snapshots of one level are restored many times)."""
    plan = solve_sokoban(SokobanBoard.from_rows(rows), player, boxes, budget)
    return None if plan is None else len(plan)


# ------------------------------------------------------------------ FrozenLake
def lake_move(rows: Sequence[str], cell: int, action: int) -> int:
    """The cell a non-slippery move leads to (Gymnasium's ``inc``: moves off the map stay put)."""
    size_r, size_c = len(rows), len(rows[0])
    r, c = divmod(cell, size_c)
    if action == 0:
        c = max(c - 1, 0)
    elif action == 1:
        r = min(r + 1, size_r - 1)
    elif action == 2:
        c = min(c + 1, size_c - 1)
    else:
        r = max(r - 1, 0)
    return r * size_c + c


def solve_lake(rows: Sequence[str], cell: int = 0) -> list[int] | None:
    """Shortest action sequence from ``cell`` to the goal without slips, never entering a hole.

    Returns:
        The action ids (empty on the goal), or None when the goal cannot be reached (or ``cell`` is a hole).
    """
    flat = "".join(rows)
    if flat[cell] == "G":
        return []
    if flat[cell] == "H":
        return None
    parents: dict[int, tuple[int, int] | None] = {cell: None}
    frontier = deque([cell])
    while frontier:
        here = frontier.popleft()
        for action in range(4):
            nxt = lake_move(rows, here, action)
            if nxt in parents or flat[nxt] == "H":
                continue
            parents[nxt] = (here, action)
            if flat[nxt] == "G":
                return _path(parents, nxt)
            frontier.append(nxt)
    return None


@dataclass(frozen=True)
class LakePolicy:
    """Value-iteration result on one map.

    Attributes:
        success: Per cell, the highest probability of ever reaching the goal.
        action: Per cell, the action the solver takes (module docstring for the tie-break).
    """

    success: np.ndarray
    action: np.ndarray


def value_iteration(transitions: dict[int, dict[int, list[tuple[float, int, float, bool]]]], tol: float = 1e-10,
                    max_iterations: int = 100_000) -> LakePolicy:
    """Success-maximizing policy on a Gymnasium toy-text transition table ``P[s][a] = [(p, s', r, done)]``.

    Args:
        transitions: ``FrozenLakeEnv.P``.
        tol: Stop when no value changes by more than this.
        max_iterations: Upper bound on sweeps.
    """
    n_states, n_actions = len(transitions), len(transitions[0])
    width = max(len(transitions[s][a]) for s in transitions for a in transitions[s])
    prob = np.zeros((n_states, n_actions, width))
    nxt = np.zeros((n_states, n_actions, width), dtype=np.int64)
    reward = np.zeros((n_states, n_actions, width))
    alive = np.zeros((n_states, n_actions, width))
    for s in range(n_states):
        for a in range(n_actions):
            for k, (p, s2, r, done) in enumerate(transitions[s][a]):
                prob[s, a, k], nxt[s, a, k], reward[s, a, k], alive[s, a, k] = p, s2, r, 0.0 if done else 1.0

    def solve(gamma: float) -> np.ndarray:
        v = np.zeros(n_states)
        for _ in range(max_iterations):
            q = (prob * (reward + gamma * alive * v[nxt])).sum(axis=2)
            new = q.max(axis=1)
            if np.max(np.abs(new - v)) <= tol:
                return q
            v = new
        return q

    q_success = solve(1.0)
    q_quick = solve(0.99)
    best = q_success.max(axis=1, keepdims=True)
    tie_broken = np.where(q_success >= best - 1e-9, q_quick, -np.inf)
    return LakePolicy(best[:, 0], tie_broken.argmax(axis=1))


@functools.lru_cache(maxsize=1024)
def lake_transitions(rows: tuple[str, ...], is_slippery: bool) -> dict[int, dict[int, list[tuple]]]:
    """Gymnasium's transition table of a map (built by ``FrozenLakeEnv`` itself; memoized per map)."""
    from gymnasium.envs.toy_text.frozen_lake import FrozenLakeEnv

    return FrozenLakeEnv(desc=list(rows), is_slippery=is_slippery).P


@functools.lru_cache(maxsize=1024)
def lake_policy(rows: tuple[str, ...]) -> LakePolicy:
    """The value-iteration policy of a slippery map (memoized)."""
    return value_iteration(lake_transitions(rows, True))


__all__ = ["DEFAULT_BUDGET", "LAKE_ACTIONS", "SOKOBAN_ACTIONS", "LakePolicy", "SokobanBoard", "distances_to_solved",
           "lake_move", "lake_policy", "lake_transitions", "sokoban_optimal_length", "solve_lake", "solve_sokoban",
           "value_iteration"]
