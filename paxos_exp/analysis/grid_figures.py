"""The two figures that are grids rather than curves: the decision-rate heatmap and the
first deciding round (stacked bands, by matplotlib's ``stackplot``). A DataFrame in, a Figure out;
no file is read."""

from __future__ import annotations

from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from paxos_exp.analysis.aggregate import NO_DECISION
from paxos_exp.analysis.draw import FigureLeftOut
from paxos_exp.analysis.exact import law_curve
from paxos_exp.analysis.layout import (
    axis_label,
    check_axes,
    exact_at,
    floats,
    format_value,
    is_missing,
    key_label,
    layout_for,
    order,
    with_x,
)
from paxos_exp.analysis.panels import (
    CHARACTER,
    add_legend,
    finish,
    panel_figure,
    panel_title,
    wrap_title,
)
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
    text_font: float | None,
    x_rotation: float,
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
    axes.set_xticks(np.arange(columns) + 0.5, x_labels, rotation=x_rotation)
    axes.set_yticks(np.arange(rows) + 0.5, y_labels, rotation=0)
    axes.tick_params(length=0)
    axes.grid(False)
    for spine in axes.spines.values():
        spine.set_visible(False)
    for (i, j), number in np.ndenumerate(numbers):
        if text[i, j] and text_font is not None:  # dark cells get white text (luminance)
            red, green, blue, _ = colormap(norm(number))
            light = 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.408
            # Inside its cell: no part of the layout (measuring hundreds of them, twice, was a
            # third of this figure's layout).
            axes.text(j + 0.5, i + 0.5, text[i, j], ha="center", va="center",
                      fontsize=text_font, color=".15" if light else "white", in_layout=False)


# Cells a heatmap must fill, at least, to be drawn: a sweep whose configurations ran at
# different x values (the study's loss-matched partitions) leaves most of the grid empty, and
# its decision-rate figure shows it better.
MIN_FILLED = 0.5
# The smallest size of the numbers in the cells, a fraction of the font: below it, colour alone.
MIN_CELL_FONT = 0.6
COLOUR_BAR_LABEL = "P(decision within R rounds)"
EXTRA_HEIGHT = 4.0  # room for the x labels and title, in multiples of the font size


def _filled(panels: Any, y_by_row: dict[str, list[Any]], x: str, y: str, value: str,
            columns: int) -> tuple[int, int]:
    """Cells of the drawn panels that hold a value, and all their cells."""
    filled = cells = 0
    for panel in panels:
        if not panel.data.empty:
            valued = panel.data[np.isfinite(floats(panel.data, value))]
            filled += len(valued[[x, y]].astype(str).drop_duplicates())
            cells += len(y_by_row[panel.row]) * columns
    return filled, cells


def _row_heights(panels: Any, y_by_row: dict[str, list[Any]], style: FigureStyle,
                 title_width: float) -> list[float]:
    """Inches for each row of panels: its rows of cells (the y values it lists) and its
    titles as :func:`finish` wraps them; in all at least the colour bar's label."""
    inch = style.font / 72
    heights = [0.0] * panels.grid.shape[0]
    for panel in panels:
        i = panel.position[0]
        title = panel_title(panels, panel)
        lines = len(wrap_title(title, title_width, style.font).splitlines()) if title else 0
        cells = 1.9 * len(y_by_row[panel.row])
        heights[i] = max(heights[i], (cells + 1.4 + 1.2 * lines) * inch)
    needed = (len(COLOUR_BAR_LABEL) * CHARACTER + 2.0) * inch
    total = sum(heights)
    return [height * needed / total for height in heights] if total < needed else heights


def decision_heatmap_figure(
    summary: pd.DataFrame,
    y: str = "nodes",
    col: str | None = "rounds",
    row: str | None = None,
    x: str | None = None,
    value: str = "decision_rate",
    style: Style = None,
    min_filled: float = MIN_FILLED,
) -> Figure:
    """Measured decision rate as a grid of ``y`` (nodes) by the fault intensity ``x`` (default
    the one the sweep varies), one panel per ``col`` (round limit); ``*`` marks cells outside
    the 99% interval around theory. Each row of panels lists only the ``y`` values it has
    (settings folded into rows belong to some of them only), a panel with no data is left
    out, and a grid with fewer than ``min_filled`` of its cells filled is not drawn
    (:class:`~paxos_exp.analysis.draw.FigureLeftOut`: the report says why; 0 draws any)."""
    style = as_style(style)
    summary, x = with_x(summary, x)
    layout = layout_for(summary, x, None, col, row, fold="row", also_used=[y])
    check_axes(summary, y=y, x=x)
    x_values = order(summary[x])
    data = layout.data
    y_by_row = {label: order(data.loc[data["_row"] == label, y]) if layout.row is not None
                else order(data[y]) for label in layout.rows}
    cmap = "viridis"
    inch = style.font / 72
    # Wide panels (many x values) stack vertically instead of side by side.
    wrap = 1 if layout.row is None and layout.col is not None and len(x_values) > 8 else None
    with style.applied("white"):
        panels = panel_figure(layout, style, sharex=False, sharey=False, col_wrap=wrap,
                              extra_height=EXTRA_HEIGHT,
                              full_width=True if len(x_values) > 6 else None)
        filled, cells = _filled(panels, y_by_row, x, y, value, len(x_values))
        if cells and filled < min_filled * cells:
            raise FigureLeftOut(
                f"left out: only {filled} of its {cells} cells would have a value (its "
                f"configurations do not share one grid of {y} by {x}); the decision-rate "
                "figure shows them")
        # The width of a cell, to fit its number: the figure less the colour bar and the y
        # labels (once per row of panels: they share them).
        labels_width = max(len(format_value(y, v)) for v in order(summary[y])) * CHARACTER * inch
        columns = panels.grid.shape[1]
        # The colour bar takes about 7% of the width, its ticks and label 5.5 font sizes,
        # the y axis' label 1.5.
        width = panels.figure.get_figwidth()
        panel_width = (0.93 * width - 7 * inch - labels_width) / columns
        cell = max(panel_width, inch) / len(x_values)
        number = 3.6 * CHARACTER * inch  # ".95" and a margin (digits are wider than most)
        text_font = style.font * min(1.0, cell / number)
        text_font = text_font if text_font >= MIN_CELL_FONT * style.font else None
        longest = max(len(format_value(x, v)) for v in x_values) * CHARACTER * inch
        rotation = 90 if longest > cell else 0  # upright rather than running together
        for panel in panels:
            if panel.data.empty:
                panel.axes.set_visible(False)
                continue
            _draw_heatmap(panel.axes, panel.data, style, x=x, y=y, value=value,
                          x_values=x_values, y_values=y_by_row[panel.row], cmap=cmap,
                          text_font=text_font, x_rotation=rotation)
        axes = [panel.axes for panel in panels if panel.axes.get_visible()]
        for each in axes:  # the lowest drawn panel of a column labels the x values, the
            # first of a row the y values
            spec = each.get_subplotspec()
            below = panels.grid[spec.rowspan.stop:, spec.colspan.start]
            if any(other is not None and other.get_visible() for other in below):
                each.set_xticklabels([])
            before = panels.grid[spec.rowspan.start, :spec.colspan.start]
            if wrap is None and any(other is not None and other.get_visible()
                                    for other in before):
                each.set_yticklabels([])
        # Facet titles wrapped to the cells' own width: the y labels beside each panel and
        # the colour bar take the rest (a longer title would run into the next panel or the
        # colour bar).
        title_width = max(1.0, (panels.figure.get_figwidth() - 0.6 - labels_width) / columns)
        heights = _row_heights(panels, y_by_row, style, title_width)
        upright = max(0.0, longest - inch) if rotation else 0.0  # taller x tick labels
        panels.figure.set_figheight(sum(heights) + EXTRA_HEIGHT * inch + upright)
        panels.grid[0, 0].get_gridspec().set_height_ratios(heights)
        xlabel = axis_label(summary, x, short=True)
        figure = finish(panels, style,
                        "Measured decision rate within the round limit "
                        "(* outside the 99% interval around the exact value)",
                        xlabel, key_label(y), title_width=title_width)
        if columns > 1:  # one x label for the figure: one per column would run together
            for each in axes:
                each.set_xlabel("")
                each.xaxis.set_label_coords(0.5, 0.5)
            figure.supxlabel(xlabel, fontsize=style.font)
        mappable = mpl.cm.ScalarMappable(norm=mpl.colors.Normalize(0, 1), cmap=cmap)
        figure.colorbar(mappable, ax=axes, label=COLOUR_BAR_LABEL,
                        fraction=0.05, pad=0.02, aspect=30)
    return figure


# ----------------------------------------------------------------------------- first round

# Rounds 0 .. FIRST_ROUND_BUCKETS - 2 one by one, then "round K or later", then no decision:
# five bands at most, whatever the round limit (R = 20 reads like R = 3).
FIRST_ROUND_BUCKETS = 4
NO_DECISION_LABEL = "no decision"
EXACT_CUMULATIVE_LABEL = "exact, cumulative"
SINGLE_WIDTH = 0.02  # half the width of the band drawn for a lone x value


def _last_round(bucket: str, rounds: int) -> int:
    """The last round a bucket holds, under round limit ``rounds``."""
    number = int(bucket.split()[1])
    return rounds - 1 if bucket.endswith("or later") else number


def _bucket_labels(rounds_seen: list[int]) -> list[str]:
    last = FIRST_ROUND_BUCKETS - 1
    shown = sorted({min(k, last) for k in rounds_seen})
    return [f"round {k} or later" if k == last else f"round {k}" for k in shown]


def _bucket(first_round: int) -> str:
    last = FIRST_ROUND_BUCKETS - 1
    if first_round == NO_DECISION:
        return NO_DECISION_LABEL
    return f"round {last} or later" if first_round >= last else f"round {first_round}"


def _draw_bands(
    axes: Any,
    data: pd.DataFrame,
    *,
    x: str,
    buckets: list[str],
    colours: dict[str, Any],
    style: FigureStyle,
) -> None:
    """Measured fractions stacked bottom up (``Axes.stackplot``); the exact probability
    of a first decision within each band's last round as a black line over them. Both join
    the same x values with straight lines, so where a band's edge leaves its line
    the measurement leaves the law (not the interpolation)."""
    frame = pd.DataFrame({
        "x": floats(data, x),
        "bucket": [_bucket(int(k)) for k in data["first_round"].astype(int)],
        "fraction": floats(data, "fraction"),
    })
    fractions = (frame.groupby(["x", "bucket"])["fraction"].sum().unstack()
                 .reindex(columns=[*buckets, NO_DECISION_LABEL]).sort_index())
    fractions = fractions.dropna(how="all").fillna(0.0)
    measured_at = fractions.index.to_numpy(dtype=float)
    drawn_at = measured_at
    if len(fractions) == 1:  # one x value: a block of width 2 SINGLE_WIDTH
        only = float(measured_at[0])
        fractions = pd.concat([fractions, fractions])
        fractions.index = [only - SINGLE_WIDTH, only + SINGLE_WIDTH]
        drawn_at, measured_at = fractions.index.to_numpy(dtype=float), np.array([only, only])
    # Axes.stackplot rather than DataFrame.plot.area: the same fill_between bands, without
    # pandas' set-up around them (a third of this figure's time).
    axes.stackplot(drawn_at, fractions.to_numpy(dtype=float).T,
                   colors=[colours[b] for b in fractions.columns], linewidth=0, zorder=2)
    rounds = int(floats(data, "rounds")[0]) if "rounds" in data.columns and len(data) else 0
    law = data.iloc[0] if len(data) else None
    for bucket in buckets:
        last = _last_round(bucket, rounds)
        if law is None or last >= rounds:  # a band this round limit does not have
            continue
        # P(a first decision by the end of round ``last``): 1 - (1 - f^2)^(last+1) where
        # rounds are independent, the explored first rounds' sum where they are not.
        def by_last(values: np.ndarray, last: int = last) -> np.ndarray:
            return law_curve(law, values, lambda exact: exact.decision_within(last + 1), x=x)

        exact = exact_at(by_last, measured_at, measured_at)
        axes.plot(drawn_at, exact, color="black", linewidth=0.6 * style.sizes.line_width,
                  zorder=3)
    axes.set_xlabel("")


def first_decision_round_figure(
    distribution: pd.DataFrame,
    row: str | None = "nodes",
    col: str | None = "rounds",
    x: str | None = None,
    style: Style = None,
) -> Figure:
    """How trials split by their first deciding round, against the fault intensity ``x``
    (default the one the sweep varies): measured
    fractions stacked bottom up (round 0, 1, 2, "round 3 or later", no decision on top), and the
    exact probability of a first decision by the end of each band as a black line (the
    cumulative law at the same x values), one panel per ``row`` x ``col``. The bands
    stay few whatever the round limit.

    ``distribution`` is :func:`paxos_exp.analysis.aggregate.first_round_distribution`.
    """
    style = as_style(style)
    distribution, x = with_x(distribution, x)
    layout = layout_for(distribution, x, None, col, row, fold="row")
    rounds_seen = [int(k) for k in pd.unique(distribution["first_round"].astype(int))
                   if k != NO_DECISION]
    buckets = _bucket_labels(rounds_seen) or ["round 0"]
    shades = [mpl.colormaps["viridis"](level) for level in
              np.linspace(0.85, 0.25, len(buckets))] if len(buckets) > 1 else ["#3b8a8c"]
    colours: dict[str, Any] = dict(zip(buckets, shades))
    colours[NO_DECISION_LABEL] = "0.88"
    xs = floats(distribution, x) if len(distribution) else np.array([0.0, 1.0])
    with style.applied():
        # Axes are not shared (pandas' plot would relabel every shared panel at each call);
        # every panel gets the same limits, and only the outer ones their tick labels.
        panels = panel_figure(layout, style, aspect=2.2, sharex=False, sharey=False,
                              extra_height=8.5)
        # A combination the sweep does not have (a setting only one node count ran with) is
        # no panel at all, not an empty frame; tick labels go on the outermost drawn panels.
        drawn = [panel for panel in panels if not panel.data.empty] or list(panels)
        lowest = {j: max(p.position[0] for p in drawn if p.position[1] == j)
                  for j in {p.position[1] for p in drawn}}
        leftmost = {i: min(p.position[1] for p in drawn if p.position[0] == i)
                    for i in {p.position[0] for p in drawn}}
        shown = {id(panel) for panel in drawn}
        for panel in panels:
            if id(panel) not in shown:
                panel.axes.set_visible(False)
        for panel in drawn:
            axes = panel.axes
            axes.grid(False)
            _draw_bands(axes, panel.data, x=x, buckets=buckets, colours=colours, style=style)
            axes.set_ylim(0, 1.0)
            low, high = float(np.nanmin(xs)), float(np.nanmax(xs))
            if low == high:
                low, high = low - 2 * SINGLE_WIDTH, high + 2 * SINGLE_WIDTH
            axes.set_xlim(low, high)
            i, j = panel.position
            axes.tick_params(labelbottom=i == lowest[j], labelleft=j == leftmost[i])
        entries: dict[str, Any] = {label: Patch(color=colours[label]) for label in buckets}
        entries[NO_DECISION_LABEL] = Patch(color=colours[NO_DECISION_LABEL])
        entries[EXACT_CUMULATIVE_LABEL] = Line2D([], [], color="black",
                                                 linewidth=0.6 * style.sizes.line_width)
        add_legend(panels.figure, entries, style,
                   title="first deciding round (bands: measured; lines: exact)")
        return finish(
            panels, style,
            "First deciding round: fraction of trials (bands) and exact cumulative "
            "probability (lines)",
            axis_label(distribution, x), "fraction of trials",
        )
