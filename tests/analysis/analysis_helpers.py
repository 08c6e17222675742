"""Helpers of the analysis tests (a module of its own: ``conftest`` is ambiguous across test
directories)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


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
