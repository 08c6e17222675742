"""The decision-rate heatmap's layout: each row of panels lists only the y values it has, an
empty panel is left out, a mostly empty grid is not drawn, one x label serves the figure, the
colour bar's label fits, and the numbers in the cells shrink (or go) rather than overlap."""

from __future__ import annotations

import matplotlib.text
import numpy as np
import pandas as pd
import pytest

from paxos_exp.analysis import aggregate, plots
from paxos_exp.analysis.draw import FigureLeftOut
from paxos_exp.core import theory


def _summary(rows: list[dict]) -> pd.DataFrame:
    """A summary as the report builds one: a decision rate and its exact value per row."""
    frame = pd.DataFrame(rows)
    frame["rounds"] = frame.get("rounds", 2)
    frame["trials"] = 100
    frame["theory"] = [theory.decision_within_probability(n, p, 2)
                       for n, p in zip(frame["nodes"], frame["fail_prob"])]
    frame["decision_rate"] = frame["theory"].round(2)
    frame.attrs["group_keys"] = [*aggregate.CORE_KEYS,
                                 *(key for key in ("variant", "setting") if key in frame)]
    return frame


def _variants() -> pd.DataFrame:
    """protocol_variants' shape: each setting (a row of panels) belongs to some variants (the
    y values) and some node counts (the columns) only."""
    runs = [("classic", "safety = fail", 3), ("classic", "safety = fail", 5),
            ("flexible", "join quorum = 2", 5),
            ("own_value", "safety = record", 3), ("own_value", "safety = record", 5),
            ("ignore_own_state", "safety = record", 3), ("ignore_own_state", "safety = record", 5)]
    return _summary([{"variant": variant, "setting": setting, "nodes": nodes, "fail_prob": p}
                     for variant, setting, nodes in runs for p in (0.1, 0.3, 0.5)])


def supxlabel(figure) -> str:
    """The figure's own x label (``Figure.get_supxlabel`` needs matplotlib 3.8)."""
    label = getattr(figure, "_supxlabel", None)
    return label.get_text() if label is not None else ""


def _numbers(figure) -> list:
    """The numbers written in the cells (not the row titles beside the panels)."""
    return [text for axes in figure.axes for text in axes.texts
            if type(text) is matplotlib.text.Text]


def _yticks(axes) -> list[str]:
    return [label.get_text() for label in axes.get_yticklabels() if label.get_text()]


def test_each_row_of_panels_lists_only_its_own_y_values_and_empty_panels_are_left_out():
    figure = plots.decision_heatmap_figure(_variants(), y="variant", col="nodes", row="setting")
    grid = np.array(figure.axes[:-1]).reshape(3, 2)  # settings by N, then the colour bar
    # Rows in order: join quorum = 2 (flexible at N = 5 only), safety = fail, safety = record.
    assert [[axes.get_visible() for axes in row] for row in grid] == [
        [False, True], [True, True], [True, True]]
    assert _yticks(grid[0, 1]) == ["flexible"]
    assert _yticks(grid[1, 0]) == ["classic"]
    assert _yticks(grid[2, 0]) == ["ignore_own_state", "own_value"]
    # The first drawn panel of a row names the y values; the others share them.
    assert _yticks(grid[1, 1]) == [] and _yticks(grid[2, 1]) == []
    # A row of panels is as tall as its y values: two rows of cells twice one (give or take
    # the room for titles).
    figure.canvas.draw()  # the layout
    heights = [grid[i, 1].get_position().height for i in range(3)]
    assert heights[2] > 1.25 * heights[1] and heights[0] == pytest.approx(heights[1], rel=0.05)


def test_one_x_label_for_the_figure_and_the_colour_bar_label_fits():
    summary = _summary([{"nodes": n, "fail_prob": p} for n in (3, 5, 7)
                        for p in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)])
    figure = plots.decision_heatmap_figure(summary, y="rounds", col="nodes")
    panels = [axes for axes in figure.axes[:-1] if axes.get_visible()]
    assert len(panels) == 3 and all(axes.get_xlabel() == "" for axes in panels)
    assert supxlabel(figure) == "crash probability p"
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    label = figure.axes[-1].yaxis.label.get_window_extent(renderer)
    page = figure.bbox
    assert page.y0 <= label.y0 and label.y1 <= page.y1, "the colour bar's label is cut off"
    # Seven cells a panel fit their numbers at the full font, horizontally.
    sizes = {text.get_fontsize() for text in _numbers(figure)}
    assert sizes == {8.0} and len(_numbers(figure)) == 21
    assert all(label.get_rotation() == 0 for axes in panels for label in axes.get_xticklabels())


def test_narrow_cells_get_smaller_numbers_and_then_none():
    def figure_with(values: int):
        # Two rows of panels (settings): the panels stay side by side however many values.
        summary = _summary([{"nodes": n, "fail_prob": round(0.6 * k / values, 4),
                             "setting": setting} for n in (3, 5, 7) for k in range(values)
                            for setting in ("a", "b")])
        return plots.decision_heatmap_figure(summary, y="rounds", col="nodes", row="setting")

    tight = _numbers(figure_with(10))
    sizes = {text.get_fontsize() for text in tight}
    assert len(tight) == 60 and len(sizes) == 1 and 0.6 * 8 <= sizes.pop() < 8
    narrow = figure_with(30)
    assert _numbers(narrow) == []  # colour alone
    # Long x labels in narrow cells stand upright rather than run together.
    assert all(label.get_rotation() == 90 for axes in narrow.axes[:-1]
               for label in axes.get_xticklabels())


def test_a_mostly_empty_grid_is_not_drawn_and_says_why():
    # Each node count ran at its own crash probabilities (loss-matched points): a third of
    # the cells would have a value.
    summary = _summary([{"nodes": n, "fail_prob": p} for n, ps in
                        ((3, (0.1, 0.2, 0.3)), (5, (0.15, 0.25, 0.35)), (7, (0.12, 0.22, 0.32)))
                        for p in ps])
    with pytest.raises(FigureLeftOut, match=r"only 9 of its 27 cells would have a value .*"
                                            r"one grid of rounds by fail_prob"):
        plots.decision_heatmap_figure(summary, y="rounds", col="nodes")
    # A cell whose rate is missing is no value either; min_filled=0 draws any grid.
    summary["fail_prob"] = np.tile([0.0, 0.1, 0.2], 3)  # one grid now, rates missing
    summary.loc[summary["fail_prob"] > 0.05, "decision_rate"] = np.nan
    with pytest.raises(FigureLeftOut, match="only 3 of its 9 cells"):
        plots.decision_heatmap_figure(summary, y="rounds", col="nodes")
    figure = plots.decision_heatmap_figure(summary, y="rounds", col="nodes", min_filled=0)
    assert len(_numbers(figure)) == 3


def test_margin_titles_go_to_the_panels_drawn_when_one_is_left_out():
    # Short row labels: column titles over the top row, row labels beside the last column.
    # N = 5 ran only with engine b, so the top right panel (engine a, N = 5) is left out.
    summary = _summary([{"nodes": n, "fail_prob": p, "engine": engine}
                        for engine, sizes in (("a", (3,)), ("b", (3, 5)))
                        for n in sizes for p in (0.1, 0.3)])
    summary.attrs["group_keys"] = [*aggregate.CORE_KEYS, "engine"]
    figure = plots.decision_heatmap_figure(summary, y="rounds", col="nodes", row="engine")
    grid = np.array(figure.axes[:-1]).reshape(2, 2)
    assert not grid[0, 1].get_visible()
    assert [axes.get_title() for axes in grid.flat] == ["N = 3", "", "", "N = 5"]
    beside = {axes: [text.get_text() for text in axes.texts
                     if isinstance(text, matplotlib.text.Annotation)] for axes in grid.flat}
    assert beside[grid[0, 0]] == ["engine = a"] and beside[grid[1, 1]] == ["engine = b"]
