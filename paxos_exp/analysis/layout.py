"""Layout of the figures: labels of configuration values, and which varying column goes where
(colour, facet column, facet row, or a series inside a colour) with the colour, marker and line
style of each hue. The panels themselves are :mod:`.panels`; no figure is drawn here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from paxos_exp.analysis import intensity, theme
from paxos_exp.analysis.aggregate import DEFAULT_CONFIG_COLUMNS, varies
from paxos_exp.analysis.style import CONTEXTS, FigureStyle, as_style

__all__ = ["CONTEXTS", "FigureStyle", "Layout", "as_style", "labels", "layout_for", "order"]

# How a configuration column is named on an axis or a legend, and in a facet title (a fault
# model's intensity, fail_prob included, is named by the model's declaration).
KEY_LABELS = {
    "nodes": "nodes N",
    "rounds": "round limit R",
    "trials": "trials per job",
    "seed": "seed",
    "initial_values": "initial values",
    "engine": "engine",
    "trace": "trace",
    "join_quorum": "join quorum",
    "vote_quorum": "vote quorum",
    "allow_unsafe": "allow unsafe",
    "start_method": "start method",
}
KEY_SYMBOLS = {"nodes": "N", "fail_prob": "p", "rounds": "R"}
MEASURED_LABEL = "points: measured, 95% Wilson interval"
EXACT_LABEL = "lines: exact"
NOT_SET = "not set"  # a setting the row's protocol (or fault model) does not have
# Each colour of a figure also gets its own marker and line style, so hues stay apart in
# grey-scale print and for colour-blind readers.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
LINE_STYLES: tuple[Any, ...] = (
    "-", "--", ":", "-.", (0, (5, 1.2, 1, 1.2, 1, 1.2)), (0, (8, 2)), (0, (1, 2.5)),
    (0, (3, 1, 1, 1, 1, 1, 1, 1)), (0, (6, 1.5, 2, 1.5)), (0, (2, 1)),
)
# Varying keys on no axis are drawn as separate series inside a colour: their marker fill.
FILLS = ("full", "none", "left", "bottom", "right", "top")


# ----------------------------------------------------------------------------- values


def key_label(key: str) -> str:
    if key in KEY_LABELS:
        return KEY_LABELS[key]
    return " / ".join(intensity.labels(key)) or key.replace("_", " ")


def axis_label(frame: pd.DataFrame, x: str, short: bool = False) -> str:
    """The x axis' name: the declared label of the intensity ``x`` of the frame's fault models
    (their distinct labels joined by " / "; ``short`` where room is tight), else its key's."""
    return " / ".join(intensity.labels(x, frame, short)) or key_label(x)


def with_x(frame: pd.DataFrame, x: str | None) -> tuple[pd.DataFrame, str]:
    """The x axis (``None``: the frame's main intensity, :func:`intensity.x_columns`) and the
    rows a figure along it draws (:func:`intensity.rows_for`)."""
    if x is None:
        x = intensity.x_columns(frame)[0]
    return intensity.rows_for(frame, x), x


def is_missing(value: Any) -> bool:
    """A missing value in any spelling a frame may hold: None, NaN, pd.NA, or the text that
    a column mixing types became ("nan", "None", "<NA>")."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(np.isnan(value))
    return isinstance(value, str) and value in ("nan", "None", "<NA>", "NaN")


def format_value(key: str, value: Any) -> str:
    """A configuration value as text: ``3``, ``0.25``, ``true``; ``not set`` where the row's
    protocol has no such setting."""
    if is_missing(value):
        return NOT_SET
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, str) and value in ("True", "False"):  # a bool column made text
        return value.lower()
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    return str(value)


def value_label(key: str, value: Any) -> str:
    """``R = 3``, ``engine = inprocess``: a facet title or a series name."""
    return f"{KEY_SYMBOLS.get(key, key_label(key))} = {format_value(key, value)}"


def _sort_key(value: Any) -> tuple[int, Any]:
    if is_missing(value):
        return (0, 0)
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
            value, (bool, np.bool_)):
        return (1, float(value))
    return (2, str(value))


def order(values: pd.Series) -> list[Any]:
    """Distinct values sorted numerically or alphabetically, missing ones first (one of them,
    whatever its spelling); categoricals keep only the categories that occur."""
    distinct: dict[Any, None] = {}
    missing_seen = False
    for value in pd.unique(values.to_numpy(dtype=object)):
        if is_missing(value):
            if missing_seen:
                continue
            missing_seen = True
        distinct[value] = None
    return sorted(distinct, key=_sort_key)


def varying_keys(frame: pd.DataFrame) -> list[str]:
    """The configuration columns of a frame that vary (the ones that tell its rows apart)."""
    declared = frame.attrs.get("group_keys")
    candidates = list(declared) if declared else [c for c in DEFAULT_CONFIG_COLUMNS
                                                  if c in frame.columns]
    return [column for column in candidates if column in frame.columns and varies(frame, column)]


def check_axes(frame: pd.DataFrame, **axes: str | None) -> None:
    for role, key in axes.items():
        if key is not None and key not in frame.columns:
            raise ValueError(f"{role}={key!r} is not a column of the frame")
    used = [key for key in axes.values() if key is not None]
    if len(used) != len(set(used)):
        raise ValueError(f"one column on two axes: {axes}")


def labels(
    frame: pd.DataFrame, keys: Sequence[str], short: bool = False, omit_missing: bool = False
) -> tuple[pd.Series, list[str]]:
    """One text label per row combining ``keys``, and the labels in sorted order.

    ``omit_missing`` leaves out of a label the keys a row has no value for (a setting its
    protocol lacks): a series of classic is not "allow unsafe = not set".
    """
    if not keys:
        return pd.Series("", index=frame.index), [""]
    columns = [frame[key].astype(object) for key in keys]
    combos = list(zip(*(column.tolist() for column in columns)))
    ranks = {key: {_canonical(value): rank for rank, value in enumerate(order(frame[key]))}
             for key in keys}

    def rank(combo: Sequence[Any]) -> list[int]:
        return [ranks[key][_canonical(value)] for key, value in zip(keys, combo)]

    def name(combo: Sequence[Any]) -> str:
        if short and len(keys) == 1:
            return format_value(keys[0], combo[0])
        parts = [value_label(key, value) for key, value in zip(keys, combo)
                 if not (omit_missing and is_missing(value))]
        return ", ".join(parts)

    canonical = [tuple(map(_canonical, combo)) for combo in combos]  # once per row
    distinct = dict(zip(canonical, combos))
    ordered = sorted(distinct.items(), key=lambda item: rank(item[1]))
    lookup = {key: name(combo) for key, combo in ordered}
    series = pd.Series([lookup[key] for key in canonical], index=frame.index)
    return series, list(dict.fromkeys(lookup[key] for key, _ in ordered))


def _canonical(value: Any) -> str:
    return "\0missing" if is_missing(value) else str(value)


# ----------------------------------------------------------------------------- layout


@dataclass
class Layout:
    """Where each varying column goes, and the colour, marker and line style of each hue."""

    data: pd.DataFrame
    hue_order: list[str]
    palette: dict[str, Any]
    markers: dict[str, str]
    line_styles: dict[str, Any]
    col: str | None
    col_order: list[str] | None
    row: str | None
    row_order: list[str] | None
    series_order: list[str]
    fills: dict[str, str]
    extra: list[str]

    @property
    def rows(self) -> list[str]:
        return self.row_order or [""]

    @property
    def cols(self) -> list[str]:
        return self.col_order or [""]


def layout_for(
    frame: pd.DataFrame,
    x: str,
    hue: str | None,
    col: str | None,
    row: str | None,
    fold: str,
    also_used: Sequence[str] = (),
) -> Layout:
    """Facet and colour labels; ``fold`` says where unplaced varying keys go ("series"/"row")."""
    check_axes(frame, x=x, hue=hue, col=col, row=row)
    placed = {x, hue, col, row, *also_used} - {None}
    extra = [key for key in varying_keys(frame) if key not in placed]
    data = frame.copy()
    if hue is not None:
        data["_hue"], hue_order = labels(data, [hue], short=True)
    else:
        data["_hue"], hue_order = "all", ["all"]
    colours = theme.palette(max(len(hue_order), 1))
    if hue is None:
        colours = ["0.2"]
    palette = dict(zip(hue_order, colours))
    markers = {label: MARKERS[i % len(MARKERS)] for i, label in enumerate(hue_order)}
    line_styles = {label: LINE_STYLES[i % len(LINE_STYLES)] for i, label in enumerate(hue_order)}
    row_keys = [row] if row else []
    series_keys: list[str] = []
    if fold == "row":
        row_keys += extra
    else:
        series_keys = extra
    col_order = row_order = None
    if col is not None:
        data["_col"], col_order = labels(data, [col])
    else:
        data["_col"] = ""
    if row_keys:
        data["_row"], row_order = labels(data, row_keys, omit_missing=len(row_keys) > 1)
    else:
        data["_row"] = ""
    data["_series"], series_order = labels(data, series_keys, omit_missing=True)
    fills = {label: FILLS[i % len(FILLS)] for i, label in enumerate(series_order)}
    return Layout(
        data=data, hue_order=hue_order, palette=palette, markers=markers,
        line_styles=line_styles, col="_col" if col is not None else None,
        col_order=col_order, row="_row" if row_keys else None, row_order=row_order,
        series_order=series_order, fills=fills, extra=extra,
    )


def floats(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A column as floats, NaN for missing values (nullable and categorical dtypes too)."""
    return pd.to_numeric(frame[column].astype(object), errors="coerce").to_numpy(dtype=float)


def exact_at(curve: Callable[[np.ndarray], np.ndarray], values: np.ndarray,
             measured: np.ndarray) -> np.ndarray:
    """``curve(values)``, exact at every measured x among ``values`` too: a curve the explorer
    evaluates at a few of the points it is given (:mod:`.exact`, NaN elsewhere) is asked
    again for the measured x it left out, until it gives no more (a configuration beyond the
    explorer's budget stays NaN)."""
    out = np.array(curve(values), dtype=float)
    todo = ~np.isfinite(out) & np.isin(values, measured)
    while todo.any():
        where = np.flatnonzero(todo)
        again = np.asarray(curve(values[where]), dtype=float)
        found = np.isfinite(again)
        if not found.any():
            break
        out[where[found]] = again[found]
        todo[where] = ~found
    return out
