"""Statistics of a measured rate: Wilson intervals, deviations from an exact value in standard
errors, and the binomial acceptance interval around it."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import binom
from statsmodels.stats.proportion import proportion_confint

CONFIDENCE = 0.95  # of the Wilson intervals
ACCEPTANCE = 0.99  # of the interval around theory that flags a measurement


def wilson_interval(
    successes: Any, trials: Any, confidence: float = CONFIDENCE
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval(s) for ``successes`` out of ``trials``; NaN where trials is 0."""
    successes = np.asarray(successes, dtype=float)
    trials = np.asarray(trials, dtype=float)
    safe = np.where(trials > 0, trials, 1.0)
    low, high = proportion_confint(successes, safe, alpha=1.0 - confidence, method="wilson")
    # Exact at the edges (statsmodels leaves 1 - 1e-16 at k = n).
    low = np.where(successes <= 0, 0.0, low)
    high = np.where(successes >= trials, 1.0, high)
    low = np.where(trials > 0, low, np.nan)
    high = np.where(trials > 0, high, np.nan)
    return np.atleast_1d(low), np.atleast_1d(high)


def z_score(successes: Any, trials: Any, probability: Any) -> np.ndarray:
    """``(rate - p) / sqrt(p (1 - p) / n)``: the measured rate's deviation from ``p`` in
    standard errors. When ``p`` is 0 or 1 the outcome is certain: z is 0 if the count is the
    certain one and +/-inf if not (an impossible outcome). NaN where ``n`` or ``p`` is missing."""
    k = np.atleast_1d(np.asarray(successes, dtype=float))
    n = np.atleast_1d(np.asarray(trials, dtype=float))
    p = np.atleast_1d(np.asarray(probability, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = k / n
        spread = np.sqrt(p * (1.0 - p) / n)
        z = (rate - p) / spread
        certain = spread == 0
        deviation = rate - p
        z = np.where(certain & np.isclose(deviation, 0.0, atol=1e-12), 0.0, z)
        z = np.where(certain & ~np.isclose(deviation, 0.0, atol=1e-12),
                     np.sign(deviation) * np.inf, z)
    return np.where((n > 0) & np.isfinite(p), z, np.nan)


def acceptance_interval(
    trials: Any, probability: Any, level: float = ACCEPTANCE
) -> tuple[np.ndarray, np.ndarray]:
    """The counts ``[low, high]`` a Binomial(n, p) falls in with probability >= ``level``
    (less than ``(1 - level) / 2`` outside on each side). NaN where n is 0 or p missing."""
    n = np.atleast_1d(np.asarray(trials, dtype=float))
    p = np.atleast_1d(np.asarray(probability, dtype=float))
    tail = (1.0 - level) / 2.0
    valid = (n > 0) & np.isfinite(p)
    n_safe = np.where(valid, n, 1)
    p_safe = np.clip(np.where(valid, p, 0.5), 0.0, 1.0)
    low = binom.ppf(tail, n_safe, p_safe)
    high = binom.ppf(1.0 - tail, n_safe, p_safe)
    return np.where(valid, low, np.nan), np.where(valid, high, np.nan)


def outside_acceptance(successes: Any, trials: Any, probability: Any,
                       level: float = ACCEPTANCE) -> np.ndarray:
    """True where the count falls outside :func:`acceptance_interval`."""
    k = np.atleast_1d(np.asarray(successes, dtype=float))
    low, high = acceptance_interval(trials, probability, level)
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(low), False, (k < low) | (k > high))
