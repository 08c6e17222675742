"""Both engines under the round driver: ``run_trial`` with an explicit driver, and a fault
model that silences messages (registered for the test; forked nodes inherit the registry)."""

from __future__ import annotations

import pytest

import paxos_exp
from paxos_exp.core.config import RunConfig
from paxos_exp.core.driver import RoundDriver
from paxos_exp.core.faults import FAULTS, FaultModel
from paxos_exp.core.faults.omission import Omission
from paxos_exp.core.records import ROUND_CHUNK, CollectingSink
from paxos_exp.runtime.inprocess import MemoryNetwork, memory_driver, run_trial


class _SilenceNode2(Omission):
    """The omission model, plus: every message node 2 sends is silenced."""

    silences = True

    def silenced(self, trial, rnd, phase, sender, receiver):
        return sender == 2


@pytest.fixture
def silence_node_2(monkeypatch: pytest.MonkeyPatch) -> str:
    FAULTS.names()  # the registry is filled on first use
    model = FaultModel(name="silence_node_2", description="omission, and node 2 is mute",
                       build=lambda config: _SilenceNode2(config.fail_prob, config.seed))
    monkeypatch.setitem(FAULTS._found, model.name, model)
    return model.name


def test_run_trial_with_an_explicit_driver_matches_the_run_across_round_chunks():
    config = RunConfig(nodes=3, fail_prob=0.3, rounds=ROUND_CHUNK + 250, trials=2, seed=5)
    sink = CollectingSink()
    driver = memory_driver(config)  # one driver for both trials, as run_inprocess does
    for trial in range(config.trials):
        run_trial(config, trial, sink, driver)
    reference = paxos_exp.run(3, 0.3, ROUND_CHUNK + 250, trials=2, seed=5, engine="inprocess")
    assert [(r.trial, r.round) for r in sink.rounds] == [
        (t, rnd) for t in range(2) for rnd in range(ROUND_CHUNK + 250)]
    assert tuple(sink.rounds) == reference.rounds and tuple(sink.trials) == reference.trials


def test_run_trial_under_a_silencing_model_counts_the_silenced_and_still_decides(silence_node_2):
    config = RunConfig(nodes=5, fail_prob=0.0, rounds=5, seed=1, faults=silence_node_2, trace=True)
    sink = CollectingSink()
    driver = RoundDriver(config.protocol_plugin, config.quorums, config.build_faults(), 5,
                         range(5), MemoryNetwork(5), None)
    run_trial(config, 0, sink, driver)
    assert [r.silenced for r in sink.rounds] == [2, 2, 9, 2, 2]
    assert [r.joins for r in sink.rounds] == [4, 4, 0, 4, 4]
    assert [r.decided for r in sink.rounds] == [True, True, False, True, True]
    (trial,) = sink.trials
    assert trial.safe and trial.first_decision_round == 0
    assert sum(row.silenced for row in sink.trace) == 2 * 4 + 9
    assert all(row.sender == 2 for row in sink.trace if row.silenced)


def test_the_engines_agree_under_a_silencing_fault_model(silence_node_2):
    common = dict(trials=3, seed=8, faults=silence_node_2, trace=True)
    real = paxos_exp.run(5, 0.2, 12, engine="processes", start_method="fork", **common)
    reference = paxos_exp.run(5, 0.2, 12, engine="inprocess", **common)
    assert (real.rounds, real.trials, real.trace) == (reference.rounds, reference.trials,
                                                      reference.trace)
    assert sum(r.silenced for r in real.rounds) > 0 and real.safe
    assert all(r.joins <= 4 for r in real.rounds)  # node 2's JOIN never arrives
