"""Fixtures shared across the test directories (helpers stay in each directory's own module:
``conftest`` is ambiguous to import across directories)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture(scope="session")
def explored() -> Callable[..., Any]:
    """``explored(**settings)``: the exhaustive exploration of ``RunConfig(**settings)``, done
    once per configuration for the whole session. Explorations are the costliest steps of
    make test, and the safety proofs (tests/explore) and the exact laws (tests/core) ask for
    some of the same configurations; keyed by the run spec, so equal configurations written
    differently (a default, a list in another order) share one."""
    from paxos_exp.core.config import RunConfig
    from paxos_exp.explore.explorer import explore

    done: dict[str, Any] = {}

    def run(**settings: Any) -> Any:
        config = RunConfig(**settings)
        key = json.dumps(config.spec(), sort_keys=True, default=str)
        if key not in done:
            done[key] = explore(config)
        return done[key]

    return run
