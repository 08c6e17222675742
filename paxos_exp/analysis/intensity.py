"""Which fault intensity a figure puts on its x axis, and how the axis is named.

Every fault model declares its intensity in core (:class:`paxos_exp.core.faults.Intensity`):
the setting a study sweeps (``omission``: the run's ``fail_prob``; ``crash_stop``:
``crash_prob``; ...) and its label. A setting is a column of the frames (``crash_prob``, or
``faults_crash_prob`` where the name clashed with another key: :func:`paxos_exp.analysis.job.
flatten_config`). An intensity *applies* to a row when one of the row's fault models
(``faults``, composed ones joined by ``+``) declares it; a row whose models declare none
(a plug-in this installation lacks) counts as ``fail_prob``'s, as every row did before fault
models had intensities. A frame without a ``faults`` column (a summary whose rows all share
their models) lets every intensity it has apply to every row: pick its axes from the jobs
frame, which always has the column.

:func:`x_columns` picks the x axes of a frame's figures: every intensity that varies among
the rows it applies to (``fail_prob`` first, then the models' in the registry's order), plus,
for rows none of those cover, their first intensity (a single point). One intensity gives one
set of figures, as before; several (sweeps of different models read together, or a composed
model swept along two intensities) give one set of figures per intensity, each drawn from the
rows that intensity applies to (:func:`rows_for`), the others' intensities folded into series
or rows as any other varying key.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from paxos_exp.core.faults import DEFAULT_FAULTS, FAULTS, Intensity

FAIL_PROB = "fail_prob"  # the run's own key: omission's intensity, the x axis before


@functools.lru_cache(maxsize=1)
def declared() -> tuple[tuple[str, Intensity], ...]:
    """``(model, intensity)`` of every registered fault model that declares one, the default
    model first, the others in the registry's order."""
    models = sorted(FAULTS, key=lambda model: model.name != DEFAULT_FAULTS)
    return tuple((model.name, model.intensity) for model in models
                 if model.intensity is not None)


def column_of(setting: str, columns: Sequence[str]) -> str | None:
    """The frame column of a setting: ``faults_<setting>`` where the plain name was taken,
    else the setting's own name; None when the frame has neither."""
    columns = set(columns)
    for name in (f"faults_{setting}", setting):
        if name in columns:
            return name
    return None


def _models(frame: pd.DataFrame) -> list[frozenset[str]] | None:
    """Each row's fault models; None for a frame without the column (a summary leaves it out
    when every row has the same models, and frames from before fault models had one)."""
    if "faults" not in frame.columns:
        return None
    cache: dict[str, frozenset[str]] = {}
    out = []
    for value in frame["faults"].astype(object).tolist():
        text = DEFAULT_FAULTS if value is None or (isinstance(value, float) and np.isnan(value)) \
            else str(value)
        if text not in cache:
            cache[text] = frozenset(text.split("+"))
        out.append(cache[text])
    return out


def _owners(frame: pd.DataFrame) -> dict[str, set[str]]:
    """Frame column -> the models whose intensity it is (columns the frame has)."""
    owners: dict[str, set[str]] = {}
    for model, intensity in declared():
        column = column_of(intensity.setting, frame.columns)
        if column is not None:
            owners.setdefault(column, set()).add(model)
    return owners


def is_intensity(column: str) -> bool:
    """Whether some fault model declares ``column`` (or ``faults_<it>``) as its intensity."""
    return any(column in (intensity.setting, f"faults_{intensity.setting}")
               for _, intensity in declared())


def applies(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Per row: whether ``column`` is the intensity of one of the row's fault models
    (``fail_prob`` also for rows whose models declare no intensity the frame has). Without a
    ``faults`` column every intensity the frame has applies to every row."""
    models = _models(frame)
    owners = _owners(frame)
    if models is None:
        return np.full(len(frame), column in owners, dtype=bool)
    mine = owners.get(column, set())
    known = set().union(*owners.values()) if owners else set()
    fallback = column == FAIL_PROB
    return np.array([bool(row & mine) or (fallback and not row & known) for row in models],
                    dtype=bool)


def _present(frame: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(frame[column].astype(object), errors="coerce").notna().to_numpy(
        dtype=bool, copy=True)


def rows_for(frame: pd.DataFrame, x: str) -> pd.DataFrame:
    """The rows a figure along ``x`` draws: those whose fault model ``x`` is the intensity of
    (any row for a column that is nobody's intensity) and that have a value of it. The frame
    itself when every row qualifies, or when none would (a figure of nothing helps nobody)."""
    if x not in frame.columns or frame.empty:
        return frame
    keep = _present(frame, x)
    if is_intensity(x):
        keep &= applies(frame, x)
    if keep.all() or not keep.any():
        return frame
    return frame[keep]


def x_columns(frame: pd.DataFrame) -> list[str]:
    """The x axes of a frame's figures, the main one first (see the module docstring);
    ``["fail_prob"]`` for a frame without intensities (or without rows)."""
    owners = _owners(frame)
    if frame.empty or not owners:
        return [FAIL_PROB]
    order = list(dict.fromkeys(column_of(i.setting, frame.columns) for _, i in declared()))
    candidates = [column for column in order if column in owners]
    masks = {column: applies(frame, column) & _present(frame, column) for column in candidates}
    chosen = [column for column in candidates
              if frame.loc[masks[column], column].astype(object).map(str).nunique() > 1]
    covered = np.zeros(len(frame), dtype=bool)
    for column in chosen:
        covered |= masks[column]
    for column in candidates:  # rows no varying intensity covers: their first one
        if (masks[column] & ~covered).any():
            chosen.append(column)
            covered |= masks[column]
    chosen = [column for column in candidates if column in chosen]  # in the declared order
    return chosen or [FAIL_PROB]


def labels(column: str, frame: pd.DataFrame | None = None, short: bool = False) -> list[str]:
    """The declared labels of ``column`` (of the models of ``frame``'s rows when given), in
    the declared order, without repeats; empty when it is nobody's intensity."""
    models = _models(frame) if frame is not None and len(frame) else None
    present = set().union(*models) if models else None
    found = []
    for model, intensity in declared():
        if column not in (intensity.setting, f"faults_{intensity.setting}"):
            continue
        if present is not None and model not in present:
            continue
        found.append(intensity.short or intensity.label if short else intensity.label)
    return list(dict.fromkeys(found))


# A figure along an x axis other than the main one is named NAME_by_COLUMN.
ALONG = "_by_"


def figure_name(kind: str, x: str, main: bool) -> str:
    """``decision_rate`` along the main x axis, ``decision_rate_by_crash_prob`` along another."""
    return kind if main else f"{kind}{ALONG}{x}"


def figure_kind(name: str) -> tuple[str, str | None]:
    """``(kind, x)`` of a figure's name: ``("decision_rate", "crash_prob")`` for
    ``decision_rate_by_crash_prob``, ``("decision_rate", None)`` for ``decision_rate``."""
    kind, _, x = name.partition(ALONG)
    return kind, x or None
