"""Repeated stage games: a normal-form game played round after round, with a fixed or random horizon.

``RepeatedStageGame`` holds everything that does not depend on how the stage payoffs are given: the
horizon (a fixed number of ``rounds``, or a continuation probability with ``rounds`` as a hard cap), the
history of joint moves, text and vector views of that history, snapshots, and the end-of-episode social
metrics. ``RepeatedMatrixGame`` gives the stage game as a payoff table, so rock-paper-scissors, the
prisoner's dilemma, stag hunt or matching pennies differ only in the numbers passed to it; the N-player
public goods game (``turngym.envs.dilemmas.public_goods``) gives it as a formula.

Conventions:
    * ``payoffs[a_0][a_1]...[a_{n-1}]`` is the tuple of the n players' rewards for that joint action.
    * Every view is egocentric: histories list the viewing player's move first, then the other seats
      in cyclic order (``p+1, p+2, …``), so the same situation looks the same from every seat.
    * When the stage game is symmetric under that relabelling (rock-paper-scissors, the prisoner's
      dilemma), the information-state encoding leaves out the seat: both seats with the same
      egocentric history face the same decision, so they share a ``state_key`` (larger GiGPO step
      groups). Asymmetric games keep the seat in the key.
    * Random horizon (``continuation=δ``): after every round below the cap the game goes on with
      probability δ, drawn from the env RNG (the discounted-repeated-game reading of the "shadow of the
      future", Axelrod 1984, ch. 1). Without the cap the length is geometric with mean 1/(1-δ).
"""

from __future__ import annotations

import itertools
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from turngym.envs.core.errors import ConfigError
from turngym.envs.core.session import read_bool, read_dict, read_int_list, read_list
from turngym.envs.core.simultaneous import SimultaneousGame
from turngym.envs.dilemmas.metrics import cooperation_rate, social_outcomes

#: Text observations list at most this many past rounds (the most recent); totals stay in the score line.
TEXT_HISTORY = 30


@dataclass
class MatrixState:
    """Mutable state of one repeated stage game.

    Attributes:
        history: The joint action of every round played so far (seat order).
        scores: Every seat's total payoff so far.
        stopped: True when the continuation draw ended the game (random horizon only).
    """

    history: list[tuple[int, ...]] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    stopped: bool = False


def check_rounds(rounds: Any) -> int:
    """Validates the ``rounds`` argument (a positive int)."""
    if not isinstance(rounds, int) or isinstance(rounds, bool) or rounds < 1:
        raise ConfigError("rounds", "a positive int", rounds)
    return rounds


def check_continuation(continuation: Any) -> float | None:
    """Validates the ``continuation`` argument (None, or a probability in [0, 1])."""
    if continuation is None:
        return None
    ok = isinstance(continuation, (int, float, np.floating)) and not isinstance(continuation, bool)
    if not ok or not 0.0 <= float(continuation) <= 1.0:
        raise ConfigError("continuation", "None or a probability in [0, 1]", continuation)
    return float(continuation)


def check_window(window: Any) -> int | None:
    """Validates the ``window`` argument (None, or a positive int)."""
    if window is None:
        return None
    if not isinstance(window, int) or isinstance(window, bool) or window < 1:
        raise ConfigError("window", "None or a positive int", window)
    return window


def check_payoff(name: str, value: Any) -> float:
    """Validates one payoff argument (a finite real number)."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not np.isfinite(float(value)):
        raise ConfigError(name, "a finite number", value)
    return float(value)


def _fmt(x: float) -> str:
    """``+1``, ``0``, ``-0.5``: payoffs with an explicit sign (zero without one)."""
    return "0" if x == 0 else f"{x:+g}"


class RepeatedStageGame(SimultaneousGame[MatrixState]):
    """A stage game repeated for ``rounds`` rounds, or with a continuation probability (abstract payoffs).

    Subclasses define ``stage_rewards`` (and may override ``_is_symmetric``). Each round every player
    picks an action at the same time and receives its stage payoff. The episode ends (terminates) after
    ``rounds`` rounds, or earlier when a continuation draw fails; the return is the sum of the payoffs.

    Vector observation (``encode``): with ``window=None`` (the layout of rock-paper-scissors v0), one
    slot per round of the horizon holding every seat's move one-hot, egocentric, then rounds played /
    ``rounds``; with ``window=k``, the last ``k`` rounds, most recent first, each slot
    ``[played flag, n one-hot moves (egocentric), n payoffs / payoff_scale (egocentric)]``, then rounds
    played / ``rounds`` (entries in [-1, 1]).

    Args:
        title: Name of the game, shown in text observations.
        action_names: The action words, one per action id.
        num_players: Number of seats (at least 2).
        rounds: Number of rounds (fixed horizon), or the hard cap when ``continuation`` is set.
        aliases: Extra accepted words mapped to action ids.
        rules: One paragraph stating the stage game in words.
        instruction: The task in one sentence.
        continuation: None (fixed horizon) or the probability δ that the game goes on after a round.
        window: None (full-history vector layout) or the number of recent rounds in the vector.
        cooperative: The action ids that count as cooperative moves (``info["social"]``).
    """

    obs_low = 0.0
    obs_high = 1.0

    def __init__(
        self,
        title: str,
        action_names: Sequence[str],
        num_players: int,
        rounds: int,
        aliases: Mapping[str, int] | None = None,
        rules: str = "",
        instruction: str = "",
        continuation: float | None = None,
        window: int | None = None,
        cooperative: Sequence[int] = (),
    ):
        self.title = title
        self.action_names = tuple(action_names)
        self.aliases = dict(aliases or {})
        self.num_players = num_players
        self.rounds = check_rounds(rounds)
        self.continuation = check_continuation(continuation)
        self.window = check_window(window)
        self.cooperative = tuple(sorted(set(int(a) for a in cooperative)))
        self.rules = rules
        horizon = (f"{self.rounds} rounds" if self.continuation is None else
                   f"rounds until the game stops (it goes on with probability {self.continuation:g} after each "
                   f"round, at most {self.rounds} rounds)")
        self.instruction = instruction or f"Play {horizon} of {title} and collect as large a total payoff as you can."
        n, a = num_players, self.num_actions
        if self.window is None:
            self.obs_size = self.rounds * n * a + 1
        else:
            self.obs_low, self.obs_high = -1.0, 1.0
            self.obs_size = self.window * (1 + n * a + n) + 1
        self.payoff_scale = 1.0
        self.symmetric = self._is_symmetric()

    # ------------------------------------------------------------ structure
    @abstractmethod
    def stage_rewards(self, joint: tuple[int, ...]) -> list[float]:
        """Every seat's payoff for one joint action (a fresh list)."""

    def _order(self, player: int) -> list[int]:
        """Seats in the egocentric order of ``player``: itself first, then the next seats cyclically."""
        n = self.num_players
        return [(player + k) % n for k in range(n)]

    def _others(self, player: int) -> list[tuple[int, str]]:
        """The other seats in egocentric order, with how text observations name them."""
        if self.num_players == 2:
            return [(1 - player, "opponent")]
        return [(q, f"player {q}") for q in self._order(player)[1:]]

    # ---------------------------------------------------------------- rules
    def new_state(self) -> MatrixState:
        """Before the first round: empty history, zero scores."""
        return MatrixState([], [0.0] * self.num_players)

    def legal_actions(self, s: MatrixState, player: int) -> list[int]:
        """Every action, in every round until the game ends."""
        return [] if self.is_terminal(s) else list(range(self.num_actions))

    def apply_joint(self, s: MatrixState, actions: list[int], rng: np.random.Generator) -> None:
        """Plays one round; with a random horizon, then draws whether the game goes on."""
        self._play(s, tuple(actions))
        if self.continuation is not None and len(s.history) < self.rounds:
            # One uniform per completed round: the game continues iff u < δ (so P(continue) = δ).
            s.stopped = bool(rng.random() >= self.continuation)

    def _play(self, s: MatrixState, joint: tuple[int, ...]) -> None:
        s.history.append(joint)
        for p, r in enumerate(self.stage_rewards(joint)):
            s.scores[p] += r

    def is_terminal(self, s: MatrixState) -> bool:
        """True after ``rounds`` rounds, or once a continuation draw stopped the game."""
        return s.stopped or len(s.history) >= self.rounds

    def step_rewards(self, s: MatrixState) -> list[float]:
        """The payoffs of the last round played."""
        return self.stage_rewards(s.history[-1]) if s.history else [0.0] * self.num_players

    def returns(self, s: MatrixState) -> list[float]:
        """Total payoffs so far."""
        return list(s.scores)

    # ---------------------------------------------------------------- metrics
    def reward_matrix(self, s: MatrixState) -> np.ndarray:
        """The ``(rounds played, n)`` array of every seat's payoff per round."""
        n = self.num_players
        rows = [self.stage_rewards(j) for j in s.history]
        return np.asarray(rows, dtype=np.float64).reshape(len(rows), n)

    def social(self, s: MatrixState) -> dict[str, float]:
        """Perolat et al. (2017) metrics of the episode so far, plus the cooperation rate.

        Returns:
            ``metrics.social_outcomes`` of the per-round payoffs (peace = n: nobody is ever removed),
            ``cooperation_rate`` (fraction of moves in ``cooperative``) and ``rounds`` (rounds played).
        """
        out = social_outcomes(self.reward_matrix(s))
        moves = np.asarray(s.history, dtype=np.int64).reshape(len(s.history), self.num_players)
        out["cooperation_rate"] = cooperation_rate(np.isin(moves, self.cooperative))
        out["rounds"] = float(len(s.history))
        return out

    # ---------------------------------------------------------------- views
    def info_encoding(self, s: MatrixState, player: int) -> str:
        """Horizon, seat (asymmetric games only) and the egocentric history of moves."""
        order = self._order(player)
        moves = "/".join("".join(str(joint[q]) for q in order) for joint in s.history)
        seat = "*" if self.symmetric else str(player)
        horizon = f"R{self.rounds}" if self.continuation is None else f"R{self.rounds}|d{self.continuation!r}"
        return f"{horizon}|p{seat}|h{moves}"

    def _header(self, player: int) -> str:
        if self.continuation is None:
            return f"{self.title}, {self.rounds} round{'s' if self.rounds != 1 else ''}. You are player {player}."
        return (f"{self.title}: after each round the game goes on with probability {self.continuation:g} "
                f"(at most {self.rounds} rounds). You are player {player}.")

    def render(self, s: MatrixState, player: int) -> str:
        """Rules, the recent rounds (egocentric), the score, and the round to play or the result."""
        names = self.action_names
        others = self._others(player)
        played = len(s.history)
        lines = [self._header(player), self.rules]
        if s.history:
            lines.append("History:")
            first = max(0, played - TEXT_HISTORY)
            if first:
                lines.append(f"  (rounds 1-{first} not shown)")
            for i in range(first, played):
                joint = s.history[i]
                rewards = self.stage_rewards(joint)
                moves = ", ".join([f"you {names[joint[player]]}"] + [f"{who} {names[joint[q]]}" for q, who in others])
                lines.append(f"  round {i + 1}: {moves} -> you {_fmt(rewards[player])}")
        else:
            lines.append("History: no rounds played yet.")
        score = ", ".join([f"you {_fmt(s.scores[player])}"] + [f"{who} {_fmt(s.scores[q])}" for q, who in others])
        lines.append(f"Score: {score}.")
        if self.is_terminal(s):
            best_other = max(s.scores[q] for q, _ in others)
            mine = s.scores[player]
            result = "won" if mine > best_other else ("lost" if mine < best_other else "tied")
            lines.append(f"Game over after {played} rounds: you {result}; your total payoff {_fmt(mine)}.")
        elif self.continuation is None:
            lines.append(f"Round {played + 1} of {self.rounds}: choose your move.")
        else:
            lines.append(f"Round {played + 1} (at most {self.rounds}): choose your move.")
        return "\n".join(lines)

    def encode(self, s: MatrixState, player: int, out: np.ndarray) -> None:
        """Writes the vector observation (layouts in the class docstring)."""
        a, n = self.num_actions, self.num_players
        order = self._order(player)
        if self.window is None:
            for i, joint in enumerate(s.history):
                base = i * n * a
                for k, q in enumerate(order):
                    out[base + k * a + joint[q]] = 1.0
        else:
            width = 1 + n * a + n
            recent = s.history[-self.window:][::-1]
            for j, joint in enumerate(recent):
                base = j * width
                out[base] = 1.0
                rewards = self.stage_rewards(joint)
                for k, q in enumerate(order):
                    out[base + 1 + k * a + joint[q]] = 1.0
                    out[base + 1 + n * a + k] = rewards[q] / self.payoff_scale
        out[-1] = len(s.history) / self.rounds

    # ------------------------------------------------------------ snapshots
    def to_json(self, s: MatrixState) -> Any:
        """The history (the scores follow from it), and the stop flag under a random horizon."""
        data: dict[str, Any] = {"history": [list(j) for j in s.history]}
        if self.continuation is not None:
            data["stopped"] = s.stopped
        return data

    def from_json(self, data: Any) -> MatrixState:
        """Rebuilds a state from ``to_json`` output by replaying every move (the scores follow from them).

        A stop flag is reachable only under a random horizon, after a round played below the cap.
        """
        fields = read_dict(data, "matrix game state", ("history",))
        rows = read_list(fields["history"], "history", max_length=self.rounds)
        history = [tuple(read_int_list(joint, 0, self.num_actions - 1, "joint action", length=self.num_players))
                   for joint in rows]
        stopped = read_bool(fields.get("stopped", False), "stopped")
        if stopped and (self.continuation is None or not history or len(history) >= self.rounds):
            raise ValueError(f"stop flag after {len(history)} of {self.rounds} rounds"
                             + (" in a fixed-horizon game" if self.continuation is None else ""))
        s = self.new_state()
        for joint in history:
            self._play(s, joint)
        s.stopped = stopped
        return s

    def copy_state(self, s: MatrixState) -> MatrixState:
        """Independent copy (history tuples are immutable)."""
        return MatrixState(list(s.history), list(s.scores), s.stopped)

    def _is_symmetric(self) -> bool:
        """True when every seat's payoff equals seat 0's payoff in the egocentrically relabelled game."""
        n = self.num_players
        for joint in itertools.product(range(self.num_actions), repeat=n):
            rewards = self.stage_rewards(joint)
            for p in range(1, n):
                rotated = tuple(joint[q] for q in self._order(p))
                if rewards[p] != self.stage_rewards(rotated)[0]:
                    return False
        return True


class RepeatedMatrixGame(RepeatedStageGame):
    """A stage game given by its payoff table, repeated for ``rounds`` rounds (or with a random horizon).

    Args:
        title: Name of the game, shown in text observations.
        action_names: The action words, one per action id.
        payoffs: Nested sequence of shape ``(A,) * n + (n,)``: the players' rewards per joint action.
        rounds: Number of rounds (fixed horizon), or the hard cap when ``continuation`` is set.
        aliases: Extra accepted words mapped to action ids.
        rules: One paragraph stating the stage game in words; by default the payoff table is spelled out.
        instruction: The task in one sentence.
        continuation: None (fixed horizon) or the probability that the game goes on after each round.
        window: None (full-history vector layout) or the number of recent rounds in the vector.
        cooperative: The action ids that count as cooperative moves.
    """

    def __init__(
        self,
        title: str,
        action_names: Sequence[str],
        payoffs: Any,
        rounds: int,
        aliases: Mapping[str, int] | None = None,
        rules: str = "",
        instruction: str = "",
        continuation: float | None = None,
        window: int | None = None,
        cooperative: Sequence[int] = (),
    ):
        table = np.asarray(payoffs, dtype=np.float64)
        num_actions = len(action_names)
        n = table.ndim - 1
        if n < 2 or table.shape != (num_actions,) * n + (n,):
            raise ConfigError("payoffs", f"an array of shape (A,)*n + (n,) with A={num_actions}, n>=2",
                              f"shape {table.shape}")
        if not np.isfinite(table).all():
            raise ConfigError("payoffs", "finite numbers", "a table with inf or nan")
        self.payoffs = table
        # Joint action -> per-seat rewards as Python floats, looked up once per round.
        self._rewards = {joint: tuple(float(x) for x in table[joint])
                         for joint in itertools.product(range(num_actions), repeat=n)}
        super().__init__(title, action_names, n, rounds, aliases, rules, instruction, continuation, window,
                         cooperative)
        self.rules = rules or self._table_text()
        self.payoff_scale = float(np.abs(table).max()) or 1.0

    def stage_rewards(self, joint: tuple[int, ...]) -> list[float]:
        """Looked up in the payoff table."""
        return list(self._rewards[joint])

    def _table_text(self) -> str:
        """The payoff table in words, from seat 0's point of view (the default ``rules``)."""
        names = self.action_names
        lines = ["Payoffs per round (player 0, player 1, ...):"]
        for joint in itertools.product(range(self.num_actions), repeat=self.num_players):
            moves = ", ".join(names[a] for a in joint)
            lines.append(f"  {moves}: " + ", ".join(_fmt(x) for x in self.payoffs[joint]))
        return "\n".join(lines)
