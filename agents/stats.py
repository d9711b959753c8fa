"""Small statistics helpers shared by evaluations and benchmarks (scipy underneath)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and the Student-t confidence interval of the mean.

    Fewer than two values, or values without spread, give a zero-width interval at the mean; no values
    give NaN.
    """
    x = np.asarray(values, dtype=np.float64)
    mean = float(x.mean()) if x.size else float("nan")
    if x.size < 2 or float(x.std()) == 0.0:
        return mean, mean, mean
    lo, hi = stats.t.interval(confidence, x.size - 1, loc=mean, scale=stats.sem(x))
    return mean, float(lo), float(hi)
