"""The two figures that are grids rather than curves: the decision-rate heatmap and the
first deciding round (stacked bars). A DataFrame in, a Figure out; no file is read."""

from __future__ import annotations

import math
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from paxos_exp.analysis.aggregate import NO_DECISION
from paxos_exp.analysis.layout import (
    check_axes,
    floats,
    format_value,
    is_missing,
    key_label,
    layout_for,
    order,
)
from paxos_exp.analysis.panels import add_legend, finish, panel_figure
from paxos_exp.analysis.style import FigureStyle, as_style

Style = FigureStyle | str | None


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
        "_value": floats(data, value),
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
    # One mesh per panel and a text per cell (seaborn's heatmap draws the whole figure once
    # per panel to decide on rotating its labels; these stay horizontal anyway).
    colormap = mpl.colormaps[cmap]
    norm = mpl.colors.Normalize(0.0, 1.0)
    axes.pcolormesh(np.ma.masked_invalid(numbers), cmap=colormap, norm=norm,
                    edgecolors="white", linewidth=0.5)
    rows, columns = numbers.shape
    axes.set(xlim=(0, columns), ylim=(rows, 0))  # first row on top
    axes.set_xticks(np.arange(columns) + 0.5, x_labels, rotation=0)
    axes.set_yticks(np.arange(rows) + 0.5, y_labels, rotation=0)
    axes.tick_params(length=0)
    axes.grid(False)
    for spine in axes.spines.values():
        spine.set_visible(False)
    for (i, j), number in np.ndenumerate(numbers):
        if text[i, j]:  # dark cells get white text (relative luminance of the colour)
            red, green, blue, _ = colormap(norm(number))
            light = 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.408
            axes.text(j + 0.5, i + 0.5, text[i, j], ha="center", va="center",
                      fontsize=style.font, color=".15" if light else "white")


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
        "fraction": floats(data, "fraction"),
        "theory": floats(data, "theory"),
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
