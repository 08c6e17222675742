"""Figures against the fault model's own intensity: every model declares it, the report puts
the intensity the sweep varies on the x axis (crash_prob for crash_stop, fail_prob as before
for omission), named as the model declares it, and draws one set of figures per intensity
when sweeps of different models are read together."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import matplotlib.figure
import numpy as np
import pandas as pd
import pytest
from analysis_helpers import run_sweep

from paxos_exp.analysis import intensity, report
from paxos_exp.analysis.discover import ReportError
from paxos_exp.analysis.report import FIGURES, build_report
from paxos_exp.core.config import RunConfig
from paxos_exp.core.faults import FAULTS

CRASH_PROBS = (0.0, 0.2, 0.5)
CRASH_LABEL = "crash probability per node and round"  # crash_stop's declaration
LINE_FIGURES = ("decision_rate", "round_decision_rate", "messages_per_decision")


def test_every_fault_model_declares_an_intensity_it_has() -> None:
    run_keys = {field.name for field in dataclasses.fields(RunConfig)}
    for model in FAULTS:
        assert model.intensity is not None, model.name
        settings = {field.name for field in dataclasses.fields(model.params)}
        assert model.intensity.setting in settings | run_keys, model.name
        assert model.intensity.label, model.name
    assert FAULTS.get("omission").intensity.setting == "fail_prob"
    assert FAULTS.get("crash_stop").intensity.setting == "crash_prob"


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([{"nodes": 3, "rounds": 2, "fail_prob": 0.1, **row} for row in rows])


def test_the_x_axis_is_the_intensity_the_sweep_varies() -> None:
    omission = frame([{"faults": "omission", "fail_prob": p} for p in (0.1, 0.3)])
    assert intensity.x_columns(omission) == ["fail_prob"]
    # Frames from before the faults column, and a nodes-only sweep, keep fail_prob.
    assert intensity.x_columns(omission.drop(columns="faults")) == ["fail_prob"]
    assert intensity.x_columns(frame([{"nodes": n} for n in (3, 5)])) == ["fail_prob"]
    crash = frame([{"faults": "crash_stop", "crash_prob": c} for c in CRASH_PROBS])
    assert intensity.x_columns(crash) == ["crash_prob"]
    # One crash_stop setting: still its own intensity (a single point), not fail_prob.
    assert intensity.x_columns(crash.iloc[:1]) == ["crash_prob"]
    # A summary leaves faults out when every row has the same: its varying intensity wins.
    assert intensity.x_columns(crash.drop(columns="faults")) == ["crash_prob"]
    # Sweeps of two models read together: one set of figures each, fail_prob's first; the
    # crash_stop jobs (fail_prob at its default) are not drawn at fail_prob.
    mixed = pd.concat([omission, crash], ignore_index=True)
    assert intensity.x_columns(mixed) == ["fail_prob", "crash_prob"]
    assert list(intensity.rows_for(mixed, "fail_prob")["faults"]) == ["omission"] * 2
    assert list(intensity.rows_for(mixed, "crash_prob")["crash_prob"]) == list(CRASH_PROBS)
    # A composed model swept along both of its intensities: both, over every row.
    both = frame([{"faults": "omission+crash_stop", "fail_prob": p, "crash_prob": c}
                  for p in (0.1, 0.3) for c in CRASH_PROBS])
    assert intensity.x_columns(both) == ["fail_prob", "crash_prob"]
    assert len(intensity.rows_for(both, "crash_prob")) == len(both)
    # A clash with another key's name: the setting's column is faults_<setting>.
    assert intensity.column_of("crash_prob", ["faults_crash_prob", "crash_prob"]) == \
        "faults_crash_prob"


def test_labels_come_from_the_declarations() -> None:
    from paxos_exp.analysis.layout import axis_label, key_label

    crash = frame([{"faults": "crash_stop", "crash_prob": c} for c in CRASH_PROBS])
    assert axis_label(crash, "crash_prob") == CRASH_LABEL
    assert axis_label(frame([{}]), "fail_prob") == "crash probability p (per message)"
    assert axis_label(frame([{}]), "fail_prob", short=True) == "crash probability p"
    partition = frame([{"faults": "partition", "partition_prob": 0.1}])
    assert axis_label(partition, "partition_prob") == \
        FAULTS.get("partition").intensity.label
    assert key_label("nodes") == "nodes N"  # other keys as before


@pytest.fixture(scope="module")
def crash_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A crash_stop sweep over crash_prob and R (in-process, 6 jobs of 40 trials)."""
    root = tmp_path_factory.mktemp("crash")
    return run_sweep(root, "crash", "faults=crash_stop",
                     "faults.crash_stop.crash_prob=" + ",".join(map(str, CRASH_PROBS)),
                     "nodes=3", "rounds=1,2", "trials=40", "engine=inprocess", "report=false")


def report_figures(monkeypatch: pytest.MonkeyPatch, kept: dict[str, matplotlib.figure.Figure],
                   build: Any, *args: Any, **kwargs: Any) -> Path:
    """``build(*args, **kwargs)`` (build_report or export), keeping in ``kept`` each figure
    the report saves, by name."""
    save = report.save_figure

    def keep(figure: Any, directory: Path, name: str, *rest: Any) -> Any:
        kept[name] = figure
        return save(figure, directory, name, *rest)

    monkeypatch.setattr(report, "save_figure", keep)
    return build(*args, **kwargs)


def measured_x(figure: matplotlib.figure.Figure) -> set[float]:
    """The x values of a line figure's measured points (markers without a line)."""
    return {round(float(x), 9) for axes in figure.axes for line in axes.get_lines()
            if line.get_linestyle() == "None" and line.get_marker() not in ("None", "_", "")
            for x in line.get_xdata()}


def x_labels(figure: matplotlib.figure.Figure) -> set[str]:
    """The x labels of a figure: its panels' and the figure's own (the heatmap's)."""
    own = getattr(figure, "_supxlabel", None)  # Figure.get_supxlabel: matplotlib 3.8
    return {label for label in [own.get_text() if own is not None else "",
                                *(axes.get_xlabel() for axes in figure.axes)] if label}


def test_a_crash_stop_sweep_is_drawn_against_crash_prob(
        crash_sweep: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figures: dict[str, matplotlib.figure.Figure] = {}
    out = report_figures(monkeypatch, figures, build_report, [crash_sweep], out=tmp_path / "r",
                         formats="svg")
    assert set(figures) == set(FIGURES)  # the usual names: one intensity, one set
    for name in LINE_FIGURES:
        assert x_labels(figures[name]) == {CRASH_LABEL}, name
    assert measured_x(figures["decision_rate"]) == set(CRASH_PROBS)
    # crash_prob = 0 always decides in round 0; 0.5 does not.
    rates = {round(float(x), 9): float(y) for axes in figures["decision_rate"].axes
             for line in axes.get_lines() if line.get_linestyle() == "None"
             for x, y in zip(line.get_xdata(), line.get_ydata())}
    assert rates[0.0] == 1.0 and rates[0.5] < 1.0
    # The exact curve along crash_prob is the summary's exact value at every measured point
    # (the explorer's: crash_stop has no closed form), and it falls as crash_prob grows.
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["theory_source"]) == {"exhaustive"}
    for axes in figures["decision_rate"].axes:
        rounds = int(axes.get_title().removeprefix("R = "))
        (curve,) = [line for line in axes.get_lines() if line.get_linestyle() != "None"
                    and len(line.get_xdata()) > 2]
        at = dict(zip(np.round(curve.get_xdata(), 9), curve.get_ydata()))
        expected = summary[summary["rounds"] == rounds].set_index("crash_prob")["theory"]
        for crash_prob, theory in expected.items():
            assert at[round(crash_prob, 9)] == pytest.approx(theory, abs=1e-12), crash_prob
        assert expected[0.0] == pytest.approx(1.0) and expected[0.5] < expected[0.2] < 1.0
    # First deciding round: the exact line of "round 0" is the same law at R = 1 and R = 2
    # (the explored first round, not an average round raised to a power).
    round0 = {}
    for axes in figures["first_decision_round"].axes:
        lines = [line for line in axes.get_lines() if line.get_color() == "black"]
        if lines:
            round0.setdefault(len(lines), min(lines, key=lambda line: line.get_ydata()[-1]))
    np.testing.assert_allclose(round0[1].get_ydata(), round0[2].get_ydata(), atol=1e-12)
    heatmap = figures["decision_heatmap"]
    assert x_labels(heatmap) == {CRASH_LABEL}
    ticks = {text.get_text() for axes in heatmap.axes for text in axes.get_xticklabels()}
    assert {"0", "0.2", "0.5"} <= ticks
    bands = figures["first_decision_round"]
    assert x_labels(bands) == {CRASH_LABEL}
    assert bands.axes[0].get_xlim() == (0.0, 0.5)
    assert CRASH_LABEL in (out / "decision_rate.svg").read_text()


def test_a_fail_prob_sweep_keeps_its_axis(tiny_sweep: Path) -> None:
    """The figures themselves are compared with the earlier ones in test_analysis_plots."""
    from paxos_exp.analysis import aggregate, plots
    from paxos_exp.analysis.load import load

    jobs = load([tiny_sweep], trials=False).ok_jobs
    assert intensity.x_columns(jobs) == ["fail_prob"]
    summary = aggregate.summarize(jobs)
    assert list(report.make_figures(summary, summary, "nodes", "rounds", None)) == \
        list(FIGURES)
    figure = plots.decision_rate_figure(summary)
    assert x_labels(figure) == {"crash probability p (per message)"}
    assert measured_x(figure) == {0.1, 0.4}


def test_two_models_read_together_get_a_figure_set_each(
        crash_sweep: Path, tiny_sweep: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from paxos_exp.analysis.export import write_experiment_folder

    figures: dict[str, matplotlib.figure.Figure] = {}
    study = report_figures(monkeypatch, figures, write_experiment_folder,
                           [tiny_sweep, crash_sweep], tmp_path / "study", formats="svg")
    out = tiny_sweep / "report"  # export builds the report into the first sweep's
    assert set(figures) == set(FIGURES) | {f"{name}_by_crash_prob" for name in FIGURES}
    assert (study / "decision_rate_by_crash_prob.svg").is_file()  # export copies them too
    # The omission jobs along fail_prob, the crash_stop jobs (fail_prob at its default 0.1,
    # which they ignore) only along crash_prob.
    assert measured_x(figures["decision_rate"]) == {0.1, 0.4}
    assert x_labels(figures["decision_rate"]) == {"crash probability p (per message)"}
    assert measured_x(figures["decision_rate_by_crash_prob"]) == set(CRASH_PROBS)
    assert x_labels(figures["decision_rate_by_crash_prob"]) == {CRASH_LABEL}
    text = (out / "report.md").read_text()
    assert "![Decision rate by crash prob](decision_rate_by_crash_prob.svg)" in text
    assert "Drawn against `crash_prob`" in text
    # A figure set no longer drawn leaves no file behind on the next build.
    build_report([tiny_sweep], out=out, formats="svg")
    assert not list(out.glob("*_by_*"))


def test_an_intensity_on_another_axis_is_one_line(crash_sweep: Path, tiny_sweep: Path,
                                                  tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="crash_prob: it is the x axis"):
        build_report([crash_sweep], out=tmp_path / "r", hue="crash_prob")
    with pytest.raises(ReportError, match="fail_prob: it is the x axis"):
        build_report([tiny_sweep], out=tmp_path / "r", col="fail_prob")
    assert not (tmp_path / "r").exists()


def test_plot_functions_choose_the_intensity_themselves() -> None:
    from paxos_exp.analysis import aggregate, plots

    jobs = frame([{"faults": "crash_stop", "crash_prob": c, "trials": 10, "decided": d,
                   "rounds_total": 20, "deciding_rounds": d, "sent_total": 100, "seed": 0,
                   "status": "ok"} for c, d in zip(CRASH_PROBS, (10, 8, 4))])
    summary = aggregate.summarize(jobs, extra=["crash_prob"])  # faults: the same in all
    figure = plots.decision_rate_figure(summary)
    assert x_labels(figure) == {CRASH_LABEL}
    assert measured_x(figure) == set(CRASH_PROBS)
    np.testing.assert_allclose(sorted(measured_x(plots.decision_rate_figure(
        summary, x="crash_prob"))), CRASH_PROBS)
