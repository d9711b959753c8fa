"""Opponents of the board games: a perfect-play tic-tac-toe solver and an alpha-beta Connect Four search.

Both are agents (``act(observations, infos, *, rng=None)``) that read the board from the vector
observation (they declare ``obs_mode = "vector"``, so the single-agent envs hand them one whatever the
learner's mode) and the legal moves from the info. Among equally good moves they pick uniformly with the
``rng`` the env passes (its own RNG, so seeded episodes and snapshots replay), else with their own
seeded RNG; never the global one. They live beside the envs, as the puzzle solvers do, because the envs
resolve their names (``opponents=["solver"]``, ``["search"]``) and ``turngym.envs`` imports nothing from
``turngym.agents`` (DESIGN §2). The registry's expert factories (``tictactoe_expert``,
``connect_four_expert``) wrap the same agents for supervised warm starts.

Both searches run on bitboards (Python ints): tic-tac-toe's cell ``i`` is bit ``i``; Connect Four uses
the column-major layout of Pons' solver (column ``c``, row ``r`` from the bottom is bit ``7 * c + r``;
bit 6 of each column stays empty, so a shift never carries a line from one column's top into the next
column's bottom).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from turngym.envs.boardgames.boards import decode_planes, lines
from turngym.envs.core.agent_api import RandomLegalAgent, legal_ids
from turngym.envs.core.errors import ConfigError


class BoardAgent:
    """An agent that scores the legal moves of a board it reads from vector observations.

    Args:
        seed: Seed of the agent's own RNG, used when the caller passes no ``rng``.
    """

    name = "board"
    #: The single-agent envs give an opponent observations in its ``obs_mode``: these agents read boards.
    obs_mode = "vector"

    def __init__(self, seed: int | None = None):
        self.rng = np.random.default_rng(seed)

    def best_actions(self, observation: Any, legal: list[int]) -> list[int]:
        """The legal actions that score best, ascending (one or more)."""
        raise NotImplementedError

    def act(self, observations: Sequence[Any], infos: Sequence[dict[str, Any]], *,
            rng: np.random.Generator | None = None) -> list[int | None]:
        """One best action per environment, ties broken uniformly (``None`` where nothing is legal)."""
        gen = rng if rng is not None else self.rng
        out: list[int | None] = []
        for obs, info in zip(observations, infos, strict=True):
            legal = legal_ids(info, obs)
            if not legal:
                out.append(None)
                continue
            best = self.best_actions(obs, legal)
            out.append(best[int(gen.integers(len(best)))] if len(best) > 1 else best[0])
        return out


# ------------------------------------------------------------------ tic-tac-toe: exact negamax
_TTT_CELLS = 9
_TTT_LINES = tuple(sum(1 << c for c in line) for line in lines(3, 3, 3))
_TTT_FULL = (1 << _TTT_CELLS) - 1


@functools.cache
def tictactoe_value(own: int, other: int) -> int:
    """Negamax value of a tic-tac-toe position for the side to move, under perfect play by both sides.

    A win scores 1 + the cells still empty when it is made (a quicker win scores more), a loss the
    negative of the winner's score, a draw 0; so the sign is the game-theoretic result. Memoized: the game
    has 5,478 legal positions, all solved on the first call from the empty board.

    Args:
        own: Bitmask of the marks of the side to move (bit ``i`` = cell ``i``).
        other: Bitmask of the other side's marks.
    """
    empty = _TTT_FULL & ~(own | other)
    if any(other & line == line for line in _TTT_LINES):  # the move just made won
        return -(1 + empty.bit_count())
    if not empty:
        return 0
    best = -_TTT_CELLS - 1
    while empty:
        bit = empty & -empty
        empty ^= bit
        best = max(best, -tictactoe_value(other, own | bit))
    return best


def tictactoe_move_values(own: int, other: int) -> dict[int, int]:
    """``tictactoe_value`` of each empty cell for the side to move (the value after marking it, negated back)."""
    empty = _TTT_FULL & ~(own | other)
    return {a: -tictactoe_value(other, own | 1 << a) for a in range(_TTT_CELLS) if empty >> a & 1}


class TicTacToeSolver(BoardAgent):
    """Perfect tic-tac-toe: plays a move of the best ``tictactoe_value``, so it never loses.

    Quicker wins and slower losses score higher; among equal moves it picks uniformly.
    """

    name = "solver"

    def best_actions(self, observation: Any, legal: list[int]) -> list[int]:
        """The legal cells of the best ``tictactoe_move_values``."""
        own, other = decode_planes(observation, _TTT_CELLS)
        values = tictactoe_move_values(own, other)
        top = max(values[a] for a in legal)
        return [a for a in legal if values[a] == top]


# ------------------------------------------------------------------ Connect Four: alpha-beta search
_ROWS, _COLS = 6, 7
_H1 = _ROWS + 1  # bits per column, the empty guard bit included
#: Default search depth in plies: finds every win and every block within two moves of each side.
SEARCH_DEPTH = 4
#: Score of a win found ``d`` plies above the search horizon: ``WIN + d``, so a quicker win scores more.
WIN = 1_000_000
#: Columns searched centre first: central moves are usually best, and good moves first make alpha-beta cut more.
_ORDER = (3, 2, 4, 1, 5, 0, 6)
_BOTTOM = tuple(1 << (c * _H1) for c in range(_COLS))
_TOP = tuple(1 << (c * _H1 + _ROWS - 1) for c in range(_COLS))
_COLUMN = tuple(((1 << _ROWS) - 1) << (c * _H1) for c in range(_COLS))
_BOARD = sum(_COLUMN)
_CENTRE = _COLUMN[3]
#: Heuristic weight of a window of four holding k stones of one side and none of the other's.
_WEIGHT = (0, 1, 4, 16, 0)


def _bit(cell: int) -> int:
    """Bitboard bit of the observation's cell ``row * 7 + col`` (row 0 at the bottom)."""
    row, col = divmod(cell, _COLS)
    return 1 << (col * _H1 + row)


_WINDOWS = tuple(sum(_bit(c) for c in line) for line in lines(_ROWS, _COLS, 4))


def _four(stones: int) -> bool:
    """True when ``stones`` hold four in a line: vertical (shift 1), horizontal (7), both diagonals (6, 8)."""
    for shift in (1, _H1, _H1 - 1, _H1 + 1):
        pairs = stones & (stones >> shift)
        if pairs & (pairs >> (2 * shift)):
            return True
    return False


def connect_four_heuristic(own: int, other: int) -> int:
    """Static score of a position for ``own``: open windows of four (weighted by stones) and centre stones.

    Each of the 69 windows of four that holds stones of one side only scores ``_WEIGHT[k]`` for that side
    (k its stones); each stone in the centre column scores 3, since it lies in the most windows.
    """
    score = 3 * ((own & _CENTRE).bit_count() - (other & _CENTRE).bit_count())
    for window in _WINDOWS:
        mine, theirs = own & window, other & window
        if not theirs:
            score += _WEIGHT[mine.bit_count()]
        elif not mine:
            score -= _WEIGHT[theirs.bit_count()]
    return score


def _negamax(own: int, other: int, depth: int, alpha: float, beta: float) -> float:
    """Fail-soft alpha-beta negamax value for the side to move (``own``); ``other`` has not won."""
    mask = own | other
    if mask == _BOARD:
        return 0
    if depth == 0:
        return connect_four_heuristic(own, other)
    best = -math.inf
    for c in _ORDER:
        if mask & _TOP[c]:
            continue
        after = own | ((mask + _BOTTOM[c]) & _COLUMN[c])
        if _four(after):
            return WIN + depth  # no move scores more at this node
        score = -_negamax(other, after, depth - 1, -beta, -alpha)
        if score > best:
            best = score
            if score > alpha:
                alpha = score
                if alpha >= beta:
                    break
    return best


def connect_four_value(own: int, other: int, depth: int = SEARCH_DEPTH) -> float:
    """Depth-limited negamax value for the side to move (``own``, in bitboard layout; ``other`` has not won)."""
    return _negamax(own, other, depth, -math.inf, math.inf)


def connect_four_best_moves(own: int, other: int, columns: Sequence[int], depth: int = SEARCH_DEPTH) -> list[int]:
    """The columns of ``columns`` with the best depth-``depth`` score for the side to move, ascending.

    Each column is searched with the window (best so far - 1/2, +inf): a column that cannot reach the
    best score fails low cheaply, one that ties it gets its exact score (scores are integers), so all
    tied columns are found with alpha-beta's cuts.
    """
    mask = own | other
    best, moves = -math.inf, []
    for c in sorted(columns, key=_ORDER.index):
        if mask & _TOP[c]:
            continue
        after = own | ((mask + _BOTTOM[c]) & _COLUMN[c])
        if _four(after):
            score = WIN + depth
        else:
            score = -_negamax(other, after, depth - 1, -math.inf, -(best - 0.5))
        if score > best:
            best, moves = score, [c]
        elif score == best:
            moves.append(c)
    return sorted(moves)


def connect_four_bitboards(observation: Any) -> tuple[int, int]:
    """(own, other) stones of a Connect Four vector observation, in the search's bitboard layout."""
    own, other = decode_planes(observation, _ROWS * _COLS)
    return (sum(_bit(i) for i in range(_ROWS * _COLS) if own >> i & 1),
            sum(_bit(i) for i in range(_ROWS * _COLS) if other >> i & 1))


class ConnectFourSearch(BoardAgent):
    """Connect Four by depth-limited alpha-beta search over ``connect_four_heuristic``.

    Args:
        depth: Search depth in plies (at least 1; 4 takes a few milliseconds per move).
        seed: Seed of the agent's own RNG, used when the caller passes no ``rng``.

    Raises:
        ConfigError: ``depth`` is not a positive int.
    """

    name = "search"

    def __init__(self, depth: int = SEARCH_DEPTH, seed: int | None = None):
        if type(depth) is not int or depth < 1:
            raise ConfigError("depth", "a positive int", depth)
        super().__init__(seed)
        self.depth = depth

    def best_actions(self, observation: Any, legal: list[int]) -> list[int]:
        """The legal columns of the best depth-``depth`` score (``connect_four_best_moves``)."""
        own, other = connect_four_bitboards(observation)
        return connect_four_best_moves(own, other, legal, self.depth) or list(legal)


# ------------------------------------------------------------------ names the envs accept
#: Built-in opponents of ``TicTacToeEnv`` by name.
TICTACTOE_OPPONENTS: dict[str, Callable[[], Any]] = {"random": RandomLegalAgent, "solver": TicTacToeSolver}
#: Built-in opponents of ``ConnectFourEnv`` by name.
CONNECT_FOUR_OPPONENTS: dict[str, Callable[[], Any]] = {"random": RandomLegalAgent, "search": ConnectFourSearch}


def named_opponents(opponents: Any, table: Mapping[str, Callable[[], Any]]) -> Any:
    """``opponents`` (as ``GameSingleAgentEnv`` takes it) with each name replaced by a new agent of ``table``.

    Agent objects, ``None`` and the list shape pass through unchanged; ``resolve_opponents`` checks the rest.

    Raises:
        ConfigError: A name that ``table`` does not hold (the message lists the names it does).
    """
    def build(opponent: Any) -> Any:
        if not isinstance(opponent, str):
            return opponent
        if opponent not in table:
            raise ConfigError("opponents", "an agent object or one of " + ", ".join(map(repr, table)), opponent,
                              table)
        return table[opponent]()

    if isinstance(opponents, str):
        return build(opponents)
    if isinstance(opponents, Sequence):
        return [build(o) for o in opponents]
    return opponents


# ------------------------------------------------------------------ registry experts
ExpertAct = Callable[[Any, Any, dict[str, Any]], str]


def _expert(agent: BoardAgent) -> ExpertAct:
    """``act(env, observation, info)``: ``agent``'s move in a live single-agent board-game env, as its word."""

    def act(env: Any, observation: Any, info: dict[str, Any]) -> str:
        base = env.unwrapped  # the expert reads the board from the env, whatever the learner's mode
        vector = base.session.observation(base.seat, "vector")
        action = agent.act([vector], [info])[0]
        return info["admissible_actions"][list(info["legal_action_ids"]).index(action)]

    return act


def tictactoe_expert(env_id: str, *, seed: int = 0, env_kwargs: dict[str, Any] | None = None) -> ExpertAct:
    """The registry expert of ``turngym/TicTacToe-v0``: the perfect-play solver (ties from an RNG seeded by ``seed``).

    Args:
        env_id: The id (one solver fits every tic-tac-toe id).
        seed: Seed of the tie-breaking RNG.
        env_kwargs: Arguments of the single-agent env (the solver plays any seat against anyone).
    """
    del env_id, env_kwargs
    return _expert(TicTacToeSolver(seed))


def connect_four_expert(env_id: str, *, seed: int = 0, env_kwargs: dict[str, Any] | None = None,
                        depth: int = SEARCH_DEPTH) -> ExpertAct:
    """The registry expert of ``turngym/ConnectFour-v0``: the alpha-beta search at ``depth``.

    Args:
        env_id: The id.
        seed: Seed of the tie-breaking RNG.
        env_kwargs: Arguments of the single-agent env (the search plays any seat against anyone).
        depth: Search depth in plies.
    """
    del env_id, env_kwargs
    return _expert(ConnectFourSearch(depth, seed))
