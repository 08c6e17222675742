"""The explorer's budget: states (configurations run through a step) and CPU seconds."""

from __future__ import annotations

import pytest

from paxos_exp.core.config import RunConfig
from paxos_exp.core.errors import PaxosExpError
from paxos_exp.explore.explorer import Budget, TooLarge, explore

CONFIG = RunConfig(nodes=3, fail_prob=0.2, rounds=2)


def test_a_budget_that_suffices_changes_nothing() -> None:
    full = explore(CONFIG)
    bounded = explore(CONFIG, budget=Budget(states=full.configurations, seconds=60.0))
    assert bounded.first == full.first and bounded.decides == full.decides
    assert bounded.configurations == full.configurations


def test_too_few_states_raise_too_large_with_how_far_it_got() -> None:
    full = explore(CONFIG)
    with pytest.raises(TooLarge, match=rf"budget of {full.configurations - 1} configurations ran out "
                                       rf"after {full.configurations - 1} configurations"
                       ) as caught:
        explore(CONFIG, budget=Budget(states=full.configurations - 1))
    assert isinstance(caught.value, PaxosExpError)
    assert "\n" not in str(caught.value)


def test_no_cpu_time_raises_too_large() -> None:
    with pytest.raises(TooLarge, match="budget of 0 CPU seconds ran out"):
        explore(CONFIG, budget=Budget(seconds=0.0))
