"""Tic-tac-toe: the rules of OpenSpiel's ``tic_tac_toe``.

A 3x3 board; seat 0 plays X and moves first, seat 1 plays O. A move marks an empty cell; three marks in a
row, column or diagonal win (+1 / -1), a full board without a line is a draw (0 / 0). Action ``3 * row +
col`` marks the cell in row ``row`` (0 at the top) and column ``col`` (0 at the left), OpenSpiel's
numbering; in text the cell is named by its column letter and row number (``a1`` top left, ``c3`` bottom
right). Under perfect play the game is a draw.
"""


from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from turngym.envs.boardgames.boards import EMPTY, MARKS, SEAT_SLOTS, TwoPlayerBoardGame, lines, replay
from turngym.envs.boardgames.solvers import TICTACTOE_OPPONENTS, named_opponents
from turngym.envs.core.aec import GameAECEnv
from turngym.envs.core.session import read_dict, read_int_list
from turngym.envs.core.single import GameSingleAgentEnv

ENV_ID = "turngym/TicTacToe-v0"
SIZE = 3
CELLS = SIZE * SIZE
#: The eight lines of three cells: rows, columns, the two diagonals.
LINES = lines(SIZE, SIZE, SIZE)
_LINES_THROUGH = tuple(tuple(line for line in LINES if cell in line) for cell in range(CELLS))
#: Canonical word of each action: column letter, row number (``a1`` top left).
CELL_NAMES = tuple(f"{'abc'[a % SIZE]}{a // SIZE + 1}" for a in range(CELLS))


@dataclass(slots=True)
class TicTacToeState:
    """Mutable state of one game."""

    board: list[int] = field(default_factory=lambda: [EMPTY] * CELLS)
    history: list[int] = field(default_factory=list)
    winner: int = -1


class TicTacToeGame(TwoPlayerBoardGame[TicTacToeState]):
    """Rules of tic-tac-toe (see the module docstring)."""

    title = "Tic-tac-toe"
    instruction = "Play one game of tic-tac-toe: get three of your marks in a row, column or diagonal."
    num_players = 2
    action_names = CELL_NAMES
    #: Row number first (``1a``) is accepted too.
    aliases = {name[::-1]: a for a, name in enumerate(CELL_NAMES)}
    obs_size = SEAT_SLOTS + 3 * CELLS
    cells = CELLS
    # A perfect-information game: the board and the seat are everything a player knows, and they fix the
    # view (the player to move follows from the count of marks).
    views_follow_info_state = True

    def new_state(self) -> TicTacToeState:
        return TicTacToeState()






    def legal_actions(self, s: TicTacToeState) -> list[int]:
        if self.is_terminal(s):
            return []
        return [a for a in range(CELLS) if s.board[a] == EMPTY]

    def illegal_reason(self, s: TicTacToeState, action: int) -> str:
        if self.is_terminal(s):
            return "the game is over"
        return f"{CELL_NAMES[action]} is taken (it holds an {MARKS[s.board[action]]}); pick an empty cell"

    def apply_action(self, s: TicTacToeState, action: int) -> None:
        player = len(s.history) % 2
        s.board[action] = player
        s.history.append(action)
        board = s.board
        if any(board[a] == board[b] == board[c] == player for a, b, c in _LINES_THROUGH[action]):
            s.winner = player


    def board_string(self, s: TicTacToeState) -> str:
        """The board row by row, ``x``/``o``/``.`` (OpenSpiel's ``str(state)`` without the newlines)."""
        return "".join(".xo"[c + 1] for c in s.board)

    def info_encoding(self, s: TicTacToeState, player: int) -> str:
        return f"p{player}|{self.board_string(s)}"



    def render(self, s: TicTacToeState, player: int) -> str:
        mark = MARKS[player]
        lines = [
            f"Tic-tac-toe. You play {mark} (player {player}); X moves first. Three in a row, column or "
            "diagonal wins.",
            "    a b c",
        ]
        for r in range(SIZE):
            lines.append(f" {r + 1}  " + " ".join("." if c == EMPTY else MARKS[c]
                                                 for c in s.board[r * SIZE:(r + 1) * SIZE]))
        lines.append(self.status_line(s, player, f"Your turn: place an {mark} on an empty cell (column letter, "
                                                 "row number: a1 is the top left cell)."))
        return "\n".join(lines)


    def from_json(self, data: Any) -> TicTacToeState:
        fields = read_dict(data, "tic-tac-toe state", ("history",))
        history = read_int_list(fields["history"], 0, CELLS - 1, "tic-tac-toe history", max_length=CELLS)
        # The board, the turn and the winner follow from the moves; replaying checks each one.
        return replay(self, history, "tic-tac-toe")

    def copy_state(self, s: TicTacToeState) -> TicTacToeState:
        return TicTacToeState(list(s.board), list(s.history), s.winner)


_DOC = """

    Description:
        Tic-tac-toe with the rules of OpenSpiel's ``tic_tac_toe``: seat 0 plays X and moves first, three
        marks in a line win. Perfect play draws; the ``"solver"`` opponent plays perfectly.
    Observation:
        Text: the board (columns a-c, rows 1-3, ``X``/``O``/``.``), your mark, whose turn it is and the
        legal cells. Vector (``obs_mode="vector"``): ``Dict(observation=Box(29,), action_mask=
        MultiBinary(9))``: seat one-hot (2), then your marks, the opponent's marks and the empty cells,
        one plane of 9 cells each (cell ``3 * row + col``, row 0 at the top).
    Action:
        Text: a cell, column letter then row number (``a1`` top left … ``c3`` bottom right; ``1a`` also
        accepted), bare, inside ``<action>…</action>``, or in ``[brackets]``. Vector: ``Discrete(9)``,
        cell ``3 * row + col`` (OpenSpiel's action ids). A taken cell is an invalid action.
    Reward:
        +1 win, -1 loss, 0 draw at the end of the game; ``invalid_action_penalty`` (default 0) per
        invalid action.
    Episode end:
        Terminated on three in a line or a full board; truncated when ``max_turns`` turns (invalid ones
        included) have been taken.
    Arguments:
        obs_mode (str): ``"text"`` (default) or ``"vector"``.
        max_turns (int): turn cap, default 30.
        invalid_action_penalty (float): default 0.0.
{extra}    Version history:
        v0: initial release.
"""
_SINGLE_ARGS = """        opponents: an agent object or a name for the other seat: ``"random"`` (default, uniform
            over the legal cells) or ``"solver"`` (perfect play, ties broken at random from the env RNG).
        seat (int | str): the learner's seat, or ``"random"`` (drawn from the env RNG at reset).
"""


class TicTacToeEnv(GameSingleAgentEnv):
    """Tic-tac-toe, single-agent view: the learner plays ``seat`` against ``opponents``."""

    def __init__(self, opponents: Any = None, seat: int | str = 0, obs_mode: str = "text", max_turns: int = 30,
                 invalid_action_penalty: float = 0.0, render_mode: str | None = None):
        super().__init__(TicTacToeGame(), ENV_ID, named_opponents(opponents, TICTACTOE_OPPONENTS), seat, obs_mode,
                         max_turns, invalid_action_penalty, render_mode)


class TicTacToeAEC(GameAECEnv):
    """Tic-tac-toe, PettingZoo AEC form (agents ``player_0`` = X, ``player_1`` = O)."""

    def __init__(self, obs_mode: str = "text", max_turns: int = 30, invalid_action_penalty: float = 0.0,
                 render_mode: str | None = None):
        super().__init__(TicTacToeGame(), ENV_ID, obs_mode, max_turns, invalid_action_penalty, "sample", render_mode)


TicTacToeEnv.__doc__ += _DOC.format(extra=_SINGLE_ARGS)
TicTacToeAEC.__doc__ += _DOC.format(extra="")
