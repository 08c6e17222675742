"""Drawing a report's figures in worker processes: the same files as one at a time, a failing
figure reported and never fatal, a deadline that stops stuck workers, nothing left running."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from paxos_exp.analysis import draw, plots
from paxos_exp.analysis.cli import main
from paxos_exp.analysis.report import FIGURES, build_report, save_figure
from paxos_exp.analysis.style import FigureStyle

needs_fork = pytest.mark.skipif(not draw.can_fork(), reason="workers are forked (Linux)")


def small_figure(label: str) -> Figure:
    figure = Figure(figsize=(2, 1), layout="constrained")
    figure.add_subplot().set_title(label)
    return figure


def stuck() -> Figure:
    threading.Event().wait()  # never set: only the deadline ends this worker
    raise AssertionError("unreachable")


def broken() -> Figure:
    raise RuntimeError("no data for this one")


@needs_fork
def test_workers_write_the_same_files_as_one_at_a_time(tiny_sweep: Path, tmp_path: Path) -> None:
    one = build_report([tiny_sweep], out=tmp_path / "one", formats="svg,png", workers=1)
    two = build_report([tiny_sweep], out=tmp_path / "two", formats="svg,png", workers=2)
    for name in FIGURES:
        for fmt in ("svg", "png"):
            assert (one / f"{name}.{fmt}").read_bytes() == (two / f"{name}.{fmt}").read_bytes()
    assert (one / "report.md").read_text().count("![") == \
        (two / "report.md").read_text().count("![") == len(FIGURES)
    assert not multiprocessing.active_children()


@needs_fork
def test_a_failing_figure_in_a_worker_is_reported(tiny_sweep: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> Figure:
        raise RuntimeError("boom in the heatmap")

    monkeypatch.setattr(plots, "decision_heatmap_figure", fail)  # the workers inherit it
    out = build_report([tiny_sweep], out=tmp_path / "r", workers=3)
    report = (out / "report.md").read_text()
    assert "- `decision_heatmap`: RuntimeError: boom in the heatmap" in report
    assert not (out / "decision_heatmap.png").exists()
    for name in FIGURES:
        if name != "decision_heatmap":
            assert (out / f"{name}.png").is_file(), name


@needs_fork
def test_the_deadline_stops_a_stuck_worker(tmp_path: Path) -> None:
    builders = {"fine": lambda: small_figure("fine"), "stuck": stuck, "broken": broken}
    outcome = draw.draw_figures(builders, tmp_path, ("svg",), FigureStyle(), None, save_figure,
                                workers=3, deadline=10.0)  # generous: only the stuck worker waits for it
    assert list(outcome) == ["fine", "stuck", "broken"]  # the builders' order
    assert outcome["fine"] is None and (tmp_path / "fine.svg").is_file()
    assert outcome["stuck"] == "not drawn within 10 s (the workers were stopped)"
    assert outcome["broken"] == "RuntimeError: no data for this one"
    assert not multiprocessing.active_children()  # every worker stopped and reaped
    assert not list(tmp_path.glob(".*.tmp*"))  # no half-written file left


def test_one_at_a_time_needs_no_worker(tmp_path: Path) -> None:
    builders = {"a": lambda: small_figure("a"), "broken": broken}
    outcome = draw.draw_figures(builders, tmp_path, ("svg",), FigureStyle(), None, save_figure,
                                workers=1)
    assert outcome == {"a": None, "broken": "RuntimeError: no data for this one"}
    assert draw.usable_cpus() >= 1


def test_jobs_must_be_positive(tiny_sweep: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tiny_sweep), "--jobs", "0"]) == 2
    assert "--jobs 0: give 1 or more" in capsys.readouterr().err


@needs_fork
def test_a_full_disk_in_a_worker_stops_the_report(tiny_sweep: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(self: Figure, target: object, *args: object, **kwargs: object) -> None:
        target.write(b"\x89PNG half")  # type: ignore[attr-defined]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", full_disk)
    out = tmp_path / "r"
    with pytest.raises(OSError, match="No space left"):
        build_report([tiny_sweep], out=out, workers=2)
    assert not multiprocessing.active_children()
    assert not list(out.glob(".*.tmp*")) and not list(out.glob("*.png"))
