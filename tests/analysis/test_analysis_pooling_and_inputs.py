"""Pooling jobs without double counting (overlaps, reruns over failed copies) and the report's
checks of its inputs (queries, axes, a missing trials table)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from analysis_helpers import run_sweep
from paxos_exp.analysis import problems
from paxos_exp.analysis.aggregate import summarize
from paxos_exp.analysis.cli import main as report_main
from paxos_exp.analysis.load import load


def _jobs(sweep: Path) -> list[Path]:
    return sorted(path.parent for path in sweep.glob("*/result.json"))


def test_overlap_ignores_deadlines(tmp_path: Path) -> None:
    # A rerun with more trials and longer deadlines overlaps the first run: count it once.
    sweep = run_sweep(tmp_path, "ov", "nodes=3", "fail_prob=0.3", "rounds=1", "trials=30",
                      "engine=inprocess", "report=false")
    run_sweep(tmp_path, "ov", "nodes=3", "fail_prob=0.3", "rounds=1", "trials=60",
              "runtime.receive_timeout=20", "engine=inprocess", "report=false")
    results = load([sweep])
    assert list(results.problems["kind"]) == [problems.OVERLAP]
    summary = summarize(results.jobs, config_columns=results.config_columns)
    assert list(summary["trials"]) == [60]


def test_an_ok_rerun_beats_a_failed_copy_of_the_same_job(tiny_sweep: Path, tmp_path: Path) -> None:
    job = _jobs(tiny_sweep)[0]
    failed_dir, ok_dir = tmp_path / "a" / job.name, tmp_path / "b" / job.name
    shutil.copytree(job, failed_dir)
    shutil.copytree(job, ok_dir)
    document = json.loads((failed_dir / "result.json").read_text())
    document.update(status="failed", error="RunError: node 1 died", summary=None)
    (failed_dir / "result.json").write_text(json.dumps(document))
    results = load([failed_dir, ok_dir])
    assert list(results.jobs["status"]) == ["ok"]
    assert list(results.problems["kind"]) == [problems.DUPLICATE]
    assert "failed run" in results.problems["detail"].iloc[0]


def test_a_query_must_be_a_condition(tiny_sweep: Path, tmp_path: Path, capsys) -> None:
    assert report_main([str(tiny_sweep), "--out", str(tmp_path / "r"), "--query", "nodes"]) == 2
    assert "not a condition" in capsys.readouterr().err


def test_trials_is_not_an_axis(tiny_sweep: Path, tmp_path: Path, capsys) -> None:
    assert report_main([str(tiny_sweep), "--out", str(tmp_path / "r"), "--hue", "trials"]) == 2
    assert "sample size" in capsys.readouterr().err


def test_report_without_any_trials_table_still_written(tiny_sweep: Path, tmp_path: Path) -> None:
    for table in tiny_sweep.glob("*/trials.parquet"):
        table.unlink()
    out = tmp_path / "r"
    assert report_main([str(tiny_sweep), "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert "## Figures not drawn" in text and "first_decision_round" in text
    assert (out / "decision_rate.png").stat().st_size > 0
    assert not (out / "first_decision_round.png").exists()


def test_report_md_explains_every_problem_kind() -> None:
    from paxos_exp.analysis.report_text import PROBLEM_MEANINGS

    assert set(PROBLEM_MEANINGS) == set(problems.PROBLEM_KINDS)
    assert all(meaning.strip() for meaning in PROBLEM_MEANINGS.values())
