"""The clusters `make test-cluster` starts (tests/cluster/run.sh exports where they are)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def cluster() -> dict[str, str]:
    """Where the clusters are; skips unless run by tests/cluster/run.sh (make test-cluster)."""
    directory = os.environ.get("PAXOS_CLUSTER_DIR")
    if not directory or not os.environ.get("SLURM_CONF") or not os.environ.get("RAY_ADDRESS"):
        pytest.skip("needs the SLURM and Ray clusters that `make test-cluster` starts")
    return {"dir": directory, "partition": os.environ["PAXOS_SLURM_PARTITION"],
            "account": os.environ["PAXOS_SLURM_ACCOUNT"]}
