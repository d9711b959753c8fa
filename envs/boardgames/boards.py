"""Board layout shared by the board-game rules and their opponents: cells, marks and the vector planes.

A board is a flat list of cells, each ``EMPTY`` or the seat (0 or 1) whose stone or mark is on it. The
vector observation of seat ``p`` is the seat one-hot, then three planes over the cells: ``p``'s stones,
the other seat's stones, the empty cells (one plane per cell state, like OpenSpiel's
``observation_tensor``, which orders them empty, X, O; here they are seen from the player). The rules
write it with ``encode_planes``; the solvers, which only ever see observations, read it back with
``decode_planes``, so the two sides cannot disagree on the layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np

from turngym.envs.core.game import TurnGame

S = TypeVar("S")

#: A cell nobody has played.
EMPTY = -1
#: Mark of each seat in text observations (seat 0 moves first and plays X, as in OpenSpiel).
MARKS = "XO"
#: Slots of the seat one-hot before the planes.
SEAT_SLOTS = 2


def lines(rows: int, cols: int, length: int) -> tuple[tuple[int, ...], ...]:
    """Every straight line of ``length`` cells on a ``rows`` x ``cols`` board (cell ``row * cols + col``).

    Rows, columns and both diagonals: tic-tac-toe's 8 lines of 3 (``lines(3, 3, 3)``), Connect Four's 69
    windows of 4 (``lines(6, 7, 4)``).
    """
    out = []
    for row in range(rows):
        for col in range(cols):
            for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
                end_row, end_col = row + dr * (length - 1), col + dc * (length - 1)
                if 0 <= end_row < rows and 0 <= end_col < cols:
                    out.append(tuple((row + dr * k) * cols + col + dc * k for k in range(length)))
    return tuple(out)


def encode_planes(board: Sequence[int], player: int, out: np.ndarray) -> None:
    """Writes ``player``'s vector observation of ``board`` into the zeroed array ``out``.

    Args:
        board: Cells, each ``EMPTY`` or a seat.
        player: The observing seat.
        out: ``SEAT_SLOTS + 3 * len(board)`` floats, zero on entry.
    """
    cells = np.asarray(board)
    n = len(cells)
    out[player] = 1.0
    out[SEAT_SLOTS:SEAT_SLOTS + n] = cells == player
    out[SEAT_SLOTS + n:SEAT_SLOTS + 2 * n] = cells == 1 - player
    out[SEAT_SLOTS + 2 * n:SEAT_SLOTS + 3 * n] = cells == EMPTY


def decode_planes(observation: Any, num_cells: int) -> tuple[int, int]:
    """The observer's and the other seat's stones as bitmasks (bit ``i`` = cell ``i``).

    Args:
        observation: A vector observation (the ``{"observation", "action_mask"}`` dict or its array).
        num_cells: Cells on the board.

    Raises:
        TypeError: ``observation`` is not a vector observation of a board of ``num_cells`` cells (a text
            observation, typically: agents that read boards declare ``obs_mode = "vector"``).
    """
    vec = observation.get("observation") if isinstance(observation, dict) else observation
    if not isinstance(vec, np.ndarray) or vec.shape != (SEAT_SLOTS + 3 * num_cells,):
        raise TypeError(f"expected a vector observation of {SEAT_SLOTS + 3 * num_cells} floats "
                        f"(make the env with obs_mode='vector'), got {type(vec).__name__}")
    own = vec[SEAT_SLOTS:SEAT_SLOTS + num_cells] > 0.5
    other = vec[SEAT_SLOTS + num_cells:SEAT_SLOTS + 2 * num_cells] > 0.5
    return sum(1 << int(i) for i in np.flatnonzero(own)), sum(1 << int(i) for i in np.flatnonzero(other))


def replay(game: TurnGame[S], history: Sequence[int], what: str) -> S:
    """The state a move history leads to, checking every move against the rules (snapshots are untrusted).

    Args:
        game: The rules.
        history: Action ids in the order they were played.
        what: The game's name, for the message.

    Raises:
        ValueError: A move is illegal (a taken cell, a full column) or comes after the game ended.
    """
    s = game.new_state()
    for k, action in enumerate(history):
        if game.is_terminal(s) or action not in game.legal_actions(s):
            raise ValueError(f"{what} history: move {k} ({action}) is not legal there")
        game.apply_action(s, action)
    return s


class TwoPlayerBoardGame(TurnGame[S]):
    """The rules both board games share: no chance, X (seat 0) and O alternate, +1/-1/0 at the end, nothing hidden.

    A subclass's state has ``board`` (cells, ``EMPTY`` or a seat), ``history`` (the moves) and ``winner`` (a seat,
    or -1); ``cells`` is the board's size (a full board ends the game as a draw).
    """

    cells: int

    def chance_outcomes(self, s: Any) -> list[tuple[int, float]]:
        return []

    def chance_pending(self, s: Any) -> bool:
        return False

    def apply_chance(self, s: Any, outcome: int) -> None:
        raise ValueError(f"{self.title} has no chance events")

    def is_terminal(self, s: Any) -> bool:
        return s.winner >= 0 or len(s.history) == self.cells

    def current_player(self, s: Any) -> int:
        return -1 if self.is_terminal(s) else len(s.history) % 2

    def returns(self, s: Any) -> list[float]:
        if s.winner < 0:
            return [0.0, 0.0]
        return [1.0, -1.0] if s.winner == 0 else [-1.0, 1.0]

    def terminal_view_key(self, s: Any, player: int) -> str | None:
        return self.info_encoding(s, player)  # nothing is hidden, so the board fixes the final view too

    def encode(self, s: Any, player: int, out: np.ndarray) -> None:
        encode_planes(s.board, player, out)

    def to_json(self, s: Any) -> Any:
        return {"history": list(s.history)}

    def status_line(self, s: Any, player: int, your_turn: str) -> str:
        """The last line of ``render``: the result, ``your_turn`` when ``player`` moves, or who is awaited."""
        if self.is_terminal(s):
            if s.winner < 0:
                return "Game over: a draw (the board is full); your payoff +0."
            who = "you" if s.winner == player else "your opponent"
            return f"Game over: {who} ({MARKS[s.winner]}) won; your payoff {self.returns(s)[player]:+g}."
        if self.current_player(s) == player:
            return your_turn
        return f"Waiting for {MARKS[1 - player]} to move."
