"""Small statistics helpers shared by evaluations and benchmarks (scipy underneath).

* ``mean_ci``: the mean of real-valued samples (returns, payoffs) with a Student-t interval.
* ``rate_ci``: a rate of successes in 0/1 trials with a binomial interval (Wilson by default). A t-interval
  is the wrong tool for rates: it is symmetric, so at 1 success in 20 it reaches below 0, and with every
  trial alike it collapses to a zero-width interval at 0 or 1 (issue 13, item 15(b)).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

from turngym.envs.core.errors import ConfigError

#: Interval methods of ``rate_ci`` and scipy's name for each (``BinomTestResult.proportion_ci``).
RATE_CI_METHODS = {"wilson": "wilson", "clopper-pearson": "exact"}


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and the Student-t confidence interval of the mean.

    Fewer than two values, or values without spread, give a zero-width interval at the mean; no values
    give NaN. For rates of 0/1 outcomes use ``rate_ci``.
    """
    x = np.asarray(values, dtype=np.float64)
    mean = float(x.mean()) if x.size else float("nan")
    if x.size < 2 or float(x.std()) == 0.0:
        return mean, mean, mean
    lo, hi = stats.t.interval(confidence, x.size - 1, loc=mean, scale=stats.sem(x))
    return mean, float(lo), float(hi)


def rate_ci(successes: int, n: int, confidence: float = 0.95, method: str = "wilson") -> tuple[float, float, float]:
    """Success rate k/n and a binomial confidence interval for it, always inside [0, 1].

    Computed by scipy (``scipy.stats.binomtest(k, n).proportion_ci``). Wilson's score interval (Wilson
    1927) is the default: its coverage stays close to the nominal level down to small n and rates near 0
    or 1 (Brown, Cai, DasGupta 2001, "Interval Estimation for a Binomial Proportion", Statistical Science
    16(2)), and it has positive width at 0/n and n/n. Clopper–Pearson (1934, scipy's ``"exact"``) inverts
    the binomial test: coverage at least the nominal level, wider.

    Args:
        successes: Number of successes k, 0 <= k <= n.
        n: Number of trials. ``n == 0`` gives a NaN rate and the uninformative interval [0, 1].
        confidence: Confidence level in (0, 1).
        method: ``"wilson"`` (default) or ``"clopper-pearson"``.

    Returns:
        ``(rate, low, high)`` with ``0 <= low <= rate <= high <= 1``.

    Raises:
        ConfigError: On an unknown method, a confidence outside (0, 1), or counts that are not
            integers with ``0 <= successes <= n``.
    """
    if method not in RATE_CI_METHODS:
        raise ConfigError("method", "a binomial interval method", method, choices=list(RATE_CI_METHODS))
    if not 0.0 < confidence < 1.0:
        raise ConfigError("confidence", "a level strictly between 0 and 1", confidence)
    k, total = int(successes), int(n)
    if k != successes or total != n or not 0 <= k <= total:
        raise ConfigError("successes, n", "integer counts with 0 <= successes <= n", (successes, n))
    if total == 0:
        return float("nan"), 0.0, 1.0
    ci = stats.binomtest(k, total).proportion_ci(confidence_level=confidence, method=RATE_CI_METHODS[method])
    return k / total, float(ci.low), float(ci.high)


def paired_rate_test(before: Sequence[bool], after: Sequence[bool]) -> dict[str, float]:
    """McNemar's exact test of a change in success rate on the same trials (e.g. the same held-out levels).

    Only the discordant pairs carry information: ``gained`` trials failed before and succeed after, ``lost``
    the reverse. Under no change each discordant pair is either with probability 1/2, so the two-sided
    p-value is the exact binomial test of ``gained`` out of ``gained + lost`` (McNemar 1947; the exact form
    of Fagerland, Lydersen, Laake 2013, "The McNemar test for binary matched-pairs data", BMC Med Res Methodol
    13:91). Pairing removes the level-to-level spread that two independent Wilson intervals carry.

    Args:
        before: Outcome of each trial at the first evaluation.
        after: Outcome of the same trials, same order, at the second.

    Returns:
        ``n``, ``gained``, ``lost``, ``difference`` (after rate minus before rate) and ``p_value`` (1.0
        without discordant pairs).

    Raises:
        ConfigError: When the two sequences differ in length or are empty.
    """
    if len(before) != len(after) or not before:
        raise ConfigError("after", f"outcomes of the same {len(before)} trials as before (at least one)",
                          len(after))
    gained = sum(1 for b, a in zip(before, after, strict=True) if a and not b)
    lost = sum(1 for b, a in zip(before, after, strict=True) if b and not a)
    p = float(stats.binomtest(gained, gained + lost, 0.5).pvalue) if gained + lost else 1.0
    return {"n": float(len(before)), "gained": float(gained), "lost": float(lost),
            "difference": (gained - lost) / len(before), "p_value": p}


def percentile_ms(seconds: Sequence[float], q: float, ndigits: int | None = None) -> float | None:
    """The ``q``-th percentile of durations given in seconds, in milliseconds (None for no durations).

    The latency tables of the benchmarks (p50/p95 of ``reset`` and ``step``) all report through this.
    """
    if len(seconds) == 0:
        return None
    value = float(np.percentile(np.asarray(seconds, dtype=np.float64), q)) * 1e3
    return value if ndigits is None else round(value, ndigits)

