"""Reading and validating one job: its result.json (through :class:`paxos_exp.schema.JobResult`)
as a row of configuration and outcome columns, and its tables, typed.

A table is read from whichever file the job has (``trials.parquet``, or ``trials.csv`` from
``tables=csv`` or a version before Parquet) into the same Arrow schema
(:func:`paxos_exp.results.table_schema`), then into pandas: small integers, booleans,
nullable integers (``Int8``...) where a value may be missing, categoricals for text.
"""

from __future__ import annotations

import json

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from paxos_exp.analysis.discover import ReportError
from paxos_exp.core.config import RunConfig, canonical_fail_prob
from paxos_exp.core.errors import ConfigError
from paxos_exp.core.faults import DEFAULT_FAULTS
from paxos_exp.core.protocols import DEFAULT_PROTOCOL
from paxos_exp.core.quorum import majority
from paxos_exp.results import (
    CSV,
    FORMATS,
    NULLABLE_COLUMNS,
    RESULT_FILE,
    ROUND_COLUMNS,
    ROUNDS,
    STATUS_OK,
    TABLE_COLUMNS,
    TRACE,
    TRACE_COLUMNS,
    TRIALS,
    UNKNOWN_SIZES,
    TableSizes,
    load_result,
    read_result,
    split_table_file,
    table_file,
    table_schema,
)
from paxos_exp.schema import SENT_KEYS, JobResult, SchemaError, Summary


class Unreadable(Exception):
    """A file exists but its content cannot be used (the message says why)."""


# Names of the columns the analysis derives beside a job's configuration (its outcome, the
# summary's, the first-round distribution's, the tables'): a plug-in setting of one of these
# names is read as ``group_leaf`` (link_loss's ``fraction`` is ``faults_fraction``), or it
# would clash with one. A test keeps this a superset of the derived columns.
DERIVED_COLUMNS = frozenset({
    "trials", "decided", "decision_rate", "ci_low", "ci_high", "theory", "theory_source", "z",
    "accept_low", "accept_high", "outside_99", "rounds_total", "deciding_rounds",
    "roundchanges", "leader_down_rounds", "leader_down_rate", "round_rate", "round_ci_low",
    "round_ci_high", "round_theory", "round_z",
    "round_outside_99", "roundchange_rate", "roundchange_theory", "join_theory",
    "first_round", "first_round_mean", "first_round_median", "first_round_min",
    "first_round_max", "first_round_theory", "count", "fraction", "decisions_0",
    "decisions_1", "sent_total", "messages_per_round", "messages_per_decision",
    "messages_per_decision_low", "messages_per_decision_high", "messages_theory", "crashed",
    "silenced", "safe", "unsafe_count", "claims_safety", "first_unsafe_trial", "violations",
    "violation_rate", "violation_ci_low", "violation_ci_high", "violation_theory",
    "violation_z", "wall_seconds", "wall_per_trial_ms", "wall_simulation", "wall_startup",
    "wall_rounds", "wall_teardown", "job_key", "status", "error", "started_at",
    "finished_at", "version", "command", "job_dir",
    *(f"sent_{kind}" for kind in (*SENT_KEYS, "total")),
    *(column for columns in TABLE_COLUMNS.values() for column in columns),
})


def flatten_config(config: dict[str, Any]) -> dict[str, Any]:
    """Nested groups become columns named by their leaf (``runtime.start_method`` ->
    ``start_method``), or ``group_leaf`` when the leaf name is taken; a plug-in group's
    ``name`` is the group's column (``protocol.name`` -> ``protocol``)."""
    flat: dict[str, Any] = {key: value for key, value in config.items()
                            if not isinstance(value, dict) and not _plugins(value)}
    for group, values in config.items():
        if _plugins(values):
            # Several fault models composed: ``omission+partition``, each one's settings as
            # columns of their own.
            values = {"name": "+".join(str(plugin["name"]) for plugin in values),
                      **{key: value for plugin in values for key, value in plugin.items()
                         if key != "name"}}
        if isinstance(values, dict):
            for leaf, value in flatten_config(values).items():
                if leaf == "name":
                    flat[group] = value
                    continue
                if isinstance(value, (list, tuple)):  # a setting such as link: [0, 1]
                    value = json.dumps(value)
                name = (leaf if leaf not in flat and leaf not in config
                        and leaf not in DERIVED_COLUMNS else f"{group}_{leaf}")
                flat[name] = value
    return flat


def _plugins(value: Any) -> bool:
    """Whether ``value`` is a list of plug-ins with their settings (composed fault models)."""
    return isinstance(value, list) and bool(value) and all(
        isinstance(item, dict) and "name" in item for item in value)


def _with_plugins(flat: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """The protocol and fault model columns (``classic``/``omission`` for results written
    before they existed), and the quorum sizes of a protocol whose quorums are not strict
    majorities (the analysis's theory and labels read them)."""
    flat.setdefault("protocol", DEFAULT_PROTOCOL)
    flat.setdefault("faults", DEFAULT_FAULTS)
    if "protocol" in config:
        try:
            quorums = RunConfig.from_spec(config).quorums
        except (ConfigError, TypeError, KeyError):
            return flat  # an unknown plug-in or setting: shown as configured, no sizes
        if (quorums.join, quorums.vote) != (majority(flat["nodes"]),) * 2:
            flat["join_quorum"], flat["vote_quorum"] = quorums.join, quorums.vote
    return flat


def column_for(dotted: str, columns: Iterable[str]) -> str | None:
    """The flattened column of a dotted override key, if it is a configuration column."""
    columns = set(columns)
    parts = dotted.lstrip("+~").split("@")[0].split(".")
    for name in (parts[-1], "_".join(parts[-2:]), dotted):
        if name in columns:
            return name
    return None


def _outcome(summary: Summary) -> dict[str, Any]:
    """An ok job's outcome columns; message counts are spelled as the records' fields are
    (``sent_<kind>``, ``sent_total``, ``crashed``, ``silenced``)."""
    first, safety, wall = summary.first_decision_round, summary.safety, summary.wall
    row: dict[str, Any] = {
        "trials": summary.trials,
        "decided": summary.decided_trials,
        "decision_rate": summary.decided_trials / summary.trials,
        "rounds_total": summary.rounds_total,
        "deciding_rounds": summary.deciding_rounds,
        "roundchanges": summary.roundchanges,
        "leader_down_rounds": summary.leader_down_rounds,
        "first_round_mean": first.mean,
        "first_round_median": first.median,
        "first_round_min": first.min,
        "first_round_max": first.max,
        "decisions_0": summary.decision_values.get("0"),
        "decisions_1": summary.decision_values.get("1"),
        **{f"sent_{kind}": summary.sent.get(kind) for kind in (*SENT_KEYS, "total")},
        "crashed": summary.crashed,
        "silenced": summary.silenced,
        "safe": safety.safe,
        "unsafe_count": safety.unsafe_count,
        "claims_safety": safety.claims_safety,
        "first_unsafe_trial": (safety.unsafe_trials or [None])[0],
        "wall_simulation": wall.simulation,
        "wall_startup": wall.startup,
        "wall_rounds": wall.rounds,
        "wall_teardown": wall.teardown,
    }
    return row


def read_document(job_dir: Path) -> JobResult:
    """A job's result.json; raises Unreadable when it cannot be used."""
    try:
        return load_result(job_dir)
    except (OSError, UnicodeDecodeError) as error:
        raise Unreadable(f"cannot read {RESULT_FILE}: {error}") from None
    except SchemaError as error:
        raise Unreadable(str(error)) from None


def read_job_document(
    job_dir: Path, document: JobResult | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(row, config)`` from a job's result.json (``document`` when already read); raises
    Unreadable when it cannot be used.

    Only an ok job gets outcome columns: a failed or interrupted one is a row with its
    configuration and status, so it is known but never counted.
    """
    if document is None:
        document = read_document(job_dir)
    config = document.config
    flat = flatten_config(config)
    flat["fail_prob"] = canonical_fail_prob(float(config["fail_prob"]))
    flat = _with_plugins(flat, config)
    row: dict[str, Any] = {
        "job_key": str(document.job_key or job_dir.name),
        "status": document.status,
        "error": document.error,
        **flat,
    }
    if document.status == STATUS_OK and document.summary is not None:
        row.update(_outcome(document.summary))
    row["wall_seconds"] = document.wall_seconds
    row["started_at"] = document.started_at
    row["finished_at"] = document.finished_at
    row["version"] = document.versions.get("paxos-exp")
    row["command"] = " ".join(map(str, document.command))
    row["job_dir"] = str(job_dir)
    return row, flat


# Columns added after tables were first written, with the value older tables mean.
_LATER_COLUMNS: dict[str, dict[str, Any]] = {ROUNDS: {"silenced": 0}, TRACE: {"silenced": False},
                                             TRIALS: {}}
# Nullable integer columns become pandas' nullable integers, never floats with NaN.
_NULLABLE_DTYPES = {pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(),
                    pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype()}


def table_name(table: str) -> str:
    """``trials`` for ``trials``, ``trials.parquet`` or ``trials.csv``."""
    named = split_table_file(table)
    if named is not None:
        return named[0]
    if table not in TABLE_COLUMNS:
        raise ValueError(f"no table {table!r}: expected one of {', '.join(TABLE_COLUMNS)}")
    return table


def table_path(job_dir: Path, table: str, document: JobResult | None = None) -> Path | None:
    """The file holding a job's ``table``: the one its result.json records (Parquet first when
    it records both), else whichever exists (Parquet first); None when there is none."""
    table = table_name(table)
    names = [table_file(table, fmt) for fmt in FORMATS]
    recorded = (document.tables or {}) if document is not None else {}
    for name in names:
        if name in recorded:
            return job_dir / name
    for name in names:
        if (job_dir / name).is_file():
            return job_dir / name
    return None


def _sizes(job_dir: Path, document: JobResult | None) -> TableSizes:
    """The sizes that type a CSV table's integer columns, from the job's configuration."""
    if document is None:
        document = read_result(job_dir)
    try:
        return TableSizes.of(document.config) if document is not None else UNKNOWN_SIZES
    except (KeyError, TypeError, ValueError):
        return UNKNOWN_SIZES


def _read_csv(path: Path, table: str, sizes: TableSizes) -> pa.Table:
    schema = table_schema(table, sizes)
    with open(path, encoding="utf-8", newline="") as handle:
        header = handle.readline().rstrip("\r\n").split(",")
    later = _LATER_COLUMNS[table]
    absent = [name for name in schema.names if name not in header and name not in later]
    if absent:
        raise Unreadable(f"{path.name} lacks the columns {', '.join(absent)}")
    present = [name for name in schema.names if name in header]
    options = pa_csv.ConvertOptions(
        column_types={field.name: field.type for field in schema if field.name in header},
        include_columns=present, strings_can_be_null=False,
        true_values=["True", "true", "1"], false_values=["False", "false", "0"])
    arrow = pa_csv.read_csv(path, convert_options=options)
    for name, value in later.items():
        if name not in header:
            type_ = schema.field(name).type
            arrow = arrow.append_column(pa.field(name, type_),
                                        pa.array([value] * arrow.num_rows, type=type_))
    return arrow.select(schema.names)


def _read_parquet(path: Path, table: str) -> pa.Table:
    # One small file at a time: a thread pool per file costs more than it saves.
    with pq.ParquetFile(path) as parquet:
        arrow = parquet.read(use_threads=False)
    absent = [name for name in TABLE_COLUMNS[table] if name not in arrow.column_names]
    if absent:
        raise Unreadable(f"{path.name} lacks the columns {', '.join(absent)}")
    return arrow.select(TABLE_COLUMNS[table])


def read_arrow(job_dir: Path, table: str, document: JobResult | None = None) -> pa.Table:
    """One of a job's tables as an Arrow table of :func:`paxos_exp.results.table_schema`'s
    types (Parquet as written; CSV typed on reading: no value is guessed); raises Unreadable
    when it is missing or malformed. ``document``: the job's result.json, when already read."""
    table = table_name(table)
    path = table_path(job_dir, table, document)
    if path is None:
        raise Unreadable(f"{table_file(table)} is missing (and so is {table_file(table, CSV)})")
    try:
        if path.suffix == f".{CSV}":
            return _read_csv(path, table, _sizes(job_dir, document))
        return _read_parquet(path, table)
    except FileNotFoundError:
        raise Unreadable(f"{path.name} is missing") from None
    except (OSError, ValueError, UnicodeDecodeError, pa.ArrowException) as error:
        problem = f"{type(error).__name__}: {error}"
        raise Unreadable(f"{path.name} cannot be parsed ({problem})") from None


def nullable_column(column: pa.ChunkedArray | pa.Array) -> Any:
    """An Arrow integer column as a pandas nullable integer array (``Int8``, ...)."""
    return column.to_pandas(types_mapper=_NULLABLE_DTYPES.get).array


def frame_from_arrow(arrow: pa.Table) -> pd.DataFrame:
    """An Arrow table of a job's table as a pandas frame: integers as they are typed (int8,
    int16...), booleans as bool, text as categoricals, and the columns that may be empty
    (``proposal``, ``decision``, ``first_decision_round``) as nullable integers."""
    nullable = [name for name in arrow.column_names if name in NULLABLE_COLUMNS]
    frame = arrow.drop_columns(nullable).to_pandas(split_blocks=True)
    for name in nullable:
        frame.insert(arrow.column_names.index(name), name, nullable_column(arrow.column(name)))
    return frame


def read_table(job_dir: Path, table: str, columns: Sequence[str] | None = None,
               document: JobResult | None = None) -> pd.DataFrame:
    """One of a job's tables (``trials``, ``rounds``, ``trace``; a file name such as
    ``trials.csv`` names its table, read from whichever format the job has), typed; raises
    Unreadable when missing or malformed."""
    frame = frame_from_arrow(read_arrow(Path(job_dir), table, document))
    absent = [column for column in columns or () if column not in frame.columns]
    if absent:
        raise Unreadable(f"{table_name(table)} table lacks the columns {', '.join(absent)}")
    return frame


def read_trace(job_dir: Path | str) -> pd.DataFrame:
    """A job's message trace; raises ReportError when there is none."""
    job_dir = Path(job_dir)
    if table_path(job_dir, TRACE) is None:
        raise ReportError(
            f"{job_dir}: no {table_file(TRACE)} (run the job with trace=true, for example "
            f"`paxos-exp nodes=5 fail_prob=0.2 rounds=4 trials=3 trace=true`)"
        )
    try:
        return read_table(job_dir, TRACE, TRACE_COLUMNS)
    except Unreadable as error:
        raise ReportError(f"{job_dir}: {error}") from None


def read_rounds(job_dir: Path | str) -> pd.DataFrame | None:
    """A job's rounds table, or None when it is missing or unreadable."""
    try:
        return read_table(Path(job_dir), ROUNDS, ROUND_COLUMNS)
    except Unreadable:
        return None


def read_config(job_dir: Path | str) -> dict[str, Any] | None:
    """A job's flattened configuration, or None when its result.json cannot be read."""
    try:
        return read_job_document(Path(job_dir))[1]
    except Unreadable:
        return None
