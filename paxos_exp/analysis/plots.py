"""Figures of a summary: a DataFrame in, a matplotlib Figure out; no file is read, and the
matplotlib backend is never changed (figures are plain ``Figure`` objects, outside pyplot).

Every figure puts ``fail_prob`` on the x axis and can map any configuration column onto the
colour (``hue``), the facet columns (``col``) and the facet rows (``row``). Each colour also has
its own marker and line style. Configuration columns that vary but are on no axis are never
merged: line figures draw them as separate series (one marker fill each, named in the legend),
the heatmap and the first-round figure give them their own facet rows. Measured values are
points with 95% Wilson interval bars; the exact value is the line in the same colour and style.

``style`` (a :class:`~paxos_exp.analysis.layout.FigureStyle` or a context name, ``"paper"`` by
default) sets the size and the fonts: paper figures fit a LaTeX column or text width with 8 pt
text and carry no title (the caption says what the figure shows).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import matplotlib as mpl
from matplotlib import patheffects
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from paxos_exp.analysis.aggregate import NO_DECISION, row_law
from paxos_exp.analysis.layout import (
    EXACT_LABEL,
    MEASURED_LABEL,
    FigureStyle,
    Layout,
    Panels,
    add_legend,
    as_style,
    check_axes,
    finish,
    format_value,
    hue_entries,
    is_missing,
    key_label,
    layout_for,
    order,
    panel_figure,
)
from paxos_exp.core.theory import RoundLaw

Style = FigureStyle | str | None

# ----------------------------------------------------------------------------- exact values

_LAW_KEYS = ("nodes", "protocol", "faults", "join_quorum", "vote_quorum")


def _plain(value: Any) -> Any:
    """A hashable, plain spelling of a frame value (None for any missing value)."""
    if is_missing(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


@functools.lru_cache(maxsize=16384)
def _cached_law(key: tuple[Any, ...], fail_prob: float) -> RoundLaw | None:
    return row_law({**dict(zip(_LAW_KEYS, key)), "fail_prob": fail_prob})


def _law_key(row: pd.Series) -> tuple[Any, ...]:
    return tuple(_plain(row.get(name)) for name in _LAW_KEYS)


def _law_curve(row: pd.Series, probabilities: np.ndarray,
               value: Callable[[RoundLaw], float]) -> np.ndarray:
    """``value(law)`` of the row's exact law at each crash probability (NaN where none).
    Laws are cached: every figure and panel of a report draws the same few curves."""
    key = _law_key(row)
    curve = []
    for p in probabilities:
        law = _cached_law(key, float(p))
        curve.append(math.nan if law is None else value(law))
    return np.array(curve, dtype=float)


def _within_theory(row: pd.Series, probabilities: np.ndarray) -> np.ndarray:
    rounds = int(row["rounds"])
    return _law_curve(row, probabilities, lambda law: law.decision_within(rounds))


def _round_theory(row: pd.Series, probabilities: np.ndarray) -> np.ndarray:
    return _law_curve(row, probabilities, lambda law: law.decides)


def _messages_theory(row: pd.Series, probabilities: np.ndarray) -> np.ndarray:
    nodes = int(row["nodes"])
    return _law_curve(row, probabilities, lambda law: law.messages_per_decision(nodes))


# ----------------------------------------------------------------------------- line figures

TheoryFunction = Callable[[pd.Series, np.ndarray], np.ndarray]


def _floats(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A column as floats, NaN for missing values (nullable and categorical dtypes too)."""
    return pd.to_numeric(frame[column].astype(object), errors="coerce").to_numpy(dtype=float)


def _draw_series(
    axes: Any,
    data: pd.DataFrame,
    layout: Layout,
    style: FigureStyle,
    *,
    x: str,
    y: str,
    low: str,
    high: str,
    theory_function: TheoryFunction | None,
    theory_column: str | None,
    grid_values: np.ndarray,
    log: bool,
) -> None:
    sizes = style.sizes
    for (hue, series), part in data.groupby(["_hue", "_series"], sort=False, observed=True):
        xs = _floats(part, x)
        sort = np.argsort(xs, kind="stable")
        part, xs = part.iloc[sort], xs[sort]
        colour, marker = layout.palette[hue], layout.markers[hue]
        line_style, fill = layout.line_styles[hue], layout.fills[series]
        values = _floats(part, y)
        shown = np.isfinite(values) & ((values > 0) if log else True)
        lower = np.clip(values - _floats(part, low), 0, None)
        upper = np.clip(_floats(part, high) - values, 0, None)
        upper = np.where(np.isfinite(upper), upper, 0.0)
        lower = np.where(np.isfinite(lower), lower, 0.0)
        if shown.any():
            axes.errorbar(
                xs[shown], values[shown], yerr=[lower[shown], upper[shown]], fmt=marker,
                color=colour, markersize=sizes.marker_size, fillstyle=fill,
                markerfacecolor="white" if fill == "none" else colour,
                markeredgewidth=0.8 * sizes.line_width, capsize=0.6 * sizes.marker_size,
                elinewidth=0.7 * sizes.line_width, linestyle="none", zorder=3,
            )
        exact = None
        if theory_function is not None and x == "fail_prob":
            exact = (grid_values, theory_function(part.iloc[0], grid_values))
        elif theory_column is not None and theory_column in part.columns:
            exact = (xs, _floats(part, theory_column))
        elif theory_function is None and theory_column is None and shown.any():
            exact = (xs[shown], values[shown])  # no law: a thin line guides the eye
        if exact is not None:
            line_x, line_y = exact
            keep = np.isfinite(line_y) & ((line_y > 0) if log else True)
            axes.plot(line_x[keep], line_y[keep], linestyle=line_style, color=colour,
                      linewidth=sizes.line_width, zorder=2)


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
    style: Style,
    log: bool = False,
    unit_interval: bool = False,
    measured_label: str = MEASURED_LABEL,
) -> Figure:
    style = as_style(style)
    layout = layout_for(summary, x, hue, col, row, fold="series")
    xs = _floats(summary, x) if len(summary) else np.array([0.0, 1.0])
    grid_values = np.union1d(np.linspace(np.nanmin(xs), np.nanmax(xs), 101), xs)
    exact = theory_function is not None or theory_column is not None
    with style.applied():
        panels = panel_figure(layout, style, aspect=1.25, extra_height=_legend_height(
            layout, hue, style))
        for panel in panels:
            if log:
                panel.axes.set_yscale("log")
            _draw_series(panel.axes, panel.data, layout, style, x=x, y=y, low=low, high=high,
                         theory_function=theory_function, theory_column=theory_column,
                         grid_values=grid_values, log=log)
        if unit_interval:
            panels.grid[0, 0].set_ylim(-0.03, 1.03)
        entries = hue_entries(layout, hue, style, lines=True)
        what = f"{measured_label}; {EXACT_LABEL}" if exact else measured_label
        legend_title = f"{key_label(hue)} ({what})" if hue is not None else what
        if not entries:  # one colour, no series: a legend that only explains the marks
            entries = {"measured": Line2D([], [], color="0.2", marker="o", linestyle="none")}
            if exact:
                entries["exact"] = Line2D([], [], color="0.2", linestyle="-")
            legend_title = None
        add_legend(panels.figure, entries, style, title=legend_title)
        return finish(panels, style, title, key_label(x), ylabel)


def _legend_height(layout: Layout, hue: str | None, style: FigureStyle) -> float:
    """Room below the panels for the x label and the legend, in multiples of the font."""
    entries = len(layout.hue_order) + sum(1 for label in layout.series_order if label)
    return 7.0 + 1.6 * max(0, math.ceil(entries / 6) - 1)


def decision_rate_figure(
    summary: pd.DataFrame,
    hue: str | None = "nodes",
    col: str | None = "rounds",
    row: str | None = None,
    x: str = "fail_prob",
    style: Style = None,
) -> Figure:
    """Decision rate within the round limit against crash probability, with the exact curve."""
    return _line_figure(
        summary, y="decision_rate", low="ci_low", high="ci_high",
        theory_function=_within_theory, theory_column="theory", x=x, hue=hue, col=col, row=row,
        title="Decision within the round limit: measured (95% Wilson interval) and exact",
        ylabel="P(decision within R rounds)", unit_interval=True, style=style,
    )


def round_decision_rate_figure(
    summary: pd.DataFrame,
    hue: str | None = "nodes",
    col: str | None = "rounds",
    row: str | None = None,
    x: str = "fail_prob",
    style: Style = None,
) -> Figure:
    """Fraction of rounds that decide against crash probability, with the exact ``f^2``."""
    return _line_figure(
        summary, y="round_rate", low="round_ci_low", high="round_ci_high",
        theory_function=_round_theory, theory_column="round_theory", x=x, hue=hue, col=col,
        row=row,
        title="Per-round decision rate: measured (95% Wilson interval) and exact f\u00b2",
        ylabel="P(a round decides)", unit_interval=True, style=style,
    )


def violation_rate_figure(
    summary: pd.DataFrame,
    hue: str | None = "protocol",
    col: str | None = "rounds",
    row: str | None = None,
    x: str = "fail_prob",
    style: Style = None,
) -> Figure:
    """Fraction of trials that broke agreement, validity or proposal consistency, against
    crash probability (no exact curve: the checks, not a formula, decide it)."""
    return _line_figure(
        summary, y="violation_rate", low="violation_ci_low", high="violation_ci_high",
        theory_function=None, theory_column=None, x=x, hue=hue, col=col, row=row,
        title="Trials that violate safety: measured (95% Wilson interval)",
        ylabel="P(a trial violates safety)", unit_interval=True, style=style,
    )


def messages_per_decision_figure(
    summary: pd.DataFrame,
    hue: str | None = "nodes",
    col: str | None = "rounds",
    row: str | None = None,
    x: str = "fail_prob",
    style: Style = None,
) -> Figure:
    """Messages sent (CRASH included) per deciding round, log scale, with the exact ratio."""
    return _line_figure(
        summary, y="messages_per_decision", low="messages_per_decision_low",
        high="messages_per_decision_high", theory_function=_messages_theory,
        theory_column="messages_theory", x=x, hue=hue, col=col, row=row,
        title="Messages per decision (all messages, CRASH included): measured and exact",
        ylabel="messages per decision", log=True, style=style,
        measured_label="points: measured, 95% interval from the per-round rate",
    )


# ----------------------------------------------------------------------------- heatmap


def _draw_heatmap(
    axes: Any,
    data: pd.DataFrame,
    style: FigureStyle,
    *,
    x: str,
    y: str,
    value: str,
    x_values: list[Any],
    y_values: list[Any],
    cmap: str,
) -> None:
    x_labels = [format_value(x, v) for v in x_values]
    y_labels = [format_value(y, v) for v in y_values]
    frame = pd.DataFrame({
        "_x": [format_value(x, v) for v in data[x].astype(object)],
        "_y": [format_value(y, v) for v in data[y].astype(object)],
        "_value": _floats(data, value),
        "_flag": (data["outside_99"].astype(object).map(
            lambda flag: (not is_missing(flag)) and bool(flag))
            if "outside_99" in data.columns else False),
    })
    table = frame.pivot_table(index="_y", columns="_x", values="_value", aggfunc="first",
                              dropna=False).reindex(index=y_labels, columns=x_labels)
    flagged = frame.pivot_table(index="_y", columns="_x", values="_flag", aggfunc="max"
                                ).reindex(index=y_labels, columns=x_labels)
    numbers = table.to_numpy(dtype=float)
    text = np.full(numbers.shape, "", dtype=object)
    for (i, j), number in np.ndenumerate(numbers):
        if np.isfinite(number):
            shown = f"{number:.2f}"
            shown = "1" if shown == "1.00" else shown.removeprefix("0")
            mark = flagged.iat[i, j]
            text[i, j] = shown + ("*" if (not is_missing(mark)) and bool(mark) else "")
    sns.heatmap(table.astype(float), ax=axes, vmin=0.0, vmax=1.0, cmap=cmap, cbar=False,
                annot=text, fmt="", annot_kws={"fontsize": style.font}, linewidths=0.5,
                linecolor="white", square=False)
    axes.tick_params(axis="x", labelrotation=0)
    axes.tick_params(axis="y", labelrotation=0)
    axes.set_xlabel("")
    axes.set_ylabel("")


def decision_heatmap_figure(
    summary: pd.DataFrame,
    y: str = "nodes",
    col: str | None = "rounds",
    row: str | None = None,
    x: str = "fail_prob",
    value: str = "decision_rate",
    style: Style = None,
) -> Figure:
    """Measured decision rate as a grid of ``y`` (nodes) by crash probability, one panel per
    ``col`` (round limit); ``*`` marks cells outside the 99% interval around theory."""
    style = as_style(style)
    layout = layout_for(summary, x, None, col, row, fold="row", also_used=[y])
    check_axes(summary, y=y, x=x)
    x_values = order(summary[x])
    y_values = order(summary[y])
    cmap = "viridis"
    inch = style.font / 72
    # Wide panels (many crash probabilities) stack vertically instead of side by side.
    wrap = 1 if layout.row is None and layout.col is not None and len(x_values) > 8 else None
    panel_height = (1.9 * len(y_values) + 2.6) * inch
    with style.applied("white"):
        panels = panel_figure(layout, style, panel_height=panel_height, sharex=False,
                              sharey=False, col_wrap=wrap, extra_height=4.0,
                              full_width=True if len(x_values) > 6 else None)
        for panel in panels:
            _draw_heatmap(panel.axes, panel.data, style, x=x, y=y, value=value,
                          x_values=x_values, y_values=y_values, cmap=cmap)
        axes = [panel.axes for panel in panels]
        for each in axes:  # the lowest panel's tick labels serve all
            if each.get_subplotspec().rowspan.stop < panels.grid.shape[0]:
                each.set_xticklabels([])
        figure = finish(panels, style,
                        "Measured decision rate within the round limit "
                        "(* outside the 99% interval around the exact value)",
                        "crash probability p", key_label(y))
        mappable = mpl.cm.ScalarMappable(norm=mpl.colors.Normalize(0, 1), cmap=cmap)
        figure.colorbar(mappable, ax=axes, label="P(decision within R rounds)",
                        fraction=0.05, pad=0.02, aspect=30)
    return figure


# ----------------------------------------------------------------------------- first round

# Bars show rounds 0 .. FIRST_ROUND_BUCKETS - 2 one by one, then "round K or later", then no
# decision: six segments at most, whatever the round limit (R = 20 reads like R = 3).
FIRST_ROUND_BUCKETS = 4
NO_DECISION_LABEL = "no decision"


def _bucket_labels(rounds_seen: list[int]) -> list[str]:
    last = FIRST_ROUND_BUCKETS - 1
    shown = sorted({min(k, last) for k in rounds_seen})
    return [f"round {k} or later" if k == last else f"round {k}" for k in shown]


def _bucket(first_round: int) -> str:
    last = FIRST_ROUND_BUCKETS - 1
    if first_round == NO_DECISION:
        return NO_DECISION_LABEL
    return f"round {last} or later" if first_round >= last else f"round {first_round}"


def _draw_stacks(
    axes: Any,
    data: pd.DataFrame,
    *,
    x: str,
    x_labels: list[str],
    buckets: list[str],
    colours: dict[str, Any],
    style: FigureStyle,
    min_gap: float,
) -> None:
    frame = pd.DataFrame({
        "x": [format_value(x, v) for v in data[x].astype(object)],
        "bucket": [_bucket(int(k)) for k in data["first_round"].astype(int)],
        "fraction": _floats(data, "fraction"),
        "theory": _floats(data, "theory"),
    })
    sums = frame.groupby(["x", "bucket"], sort=False)[["fraction", "theory"]].sum(min_count=1)
    fractions = sums["fraction"].unstack().reindex(index=x_labels,
                                                   columns=[*buckets, NO_DECISION_LABEL])
    fractions.plot.bar(stacked=True, ax=axes, width=0.8, color=[colours[b] for b in
                       fractions.columns], legend=False, rot=0, edgecolor="white",
                       linewidth=0.3, zorder=2)
    # The exact cumulative probability at the top of each decision bucket. A tick closer than
    # ``min_gap`` to the one drawn below it would merge with it: it is left out.
    exact = sums["theory"].unstack().reindex(index=x_labels, columns=buckets)
    cumulative = exact.cumsum(axis=1, skipna=False).to_numpy(dtype=float)
    positions = np.arange(len(x_labels), dtype=float)
    width = 0.8 * style.sizes.line_width
    outline = [patheffects.withStroke(linewidth=width + 1.2, foreground="white")]
    below = np.full(len(x_labels), -np.inf)
    for column in range(cumulative.shape[1]):
        heights = cumulative[:, column]
        keep = np.isfinite(heights) & (heights - below >= min_gap)
        below = np.where(keep, heights, below)
        axes.hlines(heights[keep], positions[keep] - 0.4, positions[keep] + 0.4,
                    color="black", linewidth=width, zorder=3, path_effects=outline)
    axes.set_xlabel("")


def first_decision_round_figure(
    distribution: pd.DataFrame,
    row: str | None = "nodes",
    col: str | None = "rounds",
    x: str = "fail_prob",
    style: Style = None,
) -> Figure:
    """How trials split by their first deciding round (stacked bars: round 0, 1, 2, then "3
    or later", no decision on top), one panel per ``row`` x ``col``; black ticks are the exact
    cumulative probabilities. The buckets stay few whatever the round limit.

    ``distribution`` is :func:`paxos_exp.analysis.aggregate.first_round_distribution`.
    """
    style = as_style(style)
    layout = layout_for(distribution, x, None, col, row, fold="row")
    rounds_seen = [int(k) for k in pd.unique(distribution["first_round"].astype(int))
                   if k != NO_DECISION]
    buckets = _bucket_labels(rounds_seen) or ["round 0"]
    shades = [mpl.colormaps["viridis"](level) for level in
              np.linspace(0.9, 0.2, len(buckets))] if len(buckets) > 1 else ["#3b8a8c"]
    colours: dict[str, Any] = dict(zip(buckets, shades))
    colours[NO_DECISION_LABEL] = "0.85"
    x_labels = [format_value(x, v) for v in (order(distribution[x]) if len(distribution)
                                             else [0.0])]
    columns = len(layout.cols)
    panel_width = style.width(columns) / columns
    # Every k-th crash probability is labelled, so labels never run into each other.
    label_width = (max(map(len, x_labels)) + 1.5) * 0.6 * style.font / 72
    stride = max(1, math.ceil(len(x_labels) * label_width / (0.9 * panel_width)))
    with style.applied():
        # Axes are not shared: every panel has the same positions and limits anyway, and
        # shared axes make each bar call update all fifteen panels.
        panels = panel_figure(layout, style, aspect=2.2, sharex=False, sharey=False,
                              extra_height=8.5)
        panel_points = panels.grid[0, 0].get_position().height * panels.figure.get_figheight() * 72
        min_gap = 3.0 / max(panel_points, 1.0)  # 3 pt between two ticks, at least
        positions = np.arange(len(x_labels))
        last_row = panels.grid.shape[0] - 1
        for panel in panels:
            axes = panel.axes
            axes.grid(False, axis="x")
            _draw_stacks(axes, panel.data, x=x, x_labels=x_labels, buckets=buckets,
                         colours=colours, style=style, min_gap=min_gap)
            axes.set_ylim(0, 1.0)
            axes.set_xlim(-0.5, len(x_labels) - 0.5)
            i, j = panel.position
            axes.set_xticks(positions[::stride], x_labels[::stride] if i == last_row else [])
            if j > 0:
                axes.tick_params(axis="y", labelleft=False)
        entries: dict[str, Any] = {label: Patch(color=colours[label]) for label in buckets}
        entries[NO_DECISION_LABEL] = Patch(color=colours[NO_DECISION_LABEL])
        entries["exact, cumulative"] = Line2D([], [], color="black",
                                              linewidth=style.sizes.line_width)
        add_legend(panels.figure, entries, style, title="first deciding round")
        return finish(
            panels, style,
            "First deciding round: fraction of trials (bars) and exact cumulative probability "
            "(black ticks)",
            key_label(x), "fraction of trials",
        )


__all__ = [
    "FigureStyle",
    "decision_heatmap_figure",
    "decision_rate_figure",
    "first_decision_round_figure",
    "messages_per_decision_figure",
    "round_decision_rate_figure",
    "violation_rate_figure",
]
