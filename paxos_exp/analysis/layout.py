"""Layout helpers of the figures: labels of configuration values, colours, markers and facets
(which varying column goes where), the facet grid, titles and legends. No figure is drawn here."""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from paxos_exp.analysis.aggregate import DEFAULT_CONFIG_COLUMNS, varies

# How a configuration column is named on an axis or a legend, and in a facet title.
KEY_LABELS = {
    "nodes": "nodes N",
    "fail_prob": "crash probability p (per message)",
    "rounds": "round limit R",
    "trials": "trials per job",
    "seed": "seed",
    "initial_values": "initial values",
    "engine": "engine",
    "trace": "trace",
    "join_quorum": "join quorum",
    "vote_quorum": "vote quorum",
    "start_method": "start method",
}
KEY_SYMBOLS = {"nodes": "N", "fail_prob": "p", "rounds": "R"}
MEASURED_LABEL = "measured, 95% Wilson interval"
EXACT_LABEL = "exact, dashed"
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*")
STYLE = {"axes.grid": True, "grid.linestyle": ":", "grid.alpha": 0.6}


def quiet(function: Callable[..., Figure]) -> Callable[..., Figure]:
    """Crowded facet grids make seaborn's automatic tight_layout give up with a warning; the
    figures are saved with bbox_inches="tight", which keeps every label anyway."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Tight layout not applied",
                                    category=UserWarning)
            return function(*args, **kwargs)

    return wrapper


def key_label(key: str) -> str:
    return KEY_LABELS.get(key, key.replace("_", " "))


def format_value(key: str, value: Any) -> str:
    """A configuration value as text: ``3``, ``0.25``, ``majority`` for a default quorum."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "majority" if key.endswith("quorum") else "default"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (float, np.floating)):
        return f"{float(value):g}"
    return str(value)


def value_label(key: str, value: Any) -> str:
    """``R = 3``, ``engine = inprocess``: a facet title or a series name."""
    return f"{KEY_SYMBOLS.get(key, key_label(key))} = {format_value(key, value)}"


def order(values: pd.Series) -> list[Any]:
    """Distinct values sorted numerically or alphabetically, missing ones first."""
    distinct = list(dict.fromkeys(values.tolist()))

    def sort_key(value: Any) -> tuple[int, Any]:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return (0, 0)
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            return (1, float(value))
        return (2, str(value))

    return sorted(distinct, key=sort_key)


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


@dataclass
class Layout:
    data: pd.DataFrame
    hue_order: list[str]
    palette: dict[str, Any]
    col: str | None
    col_order: list[str] | None
    row: str | None
    row_order: list[str] | None
    series_order: list[str]
    markers: dict[str, str]
    extra: list[str]


def labels(
    frame: pd.DataFrame, keys: Sequence[str], short: bool = False
) -> tuple[pd.Series, list[str]]:
    """One text label per row combining ``keys``, and the labels in sorted order."""
    if not keys:
        return pd.Series("", index=frame.index), [""]
    combos = frame[list(keys)].drop_duplicates()
    ranks = {key: {str(value): rank for rank, value in enumerate(order(frame[key]))}
             for key in keys}
    ordered = sorted(
        combos.itertuples(index=False, name=None),
        key=lambda combo: [ranks[key][str(value)] for key, value in zip(keys, combo)],
    )

    def name(combo: Sequence[Any]) -> str:
        if short and len(keys) == 1:
            return format_value(keys[0], combo[0])
        return ", ".join(value_label(key, value) for key, value in zip(keys, combo))

    labels = [name(combo) for combo in ordered]
    lookup = {tuple(map(str, combo)): label for combo, label in zip(ordered, labels)}
    series = pd.Series(
        [lookup[tuple(map(str, combo))] for combo in frame[list(keys)].itertuples(index=False,
                                                                              name=None)],
        index=frame.index,
    )
    return series, list(dict.fromkeys(labels))


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
    colours = sns.color_palette("colorblind", max(len(hue_order), 1))
    if len(hue_order) > len(set(colours)):
        colours = sns.color_palette("husl", len(hue_order))
    palette = dict(zip(hue_order, colours))
    row_keys = [row] if row else []
    series_keys: list[str] = []
    if fold == "row":
        row_keys += extra
    else:
        series_keys = extra
    col_order = row_order = None
    if col is not None:
        data["_col"], col_order = labels(data, [col])
    if row_keys:
        data["_row"], row_order = labels(data, row_keys)
    data["_series"], series_order = labels(data, series_keys)
    markers = {label: MARKERS[i % len(MARKERS)] for i, label in enumerate(series_order)}
    return Layout(
        data=data, hue_order=hue_order, palette=palette,
        col="_col" if col is not None else None, col_order=col_order,
        row="_row" if row_keys else None, row_order=row_order,
        series_order=series_order, markers=markers, extra=extra,
    )


MARGIN_TITLE_LENGTH = 24  # longer row names go into each panel's title instead


def margin_titles(layout: Layout) -> bool:
    return layout.row is not None and max(map(len, layout.row_order or [""])) <= \
        MARGIN_TITLE_LENGTH


def grid_for(layout: Layout, **options: Any) -> sns.FacetGrid:
    return sns.FacetGrid(
        layout.data,
        col=layout.col, col_order=layout.col_order,
        row=layout.row, row_order=layout.row_order,
        margin_titles=margin_titles(layout),
        despine=False,
        **options,
    )


def finish(grid: sns.FacetGrid, title: str, xlabel: str, ylabel: str) -> Figure:
    grid.set_axis_labels(xlabel, ylabel)
    rows, cols = grid._row_var is not None, grid._col_var is not None
    if rows and cols and not grid._margin_titles:
        grid.set_titles(template="{row_name}\n{col_name}")
    elif rows or cols:
        grid.set_titles(template="{row_name}" if rows and not cols else "{col_name}",
                        col_template="{col_name}", row_template="{row_name}")
    if grid._col_var is None and grid._row_var is None:
        grid.axes.flat[0].set_title("")
    figure = grid.figure
    for axes in grid.axes.flat:
        axes.set_title(wrap_title(axes.get_title(), axes, figure))
    grid.tight_layout()
    figure.suptitle(title, y=1.0, va="bottom", fontsize="large")
    return figure


def wrap_title(title: str, axes: Any, figure: Figure) -> str:
    """Break a facet title at its commas so it fits over its panel."""
    width = axes.get_position().width * figure.get_figwidth()
    limit = max(12, int(width * 11))
    lines: list[str] = []
    for line in title.split("\n"):
        current = ""
        for part in line.split(", "):
            candidate = f"{current}, {part}" if current else part
            if current and len(candidate) > limit:
                lines.append(current + ",")
                current = part
            else:
                current = candidate
        lines.append(current)
    return "\n".join(lines)


def legend(grid: sns.FacetGrid, layout: Layout, hue: str | None, exact: bool,
            measured_label: str = MEASURED_LABEL) -> None:
    entries: dict[str, Any] = {}
    if hue is not None:
        for label in layout.hue_order:
            entries[label] = Line2D([], [], color=layout.palette[label], marker="o",
                                    linestyle="--" if exact else "-")
    for label in layout.series_order:
        if label:
            entries[label] = Line2D([], [], color="0.35", marker=layout.markers[label],
                                    linestyle="none")
    entries[measured_label] = Line2D([], [], color="black", marker="o", linestyle="none")
    if exact:
        entries[EXACT_LABEL] = Line2D([], [], color="black", linestyle="--")
    title = key_label(hue) if hue is not None else None
    grid.add_legend(legend_data=entries, label_order=list(entries), title=title)
