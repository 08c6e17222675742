"""Result files of one job: ``result.json`` plus tidy tables, written atomically.

Layout of a job directory:
- ``result.json``: a :class:`paxos_exp.schema.JobResult` (status, error, job_key, config,
  summary, seed, versions, timestamps, and ``tables``: every table file with its format, row
  count and SHA-256), written and read through that one dataclass;
- the tables, one row per trial (``trials``), per round of each trial (``rounds``) and, only
  when ``trace=true``, per message (``trace``); each in the formats the ``tables`` key asks
  for: ``trials.parquet`` (the default: typed columns, small integers, booleans, nullable
  integers where a value may be missing, dictionary-encoded strings) and/or ``trials.csv``
  (one header row, comma-separated, for spreadsheets). Results written before Parquet existed
  have CSV tables only; they are read and resumed as they are.
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
from dataclasses import dataclass, fields
from importlib import metadata
from operator import attrgetter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

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
LOCK_FILE = ".lock"  # in a job directory: held (flock) by the process running the job

# A job's tables, and the formats each can be written in (the readers' order of preference).
TRIALS, ROUNDS, TRACE = "trials", "rounds", "trace"
TABLES = (TRIALS, ROUNDS, TRACE)
PARQUET, CSV = "parquet", "csv"
FORMATS = (PARQUET, CSV)
# The ``tables`` configuration key: which formats a job writes.
TABLE_CHOICES: dict[str, tuple[str, ...]] = {"parquet": (PARQUET,), "csv": (CSV,),
                                             "both": (PARQUET, CSV)}
DEFAULT_TABLES = "parquet"


def table_file(table: str, fmt: str = PARQUET) -> str:
    """The file name of ``table`` in format ``fmt`` (``trials.parquet``, ``rounds.csv``)."""
    return f"{table}.{fmt}"


def split_table_file(name: str) -> tuple[str, str] | None:
    """``(table, format)`` of a table file name, or None when it names no table."""
    table, _, fmt = name.rpartition(".")
    return (table, fmt) if table in TABLES and fmt in FORMATS else None


# The default file of each table (a reader finds whichever format a job has).
TRIALS_FILE = table_file(TRIALS)
ROUNDS_FILE = table_file(ROUNDS)
TRACE_FILE = table_file(TRACE)
TABLE_FILES = tuple(table_file(table, fmt) for table in TABLES for fmt in FORMATS)


def table_formats(choice: Any) -> tuple[str, ...]:
    """The formats of a ``tables`` setting (``parquet``, ``csv`` or ``both``; an enum's name
    or None for the default), or a ValueError that says what to write instead."""
    name = getattr(choice, "name", choice) if choice is not None else DEFAULT_TABLES
    try:
        return TABLE_CHOICES[str(name)]
    except KeyError:
        raise ValueError(f"tables={name}: expected one of {', '.join(TABLE_CHOICES)}") from None


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


@dataclass(frozen=True)
class TableSizes:
    """The largest values a job's tables can hold, which size their integer columns."""

    nodes: int
    rounds: int
    trials: int

    @classmethod
    def of(cls, config: Any) -> TableSizes:
        """From a RunConfig or a result.json ``config`` mapping."""
        get = config.get if isinstance(config, Mapping) else lambda key: getattr(config, key)
        return cls(nodes=int(get("nodes")), rounds=int(get("rounds")), trials=int(get("trials")))


# Sizes for a table whose job is not known: every integer column 32 bits wide.
UNKNOWN_SIZES = TableSizes(nodes=1 << 24, rounds=(1 << 31) - 1, trials=1 << 31)


def _int_type(largest: int) -> pa.DataType:
    """The smallest signed integer type holding ``0..largest``."""
    for bits, kind in ((7, pa.int8()), (15, pa.int16()), (31, pa.int32())):
        if largest < 1 << bits:
            return kind
    return pa.int64()


_TEXT = pa.dictionary(pa.int32(), pa.string())
# Columns that are empty where there is no value (no proposal, no decision): nullable integers.
NULLABLE_COLUMNS = frozenset({"proposal", "decision", "first_decision_round"})


def table_schema(table: str, sizes: TableSizes = UNKNOWN_SIZES) -> pa.Schema:
    """The Arrow schema of a job's table: one field per record field, in order, each typed by
    what it holds (integers as small as the job's sizes allow; a round's message counts stay
    under 8N, PROTOCOL.md's rounds send at most 4N)."""
    nodes = max(sizes.nodes, 1)
    kinds = {
        "trial": _int_type(max(sizes.trials - 1, 0)),
        "round": _int_type(max(sizes.rounds, 0)),  # round indices, first rounds, round counts
        "node": _int_type(nodes),  # node ids, joins, votes
        "count": _int_type(8 * nodes),  # messages of one round
        "bit": pa.int8(),
        "small": pa.int8(),
        "bool": pa.bool_(),
        "text": _TEXT,
    }
    return pa.schema([pa.field(name, kinds[kind], nullable=name in NULLABLE_COLUMNS)
                      for name, kind in _COLUMN_KINDS[table].items()])


class CsvTable:
    """One CSV table written as it grows: rows go to a temporary file beside the final name
    in chunks, with a running row count and SHA-256; :meth:`commit` renames it into place.

    Memory stays bounded whatever the number of rows, and nothing appears under the final
    name until the table is complete (or, on an interrupt, until its last whole trial).
    """

    _FLUSH_BYTES = 1 << 16
    format = CSV

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path = path
        self.columns = columns
        self.rows = 0
        self.digest = hashlib.sha256()
        fd, self.temporary = temporary_beside(path)
        self.handle: io.BufferedWriter | None = os.fdopen(fd, "wb")
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\n")
        self.writer.writerow(columns)

    def add(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Rows as tuples in column order (None is written as an empty cell)."""
        writerow = self.writer.writerow
        for row in rows:
            writerow(["" if value is None else value for value in row])
        self.rows += len(rows)
        if self.buffer.tell() >= self._FLUSH_BYTES:
            self.flush()

    def end_of_trial(self) -> None:
        """A trial's rows are all in (nothing to do: rows are cut back on an interrupt)."""

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
        return {"rows": self.rows, "sha256": self.digest.hexdigest(), "format": CSV}

    def keep_rows(self, rows: int) -> None:
        """Close the table with only its first ``rows`` rows (after an interrupt)."""
        self.close()
        _truncate_rows(Path(self.temporary), rows)

    def discard(self) -> None:
        try:
            if self.handle is not None:
                self.handle.close()
                self.handle = None
        except OSError:
            pass  # a full disk fails the last write again on close; the file goes anyway
        Path(self.temporary).unlink(missing_ok=True)


class _HashingFile(io.RawIOBase):
    """A write-only file that hashes and counts what goes through it (Parquet's writer
    writes its file front to back, so the digest is the file's)."""

    def __init__(self, handle: io.BufferedWriter) -> None:
        super().__init__()
        self.handle = handle
        self.digest = hashlib.sha256()
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        data = bytes(data)
        self.handle.write(data)
        self.digest.update(data)
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        self.handle.flush()


class ParquetTable:
    """One Parquet table written as it grows: rows are buffered and written as row groups
    (at the end of a trial once enough are buffered, so a row group seldom splits a trial)
    into a temporary file beside the final name, hashed on the way; :meth:`commit` renames it
    into place. Memory stays bounded: at most :attr:`HARD_LIMIT` rows wait in memory."""

    ROW_GROUP = 1 << 15  # rows buffered before a trial's end writes them as a row group
    HARD_LIMIT = 1 << 16  # a long trial's rows are written even in the middle of it
    format = PARQUET

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = path
        self.schema = schema
        self.rows = 0  # rows added (written and pending)
        self.written = 0
        self.pending: list[tuple[Any, ...]] = []
        fd, self.temporary = temporary_beside(path)
        self.handle: io.BufferedWriter | None = os.fdopen(fd, "wb")
        self.sink = _HashingFile(self.handle)
        self.writer: pq.ParquetWriter | None = None
        try:
            self.writer = _parquet_writer(self.sink, schema)
        except BaseException:
            self.discard()
            raise

    def add(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Rows as tuples in column order (None where a nullable column has no value)."""
        self.pending.extend(rows)
        self.rows += len(rows)
        if len(self.pending) >= self.HARD_LIMIT:
            self.flush()

    def end_of_trial(self) -> None:
        if len(self.pending) >= self.ROW_GROUP:
            self.flush()

    def flush(self) -> None:
        """Write the pending rows as one row group."""
        if not self.pending or self.writer is None:
            return
        self.writer.write_table(_arrow_rows(self.pending, self.schema))
        self.written += len(self.pending)
        self.pending = []

    def close(self) -> None:
        if self.writer is not None:
            self.flush()
            self.writer.close()  # writes the footer
            self.writer = None
        if self.handle is not None:
            self.handle.close()
            self.handle = None

    def commit(self) -> dict[str, Any]:
        """Rename the finished table into place; returns its entry for result.json."""
        self.close()
        os.replace(self.temporary, self.path)
        return {"rows": self.rows, "sha256": self.sink.digest.hexdigest(), "format": PARQUET}

    def keep_rows(self, rows: int) -> None:
        """Close the table with only its first ``rows`` rows (after an interrupt): rows still
        pending are dropped; rows already written past it (a long trial's) are cut by copying
        the file's first ``rows`` rows to a new file."""
        if rows >= self.written:
            self.pending = self.pending[:rows - self.written]
            self.close()
            return
        self.pending = []
        self.close()
        temporary = Path(self.temporary)
        fd, shorter = temporary_beside(self.path)
        try:
            with os.fdopen(fd, "wb") as handle, pq.ParquetFile(temporary) as written:
                writer = _parquet_writer(handle, self.schema)
                left = rows
                for batch in written.iter_batches():
                    if left <= 0:
                        break
                    writer.write_batch(batch.slice(0, left))
                    left -= min(left, batch.num_rows)
                writer.close()
            os.replace(shorter, temporary)
        except BaseException:
            Path(shorter).unlink(missing_ok=True)
            raise

    def discard(self) -> None:
        try:
            if self.writer is not None:
                self.writer.close()
        except (OSError, pa.ArrowException):
            pass  # a full disk fails the last write again on close; the file goes anyway
        self.writer = None
        try:
            if self.handle is not None:
                self.handle.close()
        except OSError:
            pass
        self.handle = None
        Path(self.temporary).unlink(missing_ok=True)


def _parquet_writer(where: Any, schema: pa.Schema) -> pq.ParquetWriter:
    # lz4: a job's small tables read three times faster than with zstd (whose per-page
    # set-up dominates them), for files a quarter larger: still a fifth of the CSV.
    return pq.ParquetWriter(where, schema, compression="lz4")


def _arrow_rows(rows: Sequence[tuple[Any, ...]], schema: pa.Schema) -> pa.Table:
    """Row tuples as an Arrow table of ``schema``; a value that does not fit its column's
    type raises a one-line ValueError naming the column."""
    columns = list(zip(*rows))
    arrays = []
    for field, values in zip(schema, columns):
        try:
            arrays.append(_arrow_column(values, field.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as error:
            raise ValueError(f"column {field.name} cannot hold its values as {field.type} "
                             f"({error})") from None
    return pa.Table.from_arrays(arrays, schema=schema)


_NUMPY_INTS = {pa.int8(): np.int8, pa.int16(): np.int16, pa.int32(): np.int32,
               pa.int64(): np.int64}


def _arrow_column(values: Sequence[Any], kind: pa.DataType) -> pa.Array:
    """``pa.array(values, type=kind)``, built from NumPy buffers for the record columns' types
    (ints, nullable ints, bools, dictionary-encoded text): ``pa.array`` on a Python sequence
    imports pandas (pyarrow asks whether it is a pandas object), 0.3 to 0.4 CPU seconds in
    every job process that writes a table. Anything else goes to ``pa.array`` itself, which
    also gives the errors of values that do not fit."""
    count = len(values)
    if kind in _NUMPY_INTS and set(map(type, values)) <= {int, type(None)}:
        nulls = [value is None for value in values] if None in values else None
        data = np.array(values if nulls is None else
                        [0 if value is None else value for value in values])
        limits = np.iinfo(_NUMPY_INTS[kind])
        if data.dtype.kind == "i" and (not count or limits.min <= data.min()
                                       and data.max() <= limits.max):
            validity = None if nulls is None else pa.py_buffer(
                np.packbits(~np.array(nulls, dtype=bool), bitorder="little"))
            return pa.Array.from_buffers(kind, count, [
                validity, pa.py_buffer(data.astype(_NUMPY_INTS[kind]))],
                null_count=0 if nulls is None else sum(nulls))
    elif kind == pa.bool_():
        data = np.array(values)
        if data.dtype.kind == "b":
            return pa.Array.from_buffers(kind, count, [
                None, pa.py_buffer(np.packbits(data, bitorder="little"))], null_count=0)
    elif kind == _TEXT:
        codes: dict[Any, int] = {}
        indices = np.array([codes.setdefault(value, len(codes)) for value in values],
                           dtype=np.int32)
        if all(type(word) is str for word in codes):
            words = [word.encode() for word in codes]
            offsets = np.zeros(len(words) + 1, dtype=np.int32)
            np.cumsum([len(word) for word in words], out=offsets[1:])
            dictionary = pa.Array.from_buffers(pa.string(), len(words), [
                None, pa.py_buffer(offsets), pa.py_buffer(b"".join(words))], null_count=0)
            return pa.DictionaryArray.from_arrays(pa.Array.from_buffers(
                pa.int32(), count, [None, pa.py_buffer(indices)], null_count=0), dictionary)
    return pa.array(values, type=kind)


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


class TableDamaged(OSError):
    """A table file that is not what its format says (a Parquet file cut short, say)."""


def table_entry(path: Path, fmt: str | None = None) -> dict[str, Any]:
    """The format (``fmt``, or else the file name's), row count and SHA-256 of a table on disk
    (a CSV header is no row). Raises OSError when it cannot be read, :class:`TableDamaged`
    when it is no whole Parquet file."""
    digest = hashlib.sha256()
    lines = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
            lines += block.count(b"\n")
    if fmt is None:
        named = split_table_file(path.name)
        fmt = named[1] if named else CSV
    if fmt == PARQUET:
        try:
            rows = pq.read_metadata(path).num_rows
        except (pa.ArrowException, OSError, ValueError) as error:
            raise TableDamaged(f"not a whole Parquet file ({str(error).strip()})") from None
    else:
        rows = max(0, lines - 1)
    return {"rows": rows, "sha256": digest.hexdigest(), "format": fmt}


def verify_tables(directory: Path, document: JobResult) -> str | None:
    """Why the tables of a job's result.json do not check out, or None when they all do.

    A job is complete only when every table its result.json lists exists with the row count
    and checksum recorded there (a truncated or missing table means the job must be redone).
    Its trials and rounds tables may be in any format (CSV only, from before Parquet).
    """
    tables = document.tables
    recorded = {named[0] for name in tables or () if (named := split_table_file(name))}
    if tables is None or not {TRIALS, ROUNDS} <= recorded:
        return f"{RESULT_FILE} records no table checksums"
    for name, expected in tables.items():
        if not isinstance(expected, dict):
            return f"{RESULT_FILE} has a malformed entry for {name}"
        try:
            found = table_entry(directory / name)
        except FileNotFoundError:
            return f"{name} is missing"
        except TableDamaged as error:
            return f"{name} is damaged or cut short: {error}"
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


def leader_down(record: RoundRecord) -> bool:
    """Whether the round's leader was down (crash_stop, crash_recovery): such a round has no
    step at all, so nothing was sent or silenced; a leader that is up sends START to every
    node, itself included, and each START is on the wire (as itself or CRASH) or silenced."""
    return record.proposal is None and record.messages == 0 and record.silenced == 0


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
        self.leader_down = 0
        self.decision_values = {"0": 0, "1": 0}
        # Message counts of finished trials, keyed by the RoundRecord field that counts them.
        self.counts: Counter[str] = Counter()
        self.unsafe: list[int] = []
        self.unsafe_count = 0
        self.violations = {"agreement": 0, "validity": 0, "proposals": 0}
        self.agreement_ok = self.validity_ok = self.proposals_ok = True
        # The unfinished trial's rounds, round changes, rounds whose leader was down and
        # message counts (by field name).
        self._pending_rounds = self._pending_roundchanges = self._pending_leader_down = 0
        self._pending: Counter[str] = Counter()

    def add_rounds(self, rounds: Sequence[RoundRecord], trace: Sequence[TraceRecord]) -> None:
        # Counted for the trial under way, and only folded in with its trial record, so a
        # summary never counts rounds of a trial that did not finish (an interrupted job).
        pending = self._pending
        for record in rounds:
            self._pending_rounds += 1
            if record.proposal is None:
                self._pending_roundchanges += 1
                self._pending_leader_down += leader_down(record)
            for name in _COUNTED_FIELDS:
                pending[name] += getattr(record, name)

    def add_trial(self, trial: TrialRecord) -> None:
        self.rounds += self._pending_rounds
        self.roundchanges += self._pending_roundchanges
        self.leader_down += self._pending_leader_down
        self.counts.update(self._pending)
        self._pending_rounds = self._pending_roundchanges = self._pending_leader_down = 0
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
            leader_down_rounds=self.leader_down,
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
TABLE_COLUMNS = {TRIALS: TRIAL_COLUMNS, ROUNDS: ROUND_COLUMNS, TRACE: TRACE_COLUMNS}

_SENT_FIELDS = tuple(f"sent_{kind}" for kind in SENT_KEYS)  # the RoundRecord fields
# Every message count a summary adds up over a job's rounds.
_COUNTED_FIELDS = (*_SENT_FIELDS, "crashed", "silenced")

# What each column holds (table_schema turns it into a type for the job's sizes).
_COLUMN_KINDS: dict[str, dict[str, str]] = {
    ROUNDS: {"trial": "trial", "round": "round", "leader": "node", "joins": "node",
             "proposal": "bit", "votes": "node", "decided": "bool", "decision": "bit",
             **dict.fromkeys(_COUNTED_FIELDS, "count")},
    TRIALS: {"trial": "trial", "initial_values": "text", "decided": "bool",
             "first_decision_round": "round", "deciding_rounds": "round", "decision": "bit",
             "agreement_ok": "bool", "validity_ok": "bool", "proposals_ok": "bool"},
    TRACE: {"trial": "trial", "round": "round", "phase": "small", "sender": "node",
            "receiver": "node", "kind": "text", "body": "text", "crashed": "bool",
            "silenced": "bool"},
}
for _table, _columns in TABLE_COLUMNS.items():  # a record field without a type fails here
    assert list(_COLUMN_KINDS[_table]) == _columns, f"{_table}: {_columns}"

_round_row = attrgetter(*ROUND_COLUMNS)
_trace_row = attrgetter(*TRACE_COLUMNS)


def _trial_row(trial: TrialRecord) -> tuple[Any, ...]:
    return tuple(trial_row(trial).values())


class JobTables:
    """A RecordSink that streams a job's records into its tables (temporary names until
    :meth:`commit`), in each format asked for, and into its summary, so a job's memory does
    not grow with its size."""

    def __init__(self, directory: Path, trace: bool, formats: Sequence[str] = (PARQUET,),
                 sizes: TableSizes = UNKNOWN_SIZES) -> None:
        self.directory = directory
        self.summary = SummaryBuilder()
        self.writers: dict[str, CsvTable | ParquetTable] = {}
        self.by_table: dict[str, list[CsvTable | ParquetTable]] = {}
        unknown = [fmt for fmt in formats if fmt not in FORMATS]
        if unknown or not formats:
            raise ValueError(f"table formats {list(formats)}: expected some of {FORMATS}")
        try:
            for table in (TRIALS, ROUNDS, *([TRACE] if trace else [])):
                for fmt in formats:
                    path = directory / table_file(table, fmt)
                    writer = (ParquetTable(path, table_schema(table, sizes)) if fmt == PARQUET
                              else CsvTable(path, TABLE_COLUMNS[table]))
                    self.writers[path.name] = writer
                    self.by_table.setdefault(table, []).append(writer)
        except BaseException:
            self.discard()
            raise
        self.whole_trials = 0  # trials whose rows are all in the tables
        self.whole_rows: dict[str, int] = {}  # each table's rows when the last trial ended

    def add_rounds(self, rounds: Sequence[RoundRecord], trace: Sequence[TraceRecord]) -> None:
        self.summary.add_rounds(rounds, trace)
        rows = [_round_row(record) for record in rounds]
        for writer in self.by_table[ROUNDS]:
            writer.add(rows)
        if TRACE in self.by_table and trace:
            rows = [_trace_row(record) for record in trace]
            for writer in self.by_table[TRACE]:
                writer.add(rows)

    def add_trial(self, trial: TrialRecord) -> None:
        self.summary.add_trial(trial)
        row = [_trial_row(trial)]
        for writer in self.by_table[TRIALS]:
            writer.add(row)
        self.whole_trials += 1
        for writer in self.writers.values():
            writer.end_of_trial()
        self.whole_rows = {name: writer.rows for name, writer in self.writers.items()}

    def commit(self) -> dict[str, Any]:
        """Rename every table into place; returns ``{file: {rows, sha256, format}}`` for
        result.json. Table files of a format not written this time (an earlier run's) go."""
        entries = {name: writer.commit() for name, writer in self.writers.items()}
        self._remove_others()
        return entries

    def commit_whole_trials(self) -> dict[str, Any]:
        """After an interrupt: keep only the rows of trials that finished (a long trial's
        rounds arrive before its own record), rename the tables into place, and return
        their entries as read back from disk (so they match whatever was written)."""
        entries = {}
        for name, writer in self.writers.items():
            writer.keep_rows(self.whole_rows.get(name, 0))
            entries[name] = table_entry(Path(writer.temporary), writer.format)
        for writer in self.writers.values():
            os.replace(writer.temporary, writer.path)
        self._remove_others()
        return entries

    def _remove_others(self) -> None:
        for name in TABLE_FILES:
            if name not in self.writers:
                (self.directory / name).unlink(missing_ok=True)

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
