"""Shared fixtures of the analysis tests: real sweeps run once per session (in-process engine,
so they take seconds)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from analysis_helpers import TINY_GRID, run_paxos_exp, run_sweep


@pytest.fixture(scope="session")
def tiny_sweep_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 in-process jobs, no report (tests build it); never modify: copy it (``tiny_sweep``)."""
    root = tmp_path_factory.mktemp("tiny")
    return run_sweep(root, "tiny", *TINY_GRID, "report=false")


@pytest.fixture()
def tiny_sweep(tiny_sweep_source: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny sweep, free to break."""
    copy = tmp_path / "outputs" / "sweeps" / "tiny"
    shutil.copytree(tiny_sweep_source, copy)
    return copy


@pytest.fixture(scope="session")
def tiny_csv_sweep_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny sweep with CSV tables only (``tables=csv``, as versions before Parquet wrote
    them); never modify: copy it (``tiny_csv_sweep``)."""
    root = tmp_path_factory.mktemp("tiny_csv")
    return run_sweep(root, "tiny", *TINY_GRID, "report=false", "tables=csv")


@pytest.fixture()
def tiny_csv_sweep(tiny_csv_sweep_source: Path, tmp_path: Path) -> Path:
    """A private copy of the CSV tiny sweep, free to break."""
    copy = tmp_path / "outputs" / "sweeps" / "tiny_csv"
    shutil.copytree(tiny_csv_sweep_source, copy)
    return copy


@pytest.fixture(scope="session")
def traced_job(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One traced in-process job (N=4, p=0.3, 6 rounds, 3 trials) as paxos-exp writes it."""
    root = tmp_path_factory.mktemp("traced")
    run_paxos_exp(root, "name=traced", "nodes=4", "fail_prob=0.3", "rounds=6", "trials=3",
                  "engine=inprocess", "trace=true", "seed=5")
    (job,) = (root / "outputs" / "runs" / "traced").iterdir()
    assert (job / "trace.parquet").is_file()
    return job
