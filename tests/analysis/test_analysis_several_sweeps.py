"""Missing-job detection over several sweeps, and over a directory several sweeps wrote into."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from analysis_helpers import run_sweep

from paxos_exp.analysis import discover
from paxos_exp.analysis import load as loading
from paxos_exp.analysis import problems
from paxos_exp.analysis.load import load

# Two different grids run into one directory (name reused); they share the job n=3, p=0.1.
FIRST_GRID = ("nodes=3,5", "fail_prob=0.1", "rounds=1", "trials=5", "engine=inprocess",
              "report=false")
SECOND_GRID = ("nodes=3", "fail_prob=0.1,0.4", "rounds=1", "trials=5", "engine=inprocess",
               "report=false")


def _jobs(sweep: Path) -> list[Path]:
    return sorted(path.parent for path in sweep.glob("*/result.json"))


def _kinds(results: loading.Results) -> list[str]:
    return sorted(set(results.problems["kind"]))


def _edit_manifest(sweep: Path, **changes: object) -> None:
    path = sweep / discover.SWEEP_MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest.update(changes)
    path.write_text(json.dumps(manifest), encoding="utf-8")


def _copy_sweep(source: Path, name: str) -> Path:
    copy = source.parent / name
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("report"))
    return copy


# ----------------------------------------------------------------------------- item 1


@pytest.mark.parametrize("grid_file", [True, False], ids=["grid", "count-only"])
def test_a_job_in_two_sweeps_is_counted_once_and_never_missing(
    tiny_sweep: Path, grid_file: bool
) -> None:
    if not grid_file:  # no multirun.yaml: only sweep.json's total_jobs can tell what is missing
        (tiny_sweep / discover.MULTIRUN_FILE).unlink()
    copy = _copy_sweep(tiny_sweep, "tiny_again")
    results = load([str(tiny_sweep.parent / "*")])
    assert len(results.sweeps) == 2
    assert len(results.jobs) == 8
    assert _kinds(results) == [problems.DUPLICATE]
    duplicates = results.problems[results.problems["kind"] == problems.DUPLICATE]
    assert len(duplicates) == 8
    assert all(path.startswith(str(copy)) for path in duplicates["path"])


def test_a_failed_copy_replaced_by_an_ok_one_is_not_missing(tiny_sweep: Path) -> None:
    # The first sweep read holds a failed run of a job the second one completed: the failed
    # row is dropped from the jobs, but the first sweep did run it.
    copy = _copy_sweep(tiny_sweep, "tiny_again")
    failed = _jobs(tiny_sweep)[0]
    document = json.loads((failed / "result.json").read_text())
    document.update(status="failed", error="RunError: node 1 died", summary=None)
    (failed / "result.json").write_text(json.dumps(document))
    results = load([tiny_sweep, copy])
    assert len(results.jobs) == 8 and (results.jobs["status"] == "ok").all()
    assert _kinds(results) == [problems.DUPLICATE]


def test_a_sweep_whose_jobs_are_overlapped_by_another_is_not_missing(tmp_path: Path) -> None:
    small = run_sweep(tmp_path, "small", "nodes=3,5", "fail_prob=0.3", "rounds=1", "trials=5",
                      "engine=inprocess", "report=false")
    large = run_sweep(tmp_path, "large", "nodes=3,5", "fail_prob=0.3", "rounds=1", "trials=10",
                      "engine=inprocess", "report=false")
    results = load([small, large])
    assert _kinds(results) == [problems.OVERLAP]
    assert sorted(results.jobs["trials"]) == [10, 10]


def test_a_sweep_still_reports_a_job_it_lacks(tiny_sweep: Path) -> None:
    # Reading a second sweep must not hide what the first one is missing, unless the second
    # one completed that job (test_analysis_resume_state): here its run of it failed.
    copy = _copy_sweep(tiny_sweep, "tiny_again")
    gone = _jobs(copy)[0]
    nodes = json.loads((gone / "result.json").read_text())["config"]["nodes"]
    shutil.rmtree(gone)
    original = tiny_sweep / gone.name
    document = json.loads((original / "result.json").read_text())
    document.update(status="failed", error="RunError: node 1 died", summary=None)
    (original / "result.json").write_text(json.dumps(document))
    results = load([tiny_sweep, copy])
    missing = results.problems[results.problems["kind"] == problems.MISSING]
    assert list(missing["path"]) == [str(copy)]
    assert f"nodes={nodes}" in missing["detail"].iloc[0]


# ----------------------------------------------------------------------------- item 2


@pytest.fixture(scope="module")
def two_grids_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One sweep directory written by two different sweep commands (3 jobs in all)."""
    root = tmp_path_factory.mktemp("two_grids")
    run_sweep(root, "reused", *FIRST_GRID)
    return run_sweep(root, "reused", *SECOND_GRID)


@pytest.fixture()
def two_grids(two_grids_source: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "reused"
    shutil.copytree(two_grids_source, copy)
    return copy


def test_a_directory_of_two_grids_says_so_and_misses_nothing(two_grids: Path) -> None:
    assert len(_jobs(two_grids)) == 3
    results = load([two_grids])
    assert results.problems.empty
    (note,) = results.notes
    assert "this directory holds 2 grids" in note
    assert "nodes=3,5 fail_prob=0.1" in note and "nodes=3 fail_prob=0.1,0.4" in note
    assert "limited" not in note  # both grids could be rebuilt


def test_a_job_of_an_earlier_grid_is_missed(two_grids: Path) -> None:
    # multirun.yaml only holds the second grid; the first one (nodes=3,5) lives in sweep.json.
    (five,) = [job for job in _jobs(two_grids) if job.name.startswith("n5_")]
    shutil.rmtree(five)
    results = load([two_grids])
    missing = results.problems[results.problems["kind"] == problems.MISSING]
    assert len(missing) == 1
    assert "nodes=5" in missing["detail"].iloc[0]


def test_an_earlier_grid_that_cannot_be_rebuilt_is_said(two_grids: Path) -> None:
    manifest = json.loads((two_grids / discover.SWEEP_MANIFEST).read_text())
    (earlier,) = manifest["history"]
    # Its grid came from a config file: sweep.json's overrides cannot give its 2 jobs.
    earlier["overrides"] = ["experiment=some_study"]
    _edit_manifest(two_grids, history=[earlier])
    (five,) = [job for job in _jobs(two_grids) if job.name.startswith("n5_")]
    shutil.rmtree(five)
    results = load([two_grids])
    assert results.problems.empty  # nothing can be said about the earlier grid's jobs
    (note,) = results.notes
    assert "this directory holds 2 grids" in note
    assert "missing-job detection is limited to the latest grid" in note


def test_a_resumed_sweep_is_one_grid(tiny_sweep: Path) -> None:
    manifest = json.loads((tiny_sweep / discover.SWEEP_MANIFEST).read_text())
    same = {key: manifest[key] for key in ("command", "started_epoch", "total_jobs", "overrides")}
    _edit_manifest(tiny_sweep, history=[same, same])
    results = load([tiny_sweep])
    assert results.notes == [] and results.problems.empty


def test_report_md_notes_several_grids(two_grids: Path, tmp_path: Path) -> None:
    from paxos_exp.analysis.report import build_report

    out = build_report([two_grids], out=tmp_path / "r")
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "this directory holds 2 grids" in text
    assert "nodes=3,5 fail_prob=0.1" in text


def test_a_job_of_another_grid_elsewhere_does_not_fill_a_gap(two_grids: Path,
                                                             tmp_path: Path) -> None:
    # The first grid (nodes=3,5 fail_prob=0.1) lacks n5 p0.1; another directory holds n5 p0.4,
    # which the second grid's n3 p0.4 would give with nodes=5: not the job asked for.
    (five,) = [job for job in _jobs(two_grids) if job.name.startswith("n5_")]
    kept = tmp_path / "kept" / five.name
    shutil.copytree(five, kept)
    shutil.rmtree(five)
    (three,) = [job for job in _jobs(two_grids) if job.name.startswith("n3_p0.4")]
    other = tmp_path / "other" / "n5_p0.4_elsewhere"
    shutil.copytree(three, other)
    document = json.loads((other / "result.json").read_text())
    document["config"]["nodes"] = 5
    document["job_key"] = other.name
    (other / "result.json").write_text(json.dumps(document))
    results = load([two_grids, other])
    missing = results.problems[results.problems["kind"] == problems.MISSING]
    assert len(missing) == 1 and "nodes=5" in missing["detail"].iloc[0]
    assert not any("completed in another directory" in note for note in results.notes)
    # The job asked for, completed in another directory, does fill it.
    results = load([two_grids, other, kept])
    assert results.problems.empty
    assert any(note.startswith(f"{two_grids}: 1 job its grid asks for is not in this "
                               "directory") and str(kept) in note for note in results.notes)
