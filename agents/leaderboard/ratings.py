"""Leaderboard ratings: Bradley–Terry maximum likelihood (canonical) and openskill (online).

Bradley–Terry (Bradley & Terry 1952; Zermelo 1929) gives agent ``i`` a log-strength ``r_i`` and
``P(i beats j) = 1 / (1 + exp(r_j - r_i))``. Ratings here are in natural-log units, centred so that their
mean over the rated agents is 0; multiply by ``ELO_PER_NAT`` for Elo points.

* ``win_matrix``: the games' weighted pairwise win counts ``W[i, j]`` (reduction in ``games.py``; a
  draw is half a win each way; infrastructure failures are left out and counted apart).
* ``bradley_terry``: the maximum-likelihood fit of ``W``, by choix's iterative Luce spectral ranking
  (``choix.ilsr_pairwise_dense``; Maystre & Grossglauser 2015, "Fast and accurate inference of
  Plackett–Luce models", NeurIPS), whose fixed point is the ML estimate. The fit depends on the games only
  through ``W``, a sum over games, so it does not depend on their order.
* ``bootstrap_ci``: percentile intervals from refits on games resampled with replacement (Efron &
  Tibshirani 1993, ch. 13). Games, not pairs, are resampled: the pairs of one multi-seat game share it.
* ``openskill_ratings``: Weng & Lin (2011) Bayesian ratings (openskill's ``PlackettLuce``), updated game by
  game in the order given: order-dependent by design, for matchmaking while a tournament runs, never the
  ranking of record.

Regularisation ``alpha``: ``alpha`` virtual drawn games between every pair of agents, that is ``alpha / 2``
added to every off-diagonal ``W[i, j]``. The fit is then the posterior mode under the prior
``prod_{i<j} (p_ij (1 - p_ij))^(alpha/2)``, which pulls every pair toward even odds by the weight of ``alpha``
games. Without it, maximum likelihood does not exist when the comparison graph is not strongly connected (an
agent that won, or lost, every comparison has an infinite rating; a bootstrap resample hits this easily);
with ``alpha > 0`` it always exists and is finite. Between two agents alone, ``w`` wins and ``l`` losses fit
log-odds ``log((w + alpha/2) / (l + alpha/2))``: the default 0.01 moves a 60-40 record by 4e-5, and caps a
100-0 record at ``log(100 / 0.005) ~ 9.9``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import choix
import numpy as np
from scipy import optimize
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.special import expit, log_expit

from turngym.agents.leaderboard.games import GameRecord, seat_outcomes, seat_scores
from turngym.envs.core.errors import ConfigError

#: Virtual drawn games between every pair of agents (module docstring, "Regularisation").
DEFAULT_ALPHA = 0.01
#: Elo points per natural-log unit of strength: Elo's logistic uses base 10 and scale 400.
ELO_PER_NAT = 400.0 / math.log(10.0)
#: ILSR iterations before giving up; well-posed fits take tens.
MAX_ITER = 10_000


@dataclass(frozen=True)
class PairCounts:
    """The entries of ``W`` contributed by each scored game, kept apart so the bootstrap can reweight games.

    Attributes:
        agents: The agents, in matrix order.
        game: For each entry, the index of its game among the scored games (0 .. ``scored_games - 1``).
        winner: Row index of the entry (the agent credited).
        loser: Column index of the entry.
        value: The credit: the pair weight for a win, half of it for each direction of a draw.
        scored_games: Number of scored games.
        infra_errors: Number of games left out for an infrastructure failure.
    """

    agents: tuple[str, ...]
    game: np.ndarray
    winner: np.ndarray
    loser: np.ndarray
    value: np.ndarray
    scored_games: int
    infra_errors: int

    def matrix(self, game_weights: np.ndarray | None = None) -> np.ndarray:
        """``W[i, j]``: the credit of ``i`` over ``j``, each game counted ``game_weights[g]`` times (default 1)."""
        n = len(self.agents)
        value = self.value if game_weights is None else self.value * game_weights[self.game]
        flat = np.bincount(self.winner * n + self.loser, weights=value, minlength=n * n)
        return flat.reshape(n, n)


class SkillRating(NamedTuple):
    """An openskill rating: mean ``mu``, uncertainty ``sigma``, and ``ordinal = mu - 3 sigma``."""

    mu: float
    sigma: float
    ordinal: float


def _validate_agents(agents: Sequence[str]) -> tuple[str, ...]:
    agents = tuple(agents)
    if len(set(agents)) != len(agents):
        raise ConfigError("agents", "distinct agent names", agents)
    return agents


def pair_counts(records: Iterable[GameRecord], agents: Sequence[str] | None = None) -> PairCounts:
    """Reduce games to per-game pairwise credits (``games.pairwise`` rules; infra failures counted apart).

    Args:
        records: Logged games.
        agents: The agents, in matrix order. Default: every agent with a scored comparison, sorted.

    Returns:
        The per-game entries of the win matrix.

    Raises:
        ConfigError: If a scored game seats an agent not in ``agents``.
    """
    game: list[int] = []
    win: list[str] = []
    lose: list[str] = []
    value: list[float] = []
    scored = infra = 0
    for record in records:
        if not record.scored:  # DESIGN §3: not scored, never a loss
            infra += 1
            continue
        weight = 1.0 / (len(record.seats) - 1)  # games.py, rule 3
        for i, j, score in seat_outcomes(record):
            a, b = record.seats[i], record.seats[j]
            if score == 1.0:
                game.append(scored)
                win.append(a)
                lose.append(b)
                value.append(weight)
            else:  # a draw: half a win each way (games.py, rule 2)
                game += [scored, scored]
                win += [a, b]
                lose += [b, a]
                value += [0.5 * weight, 0.5 * weight]
        scored += 1
    seated = set(win) | set(lose)
    agents = _validate_agents(sorted(seated) if agents is None else agents)
    index = {a: i for i, a in enumerate(agents)}
    unknown = sorted(seated - set(index))
    if unknown:
        raise ConfigError("agents", "every agent seated in a scored game", agents,
                          hint=f"Missing: {unknown}. Ratings are relative to the whole pool; leave no games out.")
    return PairCounts(agents, np.asarray(game, dtype=np.int64), np.asarray([index[a] for a in win], dtype=np.int64),
                      np.asarray([index[b] for b in lose], dtype=np.int64), np.asarray(value, dtype=np.float64),
                      scored, infra)


def win_matrix(records: Iterable[GameRecord],
               agents: Sequence[str] | None = None) -> tuple[tuple[str, ...], np.ndarray]:
    """The weighted pairwise win counts of the scored games.

    Args:
        records: Logged games.
        agents: Matrix order; default every agent with a scored comparison, sorted.

    Returns:
        ``(agents, W)`` with ``W[i, j]`` the credit of ``agents[i]`` over ``agents[j]``.
    """
    counts = pair_counts(records, agents)
    return counts.agents, counts.matrix()


def _check_fittable(agents: Sequence[str], wins: np.ndarray, alpha: float) -> None:
    if not (alpha >= 0.0 and math.isfinite(alpha)):
        raise ConfigError("alpha", "a finite number of virtual draws per pair >= 0", alpha)
    if len(agents) < 2:
        raise ConfigError("agents", "at least two agents with games against each other", tuple(agents))
    played = wins.sum(axis=0) + wins.sum(axis=1)
    idle = [a for a, p in zip(agents, played, strict=True) if p == 0]
    if idle:
        raise ConfigError("agents", "agents with at least one scored game against another agent", tuple(agents),
                          hint=f"No scored games: {idle}. leaderboard_table lists such agents unrated.")
    if alpha == 0.0:  # ML exists iff the win graph is strongly connected (Zermelo 1929; Ford 1957)
        n_comp, _ = connected_components(csr_matrix(wins > 0), directed=True, connection="strong")
        if n_comp > 1:
            raise ConfigError("alpha", "alpha > 0 when some agents won (or lost) every comparison among "
                              "themselves: the maximum-likelihood ratings are infinite", alpha)


def fit_matrix(wins: np.ndarray, alpha: float = DEFAULT_ALPHA, initial: np.ndarray | None = None) -> np.ndarray:
    """Bradley–Terry ratings of a win matrix by choix's ILSR (module docstring).

    Args:
        wins: ``W[i, j]``, the credit of ``i`` over ``j`` (non-negative, zero diagonal).
        alpha: Virtual drawn games per pair.
        initial: Starting log-strengths (a warm start, e.g. for bootstrap refits).

    Returns:
        Log-strengths, mean 0.

    Raises:
        ConfigError: If ILSR does not converge within ``MAX_ITER`` iterations.
    """
    prior = np.full_like(wins, alpha / 2.0)
    np.fill_diagonal(prior, 0.0)
    try:
        theta = choix.ilsr_pairwise_dense(wins + prior, alpha=0.0, initial_params=initial, max_iter=MAX_ITER)
    except RuntimeError as exc:  # choix: "Did not converge after N iterations"
        raise ConfigError("wins", "a win matrix ILSR fits in MAX_ITER iterations", f"{wins.shape} matrix",
                          hint=f"choix said: {exc}. Raise alpha.") from exc
    return theta - theta.mean()


def fit_matrix_scipy(wins: np.ndarray, alpha: float = DEFAULT_ALPHA) -> np.ndarray:
    """The same posterior mode as ``fit_matrix``, by direct L-BFGS on the log-likelihood (a reference).

    Minimises ``-sum_ij A_ij log sigmoid(r_i - r_j)`` with ``A = W + alpha / 2`` off the diagonal, the gradient
    in closed form. Used as the peer in ``benchmarks/leaderboard_fit.py`` and to cross-check ``fit_matrix``.

    Returns:
        Log-strengths, mean 0.
    """
    a = wins + alpha / 2.0
    np.fill_diagonal(a, 0.0)

    def nll(r: np.ndarray) -> tuple[float, np.ndarray]:
        d = r[:, None] - r[None, :]
        value = -float(np.sum(a * log_expit(d)))
        g = a * expit(-d)  # d/d r_i of A_ij log sigmoid(r_i - r_j) is A_ij (1 - sigmoid)
        return value, -(g.sum(axis=1) - g.sum(axis=0))

    res = optimize.minimize(nll, np.zeros(len(wins)), jac=True, method="L-BFGS-B",
                            options={"gtol": 1e-10, "ftol": 1e-15, "maxiter": 10_000})
    return res.x - res.x.mean()


def bradley_terry(records: Iterable[GameRecord], agents: Sequence[str] | None = None, *,
                  alpha: float = DEFAULT_ALPHA) -> dict[str, float]:
    """Bradley–Terry log-strengths of the agents (maximum likelihood with ``alpha`` virtual draws per pair).

    Order-invariant: the games enter only through their summed win matrix.

    Args:
        records: Logged games (infrastructure failures are left out).
        agents: The agents to rate; default every agent with a scored comparison.
        alpha: Virtual drawn games per pair of agents (module docstring); 0 for plain maximum likelihood.

    Returns:
        ``{agent: rating}`` in natural-log units, mean 0.

    Raises:
        ConfigError: With fewer than two agents, an agent without scored games against another, a game
            seating an agent outside ``agents``, or ``alpha == 0`` when maximum likelihood is infinite.
    """
    names, wins = win_matrix(records, agents)
    _check_fittable(names, wins, alpha)
    return dict(zip(names, fit_matrix(wins, alpha).tolist(), strict=True))


def bootstrap_draws(counts: PairCounts, n_boot: int, rng: np.random.Generator, *,
                    alpha: float = DEFAULT_ALPHA) -> np.ndarray:
    """Bradley–Terry refits on games resampled with replacement.

    Args:
        counts: Per-game credits (``pair_counts``).
        n_boot: Number of resamples.
        rng: The random generator (no global RNG).
        alpha: Virtual drawn games per pair.

    Returns:
        ``(n_boot, n_agents)`` log-strengths, each row mean 0.
    """
    if not (isinstance(n_boot, int) and n_boot >= 1):
        raise ConfigError("n_boot", "an integer >= 1", n_boot)
    full = counts.matrix()
    _check_fittable(counts.agents, full, alpha)
    if alpha <= 0.0:  # a resample can lose the connectivity of the full data (module docstring)
        raise ConfigError("alpha", "alpha > 0 for the bootstrap (a resample may give an agent all wins)", alpha)
    start = fit_matrix(full, alpha)
    n_games = counts.scored_games
    draws = np.empty((n_boot, len(counts.agents)))
    for b in range(n_boot):
        multiplicity = np.bincount(rng.integers(0, n_games, size=n_games), minlength=n_games).astype(np.float64)
        draws[b] = fit_matrix(counts.matrix(multiplicity), alpha, initial=start)
    return draws


def bootstrap_ci(records: Iterable[GameRecord], agents: Sequence[str] | None = None, *, n_boot: int = 1000,
                 rng: np.random.Generator, level: float = 0.95,
                 alpha: float = DEFAULT_ALPHA) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of the Bradley–Terry ratings, resampling games.

    Each resample draws as many scored games as there are, with replacement, and refits; the interval is the
    ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of an agent's refits. Ratings are centred in every
    refit, so an interval is for the agent's strength relative to the pool's mean.

    Args:
        records: Logged games (infrastructure failures are left out).
        agents: The agents to rate; default every agent with a scored comparison.
        n_boot: Number of resamples.
        rng: The random generator (no global RNG).
        level: Confidence level in (0, 1).
        alpha: Virtual drawn games per pair; must be > 0 here.

    Returns:
        ``{agent: (low, high)}``.

    Raises:
        ConfigError: On a level outside (0, 1), ``n_boot < 1``, ``alpha <= 0``, or data ``bradley_terry``
            refuses.
    """
    if not 0.0 < level < 1.0:
        raise ConfigError("level", "a confidence level strictly between 0 and 1", level)
    counts = pair_counts(records, agents)
    draws = bootstrap_draws(counts, n_boot, rng, alpha=alpha)
    lo, hi = np.quantile(draws, [(1.0 - level) / 2.0, (1.0 + level) / 2.0], axis=0)
    return {a: (float(x), float(y)) for a, x, y in zip(counts.agents, lo, hi, strict=True)}


def openskill_ratings(records: Iterable[GameRecord], agents: Sequence[str] = (), *,
                      model: object | None = None) -> dict[str, SkillRating]:
    """Online Weng–Lin ratings (openskill), updated game by game in the order given.

    Each scored game is one ``model.rate`` call with one single-player team per seat and the seats' returns
    as scores (higher is better; equal returns tie; a game ended by a forfeit ranks the forfeiting seat last and
    ties the others, ``games.seat_scores``). Unlike ``bradley_terry`` this takes the whole game as a
    ranking, not the pairwise reduction, and depends on the order of the games: it is for matchmaking
    during a tournament, and ``bradley_terry`` is the ranking of record. Games with an infrastructure failure
    are skipped (never a loss), and so are games where one agent holds several seats (openskill rates each
    player once per game).

    Args:
        records: Logged games, in the order they were played.
        agents: Agents to include even if they never played (they keep the prior rating).
        model: An openskill model; default ``openskill.models.PlackettLuce()`` (mu 25, sigma 25/3).

    Returns:
        ``{agent: SkillRating(mu, sigma, ordinal)}`` for every seated or listed agent.
    """
    if model is None:
        from openskill.models import PlackettLuce

        model = PlackettLuce()
    ratings = {a: model.rating(name=a) for a in _validate_agents(agents)}
    for record in records:
        for a in record.seats:
            if a not in ratings:
                ratings[a] = model.rating(name=a)
        if not record.scored or len(set(record.seats)) < len(record.seats):
            continue
        teams = [[ratings[a]] for a in record.seats]
        scores = list(seat_scores(record))  # games.py, rule 5: a forfeit ranks its seat last, the others tied
        for a, (new,) in zip(record.seats, model.rate(teams, scores=scores), strict=True):
            ratings[a] = new
    return {a: SkillRating(float(r.mu), float(r.sigma), float(r.ordinal())) for a, r in ratings.items()}
