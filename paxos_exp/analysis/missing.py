"""Missing jobs: what the grids run into a sweep directory asked for that left no job there,
and the ones found completed in another directory read instead."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from paxos_exp.analysis.discover import Sweep
from paxos_exp.analysis.grid import Grid, describe_combo, job_combo, normalise
from paxos_exp.analysis.problems import MISSING, problem_row
from paxos_exp.core.config import DEADLINE_KEYS
from paxos_exp.results import STATUS_OK, SWEEP_MANIFEST

# Deadlines decide whether a job finishes, never what it records (the job key leaves them out).
RECORD_NEUTRAL_KEYS = DEADLINE_KEYS


def _signature(row: dict[str, Any], columns: Sequence[str]) -> tuple:
    """What makes a job the same job, in one spelling: its configuration but for deadlines
    (which the job key leaves out too)."""
    return tuple(normalise(row.get(column)) for column in columns)


def missing_jobs(
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
        if not sweep.is_sweep:
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
        found += [problem_row(MISSING, sweep.path, None, detail) for detail in details]
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
    have = {tuple(normalise(v) for v in values)
            for values in in_sweep[keys].itertuples(index=False, name=None)}
    unknown = 0
    for job_dir in broken:
        combo = job_combo(job_dir, keys, columns)
        if combo is None:
            unknown += 1
        else:
            have.add(combo)
    absent = [combo for combo in grid.combos if combo not in have]
    where = _found_elsewhere(grid, absent, in_sweep, elsewhere, signature_columns)
    moved = [f"{describe_combo(keys, combo)} (in {where[combo]})" for combo in absent
             if combo in where]
    absent_here = [combo for combo in absent if combo not in where]
    if len(absent_here) <= unknown:  # all accounted for by directories listed as broken
        return _Gaps([], moved, len(absent))
    why = ("no readable result (never ran, or one of the broken directories listed)" if unknown
           else "never ran (interrupted sweep?)")
    return _Gaps([f"{describe_combo(keys, combo)}: {why}" for combo in absent_here], moved,
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
        if tuple(normalise(row.get(key)) for key in keys) not in combos:
            continue
        if any(normalise(row.get(column)) != value for column, value in grid.fixed):
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
    return [problem_row(
        MISSING, sweep.path, None,
        f"{SWEEP_MANIFEST} counts {total} jobs, {len(sweep.job_dirs)} job directories exist: "
        f"{total - len(sweep.job_dirs)} never ran (interrupted sweep?)",
    )]
