"""Read sweep and job directories into tidy pandas frames, and list every problem found.

Three frames come back, all long-form: ``jobs`` (one row per job with a readable result.json:
its configuration flattened into columns, its status and its outcome counts), ``trials`` (one
row per trial of every completed job, with the job's configuration columns) and, on request,
``rounds`` (one row per round). A fourth frame, ``problems``, lists every job that is missing,
running elsewhere, has no result, was interrupted, failed, could not be read, or whose tables do
not match its result.json; nothing is dropped silently.
"""

from __future__ import annotations

import glob
import itertools
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from paxos_exp.core.config import DEADLINE_KEYS, RunConfig, canonical_fail_prob
from paxos_exp.core.errors import ConfigError, PaxosExpError
from paxos_exp.core.faults import DEFAULT_FAULTS
from paxos_exp.core.protocols import DEFAULT_PROTOCOL
from paxos_exp.core.quorum import majority
from paxos_exp.results import (
    LOCK_FILE,
    RESULT_FILE,
    ROUND_COLUMNS,
    ROUNDS_FILE,
    STATUS_FAILED,
    STATUS_INTERRUPTED,
    STATUS_OK,
    TRACE_COLUMNS,
    TRACE_FILE,
    TRIAL_COLUMNS,
    TRIALS_FILE,
    locked_elsewhere,
    verify_tables,
)

SWEEP_MANIFEST = "sweep.json"
MULTIRUN_FILE = "multirun.yaml"
REPORT_MARKER = "report.md"
# A subdirectory is taken for a job's directory when it holds any of these (Hydra writes
# .hydra/ as soon as a job starts, so a job killed before writing result.json still shows).
JOB_MARKERS = (RESULT_FILE, ".hydra", TRIALS_FILE, ROUNDS_FILE, "paxos.log", LOCK_FILE)

# Problem kinds, in the order report.md lists them.
MISSING = "missing"  # counted in sweep.json (or expected from the sweep grid) but no directory
# Another paxos-exp holds the job's lock: whatever its files say now may change any moment.
RUNNING = "running elsewhere"
NO_RESULT = "no result"  # a job directory without result.json (killed or still running)
# Stopped by Ctrl-C or SIGTERM: its tables hold whole trials but not all of them; a rerun of
# the same command redoes it, so its partial counts are never pooled.
INTERRUPTED = "interrupted"
FAILED = "failed"  # result.json says the job failed
CORRUPT = "corrupt"  # result.json unreadable or incomplete: the job cannot be used
# A table missing, truncated, changed or inconsistent with result.json (resume would redo the
# job); result.json's counts are still used, the table's rows are not.
BAD_TABLE = "bad table"
DUPLICATE = "duplicate"  # the same job (same job key) found twice; the first one is used
# Two jobs with the same seed and everything else equal but their trial counts: trial t depends
# only on (seed, t), so the smaller job's trials are the first ones of the larger; counting both
# would count those trials twice. The larger job is used.
OVERLAP = "overlap"
# Deadlines decide whether a job finishes, never what it records (the job key leaves them out).
RECORD_NEUTRAL_KEYS = DEADLINE_KEYS
PROBLEM_KINDS = (MISSING, RUNNING, NO_RESULT, INTERRUPTED, FAILED, CORRUPT, BAD_TABLE,
                 DUPLICATE, OVERLAP)
# A job whose run did not complete: an ok run of the same job found elsewhere replaces it.
_UNFINISHED = (STATUS_FAILED, STATUS_INTERRUPTED)
PROBLEM_COLUMNS = ["kind", "path", "job_key", "detail"]


class ReportError(PaxosExpError, ValueError):
    """Bad input to the report builder (a path, a key, a query); the message says what to fix."""


@dataclass
class Sweep:
    """One directory of jobs (a Hydra sweep, or a directory of single runs)."""

    path: Path
    manifest: dict[str, Any] | None = None  # sweep.json, when present and readable
    job_dirs: list[Path] = field(default_factory=list)

    @property
    def name(self) -> str:
        if self.manifest and self.manifest.get("name"):
            return str(self.manifest["name"])
        return self.path.name


@dataclass
class Results:
    """Everything read from a set of directories."""

    jobs: pd.DataFrame
    trials: pd.DataFrame
    problems: pd.DataFrame
    sweeps: list[Sweep]
    config_columns: list[str]
    rounds: pd.DataFrame | None = None
    # Things worth knowing that are not a job's problem (a directory holding several grids,
    # and how far missing-job detection reaches there); report.md lists them.
    notes: list[str] = field(default_factory=list)

    @property
    def ok_jobs(self) -> pd.DataFrame:
        """Jobs whose result.json says ok (the ones every aggregate is computed from)."""
        if self.jobs.empty:
            return self.jobs
        return self.jobs[self.jobs["status"] == STATUS_OK]


class _Unreadable(Exception):
    """Internal: a file exists but its content cannot be used."""


# ----------------------------------------------------------------------------- paths


def _has_glob(text: str) -> bool:
    return any(char in text for char in "*?[")


def expand_paths(paths: Iterable[Path | str]) -> list[Path]:
    """Expand globs, check every path exists; raises ReportError naming the bad one.

    A glob keeps the sweep and job directories it matches (and skips report directories);
    a plain path must exist (``result.json`` itself stands for its job directory).
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists() and _has_glob(str(raw)):
            matches = [Path(m) for m in sorted(glob.glob(str(path)))]
            candidates = [m for m in matches if m.is_dir() and not _is_report_dir(m)
                          and (is_sweep_dir(m) or _looks_like_job_dir(m))]
            if not candidates:
                raise ReportError(f"{raw}: the pattern matches no sweep or job directory")
        else:
            if path.is_file() and path.name == RESULT_FILE:
                path = path.parent
            if not path.exists():
                raise ReportError(f"{raw}: no such directory")
            if not path.is_dir():
                raise ReportError(f"{raw}: not a directory (give a sweep or job directory)")
            candidates = [path]
        for candidate in candidates:
            if all(candidate.resolve() != seen.resolve() for seen in found):
                found.append(candidate)
    if not found:
        raise ReportError("no directory given")
    return found


def _is_report_dir(path: Path) -> bool:
    return path.name == "report" or (path / REPORT_MARKER).exists()


def is_job_dir(path: Path) -> bool:
    return (path / RESULT_FILE).is_file()


def _looks_like_job_dir(path: Path) -> bool:
    return any((path / marker).exists() for marker in JOB_MARKERS)


def is_sweep_dir(path: Path) -> bool:
    return (path / SWEEP_MANIFEST).is_file() or (path / MULTIRUN_FILE).is_file()


def latest_sweep(root: Path | str = Path("outputs") / "sweeps") -> Path:
    """The most recently started sweep under ``root``; raises ReportError when there is none."""
    root = Path(root)
    # Ad-hoc sweeps live one level further down, one directory per start time
    # (outputs/sweeps/adhoc/<start time>/).
    candidates = [*root.glob("*"), *root.glob("*/*")] if root.is_dir() else []
    sweeps = [p for p in candidates if p.is_dir() and is_sweep_dir(p)]
    if not sweeps:
        raise ReportError(
            f"no sweep found under {root}/ (run `paxos-exp -m ...` first, or give a directory)"
        )

    def started(path: Path) -> float:
        stamps = [(path / name).stat().st_mtime for name in (SWEEP_MANIFEST, MULTIRUN_FILE)
                  if (path / name).is_file()]
        return max(stamps)

    return max(sweeps, key=started)


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads((path / SWEEP_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def find_sweep(path: Path) -> Sweep:
    """The job directories under ``path`` (or ``path`` itself when it is a job directory)."""
    if is_job_dir(path):
        return Sweep(path=path, manifest=None, job_dirs=[path])
    children = sorted(
        child for child in path.iterdir()
        if child.is_dir() and not child.name.startswith(".") and not _is_report_dir(child)
    )
    job_dirs = [child for child in children if _looks_like_job_dir(child)]
    if not job_dirs:
        if _looks_like_job_dir(path):  # a single run killed before it wrote result.json
            return Sweep(path=path, manifest=None, job_dirs=[path])
        if not is_sweep_dir(path):
            raise ReportError(
                f"{path}: no paxos-exp results here (expected a sweep directory with sweep.json "
                f"and one subdirectory per job, or a job directory with {RESULT_FILE})"
            )
    return Sweep(path=path, manifest=_read_manifest(path), job_dirs=job_dirs)


# ----------------------------------------------------------------------------- one job


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


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise _Unreadable(f"{name} is {value!r}, not a number")
    return float(value)


def _count(value: Any, name: str) -> int:
    number = _number(value, name)
    if number < 0 or number != int(number):
        raise _Unreadable(f"{name} is {value!r}, not a count")
    return int(number)


def _get(document: dict[str, Any], *keys: str) -> Any:
    value: Any = document
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            raise _Unreadable(f"result.json has no {'.'.join(keys)}")
        value = value[key]
    return value


def _outcome(summary: Any, trials_requested: Any) -> dict[str, Any]:
    if not isinstance(summary, dict):
        raise _Unreadable("result.json says ok but has no summary")
    trials = _count(_get(summary, "trials"), "summary.trials")
    decided = _count(_get(summary, "decided_trials"), "summary.decided_trials")
    rounds_total = _count(_get(summary, "rounds_total"), "summary.rounds_total")
    deciding = _count(_get(summary, "deciding_rounds"), "summary.deciding_rounds")
    if decided > trials or trials < 1:
        raise _Unreadable(f"summary says {decided} of {trials} trials decided")
    if trials_requested is not None and trials != trials_requested:
        raise _Unreadable(f"summary has {trials} trials, the configuration asked for "
                          f"{trials_requested}")
    messages = _get(summary, "messages")
    if not isinstance(messages, dict):
        raise _Unreadable("summary.messages is not a mapping")
    first = summary.get("first_decision_round") or {}
    safety = summary.get("safety") or {}
    wall = summary.get("wall") or {}
    values = summary.get("decision_values") or {}
    row: dict[str, Any] = {
        "trials": trials,
        "decided": decided,
        "decision_rate": decided / trials,
        "rounds_total": rounds_total,
        "deciding_rounds": deciding,
        "roundchanges": summary.get("roundchanges"),
        "first_round_mean": first.get("mean"),
        "first_round_median": first.get("median"),
        "first_round_min": first.get("min"),
        "first_round_max": first.get("max"),
        "decisions_0": values.get("0"),
        "decisions_1": values.get("1"),
        "crashed_messages": summary.get("crashed_messages"),
        "safe": bool(safety.get("agreement_ok", True) and safety.get("validity_ok", True)
                     and safety.get("proposals_ok", True)),
        "unsafe_count": safety.get("unsafe_count", 0),
        "claims_safety": safety.get("claims_safety", True),
        "first_unsafe_trial": (safety.get("unsafe_trials") or [None])[0],
        "wall_simulation": wall.get("simulation"),
        "wall_startup": wall.get("startup"),
        "wall_rounds": wall.get("rounds"),
        "wall_teardown": wall.get("teardown"),
    }
    for kind, count in messages.items():
        row[f"messages_{str(kind).lower()}"] = count
    if "messages_total" not in row:
        raise _Unreadable("summary.messages has no total")
    _count(row["messages_total"], "summary.messages.total")
    return row


def read_document(job_dir: Path) -> dict[str, Any]:
    """A job's result.json as it is on disk; raises _Unreadable when it is not a JSON object."""
    path = job_dir / RESULT_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise _Unreadable(f"cannot read {RESULT_FILE}: {error}") from None
    except ValueError as error:
        raise _Unreadable(f"{RESULT_FILE} is not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise _Unreadable(f"{RESULT_FILE} does not hold a JSON object")
    return document


def read_job_document(
    job_dir: Path, document: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(row, config)`` from a job's result.json (``document`` when already read); raises
    _Unreadable when it cannot be used.

    Only an ok job gets outcome columns: a failed or interrupted one is a row with its
    configuration and status, so it is known but never counted.
    """
    if document is None:
        document = read_document(job_dir)
    config = _get(document, "config")
    if not isinstance(config, dict):
        raise _Unreadable("result.json config is not a mapping")
    for key in ("nodes", "rounds"):
        _count(_get(config, key), f"config.{key}")
    fail_prob = _number(_get(config, "fail_prob"), "config.fail_prob")
    status = document.get("status")
    if status not in (STATUS_OK, STATUS_FAILED, STATUS_INTERRUPTED):
        raise _Unreadable(f"result.json status is {status!r}")
    flat = flatten_config(config)
    flat["fail_prob"] = canonical_fail_prob(fail_prob)
    flat = _with_plugins(flat, config)
    row: dict[str, Any] = {
        "job_key": str(document.get("job_key") or job_dir.name),
        "status": status,
        "error": document.get("error"),
        **flat,
    }
    if status == STATUS_OK:
        row.update(_outcome(document.get("summary"), config.get("trials")))
    row["wall_seconds"] = document.get("wall_seconds")
    row["started_at"] = document.get("started_at")
    row["finished_at"] = document.get("finished_at")
    versions = document.get("versions") or {}
    row["version"] = versions.get("paxos-exp") if isinstance(versions, dict) else None
    row["command"] = " ".join(map(str, document.get("command") or []))
    row["job_dir"] = str(job_dir)
    return row, flat


def _bool_series(series: pd.Series, name: str) -> pd.Series:
    mapped = series.astype(str).str.strip().map({"True": True, "False": False, "true": True,
                                                 "false": False, "1": True, "0": False})
    if mapped.isna().any():
        raise _Unreadable(f"column {name} holds values other than True/False")
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
    """One of a job's CSV tables, typed; raises _Unreadable when missing or malformed."""
    path = job_dir / filename
    if not path.is_file():
        raise _Unreadable(f"{filename} is missing")
    try:
        frame = pd.read_csv(path, dtype={"initial_values": str, "body": str, "kind": str})
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        problem = f"{type(error).__name__}: {error}"
        raise _Unreadable(f"{filename} cannot be parsed ({problem})") from None
    for column, value in _LATER_COLUMNS[filename].items():
        if column not in frame.columns:
            frame[column] = value
    absent = [column for column in columns if column not in frame.columns]
    if absent:
        raise _Unreadable(f"{filename} lacks the columns {', '.join(absent)}")
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
    except _Unreadable as error:
        raise ReportError(f"{job_dir}: {error}") from None


def read_rounds(job_dir: Path | str) -> pd.DataFrame | None:
    """A job's rounds.csv, or None when it is missing or unreadable."""
    try:
        return read_table(Path(job_dir), ROUNDS_FILE, ROUND_COLUMNS)
    except _Unreadable:
        return None


def read_config(job_dir: Path | str) -> dict[str, Any] | None:
    """A job's flattened configuration, or None when its result.json cannot be read."""
    try:
        return read_job_document(Path(job_dir))[1]
    except _Unreadable:
        return None


# ----------------------------------------------------------------------------- the expected grid


def _normalise(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        if isinstance(value, float) and math.isnan(value):
            return None
        return canonical_fail_prob(value)
    if hasattr(value, "name") and not isinstance(value, str):  # enums
        return str(value.name)
    return str(value)


def _override_values(arguments: Sequence[str], columns: Sequence[str]) -> dict[str, list[Any]]:
    """Configuration column -> the values Hydra overrides give it (a list for sweeps)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    values: dict[str, list[Any]] = {}
    for override in OverridesParser.create().parse_overrides(list(arguments)):
        column = column_for(override.get_key_element(), columns)
        if column is None:
            continue
        if override.is_sweep_override():
            values[column] = [_normalise(v) for v in override.sweep_iterator()]
        else:
            values[column] = [_normalise(override.value())]
    return values


@dataclass(frozen=True)
class Grid:
    """What one sweep command run into a directory asked for.

    ``keys`` are the configuration columns it varies and ``combos`` every combination of them;
    ``keys`` is None when the grid cannot be rebuilt (its sweep parameters came from a config
    file that sweep.json does not keep), and empty for a one-job command. ``fixed`` holds the
    columns it sets to one value (normalised), which tell its jobs from another grid's.
    """

    overrides: tuple[str, ...]
    total_jobs: int | None
    keys: tuple[str, ...] | None
    combos: tuple[tuple, ...] = ()
    sweeper_params: str = ""  # the latest grid's params from a config file, as key=values
    fixed: tuple[tuple[str, Any], ...] = ()

    @property
    def identity(self) -> tuple:
        """Equal for a resumed command (same overrides and job count): one grid, not two."""
        return self.overrides, self.total_jobs

    def describe(self) -> str:
        """The command's parameters in one short line."""
        text = " ".join(self.overrides) or "(no overrides)"
        if self.sweeper_params:
            text += f" [sweeper params: {self.sweeper_params}]"
        if len(text) > 120:
            text = text[:117] + "..."
        jobs = "?" if self.total_jobs is None else str(self.total_jobs)
        return f"`{text}` ({jobs} job{'' if self.total_jobs == 1 else 's'})"


def _combinations(values: dict[str, list[Any]]) -> tuple[tuple[str, ...], tuple[tuple, ...]]:
    """The swept columns (more than one value) and every combination of their values."""
    keys = tuple(key for key, options in values.items() if len(options) > 1)
    return keys, tuple(itertools.product(*(values[key] for key in keys)))


def _fixed(values: dict[str, list[Any]]) -> tuple[tuple[str, Any], ...]:
    """The columns given a single value."""
    return tuple((key, options[0]) for key, options in values.items() if len(options) == 1)


def _latest_grid(sweep: Sweep, columns: Sequence[str]) -> Grid:
    """The grid of the last command run into ``sweep``, read from Hydra's multirun.yaml (which
    every command overwrites); not rebuilt when that file is missing or unreadable."""
    manifest = sweep.manifest or {}
    total = manifest.get("total_jobs") if isinstance(manifest.get("total_jobs"), int) else None
    params = manifest.get("sweeper_params") or {}
    described = " ".join(f"{k}={v}" for k, v in params.items()) if isinstance(params, dict) \
        else ""
    overrides = tuple(map(str, manifest.get("overrides") or []))
    lost = Grid(overrides, total, None, sweeper_params=described)
    path = sweep.path / MULTIRUN_FILE
    if not path.is_file():
        return lost
    try:
        from omegaconf import OmegaConf

        config = OmegaConf.load(path)
        node = config.hydra.sweeper.get("params")
        params = OmegaConf.to_container(node) if node is not None else {}
        task = list(config.hydra.overrides.task)
        arguments = [f"{key}={value}" for key, value in params.items()] + task
        values = _override_values(arguments, columns)
    except Exception:  # noqa: BLE001 - best effort: without the grid we still report the count
        return lost
    keys, combos = _combinations(values)
    return Grid(overrides or tuple(map(str, task)), total, keys, combos, described,
                _fixed(values))


def _earlier_grid(entry: dict[str, Any], columns: Sequence[str]) -> Grid:
    """An earlier command's grid from its ``history`` entry in sweep.json. The entry keeps the
    command-line overrides only, so the grid counts as rebuilt only when they give exactly the
    job count it recorded (sweep parameters from an experiment file would be lost)."""
    overrides = tuple(map(str, entry.get("overrides") or []))
    total = entry.get("total_jobs")
    total = total if isinstance(total, int) and not isinstance(total, bool) else None
    try:
        values = _override_values(overrides, columns)
        keys, combos = _combinations(values)
    except Exception:  # noqa: BLE001 - an unparsable record: the grid is just not rebuilt
        return Grid(overrides, total, None)
    if total is None or len(combos) != total:
        return Grid(overrides, total, None)
    return Grid(overrides, total, keys, combos, fixed=_fixed(values))


def sweep_grids(sweep: Sweep, columns: Sequence[str]) -> list[Grid]:
    """Every distinct grid run into ``sweep``, oldest first, the latest last; a command run
    again (a resumed sweep) is one grid. Empty for a directory that is not a sweep."""
    if sweep.manifest is None and not (sweep.path / MULTIRUN_FILE).is_file():
        return []
    latest = _latest_grid(sweep, columns)
    history = (sweep.manifest or {}).get("history")
    entries = [entry for entry in history if isinstance(entry, dict)] \
        if isinstance(history, list) else []
    grids: dict[tuple, Grid] = {}
    for entry in entries:
        grid = _earlier_grid(entry, columns)
        if grid.identity != latest.identity:
            grids.setdefault(grid.identity, grid)
    return [*grids.values(), latest]


def _grids_note(sweep: Sweep, grids: Sequence[Grid]) -> str | None:
    """``SWEEP: this directory holds N grids: ...`` when several commands wrote into it, and
    how far missing-job detection reaches there; None for one grid."""
    if len(grids) < 2:
        return None
    listed = "; ".join(
        f"({number}) {grid.describe()}{', latest' if number == len(grids) else ''}"
        for number, grid in enumerate(grids, 1)
    )
    note = (f"{sweep.path}: this directory holds {len(grids)} grids (the name or sweep directory "
            f"was reused): {listed}.")
    lost = [str(number) for number, grid in enumerate(grids, 1) if grid.keys is None]
    if not lost:
        return note + " Missing jobs are looked for in every grid."
    note += (f" Grid {', '.join(lost)} cannot be rebuilt from {SWEEP_MANIFEST} (it keeps the "
             "command-line overrides, not sweep parameters from a config file)")
    if grids[-1].keys is None:
        return note + ("; missing-job detection is limited to the job count of the latest "
                       "command.")
    others = [str(number) for number, grid in enumerate(grids[:-1], 1) if grid.keys is not None]
    return note + ("; missing-job detection is limited to the latest grid"
                   + (f" and grid {', '.join(others)}" if others else "") + ".")


def _job_overrides(job_dir: Path) -> list[str]:
    """The overrides Hydra recorded for a job (``.hydra/overrides.yaml``), if readable."""
    path = job_dir / ".hydra" / "overrides.yaml"
    try:
        from omegaconf import OmegaConf

        overrides = OmegaConf.to_container(OmegaConf.load(path))
    except Exception:  # noqa: BLE001 - only used to describe a broken job
        return []
    return [str(item) for item in overrides] if isinstance(overrides, list) else []


def _job_combo(job_dir: Path, keys: Sequence[str], columns: Sequence[str]) -> tuple | None:
    """The grid combination a broken job was running, from its recorded overrides."""
    try:
        values = _override_values(_job_overrides(job_dir), columns)
    except Exception:  # noqa: BLE001 - an unparsable record just leaves the job unknown
        return None
    if not all(key in values and len(values[key]) == 1 for key in keys):
        return None
    return tuple(values[key][0] for key in keys)


def _describe_combo(keys: Sequence[str], combo: Sequence[Any]) -> str:
    def text(value: Any) -> str:
        return f"{value:g}" if isinstance(value, float) else str(value)

    return " ".join(f"{key}={text(value)}" for key, value in zip(keys, combo))


# ----------------------------------------------------------------------------- everything


def _jobs_frame(rows: list[dict[str, Any]], config_columns: Sequence[str]) -> pd.DataFrame:
    jobs = pd.DataFrame(rows)
    if not jobs.empty:
        front = ["sweep", "job_key", "status", *config_columns]
        jobs = jobs[front + [c for c in jobs.columns if c not in front]]
    return jobs


def _drop_overlaps(rows: list[dict[str, Any]], config_columns: Sequence[str], problem: Any) -> list[dict[str, Any]]:
    """Keep, of ok jobs equal in everything but ``trials`` (same seed), only the largest."""
    signature_columns = [
        c for c in config_columns if c != "trials" and c not in RECORD_NEUTRAL_KEYS
    ]
    largest: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["status"] != STATUS_OK:
            continue
        signature = json.dumps([row.get(c) for c in signature_columns], default=str)
        best = largest.get(signature)
        if best is None or row["trials"] > best["trials"]:
            largest[signature] = row
    kept = {id(row) for row in largest.values()}
    result = []
    for row in rows:
        if row["status"] == STATUS_OK and id(row) not in kept:
            signature = json.dumps([row.get(c) for c in signature_columns], default=str)
            winner = largest[signature]
            problem(OVERLAP, Path(row["job_dir"]), row["job_key"],
                    f"its {row['trials']} trials are the first ones of {winner['job_key']} "
                    f"({winner['trials']} trials, same seed); not counted twice")
            continue
        result.append(row)
    return result


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _interrupted_detail(document: dict[str, Any], requested: Any) -> str:
    """``interrupted after 7 of 40 trials; ...``: how far the job got, from its partial
    summary (or else the row count recorded for its trials table)."""
    summary = document.get("summary")
    done = summary.get("trials") if isinstance(summary, dict) else None
    if done is None:
        tables = document.get("tables")
        entry = tables.get(TRIALS_FILE) if isinstance(tables, dict) else None
        done = entry.get("rows") if isinstance(entry, dict) else None
    of = f" of {requested}" if _is_count(requested) else ""
    progress = f"after {done}{of} trials" if _is_count(done) else "before any trial was recorded"
    return f"interrupted {progress}; rerun the same command to redo it"


def _no_result_detail(job_dir: Path) -> str:
    """Why a job directory has no result.json, as far as its lock tells."""
    overrides = " ".join(_job_overrides(job_dir))
    if (job_dir / LOCK_FILE).exists():
        # The lock is free (a held one is reported as running elsewhere), so nobody is
        # running it: the kernel drops a lock whatever way its holder dies.
        detail = (f"no {RESULT_FILE} and no paxos-exp is running it (its lock is free): it was "
                  "killed before it finished; rerun the same command to redo it")
    else:  # written by a version without job locks: nothing tells a dead job from a live one
        detail = f"no {RESULT_FILE} (the job was killed, or is still running)"
    return detail + (f"; overrides: {overrides}" if overrides else "")


def load(paths: Iterable[Path | str], trials: bool = True, rounds: bool = False) -> Results:
    """Read every job under ``paths`` (sweep directories, job directories or globs).

    Raises ReportError when a path does not exist or holds no results at all; every other
    problem (a job missing, running elsewhere, interrupted, failed, unreadable, duplicated, or
    with tables that do not match its result.json) is listed in ``problems``.
    """
    sweeps = [find_sweep(path) for path in expand_paths(paths)]
    rows: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    trial_frames: list[pd.DataFrame] = []
    round_frames: list[pd.DataFrame] = []
    seen: dict[str, str] = {}
    # Every readable job where it was found, duplicates and replaced failures included: a
    # sweep whose copy of a job is set aside still ran it (missing jobs are judged on these).
    present: list[dict[str, Any]] = []
    # Job directories without a usable result (running elsewhere, no result, corrupt): they
    # may account for jobs the grid asks for.
    unreadable_dirs: dict[Path, list[Path]] = {}
    config_columns: list[str] = []

    def problem(kind: str, path: Path, key: str | None, detail: str) -> None:
        problems.append({"kind": kind, "path": str(path), "job_key": key, "detail": detail})

    for sweep in sweeps:
        in_a_sweep = sweep.manifest is not None or (sweep.path / MULTIRUN_FILE).is_file()
        redo = "rerun the sweep to redo it" if in_a_sweep else "rerun the same command to redo it"
        for job_dir in sweep.job_dirs:
            # First: a job being run now may rewrite any of its files while they are read, and
            # its result.json may still be an earlier run's.
            if locked_elsewhere(job_dir):
                problem(RUNNING, job_dir, job_dir.name,
                        f"another paxos-exp holds its lock ({LOCK_FILE}) and is running it now; "
                        "left out: rebuild the report when it has finished")
                unreadable_dirs.setdefault(sweep.path, []).append(job_dir)
                continue
            if not (job_dir / RESULT_FILE).exists():
                problem(NO_RESULT, job_dir, job_dir.name, _no_result_detail(job_dir))
                unreadable_dirs.setdefault(sweep.path, []).append(job_dir)
                continue
            try:
                document = read_document(job_dir)
                row, flat = read_job_document(job_dir, document)
            except _Unreadable as error:
                problem(CORRUPT, job_dir, job_dir.name, str(error))
                unreadable_dirs.setdefault(sweep.path, []).append(job_dir)
                continue
            key = row["job_key"]
            present.append({**flat, "job_key": key, "status": row["status"],
                            "sweep_dir": str(sweep.path)})
            if key in seen:
                earlier = next(r for r in rows if r["job_key"] == key)
                if not (earlier["status"] in _UNFINISHED and row["status"] == STATUS_OK):
                    problem(DUPLICATE, job_dir, key, f"the same job as {seen[key]}; that one is used")
                    continue
                # A failed or interrupted run and an ok rerun of the same job: the ok one counts.
                rows.remove(earlier)
                unfinished = {FAILED, INTERRUPTED}
                problems[:] = [p for p in problems
                               if not (p["kind"] in unfinished and p["job_key"] == key)]
                article = "an" if earlier["status"] == STATUS_INTERRUPTED else "a"
                problem(DUPLICATE, Path(earlier["job_dir"]), key,
                        f"{article} {earlier['status']} run of the same job as {job_dir}, which "
                        "completed; that one is used")
            seen[key] = str(job_dir)
            config_columns.extend(column for column in flat if column not in config_columns)
            row["sweep"] = sweep.name
            row["sweep_dir"] = str(sweep.path)
            row["job_dir"] = str(job_dir)
            rows.append(row)
            if row["status"] == STATUS_FAILED:
                problem(FAILED, job_dir, key, str(row.get("error") or "failed (no error message)"))
                continue
            if row["status"] == STATUS_INTERRUPTED:
                # Its tables hold whole trials but not all: never pooled, whatever they hold.
                problem(INTERRUPTED, job_dir, key,
                        _interrupted_detail(document, document["config"].get("trials")))
                continue
            # result.json of older versions has no "tables" entry: only the row-count checks
            # below apply to them, so they are not flagged merely for lacking checksums.
            if "tables" in document:
                reason = verify_tables(job_dir, document)
                if reason is not None:
                    problem(BAD_TABLE, job_dir, key,
                            f"{reason}: {redo}; its counts come from {RESULT_FILE} alone")
                    continue
            if trials:
                try:
                    table = read_table(job_dir, TRIALS_FILE, TRIAL_COLUMNS)
                    if len(table) != row["trials"]:
                        raise _Unreadable(f"{TRIALS_FILE} has {len(table)} rows, result.json "
                                          f"counts {row['trials']} trials")
                    if int(table["decided"].sum()) != row["decided"]:
                        raise _Unreadable(f"{TRIALS_FILE} has {int(table['decided'].sum())} "
                                          f"decided trials, result.json {row['decided']}")
                    table.insert(0, "job_key", key)
                    trial_frames.append(table)
                except _Unreadable as error:
                    problem(BAD_TABLE, job_dir, key,
                            f"{error}; its counts come from {RESULT_FILE} alone")
            if rounds:
                try:
                    table = read_table(job_dir, ROUNDS_FILE, ROUND_COLUMNS)
                    table.insert(0, "job_key", key)
                    round_frames.append(table)
                except _Unreadable as error:
                    problem(BAD_TABLE, job_dir, key, str(error))

    rows = _drop_overlaps(rows, config_columns, problem)
    kept = {row["job_key"] for row in rows}
    trial_frames = [frame for frame in trial_frames if frame["job_key"].iloc[0] in kept]
    round_frames = [frame for frame in round_frames if frame["job_key"].iloc[0] in kept]
    jobs = _jobs_frame(rows, config_columns)
    # Missing jobs are judged against every job found, overlapping and duplicate ones included.
    grids = {sweep.path: sweep_grids(sweep, config_columns) if present else []
             for sweep in sweeps}
    notes = [note for sweep in sweeps if (note := _grids_note(sweep, grids[sweep.path]))]
    missing, elsewhere_notes = _missing(sweeps, grids, pd.DataFrame(present), config_columns,
                                        unreadable_dirs)
    return Results(
        jobs=jobs,
        trials=_with_config(trial_frames, jobs, config_columns, TRIAL_COLUMNS, "trial_"),
        problems=pd.DataFrame(missing + problems, columns=PROBLEM_COLUMNS),
        sweeps=sweeps,
        config_columns=config_columns,
        rounds=(_with_config(round_frames, jobs, config_columns, ROUND_COLUMNS, "round_")
                if rounds else None),
        notes=notes + elsewhere_notes,
    )


def _with_config(
    frames: list[pd.DataFrame],
    jobs: pd.DataFrame,
    config_columns: list[str],
    columns: list[str],
    prefix: str,
) -> pd.DataFrame:
    """Concatenate a table over jobs and add each job's configuration columns. A table column
    named like a configuration column (a trial's actual ``initial_values``) gets ``prefix``."""
    renamed = {column: f"{prefix}{column}" for column in columns if column in config_columns}
    columns = [renamed.get(column, column) for column in columns]
    if not frames:
        return pd.DataFrame(columns=["job_key", *config_columns, *columns])
    table = pd.concat(frames, ignore_index=True).rename(columns=renamed)
    config = jobs[["job_key", *config_columns]]
    merged = table.merge(config, on="job_key", how="left", validate="many_to_one")
    return merged[["job_key", *config_columns, *columns]]


def _signature(row: dict[str, Any], columns: Sequence[str]) -> tuple:
    """What makes a job the same job, in one spelling: its configuration but for deadlines
    (which the job key leaves out too)."""
    return tuple(_normalise(row.get(column)) for column in columns)


def _missing(
    sweeps: list[Sweep],
    grids: dict[Path, list[Grid]],
    present: pd.DataFrame,
    config_columns: list[str],
    unreadable_dirs: dict[Path, list[Path]],
) -> tuple[list[dict[str, Any]], list[str]]:
    """Jobs a sweep was asked to run (by any of the grids run into it) that left no directory,
    and a note per sweep for the ones found completed in another directory read instead.

    ``present`` holds every readable job where it was found, including the copies set aside
    as duplicates or overlaps: a job read from another directory first was still run here.
    A job absent here but ok in another directory read exists (it is counted from there), so
    it is not called missing.
    """
    found: list[dict[str, Any]] = []
    notes: list[str] = []
    signature_columns = [c for c in config_columns if c not in RECORD_NEUTRAL_KEYS]
    for sweep in sweeps:
        if sweep.manifest is None and not (sweep.path / MULTIRUN_FILE).is_file():
            continue
        elsewhere: dict[tuple, str] = {}
        if present.empty:
            in_sweep = present
        else:
            here = present["sweep_dir"] == str(sweep.path)
            in_sweep = present[here]
            for row in present[~here & (present["status"] == STATUS_OK)].to_dict("records"):
                elsewhere.setdefault(_signature(row, signature_columns), row["sweep_dir"])
        several = len(grids[sweep.path]) > 1
        details: dict[str, None] = {}  # ordered and without repeats: grids may share jobs
        moved: dict[str, None] = {}
        judged = False
        for grid in grids[sweep.path]:
            gaps = _grid_gaps(grid, in_sweep, unreadable_dirs.get(sweep.path, []),
                              config_columns, elsewhere, signature_columns)
            if gaps is None:
                continue
            judged = judged or bool(gaps.absent)
            for detail in gaps.missing:
                details[detail + (f" (asked for by {grid.describe()})" if several else "")] = None
            moved.update(dict.fromkeys(gaps.elsewhere))
        found += [{"kind": MISSING, "path": str(sweep.path), "job_key": None, "detail": detail}
                  for detail in details]
        if moved:
            notes.append(_elsewhere_note(sweep, list(moved)))
        if not judged:
            found += _missing_by_count(sweep)
    return found, notes


def _elsewhere_note(sweep: Sweep, found: Sequence[str]) -> str:
    """``SWEEP: N jobs its grid asks for are in another directory read: ...``."""
    listed = "; ".join(found[:5]) + (f"; and {len(found) - 5} more" if len(found) > 5 else "")
    one = len(found) == 1
    return (f"{sweep.path}: {len(found)} job{'' if one else 's'} its grid asks for "
            f"{'is' if one else 'are'} not in this directory but completed in another "
            f"directory read, and counted from there (not missing): {listed}.")


@dataclass(frozen=True)
class _Gaps:
    """What one grid asks for that a directory lacks."""

    missing: list[str]  # described; empty when broken directories may account for them all
    elsewhere: list[str]  # absent here but completed in another directory read, described
    absent: int  # combinations no job in the directory has


def _grid_gaps(
    grid: Grid,
    in_sweep: pd.DataFrame,
    broken: Sequence[Path],
    columns: Sequence[str],
    elsewhere: dict[tuple, str],
    signature_columns: Sequence[str],
) -> _Gaps | None:
    """The grid's combinations no job in the directory has. None when the grid cannot be
    checked (not rebuilt, one job, or a column nobody has)."""
    if not grid.keys or not all(key in in_sweep.columns for key in grid.keys):
        return None
    keys = list(grid.keys)
    have = {tuple(_normalise(v) for v in values)
            for values in in_sweep[keys].itertuples(index=False, name=None)}
    unknown = 0
    for job_dir in broken:
        combo = _job_combo(job_dir, keys, columns)
        if combo is None:
            unknown += 1
        else:
            have.add(combo)
    absent = [combo for combo in grid.combos if combo not in have]
    where = _found_elsewhere(grid, absent, in_sweep, elsewhere, signature_columns)
    moved = [f"{_describe_combo(keys, combo)} (in {where[combo]})" for combo in absent
             if combo in where]
    absent_here = [combo for combo in absent if combo not in where]
    if len(absent_here) <= unknown:  # all accounted for by directories listed as broken
        return _Gaps([], moved, len(absent))
    why = ("no readable result (never ran, or one of the broken directories listed)" if unknown
           else "never ran (interrupted sweep?)")
    return _Gaps([f"{_describe_combo(keys, combo)}: {why}" for combo in absent_here], moved,
                 len(absent))


def _found_elsewhere(
    grid: Grid,
    absent: Sequence[tuple],
    in_sweep: pd.DataFrame,
    elsewhere: dict[tuple, str],
    signature_columns: Sequence[str],
) -> dict[tuple, str]:
    """Of the ``absent`` combinations, those a job completed in another directory read has,
    with that directory.

    A grid's jobs differ only in its keys, so a combination's whole configuration is that of
    any of this grid's jobs here with the keys set to it (the grid's single-valued overrides
    tell its jobs from another grid's in the same directory). Without such a job nothing is
    matched: the combination stays missing rather than be matched on a guess.
    """
    if not absent or not elsewhere:
        return {}
    keys = list(grid.keys or ())
    combos = set(grid.combos)
    positions = [(index, signature_columns.index(key)) for index, key in enumerate(keys)
                 if key in signature_columns]
    bases: set[tuple] = set()
    for row in in_sweep.to_dict("records"):
        if tuple(_normalise(row.get(key)) for key in keys) not in combos:
            continue
        if any(_normalise(row.get(column)) != value for column, value in grid.fixed):
            continue
        bases.add(_signature(row, signature_columns))
    found: dict[tuple, str] = {}
    for combo in absent:
        for base in bases:
            signature = list(base)
            for index, position in positions:
                signature[position] = combo[index]
            directory = elsewhere.get(tuple(signature))
            if directory is not None:
                found[combo] = directory
                break
    return found


def _missing_by_count(sweep: Sweep) -> list[dict[str, Any]]:
    """Without a usable grid: fewer job directories than sweep.json's latest job count. Every
    directory counts, a duplicate's too: the directory shows that the job ran here."""
    total = (sweep.manifest or {}).get("total_jobs")
    if not isinstance(total, int) or total <= len(sweep.job_dirs):
        return []
    return [{
        "kind": MISSING, "path": str(sweep.path), "job_key": None,
        "detail": f"{SWEEP_MANIFEST} counts {total} jobs, {len(sweep.job_dirs)} job "
                  f"directories exist: {total - len(sweep.job_dirs)} never ran (interrupted "
                  f"sweep?)",
    }]
