"""Exact curves for the figures: a row's exact values (:mod:`paxos_exp.analysis.theory`:
core's closed form, else the exhaustive explorer's within the report's budget) along any x
column, cached, since every panel and figure of a report draws the same few curves.

A closed-form row's curve is evaluated at every x asked. An explorer row's costs an
exploration per point, so it is evaluated at :data:`EXPLORED_POINTS` of them, evenly spread
over the x values asked (both ends included), plus the row's own x; the other points are NaN,
so a figure joins the exact points by straight lines."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from paxos_exp.analysis.layout import is_missing
from paxos_exp.analysis.row_config import setting_columns
from paxos_exp.analysis.theory import CLOSED_FORM, SIMULATION_ONLY, ExactLaw, row_exact

# The columns a row's exact values depend on (and the settings of every plug-in).
_LAW_KEYS = ("nodes", "fail_prob", "rounds", "protocol", "faults", "join_quorum",
             "vote_quorum", "initial_values", "_settings_vary")
# Points of an explorer row's curve (each one exploration).
EXPLORED_POINTS = 5
# Columns whose values are whole numbers: a curve along them is exact at whole x only.
_WHOLE = ("nodes", "rounds")


def _plain(value: Any) -> Any:
    """A hashable, plain spelling of a frame value (None for any missing value)."""
    if is_missing(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def law_key(row: pd.Series | dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """What a row's exact values depend on, as a hashable key."""
    return tuple((name, _plain(row[name])) for name in (*_LAW_KEYS, *setting_columns())
                 if name in row)


_CURVES: dict[tuple[tuple[str, Any], ...], ExactLaw] = {}
_KEPT = 16384


def cached_law(key: tuple[tuple[str, Any], ...]) -> ExactLaw:
    """A row's exact values by :func:`law_key`; kept once exact (a value left to simulation
    is asked again: a later report may have a larger budget, and theory remembers what
    its budget could not do)."""
    known = _CURVES.get(key)
    if known is not None:
        return known
    value = row_exact(dict(key))
    if value.exact:
        if len(_CURVES) >= _KEPT:
            _CURVES.clear()
        _CURVES[key] = value
    return value


def clear_cache() -> None:
    """Forget the curves' values (tests)."""
    _CURVES.clear()


def _at(key: tuple[tuple[str, Any], ...], x: str, value: float) -> ExactLaw | None:
    if x in _WHOLE:
        if not float(value).is_integer():
            return None
        value = int(value)
    return cached_law((*[(name, v) for name, v in key if name != x], (x, value)))


def law_curve(row: pd.Series, probabilities: np.ndarray,
              value: Callable[[Any], float], x: str = "fail_prob") -> np.ndarray:
    """``value(law)`` of the row's exact values with its column ``x`` set to each value of
    ``probabilities`` (NaN where there is none); ``law`` answers as
    :class:`~paxos_exp.core.theory.RoundLaw` does (:class:`~paxos_exp.analysis.theory.ExactLaw`).
    Cached: every figure and panel of a report draws the same few curves."""
    key = law_key(row)
    points = np.asarray(probabilities, dtype=float)
    curve = np.full(len(points), math.nan)
    if not len(points) or row.get("theory_source") == SIMULATION_ONLY:
        return curve  # a summary row with no exact value (beyond the budget, or settings
        # that vary within it): no curve either
    own = _plain(row.get(x)) if x in row else None
    first = _at(key, x, float(own) if isinstance(own, (int, float)) else float(points[0]))
    if first is not None and first.source == CLOSED_FORM:
        chosen: Any = range(len(points))
    elif first is None or not first.exact:
        return curve  # beyond the budget at the row's own x: the others are no cheaper
    else:
        chosen = set(np.unique(np.round(np.linspace(0, len(points) - 1,
                                                    min(EXPLORED_POINTS, len(points))))
                               .astype(int)).tolist())
        if isinstance(own, (int, float)):
            chosen.update(np.flatnonzero(np.isclose(points, float(own))).tolist())
        chosen = sorted(chosen)
    for index in chosen:
        law = _at(key, x, float(points[index]))
        if law is not None and law.exact:
            curve[index] = value(law)
    return curve


def _rounds(row: pd.Series, x: str) -> Callable[[ExactLaw], float]:
    if x == "rounds":
        return lambda law: law.decision_within(law.rounds)
    rounds = int(row["rounds"])
    return lambda law: law.decision_within(rounds)


def within_theory(row: pd.Series, probabilities: np.ndarray, x: str = "fail_prob"
                  ) -> np.ndarray:
    """P(a decision within the row's R rounds) along ``x``."""
    return law_curve(row, probabilities, _rounds(row, x), x=x)


def round_theory_curve(row: pd.Series, probabilities: np.ndarray, x: str = "fail_prob"
                       ) -> np.ndarray:
    """P(a round decides) along ``x`` (averaged over the R rounds where they differ)."""
    return law_curve(row, probabilities, lambda law: law.decides, x=x)


def messages_theory_curve(row: pd.Series, probabilities: np.ndarray, x: str = "fail_prob"
                          ) -> np.ndarray:
    """Expected messages per decision along ``x`` (closed form only)."""
    if x == "nodes":
        return law_curve(row, probabilities,
                         lambda law: law.messages_per_decision(law.nodes), x=x)
    nodes = int(row["nodes"])
    return law_curve(row, probabilities, lambda law: law.messages_per_decision(nodes), x=x)
