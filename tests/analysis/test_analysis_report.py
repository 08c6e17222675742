"""build_report: problems never stop it and are all listed; mixed sweeps stay apart."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from paxos_exp.analysis.discover import ReportError
from paxos_exp.analysis.report import FIGURES, build_report, choose_axes
from paxos_exp.analysis.report_text import markdown_table


def job_dirs(sweep: Path) -> list[Path]:
    return sorted(path for path in sweep.iterdir() if (path / "result.json").is_file())


def edit_result(job: Path, **changes: object) -> dict:
    document = json.loads((job / "result.json").read_text())
    for dotted, value in changes.items():
        target = document
        *parents, leaf = dotted.split("__")
        for key in parents:
            target = target[key]
        target[leaf] = value
    (job / "result.json").write_text(json.dumps(document))
    return document


def test_a_broken_sweep_still_reports_and_lists_every_problem(tiny_sweep: Path) -> None:
    dirs = job_dirs(tiny_sweep)
    (dirs[0] / "result.json").unlink()
    (dirs[1] / "result.json").write_text("{\"status\": \"ok\", \"config\": ", encoding="utf-8")
    edit_result(dirs[2], status="failed", error="RunError: node 1 stalled in round 0",
                summary=None)
    (dirs[3] / "trials.parquet").write_bytes(b"\x00\x01garbage")
    gone = dirs[4].name
    shutil.rmtree(dirs[4])
    # a measurement far from theory (its trials table then disagrees too: a bad table as well)
    far = edit_result(dirs[5], summary__decided_trials=0, summary__deciding_rounds=0)

    out = build_report([tiny_sweep])
    report = (out / "report.md").read_text()
    assert "**Problems: 1 missing, 1 no result, 1 failed, 1 corrupt, 2 bad table" in report
    section = report.split("## Missing, failed or unreadable jobs")[1]
    for broken in (dirs[0], dirs[1], dirs[2], dirs[3]):
        assert str(broken) in section
    assert "node 1 stalled in round 0" in section
    assert "not valid JSON" in section
    assert "never ran" in section and gone not in section  # listed by its configuration
    outside = report.split("## Measurements outside the 99% interval around theory")[1]
    outside = outside.split("## Missing")[0]
    rows = [[cell.strip() for cell in line.strip("|").split("|")]
            for line in outside.splitlines() if line.startswith("|")]
    assert [str(far["config"]["nodes"]), f"{far['config']['fail_prob']:g}"] in [
        row[:2] for row in rows]
    # the report itself is complete for the jobs that are fine
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 4  # 8 jobs - no result - corrupt - failed - missing
    for name in FIGURES:
        assert (out / f"{name}.png").stat().st_size > 0
    problems = pd.read_csv(out / "problems.csv")
    assert len(problems) == 6


def test_nothing_completed(tiny_sweep: Path) -> None:
    for job in job_dirs(tiny_sweep):
        edit_result(job, status="failed", error="RunError: boom", summary=None)
    out = build_report([tiny_sweep])
    report = (out / "report.md").read_text()
    assert "No completed job: no figure." in report
    assert report.count("RunError: boom") == 8
    assert not any(out.glob("*.png"))


def test_two_sweeps_differing_in_a_key_are_not_averaged(tiny_sweep: Path) -> None:
    other = tiny_sweep.parent / "tiny_strict"
    shutil.copytree(tiny_sweep, other)
    for job in job_dirs(other):
        document = edit_result(job, config__join_quorum=2)
        edit_result(job, job_key=document["job_key"] + "_strict")
    out = build_report([tiny_sweep, other])
    assert out == tiny_sweep.parent / "report-tiny+tiny_strict"
    summary = pd.read_csv(out / "summary.csv")
    assert "join_quorum" in summary.columns and len(summary) == 16
    assert summary["join_quorum"].isna().sum() == 8 and (summary["join_quorum"] == 2).sum() == 8
    report = (out / "report.md").read_text()
    assert "`join_quorum`" in report and "varies" in report
    assert (out / "decision_rate.svg").is_file()


def test_choose_axes() -> None:
    columns = ["nodes", "fail_prob", "rounds", "engine"]
    assert choose_axes(columns, None, None, None) == ("nodes", "rounds", None)
    assert choose_axes(columns, "rounds", None, None) == ("rounds", "nodes", None)
    assert choose_axes(columns, "engine", None, "nodes") == ("engine", "rounds", "nodes")
    assert choose_axes(columns, None, "nodes", None) == ("rounds", "nodes", None)
    with pytest.raises(ReportError, match="choose from: nodes, rounds, engine"):
        choose_axes(columns, "colour", None, None)


def test_markdown_table() -> None:
    frame = pd.DataFrame({"key": ["a|b", None], "rate": [0.123456, float("nan")],
                          "count": [3, 4], "ok": [True, False]})
    text = markdown_table(frame, {"rate": ".3f"})
    lines = text.splitlines()
    cells = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines]
    assert cells[0] == ["key", "rate", "count", "ok"]
    assert lines[1].replace("-", "") == "|:|:|:|:|"  # left, right, right, left
    assert [part.endswith(":") for part in lines[1].strip("|").split("|")] == [
        False, True, True, False]
    assert cells[2] == ["a\\|b", "0.123", "3", "True"]  # the format kept, | escaped
    assert cells[3] == ["", "", "4", "False"]
    assert len({len(line) for line in lines}) == 1  # columns padded to one width


def test_summary_md_shows_violations_only_when_there_are_some() -> None:
    from paxos_exp.analysis.report_text import summary_markdown

    frame = pd.DataFrame({"nodes": [3, 3], "protocol": ["classic", "own_value"],
                          "trials": [10, 10], "decided": [9, 9], "violations": [0, 4],
                          "violation_rate": [0.0, 0.4], "violation_ci_low": [0.0, 0.17],
                          "violation_ci_high": [0.28, 0.69]})
    header = summary_markdown(frame, ["nodes", "protocol"]).splitlines()[0]
    assert "violations" in header and "violation_rate" in header
    safe = frame.assign(violations=0)
    assert "violation" not in summary_markdown(safe, ["nodes", "protocol"]).splitlines()[0]
