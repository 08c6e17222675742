"""Seaborn figures of a summary: a DataFrame in, a matplotlib Figure out; no file is read.

Every figure puts ``fail_prob`` on the x axis and can map any configuration column onto the
colour (``hue``), the facet columns (``col``) and the facet rows (``row``). Configuration
columns that vary but are on no axis are never merged: line figures draw them as separate
series (one marker each, named in the legend), the heatmap and the first-round figure give
them their own facet rows. Measured values carry 95% Wilson interval bars; the exact value is
the dashed curve in the same colour.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

# No matplotlib.use() here: a library never chooses the backend (a notebook keeps its inline
# one); the command-line entry points choose Agg when they run.
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from paxos_exp.analysis.aggregate import NO_DECISION, row_law
from paxos_exp.analysis.layout import (
    MEASURED_LABEL,
    STYLE,
    check_axes,
    finish,
    format_value,
    grid_for,
    key_label,
    layout_for,
    legend,
    order,
    quiet,
)


# ----------------------------------------------------------------------------- line figures

TheoryFunction = Callable[[pd.Series, np.ndarray], np.ndarray]


def _law_curve(row: pd.Series, probabilities: np.ndarray, value: Callable[..., float]) -> np.ndarray:
    """``value(law)`` of the row's exact law at each crash probability (NaN where none)."""
    curve = []
    for p in probabilities:
        law = row_law(pd.Series({**row.to_dict(), "fail_prob": float(p)}))
        curve.append(math.nan if law is None else value(law))
    return np.array(curve, dtype=float)


def _within_theory(row: pd.Series, probabilities: np.ndarray) -> np.ndarray:
    return _law_curve(row, probabilities, lambda law: law.decision_within(int(row["rounds"])))


def _round_theory(row: pd.Series, probabilities: np.ndarray) -> np.ndarray:
    return _law_curve(row, probabilities, lambda law: law.decides)


def _messages_theory(row: pd.Series, probabilities: np.ndarray) -> np.ndarray:
    return _law_curve(row, probabilities, lambda law: law.messages_per_decision(int(row["nodes"])))


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
    layout = layout_for(summary, x, hue, col, row, fold="series")
    xs = summary[x].to_numpy(dtype=float) if len(summary) else np.array([0.0, 1.0])
    grid_values = np.union1d(np.linspace(xs.min(), xs.max(), 121), xs)
    with sns.axes_style("whitegrid", STYLE):
        grid = grid_for(layout, hue="_hue", hue_order=layout.hue_order, palette=layout.palette,
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
        legend(grid, layout, hue, exact=theory_function is not None or theory_column is not None,
                measured_label=measured_label)
        return finish(grid, title, key_label(x), ylabel)


@quiet
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


@quiet
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


@quiet
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


@quiet
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


@quiet
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
    layout = layout_for(summary, x, None, col, row, fold="row", also_used=[y])
    check_axes(summary, y=y, x=x)
    x_values = order(summary[x])
    y_values = order(summary[y])
    width = max(3.2, 1.3 + 0.42 * len(x_values))
    height = max(1.8, 1.1 + 0.36 * len(y_values))
    cmap = "viridis"
    # Wide panels (many crash probabilities) stack vertically instead of side by side.
    wrap = 1 if layout.row is None and layout.col is not None and len(x_values) > 8 else None
    with sns.axes_style("white"):
        grid = grid_for(layout, height=height, aspect=width / height, sharex=False, sharey=False,
                     col_wrap=wrap)
        grid.map_dataframe(_draw_heatmap, x=x, y=y, value=value, x_values=x_values,
                           y_values=y_values, cmap=cmap)
        for axes in grid.axes.flat:  # the bottom row's tick labels serve all
            if not axes.get_subplotspec().is_last_row():
                axes.set_xticklabels([])
                axes.set_xlabel("")
        figure = finish(
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


@quiet
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
    layout = layout_for(distribution, x, None, col, row, fold="row")
    rounds = sorted(k for k in distribution["first_round"].unique() if k != NO_DECISION)
    shades = sns.color_palette("crest", max(len(rounds), 1))
    colours: dict[int, Any] = dict(zip(rounds, shades))
    colours[NO_DECISION] = "0.85"
    xs = np.array(order(distribution[x]), dtype=float) if len(distribution) else np.array([0.0])
    width = 0.75 * (np.diff(xs).min() if len(xs) > 1 else 0.1)
    with sns.axes_style("whitegrid", STYLE):
        grid = grid_for(layout, height=2.3, aspect=1.35, sharey=True)
        grid.map_dataframe(_draw_stacks, x=x, width=width, colours=colours)
        grid.set(ylim=(0, 1.0))
        entries: dict[str, Any] = {f"round {k}": Patch(color=colours[k]) for k in rounds}
        entries["no decision"] = Patch(color=colours[NO_DECISION])
        entries["exact, cumulative"] = Line2D([], [], color="black", linewidth=1.1)
        grid.add_legend(legend_data=entries, label_order=list(entries),
                        title="first deciding round")
        return finish(
            grid,
            "First deciding round: fraction of trials (bars) and exact cumulative probability "
            "(black ticks)",
            key_label(x), "fraction of trials",
        )
