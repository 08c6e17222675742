"""Helpers of the analysis tests (a module of its own: ``conftest`` is ambiguous across test
directories)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


def run_paxos_exp(cwd: Path, *overrides: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """``paxos-exp OVERRIDES`` in ``cwd`` (outputs land in cwd/outputs); fails the test on error."""
    completed = subprocess.run(
        [sys.executable, "-m", "paxos_exp.app", *overrides],
        cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed


def run_sweep(cwd: Path, name: str, *overrides: str, timeout: float = 240) -> Path:
    """A multirun sweep named ``name``; returns its directory."""
    run_paxos_exp(cwd, "-m", f"name={name}", *overrides, timeout=timeout)
    sweep = cwd / "outputs" / "sweeps" / name
    assert (sweep / "sweep.json").is_file()
    return sweep


TINY_GRID = ("nodes=3,5", "fail_prob=0.1,0.4", "rounds=1,2", "trials=30", "engine=inprocess")


# Table surgery, in whichever format a table file is (Parquet or CSV).


def keep_rows(path: Path, rows: int) -> None:
    """Keep the first ``rows`` rows of a table file (and a CSV file's header)."""
    if path.suffix == ".parquet":
        pq.write_table(pq.read_table(path).slice(0, rows), path)
        return
    kept = path.read_text(encoding="utf-8").splitlines(keepends=True)[: rows + 1]
    path.write_text("".join(kept), encoding="utf-8")


def change_first_trial(path: Path) -> None:
    """Change the ``trial`` of a table's first row (same row count, other content)."""
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        trials = table.column("trial").to_pylist()
        trials[0] = 7 if trials[0] != 7 else 8
        index = table.schema.get_field_index("trial")
        table = table.set_column(index, table.schema.field(index),
                                 pa.array(trials, type=table.schema.field(index).type))
        pq.write_table(table, path)
        return
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    first = lines[1].split(",")
    first[0] = "7" if first[0] != "7" else "8"
    lines[1] = ",".join(first)
    path.write_text("".join(lines), encoding="utf-8")


def append_row(path: Path, row: dict[str, Any]) -> None:
    """Add one row (a value for every column) at the end of a table file."""
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        extra = pa.Table.from_pylist([row], schema=table.schema)
        pq.write_table(pa.concat_tables([table, extra]), path)
        return
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(",".join("" if value is None else str(value) for value in row.values())
                     + "\n")
