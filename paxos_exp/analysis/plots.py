"""Seaborn figures of a summary: a DataFrame in, a matplotlib Figure out; no file is read.

Every figure puts ``fail_prob`` on the x axis and can map any configuration column onto the
colour (``hue``), the facet columns (``col``) and the facet rows (``row``). Configuration
columns that vary but are on no axis are never merged: line figures draw them as separate
series (one marker each, named in the legend), the heatmap and the first-round figure give
them their own facet rows. Measured values carry 95% Wilson interval bars; the exact value is
the dashed curve in the same colour.
"""

from __future__ import annotations

import functools
import math
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

if "matplotlib.pyplot" not in sys.modules:  # a headless default that leaves notebooks alone
    matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from paxos_exp.analysis.aggregate import (
    DEFAULT_CONFIG_COLUMNS,
    NO_DECISION,
    messages_per_decision_theory,
    varies,
)
from paxos_exp.core import theory

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


def _quiet(function: Callable[..., Figure]) -> Callable[..., Figure]:
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


def _order(values: pd.Series) -> list[Any]:
    """Distinct values sorted numerically or alphabetically, missing ones first."""
    distinct = list(dict.fromkeys(values.tolist()))

    def sort_key(value: Any) -> tuple[int, Any]:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return (0, 0)
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            return (1, float(value))
        return (2, str(value))

    return sorted(distinct, key=sort_key)


def _group_keys(frame: pd.DataFrame) -> list[str]:
    """The configuration columns of a frame that vary (the ones that tell its rows apart)."""
    declared = frame.attrs.get("group_keys")
    candidates = list(declared) if declared else [c for c in DEFAULT_CONFIG_COLUMNS
                                                  if c in frame.columns]
    return [column for column in candidates if column in frame.columns and varies(frame, column)]


def _check(frame: pd.DataFrame, **axes: str | None) -> None:
    for role, key in axes.items():
        if key is not None and key not in frame.columns:
            raise ValueError(f"{role}={key!r} is not a column of the frame")
    used = [key for key in axes.values() if key is not None]
    if len(used) != len(set(used)):
        raise ValueError(f"one column on two axes: {axes}")


@dataclass
class _Layout:
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


def _labels(
    frame: pd.DataFrame, keys: Sequence[str], short: bool = False
) -> tuple[pd.Series, list[str]]:
    """One text label per row combining ``keys``, and the labels in sorted order."""
    if not keys:
        return pd.Series("", index=frame.index), [""]
    combos = frame[list(keys)].drop_duplicates()
    ranks = {key: {str(value): rank for rank, value in enumerate(_order(frame[key]))}
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


def _layout(
    frame: pd.DataFrame,
    x: str,
    hue: str | None,
    col: str | None,
    row: str | None,
    fold: str,
    also_used: Sequence[str] = (),
) -> _Layout:
    """Facet and colour labels; ``fold`` says where unplaced varying keys go ("series"/"row")."""
    _check(frame, x=x, hue=hue, col=col, row=row)
    placed = {x, hue, col, row, *also_used} - {None}
    extra = [key for key in _group_keys(frame) if key not in placed]
    data = frame.copy()
    if hue is not None:
        data["_hue"], hue_order = _labels(data, [hue], short=True)
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
        data["_col"], col_order = _labels(data, [col])
    if row_keys:
        data["_row"], row_order = _labels(data, row_keys)
    data["_series"], series_order = _labels(data, series_keys)
    markers = {label: MARKERS[i % len(MARKERS)] for i, label in enumerate(series_order)}
    return _Layout(
        data=data, hue_order=hue_order, palette=palette,
        col="_col" if col is not None else None, col_order=col_order,
        row="_row" if row_keys else None, row_order=row_order,
        series_order=series_order, markers=markers, extra=extra,
    )


MARGIN_TITLE_LENGTH = 24  # longer row names go into each panel's title instead


def _margin_titles(layout: _Layout) -> bool:
    return layout.row is not None and max(map(len, layout.row_order or [""])) <= \
        MARGIN_TITLE_LENGTH


def _grid(layout: _Layout, **options: Any) -> sns.FacetGrid:
    return sns.FacetGrid(
        layout.data,
        col=layout.col, col_order=layout.col_order,
        row=layout.row, row_order=layout.row_order,
        margin_titles=_margin_titles(layout),
        despine=False,
        **options,
    )


def _finish(grid: sns.FacetGrid, title: str, xlabel: str, ylabel: str) -> Figure:
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
        axes.set_title(_wrap(axes.get_title(), axes, figure))
    grid.tight_layout()
    figure.suptitle(title, y=1.0, va="bottom", fontsize="large")
    return figure


def _wrap(title: str, axes: Any, figure: Figure) -> str:
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


def _legend(grid: sns.FacetGrid, layout: _Layout, hue: str | None, exact: bool,
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


# ----------------------------------------------------------------------------- line figures

TheoryFunction = Callable[[pd.Series, np.ndarray], np.ndarray]


def _quorums(row: pd.Series) -> tuple[int | None, int | None]:
    values = []
    for key in ("join_quorum", "vote_quorum"):
        value = row.get(key)
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        values.append(None if missing else int(value))
    return values[0], values[1]


def _within_theory(row: pd.Series, probabilities: np.ndarray) -> np.ndarray:
    join, vote = _quorums(row)
    return np.array([theory.decision_within_probability(int(row["nodes"]), float(p),
                                                        int(row["rounds"]), join, vote)
                     for p in probabilities])


def _round_theory(row: pd.Series, probabilities: np.ndarray) -> np.ndarray:
    join, vote = _quorums(row)
    return np.array([theory.round_decision_probability(int(row["nodes"]), float(p), join, vote)
                     for p in probabilities])


def _messages_theory(row: pd.Series, probabilities: np.ndarray) -> np.ndarray:
    join, vote = _quorums(row)
    return np.array([messages_per_decision_theory(int(row["nodes"]), float(p), join, vote)
                     for p in probabilities])


def _draw_series(
    data: pd.DataFrame,
    *,
    color: Any,
    x: str,
    y: str,
    low: str,
    high: str,
    theory_function: TheoryFunction | None,
    theory_column: str | None,
    grid_values: np.ndarray,
    markers: dict[str, str],
    **_: Any,
) -> None:
    axes = plt.gca()
    for series, part in data.groupby("_series", sort=False):
        part = part.sort_values(x)
        values = part[y].to_numpy(dtype=float)
        shown = np.isfinite(values)
        lower = np.clip(values - part[low].to_numpy(dtype=float), 0, None)
        upper = np.clip(part[high].to_numpy(dtype=float) - values, 0, None)
        upper = np.where(np.isfinite(upper), upper, 0.0)
        if shown.any():
            axes.errorbar(
                part[x].to_numpy(dtype=float)[shown], values[shown],
                yerr=[lower[shown], upper[shown]], fmt=markers.get(series, "o"), color=color,
                markersize=4.5, capsize=2.5, elinewidth=1, linestyle="none", zorder=3,
            )
        if theory_function is not None and x == "fail_prob":
            exact = theory_function(part.iloc[0], grid_values)
            keep = np.isfinite(exact) & (exact > 0 if axes.get_yscale() == "log" else True)
            axes.plot(grid_values[keep], exact[keep], linestyle="--", color=color,
                      linewidth=1.2, zorder=2)
        elif theory_column is not None:
            axes.plot(part[x], part[theory_column], linestyle="--", color=color, linewidth=1.2,
                      zorder=2)


def _line_figure(
    summary: pd.DataFrame,
    *,
    y: str,
    low: str,
    high: str,
    theory_function: TheoryFunction | None,
    theory_column: str | None,
    x: str,
    hue: str | None,
    col: str | None,
    row: str | None,
    title: str,
    ylabel: str,
    log: bool = False,
    unit_interval: bool = False,
    measured_label: str = MEASURED_LABEL,
) -> Figure:
    layout = _layout(summary, x, hue, col, row, fold="series")
    xs = summary[x].to_numpy(dtype=float) if len(summary) else np.array([0.0, 1.0])
    grid_values = np.union1d(np.linspace(xs.min(), xs.max(), 121), xs)
    with sns.axes_style("whitegrid", STYLE):
        grid = _grid(layout, hue="_hue", hue_order=layout.hue_order, palette=layout.palette,
                     height=3.1, aspect=1.25, sharey=True)
        if log:
            for axes in grid.axes.flat:
                axes.set_yscale("log")
        grid.map_dataframe(
            _draw_series, x=x, y=y, low=low, high=high, theory_function=theory_function,
            theory_column=theory_column, grid_values=grid_values, markers=layout.markers,
        )
        if unit_interval:
            grid.set(ylim=(-0.03, 1.03))
        _legend(grid, layout, hue, exact=theory_function is not None or theory_column is not None,
                measured_label=measured_label)
        return _finish(grid, title, key_label(x), ylabel)


@_quiet
def decision_rate_figure(
    summary: pd.DataFrame,
    hue: str | None = "nodes",
    col: str | None = "rounds",
    row: str | None = None,
    x: str = "fail_prob",
) -> Figure:
    """Decision rate within the round limit against crash probability, with the exact curve."""
    return _line_figure(
        summary, y="decision_rate", low="ci_low", high="ci_high",
        theory_function=_within_theory, theory_column="theory", x=x, hue=hue, col=col, row=row,
        title="Decision within the round limit: measured (95% Wilson interval) and exact (dashed)",
        ylabel="P(decision within R rounds)", unit_interval=True,
    )


@_quiet
def round_decision_rate_figure(
    summary: pd.DataFrame,
    hue: str | None = "nodes",
    col: str | None = "rounds",
    row: str | None = None,
    x: str = "fail_prob",
) -> Figure:
    """Fraction of rounds that decide against crash probability, with the exact ``f^2``."""
    return _line_figure(
        summary, y="round_rate", low="round_ci_low", high="round_ci_high",
        theory_function=_round_theory, theory_column="round_theory", x=x, hue=hue, col=col,
        row=row,
        title="Per-round decision rate: measured (95% Wilson interval) and exact f\u00b2 (dashed)",
        ylabel="P(a round decides)", unit_interval=True,
    )


@_quiet
def violation_rate_figure(
    summary: pd.DataFrame,
    hue: str | None = "protocol",
    col: str | None = "rounds",
    row: str | None = None,
    x: str = "fail_prob",
) -> Figure:
    """Fraction of trials that broke agreement, validity or proposal consistency, against
    crash probability (no exact curve: the checks, not a formula, decide it)."""
    return _line_figure(
        summary, y="violation_rate", low="violation_ci_low", high="violation_ci_high",
        theory_function=None, theory_column=None, x=x, hue=hue, col=col, row=row,
        title="Trials that violate safety: measured (95% Wilson interval)",
        ylabel="P(a trial violates safety)", unit_interval=True,
    )


@_quiet
def messages_per_decision_figure(
    summary: pd.DataFrame,
    hue: str | None = "nodes",
    col: str | None = "rounds",
    row: str | None = None,
    x: str = "fail_prob",
) -> Figure:
    """Messages sent (CRASH included) per deciding round, log scale, with the exact ratio."""
    return _line_figure(
        summary, y="messages_per_decision", low="messages_per_decision_low",
        high="messages_per_decision_high", theory_function=_messages_theory,
        theory_column="messages_theory", x=x, hue=hue, col=col, row=row,
        title="Messages per decision (all messages, CRASH included): measured and exact (dashed)",
        ylabel="messages per decision (log scale)", log=True,
        measured_label="measured, 95% interval (from the per-round rate)",
    )


# ----------------------------------------------------------------------------- heatmap


def _draw_heatmap(
    data: pd.DataFrame,
    *,
    x: str,
    y: str,
    value: str,
    x_values: list[Any],
    y_values: list[Any],
    cmap: str,
    **_: Any,
) -> None:
    axes = plt.gca()
    table = data.pivot_table(index=y, columns=x, values=value, aggfunc="first", dropna=False)
    table = table.reindex(index=y_values, columns=x_values)
    flagged = (data.pivot_table(index=y, columns=x, values="outside_99", aggfunc="first")
               .reindex(index=y_values, columns=x_values)
               if "outside_99" in data.columns else None)
    text = np.full(table.shape, "", dtype=object)
    for i in range(table.shape[0]):
        for j in range(table.shape[1]):
            number = table.iat[i, j]
            if pd.notna(number):
                shown = f"{number:.2f}"
                shown = shown[1:] if shown.startswith("0.") else shown
                mark = (flagged is not None and pd.notna(flagged.iat[i, j])
                        and bool(flagged.iat[i, j]))
                text[i, j] = shown + ("*" if mark else "")
    table.index = [format_value(y, v) for v in table.index]
    table.columns = [format_value(x, v) for v in table.columns]
    sns.heatmap(table.astype(float), ax=axes, vmin=0.0, vmax=1.0, cmap=cmap, cbar=False,
                annot=text, fmt="", annot_kws={"fontsize": 7}, linewidths=0.5,
                linecolor="white", square=False)
    axes.tick_params(axis="x", labelrotation=90)
    axes.tick_params(axis="y", labelrotation=0)


@_quiet
def decision_heatmap_figure(
    summary: pd.DataFrame,
    y: str = "nodes",
    col: str | None = "rounds",
    row: str | None = None,
    x: str = "fail_prob",
    value: str = "decision_rate",
) -> Figure:
    """Measured decision rate as a grid of ``y`` (nodes) by crash probability, one panel per
    ``col`` (round limit); ``*`` marks cells outside the 99% interval around theory."""
    layout = _layout(summary, x, None, col, row, fold="row", also_used=[y])
    _check(summary, y=y, x=x)
    x_values = _order(summary[x])
    y_values = _order(summary[y])
    width = max(3.2, 1.3 + 0.42 * len(x_values))
    height = max(1.8, 1.1 + 0.36 * len(y_values))
    cmap = "viridis"
    # Wide panels (many crash probabilities) stack vertically instead of side by side.
    wrap = 1 if layout.row is None and layout.col is not None and len(x_values) > 8 else None
    with sns.axes_style("white"):
        grid = _grid(layout, height=height, aspect=width / height, sharex=False, sharey=False,
                     col_wrap=wrap)
        grid.map_dataframe(_draw_heatmap, x=x, y=y, value=value, x_values=x_values,
                           y_values=y_values, cmap=cmap)
        for axes in grid.axes.flat:  # the bottom row's tick labels serve all
            if not axes.get_subplotspec().is_last_row():
                axes.set_xticklabels([])
                axes.set_xlabel("")
        figure = _finish(
            grid,
            "Measured decision rate within the round limit\n"
            "(* outside the 99% interval around the exact value)",
            "crash probability p", key_label(y),
        )
        # A colour bar of its own, right of the panels (and of the row titles).
        figure.subplots_adjust(right=1.0 - 1.3 / figure.get_figwidth())
        bar = figure.add_axes((1.0 - 0.85 / figure.get_figwidth(), 0.2,
                               0.15 / figure.get_figwidth(), 0.6))
        mappable = plt.cm.ScalarMappable(norm=matplotlib.colors.Normalize(0, 1), cmap=cmap)
        figure.colorbar(mappable, cax=bar, label="P(decision within R rounds)")
    return figure


# ----------------------------------------------------------------------------- first round


def _draw_stacks(
    data: pd.DataFrame,
    *,
    x: str,
    width: float,
    colours: dict[int, Any],
    **_: Any,
) -> None:
    axes = plt.gca()
    for position, bar in data.groupby(x, sort=True):
        ordered = bar.assign(order=bar["first_round"].where(bar["first_round"] != NO_DECISION,
                                                            10**9)).sort_values("order")
        bottom = 0.0
        exact = 0.0
        for _, part in ordered.iterrows():
            k = int(part["first_round"])
            axes.bar(float(position), part["fraction"], width=width, bottom=bottom,
                     color=colours[k], edgecolor="white", linewidth=0.4, zorder=2)
            bottom += part["fraction"]
            exact += part["theory"]
            if k != NO_DECISION:
                axes.hlines(exact, float(position) - width / 2, float(position) + width / 2,
                            color="black", linewidth=1.1, zorder=3)


@_quiet
def first_decision_round_figure(
    distribution: pd.DataFrame,
    row: str | None = "nodes",
    col: str | None = "rounds",
    x: str = "fail_prob",
) -> Figure:
    """How trials split by their first deciding round (stacked bars, no decision on top), one
    panel per ``row`` x ``col``; black ticks are the exact cumulative probabilities.

    ``distribution`` is :func:`paxos_exp.analysis.aggregate.first_round_distribution`.
    """
    layout = _layout(distribution, x, None, col, row, fold="row")
    rounds = sorted(k for k in distribution["first_round"].unique() if k != NO_DECISION)
    shades = sns.color_palette("crest", max(len(rounds), 1))
    colours: dict[int, Any] = dict(zip(rounds, shades))
    colours[NO_DECISION] = "0.85"
    xs = np.array(_order(distribution[x]), dtype=float) if len(distribution) else np.array([0.0])
    width = 0.75 * (np.diff(xs).min() if len(xs) > 1 else 0.1)
    with sns.axes_style("whitegrid", STYLE):
        grid = _grid(layout, height=2.3, aspect=1.35, sharey=True)
        grid.map_dataframe(_draw_stacks, x=x, width=width, colours=colours)
        grid.set(ylim=(0, 1.0))
        entries: dict[str, Any] = {f"round {k}": Patch(color=colours[k]) for k in rounds}
        entries["no decision"] = Patch(color=colours[NO_DECISION])
        entries["exact, cumulative"] = Line2D([], [], color="black", linewidth=1.1)
        grid.add_legend(legend_data=entries, label_order=list(entries),
                        title="first deciding round")
        return _finish(
            grid,
            "First deciding round: fraction of trials (bars) and exact cumulative probability "
            "(black ticks)",
            key_label(x), "fraction of trials",
        )
