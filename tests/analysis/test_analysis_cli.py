"""paxos-report end to end: the files it writes, its subcommands, and its errors (status 2)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from analysis_helpers import run_sweep

from paxos_exp.analysis.cli import main, parse_rounds
from paxos_exp.analysis.discover import ReportError
from paxos_exp.analysis.report import FIGURES

REQUIRED_SUMMARY_COLUMNS = [
    "nodes", "fail_prob", "rounds", "trials", "decided", "decision_rate", "ci_low", "ci_high",
    "theory", "z", "round_rate", "round_theory", "first_round_mean", "messages_per_decision",
    "wall_seconds",
]


def assert_figures(directory: Path) -> None:
    for name in FIGURES:
        png = (directory / f"{name}.png").read_bytes()
        svg = (directory / f"{name}.svg").read_text(encoding="utf-8")
        assert png.startswith(b"\x89PNG") and len(png) > 10_000, name
        assert "<svg" in svg and "<text" in svg and len(svg) > 3_000, name  # text as text


def markdown_rows(text: str) -> list[list[str]]:
    """The cells of every row of the markdown tables in ``text`` (separator rows left out)."""
    return [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in text.splitlines()
            if line.startswith("|") and not set(line) <= set("|:- ")]


def test_report_of_a_real_sweep(tiny_sweep: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tiny_sweep), "--trials-table"]) == 0
    out = tiny_sweep / "report"
    assert f"report: {out / 'report.md'}" in capsys.readouterr().out
    assert_figures(out)
    jobs = pd.read_csv(out / "jobs.csv")
    trials = pd.read_csv(out / "trials.csv")
    summary = pd.read_csv(out / "summary.csv")
    assert len(jobs) == 8 and len(trials) == 8 * 30 and len(summary) == 8
    assert all(column in summary.columns for column in REQUIRED_SUMMARY_COLUMNS)
    assert (summary["ci_low"] <= summary["decision_rate"]).all()
    assert (summary["decision_rate"] <= summary["ci_high"]).all()
    rows = markdown_rows((out / "summary.md").read_text())
    assert rows[0][:6] == ["nodes", "fail_prob", "rounds", "trials", "decided",
                           "decision_rate"]
    assert sorted(row[0] for row in rows[1:]) == ["3"] * 4 + ["5"] * 4
    report = (out / "report.md").read_text()
    for name in FIGURES:
        assert f"]({name}.png)" in report
    assert "command: `paxos-exp -m name=tiny nodes=3,5 fail_prob=0.1,0.4" in report
    assert "None: every job of every directory read completed" in report
    assert "## Measurements outside the 99% interval around theory" in report


def test_axes_query_and_out(tiny_sweep: Path, tmp_path: Path) -> None:
    out = tmp_path / "custom"
    status = main([str(tiny_sweep), "--out", str(out), "--hue", "rounds", "--col", "nodes",
                   "--query", "fail_prob < 0.2"])
    assert status == 0
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["fail_prob"]) == {0.1} and len(summary) == 4
    assert len(pd.read_csv(out / "jobs.csv")) == 4
    assert "--query 'fail_prob < 0.2'" in (out / "report.md").read_text()
    assert_figures(out)


def test_no_directory_means_the_latest_sweep(tiny_sweep: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # tiny_sweep is tmp_path/outputs/sweeps/tiny
    assert main([]) == 0
    assert (tiny_sweep / "report" / "report.md").is_file()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["{missing}"], "no such directory"),
        (["{sweep}", "--hue", "colour"], "not a configuration column"),
        (["{sweep}", "--col", "fail_prob"], "x axis"),
        (["{sweep}", "--hue", "nodes", "--col", "nodes"], "two axes"),
        (["{sweep}", "--query", "nodes >>> 3"], "--query"),
        (["{sweep}", "--query", "nodes > 100"], "matches none"),
        (["{sweep}", "--colour", "x"], "unrecognized arguments"),
        (["{sweep}", "--format", "png,gif"], "gif: not a figure format"),
        (["{sweep}", "--format", ","], "name at least one"),
        (["{sweep}", "--context", "slides"], "invalid choice: 'slides'"),
        (["export", "{sweep}", "{missing}", "--format", "jpeg"], "not a figure format"),
        (["diagram", "{job}"], "trace=true"),
        (["diagram", "{missing}"], "no such directory"),
    ],
)
def test_bad_input_exits_with_status_2(
    tiny_sweep: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str],
    message: str,
) -> None:
    job = next(path for path in tiny_sweep.iterdir() if (path / "result.json").is_file())
    values = {"sweep": tiny_sweep, "missing": tmp_path / "nowhere", "job": job}
    assert main([argument.format(**values) for argument in arguments]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Traceback" not in captured.err
    assert not (tiny_sweep / "report" / "report.md").exists()


def test_no_sweep_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main([]) == 2
    assert "no sweep found" in capsys.readouterr().err


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    top = capsys.readouterr().out
    for command in ("build", "diagram", "export"):
        assert f"    {command} " in top, top  # argparse lists each subcommand with its help
    for command in ("build", "diagram", "export"):
        assert main([command, "--help"]) == 0
        assert "--format" in capsys.readouterr().out
    assert main(["build", "--help"]) == 0
    build = capsys.readouterr().out
    assert "--context {paper,talk,poster}" in build and "--trials-table" in build


def test_diagram_command(traced_job: Path, tmp_path: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    job = tmp_path / traced_job.name
    shutil.copytree(traced_job, job)
    assert main(["diagram", str(job), "--trial", "1", "--rounds", "1:4"]) == 0
    for suffix in (".png", ".svg"):
        assert (job / f"diagram_trial1_rounds1-4{suffix}").stat().st_size > 10_000
    target = tmp_path / "figures" / "one.svg"
    assert main(["diagram", str(job), "--out", str(target)]) == 0
    assert "<svg" in target.read_text()
    assert f"diagram: {target}" in capsys.readouterr().out
    for bad, message in ((["--trial", "9"], "not in the trace"), (["--rounds", "a:b"], "A:B"),
                         (["--rounds", "4:2"], "A < B"), (["--rounds", "40:50"], "no round"),
                         (["--out", str(tmp_path / "x.txt")], ".png")):
        assert main(["diagram", str(job), *bad]) == 2
        assert message in capsys.readouterr().err


def test_parse_rounds() -> None:
    assert parse_rounds(None) is None
    assert parse_rounds("2:5") == (2, 5)
    assert parse_rounds(":3") == (None, 3)
    assert parse_rounds("4:") == (4, None)
    assert parse_rounds("3") == (3, 4)
    with pytest.raises(ReportError):
        parse_rounds("x")


def test_export_an_experiment_folder(tiny_sweep: Path, tmp_path: Path) -> None:
    dest = tmp_path / "experiments" / "tiny"
    assert main(["export", str(tiny_sweep), str(dest)]) == 0
    assert_figures(dest)
    assert (dest / "summary.md").is_file() and (dest / "summary.csv").is_file()
    assert not list(dest.glob("*.pdf"))  # the default formats: png and svg
    readme = (dest / "README.md").read_text()
    assert "![" in readme and "(decision_rate.png)" in readme
    assert "paxos-report outputs/sweeps/tiny" in readme
    assert "paxos-report export outputs/sweeps/tiny experiments/tiny" in readme
    assert "nodes=3,5" in readme
    assert not (dest / "trials.csv").exists()  # the big tables stay with the sweep
    (dest / "README.md").write_text("# my reading\n")
    # Figures an earlier export drew and this one does not (no violation here; an x axis
    # this sweep lacks) go; a file of the user's, or a format not exported, stays.
    stale = ["violation_rate.png", "decision_heatmap_by_partition_prob.svg"]
    kept = ["my_figure.png", "decision_rate.pdf", "decision_rate_by_hand.png"]
    for name in (*stale, *kept):
        (dest / name).write_bytes(b"old")
    assert main(["export", str(tiny_sweep), str(dest)]) == 0
    assert (dest / "README.md").read_text() == "# my reading\n"  # never overwritten
    assert not any((dest / name).exists() for name in stale)
    assert all((dest / name).read_bytes() == b"old" for name in kept)
    assert_figures(dest)


def test_an_export_whose_heatmap_is_left_out_lists_only_the_figures_drawn(
        tiny_sweep: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from paxos_exp.analysis import plots
    from paxos_exp.analysis.draw import FigureLeftOut

    def left_out(*args, **kwargs):
        raise FigureLeftOut("left out: only 2 of its 9 cells would have a value")

    monkeypatch.setattr(plots, "decision_heatmap_figure", left_out)
    sweep = tmp_path / "tiny"  # a copy: the shared sweep's own report stays whole
    shutil.copytree(tiny_sweep, sweep)
    dest = tmp_path / "study"
    assert main(["export", str(sweep), str(dest)]) == 0
    assert not (dest / "decision_heatmap.png").exists()
    readme = (dest / "README.md").read_text()
    assert "decision_heatmap" not in readme and "`decision_rate.png`" in readme
    report = (sweep / "report" / "report.md").read_text()
    assert "- `decision_heatmap`: left out: only 2 of its 9 cells" in report


def test_real_process_sweep_reports_at_its_end(tmp_path: Path) -> None:
    """A small sweep on real node processes: the Hydra callback builds the report, and the
    console script rebuilds it with another layout."""
    sweep = run_sweep(tmp_path, "real", "nodes=3", "fail_prob=0.2,0.5", "rounds=2", "trials=4")
    report = sweep / "report"
    assert (report / "report.md").is_file()
    summary = pd.read_csv(report / "summary.csv")
    assert len(summary) == 2 and (summary["trials"] == 4).all()
    jobs = pd.read_csv(report / "jobs.csv")
    assert set(jobs["engine"]) == {"processes"}
    script = Path(sys.executable).parent / "paxos-report"
    command = [str(script)] if script.exists() else [sys.executable, "-m",
                                                       "paxos_exp.analysis.cli"]
    completed = subprocess.run([*command, str(sweep), "--out", str(tmp_path / "again"),
                                "--hue", "start_method"],
                               capture_output=True, text=True, check=False,
                               timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert_figures(tmp_path / "again")


def test_the_command_freezes_its_imports_only_while_it_runs(
        tiny_sweep: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from paxos_exp.analysis import cli, report

    frozen_during: list[int] = []
    build = report.build_report

    def spy(*args: object, **kwargs: object) -> Path:
        frozen_during.append(gc.get_freeze_count())
        return build(*args, **kwargs)

    monkeypatch.setattr(report, "build_report", spy)
    assert cli.main([str(tiny_sweep), "--out", str(tmp_path / "r"), "--format", "svg"]) == 0
    assert frozen_during and frozen_during[0] > 0  # the imports' objects, left out of gc
    assert gc.get_freeze_count() == 0  # and handed back: a caller that goes on collects them
