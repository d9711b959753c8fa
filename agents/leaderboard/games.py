"""One logged leaderboard game, its reduction to pairwise outcomes, and a synthetic tournament.

* ``GameRecord``: the env, the seed, which agent sat in each seat, the seats' returns,
  ``infra_error`` when the outside world failed (DESIGN §3: such a game is not scored, never a loss), and
  ``forfeit``, the seat that forfeited (rule 5 below).
* ``pairwise``: the documented reduction of an N-seat game to pairwise outcomes (below), as
  ``Comparison`` rows, with the infra failures counted apart.
* ``simulate_bt_games``: games drawn from a Bradley–Terry model with known strengths, for the
  recovery tests and the benchmark.

Reduction of an N-seat game (``pairwise``)
------------------------------------------
For every unordered pair of seats held by two *different* agents:

1. the seat with the higher return beats the other; equal returns are a draw;
2. a draw is half a win each way (the chess/Elo score of 1/2), not a third outcome with its own
   parameter as in Rao & Kupper (1967) or Davidson (1970): Bradley–Terry then fits fractional win
   counts, whose likelihood is ``p^w (1-p)^l`` with ``w = l = 1/2`` per draw;
3. each pair has weight ``1 / (N - 1)``, so every seat takes part in comparisons worth one game in
   total: a two-seat game is one comparison of weight 1, a four-seat game six comparisons of weight 1/3.
   The pairs of one game are not independent, which is why ``ratings.bootstrap_ci`` resamples games,
   not pairs;
4. a pair of seats held by the same agent (self-play) is skipped: it says nothing about the agent's
   strength relative to anyone else;
5. a game ended by a forfeit (``GameRecord.forfeit``: a seat made ``max_invalid_streak`` invalid actions in
   a row, ``suite.EnvSpec``) is decided by it, not by the returns: the forfeiting seat loses to every other
   seat and the other seats draw among themselves (the game stopped before it could rank them).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from turngym.envs.core.errors import ConfigError


@dataclass(frozen=True)
class GameRecord:
    """The result of one leaderboard game.

    Args:
        env_id: The env the game was played in (e.g. ``"turngym/KuhnPoker-v0"``).
        seed: The reset seed of the game.
        seats: The agent name in each seat, in seat order (at least two seats).
        returns: Each seat's return, same order as ``seats``. May be empty when ``infra_error`` is set.
        infra_error: Why the outside world failed (sandbox, browser, endpoint), or None for a scored game.
        forfeit: The seat that forfeited the game (module docstring, rule 5), or None.

    Raises:
        ConfigError: On fewer than two seats, an empty agent name, (for a scored game) returns that do not
            match the seats or are not finite, or a forfeit that is not a seat of a scored game.

    Example:
        >>> GameRecord("turngym/KuhnPoker-v0", 3, ("cfr", "random"), (1.0, -1.0)).scored
        True
    """

    env_id: str
    seed: int
    seats: tuple[str, ...]
    returns: tuple[float, ...]
    infra_error: str | None = None
    forfeit: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "seats", tuple(self.seats))
        object.__setattr__(self, "returns", tuple(float(r) for r in self.returns))
        if len(self.seats) < 2:
            raise ConfigError("seats", "at least two seats (a rating needs an opponent; score single-agent envs "
                              "by mean return with turngym.agents.stats.mean_ci)", self.seats)
        if not all(isinstance(a, str) and a for a in self.seats):
            raise ConfigError("seats", "non-empty agent names", self.seats)
        if self.forfeit is not None and (self.infra_error is not None or isinstance(self.forfeit, bool)
                                         or not isinstance(self.forfeit, int)
                                         or not 0 <= self.forfeit < len(self.seats)):
            raise ConfigError("forfeit", f"None or a seat index in [0, {len(self.seats)}) of a scored game",
                              self.forfeit)
        if self.infra_error is not None:
            if self.returns and len(self.returns) != len(self.seats):
                raise ConfigError("returns", f"() or {len(self.seats)} returns (one per seat)", self.returns)
            return
        if len(self.returns) != len(self.seats):
            raise ConfigError("returns", f"{len(self.seats)} returns (one per seat) for a scored game",
                              self.returns, hint="Set infra_error if the game could not be scored.")
        if not all(math.isfinite(r) for r in self.returns):
            raise ConfigError("returns", "finite numbers", self.returns)

    @property
    def scored(self) -> bool:
        """True when the game counts for ratings (no infrastructure failure)."""
        return self.infra_error is None


@dataclass(frozen=True)
class Comparison:
    """One pairwise outcome from a game: ``winner`` scored ``score`` (1 win, 0.5 draw) against ``loser``.

    For a draw the two names are in seat order and ``score == 0.5``; ``weight`` is ``1 / (N - 1)`` for an
    N-seat game (module docstring, rule 3). ``game`` is the index of the record it came from.
    """

    winner: str
    loser: str
    score: float
    weight: float
    game: int


@dataclass(frozen=True)
class Reduction:
    """What ``pairwise`` returns.

    Attributes:
        comparisons: The pairwise outcomes of the scored games.
        scored_games: Number of records without an infrastructure failure.
        infra_errors: Number of records with one (left out of every rating, never a loss).
        self_pairs: Seat pairs skipped because one agent held both seats.
    """

    comparisons: tuple[Comparison, ...]
    scored_games: int
    infra_errors: int
    self_pairs: int


def seat_scores(record: GameRecord) -> tuple[float, ...]:
    """The scores that rank the seats of a scored game (the pairwise reduction and openskill compare them).

    The returns, or after a forfeit (rule 5) -1 for the forfeiting seat and 0 for every other.
    """
    if record.forfeit is None:
        return record.returns
    return tuple(-1.0 if i == record.forfeit else 0.0 for i in range(len(record.seats)))


def seat_outcomes(record: GameRecord) -> list[tuple[int, int, float]]:
    """The pairwise outcomes of one scored game by seat index (module docstring, rules 1, 2, 4 and 5).

    Returns:
        ``(first, second, score)`` per pair of seats held by different agents: ``score`` 1.0 means seat
        ``first`` won, 0.5 a draw (then ``first < second``). Each weighs ``1 / (N - 1)`` (rule 3).
    """
    seats, returns = record.seats, seat_scores(record)  # rule 5: a forfeit decides, not the returns
    out = []
    for i in range(len(seats)):
        for j in range(i + 1, len(seats)):
            if seats[i] == seats[j]:  # rule 4
                continue
            if returns[i] > returns[j]:
                out.append((i, j, 1.0))
            elif returns[j] > returns[i]:
                out.append((j, i, 1.0))
            else:  # rule 2: a draw is half a win each way
                out.append((i, j, 0.5))
    return out


def game_comparisons(record: GameRecord, game: int = 0) -> list[Comparison]:
    """The pairwise outcomes of one scored game (module docstring, rules 1-5).

    Args:
        record: A scored game.
        game: The index stored in each ``Comparison.game``.

    Returns:
        One ``Comparison`` per pair of seats held by different agents, seats in order.

    Raises:
        ConfigError: If the record has an infrastructure failure (it has no outcome).
    """
    if not record.scored:
        raise ConfigError("record", "a scored game (infra_error is None)", record.infra_error)
    weight = 1.0 / (len(record.seats) - 1)  # rule 3: each seat's comparisons sum to one game
    return [Comparison(record.seats[i], record.seats[j], score, weight, game)
            for i, j, score in seat_outcomes(record)]


def pairwise(records: Iterable[GameRecord]) -> Reduction:
    """Reduce games to pairwise outcomes; games with an infrastructure failure are counted apart.

    Args:
        records: Logged games, in any order.

    Returns:
        The comparisons (``Comparison.game`` indexes ``records`` in the order given) and the counts.
    """
    comparisons: list[Comparison] = []
    scored = infra = self_pairs = 0
    for g, record in enumerate(records):
        if not record.scored:  # DESIGN §3: not scored, never a loss
            infra += 1
            continue
        scored += 1
        found = game_comparisons(record, g)
        comparisons.extend(found)
        n = len(record.seats)
        self_pairs += n * (n - 1) // 2 - len(found)
    return Reduction(tuple(comparisons), scored, infra, self_pairs)


def simulate_bt_games(strengths: Sequence[float], n_games: int, rng: np.random.Generator, *,
                      env_id: str = "synthetic/BT-v0", names: Sequence[str] | None = None) -> list[GameRecord]:
    """Two-seat games drawn from a Bradley–Terry model with known log-strengths.

    Each game picks two different agents uniformly at random (seat order random) and seat 0 wins with
    probability ``1 / (1 + exp(theta_1 - theta_0))``; the winner's return is 1, the loser's -1. There are
    no draws, so the model the games come from is exactly the one ``ratings.bradley_terry`` fits.

    Args:
        strengths: True log-strength of each agent.
        n_games: Number of games.
        rng: The random generator (no global RNG).
        env_id: The env id written in every record.
        names: Agent names; ``"a0", "a1", ...`` by default.

    Returns:
        ``n_games`` records; ``seed`` is the game's index.

    Raises:
        ConfigError: On fewer than two agents or names that do not match the strengths.
    """
    theta = np.asarray(strengths, dtype=np.float64)
    if theta.ndim != 1 or theta.size < 2:
        raise ConfigError("strengths", "a 1-D sequence of at least two log-strengths", strengths)
    names = [f"a{i}" for i in range(theta.size)] if names is None else list(names)
    if len(names) != theta.size or len(set(names)) != len(names):
        raise ConfigError("names", f"{theta.size} distinct names", names)
    first = rng.integers(0, theta.size, size=n_games)
    second = (first + rng.integers(1, theta.size, size=n_games)) % theta.size  # uniform over the others
    p_first = 1.0 / (1.0 + np.exp(theta[second] - theta[first]))
    first_wins = rng.random(n_games) < p_first
    return [GameRecord(env_id, g, (names[i], names[j]), (1.0, -1.0) if w else (-1.0, 1.0))
            for g, (i, j, w) in enumerate(zip(first.tolist(), second.tolist(), first_wins.tolist(), strict=True))]
