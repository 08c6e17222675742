"""Read sweep and job directories into tidy pandas frames, and list every problem found.

Three frames come back, all long-form: ``jobs`` (one row per job with a readable result.json:
its configuration flattened into columns, its status and its outcome counts), ``trials`` (one
row per trial of every completed job, with the job's configuration columns) and, on request,
``rounds`` (one row per round). A fourth frame, ``problems``, lists every job that is missing,
running elsewhere, has no result, was interrupted, failed, could not be read, or whose tables do
not match its result.json; nothing is dropped silently.

Table columns are typed as the job wrote them (Parquet, or CSV read into the same types):
booleans, small integers, nullable integers (``first_decision_round``, ``decision``,
``proposal``), categoricals for text. :mod:`.api` builds the public frames on top of this.

The parts live apart: :mod:`.discover` finds the directories, :mod:`.job` reads one job,
:mod:`.grid` rebuilds what a sweep asked for, :mod:`.missing` finds what it lacks.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pa_compute

from paxos_exp.analysis.discover import ReportError, Sweep, expand_paths, find_sweep
from paxos_exp.analysis.grid import grids_note, job_overrides, sweep_grids
from paxos_exp.analysis.job import (
    Unreadable,
    nullable_column,
    read_arrow,
    read_document,
    read_job_document,
    table_path,
)
from paxos_exp.analysis.missing import RECORD_NEUTRAL_KEYS, missing_jobs
from paxos_exp.analysis.problems import (
    BAD_TABLE,
    CORRUPT,
    DUPLICATE,
    FAILED,
    INTERRUPTED,
    NO_RESULT,
    OVERLAP,
    PROBLEM_COLUMNS,
    RUNNING,
    problem_row,
)
from paxos_exp.results import (
    LOCK_FILE,
    NULLABLE_COLUMNS,
    RESULT_FILE,
    ROUND_COLUMNS,
    ROUNDS,
    STATUS_FAILED,
    STATUS_INTERRUPTED,
    STATUS_OK,
    TRIAL_COLUMNS,
    TRIALS,
    locked_elsewhere,
    split_table_file,
    verify_tables,
)
from paxos_exp.schema import JobResult

__all__ = ["ReportError", "Results", "load"]

# A job whose run did not complete: an ok run of the same job found elsewhere replaces it.
_UNFINISHED = (STATUS_FAILED, STATUS_INTERRUPTED)


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


def _interrupted_detail(document: JobResult, requested: Any) -> str:
    """``interrupted after 7 of 40 trials; ...``: how far the job got, from its partial
    summary (or else the row count recorded for its trials table)."""
    done = document.summary.trials if document.summary is not None else None
    if done is None:
        entry = next((entry for name, entry in (document.tables or {}).items()
                      if (split_table_file(name) or ("",))[0] == TRIALS), None)
        done = entry.get("rows") if isinstance(entry, dict) else None
    of = f" of {requested}" if _is_count(requested) else ""
    progress = f"after {done}{of} trials" if _is_count(done) else "before any trial was recorded"
    return f"interrupted {progress}; rerun the same command to redo it"


def _no_result_detail(job_dir: Path) -> str:
    """Why a job directory has no result.json, as far as its lock tells."""
    overrides = " ".join(job_overrides(job_dir))
    if (job_dir / LOCK_FILE).exists():
        # The lock is free (a held one is reported as running elsewhere), so nobody is
        # running it: the kernel drops a lock whatever way its holder dies.
        detail = (f"no {RESULT_FILE} and no paxos-exp is running it (its lock is free): it was "
                  "killed before it finished; rerun the same command to redo it")
    else:  # written by a version without job locks: nothing tells a dead job from a live one
        detail = f"no {RESULT_FILE} (the job was killed, or is still running)"
    return detail + (f"; overrides: {overrides}" if overrides else "")


def load(paths: Iterable[Path | str], trials: bool = True, rounds: bool = False,
         categorical: bool = False) -> Results:
    """Read every job under ``paths`` (sweep directories, job directories or globs).

    Raises ReportError when a path does not exist or holds no results at all; every other
    problem (a job missing, running elsewhere, interrupted, failed, unreadable, duplicated, or
    with tables that do not match its result.json) is listed in ``problems``.

    Table columns come typed (small integers, booleans, nullable integers where a value may
    be missing, categoricals for text). The rounds frame, the big one, carries its job key
    and configuration columns as categoricals; the trials frame does too with
    ``categorical=True`` (otherwise they keep the jobs frame's types).
    """
    sweeps = [find_sweep(path) for path in expand_paths(paths)]
    rows: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    trial_tables: list[tuple[str, pa.Table]] = []  # (job key, its table), typed, in Arrow
    round_tables: list[tuple[str, pa.Table]] = []
    seen: dict[str, str] = {}
    # Every readable job where it was found, duplicates and replaced failures included: a
    # sweep whose copy of a job is set aside still ran it (missing jobs are judged on these).
    present: list[dict[str, Any]] = []
    # Job directories without a usable result (running elsewhere, no result, corrupt): they
    # may account for jobs the grid asks for.
    unreadable_dirs: dict[Path, list[Path]] = {}
    config_columns: list[str] = []

    def problem(kind: str, path: Path, key: str | None, detail: str) -> None:
        problems.append(problem_row(kind, path, key, detail))

    for sweep in sweeps:
        redo = "rerun the sweep to redo it" if sweep.is_sweep else "rerun the same command to redo it"
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
            except Unreadable as error:
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
                        _interrupted_detail(document, document.config.get("trials")))
                continue
            # result.json of older versions has no "tables" entry: only the row-count checks
            # below apply to them, so they are not flagged merely for lacking checksums.
            if document.tables != {}:
                reason = verify_tables(job_dir, document)
                if reason is not None:
                    problem(BAD_TABLE, job_dir, key,
                            f"{reason}: {redo}; its counts come from {RESULT_FILE} alone")
                    continue
            if trials:
                try:
                    table = read_arrow(job_dir, TRIALS, document)
                    name = getattr(table_path(job_dir, TRIALS, document), "name", TRIALS)
                    if table.num_rows != row["trials"]:
                        raise Unreadable(f"{name} has {table.num_rows} rows, result.json "
                                          f"counts {row['trials']} trials")
                    decided = pa_compute.sum(table["decided"]).as_py() or 0
                    if decided != row["decided"]:
                        raise Unreadable(f"{name} has {decided} decided trials, result.json "
                                          f"{row['decided']}")
                    trial_tables.append((key, table))
                except Unreadable as error:
                    problem(BAD_TABLE, job_dir, key,
                            f"{error}; its counts come from {RESULT_FILE} alone")
            if rounds:
                try:
                    round_tables.append((key, read_arrow(job_dir, ROUNDS, document)))
                except Unreadable as error:
                    problem(BAD_TABLE, job_dir, key, str(error))

    rows = _drop_overlaps(rows, config_columns, problem)
    kept = {row["job_key"] for row in rows}
    trial_tables = [(key, table) for key, table in trial_tables if key in kept]
    round_tables = [(key, table) for key, table in round_tables if key in kept]
    jobs = _jobs_frame(rows, config_columns)
    # Missing jobs are judged against every job found, overlapping and duplicate ones included.
    grids = {sweep.path: sweep_grids(sweep, config_columns) if present else []
             for sweep in sweeps}
    notes = [note for sweep in sweeps if (note := grids_note(sweep, grids[sweep.path]))]
    missing, elsewhere_notes = missing_jobs(sweeps, grids, pd.DataFrame(present), config_columns,
                                        unreadable_dirs)
    return Results(
        jobs=jobs,
        trials=_with_config(trial_tables, jobs, config_columns, TRIAL_COLUMNS, "trial_",
                            categorical),
        problems=pd.DataFrame(missing + problems, columns=PROBLEM_COLUMNS),
        sweeps=sweeps,
        config_columns=config_columns,
        rounds=(_with_config(round_tables, jobs, config_columns, ROUND_COLUMNS, "round_", True)
                if rounds else None),
        notes=notes + elsewhere_notes,
    )


def _with_config(
    parts: list[tuple[str, pa.Table]],
    jobs: pd.DataFrame,
    config_columns: list[str],
    columns: list[str],
    prefix: str,
    categorical: bool,
) -> pd.DataFrame:
    """Concatenate a table over jobs and add each job's key and configuration columns in
    front. A table column named like a configuration column (a trial's actual
    ``initial_values``) gets ``prefix``.

    Built column by column without a merge: the jobs' Arrow tables are concatenated and
    converted once, and each configuration column is its jobs' values repeated, as a
    categorical (``categorical``; an ordered one, so numbers still compare and sort) or with
    the jobs frame's own type. Booleans stay booleans either way.
    """
    renamed = {column: f"{prefix}{column}" for column in columns if column in config_columns}
    columns = [renamed.get(column, column) for column in columns]
    front = ["job_key", *config_columns]
    if not parts:
        return pd.DataFrame(columns=[*front, *columns])
    keys = [key for key, _ in parts]
    lengths = [table.num_rows for _, table in parts]
    arrow = pa.concat_tables([table for _, table in parts], promote_options="permissive")
    parts.clear()  # the concatenated table holds the data now
    # Converted column by column, each Arrow column released once converted, so the table
    # and its frame are never both whole in memory.
    frame = pd.DataFrame(index=pd.RangeIndex(arrow.num_rows))
    for name in arrow.column_names:
        column = arrow.column(0)
        arrow = arrow.remove_column(0)
        frame[renamed.get(name, name)] = (nullable_column(column) if name in NULLABLE_COLUMNS
                                          else column.to_pandas().array)
        del column
    per_job = jobs.set_index("job_key").loc[keys].reset_index()
    job_of_row = np.repeat(np.arange(len(keys), dtype=_index_type(len(keys))), lengths)
    for position, column in enumerate(front):
        frame.insert(position, column, _repeated(per_job[column], job_of_row, categorical))
    return frame


def _index_type(size: int) -> type[np.signedinteger]:
    """The smallest signed integer type that indexes ``size`` things."""
    for kind in (np.int8, np.int16, np.int32):
        if size <= np.iinfo(kind).max:
            return kind
    return np.int64


def _repeated(values: pd.Series, job_of_row: np.ndarray, categorical: bool) -> Any:
    """One value per job, repeated over that job's rows."""
    present = values.dropna()
    if len(present) and all(isinstance(value, (bool, np.bool_)) for value in present):
        if len(present) == len(values):
            return values.to_numpy(dtype=bool)[job_of_row]
        return pd.array(values.to_numpy(dtype=object), dtype="boolean").take(job_of_row)
    if not categorical:
        return values.take(job_of_row).to_numpy()
    try:
        categories = pd.Index(sorted(set(present)))
        ordered = True
    except TypeError:  # values that do not sort together (numbers and text): as found
        categories, ordered = pd.Index(pd.unique(present)), False
    # Codes in the type the categorical keeps (int8 for up to 127 values): no wide copy.
    codes = categories.get_indexer(values).astype(_index_type(len(categories)))
    return pd.Categorical.from_codes(codes[job_of_row], categories=categories, ordered=ordered)
