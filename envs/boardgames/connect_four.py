"""Connect Four: the rules of OpenSpiel's ``connect_four``.

Seven columns, six rows; seat 0 plays X and moves first, seat 1 plays O. A move drops a stone into a
column that is not full; it lands on the lowest empty cell. Four stones of one seat in a row, column or
diagonal win (+1 / -1); a full board without four in a line is a draw (0 / 0). Action ``c`` drops into
column ``c`` (0 at the left), OpenSpiel's numbering; in text the columns are the letters ``a`` to ``g``.
"""


from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from turngym.envs.boardgames.boards import EMPTY, MARKS, SEAT_SLOTS, TwoPlayerBoardGame, replay
from turngym.envs.boardgames.solvers import CONNECT_FOUR_OPPONENTS, named_opponents
from turngym.envs.core.aec import GameAECEnv
from turngym.envs.core.session import read_dict, read_int_list
from turngym.envs.core.single import GameSingleAgentEnv

ENV_ID = "turngym/ConnectFour-v0"
ROWS, COLS = 6, 7
CELLS = ROWS * COLS
#: Canonical word of each action: the column's letter.
COLUMN_NAMES = tuple("abcdefg")
#: The four line directions as (row step, column step): vertical, horizontal, the two diagonals.
_DIRECTIONS = ((1, 0), (0, 1), (1, 1), (1, -1))


@dataclass(slots=True)
class ConnectFourState:
    """Mutable state of one game. Cell ``row * COLS + col``, row 0 at the bottom."""

    board: list[int] = field(default_factory=lambda: [EMPTY] * CELLS)
    heights: list[int] = field(default_factory=lambda: [0] * COLS)
    history: list[int] = field(default_factory=list)
    winner: int = -1


def _run(board: list[int], row: int, col: int, dr: int, dc: int, player: int) -> int:
    """Stones of ``player`` in a line from (``row``, ``col``) in direction (``dr``, ``dc``), that cell excluded."""
    n = 0
    row, col = row + dr, col + dc
    while 0 <= row < ROWS and 0 <= col < COLS and board[row * COLS + col] == player:
        n += 1
        row, col = row + dr, col + dc
    return n


class ConnectFourGame(TwoPlayerBoardGame[ConnectFourState]):
    """Rules of Connect Four (see the module docstring)."""

    title = "Connect Four"
    instruction = "Play one game of Connect Four: get four of your stones in a row, column or diagonal."
    num_players = 2
    action_names = COLUMN_NAMES
    aliases = {f"column {name}": c for c, name in enumerate(COLUMN_NAMES)}
    obs_size = SEAT_SLOTS + 3 * CELLS
    cells = CELLS
    # A perfect-information game: the board and the seat fix the view (the player to move follows from
    # the count of stones).
    views_follow_info_state = True

    def new_state(self) -> ConnectFourState:
        return ConnectFourState()






    def legal_actions(self, s: ConnectFourState) -> list[int]:
        if self.is_terminal(s):
            return []
        return [c for c in range(COLS) if s.heights[c] < ROWS]

    def illegal_reason(self, s: ConnectFourState, action: int) -> str:
        if self.is_terminal(s):
            return "the game is over"
        return f"column {COLUMN_NAMES[action]} is full; pick a column with room"

    def apply_action(self, s: ConnectFourState, action: int) -> None:
        player = len(s.history) % 2
        row = s.heights[action]
        s.board[row * COLS + action] = player
        s.heights[action] = row + 1
        s.history.append(action)
        board = s.board
        # A new line of four must pass through the stone just played: count both ways along each direction.
        for dr, dc in _DIRECTIONS:
            if 1 + _run(board, row, action, dr, dc, player) + _run(board, row, action, -dr, -dc, player) >= 4:
                s.winner = player
                return


    def board_string(self, s: ConnectFourState) -> str:
        """Rows from the top, ``x``/``o``/``.``, newline-separated (OpenSpiel's ``str(state)``)."""
        return "\n".join("".join(".xo"[c + 1] for c in s.board[r * COLS:(r + 1) * COLS])
                         for r in reversed(range(ROWS)))

    def info_encoding(self, s: ConnectFourState, player: int) -> str:
        return f"p{player}|{''.join('.xo'[c + 1] for c in s.board)}"



    def render(self, s: ConnectFourState, player: int) -> str:
        mark = MARKS[player]
        lines = [
            f"Connect Four. You play {mark} (player {player}); X moves first. A stone drops to the lowest empty "
            "cell of its column; four in a row, column or diagonal wins.",
            "  " + " ".join(COLUMN_NAMES),
        ]
        for r in reversed(range(ROWS)):
            lines.append(" |" + " ".join("." if c == EMPTY else MARKS[c]
                                         for c in s.board[r * COLS:(r + 1) * COLS]) + "|")
        lines.append(self.status_line(s, player, f"Your turn: drop an {mark} into a column that is not full "
                                                 "(a column letter)."))
        return "\n".join(lines)


    def from_json(self, data: Any) -> ConnectFourState:
        fields = read_dict(data, "Connect Four state", ("history",))
        history = read_int_list(fields["history"], 0, COLS - 1, "Connect Four history", max_length=CELLS)
        # The board, the heights, the turn and the winner follow from the moves; replaying checks each one.
        return replay(self, history, "Connect Four")

    def copy_state(self, s: ConnectFourState) -> ConnectFourState:
        return ConnectFourState(list(s.board), list(s.heights), list(s.history), s.winner)


_DOC = """

    Description:
        Connect Four with the rules of OpenSpiel's ``connect_four`` (7 columns, 6 rows): seat 0 plays X
        and moves first, four stones in a line win. The ``"search"`` opponent is a depth-limited
        alpha-beta search with a line-counting heuristic.
    Observation:
        Text: the board (columns a-g, top row first, ``X``/``O``/``.``), your mark, whose turn it is and
        the legal columns. Vector (``obs_mode="vector"``): ``Dict(observation=Box(128,), action_mask=
        MultiBinary(7))``: seat one-hot (2), then your stones, the opponent's stones and the empty cells,
        one plane of 42 cells each (cell ``7 * row + col``, row 0 at the bottom).
    Action:
        Text: a column letter ``a`` … ``g`` (also ``column a``), bare, inside ``<action>…</action>``, or
        in ``[brackets]``. Vector: ``Discrete(7)``, the column (OpenSpiel's action ids). A full column is
        an invalid action.
    Reward:
        +1 win, -1 loss, 0 draw at the end of the game; ``invalid_action_penalty`` (default 0) per
        invalid action.
    Episode end:
        Terminated on four in a line or a full board; truncated when ``max_turns`` turns (invalid ones
        included) have been taken.
    Arguments:
        obs_mode (str): ``"text"`` (default) or ``"vector"``.
        max_turns (int): turn cap, default 100.
        invalid_action_penalty (float): default 0.0.
{extra}    Version history:
        v0: initial release.
"""
_SINGLE_ARGS = """        opponents: an agent object or a name for the other seat: ``"random"`` (default, uniform
            over the legal columns) or ``"search"`` (alpha-beta to depth 4, ties broken at random from the env RNG).
        seat (int | str): the learner's seat, or ``"random"`` (drawn from the env RNG at reset).
"""


class ConnectFourEnv(GameSingleAgentEnv):
    """Connect Four, single-agent view: the learner plays ``seat`` against ``opponents``."""

    def __init__(self, opponents: Any = None, seat: int | str = 0, obs_mode: str = "text", max_turns: int = 100,
                 invalid_action_penalty: float = 0.0, render_mode: str | None = None):
        super().__init__(ConnectFourGame(), ENV_ID, named_opponents(opponents, CONNECT_FOUR_OPPONENTS), seat,
                         obs_mode, max_turns, invalid_action_penalty, render_mode)


class ConnectFourAEC(GameAECEnv):
    """Connect Four, PettingZoo AEC form (agents ``player_0`` = X, ``player_1`` = O)."""

    def __init__(self, obs_mode: str = "text", max_turns: int = 100, invalid_action_penalty: float = 0.0,
                 render_mode: str | None = None):
        super().__init__(ConnectFourGame(), ENV_ID, obs_mode, max_turns, invalid_action_penalty, "sample",
                         render_mode)


ConnectFourEnv.__doc__ += _DOC.format(extra=_SINGLE_ARGS)
ConnectFourAEC.__doc__ += _DOC.format(extra="")
