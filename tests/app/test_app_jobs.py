"""A job's files under real use: concurrent sweeps, forced reruns that are interrupted, tables
truncated or lost, Ctrl-C, a read-only or full disk, the user's umask, and memory that must
not grow with the number of trials."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import pty
import resource
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from omegaconf import OmegaConf

from app_helpers import job_results, run_paxos_exp
from paxos_exp import app
from paxos_exp.core.records import RunStats, Timings
from paxos_exp.results import (
    RESULT_FILE,
    ROUNDS_FILE,
    TRIALS_FILE,
    JobLock,
    ParquetTable,
    completed,
    read_result,
    verify_tables,
)

APP = [sys.executable, "-m", "paxos_exp.app"]


def _cfg(**overrides):
    base = {"name": "t", "nodes": 3, "fail_prob": 0.2, "rounds": 3, "trials": 40, "seed": 5,
            "initial_values": None, "engine": "inprocess", "trace": False, "protocol": {"name": "classic"},
            "faults": {"name": "omission"}, "safety": None, "force": False, "report": False, "progress": False,
            "runtime": {"start_method": "fork", "startup_timeout": None,
                        "receive_timeout": None, "barrier_timeout": None}}
    base.update(overrides)
    return OmegaConf.create(base)


def test_two_copies_of_one_sweep_run_every_job_exactly_once(tmp_path: Path):
    sweep = tmp_path / "sweep"
    args = [*APP, "-m", "nodes=3,4", "seed=range(0,6)", "trials=300", "rounds=3",
            f"hydra.sweep.dir={sweep}", "report=false", "progress=false"]
    first = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outputs = [proc.communicate(timeout=400) for proc in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outputs
    logs = "".join(out + err for out, err in outputs)
    ran = logs.count("decided (")
    results = job_results(sweep)
    assert len(results) == 12
    assert all(result["status"] == "ok" for result in results.values())
    # Every job ran once: the other copy found it locked (running elsewhere) or done.
    assert ran == 12, logs
    for directory in sweep.iterdir():
        if directory.is_dir() and (directory / RESULT_FILE).exists():
            assert completed(directory, read_result(directory), directory.name) is None


def test_a_job_locked_elsewhere_is_skipped_and_said_so(tmp_path: Path, caplog):
    directory = tmp_path / "job"
    holder = JobLock(directory)
    assert holder.acquire()
    try:
        result = app.run_job(_cfg(), directory)
    finally:
        holder.release()
    assert result == {"skipped": app.RUNNING_ELSEWHERE}
    assert "running elsewhere" in caplog.text
    assert read_result(directory) is None


def _interrupting_engine(after_trials: int, mid_trial: bool = False):
    """An engine that makes a few trials (on the real core), then gets Ctrl-C: between two
    trials, or after the rounds of one more trial but before its record (a long trial's
    rounds arrive in chunks before it ends)."""
    from paxos_exp.core.records import CollectingSink
    from paxos_exp.runtime.inprocess import run_trial

    def stream(config, options, sink, emit=None, on_trial=None):
        for trial in range(after_trials):
            run_trial(config, trial, sink)
        if mid_trial:
            unfinished = CollectingSink()
            run_trial(config, after_trials, unfinished)
            sink.add_rounds(unfinished.rounds, unfinished.trace)
        raise KeyboardInterrupt

    return stream


def test_force_then_ctrl_c_keeps_the_old_ok_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    directory = tmp_path / "job"
    summary = app.run_job(_cfg(), directory)
    before = {name: (directory / name).read_bytes() for name in (RESULT_FILE, TRIALS_FILE, ROUNDS_FILE)}
    monkeypatch.setattr("paxos_exp.runtime.api.stream_config", _interrupting_engine(5))
    with pytest.raises(KeyboardInterrupt):
        app.run_job(_cfg(force=True), directory)
    after = {name: (directory / name).read_bytes() for name in before}
    assert after == before  # untouched: status ok, its summary, its tables
    assert asdict(read_result(directory).summary) == summary
    assert not list(directory.glob(".*.tmp"))  # the rerun's temporary tables are gone


def test_force_then_failure_keeps_the_old_ok_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    directory = tmp_path / "job"
    app.run_job(_cfg(), directory)
    before = (directory / RESULT_FILE).read_bytes()

    def broken(*_args, **_kwargs):
        raise app.RunError("node 1 died")

    monkeypatch.setattr("paxos_exp.runtime.api.stream_config", broken)
    with pytest.raises(app.RunError):
        app.run_job(_cfg(force=True), directory)
    assert (directory / RESULT_FILE).read_bytes() == before


def test_a_node_error_after_the_last_trial_is_a_warning_in_result_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
):
    from paxos_exp.runtime import node_process

    original = node_process._run_node

    def run_node(args, *rest):  # forked nodes run it: node 1 fails on its way out
        original(args, *rest)
        if args.node == 1:
            raise OSError("context termination failed (injected)")

    monkeypatch.setattr(node_process, "_run_node", run_node)
    with caplog.at_level(logging.WARNING, logger="paxos_exp"):
        app.run_job(_cfg(engine="processes", trials=6), tmp_path / "job")
    document = read_result(tmp_path / "job")
    assert document.status == "ok" and document.summary.trials == 6  # the trials are kept
    assert len(document.warnings) == 1, document.warnings
    assert document.warnings[0].startswith("node 1 reported an error after its last trial")
    assert "context termination failed (injected)" in document.warnings[0]
    assert document.warnings[0] in caplog.text  # and on the console
    monkeypatch.setattr(node_process, "_run_node", original)
    app.run_job(_cfg(engine="processes", trials=6), tmp_path / "clean")
    assert read_result(tmp_path / "clean").warnings == []


def _table_rows(path: Path) -> pd.DataFrame:
    """A table file's rows, read plainly (no paxos-exp reader in between)."""
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pandas()
    return pd.read_csv(path, dtype={"initial_values": str, "kind": str, "body": str})


@pytest.mark.parametrize("tables", ["parquet", "csv", "both"])
@pytest.mark.parametrize("mid_trial", [False, True])
def test_ctrl_c_keeps_whole_trials_as_an_interrupted_partial_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mid_trial: bool, tables: str
):
    # Tiny row groups, so a trial's rows straddle them and an interrupt in the middle of a
    # trial leaves rows of it already written (cut back by copying the whole trials).
    monkeypatch.setattr(ParquetTable, "ROW_GROUP", 4)
    monkeypatch.setattr(ParquetTable, "HARD_LIMIT", 5)
    directory = tmp_path / "job"
    monkeypatch.setattr("paxos_exp.runtime.api.stream_config", _interrupting_engine(7, mid_trial))
    with pytest.raises(KeyboardInterrupt):
        app.run_job(_cfg(trace=True, tables=tables), directory)
    document = read_result(directory)
    assert document.status == "interrupted"
    assert document.summary.trials == 7
    assert document.summary.rounds_total == 7 * 3
    formats = {"parquet": ["parquet"], "csv": ["csv"], "both": ["parquet", "csv"]}[tables]
    assert sorted(document.tables) == sorted(f"{table}.{fmt}" for table in
                                             ("trials", "rounds", "trace") for fmt in formats)
    for fmt in formats:
        assert document.tables[f"trials.{fmt}"] == {**document.tables[f"trials.{fmt}"],
                                                    "rows": 7, "format": fmt}
        assert list(_table_rows(directory / f"trials.{fmt}")["trial"]) == list(range(7))
        rounds = _table_rows(directory / f"rounds.{fmt}")
        assert list(zip(rounds["trial"], rounds["round"])) == [
            (trial, rnd) for trial in range(7) for rnd in range(3)]
        assert set(_table_rows(directory / f"trace.{fmt}")["trial"]) == set(range(7))
    # The recorded checksums match the files, and the job is not done: a rerun redoes it.
    assert verify_tables(directory, document) is None
    assert completed(directory, document, document.job_key) is not None
    assert not list(directory.glob(".*.tmp"))


def test_tables_key_writes_parquet_csv_or_both_with_the_same_rows(tmp_path: Path):
    frames = {}
    for tables in ("parquet", "csv", "both"):
        directory = tmp_path / tables
        app.run_job(_cfg(tables=tables, trace=True), directory)
        document = read_result(directory)
        assert completed(directory, document, document.job_key) is None
        written = _tables_in(directory)
        formats = ["csv", "parquet"] if tables == "both" else [tables]
        assert written == sorted(f"{table}.{fmt}" for table in ("rounds", "trace", "trials")
                                 for fmt in formats)
        for name in written:
            frames.setdefault(name.split(".")[0], []).append(_table_rows(directory / name))
    for table, found in frames.items():  # the same rows and values in every file
        first = found[0].astype(str)
        for other in found[1:]:
            pd.testing.assert_frame_equal(other.astype(str).replace({"nan": "<NA>"}),
                                          first.replace({"nan": "<NA>"}), check_dtype=False)
    # and the job key does not depend on the format (a bookkeeping key)
    assert len({read_result(tmp_path / tables).job_key for tables in ("parquet", "csv")}) == 1


def _tables_in(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir() if path.suffix in (".parquet", ".csv"))


def test_an_earlier_csv_job_counts_as_done_and_a_forced_rerun_replaces_its_tables(
    tmp_path: Path, caplog
):
    caplog.set_level(logging.INFO, logger="paxos_exp")
    directory = tmp_path / "job"
    first = app.run_job(_cfg(tables="csv"), directory)
    # As a version before Parquet wrote it: CSV tables, entries without a format.
    document = json.loads((directory / RESULT_FILE).read_text())
    for entry in document["tables"].values():
        del entry["format"]
    (directory / RESULT_FILE).write_text(json.dumps(document))
    before = (directory / TRIALS_FILE.replace(".parquet", ".csv")).read_bytes()
    again = app.run_job(_cfg(), directory)  # the parquet default: not redone
    assert "already done" in caplog.text
    assert again["decided_trials"] == first["decided_trials"]
    assert (directory / "trials.csv").read_bytes() == before
    assert not (directory / TRIALS_FILE).exists()
    app.run_job(_cfg(force=True), directory)  # redone in Parquet; the CSV files go
    assert _tables_in(directory) == ["rounds.parquet", "trials.parquet"]
    assert completed(directory, read_result(directory), document["job_key"]) is None


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda d: (d / ROUNDS_FILE).write_bytes((d / ROUNDS_FILE).read_bytes()[:-200]),
         "cut short"),
        (lambda d: (d / TRIALS_FILE).unlink(), "trials.parquet is missing"),
        (lambda d: _change_a_value(d / ROUNDS_FILE), "checksum"),
        (lambda d: _flip_a_byte(d / ROUNDS_FILE), "rounds.parquet "),
        # An ok result without its summary does not fit the schema: not a readable result.
        (lambda d: _edit_result(d, summary=None), "no readable result.json"),
    ],
)
def test_resume_redoes_jobs_whose_files_do_not_check_out(tmp_path: Path, caplog, damage, reason):
    directory = tmp_path / "job"
    first = app.run_job(_cfg(), directory)
    trials_before = (directory / TRIALS_FILE).read_bytes()
    damage(directory)
    document = read_result(directory)
    assert reason in completed(directory, document, directory.name if document is None
                               else document.job_key)
    again = app.run_job(_cfg(), directory)
    assert f"redoing the job" in caplog.text
    assert again["decided_trials"] == first["decided_trials"]
    assert (directory / TRIALS_FILE).read_bytes() == trials_before
    document = read_result(directory)
    assert completed(directory, document, document.job_key) is None


def _change_a_value(path: Path) -> None:
    """The same rows, one value changed: a valid Parquet file that is not the one recorded."""
    table = pq.read_table(path)
    votes = table.column("votes").to_pylist()
    votes[0] += 1
    index = table.schema.get_field_index("votes")
    pq.write_table(table.set_column(index, table.schema.field(index),
                                    pa.array(votes, type=table.schema.field(index).type)), path)


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _edit_result(directory: Path, **changes):
    path = directory / RESULT_FILE
    document = json.loads(path.read_text())
    document.update(changes)
    path.write_text(json.dumps(document))


def _wait_for_line(stream, text: str, timeout: float = 120) -> None:
    """Read a child's output until it contains ``text`` (or fail at the deadline); reads the
    raw descriptor, so nothing waits unseen in a Python buffer while select() blocks."""
    seen = b""
    while text.encode() not in seen:
        ready, _, _ = select.select([stream], [], [], timeout)
        assert ready, f"no {text!r} within {timeout} s; saw {seen!r}"
        chunk = os.read(stream.fileno(), 65536)
        assert chunk, f"output ended before {text!r}; saw {seen!r}"
        seen += chunk


def test_ctrl_c_ends_a_sweep_with_one_line_and_status_130(tmp_path: Path):
    proc = subprocess.Popen(
        [*APP, "-m", "seed=1,2,3", "trials=100000", "rounds=5", "engine=inprocess",
         "report=false", "progress=false", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        _wait_for_line(proc.stdout, "#0 :")  # Hydra launched the first job
        os.killpg(proc.pid, signal.SIGINT)
        _, err_bytes = proc.communicate(timeout=120)
        err = err_bytes.decode()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130
    lines = [line for line in err.splitlines() if not line.startswith("[")]  # log lines aside
    # (The sweep directory is given, so rerunning the same command resumes it.)
    assert len(lines) == 1 and lines[0].startswith("paxos-exp: interrupted; rerun "), lines
    assert lines[0].endswith("to resume") or "to resume (" in lines[0]
    assert "Traceback" not in err


def _read_terminal(fd: int, until: bytes | None, timeout: float = 120) -> bytes:
    """What a child writes to the terminal ``fd`` (the master side of its stderr): up to
    ``until``, or to the end (the child exited), within the deadline."""
    seen = b""
    deadline = time.monotonic() + timeout
    while until is None or until not in seen:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        assert ready, f"no {until!r} within {timeout} s; saw {seen[-2000:]!r}"
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child's side of the terminal is closed
            chunk = b""
        if not chunk:
            assert until is None, f"output ended before {until!r}; saw {seen[-2000:]!r}"
            break
        seen += chunk
    return seen


@pytest.mark.parametrize("how", ["kill", "kill the group", "Ctrl-C"])
def test_a_signal_mid_job_leaves_one_line_and_nothing_running(tmp_path: Path, how: str):
    """SIGTERM (kill, a scheduler's limit; to paxos-exp alone or to its whole process group)
    or Ctrl-C while a job's node processes run: one line saying what is kept and how to
    resume, status 143 or 130; the job records that it was interrupted, and no node process,
    socket directory or temporary file is left."""
    sockets = Path(tempfile.mkdtemp(prefix="pxt-", dir="/tmp"))  # short: ipc socket paths
    sweep = tmp_path / "sweep"
    # A terminal for stderr, so the job shows its progress bar: once a trial is counted, the
    # second job's node processes are running.
    terminal, child_side = pty.openpty()
    fcntl.ioctl(child_side, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 160, 0, 0))  # a width
    proc = subprocess.Popen(
        [*APP, "-m", "trials=5,1000000", "nodes=3", "rounds=3", "report=false",
         f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=child_side, start_new_session=True,
        env={**os.environ, "TMPDIR": str(sockets)},
    )
    os.close(child_side)
    try:
        seen = _read_terminal(terminal, b"[2/2] nodes=3")  # the second job's bar
        seen += _read_terminal(terminal, b"trial/s")  # ... counting its trials
        assert list(sockets.glob("pxe-*"))  # its node sockets
        if how == "kill":
            os.kill(proc.pid, signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGINT if how == "Ctrl-C" else signal.SIGTERM)
        seen += _read_terminal(terminal, None)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(terminal)
        left = sorted(sockets.iterdir())
        shutil.rmtree(sockets, ignore_errors=True)
    err = seen.decode(errors="replace").replace("\r", "\n")
    lines = [line.strip() for line in err.splitlines() if line.strip().startswith("paxos-exp:")]
    hint = f"rerun with hydra.sweep.dir={sweep} to resume"
    if how == "Ctrl-C":
        assert code == 130 and lines == [f"paxos-exp: interrupted; {hint}"], err[-3000:]
    else:
        assert code == 143, err[-3000:]
        assert lines == [f"paxos-exp: stopped by SIGTERM; 1 finished job is kept in {sweep}; "
                         f"{hint}"], err[-3000:]
    assert "Traceback" not in err
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)  # not one node process of its group is left
    assert left == []  # no socket directory
    assert not list(sweep.rglob("*.tmp"))
    statuses = sorted(result["status"] for result in job_results(sweep).values())
    assert statuses == ["interrupted", "ok"]


def _tmpfs(path: Path, options: str) -> None:
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()})")


@pytest.fixture
def mounts():
    mounted: list[Path] = []
    yield mounted
    for path in mounted:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a read-only filesystem needs root")
def test_a_read_only_directory_gives_one_line(tmp_path: Path, mounts):
    target = tmp_path / "ro"
    _tmpfs(target, "ro,size=1m")
    mounts.append(target)
    for args in (["nodes=3", "trials=5"], ["-m", "seed=1,2", "trials=5"]):
        proc = run_paxos_exp(args, cwd=target)
        assert proc.returncode == 1
        assert not list(target.iterdir())
        assert proc.stderr.strip().splitlines() == [
            f"paxos-exp: error: cannot write the results ({target}): read-only file "
            "system; run from a writable directory or point hydra.run.dir / hydra.sweep.dir at one"
        ]


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small filesystem needs root")
# Each first job's tables outgrow 256 KiB: CSV ones, or Parquet ones with their trace.
@pytest.mark.parametrize("tables", [["tables=csv"], ["tables=parquet", "trace=true"]])
def test_a_full_disk_stops_the_sweep_with_one_line(tmp_path: Path, mounts, tables):
    target = tmp_path / "full"
    _tmpfs(target, "size=256k")
    mounts.append(target)
    sweep = target / "sweep"
    proc = run_paxos_exp(["-m", "seed=1,2,3", "trials=4000", "rounds=5", "engine=inprocess",
                          "report=false", *tables, f"hydra.sweep.dir={sweep}"], cwd=target)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("paxos-exp:")]
    assert len(errors) == 1 and "no space left on the device" in errors[0]
    assert str(sweep) in errors[0]
    assert "Traceback" not in proc.stderr
    results = job_results(sweep)
    assert len(results) == 1  # the sweep stopped: no later job was tried
    (result,) = results.values()
    assert result["status"] == "failed" and "No space left" in result["error"]
    assert not list(sweep.glob("*/.*.tmp"))


def test_result_files_follow_the_umask(tmp_path: Path):
    proc = subprocess.run(
        [*APP, "nodes=3", "trials=5", "engine=inprocess"], cwd=tmp_path, capture_output=True,
        text=True, timeout=120, preexec_fn=lambda: os.umask(0o022),
    )
    assert proc.returncode == 0, proc.stderr
    (job,) = (tmp_path / "outputs" / "runs" / "adhoc").iterdir()
    for name in (RESULT_FILE, TRIALS_FILE, ROUNDS_FILE):
        assert (job / name).stat().st_mode & 0o777 == 0o644, name


def _peak_rss_of_job(tmp_path: Path, trials: int) -> int:
    """Peak resident memory (bytes) of a paxos-exp job of ``trials`` one-round trials of one
    node (the cheapest trial: the tables stream the same way whatever N and R)."""
    script = (
        "import resource, sys; sys.argv = ['paxos-exp', *sys.argv[1:]];"
        "from paxos_exp.app import main\n"
        "try:\n    main()\nfinally:\n"
        "    print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, "nodes=1", "rounds=1", f"trials={trials}",
         "engine=inprocess", "progress=false", f"name=m{trials}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    peak = [line for line in proc.stderr.splitlines() if line.startswith("PEAK")]
    return int(peak[-1].split()[1]) * 1024


@pytest.mark.slow
def test_a_job_of_many_trials_runs_in_the_memory_of_a_small_one(tmp_path: Path):
    # The small job is past the first row group of both tables (32,768 rows each, about 30 MB
    # of Arrow buffers once: 1,000 trials never reach it), so what differs is the trials.
    small = _peak_rss_of_job(tmp_path, 40_000)
    large = _peak_rss_of_job(tmp_path, 150_000)
    # Held in memory, the 110,000 more trials cost about 48 MB (their records, measured with
    # paxos_exp.run); streamed, about 2 MB. The bound is generous against allocator noise,
    # well below the in-memory cost.
    assert large - small < 20 << 20, (small, large)
