"""Exact curves for the figures: a row's exact round law (from core, through its protocol,
fault model and quorum sizes) at any crash probability, cached, since every panel and figure of
a report draws the same few laws."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from paxos_exp.analysis.aggregate import row_law
from paxos_exp.analysis.layout import is_missing
from paxos_exp.core.theory import RoundLaw

_LAW_KEYS = ("nodes", "protocol", "faults", "join_quorum", "vote_quorum")


def _plain(value: Any) -> Any:
    """A hashable, plain spelling of a frame value (None for any missing value)."""
    if is_missing(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


@functools.lru_cache(maxsize=16384)
def cached_law(key: tuple[Any, ...], fail_prob: float) -> RoundLaw | None:
    return row_law({**dict(zip(_LAW_KEYS, key)), "fail_prob": fail_prob})


def law_key(row: pd.Series) -> tuple[Any, ...]:
    return tuple(_plain(row.get(name)) for name in _LAW_KEYS)


def law_curve(row: pd.Series, probabilities: np.ndarray,
              value: Callable[[RoundLaw], float]) -> np.ndarray:
    """``value(law)`` of the row's exact law at each crash probability (NaN where none).
    Laws are cached: every figure and panel of a report draws the same few curves."""
    key = law_key(row)
    curve = []
    for p in probabilities:
        law = cached_law(key, float(p))
        curve.append(math.nan if law is None else value(law))
    return np.array(curve, dtype=float)


def within_theory(row: pd.Series, probabilities: np.ndarray) -> np.ndarray:
    rounds = int(row["rounds"])
    return law_curve(row, probabilities, lambda law: law.decision_within(rounds))


def round_theory_curve(row: pd.Series, probabilities: np.ndarray) -> np.ndarray:
    return law_curve(row, probabilities, lambda law: law.decides)


def messages_theory_curve(row: pd.Series, probabilities: np.ndarray) -> np.ndarray:
    nodes = int(row["nodes"])
    return law_curve(row, probabilities, lambda law: law.messages_per_decision(nodes))
