"""Reading and validating one job: its result.json (through :class:`paxos_exp.schema.JobResult`)
as a row of configuration and outcome columns, and its CSV tables, typed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from paxos_exp.analysis.discover import ReportError
from paxos_exp.core.config import RunConfig, canonical_fail_prob
from paxos_exp.core.errors import ConfigError
from paxos_exp.core.faults import DEFAULT_FAULTS
from paxos_exp.core.protocols import DEFAULT_PROTOCOL
from paxos_exp.core.quorum import majority
from paxos_exp.results import (
    RESULT_FILE,
    ROUND_COLUMNS,
    ROUNDS_FILE,
    STATUS_OK,
    TRACE_COLUMNS,
    TRACE_FILE,
    TRIALS_FILE,
    load_result,
)
from paxos_exp.schema import SENT_KEYS, JobResult, SchemaError, Summary


class Unreadable(Exception):
    """A file exists but its content cannot be used (the message says why)."""


def flatten_config(config: dict[str, Any]) -> dict[str, Any]:
    """Nested groups become columns named by their leaf (``runtime.start_method`` ->
    ``start_method``), or ``group_leaf`` when the leaf name is taken; a plug-in group's
    ``name`` is the group's column (``protocol.name`` -> ``protocol``)."""
    flat: dict[str, Any] = {key: value for key, value in config.items()
                            if not isinstance(value, dict)}
    for group, values in config.items():
        if isinstance(values, dict):
            for leaf, value in flatten_config(values).items():
                if leaf == "name":
                    flat[group] = value
                    continue
                name = leaf if leaf not in flat and leaf not in config else f"{group}_{leaf}"
                flat[name] = value
    return flat


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


def _bool_series(series: pd.Series, name: str) -> pd.Series:
    mapped = series.astype(str).str.strip().map({"True": True, "False": False, "true": True,
                                                 "false": False, "1": True, "0": False})
    if mapped.isna().any():
        raise Unreadable(f"column {name} holds values other than True/False")
    return mapped.astype(bool)


_BOOL_COLUMNS = {
    TRIALS_FILE: ("decided", "agreement_ok", "validity_ok", "proposals_ok"),
    ROUNDS_FILE: ("decided",),
    TRACE_FILE: ("crashed", "silenced"),
}
# Columns added after tables were first written, with the value older tables mean.
_LATER_COLUMNS = {
    ROUNDS_FILE: {"silenced": 0},
    TRACE_FILE: {"silenced": False},
    TRIALS_FILE: {},
}


def read_table(job_dir: Path, filename: str, columns: Sequence[str]) -> pd.DataFrame:
    """One of a job's CSV tables, typed; raises Unreadable when missing or malformed."""
    path = job_dir / filename
    if not path.is_file():
        raise Unreadable(f"{filename} is missing")
    try:
        frame = pd.read_csv(path, dtype={"initial_values": str, "body": str, "kind": str})
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        problem = f"{type(error).__name__}: {error}"
        raise Unreadable(f"{filename} cannot be parsed ({problem})") from None
    for column, value in _LATER_COLUMNS[filename].items():
        if column not in frame.columns:
            frame[column] = value
    absent = [column for column in columns if column not in frame.columns]
    if absent:
        raise Unreadable(f"{filename} lacks the columns {', '.join(absent)}")
    for column in _BOOL_COLUMNS[filename]:
        frame[column] = _bool_series(frame[column], f"{filename} {column}")
    return frame


def read_trace(job_dir: Path | str) -> pd.DataFrame:
    """A job's message trace (``trace.csv``); raises ReportError when there is none."""
    job_dir = Path(job_dir)
    if not (job_dir / TRACE_FILE).is_file():
        raise ReportError(
            f"{job_dir}: no {TRACE_FILE} (run the job with trace=true, for example "
            f"`paxos-exp nodes=5 fail_prob=0.2 rounds=4 trials=3 trace=true`)"
        )
    try:
        return read_table(job_dir, TRACE_FILE, TRACE_COLUMNS)
    except Unreadable as error:
        raise ReportError(f"{job_dir}: {error}") from None


def read_rounds(job_dir: Path | str) -> pd.DataFrame | None:
    """A job's rounds.csv, or None when it is missing or unreadable."""
    try:
        return read_table(Path(job_dir), ROUNDS_FILE, ROUND_COLUMNS)
    except Unreadable:
        return None


def read_config(job_dir: Path | str) -> dict[str, Any] | None:
    """A job's flattened configuration, or None when its result.json cannot be read."""
    try:
        return read_job_document(Path(job_dir))[1]
    except Unreadable:
        return None
