"""Statistics of a measured rate: Wilson intervals, deviations from an exact value in standard
errors, and the binomial acceptance interval around it.

Built on ``scipy.special`` (the normal quantile ``ndtri``, the binomial distribution function
``bdtr`` and its inverse ``bdtrik``) rather than ``scipy.stats`` or statsmodels, whose imports
alone took a second of every report; the results are the same to the last bit (the tests
compare them with statsmodels' and scipy.stats' formulas).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import bdtr, bdtrik, ndtri

CONFIDENCE = 0.95  # of the Wilson intervals
ACCEPTANCE = 0.99  # of the interval around theory that flags a measurement


def wilson_interval(
    successes: Any, trials: Any, confidence: float = CONFIDENCE
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval(s) for ``successes`` out of ``trials``; NaN where trials is 0."""
    successes = np.asarray(successes, dtype=float)
    trials = np.asarray(trials, dtype=float)
    safe = np.where(trials > 0, trials, 1.0)
    # The score interval, written as statsmodels' proportion_confint(method="wilson") writes it
    # (same operations in the same order, so the same bits): the normal quantile is
    # scipy.stats.norm.isf(alpha / 2), which is -ndtri(alpha / 2).
    crit = -ndtri((1.0 - confidence) / 2.0)
    crit2 = crit**2
    rate = successes / safe
    denom = 1 + crit2 / safe
    center = (rate + crit2 / (2 * safe)) / denom
    dist = crit * np.sqrt(rate * (1.0 - rate) / safe + crit2 / (4.0 * safe**2))
    dist /= denom
    low, high = np.clip(center - dist, 0, 1), np.clip(center + dist, 0, 1)
    # Exact at the edges (the formula leaves 1 - 1e-16 at k = n).
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
    low = binomial_quantile(tail, n_safe, p_safe)
    high = binomial_quantile(1.0 - tail, n_safe, p_safe)
    return np.where(valid, low, np.nan), np.where(valid, high, np.nan)


def binomial_quantile(q: float, trials: np.ndarray, probability: np.ndarray) -> np.ndarray:
    """The smallest count k with P(Binomial(n, p) <= k) >= q, for 0 < q < 1: the inverse of
    the distribution function in k (``bdtrik``, continuous) rounded up, then one less if that
    count already reaches q. The same counts as ``scipy.stats.binom.ppf`` for the tails this
    module uses (a test compares them over n up to a million); they may differ only where the
    distribution function equals q exactly (the median of a symmetric law)."""
    n = np.asarray(trials, dtype=float)
    p = np.asarray(probability, dtype=float)
    with np.errstate(invalid="ignore"):
        count = np.ceil(bdtrik(q, n, p))
    # bdtrik is NaN where the law is a point mass (p = 0 or 1): the quantile is 0 or n.
    count = np.where(p <= 0, 0.0, np.where(p >= 1, n, count))
    below = np.maximum(count - 1, 0)
    whole = np.nan_to_num(n).astype(np.int64)  # bdtr takes integer counts
    count = np.where(bdtr(np.nan_to_num(below).astype(np.int64), whole, p) >= q, below, count)
    return np.clip(count, 0, n)


def outside_acceptance(successes: Any, trials: Any, probability: Any,
                       level: float = ACCEPTANCE) -> np.ndarray:
    """True where the count falls outside :func:`acceptance_interval`."""
    k = np.atleast_1d(np.asarray(successes, dtype=float))
    low, high = acceptance_interval(trials, probability, level)
    with np.errstate(invalid="ignore"):
        return np.where(np.isnan(low), False, (k < low) | (k > high))
