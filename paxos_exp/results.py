"""Result files of one job: ``result.json`` plus tidy CSV tables, written atomically.

Layout of a job directory (CSV everywhere, one header row, comma-separated):
- ``result.json``: status, error, job_key, config, summary, seed, versions, timestamps;
- ``trials.csv``: one row per trial; ``rounds.csv``: one row per round of each trial;
- ``trace.csv``: one row per message, only when ``trace=true``.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import platform
import statistics
import tempfile
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from paxos_exp.core import theory
from paxos_exp.core.config import RunConfig
from paxos_exp.core.records import RunResult

RESULT_FILE = "result.json"
SWEEP_MANIFEST = "sweep.json"  # in a sweep directory: job count, start time, command
TRIALS_FILE = "trials.csv"
ROUNDS_FILE = "rounds.csv"
TRACE_FILE = "trace.csv"
STATUS_OK = "ok"
STATUS_FAILED = "failed"


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary name in the same directory, then rename: readers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_csv(path: Path, rows: Iterable[Mapping[str, Any]], columns: list[str]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: ("" if value is None else value) for key, value in row.items()})
    write_atomic(path, buffer.getvalue())


@functools.lru_cache(maxsize=1)
def _installed_versions() -> tuple[tuple[str, str], ...]:
    """Looked up once per process: a sweep's jobs share one interpreter under most launchers."""
    found = {"python": platform.python_version()}
    for package in ("paxos-exp", "pyzmq", "hydra-core", "omegaconf"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    try:
        import zmq

        found["libzmq"] = zmq.zmq_version()
    except ImportError:
        pass
    return tuple(found.items())


def versions() -> dict[str, str]:
    """Python, paxos-exp, pyzmq, libzmq, hydra-core and omegaconf versions."""
    return dict(_installed_versions())


def summarize(result: RunResult) -> dict[str, Any]:
    """The ``summary`` block of result.json: outcomes, theory, messages, safety, timings."""
    config: RunConfig = result.config
    trials = result.trials
    rounds = result.rounds
    decided = [trial for trial in trials if trial.decided]
    firsts = [trial.first_decision_round for trial in decided]
    deciding = sum(trial.deciding_rounds for trial in trials)
    roundchanges = sum(1 for record in rounds if record.proposal is None)
    messages = {
        "START": sum(r.sent_start for r in rounds),
        "JOIN": sum(r.sent_join for r in rounds),
        "PROPOSE": sum(r.sent_propose for r in rounds),
        "VOTE": sum(r.sent_vote for r in rounds),
        "ROUNDCHANGE": sum(r.sent_roundchange for r in rounds),
        "CRASH": sum(r.sent_crash for r in rounds),
    }
    messages["total"] = sum(messages.values())
    unsafe = [trial.trial for trial in trials if not trial.safe]
    total_rounds = len(rounds)
    args = (config.nodes, config.fail_prob)
    quorum_args = (config.join_quorum, config.vote_quorum)
    return {
        "trials": len(trials),
        "decided_trials": len(decided),
        "decision_rate": len(decided) / len(trials) if trials else None,
        "first_decision_round": {
            "mean": statistics.fmean(firsts) if firsts else None,
            "median": statistics.median(firsts) if firsts else None,
            "min": min(firsts) if firsts else None,
            "max": max(firsts) if firsts else None,
        },
        "rounds_total": total_rounds,
        "deciding_rounds": deciding,
        "deciding_rounds_per_trial": deciding / len(trials) if trials else None,
        "round_decision_rate": deciding / total_rounds if total_rounds else None,
        "roundchanges": roundchanges,
        "roundchange_rate": roundchanges / total_rounds if total_rounds else None,
        "decision_values": {
            "0": sum(1 for trial in decided if trial.decision == 0),
            "1": sum(1 for trial in decided if trial.decision == 1),
        },
        "messages": messages,
        "crashed_messages": sum(r.crashed for r in rounds),
        "theory": {
            "join_probability": theory.join_probability(*args, config.join_quorum),
            "round_decision_probability": theory.round_decision_probability(*args, *quorum_args),
            "decision_within_rounds": theory.decision_within_probability(
                *args, config.rounds, *quorum_args
            ),
        },
        "safety": {
            "agreement_ok": all(trial.agreement_ok for trial in trials),
            "validity_ok": all(trial.validity_ok for trial in trials),
            "proposals_ok": all(trial.proposals_ok for trial in trials),
            "unsafe_trials": unsafe[:20],
            "unsafe_count": len(unsafe),
        },
        "wall": {
            "startup": result.timings.startup,
            "rounds": result.timings.rounds,
            "teardown": result.timings.teardown,
            "simulation": result.timings.total,
        },
    }


ROUND_COLUMNS = [
    "trial", "round", "leader", "joins", "proposal", "votes", "decided", "decision",
    "sent_start", "sent_join", "sent_propose", "sent_vote", "sent_roundchange", "sent_crash",
    "crashed",
]
TRIAL_COLUMNS = [
    "trial", "initial_values", "decided", "first_decision_round", "deciding_rounds", "decision",
    "agreement_ok", "validity_ok", "proposals_ok",
]
TRACE_COLUMNS = ["trial", "round", "phase", "sender", "receiver", "kind", "body", "crashed"]


def write_tables(directory: Path, result: RunResult) -> None:
    write_csv(directory / TRIALS_FILE, result.trial_dicts(), TRIAL_COLUMNS)
    write_csv(directory / ROUNDS_FILE, result.round_dicts(), ROUND_COLUMNS)
    if result.trace is not None:
        write_csv(directory / TRACE_FILE, result.trace_dicts(), TRACE_COLUMNS)


def write_result(directory: Path, document: dict[str, Any]) -> None:
    write_atomic(directory / RESULT_FILE, json.dumps(document, indent=2, sort_keys=False) + "\n")


def read_result(directory: Path) -> dict[str, Any] | None:
    """The job's result.json, or None when absent or unreadable."""
    try:
        with open(directory / RESULT_FILE, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None
