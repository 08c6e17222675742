from __future__ import annotations

import pytest

from app_helpers import run_paxos_exp


@pytest.fixture
def paxos_exp():
    return run_paxos_exp
