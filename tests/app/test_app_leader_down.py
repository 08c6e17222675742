"""Rounds whose leader was down: counted apart from the round changes they are part of."""

from __future__ import annotations

import math
from collections import defaultdict

import pytest

import paxos_exp
from paxos_exp import metrics
from paxos_exp.core.config import RunConfig
from paxos_exp.core.records import Timings
from paxos_exp.results import SummaryBuilder, leader_down
from paxos_exp.schema import JobResult, Summary

NODES, ROUNDS, TRIALS = 3, 5, 120


def _down_leaders(config: RunConfig) -> set[tuple[int, int]]:
    """(trial, round) of every round whose leader the fault model has down, asked directly."""
    faults = config.build_faults()
    down = set()
    for trial in range(config.trials):
        for rnd in range(config.rounds):
            if faults.stateful:
                faults.begin_round(trial, rnd)
            if faults.stops and faults.down(trial, rnd, rnd % config.nodes):
                down.add((trial, rnd))
    return down


@pytest.mark.parametrize("faults", [
    {"name": "crash_stop", "crash_prob": 0.25},
    {"name": "crash_recovery", "crash_prob": 0.3, "down_rounds": 2},
    # Silence and CRASH markers beside it: a round of an up leader is never taken for one down.
    ["omission", {"name": "crash_recovery", "crash_prob": 0.3},
     {"name": "partition", "partition_prob": 0.5, "shape": "isolated_leader"}],
])
def test_a_round_is_counted_leader_down_exactly_when_the_fault_model_has_its_leader_down(faults):
    config = RunConfig(NODES, 0.3, ROUNDS, trials=TRIALS, seed=3, faults=faults)
    result = paxos_exp.run(NODES, 0.3, ROUNDS, trials=TRIALS, seed=3, engine="inprocess",
                           faults=faults)
    expected = _down_leaders(config)
    assert expected  # the sample has such rounds, so the check below can fail
    found = {(record.trial, record.round) for record in result.rounds if leader_down(record)}
    assert found == expected
    # A round whose leader was down has no proposal: it is one of the round changes.
    assert all(record.proposal is None for record in result.rounds if leader_down(record))

    builder = SummaryBuilder()
    by_trial = defaultdict(list)
    for record in result.rounds:
        by_trial[record.trial].append(record)
    for trial in result.trials:
        builder.add_rounds(by_trial[trial.trial], [])
        builder.add_trial(trial)
    summary = builder.summary(config, Timings(0.0, 0.0, 0.0))
    assert summary.leader_down_rounds == len(expected)
    assert summary.roundchanges == sum(record.proposal is None for record in result.rounds)
    assert summary.roundchanges > summary.leader_down_rounds  # leaders up changed round too
    assert metrics.value("leader_down_rate", summary, {"nodes": NODES, "fail_prob": 0.3,
                                                       "rounds": ROUNDS, "trials": TRIALS}) \
        == len(expected) / (TRIALS * ROUNDS)


def test_omission_alone_has_no_round_whose_leader_was_down():
    config = RunConfig(NODES, 0.6, ROUNDS, trials=40, seed=1)
    result = paxos_exp.run(NODES, 0.6, ROUNDS, trials=40, seed=1, engine="inprocess")
    assert not any(leader_down(record) for record in result.rounds)
    assert any(record.proposal is None for record in result.rounds)
    assert not _down_leaders(config)


def test_a_summary_written_before_the_count_still_loads_without_it():
    summary = {"trials": 2, "decided_trials": 1, "rounds_total": 6, "deciding_rounds": 1,
               "sent": {"start": 6, "total": 20}, "roundchanges": 3, "roundchange_rate": 0.5}
    old = Summary.from_dict(summary)
    assert old.leader_down_rounds is None
    config = {"nodes": 3, "fail_prob": 0.1, "rounds": 3, "trials": 2}
    assert math.isnan(metrics.value("leader_down_rate", old, config))
    assert metrics.value("roundchange_rate", old, config) == 0.5
    document = JobResult.from_dict({"status": "ok", "config": config, "summary": summary})
    assert document.summary is not None and document.summary.leader_down_rounds is None
    new = Summary.from_dict({**summary, "leader_down_rounds": 2})
    assert metrics.value("leader_down_rate", new, config) == pytest.approx(2 / 6)
