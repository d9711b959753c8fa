"""Leaderboard ratings (issue 16): Bradley–Terry recovers known strengths, ignores game order, has bootstrap
intervals that cover and shrink, never counts an infrastructure failure as a loss, reduces multi-seat games
as documented, and answers degenerate tournaments with finite numbers or a ConfigError."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from turngym.agents.leaderboard import (
    GameRecord,
    bootstrap_ci,
    bradley_terry,
    leaderboard_markdown,
    leaderboard_table,
    openskill_ratings,
    pairwise,
    rating_table,
    simulate_bt_games,
    win_matrix,
)
from turngym.agents.leaderboard.ratings import fit_matrix, fit_matrix_scipy, pair_counts
from turngym.envs.core.errors import ConfigError

#: Eight agents, log-strengths evenly spaced 0.4 apart (P(a_{k+1} beats a_k) = 0.60), mean 0.
TRUTH = np.linspace(-1.4, 1.4, 8)
NAMES = [f"a{i}" for i in range(8)]


def G(seats, returns, env="e", seed=0, infra=None):  # noqa: N802 - reads like the record it builds
    return GameRecord(env, seed, tuple(seats), tuple(returns), infra)


@pytest.fixture(scope="module")
def tournament():
    return simulate_bt_games(TRUTH, 20_000, np.random.default_rng(20240516))


def as_array(ratings):
    return np.array([ratings[a] for a in NAMES])


def test_fit_recovers_known_strengths(tournament):
    fit = as_array(bradley_terry(tournament))
    assert list(np.argsort(fit)) == list(range(8))  # the exact order
    assert stats.spearmanr(fit, TRUTH).statistic == 1.0
    assert fit.mean() == pytest.approx(0.0, abs=1e-12)
    # ~5,000 games an agent: standard error ~0.03, so 0.12 is about 4 of them
    assert np.abs(fit - TRUTH).max() < 0.12


def test_fit_is_the_likelihood_maximum(tournament):
    """choix's ILSR fixed point equals a direct L-BFGS maximisation of the same likelihood."""
    _, wins = win_matrix(tournament, NAMES)
    for alpha in (0.0, 0.01, 5.0):
        np.testing.assert_allclose(fit_matrix(wins, alpha), fit_matrix_scipy(wins, alpha), atol=1e-6)


def test_two_agent_known_answers():
    games = [G("ab", (1, 0))] * 3 + [G("ab", (0, 1))]
    r = bradley_terry(games, alpha=0.0)
    assert r["a"] - r["b"] == pytest.approx(math.log(3.0))  # odds 3:1
    r = bradley_terry(games, alpha=2.0)  # two virtual draws: one virtual win each way
    assert r["a"] - r["b"] == pytest.approx(math.log(4.0 / 2.0))
    r = bradley_terry([G("ab", (1, 0)), G("ab", (5, 5))], alpha=0.0)  # a draw is half a win each way
    assert r["a"] - r["b"] == pytest.approx(math.log(1.5 / 0.5))
    r = bradley_terry([G("ab", (0, 0))] * 4, alpha=0.0)
    assert r == pytest.approx({"a": 0.0, "b": 0.0})


def test_fit_does_not_depend_on_game_order(tournament):
    base = bradley_terry(tournament)
    order = np.random.default_rng(7).permutation(len(tournament))
    shuffled = bradley_terry([tournament[i] for i in order])
    reversed_ = bradley_terry(tournament[::-1])
    for other in (shuffled, reversed_):
        np.testing.assert_allclose(as_array(other), as_array(base), rtol=0, atol=1e-12)


def test_openskill_is_online_and_order_dependent(tournament):
    ratings = openskill_ratings(tournament)
    mu = np.array([ratings[a].mu for a in NAMES])
    assert stats.spearmanr(mu, TRUTH).statistic > 0.95
    for r in ratings.values():
        assert r.ordinal == pytest.approx(r.mu - 3 * r.sigma) and r.sigma < 25 / 3
    head = tournament[:200]
    forward, backward = openskill_ratings(head), openskill_ratings(head[::-1])
    assert any(abs(forward[a].mu - backward[a].mu) > 1e-6 for a in forward)


def test_openskill_ranks_a_multi_seat_game_and_skips_infra_and_self_play():
    out = openskill_ratings([G("abc", (3, 1, 3))], agents=["idle"])
    assert out["a"].mu == pytest.approx(out["c"].mu) and out["a"].mu > 25 > out["b"].mu
    assert out["idle"] == pytest.approx((25.0, 25 / 3, 0.0))
    untouched = openskill_ratings([G("ab", (0, 1), infra="endpoint 503"), G("aab", (1, 0, 2))])
    assert all(r == pytest.approx((25.0, 25 / 3, 0.0)) for r in untouched.values())


def test_bootstrap_intervals_cover_the_truth_and_shrink(tournament):
    big = bootstrap_ci(tournament, n_boot=200, rng=np.random.default_rng(1))
    small = bootstrap_ci(tournament[:2_000], n_boot=200, rng=np.random.default_rng(1))
    covered = sum(big[a][0] <= t <= big[a][1] for a, t in zip(NAMES, TRUTH, strict=True))
    assert covered >= 6  # 95% intervals: 8 of 8 expected, 6 allows two misses
    fit = bradley_terry(tournament)
    for a in NAMES:
        assert big[a][0] < fit[a] < big[a][1]
        # 10x the games: width / sqrt(10) ~ 0.32 in expectation
        assert big[a][1] - big[a][0] < 0.5 * (small[a][1] - small[a][0])
    again = bootstrap_ci(tournament, n_boot=200, rng=np.random.default_rng(1))
    assert again == big  # the Generator passed in is the only randomness


def test_bootstrap_resamples_whole_games():
    """A four-seat game's six pairs move together: drawing the game twice doubles all of them."""
    games = [G("abcd", (4, 3, 2, 1)), G("ab", (0, 1)), G("dc", (2, 2))]
    counts = pair_counts(games, list("abcd"))
    assert list(counts.game) == [0] * 6 + [1] + [2, 2]  # the draw is two half-entries of one game
    once = counts.matrix()
    twice_first = counts.matrix(np.array([2.0, 1.0, 1.0]))
    only_first = counts.matrix(np.array([1.0, 0.0, 0.0]))
    np.testing.assert_allclose(twice_first - once, only_first)
    np.testing.assert_allclose(only_first[np.triu_indices(4, 1)], [1 / 3] * 6)  # seat order = finishing order


def test_infra_failures_change_nothing_but_the_infra_count(tournament):
    games = tournament[:3_000]
    broken = []
    for i, g in enumerate(games):
        broken.append(g)
        if i % 10 == 0:  # a failed game the first seat "lost": it must not count
            broken.append(G(g.seats, (-1.0, 1.0), env=g.env_id, infra="sandbox died"))
    broken.append(G(("a0", "ghost"), (), infra="browser crashed"))
    assert bradley_terry(broken) == bradley_terry(games)
    assert (bootstrap_ci(broken, n_boot=50, rng=np.random.default_rng(3))
            == bootstrap_ci(games, n_boot=50, rng=np.random.default_rng(3)))
    assert openskill_ratings(broken)["a0"] == openskill_ratings(games)["a0"]
    red = pairwise(broken)
    assert (red.scored_games, red.infra_errors) == (3_000, 301)
    assert [c.game for c in red.comparisons] == [i for i, g in enumerate(broken) if g.scored]

    clean = {r.agent: r for r in leaderboard_table(games, rng=np.random.default_rng(4), n_boot=50).overall}
    dirty = {r.agent: r for r in leaderboard_table(broken, rng=np.random.default_rng(4), n_boot=50).overall}
    infra_by_agent = {a: sum(a in g.seats for g in broken if not g.scored) for a in dirty}
    assert dirty["ghost"].rating is None and dirty["ghost"].infra_errors == 1 and dirty["ghost"].games == 0
    for a, row in clean.items():
        assert row.infra_errors == 0 and dirty[a].infra_errors == infra_by_agent[a] > 0
        assert dirty[a] == row.__class__(**{**row.__dict__, "infra_errors": infra_by_agent[a]})


def test_three_seat_reduction_as_documented():
    red = pairwise([G("abc", (3.0, 1.0, 3.0))])
    got = {(c.winner, c.loser): (c.score, c.weight) for c in red.comparisons}
    # every pair of seats; each pair weighs 1 / (N - 1) = 1/2; a tie is a half win each way
    assert got == {("a", "b"): (1.0, 0.5), ("a", "c"): (0.5, 0.5), ("c", "b"): (1.0, 0.5)}
    agents, w = win_matrix([G("abc", (3.0, 1.0, 3.0))], ["a", "b", "c"])
    np.testing.assert_array_equal(w, [[0, 0.5, 0.25], [0, 0, 0], [0.25, 0.5, 0]])
    assert w.sum(axis=0).sum() == pytest.approx(3 / 2)  # a 3-seat game: comparisons worth 3 seats x 1/2

    rows = {r.agent: (r.games, r.wins, r.draws, r.losses)
            for r in rating_table([G("abc", (3.0, 1.0, 3.0))], rng=np.random.default_rng(0), n_boot=5)}
    assert rows == {"a": (1, 1, 1, 0), "b": (1, 0, 0, 2), "c": (1, 1, 1, 0)}  # N - 1 outcomes per seat

    red = pairwise([G("aab", (1.0, 0.0, 2.0))])  # self-play pair a-a is skipped
    assert red.self_pairs == 1
    assert [(c.winner, c.loser, c.weight) for c in red.comparisons] == [("b", "a", 0.5)] * 2


def test_table_columns_ranks_and_markdown(tournament):
    games = tournament[:4_000] + [G(("a7", "a0"), (1, 0), env="other", seed=s) for s in range(30)]
    board = leaderboard_table(games, rng=np.random.default_rng(5), n_boot=100)
    overall = board.overall
    assert [r.rank for r in overall] == list(range(1, 9))
    assert [r.agent for r in overall] == sorted(NAMES, key=lambda a: -bradley_terry(games)[a])
    for r in overall:
        assert r.ci_low < r.rating < r.ci_high
        assert r.games == sum(r.agent in g.seats for g in games)
        assert r.wins + r.draws + r.losses == r.games  # two-seat games: one outcome each
    assert set(board.per_env) == {"synthetic/BT-v0", "other"}
    other = board.per_env["other"]
    assert [(r.agent, r.rank, r.wins, r.losses) for r in other] == [("a7", 1, 30, 0), ("a0", 2, 0, 30)]
    assert any("a7: won every comparison" in n for n in board.notes)
    md = leaderboard_markdown(board)
    assert md.startswith("## Overall") and "## other" in md and "| 1 | a7 |" in md
    json.dumps(board.to_dict(), allow_nan=False)  # no NaN or inf anywhere


def test_degenerate_tournaments_give_finite_ratings_or_config_errors():
    all_wins = ([G(("top", x), (1, 0)) for x in "xy" for _ in range(10)]
                + [G("xy", (1, 0)), G("xy", (0, 1))])
    r = bradley_terry(all_wins)
    assert all(math.isfinite(v) for v in r.values()) and r["top"] > r["x"] + 3
    with pytest.raises(ConfigError, match="maximum-likelihood ratings are infinite"):
        bradley_terry(all_wins, alpha=0.0)
    ci = bootstrap_ci(all_wins, n_boot=50, rng=np.random.default_rng(0))
    assert all(math.isfinite(lo) and math.isfinite(hi) and lo <= hi for lo, hi in ci.values())

    with pytest.raises(ConfigError, match=r"No scored games: \['idle'\]"):
        bradley_terry(all_wins, agents=["top", "x", "y", "idle"])
    with pytest.raises(ConfigError, match=r"Missing: \['y'\]"):
        bradley_terry(all_wins, agents=["top", "x"])
    with pytest.raises(ConfigError, match="at least two agents"):
        bradley_terry([G("ss", (1, 0))])  # one agent, self-play only
    with pytest.raises(ConfigError, match="at least two agents"):
        bradley_terry([])
    with pytest.raises(ConfigError, match="level"):
        bootstrap_ci(all_wins, level=1.0, rng=np.random.default_rng(0))
    with pytest.raises(ConfigError, match="alpha > 0 for the bootstrap"):
        bootstrap_ci([G("ab", (1, 0)), G("ab", (0, 1))], alpha=0.0, n_boot=5, rng=np.random.default_rng(0))

    board = leaderboard_table([G("ss", (1, 0))], rng=np.random.default_rng(0), n_boot=10, agents=["idle"])
    rows = [(r.agent, r.rating, r.rank, r.games) for r in board.overall]
    assert rows == [("idle", None, None, 0), ("s", None, None, 1)]  # unrated rows sort by name
    assert "–" in leaderboard_markdown(board)


def test_bad_records_are_refused():
    with pytest.raises(ConfigError, match="finite"):
        G("ab", (1.0, float("nan")))
    with pytest.raises(ConfigError, match="at least two seats"):
        G("a", (1.0,))
    with pytest.raises(ConfigError, match="2 returns"):
        G("ab", (1.0,))
    assert not G("ab", (), infra="endpoint timed out").scored
