"""Result files of one job: ``result.json`` plus tidy CSV tables, written atomically.

Layout of a job directory (CSV everywhere, one header row, comma-separated):
- ``result.json``: a :class:`paxos_exp.schema.JobResult` (status, error, job_key, config,
  summary, seed, versions, timestamps), written and read through that one dataclass;
- ``trials.csv``: one row per trial; ``rounds.csv``: one row per round of each trial;
- ``trace.csv``: one row per message, only when ``trace=true``.
"""

from __future__ import annotations

import csv
import errno
import fcntl
import functools
import hashlib
import io
import json
import os
import platform
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, fields
from importlib import metadata
from pathlib import Path
from typing import Any

from paxos_exp.core.config import RunConfig
from paxos_exp.core.errors import StopSweep
from paxos_exp.core.records import RoundRecord, Timings, TraceRecord, TrialRecord, trial_row
from paxos_exp.schema import (
    SENT_KEYS,
    STATUS_FAILED,
    STATUS_INTERRUPTED,
    STATUS_OK,
    FirstRounds,
    JobResult,
    SafetyVerdicts,
    SchemaError,
    Summary,
    Theory,
    Wall,
)

RESULT_FILE = "result.json"
SWEEP_MANIFEST = "sweep.json"  # in a sweep directory: job count, start time, command
TRIALS_FILE = "trials.csv"
ROUNDS_FILE = "rounds.csv"
TRACE_FILE = "trace.csv"
LOCK_FILE = ".lock"  # in a job directory: held (flock) by the process running the job


def _read_umask() -> int:
    """The process's umask, read without changing it where Linux allows (no race with threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a plain ``open()`` would give a new file: 0666 less the user's umask (so a
    group on a shared cluster can read results when the umask says so)."""
    return 0o666 & ~_read_umask()


def temporary_beside(path: Path) -> tuple[int, str]:
    """A new temporary file next to ``path`` (same directory, so a rename is atomic),
    with the mode the user's umask gives (mkstemp alone would make it 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, file_mode())
    except BaseException:
        os.close(fd)
        Path(temporary).unlink(missing_ok=True)
        raise
    return fd, temporary


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary name in the same directory, then rename: readers never see half."""
    fd, temporary = temporary_beside(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _csv_cell(value: Any) -> Any:
    return "" if value is None else value


class TableWriter:
    """One CSV table written as it grows: rows go to a temporary file beside the final name
    in chunks, with a running row count and SHA-256; :meth:`commit` renames it into place.

    Memory stays bounded whatever the number of rows, and nothing appears under the final
    name until the table is complete (or, on an interrupt, until its last whole trial).
    """

    _FLUSH_BYTES = 1 << 16

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path = path
        self.columns = columns
        self.rows = 0
        self.digest = hashlib.sha256()
        fd, self.temporary = temporary_beside(path)
        self.handle: io.BufferedWriter | None = os.fdopen(fd, "wb")
        self.buffer = io.StringIO()
        self.writer = csv.DictWriter(self.buffer, fieldnames=columns, lineterminator="\n")
        self.writer.writeheader()

    def add(self, rows: Iterable[Mapping[str, Any]]) -> None:
        writer = self.writer
        for row in rows:
            writer.writerow({key: _csv_cell(value) for key, value in row.items()})
            self.rows += 1
        if self.buffer.tell() >= self._FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        """Write what is buffered (rows stay whole: the buffer only ever holds whole rows)."""
        data = self.buffer.getvalue().encode("utf-8")
        self.buffer.seek(0)
        self.buffer.truncate()
        if data and self.handle is not None:
            self.handle.write(data)
            self.digest.update(data)

    def close(self) -> None:
        self.flush()
        if self.handle is not None:
            self.handle.close()
            self.handle = None

    def commit(self) -> dict[str, Any]:
        """Rename the finished table into place; returns its entry for result.json."""
        self.close()
        os.replace(self.temporary, self.path)
        return {"rows": self.rows, "sha256": self.digest.hexdigest()}

    def discard(self) -> None:
        try:
            if self.handle is not None:
                self.handle.close()
                self.handle = None
        except OSError:
            pass  # a full disk fails the last write again on close; the file goes anyway
        Path(self.temporary).unlink(missing_ok=True)


def _truncate_rows(path: Path, rows: int) -> None:
    """Cut a CSV file after its header and ``rows`` rows."""
    keep, offset = rows + 1, 0
    with open(path, "rb") as handle:
        for line in handle:
            if keep == 0:
                break
            offset += len(line)
            keep -= 1
    os.truncate(path, offset)


def table_entry(path: Path) -> dict[str, Any]:
    """The row count and SHA-256 of a CSV table on disk (header excluded from the count)."""
    digest = hashlib.sha256()
    lines = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            lines += block.count(b"\n")
    return {"rows": max(0, lines - 1), "sha256": digest.hexdigest()}


def verify_tables(directory: Path, document: JobResult) -> str | None:
    """Why the tables of a job's result.json do not check out, or None when they all do.

    A job is complete only when every table its result.json lists exists with the row count
    and checksum recorded there (a truncated or missing table means the job must be redone).
    """
    tables = document.tables
    if tables is None or TRIALS_FILE not in tables or ROUNDS_FILE not in tables:
        return f"{RESULT_FILE} records no table checksums"
    for name, expected in tables.items():
        if not isinstance(expected, dict):
            return f"{RESULT_FILE} has a malformed entry for {name}"
        try:
            found = table_entry(directory / name)
        except FileNotFoundError:
            return f"{name} is missing"
        except OSError as error:
            return f"{name} cannot be read ({error.strerror or error})"
        if found["rows"] != expected.get("rows"):
            return f"{name} has {found['rows']} rows, {RESULT_FILE} records {expected.get('rows')}"
        if found["sha256"] != expected.get("sha256"):
            return f"{name} does not match the checksum in {RESULT_FILE} (changed or truncated)"
    return None


def completed(directory: Path, document: JobResult | None, key: str) -> str | None:
    """None when ``document`` is a finished ``ok`` result of job ``key`` whose tables check
    out; otherwise why the job must be (re)done."""
    if document is None:
        return "no readable result.json"
    if document.job_key != key:
        return f"result.json belongs to job {document.job_key}"
    if document.status != STATUS_OK:
        return f"its last run ended {document.status}"
    return verify_tables(directory, document)


@functools.lru_cache(maxsize=1)
def _installed_versions() -> tuple[tuple[str, str], ...]:
    """Looked up once per process: a sweep's jobs share one interpreter under most launchers."""
    found = {"python": platform.python_version()}
    for package in ("paxos-exp", "pyzmq", "hydra-core", "omegaconf"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    from paxos_exp.runtime.api import transport_version

    found["libzmq"] = transport_version()
    return tuple(found.items())


def versions() -> dict[str, str]:
    """Python, paxos-exp, pyzmq, libzmq, hydra-core and omegaconf versions."""
    return dict(_installed_versions())


class SummaryBuilder:
    """The ``summary`` block of result.json, built as records stream in (a RecordSink): it
    keeps counts and a histogram of first deciding rounds, never the records themselves."""

    _UNSAFE_LISTED = 20

    def __init__(self) -> None:
        self.trials = 0
        self.decided = 0
        self.first_rounds: Counter[int] = Counter()
        self.deciding = 0
        self.rounds = 0
        self.roundchanges = 0
        self.decision_values = {"0": 0, "1": 0}
        # Message counts of finished trials, keyed by the RoundRecord field that counts them.
        self.counts: Counter[str] = Counter()
        self.unsafe: list[int] = []
        self.unsafe_count = 0
        self.violations = {"agreement": 0, "validity": 0, "proposals": 0}
        self.agreement_ok = self.validity_ok = self.proposals_ok = True
        # The unfinished trial's rounds, round changes and message counts (by field name).
        self._pending_rounds = self._pending_roundchanges = 0
        self._pending: Counter[str] = Counter()

    def add_rounds(self, rounds: Sequence[RoundRecord], trace: Sequence[TraceRecord]) -> None:
        # Counted for the trial under way, and only folded in with its trial record, so a
        # summary never counts rounds of a trial that did not finish (an interrupted job).
        pending = self._pending
        for record in rounds:
            self._pending_rounds += 1
            if record.proposal is None:
                self._pending_roundchanges += 1
            for name in _COUNTED_FIELDS:
                pending[name] += getattr(record, name)

    def add_trial(self, trial: TrialRecord) -> None:
        self.rounds += self._pending_rounds
        self.roundchanges += self._pending_roundchanges
        self.counts.update(self._pending)
        self._pending_rounds = self._pending_roundchanges = 0
        self._pending = Counter()
        self.trials += 1
        self.deciding += trial.deciding_rounds
        if trial.decided:
            self.decided += 1
            self.first_rounds[trial.first_decision_round] += 1  # type: ignore[index]
            if trial.decision in (0, 1):
                self.decision_values[str(trial.decision)] += 1
        self.agreement_ok &= trial.agreement_ok
        self.validity_ok &= trial.validity_ok
        self.proposals_ok &= trial.proposals_ok
        if not trial.safe:
            self.violations["agreement"] += not trial.agreement_ok
            self.violations["validity"] += not trial.validity_ok
            self.violations["proposals"] += not trial.proposals_ok
            self.unsafe_count += 1
            if len(self.unsafe) < self._UNSAFE_LISTED:
                self.unsafe.append(trial.trial)

    def _first_round_stats(self) -> dict[str, Any]:
        counts = sorted(self.first_rounds.items())
        total = sum(count for _, count in counts)
        if not total:
            return {"mean": None, "median": None, "min": None, "max": None}

        def at(position: int) -> int:
            for value, count in counts:
                if position < count:
                    return value
                position -= count
            raise IndexError(position)

        low, high = at((total - 1) // 2), at(total // 2)
        return {
            # The same numbers statistics.fmean and median give over the list of rounds.
            "mean": sum(value * count for value, count in counts) / total,
            "median": low if total % 2 else (low + high) / 2,
            "min": counts[0][0],
            "max": counts[-1][0],
        }

    def summary(self, config: RunConfig, timings: Timings) -> Summary:
        trials, rounds = self.trials, self.rounds
        counts = self.counts
        sent = {kind: counts[field] for kind, field in zip(SENT_KEYS, _SENT_FIELDS)}
        sent["total"] = sum(sent.values())
        law = config.law
        return Summary(
            trials=trials,
            decided_trials=self.decided,
            decision_rate=self.decided / trials if trials else None,
            first_decision_round=FirstRounds(**self._first_round_stats()),
            rounds_total=rounds,
            deciding_rounds=self.deciding,
            deciding_rounds_per_trial=self.deciding / trials if trials else None,
            round_decision_rate=self.deciding / rounds if rounds else None,
            roundchanges=self.roundchanges,
            roundchange_rate=self.roundchanges / rounds if rounds else None,
            decision_values=dict(self.decision_values),
            sent=sent,
            crashed=counts["crashed"],
            silenced=counts["silenced"],
            # The exact law of this protocol under this fault model (None where there is none).
            theory=None if law is None else Theory(
                join_probability=law.proposes,
                round_decision_probability=law.decides,
                decision_within_rounds=law.decision_within(config.rounds),
            ),
            safety=SafetyVerdicts(
                policy=config.safety.value,
                claims_safety=config.claims_safety,
                violation_rate=self.unsafe_count / trials if trials else None,
                violations=dict(self.violations),
                agreement_ok=self.agreement_ok,
                validity_ok=self.validity_ok,
                proposals_ok=self.proposals_ok,
                unsafe_trials=list(self.unsafe),
                unsafe_count=self.unsafe_count,
            ),
            wall=Wall(startup=timings.startup, rounds=timings.rounds,
                      teardown=timings.teardown, simulation=timings.total),
        )


# Table columns are the record fields, in order.
ROUND_COLUMNS = [field.name for field in fields(RoundRecord)]
TRIAL_COLUMNS = [field.name for field in fields(TrialRecord)]
TRACE_COLUMNS = [field.name for field in fields(TraceRecord)]


_SENT_FIELDS = tuple(f"sent_{kind}" for kind in SENT_KEYS)  # the RoundRecord fields
# Every message count a summary adds up over a job's rounds.
_COUNTED_FIELDS = (*_SENT_FIELDS, "crashed", "silenced")


class JobTables:
    """A RecordSink that streams a job's records into its tables (temporary names until
    :meth:`commit`) and its summary, so a job's memory does not grow with its size."""

    def __init__(self, directory: Path, trace: bool) -> None:
        self.summary = SummaryBuilder()
        self.writers: dict[str, TableWriter] = {}
        try:
            for name, columns in ((TRIALS_FILE, TRIAL_COLUMNS), (ROUNDS_FILE, ROUND_COLUMNS),
                                  *([(TRACE_FILE, TRACE_COLUMNS)] if trace else [])):
                self.writers[name] = TableWriter(directory / name, columns)
        except BaseException:
            self.discard()
            raise
        self.whole_trials = 0  # trials whose rows are all in the tables
        self.whole_rows: dict[str, int] = {}  # each table's rows when the last trial ended

    def add_rounds(self, rounds: Sequence[RoundRecord], trace: Sequence[TraceRecord]) -> None:
        self.summary.add_rounds(rounds, trace)
        self.writers[ROUNDS_FILE].add(asdict(record) for record in rounds)
        if TRACE_FILE in self.writers:
            self.writers[TRACE_FILE].add(asdict(record) for record in trace)

    def add_trial(self, trial: TrialRecord) -> None:
        self.summary.add_trial(trial)
        self.writers[TRIALS_FILE].add((trial_row(trial),))
        self.whole_trials += 1
        self.whole_rows = {name: writer.rows for name, writer in self.writers.items()}

    def commit(self) -> dict[str, Any]:
        """Rename every table into place; returns ``{file: {rows, sha256}}`` for result.json."""
        return {name: writer.commit() for name, writer in self.writers.items()}

    def commit_whole_trials(self) -> dict[str, Any]:
        """After an interrupt: keep only the rows of trials that finished (a long trial's
        rounds arrive before its own record), rename the tables into place, and return
        their entries as read back from disk (so they match whatever was written)."""
        entries = {}
        for name, writer in self.writers.items():
            writer.close()
            _truncate_rows(Path(writer.temporary), self.whole_rows.get(name, 0))
            entries[name] = table_entry(Path(writer.temporary))
        for writer in self.writers.values():
            os.replace(writer.temporary, writer.path)
        return entries

    def discard(self) -> None:
        for writer in self.writers.values():
            writer.discard()


def write_result(directory: Path, document: JobResult) -> None:
    text = json.dumps(document.to_dict(), indent=2, sort_keys=False) + "\n"
    write_atomic(directory / RESULT_FILE, text)


def load_result(directory: Path) -> JobResult:
    """The job's result.json; raises OSError when it cannot be read, SchemaError when it is not
    a result.json (not JSON, or a field that does not fit :class:`JobResult`)."""
    text = (directory / RESULT_FILE).read_text(encoding="utf-8")
    try:
        document = json.loads(text)
    except ValueError as error:
        raise SchemaError(f"{RESULT_FILE} is not valid JSON ({error})") from None
    return JobResult.from_dict(document)


def read_result(directory: Path) -> JobResult | None:
    """The job's result.json, or None when absent or unreadable."""
    try:
        return load_result(directory)
    except (OSError, UnicodeDecodeError, SchemaError):
        return None


class JobLock:
    """An exclusive OS lock (``flock``) on a job directory, held while the job runs.

    The kernel drops it when its holder dies, however it dies, so it can never go stale the
    way a pid file can. :meth:`acquire` does not wait: a job locked by another process is
    being run elsewhere.
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_FILE
        self.fd: int | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, file_mode())
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the last descriptor drops the lock
            self.fd = None

    def __enter__(self) -> JobLock:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def locked_elsewhere(directory: Path) -> bool:
    """Whether a process holds the job lock of ``directory`` right now (a job of this one
    process is never asked about: the callers run between jobs).

    Asked of the kernel's lock table (``/proc/locks``) where it can be, without taking the
    lock: a probe that took it, even for a moment, could make a job starting at that instant
    believe it was running elsewhere and skip it.
    """
    path = directory / LOCK_FILE
    try:
        info = os.stat(path)
    except OSError:
        return False
    held = _flock_held(info.st_dev, info.st_ino)
    if held is not None:
        return held
    try:  # no /proc/locks: probe by trying the lock (read-only: a group reader may probe)
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _flock_held(device: int, inode: int) -> bool | None:
    """Whether ``/proc/locks`` lists a flock on this file; None when it cannot be read.
    (Its fields: id, FLOCK, ADVISORY, WRITE, pid, major:minor:inode, start, end.)"""
    wanted = f"{os.major(device):02x}:{os.minor(device):02x}:{inode}"
    try:
        with open("/proc/locks", encoding="ascii") as handle:
            return any(
                len(fields) > 5 and fields[1] == "FLOCK" and fields[5] == wanted
                for fields in (line.split() for line in handle)
            )
    except (OSError, UnicodeDecodeError):
        return None


def stop_for(error: OSError, directory: Path | str | None = None) -> StopSweep | None:
    """The one-line stop for an error no later job can escape, or None for any other."""
    where = error.filename or directory
    place = f" ({os.path.abspath(where)})" if where else ""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return StopSweep(f"no space left on the device{place}: free some space, then rerun "
                         "the same command to resume")
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        reason = (error.strerror or "not writable").lower()
        return StopSweep(f"cannot write the results{place}: {reason}; run from a writable "
                         "directory or point hydra.run.dir / hydra.sweep.dir at one")
    return None


def check_writable(directory: Path) -> None:
    """Raise StopSweep with one line if ``directory`` cannot be made or written here.

    Called before Hydra makes its own output directories (a failure there prints Hydra's
    traceback). Creates nothing: the nearest existing ancestor is checked instead.
    """
    ancestor = Path(os.path.abspath(directory))
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if os.access(ancestor, os.W_OK | os.X_OK):
        return
    try:
        read_only = bool(os.statvfs(ancestor).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    code = errno.EROFS if read_only else errno.EACCES
    stop = stop_for(OSError(code, os.strerror(code), str(ancestor)))
    assert stop is not None
    raise stop
