"""Each figure: the expected facets, axis labels, legend entries, exact curves and intervals."""

from __future__ import annotations

import itertools
import math

import matplotlib
import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import Rectangle

from paxos_exp.analysis import aggregate, layout, plots
from paxos_exp.core import theory
from paxos_exp.core.quorum import Quorums

matplotlib.use("Agg")

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


@pytest.fixture(autouse=True)
def close_figures():
    yield
    matplotlib.pyplot.close("all")


def test_decision_rate_figure() -> None:
    figure = plots.decision_rate_figure(summary_frame())
    axes = figure.axes
    assert len(axes) == len(ROUNDS)
    assert [a.get_title() for a in axes] == ["R = 1", "R = 3"]
    assert axes[0].get_xlabel() == "crash probability p (per message)"
    assert axes[0].get_ylabel() == "P(decision within R rounds)"
    texts = legend_texts(figure)
    assert texts == ["3", "4", "5", layout.MEASURED_LABEL, layout.EXACT_LABEL]
    assert figure.legends[0].get_title().get_text() == "nodes N"
    assert "Decision within the round limit" in figure._suptitle.get_text()


def test_exact_curve_is_dashed_in_the_colour_of_its_points() -> None:
    figure = plots.decision_rate_figure(summary_frame())
    for axes in figure.axes:
        dashed = [line for line in axes.get_lines() if line.get_linestyle() == "--"]
        points = [line for line in axes.get_lines() if line.get_marker() == "o"]
        assert len(dashed) == len(NODES) and len(points) == len(NODES)
        assert {mcolors.to_hex(l.get_color()) for l in dashed} == {
            mcolors.to_hex(l.get_color()) for l in points}
        # a smooth curve, through the exact value at every measured point
        curve = dashed[0]
        assert len(curve.get_xdata()) > 50
        # error bars are drawn (one LineCollection per series)
        assert len(axes.collections) >= len(NODES)


def test_exact_curve_values() -> None:
    summary = summary_frame()
    figure = plots.decision_rate_figure(summary[summary["nodes"] == 4])
    axes = figure.axes[1]  # R = 3
    (curve,) = [line for line in axes.get_lines() if line.get_linestyle() == "--"]
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
    figure = plots.decision_rate_figure(summary, hue="engine", col="nodes", row="rounds")
    assert len(figure.axes) == len(NODES) * len(ROUNDS)
    assert legend_texts(figure)[:2] == ["inprocess", "processes"]
    assert figure.legends[0].get_title().get_text() == "engine"
    titles = {axes.get_title() for axes in figure.axes}
    assert {"N = 3", "N = 5"} <= titles
    row_titles = {text.get_text() for axes in figure.axes for text in axes.texts}
    assert {"R = 1", "R = 3"} <= row_titles


def test_round_decision_rate_figure() -> None:
    figure = plots.round_decision_rate_figure(summary_frame())
    assert len(figure.axes) == len(ROUNDS)
    assert figure.axes[0].get_ylabel() == "P(a round decides)"
    assert legend_texts(figure)[:3] == ["3", "4", "5"]
    (curve, *_) = [l for l in figure.axes[0].get_lines() if l.get_linestyle() == "--"]
    x, y = curve.get_xdata(), curve.get_ydata()
    at = int(np.argmin(np.abs(x - 0.1)))
    assert y[at] == pytest.approx(theory.round_decision_probability(3, 0.1))


def test_messages_per_decision_figure() -> None:
    figure = plots.messages_per_decision_figure(summary_frame())
    assert all(axes.get_yscale() == "log" for axes in figure.axes)
    assert figure.axes[0].get_ylabel() == "messages per decision (log scale)"
    assert layout.EXACT_LABEL in legend_texts(figure)


def test_decision_heatmap_figure() -> None:
    summary = summary_frame()
    summary.loc[0, "outside_99"] = True  # one flagged cell shows a star
    figure = plots.decision_heatmap_figure(summary)
    panels = [axes for axes in figure.axes if axes.get_title()]
    assert [axes.get_title() for axes in panels] == ["R = 1", "R = 3"]
    assert len(figure.axes) == len(ROUNDS) + 1  # and the colour bar
    assert panels[0].get_ylabel() == "nodes N"
    assert panels[0].get_xlabel() == "crash probability p"
    labels = [t.get_text() for t in panels[0].get_yticklabels()]
    assert labels == ["3", "4", "5"]
    annotations = [t.get_text() for axes in panels for t in axes.texts]
    assert len(annotations) == len(summary)
    assert sum(text.endswith("*") for text in annotations) == 1
    assert "1.00" in annotations  # p = 0 always decides
    assert figure.axes[-1].get_ylabel() == "P(decision within R rounds)"


def test_first_decision_round_figure() -> None:
    keys = ["nodes", "fail_prob", "rounds"]
    distribution = aggregate.first_round_distribution(trials_frame(), keys)
    figure = plots.first_decision_round_figure(distribution)
    assert len(figure.axes) == len(NODES) * len(ROUNDS)
    assert legend_texts(figure) == ["round 0", "round 1", "round 2", "no decision",
                                    "exact, cumulative"]
    assert figure.legends[0].get_title().get_text() == "first deciding round"
    assert figure.axes[0].get_ylabel() == "fraction of trials"
    # every bar stack reaches 1 (all trials accounted for)
    for axes in figure.axes:
        tops: dict[float, float] = {}
        for bar in (p for p in axes.patches if isinstance(p, Rectangle)):
            x = round(bar.get_x() + bar.get_width() / 2, 6)
            tops[x] = max(tops.get(x, 0.0), bar.get_y() + bar.get_height())
        assert tops and all(top == pytest.approx(1.0) for top in tops.values())


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
