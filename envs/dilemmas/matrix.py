"""Repeated matrix games: a normal-form stage game, given as a payoff table, played a fixed number of rounds.

The stage game is data (action words and a payoff tensor), so rock-paper-scissors, the prisoner's
dilemma, stag hunt or matching pennies differ only in the numbers passed to ``RepeatedMatrixGame``.

Conventions:
    * ``payoffs[a_0][a_1]...[a_{n-1}]`` is the tuple of the n players' rewards for that joint action.
    * Every view is egocentric: histories list the viewing player's move first, then the other seats
      in cyclic order (``p+1, p+2, …``), so the same situation looks the same from every seat.
    * When the stage game is symmetric under that relabelling (rock-paper-scissors, the prisoner's
      dilemma), the information-state encoding leaves out the seat: both seats with the same
      egocentric history face the same decision, so they share a ``state_key`` (larger GiGPO step
      groups). Asymmetric games keep the seat in the key.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from turngym.envs.core.errors import ConfigError
from turngym.envs.core.simultaneous import SimultaneousGame


@dataclass
class MatrixState:
    """Mutable state of one repeated matrix game.

    Attributes:
        history: The joint action of every round played so far (seat order).
        scores: Every seat's total payoff so far.
    """

    history: list[tuple[int, ...]] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)


def check_rounds(rounds: Any) -> int:
    """Validates the ``rounds`` argument (a positive int)."""
    if not isinstance(rounds, int) or isinstance(rounds, bool) or rounds < 1:
        raise ConfigError("rounds", "a positive int", rounds)
    return rounds


def _fmt(x: float) -> str:
    """``+1``, ``0``, ``-0.5``: payoffs with an explicit sign (zero without one)."""
    return "0" if x == 0 else f"{x:+g}"


class RepeatedMatrixGame(SimultaneousGame[MatrixState]):
    """A stage game given by its payoff table, repeated for exactly ``rounds`` rounds.

    Each round every player picks an action at the same time and receives its payoff from the table.
    The episode ends (terminates) after ``rounds`` rounds; the return is the sum of the round payoffs.

    Args:
        title: Name of the game, shown in text observations.
        action_names: The action words, one per action id.
        payoffs: Nested sequence of shape ``(A,) * n + (n,)``: the players' rewards per joint action.
        rounds: Number of rounds (fixed horizon).
        aliases: Extra accepted words mapped to action ids.
        rules: One paragraph stating the stage game in words; by default the payoff table is spelled out.
        instruction: The task in one sentence.
    """

    obs_low = 0.0
    obs_high = 1.0

    def __init__(
        self,
        title: str,
        action_names: Sequence[str],
        payoffs: Any,
        rounds: int,
        aliases: Mapping[str, int] | None = None,
        rules: str = "",
        instruction: str = "",
    ):
        table = np.asarray(payoffs, dtype=np.float64)
        num_actions = len(action_names)
        n = table.ndim - 1
        if n < 2 or table.shape != (num_actions,) * n + (n,):
            raise ConfigError("payoffs", f"an array of shape (A,)*n + (n,) with A={num_actions}, n>=2",
                              f"shape {table.shape}")
        self.title = title
        self.action_names = tuple(action_names)
        self.aliases = dict(aliases or {})
        self.num_players = n
        self.rounds = check_rounds(rounds)
        self.payoffs = table
        self.rules = rules or self._table_text()
        self.instruction = instruction or (
            f"Play {self.rounds} rounds of {title} and collect as large a total payoff as you can.")
        self.obs_size = self.rounds * n * num_actions + 1
        self.symmetric = self._is_symmetric()
        # Joint action -> per-seat rewards as Python floats, looked up once per round.
        self._rewards = {joint: [float(x) for x in table[joint]]
                         for joint in itertools.product(range(num_actions), repeat=n)}

    # ------------------------------------------------------------ structure
    def _order(self, player: int) -> list[int]:
        """Seats in the egocentric order of ``player``: itself first, then the next seats cyclically."""
        n = self.num_players
        return [(player + k) % n for k in range(n)]

    def _is_symmetric(self) -> bool:
        """True when every seat's payoff equals seat 0's payoff in the egocentrically relabelled game."""
        n, table = self.num_players, self.payoffs
        for joint in itertools.product(range(self.num_actions), repeat=n):
            for p in range(1, n):
                rotated = tuple(joint[q] for q in self._order(p))
                if table[joint][p] != table[rotated][0]:
                    return False
        return True

    def _others(self, player: int) -> list[tuple[int, str]]:
        """The other seats in egocentric order, with how text observations name them."""
        if self.num_players == 2:
            return [(1 - player, "opponent")]
        return [(q, f"player {q}") for q in self._order(player)[1:]]

    def _table_text(self) -> str:
        """The payoff table in words, from seat 0's point of view (the default ``rules``)."""
        names = self.action_names
        lines = ["Payoffs per round (player 0, player 1, ...):"]
        for joint in itertools.product(range(self.num_actions), repeat=self.num_players):
            moves = ", ".join(names[a] for a in joint)
            lines.append(f"  {moves}: " + ", ".join(_fmt(x) for x in self.payoffs[joint]))
        return "\n".join(lines)

    # ---------------------------------------------------------------- rules
    def new_state(self) -> MatrixState:
        """Before the first round: empty history, zero scores."""
        return MatrixState([], [0.0] * self.num_players)

    def legal_actions(self, s: MatrixState, player: int) -> list[int]:
        """Every action, in every round."""
        return [] if len(s.history) >= self.rounds else list(range(self.num_actions))

    def apply_joint(self, s: MatrixState, actions: list[int], rng: np.random.Generator) -> None:
        """Plays one round (the stage game has no chance, so ``rng`` is not used)."""
        self._play(s, tuple(actions))

    def _play(self, s: MatrixState, joint: tuple[int, ...]) -> None:
        s.history.append(joint)
        for p, r in enumerate(self._rewards[joint]):
            s.scores[p] += r

    def is_terminal(self, s: MatrixState) -> bool:
        """True after ``rounds`` rounds."""
        return len(s.history) >= self.rounds

    def step_rewards(self, s: MatrixState) -> list[float]:
        """The payoffs of the last round played."""
        return list(self._rewards[s.history[-1]]) if s.history else [0.0] * self.num_players

    def returns(self, s: MatrixState) -> list[float]:
        """Total payoffs so far."""
        return list(s.scores)

    # ---------------------------------------------------------------- views
    def info_encoding(self, s: MatrixState, player: int) -> str:
        """Horizon, seat (asymmetric games only) and the egocentric history of moves."""
        order = self._order(player)
        moves = "/".join("".join(str(joint[q]) for q in order) for joint in s.history)
        seat = "*" if self.symmetric else str(player)
        return f"R{self.rounds}|p{seat}|h{moves}"

    def render(self, s: MatrixState, player: int) -> str:
        """Rules, every past round (egocentric), the score, and the round to play or the result."""
        names = self.action_names
        others = self._others(player)
        played = len(s.history)
        lines = [f"{self.title}, {self.rounds} round{'s' if self.rounds != 1 else ''}. You are player {player}.",
                 self.rules]
        if s.history:
            lines.append("History:")
            for i, joint in enumerate(s.history):
                rewards = self._rewards[joint]
                moves = ", ".join([f"you {names[joint[player]]}"] + [f"{who} {names[joint[q]]}" for q, who in others])
                lines.append(f"  round {i + 1}: {moves} -> you {_fmt(rewards[player])}")
        else:
            lines.append("History: no rounds played yet.")
        score = ", ".join([f"you {_fmt(s.scores[player])}"] + [f"{who} {_fmt(s.scores[q])}" for q, who in others])
        lines.append(f"Score: {score}.")
        if played >= self.rounds:
            best_other = max(s.scores[q] for q, _ in others)
            mine = s.scores[player]
            result = "won" if mine > best_other else ("lost" if mine < best_other else "tied")
            lines.append(f"Game over after {played} rounds: you {result}; your total payoff {_fmt(mine)}.")
        else:
            lines.append(f"Round {played + 1} of {self.rounds}: choose your move.")
        return "\n".join(lines)

    def encode(self, s: MatrixState, player: int, out: np.ndarray) -> None:
        """Slot ``i`` holds round ``i``: one one-hot move per seat, egocentric; last entry: rounds played / rounds."""
        a, n = self.num_actions, self.num_players
        order = self._order(player)
        for i, joint in enumerate(s.history):
            base = i * n * a
            for k, q in enumerate(order):
                out[base + k * a + joint[q]] = 1.0
        out[-1] = len(s.history) / self.rounds

    # ------------------------------------------------------------ snapshots
    def to_json(self, s: MatrixState) -> Any:
        """The history (the scores follow from it)."""
        return {"history": [list(j) for j in s.history]}

    def from_json(self, data: Any) -> MatrixState:
        """Rebuilds a state from ``to_json`` output, checking every move."""
        history = [tuple(int(a) for a in joint) for joint in data["history"]]
        if len(history) > self.rounds:
            raise ValueError(f"{len(history)} rounds in a {self.rounds}-round game")
        s = self.new_state()
        for joint in history:
            if len(joint) != self.num_players or not all(0 <= a < self.num_actions for a in joint):
                raise ValueError(f"malformed joint action {joint}")
            self._play(s, joint)
        return s

    def copy_state(self, s: MatrixState) -> MatrixState:
        """Independent copy (history tuples are immutable)."""
        return MatrixState(list(s.history), list(s.scores))
