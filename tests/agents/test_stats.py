"""``rate_ci`` (binomial intervals for success rates) against scipy and closed forms; ``mean_ci``'s failure on rates."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from turngym.agents.stats import mean_ci, paired_rate_test, rate_ci
from turngym.envs.core.errors import ConfigError

POINTS = [(0, 1), (1, 1), (0, 10), (1, 20), (3, 7), (10, 10), (17, 40), (99, 100), (250, 1000)]


def _wilson_closed_form(k: int, n: int, confidence: float) -> tuple[float, float]:
    """Wilson (1927) score interval: (k + z^2/2 +- z sqrt(k(n-k)/n + z^2/4)) / (n + z^2)."""
    z = stats.norm.ppf(0.5 + confidence / 2)
    centre = (k + z * z / 2) / (n + z * z)
    half = z / (n + z * z) * math.sqrt(k * (n - k) / n + z * z / 4)
    return centre - half, centre + half


def _clopper_pearson_closed_form(k: int, n: int, confidence: float) -> tuple[float, float]:
    """Clopper-Pearson (1934) through beta quantiles; 0 and 1 at the ends."""
    alpha = 1 - confidence
    lo = 0.0 if k == 0 else stats.beta.ppf(alpha / 2, k, n - k + 1)
    hi = 1.0 if k == n else stats.beta.ppf(1 - alpha / 2, k + 1, n - k)
    return lo, hi


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
@pytest.mark.parametrize(("k", "n"), POINTS)
def test_wilson_matches_scipy_and_the_closed_form(k, n, confidence):
    rate, lo, hi = rate_ci(k, n, confidence)
    ref = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    assert rate == k / n
    assert (lo, hi) == (ref.low, ref.high)
    assert (lo, hi) == pytest.approx(_wilson_closed_form(k, n, confidence), abs=1e-12)


@pytest.mark.parametrize(("k", "n"), POINTS)
def test_clopper_pearson_matches_scipy_and_beta_quantiles(k, n):
    _, lo, hi = rate_ci(k, n, method="clopper-pearson")
    ref = stats.binomtest(k, n).proportion_ci(method="exact")
    assert (lo, hi) == (ref.low, ref.high)
    assert (lo, hi) == pytest.approx(_clopper_pearson_closed_form(k, n, 0.95), abs=1e-10)


@pytest.mark.parametrize("method", ["wilson", "clopper-pearson"])
def test_bounds_lie_in_unit_interval_around_the_rate(method):
    for n in (1, 2, 3, 5, 8, 13, 40):
        for k in range(n + 1):
            rate, lo, hi = rate_ci(k, n, method=method)
            assert 0.0 <= lo <= rate <= hi <= 1.0, (k, n)
            assert hi > lo  # never a zero-width interval, not even at 0/n or n/n


@pytest.mark.parametrize("n", [1, 8, 64])
def test_all_failures_and_all_successes(n):
    rate, lo, hi = rate_ci(0, n)
    assert (rate, lo) == (0.0, 0.0) and hi == pytest.approx(3.8414588 / (n + 3.8414588), abs=1e-6)  # z^2/(n+z^2)
    rate, lo, hi = rate_ci(n, n)
    assert (rate, hi) == (1.0, 1.0) and lo == pytest.approx(n / (n + 3.8414588), abs=1e-6)
    assert rate_ci(0, n, method="clopper-pearson")[2] == pytest.approx(1 - 0.025 ** (1 / n), abs=1e-12)


def test_no_trials_give_the_uninformative_interval():
    rate, lo, hi = rate_ci(0, 0)
    assert math.isnan(rate) and (lo, hi) == (0.0, 1.0)


def test_the_t_interval_it_replaces_goes_below_zero_and_collapses():
    """Why rates need their own interval (issue 13, 15(b)): 1 success in 20 and 0 in 20 under ``mean_ci``."""
    assert mean_ci([1.0] + [0.0] * 19)[1] < 0 < rate_ci(1, 20)[1]
    assert mean_ci([0.0] * 20) == (0.0, 0.0, 0.0) and rate_ci(0, 20)[2] > 0.1


def test_counts_may_be_numpy_integers_and_bools():
    assert rate_ci(np.int64(3), np.int64(4)) == rate_ci(3, 4)
    assert rate_ci(sum([True, False, True]), 3) == rate_ci(2, 3)


@pytest.mark.parametrize(
    ("args", "kwargs", "what"),
    [((1, 2), {"method": "wilsn"}, "method"), ((1, 2), {"method": "normal"}, "method"),
     ((1, 2), {"confidence": 1.0}, "confidence"), ((1, 2), {"confidence": 0.0}, "confidence"),
     ((3, 2), {}, "successes, n"), ((-1, 2), {}, "successes, n"), ((1.5, 2), {}, "successes, n"),
     ((1, 2.5), {}, "successes, n")],
)
def test_bad_arguments_raise_config_errors(args, kwargs, what):
    with pytest.raises(ConfigError) as err:
        rate_ci(*args, **kwargs)
    assert err.value.what == what
    if kwargs.get("method") == "wilsn":
        assert err.value.suggestion == "wilson"


def test_paired_rate_test_is_mcnemars_exact_test_on_the_discordant_pairs():
    before = [True, True, False, False, False, True]
    after = [True, False, True, True, True, True]
    out = paired_rate_test(before, after)
    assert (out["n"], out["gained"], out["lost"]) == (6, 3, 1)
    assert out["difference"] == pytest.approx(2 / 6)
    assert out["p_value"] == pytest.approx(0.625)  # 2 * P(X >= 3), X ~ Binomial(4, 1/2) = 2 * 5/16
    assert paired_rate_test([True, False], [True, False])["p_value"] == 1.0  # nothing changed
    # 20 gained, 5 lost of 400: far from chance although two independent Wilson intervals would overlap.
    many = paired_rate_test([False] * 20 + [True] * 5 + [True] * 300 + [False] * 75,
                            [True] * 20 + [False] * 5 + [True] * 300 + [False] * 75)
    assert many["p_value"] == pytest.approx(stats.binomtest(20, 25).pvalue) and many["p_value"] < 0.01
    assert rate_ci(320, 400)[1] < rate_ci(305, 400)[2]  # the unpaired intervals overlap
    with pytest.raises(ConfigError, match="after"):
        paired_rate_test([True], [True, False])
    with pytest.raises(ConfigError, match="after"):
        paired_rate_test([], [])


def test_percentile_ms_reports_durations_in_milliseconds():
    from turngym.agents.stats import percentile_ms

    assert percentile_ms([0.001, 0.002, 0.003], 50) == pytest.approx(2.0)
    assert percentile_ms([0.0011111, 0.0022222], 100, 2) == 2.22
    assert percentile_ms([], 50) is None
