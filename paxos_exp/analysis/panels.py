"""The panels of a figure, sized for a :class:`~paxos_exp.analysis.style.FigureStyle`; facet
titles, axis labels and the legend.

Every figure is a plain :class:`matplotlib.figure.Figure` with the constrained layout and an Agg
canvas of its own (no pyplot state, no backend change) and a fixed size: the style's column
width for one panel across, its text width for several.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from paxos_exp.analysis.layout import Layout
from paxos_exp.analysis.style import FigureStyle


@dataclass
class Panel:
    axes: Any
    data: pd.DataFrame
    row: str  # its row label ("" without rows)
    col: str  # its column label ("" without columns)
    position: tuple[int, int]  # (row, column) in the grid


@dataclass
class Panels:
    """A figure with one panel per (row, column) label of a layout."""

    figure: Figure
    panels: list[Panel]
    grid: np.ndarray  # the axes, (rows, columns); None where a wrapped grid has no panel
    margin_titles: bool
    legend_entries: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Panel]:
        return iter(self.panels)


MARGIN_TITLE_LENGTH = 24  # longer row names go into each panel's title instead


def panel_figure(
    layout: Layout,
    style: FigureStyle,
    *,
    panel_height: float | None = None,
    aspect: float = 1.3,
    sharex: bool = True,
    sharey: bool = True,
    col_wrap: int | None = None,
    extra_height: float | None = None,
    full_width: bool | None = None,
) -> Panels:
    """The figure and its panels, sized for the style: one panel per row and column label.

    The width is the context's single-column width for one panel across, else its full text
    width; each panel is ``panel_height`` tall (default: its width / ``aspect``), plus room for
    titles and the legend (``extra_height``, in multiples of the font size). ``full_width``
    forces the full text width (True) or a single column (False).
    """
    rows, cols = layout.rows, layout.cols
    if col_wrap is not None and layout.row is None and len(cols) > col_wrap:
        shape = (math.ceil(len(cols) / col_wrap), col_wrap)
        cells = [("", col, divmod(i, col_wrap)) for i, col in enumerate(cols)]
    else:
        col_wrap = None
        shape = (len(rows), len(cols))
        cells = [(row, col, (i, j)) for i, row in enumerate(rows) for j, col in enumerate(cols)]
    width = style.width(2 if full_width else shape[1]) if full_width is not False \
        else style.width(1)
    inch = style.font / 72
    if panel_height is None:
        panel_height = min(width / shape[1] / aspect, 2.6 * style.font / 8)
    extra = (extra_height if extra_height is not None else 8.0) * inch
    height = shape[0] * panel_height + extra
    figure = Figure(figsize=(width, height), layout="constrained")
    # A canvas of its own (Agg draws every format's layout): without one, every text
    # measurement makes matplotlib print the figure to find a renderer. The backend of
    # pyplot is left alone.
    FigureCanvasAgg(figure)
    grid = figure.subplots(*shape, sharex=sharex, sharey=sharey, squeeze=False)
    margin = (layout.row is not None and layout.col is not None and col_wrap is None
              and max(map(len, rows)) <= MARGIN_TITLE_LENGTH)
    panels = []
    data = layout.data
    for row, col, (i, j) in cells:
        mask = (data["_row"] == row) & (data["_col"] == col)
        panels.append(Panel(grid[i, j], data[mask], row, col, (i, j)))
    used = {id(panel.axes) for panel in panels}
    for axes in grid.flat:
        if id(axes) not in used:
            axes.set_visible(False)
    return Panels(figure, panels, grid, margin)


def finish(panels: Panels, style: FigureStyle, title: str, xlabel: str, ylabel: str,
           title_width: float | None = None) -> Figure:
    """Axis labels on the outer panels, facet titles, the figure title if the style has
    titles, and tick labels in the style's size (also for ticks made when it is drawn).
    Facet titles are wrapped to ``title_width`` inches (default: the figure's width per
    column, less margins)."""
    figure, grid = panels.figure, panels.grid
    visible = [axes for axes in grid.flat if axes.get_visible()]
    for axes in visible:
        axes.set_xlabel("")
        axes.set_ylabel("")
        axes.tick_params(labelsize=style.font)
    for j in range(grid.shape[1]):  # the lowest visible panel of each column
        column = [axes for axes in grid[:, j] if axes.get_visible()]
        if column:
            column[-1].xaxis.set_tick_params(labelbottom=True)
            column[-1].set_xlabel(xlabel)
    # One y label for the whole figure when several rows of panels share it.
    if grid.shape[0] > 1:
        figure.supylabel(ylabel, fontsize=style.font)
    else:
        grid[0, 0].set_ylabel(ylabel)
    width = title_width if title_width is not None else \
        0.8 * figure.get_figwidth() / grid.shape[1]  # a panel, less margins and labels
    for panel in panels:
        if panels.margin_titles and panel.row and panel.axes.get_visible() and \
                panel.position[1] == _last_drawn(panels)[1].get(panel.position[0]):
            panel.axes.annotate(
                panel.row, xy=(1.02, 0.5), xycoords="axes fraction", rotation=270,
                ha="left", va="center", fontsize=style.font)
        panel.axes.set_title(wrap_title(panel_title(panels, panel), width, style.font),
                             fontsize=style.font)
    if style.show_title:
        figure.suptitle(title, fontsize=style.sizes.title_font)
    # matplotlib places an axis label automatically: it measures the axis' tick labels again
    # in every layout pass and every draw, a tenth of a report, even where the label is empty
    # (inner panels). An empty label shows nothing wherever it is, so it gets a fixed place;
    # set_xlabel/set_ylabel on such a panel later needs set_label_coords too.
    for axes in visible:
        for axis in (axes.xaxis, axes.yaxis):
            if not axis.get_label_text():
                axis.set_label_coords(0.5, 0.5)
    return figure


def _last_drawn(panels: Panels) -> tuple[dict[int, int], dict[int, int]]:
    """The top drawn row of each column, and the last drawn column of each row (a figure
    may leave out a panel with no data)."""
    top: dict[int, int] = {}
    right: dict[int, int] = {}
    for panel in panels:
        if panel.axes.get_visible():
            i, j = panel.position
            top[j] = min(top.get(j, i), i)
            right[i] = max(right.get(i, j), j)
    return top, right


def panel_title(panels: Panels, panel: Panel) -> str:
    """A panel's title as :func:`finish` sets it: its row and column labels; with margin
    titles, its column label on the top drawn panel of a column only (the row's label goes
    beside the last drawn panel of a row)."""
    if panels.margin_titles:
        top = _last_drawn(panels)[0]
        return panel.col if top.get(panel.position[1]) == panel.position[0] else ""
    return "\n".join(part for part in (panel.row, panel.col) if part)


def wrap_title(title: str, width_inches: float, font: float) -> str:
    """Break a facet title at its commas so it fits over its panel."""
    limit = max(10, int(width_inches * 72 / (0.55 * font)))
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


CHARACTER = 0.55  # the width of a character, in multiples of the font size
HANDLE = 3.2  # legend handle length, in multiples of the font size


def legend_shape(labels: list[str], width: float, style: FigureStyle,
                 title: str | None = None) -> tuple[int, int, str | None]:
    """Columns and rows of a legend of ``labels`` that fits ``width`` inches (columns filled
    top to bottom, each as wide as its widest label), and its title wrapped to fit."""
    font = style.font / 72  # inches
    sizes = [(len(label) * CHARACTER + HANDLE + 1.4) * font for label in labels]
    columns = 1
    for candidate in range(len(labels), 0, -1):
        rows = math.ceil(len(labels) / candidate)
        widths = [max(sizes[start:start + rows]) for start in range(0, len(labels), rows)]
        if sum(widths) <= 0.95 * width:
            columns = candidate
            break
    if title is not None:
        title = "\n".join(textwrap.wrap(title, max(20, int(0.95 * width / (CHARACTER * font)))))
    return columns, math.ceil(len(labels) / columns), title


def legend_height(labels: list[str], width: float, style: FigureStyle,
                  title: str | None = None) -> float:
    """The height of that legend, in multiples of the font size."""
    if not labels:
        return 0.0
    _, rows, title = legend_shape(labels, width, style, title)
    return 1.45 * rows + (1.3 * (title.count("\n") + 1) if title else 0.0) + 0.8


def add_legend(
    figure: Figure,
    entries: dict[str, Any],
    style: FigureStyle,
    title: str | None = None,
) -> Any:
    """One legend below the panels, as many columns as the width holds."""
    if not entries:
        return None
    columns, _, title = legend_shape(list(entries), figure.get_figwidth(), style, title)
    return figure.legend(
        list(entries.values()), list(entries), loc="outside lower center", ncols=columns,
        title=title, frameon=False, handlelength=HANDLE, columnspacing=1.2, borderaxespad=0.2,
        fontsize=style.font, title_fontsize=style.font,
    )


def hue_entries(layout: Layout, hue: str | None, style: FigureStyle, lines: bool,
                points: bool = True) -> dict[str, Any]:
    """Legend entries: one per colour (its marker and line style), then one per series."""
    entries: dict[str, Any] = {}
    size = style.sizes.marker_size
    if hue is not None:
        for label in layout.hue_order:
            entries[label] = Line2D(
                [], [], color=layout.palette[label], marker=layout.markers[label] if points
                else None, markersize=size, linestyle=layout.line_styles[label] if lines
                else "none", linewidth=style.sizes.line_width)
    for label in layout.series_order:
        if label:
            entries[label] = Line2D([], [], color="0.3", marker="o", markersize=size,
                                    fillstyle=layout.fills[label], linestyle="none")
    return entries
