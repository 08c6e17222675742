"""Each figure: the expected facets, axis labels, legend entries, exact curves and intervals;
paper, talk and poster sizes; colours, markers and line styles per hue; typed frames."""

from __future__ import annotations

import itertools
import math

import matplotlib
import matplotlib.axes
import matplotlib.axis
import matplotlib.colors as mcolors
import matplotlib.figure
import matplotlib.pyplot
import matplotlib.text
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.lines import Line2D

from paxos_exp.analysis import aggregate, layout, plots
from paxos_exp.core import theory
from paxos_exp.core.quorum import Quorums


NODES = (3, 4, 5)
FAIL_PROBS = (0.0, 0.1, 0.3, 0.5)
ROUNDS = (1, 3)


def jobs_frame(engines: tuple[str, ...] = ("inprocess",), trials: int = 400) -> pd.DataFrame:
    """Jobs whose counts sit on the exact values (what a perfect sweep would measure)."""
    rows = []
    for nodes, fail_prob, rounds, engine in itertools.product(NODES, FAIL_PROBS, ROUNDS, engines):
        law = theory.quorum_law(nodes, fail_prob, Quorums.for_nodes(nodes))
        per_round = law.decides
        within = theory.decision_within_probability(nodes, fail_prob, rounds)
        deciding = round(per_round * trials * rounds)
        rows.append({
            "status": "ok", "nodes": nodes, "fail_prob": fail_prob, "rounds": rounds,
            "trials": trials, "seed": 0, "engine": engine, "decided": round(within * trials),
            "rounds_total": trials * rounds, "deciding_rounds": deciding,
            "roundchanges": round((1 - math.sqrt(per_round)) * trials * rounds),
            "first_round_mean": law.first_round_mean(rounds),
            "sent_total": round(law.messages_per_round(nodes) * trials * rounds),
            "safe": True, "wall_seconds": 0.1,
        })
    return pd.DataFrame(rows)


def summary_frame(engines: tuple[str, ...] = ("inprocess",)) -> pd.DataFrame:
    return aggregate.summarize(jobs_frame(engines))


def trials_frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rows = []
    for nodes, fail_prob, rounds in itertools.product(NODES, FAIL_PROBS, ROUNDS):
        per_round = theory.round_decision_probability(nodes, fail_prob)
        for trial in range(50):
            hits = np.flatnonzero(rng.random(rounds) < per_round)
            rows.append({"nodes": nodes, "fail_prob": fail_prob, "rounds": rounds,
                         "trial": trial, "first_decision_round": hits[0] if len(hits) else np.nan})
    return pd.DataFrame(rows)


def legend_texts(figure: matplotlib.figure.Figure) -> list[str]:
    assert len(figure.legends) == 1
    return [text.get_text() for text in figure.legends[0].get_texts()]


def legend_title(figure: matplotlib.figure.Figure) -> str:
    return figure.legends[0].get_title().get_text().replace("\n", " ")


def curves(axes: matplotlib.axes.Axes) -> list[Line2D]:
    """The exact curves of a panel (smooth lines), one per series."""
    return [line for line in axes.get_lines() if len(line.get_xdata()) > 50]


def points(axes: matplotlib.axes.Axes) -> list[Line2D]:
    """The measured points of a panel (markers, no line), one per series."""
    return [line for line in axes.get_lines()
            if line.get_marker() not in (None, "None", "", " ", "_", "|")  # not error-bar caps
            and line.get_linestyle() == "None"
            and len(line.get_xdata()) > 1]


def dash_pattern(line: Line2D) -> tuple:
    offset, dashes = line._unscaled_dash_pattern
    return tuple(dashes) if dashes else ()


def test_decision_rate_figure() -> None:
    figure = plots.decision_rate_figure(summary_frame())
    axes = [a for a in figure.axes if a.get_visible()]
    assert len(axes) == len(ROUNDS)
    assert [a.get_title() for a in axes] == ["R = 1", "R = 3"]
    assert axes[0].get_xlabel() == "crash probability p (per message)"
    assert axes[0].get_ylabel() == "P(decision within R rounds)"
    assert legend_texts(figure) == ["3", "4", "5"]
    title = legend_title(figure)
    assert title.startswith("nodes N") and layout.MEASURED_LABEL in title
    assert layout.EXACT_LABEL in title
    assert figure._suptitle is None  # paper: no title, the caption says it


def test_each_hue_has_its_own_colour_marker_and_line_style() -> None:
    figure = plots.decision_rate_figure(summary_frame())
    for axes in figure.axes:
        lines, marks = curves(axes), points(axes)
        assert len(lines) == len(NODES) and len(marks) == len(NODES)
        assert len({mcolors.to_hex(line.get_color()) for line in lines}) == len(NODES)
        assert len({dash_pattern(line) for line in lines}) == len(NODES)
        assert len({mark.get_marker() for mark in marks}) == len(NODES)
        # a curve and the points of its hue share the colour
        assert {mcolors.to_hex(l.get_color()) for l in lines} == {
            mcolors.to_hex(m.get_color()) for m in marks}
        assert len(axes.collections) >= len(NODES)  # error bars, one collection per series
    # and the legend shows each hue with its marker and its line style
    handles = figure.legends[0].legend_handles
    assert len({handle.get_marker() for handle in handles}) == len(NODES)
    assert len({dash_pattern(handle) for handle in handles}) == len(NODES)


def test_exact_curve_values() -> None:
    summary = summary_frame()
    figure = plots.decision_rate_figure(summary[summary["nodes"] == 4])
    axes = figure.axes[1]  # R = 3
    (curve,) = curves(axes)
    x, y = curve.get_xdata(), curve.get_ydata()
    at = int(np.argmin(np.abs(x - 0.3)))
    assert x[at] == pytest.approx(0.3)
    assert y[at] == pytest.approx(theory.decision_within_probability(4, 0.3, 3))


def test_other_keys_are_separate_series_never_merged() -> None:
    summary = summary_frame(engines=("inprocess", "processes"))
    assert len(summary) == 2 * len(NODES) * len(FAIL_PROBS) * len(ROUNDS)
    figure = plots.decision_rate_figure(summary)
    texts = legend_texts(figure)
    assert "engine = inprocess" in texts and "engine = processes" in texts
    fills = {mark.get_fillstyle() for mark in points(figure.axes[0])}
    assert fills == {"full", "none"}  # the two engines' points differ in their fill
    figure = plots.decision_rate_figure(summary, hue="engine", col="nodes", row="rounds")
    panels = [a for a in figure.axes if a.get_visible()]
    assert len(panels) == len(NODES) * len(ROUNDS)
    assert legend_texts(figure)[:2] == ["inprocess", "processes"]
    assert legend_title(figure).startswith("engine")
    titles = {axes.get_title() for axes in panels}
    assert {"N = 3", "N = 5"} <= titles
    row_titles = {text.get_text() for axes in panels for text in axes.texts}
    assert {"R = 1", "R = 3"} <= row_titles


def test_round_decision_rate_figure() -> None:
    figure = plots.round_decision_rate_figure(summary_frame())
    assert len(figure.axes) == len(ROUNDS)
    assert figure.axes[0].get_ylabel() == "P(a round decides)"
    assert legend_texts(figure)[:3] == ["3", "4", "5"]
    curve = curves(figure.axes[0])[0]
    x, y = curve.get_xdata(), curve.get_ydata()
    at = int(np.argmin(np.abs(x - 0.1)))
    assert y[at] == pytest.approx(theory.round_decision_probability(3, 0.1))


def test_messages_per_decision_figure() -> None:
    figure = plots.messages_per_decision_figure(summary_frame())
    assert all(axes.get_yscale() == "log" for axes in figure.axes)
    assert figure.axes[0].get_ylabel() == "messages per decision"
    assert layout.EXACT_LABEL in legend_title(figure)


def test_decision_heatmap_figure() -> None:
    summary = summary_frame()
    summary.loc[0, "outside_99"] = True  # one flagged cell shows a star
    figure = plots.decision_heatmap_figure(summary)
    panels = [axes for axes in figure.axes if axes.get_title()]
    assert [axes.get_title() for axes in panels] == ["R = 1", "R = 3"]
    assert len(figure.axes) == len(ROUNDS) + 1  # and the colour bar
    assert panels[0].get_ylabel() == "nodes N"
    # One x label for the row of panels (one each would run together under narrow panels).
    assert figure._supxlabel.get_text() == "crash probability p"
    assert [axes.get_xlabel() for axes in panels] == ["", ""]
    labels = [t.get_text() for t in panels[0].get_yticklabels()]
    assert labels == ["3", "4", "5"]
    figure.draw_without_rendering()
    for axes in panels:  # every tick label reads horizontally
        for label in [*axes.get_xticklabels(), *axes.get_yticklabels()]:
            assert label.get_rotation() == 0, label.get_text()
    annotations = [t.get_text() for axes in panels for t in axes.texts]
    assert len(annotations) == len(summary)
    assert sum(text.endswith("*") for text in annotations) == 1
    assert "1" in annotations  # p = 0 always decides
    assert figure.axes[-1].get_ylabel() == "P(decision within R rounds)"


def band_tops(axes: matplotlib.axes.Axes) -> np.ndarray:
    """The top edge of the stacked bands of a panel (the highest band's upper boundary)."""
    bands = [c for c in axes.collections if isinstance(c, PolyCollection)]
    assert bands, "no stacked bands"
    top = bands[-1].get_paths()[0].vertices
    return top[:, 1].max(initial=0.0), top


def exact_lines(axes: matplotlib.axes.Axes) -> list[Line2D]:
    """The exact cumulative lines of a first-round panel (black, at the measured p)."""
    return [line for line in axes.get_lines() if line.get_color() == "black"]


def test_first_decision_round_figure() -> None:
    keys = ["nodes", "fail_prob", "rounds"]
    distribution = aggregate.first_round_distribution(trials_frame(), keys)
    figure = plots.first_decision_round_figure(distribution)
    assert len(figure.axes) == len(NODES) * len(ROUNDS)
    assert legend_texts(figure) == ["round 0", "round 1", "round 2", "no decision",
                                    "exact, cumulative"]
    assert legend_title(figure).startswith("first deciding round")
    assert figure._supylabel.get_text() == "fraction of trials"  # one label for all rows
    for axes in figure.axes:
        bands = [c for c in axes.collections if isinstance(c, PolyCollection)]
        assert len(bands) == 4  # rounds 0, 1, 2 and no decision, stacked
        top, _ = band_tops(axes)
        assert top == pytest.approx(1.0)  # every trial accounted for
    # one exact curve per round the panel's limit has: R = 1 -> 1, R = 3 -> 3
    assert [len(exact_lines(axes)) for axes in figure.axes[:2]] == [1, 3]


def test_first_decision_round_reads_at_twenty_rounds() -> None:
    """R = 20: rounds 3..19 share one band, so there are at most five bands (four decision
    bands and no decision) and four exact curves, whatever R is; the last curve is the exact
    probability of a decision within the 20 rounds."""
    rng = np.random.default_rng(3)
    rows = []
    for fail_prob in (0.1, 0.3, 0.5):
        per_round = theory.round_decision_probability(5, fail_prob)
        for trial in range(200):
            hits = np.flatnonzero(rng.random(20) < per_round)
            rows.append({"nodes": 5, "fail_prob": fail_prob, "rounds": 20, "trial": trial,
                         "first_decision_round": hits[0] if len(hits) else np.nan})
    distribution = aggregate.first_round_distribution(pd.DataFrame(rows),
                                                      ["nodes", "fail_prob", "rounds"])
    assert distribution["first_round"].max() == 19  # the input has the late rounds
    figure = plots.first_decision_round_figure(distribution)
    assert legend_texts(figure) == ["round 0", "round 1", "round 2", "round 3 or later",
                                    "no decision", "exact, cumulative"]
    (axes,) = figure.axes
    assert len([c for c in axes.collections if isinstance(c, PolyCollection)]) == 5
    lines = exact_lines(axes)
    assert len(lines) == 4
    assert list(lines[-1].get_xdata()) == [0.1, 0.3, 0.5]  # the measured crash probabilities
    assert lines[-1].get_ydata()[2] == pytest.approx(
        theory.decision_within_probability(5, 0.5, 20))
    assert lines[0].get_ydata()[1] == pytest.approx(  # round 0: one round's law
        theory.round_decision_probability(5, 0.3))


# ----------------------------------------------------------------------------- paper sizes


def all_text(figure: matplotlib.figure.Figure) -> list[matplotlib.text.Text]:
    figure.draw_without_rendering()  # tick labels exist once drawn
    return [text for text in figure.findobj(matplotlib.text.Text)
            if text.get_visible() and text.get_text().strip()]


def figures(style: str | layout.FigureStyle) -> dict[str, matplotlib.figure.Figure]:
    summary = summary_frame()
    distribution = aggregate.first_round_distribution(trials_frame(),
                                                      ["nodes", "fail_prob", "rounds"])
    return {
        "decision_rate": plots.decision_rate_figure(summary, style=style),
        "round_decision_rate": plots.round_decision_rate_figure(summary, style=style),
        "messages_per_decision": plots.messages_per_decision_figure(summary, style=style),
        "decision_heatmap": plots.decision_heatmap_figure(summary, style=style),
        "first_decision_round": plots.first_decision_round_figure(distribution, style=style),
        "one_panel": plots.decision_rate_figure(summary[summary["rounds"] == 1], style=style),
    }


def test_paper_figures_fit_a_latex_page_with_8_to_9_pt_text() -> None:
    for name, figure in figures("paper").items():
        width, height = figure.get_size_inches()
        expected = 3.4 if name == "one_panel" else 6.9  # \columnwidth, \textwidth
        assert width == pytest.approx(expected), name
        assert height <= 9.0, name
        sizes = {text.get_fontsize() for text in all_text(figure)}
        assert sizes and min(sizes) >= 8 and max(sizes) <= 9, (name, sorted(sizes))
        assert figure._suptitle is None, name


def test_talk_and_poster_are_larger_and_titled() -> None:
    paper = figures("paper")["decision_rate"]
    for context in ("talk", "poster"):
        figure = figures(context)["decision_rate"]
        assert figure.get_figwidth() > paper.get_figwidth()
        assert min(t.get_fontsize() for t in all_text(figure)) >= layout.CONTEXTS[context].font
        assert "Decision within the round limit" in figure._suptitle.get_text()
    untitled = plots.decision_rate_figure(summary_frame(),
                                          style=layout.FigureStyle("talk", title=False))
    assert untitled._suptitle is None
    titled = plots.decision_rate_figure(summary_frame(),
                                        style=layout.FigureStyle("paper", title=True))
    assert titled._suptitle is not None
    with pytest.raises(ValueError, match="context"):
        layout.FigureStyle("slides")


def test_typed_frames_with_categoricals_and_nullable_integers_draw() -> None:
    """The readers give categoricals and nullable integers: every figure takes them."""
    summary = summary_frame()
    for column in ("nodes", "rounds"):
        summary[column] = summary[column].astype("category")
    summary["trials"] = summary["trials"].astype("Int64")
    summary["decided"] = summary["decided"].astype("Int64")
    distribution = aggregate.first_round_distribution(trials_frame(),
                                                      ["nodes", "fail_prob", "rounds"])
    distribution["nodes"] = distribution["nodes"].astype("category")
    distribution["first_round"] = distribution["first_round"].astype("Int16")
    figure = plots.decision_rate_figure(summary)
    assert legend_texts(figure) == ["3", "4", "5"]
    assert len(curves(figure.axes[0])) == len(NODES)
    plots.decision_heatmap_figure(summary)
    plots.messages_per_decision_figure(summary)
    figure = plots.first_decision_round_figure(distribution)
    top, vertices = band_tops(figure.axes[0])
    assert top == pytest.approx(1.0)
    assert set(np.round(vertices[:, 0], 9)) >= set(FAIL_PROBS)  # every crash probability


def test_plot_modules_leave_the_backend_alone() -> None:
    """Figures are plain Figure objects (no pyplot figure manager, no backend switch)."""
    figure = plots.decision_rate_figure(summary_frame())
    assert not matplotlib.pyplot.get_fignums()
    assert figure.canvas.get_renderer() is not None


def test_bad_keys_are_rejected() -> None:
    with pytest.raises(ValueError, match="colour"):
        plots.decision_rate_figure(summary_frame(), hue="colour")
    with pytest.raises(ValueError, match="two axes"):
        plots.decision_rate_figure(summary_frame(), hue="nodes", col="nodes")


def test_a_single_configuration_still_draws() -> None:
    summary = summary_frame()
    one = summary[(summary["nodes"] == 3) & (summary["fail_prob"] == 0.1)
                  & (summary["rounds"] == 1)]
    figure = plots.decision_rate_figure(one)
    assert len(figure.axes) == 1
    figure = plots.decision_heatmap_figure(one)
    assert len(figure.axes) == 2


# ----------------------------------------------------------------------------- sparse grids


def sparse_trials() -> pd.DataFrame:
    """protocol_variants' shape: a setting (the join quorum) that only N = 5 ran with, so
    some (setting, N) combinations have no trial at all."""
    rows = []
    for nodes, join_quorum in ((3, None), (5, None), (5, 2)):
        for fail_prob in (0.1, 0.3):
            for trial in range(20):
                rows.append({"nodes": nodes, "fail_prob": fail_prob, "rounds": 3,
                             "join_quorum": join_quorum, "trial": trial,
                             "first_decision_round": trial % 4 if trial % 4 < 3 else np.nan})
    return pd.DataFrame(rows)


def test_first_round_figure_draws_no_frame_for_a_combination_without_trials() -> None:
    keys = ["nodes", "fail_prob", "rounds", "join_quorum"]
    distribution = aggregate.first_round_distribution(sparse_trials(), keys)
    distribution.attrs["group_keys"] = keys
    figure = plots.first_decision_round_figure(distribution, row="join_quorum", col="nodes")
    grid = np.array(figure.axes).reshape(2, 2)  # rows: join quorum not set, 2; columns: N
    visible = [[axes.get_visible() for axes in row] for row in grid]
    assert visible == [[True, True], [False, True]]  # no N = 3 run has join quorum 2
    figure.draw_without_rendering()

    def labelled(axis: matplotlib.axis.Axis) -> bool:
        return any(label.get_visible() and label.get_text() for label in axis.get_ticklabels())

    # Tick labels on the outermost drawn panels: the lone panel of the second row has its
    # own y labels, and column N = 3 has its x labels on its one panel.
    assert labelled(grid[1, 1].yaxis) and labelled(grid[0, 0].xaxis)
    assert not labelled(grid[0, 1].yaxis)


def test_heatmap_facet_titles_stay_clear_of_each_other_and_the_colour_bar() -> None:
    # protocol_variants' shape: long names on the y axis, long facet titles over two columns.
    summary = summary_frame()
    summary["variant"] = summary["nodes"].map({3: "classic", 4: "no_vote_without_join",
                                               5: "ignore_own_state"})
    summary["setting"] = np.where(summary["fail_prob"] > 0.2, "safety = record, join quorum = "
                                  "2, vote quorum = 3, allow unsafe = true", "safety = fail")
    summary.attrs["group_keys"] = [*aggregate.CORE_KEYS, "variant", "setting"]
    figure = plots.decision_heatmap_figure(summary, y="variant", col="rounds", row="setting")
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    colour_bar = figure.axes[-1].get_window_extent(renderer)
    titles = [axes.title.get_window_extent(renderer) for axes in figure.axes[:-1]
              if axes.get_visible() and axes.get_title()]
    assert titles
    for title in titles:
        assert title.x1 <= colour_bar.x0 + 1, "a facet title runs into the colour bar"
    for one, other in itertools.combinations(titles, 2):
        assert not one.overlaps(other), "two facet titles overlap"
