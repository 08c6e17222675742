"""Reading result directories: tidy frames, and every missing, failed or unreadable job listed."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from paxos_exp.analysis import discover
from paxos_exp.analysis import job
from paxos_exp.analysis import problems
from paxos_exp.analysis.load import ReportError, load


def job_dirs(sweep: Path) -> list[Path]:
    return sorted(path for path in sweep.iterdir() if (path / "result.json").is_file())


def test_a_sweep_reads_into_tidy_frames(tiny_sweep: Path) -> None:
    results = load([tiny_sweep])
    assert results.problems.empty
    assert len(results.jobs) == 8 and (results.jobs["status"] == "ok").all()
    assert len(results.trials) == 8 * 30
    for column in ("nodes", "fail_prob", "rounds", "trials", "seed", "engine", "start_method"):
        assert column in results.config_columns
    assert set(results.jobs["nodes"]) == {3, 5}
    assert set(results.jobs["fail_prob"]) == {0.1, 0.4}
    # trial rows carry the configuration, and their own initial values as text ("010")
    assert set(results.trials["nodes"]) == {3, 5}
    lengths = results.trials["trial_initial_values"].str.len()
    assert (lengths == results.trials["nodes"]).all()
    assert results.trials["decided"].dtype == bool
    decided = results.trials.groupby("job_key")["decided"].sum()
    assert (decided == results.jobs.set_index("job_key")["decided"]).all()
    assert results.sweeps[0].name == "tiny"


def test_rounds_on_request(tiny_sweep: Path) -> None:
    results = load([tiny_sweep], trials=False, rounds=True)
    assert results.trials.empty
    assert results.rounds is not None
    expected = (results.jobs["trials"] * results.jobs["rounds"]).sum()
    assert len(results.rounds) == expected


def test_a_single_job_directory(tiny_sweep: Path) -> None:
    one = job_dirs(tiny_sweep)[0]
    results = load([one])
    assert len(results.jobs) == 1 and results.problems.empty
    results = load([one / "result.json"])
    assert len(results.jobs) == 1


def test_every_problem_is_listed(tiny_sweep: Path) -> None:
    dirs = job_dirs(tiny_sweep)
    (dirs[0] / "result.json").unlink()  # killed before writing its result
    (dirs[1] / "result.json").write_text("{ not json", encoding="utf-8")
    document = json.loads((dirs[2] / "result.json").read_text())
    document.update(status="failed", error="RunError: node 2 died", summary=None)
    (dirs[2] / "result.json").write_text(json.dumps(document))
    with open(dirs[3] / "trials.parquet", "ab") as handle:
        handle.write(b"999,01,True,0,1\n")  # bytes after the Parquet footer
    removed = json.loads((dirs[4] / "result.json").read_text())["config"]
    shutil.rmtree(dirs[4])  # never ran

    results = load([tiny_sweep])
    problems = results.problems
    kinds = sorted(problems["kind"])
    assert kinds == sorted(["no result", "corrupt", "failed", "bad table", "missing"])
    missing = problems[problems["kind"] == "missing"].iloc[0]
    assert f"nodes={removed['nodes']}" in missing["detail"]
    assert f"fail_prob={removed['fail_prob']}" in missing["detail"]
    assert f"rounds={removed['rounds']}" in missing["detail"]
    failed = problems[problems["kind"] == "failed"].iloc[0]
    assert "node 2 died" in failed["detail"]
    assert "not valid JSON" in problems[problems["kind"] == "corrupt"].iloc[0]["detail"]
    # the failed job is in jobs (its configuration is known), the unreadable ones are not
    assert len(results.jobs) == 5
    assert (results.jobs["status"] == "failed").sum() == 1
    # a job whose table is bad keeps its result.json counts, but gives no trial rows
    bad_key = problems[problems["kind"] == "bad table"].iloc[0]["job_key"]
    assert bad_key in set(results.ok_jobs["job_key"])
    assert bad_key not in set(results.trials["job_key"])


def test_missing_jobs_counted_from_the_manifest(tiny_sweep: Path) -> None:
    (tiny_sweep / "multirun.yaml").unlink()  # no grid: only sweep.json's count remains
    shutil.rmtree(job_dirs(tiny_sweep)[0])
    problems = load([tiny_sweep]).problems
    assert list(problems["kind"]) == ["missing"]
    assert "8 jobs, 7 job directories" in problems.iloc[0]["detail"]


def test_incomplete_result_is_corrupt(tiny_sweep: Path) -> None:
    target = job_dirs(tiny_sweep)[0]
    document = json.loads((target / "result.json").read_text())
    del document["summary"]["decided_trials"]
    (target / "result.json").write_text(json.dumps(document))
    problems = load([tiny_sweep]).problems
    assert list(problems["kind"]) == ["corrupt"]
    assert "decided_trials" in problems.iloc[0]["detail"]


def test_the_same_job_twice_is_used_once(tiny_sweep: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(tiny_sweep, copy)
    results = load([tiny_sweep, copy])
    assert len(results.jobs) == 8
    assert (results.problems["kind"] == "duplicate").sum() == 8
    # the same directory given twice is not a duplicate
    assert load([tiny_sweep, tiny_sweep]).problems.empty


def test_globs_and_report_directories(tiny_sweep: Path) -> None:
    (tiny_sweep / "report").mkdir()
    (tiny_sweep / "report" / "report.md").write_text("# old report\n")
    results = load([str(tiny_sweep.parent / "ti*")])
    assert len(results.jobs) == 8 and results.problems.empty


def test_bad_paths_raise_report_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no such directory"):
        load([tmp_path / "nowhere"])
    with pytest.raises(ReportError, match="matches no sweep or job directory"):
        load([str(tmp_path / "nothing*")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReportError, match="no paxos-exp results"):
        load([tmp_path / "empty"])


def test_latest_sweep(tiny_sweep: Path, tmp_path: Path) -> None:
    root = tiny_sweep.parent
    older = root / "older"
    shutil.copytree(tiny_sweep, older)
    past = time.time() - 3600
    for name in ("sweep.json", "multirun.yaml"):
        os.utime(older / name, (past, past))
    assert discover.latest_sweep(root) == tiny_sweep
    with pytest.raises(ReportError, match="no sweep found"):
        discover.latest_sweep(tmp_path / "none")


def test_read_trace(traced_job: Path, tiny_sweep: Path) -> None:
    trace = job.read_trace(traced_job)
    assert list(trace.columns[:6]) == ["trial", "round", "phase", "sender", "receiver", "kind"]
    assert trace["crashed"].dtype == bool
    assert (trace.loc[trace["crashed"], "kind"] == "CRASH").all()
    with pytest.raises(ReportError, match="trace=true"):
        job.read_trace(job_dirs(tiny_sweep)[0])


def test_flatten_config() -> None:
    flat = job.flatten_config({"nodes": 3, "runtime": {"start_method": "fork"},
                                   "other": {"nodes": 9}})
    assert flat == {"nodes": 3, "start_method": "fork", "other_nodes": 9}


def test_same_seed_jobs_differing_in_trials_are_counted_once(tmp_path: Path) -> None:
    from analysis_helpers import run_sweep

    from paxos_exp.analysis.aggregate import summarize

    sweep = run_sweep(tmp_path, "ovl", "nodes=3", "fail_prob=0.3", "rounds=2", "trials=20,50",
                      "engine=inprocess", "report=false")
    results = load([sweep])
    assert list(results.jobs["trials"]) == [50]
    assert list(results.problems["kind"]) == [problems.OVERLAP]
    assert "not counted twice" in results.problems["detail"].iloc[0]
    assert len(results.trials) == 50
    summary = summarize(results.jobs, config_columns=results.config_columns)
    assert list(summary["trials"]) == [50]
    # Different seeds are independent replicates: pooled, not dropped.
    sweep = run_sweep(tmp_path, "seeds", "nodes=3", "fail_prob=0.3", "rounds=2", "trials=20",
                      "seed=1,2", "engine=inprocess", "report=false")
    results = load([sweep])
    assert results.problems.empty
    summary = summarize(results.jobs, config_columns=results.config_columns)
    assert list(summary["trials"]) == [40] and list(summary["jobs"]) == [2]
