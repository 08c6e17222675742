"""Drawing a report's figures one after another: a failing figure reported and never fatal, a
full disk fatal, ``--jobs`` (once the number of worker processes) still accepted."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib.figure import Figure

from paxos_exp.analysis import draw, plots
from paxos_exp.analysis.cli import main
from paxos_exp.analysis.report import FIGURES, build_report, save_figure
from paxos_exp.analysis.style import FigureStyle


def small_figure(label: str) -> Figure:
    figure = Figure(figsize=(2, 1), layout="constrained")
    figure.add_subplot().set_title(label)
    return figure


def broken() -> Figure:
    raise RuntimeError("no data for this one")


def test_each_figure_drawn_or_its_reason_given_in_order(tmp_path: Path) -> None:
    builders = {"a": lambda: small_figure("a"), "broken": broken, "b": lambda: small_figure("b")}
    outcome = draw.draw_figures(builders, tmp_path, ("svg",), FigureStyle(), None, save_figure)
    assert list(outcome) == ["a", "broken", "b"]  # the builders' order
    assert outcome == {"a": None, "broken": "RuntimeError: no data for this one", "b": None}
    assert (tmp_path / "a.svg").is_file() and (tmp_path / "b.svg").is_file()
    assert not (tmp_path / "broken.svg").exists()


def test_a_failing_figure_is_reported(tiny_sweep: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> Figure:
        raise RuntimeError("boom in the heatmap")

    monkeypatch.setattr(plots, "decision_heatmap_figure", fail)
    out = build_report([tiny_sweep], out=tmp_path / "r")
    report = (out / "report.md").read_text()
    assert "- `decision_heatmap`: RuntimeError: boom in the heatmap" in report
    assert not (out / "decision_heatmap.png").exists()
    for name in FIGURES:
        if name != "decision_heatmap":
            assert (out / f"{name}.png").is_file(), name


def test_a_full_disk_stops_the_report(tiny_sweep: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def full_disk(self: Figure, target: object, *args: object, **kwargs: object) -> None:
        target.write(b"\x89PNG half")  # type: ignore[attr-defined]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Figure, "savefig", full_disk)
    out = tmp_path / "r"
    with pytest.raises(OSError, match="No space left"):
        build_report([tiny_sweep], out=out)
    assert not list(out.glob(".*.tmp*")) and not list(out.glob("*.png"))


def test_jobs_is_accepted_and_ignored_with_a_note(tiny_sweep: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tiny_sweep), "--out", str(tmp_path / "r"), "--jobs", "4",
                 "--format", "svg"]) == 0
    err = capsys.readouterr().err
    assert "--jobs is no longer needed and is ignored" in err
    assert (tmp_path / "r" / "decision_rate.svg").is_file()
    main(["build", "--help"])
    assert "--jobs" not in capsys.readouterr().out  # no longer offered
