"""What resume knows, in the report: interrupted jobs, tables that do not check out, jobs
running elsewhere (held lock), and jobs of one sweep found completed in another."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from analysis_helpers import append_row, change_first_trial, keep_rows

from paxos_exp.analysis import load as loading
from paxos_exp.analysis import problems
from paxos_exp.analysis.job import table_path
from paxos_exp.analysis.load import load
from paxos_exp.analysis.report import build_report
from paxos_exp.results import LOCK_FILE, table_entry


def _jobs(sweep: Path) -> list[Path]:
    return sorted(path.parent for path in sweep.glob("*/result.json"))


def _document(job: Path) -> dict:
    return json.loads((job / "result.json").read_text(encoding="utf-8"))


def _write(job: Path, document: dict) -> None:
    (job / "result.json").write_text(json.dumps(document), encoding="utf-8")


def _kinds(results: loading.Results) -> list[str]:
    return sorted(results.problems["kind"])


@pytest.fixture(params=["parquet", "csv"])
def any_sweep(request: pytest.FixtureRequest) -> Path:
    """The tiny sweep with Parquet tables (the default), then with CSV tables (tables=csv,
    and results of versions before Parquet)."""
    return request.getfixturevalue("tiny_sweep" if request.param == "parquet"
                                   else "tiny_csv_sweep")


def _table(job: Path, table: str) -> Path:
    path = table_path(job, table)
    assert path is not None
    return path


def _interrupt(job: Path, done: int | None) -> dict:
    """Make ``job`` look as paxos-exp leaves a job stopped after ``done`` whole trials (None:
    before its tables existed): status interrupted, partial tables and their entries."""
    document = _document(job)
    document.update(status="interrupted",
                    error="interrupted (KeyboardInterrupt); rerun the same command to redo it")
    trials, rounds = _table(job, "trials"), _table(job, "rounds")
    if done is None:
        document.update(summary=None, tables=None)
        trials.unlink()
        rounds.unlink()
    else:
        keep_rows(trials, done)
        keep_rows(rounds, done * document["config"]["rounds"])
        document["summary"]["trials"] = done
        document["tables"] = {path.name: table_entry(path) for path in (trials, rounds)}
    _write(job, document)
    return document


@contextmanager
def _held_lock(job: Path) -> Iterator[None]:
    """Hold the job's lock as a paxos-exp running it would (locked_elsewhere opens its own
    descriptor, so this process's flock conflicts with it)."""
    fd = os.open(job / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------- 1: interrupted


def test_an_interrupted_job_is_its_own_problem_and_never_pooled(any_sweep: Path) -> None:
    job = _jobs(any_sweep)[0]
    key = _interrupt(job, 7)["job_key"]
    results = load([any_sweep])
    assert _kinds(results) == [problems.INTERRUPTED]  # not corrupt, and not missing either
    (detail,) = results.problems["detail"]
    assert detail == "interrupted after 7 of 30 trials; rerun the same command to redo it"
    # Known (its configuration is a row of the jobs) but not counted.
    status = results.jobs.set_index("job_key")["status"]
    assert status[key] == "interrupted"
    assert key not in set(results.ok_jobs["job_key"])
    assert key not in set(results.trials["job_key"])
    assert len(results.trials) == 7 * 30


def test_an_interrupted_job_in_the_report(tiny_sweep: Path, tmp_path: Path) -> None:
    _interrupt(_jobs(tiny_sweep)[0], 7)
    out = build_report([tiny_sweep], out=tmp_path / "r")
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "**Problems: 1 interrupted;" in report
    assert "7 completed jobs (210 trials), 0 failed, 1 interrupted;" in report
    section = report.split("## Missing, failed or unreadable jobs")[1]
    assert "- `interrupted`: stopped by Ctrl-C or SIGTERM" in section
    assert "interrupted after 7 of 30 trials; rerun the same command to redo it" in section
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 7 and summary["trials"].sum() == 210


def test_a_job_interrupted_before_its_first_trial(tiny_sweep: Path) -> None:
    _interrupt(_jobs(tiny_sweep)[0], None)
    results = load([tiny_sweep])
    assert _kinds(results) == [problems.INTERRUPTED]
    assert results.problems["detail"].iloc[0].startswith(
        "interrupted before any trial was recorded; rerun")


def test_an_ok_rerun_elsewhere_replaces_an_interrupted_copy(tiny_sweep: Path,
                                                            tmp_path: Path) -> None:
    job = _jobs(tiny_sweep)[0]
    stopped, finished = tmp_path / "a" / job.name, tmp_path / "b" / job.name
    shutil.copytree(job, stopped)
    shutil.copytree(job, finished)
    _interrupt(stopped, 3)
    results = load([stopped, finished])
    assert list(results.jobs["status"]) == ["ok"]
    assert _kinds(results) == [problems.DUPLICATE]
    assert "an interrupted run of the same job" in results.problems["detail"].iloc[0]


# ----------------------------------------------------------------------------- 2: tables


def test_a_truncated_table_is_listed_with_its_reason(any_sweep: Path) -> None:
    job = _jobs(any_sweep)[0]
    document = _document(job)
    rounds = _table(job, "rounds")
    recorded = document["tables"][rounds.name]["rows"]
    keep_rows(rounds, recorded - 5)
    results = load([any_sweep], rounds=True)
    assert _kinds(results) == [problems.BAD_TABLE]
    (detail,) = results.problems["detail"]
    assert detail.startswith(f"{rounds.name} has {recorded - 5} rows, result.json records "
                             f"{recorded}: rerun the sweep to redo it")
    assert "counts come from result.json" in detail
    # Its counts still come from result.json; none of its table rows are used.
    key = document["job_key"]
    assert key in set(results.ok_jobs["job_key"])
    assert key not in set(results.trials["job_key"])
    assert results.rounds is not None and key not in set(results.rounds["job_key"])


@pytest.mark.parametrize("damage, reason", [
    ("changed", "trials.{} does not match the checksum in result.json (changed or truncated)"),
    ("cut short", None),
    ("missing", "rounds.{} is missing"),
    ("no checksums", "result.json records no table checksums"),
])
def test_tables_that_do_not_check_out(any_sweep: Path, damage: str, reason: str) -> None:
    job = _jobs(any_sweep)[0]
    fmt = _table(job, "trials").suffix.lstrip(".")
    if damage == "changed":  # same row count, one value altered
        change_first_trial(_table(job, "trials"))
    elif damage == "cut short":  # the last bytes lost (a Parquet file loses its footer)
        rounds = _table(job, "rounds")
        rounds.write_bytes(rounds.read_bytes()[:-40])
        reason = ("rounds.parquet is damaged or cut short: not a whole Parquet file"
                  if fmt == "parquet" else "rounds.csv has ")
    elif damage == "missing":
        _table(job, "rounds").unlink()
    else:
        document = _document(job)
        document["tables"] = None
        _write(job, document)
    results = load([any_sweep])
    assert _kinds(results) == [problems.BAD_TABLE]
    detail = results.problems["detail"].iloc[0]
    assert detail.startswith(reason.format(fmt)), detail
    assert ": rerun the sweep" in detail


def test_a_single_run_is_told_to_rerun_its_command(tiny_sweep: Path) -> None:
    job = _jobs(tiny_sweep)[0]
    (job / "rounds.parquet").unlink()
    (detail,) = load([job]).problems["detail"]
    assert detail.startswith("rounds.parquet is missing: rerun the same command to redo it")


def test_results_of_older_versions_keep_the_row_count_check(tiny_csv_sweep: Path) -> None:
    dirs = _jobs(tiny_csv_sweep)
    for job in dirs:  # written before result.json recorded its tables: CSV tables only
        document = _document(job)
        del document["tables"]
        _write(job, document)
    assert load([tiny_csv_sweep]).problems.empty  # not flagged for lacking checksums
    append_row(dirs[0] / "trials.csv", {
        "trial": 30, "initial_values": "010", "decided": True, "first_decision_round": 0,
        "deciding_rounds": 1, "decision": 0, "agreement_ok": True, "validity_ok": True,
        "proposals_ok": True})
    (detail,) = load([tiny_csv_sweep]).problems["detail"]
    assert detail.startswith("trials.csv has 31 rows, result.json counts 30 trials")


# ----------------------------------------------------------------------------- 3: lock held


@pytest.mark.parametrize("state", ["ok", "failed", "no result", "corrupt"])
def test_a_job_whose_lock_is_held_is_running_elsewhere(tiny_sweep: Path, state: str) -> None:
    job = _jobs(tiny_sweep)[0]
    if state == "failed":
        document = _document(job)
        document.update(status="failed", error="RunError: boom", summary=None)
        _write(job, document)
    elif state == "no result":
        (job / "result.json").unlink()
    elif state == "corrupt":
        (job / "result.json").write_text("{ half", encoding="utf-8")
    with _held_lock(job):
        results = load([tiny_sweep])
    assert _kinds(results) == [problems.RUNNING]  # whatever its result.json says, not missing
    (problem,) = results.problems.to_dict("records")
    assert problem["path"] == str(job) and problem["job_key"] == job.name
    assert "running it now" in problem["detail"]
    assert len(results.jobs) == 7 and job.name not in set(results.jobs["job_key"])
    assert job.name not in set(results.trials["job_key"])
    if state == "ok":  # the lock released, the finished job reads as usual
        assert load([tiny_sweep]).problems.empty


def test_a_job_dir_alone_running_elsewhere(tiny_sweep: Path) -> None:
    job = _jobs(tiny_sweep)[0]
    with _held_lock(job):
        results = load([job])
    assert _kinds(results) == [problems.RUNNING] and results.jobs.empty


def test_no_result_with_a_free_lock_was_killed(tiny_sweep: Path) -> None:
    job = _jobs(tiny_sweep)[0]
    (job / "result.json").unlink()
    (detail,) = load([tiny_sweep]).problems["detail"]
    assert "no paxos-exp is running it (its lock is free)" in detail
    (job / LOCK_FILE).unlink()  # an older version's directory: no lock to tell
    (detail,) = load([tiny_sweep]).problems["detail"]
    assert "the job was killed, or is still running" in detail


def test_running_elsewhere_in_the_report(tiny_sweep: Path, tmp_path: Path) -> None:
    job = _jobs(tiny_sweep)[0]
    with _held_lock(job):
        out = build_report([tiny_sweep], out=tmp_path / "r")
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "**Problems: 1 running elsewhere;" in report
    assert "7 completed jobs (210 trials), 0 failed, 1 running elsewhere;" in report
    section = report.split("## Missing, failed or unreadable jobs")[1]
    assert "- `running elsewhere`: another paxos-exp holds the job's lock" in section
    assert f"| running elsewhere | {job} |" in section


# ----------------------------------------------------------------------------- 4: elsewhere


def test_a_job_found_completed_in_another_sweep_is_not_missing(tiny_sweep: Path) -> None:
    copy = tiny_sweep.parent / "tiny_again"
    shutil.copytree(tiny_sweep, copy)
    gone = _jobs(copy)[0]
    config = _document(gone)["config"]
    shutil.rmtree(gone)
    results = load([tiny_sweep, copy])
    assert _kinds(results) == [problems.DUPLICATE] * 7  # the 7 jobs both hold; none missing
    (note,) = results.notes
    assert note.startswith(f"{copy}: 1 job its grid asks for is not in this directory")
    assert f"nodes={config['nodes']}" in note and str(tiny_sweep) in note
    # The other order too: the copy is read first, the job still exists.
    assert _kinds(load([copy, tiny_sweep])) == [problems.DUPLICATE] * 7


def _copy_missing_one_job(sweep: Path) -> tuple[Path, Path]:
    """A copy of ``sweep`` without its first job; returns the copy and that job in ``sweep``."""
    copy = sweep.parent / "tiny_again"
    shutil.copytree(sweep, copy)
    gone = _jobs(copy)[0]
    shutil.rmtree(gone)
    return copy, sweep / gone.name


def test_a_job_the_other_sweep_did_not_complete_is_still_missing(tiny_sweep: Path) -> None:
    copy, original = _copy_missing_one_job(tiny_sweep)
    document = _document(original)
    document.update(status="failed", error="RunError: boom", summary=None)
    _write(original, document)
    missing = load([tiny_sweep, copy]).problems.query("kind == 'missing'")
    assert list(missing["path"]) == [str(copy)]


def test_a_different_job_in_another_sweep_does_not_fill_the_gap(tiny_sweep: Path) -> None:
    # Same grid values, another seed: another job (another job key), so still missing.
    copy, original = _copy_missing_one_job(tiny_sweep)
    document = _document(original)
    document["config"]["seed"] = 99
    document["job_key"] += "_seed99"
    _write(original, document)
    results = load([tiny_sweep, copy])
    missing = results.problems.query("kind == 'missing'")
    assert list(missing["path"]) == [str(copy)] and results.notes == []
