"""Figures of a summary: a DataFrame in, a matplotlib Figure out; no file is read, and the
matplotlib backend is never changed (figures are plain ``Figure`` objects, outside pyplot).

Every figure puts a fault intensity on the x axis: ``x``, by default the one the frame's
sweep varies (``fail_prob`` for the assignment's omission model, ``crash_prob`` for
``crash_stop``...: :mod:`.intensity`), named as the fault model declares it, and draws the
rows that intensity belongs to. It can map any configuration column onto the
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

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullLocator

from paxos_exp.analysis.exact import messages_theory_curve, round_theory_curve, within_theory
from paxos_exp.analysis.grid_figures import decision_heatmap_figure, first_decision_round_figure
from paxos_exp.analysis.layout import (
    EXACT_LABEL,
    MEASURED_LABEL,
    Layout,
    axis_label,
    exact_at,
    floats,
    key_label,
    layout_for,
    with_x,
)
from paxos_exp.analysis.panels import (
    add_legend,
    finish,
    hue_entries,
    legend_height,
    panel_figure,
)
from paxos_exp.analysis.style import FigureStyle, as_style

Style = FigureStyle | str | None

# ----------------------------------------------------------------------------- line figures

TheoryFunction = Callable[..., np.ndarray]  # (row, values, x=column) -> exact values


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
        xs = floats(part, x)
        sort = np.argsort(xs, kind="stable")
        part, xs = part.iloc[sort], xs[sort]
        colour, marker = layout.palette[hue], layout.markers[hue]
        line_style, fill = layout.line_styles[hue], layout.fills[series]
        values = floats(part, y)
        shown = np.isfinite(values) & ((values > 0) if log else True)
        lower = np.clip(values - floats(part, low), 0, None)
        upper = np.clip(floats(part, high) - values, 0, None)
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
        if theory_function is not None:
            row = part.iloc[0]
            exact = (grid_values, exact_at(lambda at: theory_function(row, at, x=x),
                                           grid_values, xs))
        elif theory_column is not None and theory_column in part.columns:
            exact = (xs, floats(part, theory_column))
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
    x: str | None,
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
    summary, x = with_x(summary, x)
    layout = layout_for(summary, x, hue, col, row, fold="series")
    xs = floats(summary, x) if len(summary) else np.array([0.0, 1.0])
    grid_values = np.union1d(np.linspace(np.nanmin(xs), np.nanmax(xs), 101), xs)
    exact = theory_function is not None or theory_column is not None
    entries = hue_entries(layout, hue, style, lines=True)
    what = f"{measured_label}; {EXACT_LABEL}" if exact else measured_label
    legend_title: str | None = f"{key_label(hue)} ({what})" if hue is not None else what
    if not entries:  # one colour, no series: a legend that only explains the marks
        entries = {"measured": Line2D([], [], color="0.2", marker="o", linestyle="none")}
        if exact:
            entries["exact"] = Line2D([], [], color="0.2", linestyle="-")
        legend_title = None
    # Room below the panels: tick labels, the x label, and the legend with its title.
    width = style.width(len(layout.cols))
    below = 4.5 + legend_height(list(entries), width, style, legend_title)
    with style.applied():
        panels = panel_figure(layout, style, aspect=1.25, extra_height=below)
        for panel in panels:
            if log:
                panel.axes.set_yscale("log")
            _draw_series(panel.axes, panel.data, layout, style, x=x, y=y, low=low, high=high,
                         theory_function=theory_function, theory_column=theory_column,
                         grid_values=grid_values, log=log)
        if unit_interval:
            panels.grid[0, 0].set_ylim(-0.03, 1.03)
        if log:
            _drop_unlabelled_minor_ticks(panels)
        add_legend(panels.figure, entries, style, title=legend_title)
        return finish(panels, style, title, axis_label(summary, x), ylabel)


def _drop_unlabelled_minor_ticks(panels: Any) -> None:
    """No minor ticks on a log axis spanning more than a decade: matplotlib labels none there
    (LogFormatter's minor_thresholds), the style hides tick marks and grids only the major
    ticks, so they show nothing, but measuring and drawing them took a tenth of the report."""
    for panel in panels:
        low, high = panel.axes.get_ylim()
        if low > 0 and high / low > 10:
            panel.axes.yaxis.set_minor_locator(NullLocator())


def decision_rate_figure(
    summary: pd.DataFrame,
    hue: str | None = "nodes",
    col: str | None = "rounds",
    row: str | None = None,
    x: str | None = None,
    style: Style = None,
) -> Figure:
    """Decision rate within the round limit against the fault intensity, with the exact curve."""
    return _line_figure(
        summary, y="decision_rate", low="ci_low", high="ci_high",
        theory_function=within_theory, theory_column="theory", x=x, hue=hue, col=col, row=row,
        title="Decision within the round limit: measured (95% Wilson interval) and exact",
        ylabel="P(decision within R rounds)", unit_interval=True, style=style,
    )


def round_decision_rate_figure(
    summary: pd.DataFrame,
    hue: str | None = "nodes",
    col: str | None = "rounds",
    row: str | None = None,
    x: str | None = None,
    style: Style = None,
) -> Figure:
    """Fraction of rounds that decide against the fault intensity, with the exact value."""
    return _line_figure(
        summary, y="round_rate", low="round_ci_low", high="round_ci_high",
        theory_function=round_theory_curve, theory_column="round_theory", x=x, hue=hue, col=col,
        row=row,
        title="Per-round decision rate: measured (95% Wilson interval) and exact f\u00b2",
        ylabel="P(a round decides)", unit_interval=True, style=style,
    )


def violation_rate_figure(
    summary: pd.DataFrame,
    hue: str | None = "protocol",
    col: str | None = "rounds",
    row: str | None = None,
    x: str | None = None,
    style: Style = None,
) -> Figure:
    """Fraction of trials that broke agreement, validity or proposal consistency, against
    the fault intensity (no exact curve: the checks, not a formula, decide it)."""
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
    x: str | None = None,
    style: Style = None,
) -> Figure:
    """Messages sent (CRASH included) per deciding round, log scale, with the exact ratio."""
    return _line_figure(
        summary, y="messages_per_decision", low="messages_per_decision_low",
        high="messages_per_decision_high", theory_function=messages_theory_curve,
        theory_column="messages_theory", x=x, hue=hue, col=col, row=row,
        title="Messages per decision (all messages, CRASH included): measured and exact",
        ylabel="messages per decision", log=True, style=style,
        measured_label="points: measured, 95% interval from the per-round rate",
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
