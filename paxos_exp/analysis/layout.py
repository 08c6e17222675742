"""Layout helpers of the figures: the figure style of a context (paper, talk, poster), labels of
configuration values, colours, markers and line styles (which varying column goes where), the
panels, titles and legends. No figure is drawn here.

Sizes are fixed, not fitted: a paper-context figure is exactly 3.4 in (one panel: a single
column) or 6.9 in wide (several panels: the full text width), with 8 pt text, so
``\\includegraphics[width=\\linewidth]`` shows it at its real size. Every figure is a plain
:class:`matplotlib.figure.Figure` with the constrained layout (no pyplot state, no backend).
"""

from __future__ import annotations

import contextlib
import math
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
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
GRID_STYLE = {"axes.grid": True, "grid.linestyle": ":", "grid.alpha": 0.6}


# ----------------------------------------------------------------------------- style


@dataclass(frozen=True)
class Context:
    """What a context fixes: text sizes (points), figure widths (inches), defaults."""

    font: float  # axis labels, tick labels, legend, annotations
    title_font: float  # the figure title
    single_width: float  # one panel across
    full_width: float  # several panels across
    dpi: int  # PNG resolution
    title: bool  # figure titles by default
    marker_size: float
    line_width: float


CONTEXTS = {
    # LaTeX: \columnwidth of two-column classes is 3.3-3.5 in, \textwidth 6.5-7 in.
    "paper": Context(font=8, title_font=9, single_width=3.4, full_width=6.9, dpi=300,
                     title=False, marker_size=3.5, line_width=1.0),
    # A 16:9 slide is 13.3 in wide; leave margins.
    "talk": Context(font=14, title_font=16, single_width=6.0, full_width=11.5, dpi=150,
                    title=True, marker_size=6.5, line_width=1.8),
    "poster": Context(font=20, title_font=24, single_width=9.0, full_width=16.0, dpi=150,
                      title=True, marker_size=9, line_width=2.5),
}
DEFAULT_CONTEXT = "paper"


@dataclass(frozen=True)
class FigureStyle:
    """How figures look: the context (``paper``, ``talk``, ``poster``) and whether they carry
    a title (``None``: the context's default; off for paper, where the caption says it)."""

    context: str = DEFAULT_CONTEXT
    title: bool | None = None

    def __post_init__(self) -> None:
        if self.context not in CONTEXTS:
            raise ValueError(f"context {self.context!r}: choose from {', '.join(CONTEXTS)}")

    @property
    def sizes(self) -> Context:
        return CONTEXTS[self.context]

    @property
    def font(self) -> float:
        return self.sizes.font

    @property
    def show_title(self) -> bool:
        return self.sizes.title if self.title is None else self.title

    def width(self, panels_across: int) -> float:
        return self.sizes.single_width if panels_across <= 1 else self.sizes.full_width

    def rc(self) -> dict[str, Any]:
        """rcParams: seaborn's context (line widths, tick sizes), this context's text sizes,
        and text kept as text in PDF (TrueType, fonttype 42) and SVG (``<text>`` elements)."""
        sizes = self.sizes
        params = dict(sns.plotting_context(self.context))
        font = sizes.font
        params.update({
            "font.size": font, "axes.labelsize": font, "axes.titlesize": font,
            "xtick.labelsize": font, "ytick.labelsize": font, "legend.fontsize": font,
            "legend.title_fontsize": font, "figure.titlesize": sizes.title_font,
            "lines.linewidth": sizes.line_width, "lines.markersize": sizes.marker_size,
            "pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "none",
            "svg.hashsalt": "paxos-exp",  # fixed SVG ids: the same data gives the same file
            "figure.constrained_layout.h_pad": 0.03, "figure.constrained_layout.w_pad": 0.03,
            "figure.dpi": 100,
        })
        return params

    @contextlib.contextmanager
    def applied(self, axes_style: str = "whitegrid") -> Iterator[None]:
        """The style's rcParams (and a seaborn axes style) for drawing and saving."""
        extra = GRID_STYLE if axes_style == "whitegrid" else {}
        with sns.axes_style(axes_style, extra), mpl.rc_context(self.rc()):
            yield


def as_style(style: FigureStyle | str | None) -> FigureStyle:
    """A FigureStyle from a style, a context name, or None (the default: paper)."""
    if style is None:
        return FigureStyle()
    if isinstance(style, str):
        return FigureStyle(context=style)
    return style


# ----------------------------------------------------------------------------- values


def key_label(key: str) -> str:
    return KEY_LABELS.get(key, key.replace("_", " "))


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

    distinct = {tuple(map(_canonical, combo)): combo for combo in combos}
    ordered = sorted(distinct.values(), key=rank)
    lookup = {tuple(map(_canonical, combo)): name(combo) for combo in ordered}
    series = pd.Series([lookup[tuple(map(_canonical, combo))] for combo in combos],
                       index=frame.index)
    return series, list(dict.fromkeys(lookup[tuple(map(_canonical, c))] for c in ordered))


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
    colours = sns.color_palette("colorblind", max(len(hue_order), 1))
    if len(hue_order) > len(set(colours)):
        colours = sns.color_palette("husl", len(hue_order))
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


# ----------------------------------------------------------------------------- panels


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


def finish(panels: Panels, style: FigureStyle, title: str, xlabel: str, ylabel: str) -> Figure:
    """Axis labels on the outer panels, facet titles, the figure title if the style has
    titles, and tick labels in the style's size (also for ticks made when it is drawn)."""
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
    width = figure.get_figwidth() / grid.shape[1]
    for panel in panels:
        i, j = panel.position
        if panels.margin_titles:
            text = panel.col if i == 0 else ""
            if j == grid.shape[1] - 1 and panel.row:
                panel.axes.annotate(
                    panel.row, xy=(1.02, 0.5), xycoords="axes fraction", rotation=270,
                    ha="left", va="center", fontsize=style.font)
        else:
            text = "\n".join(part for part in (panel.row, panel.col) if part)
        panel.axes.set_title(wrap_title(text, width, style.font), fontsize=style.font)
    if style.show_title:
        figure.suptitle(title, fontsize=style.sizes.title_font)
    return figure


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


def add_legend(
    figure: Figure,
    entries: dict[str, Any],
    style: FigureStyle,
    title: str | None = None,
) -> Any:
    """One legend below the panels, as many entries in a row as the width holds."""
    if not entries:
        return None
    font = style.font / 72  # inches
    handle = 3.2 * font * 0.6 + 1.2 * font  # handle length and padding
    widest = max(len(label) for label in entries) * 0.55 * font + handle
    columns = max(1, min(len(entries), int(figure.get_figwidth() * 0.95 // widest)))
    if title is not None:
        title = "\n".join(textwrap.wrap(title, max(20, int(figure.get_figwidth() * 0.95
                                                          / (0.55 * font)))))
    return figure.legend(
        list(entries.values()), list(entries), loc="outside lower center", ncols=columns,
        title=title, frameon=False, handlelength=3.2, columnspacing=1.2, borderaxespad=0.2,
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


def with_context(style: FigureStyle | str | None, **changes: Any) -> FigureStyle:
    return replace(as_style(style), **changes)
