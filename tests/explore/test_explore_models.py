"""The explorer under fault models that use the whole Faults interface (nodes down for a
round, silenced sends, state carried by begin_round/state/restore, wiped nodes): small
models registered for the test, so the hook for issue 10's models is exercised before they
exist. Each has an exact law to compare with, or a counterexample to find and replay."""

from __future__ import annotations

import pytest

from paxos_exp.core.config import RunConfig
from paxos_exp.core.draws import FIRST_FREE_PHASE
from paxos_exp.core.faults import FAULTS, FaultModel, FaultsBase
from paxos_exp.core.quorum import majority
from paxos_exp.core.theory import binomial_tail
from paxos_exp.explore.explorer import explore
from paxos_exp.explore.minimal import search
from paxos_exp.explore.replay import replay

DOWN_PROB = 0.3


class _DownPerRound(FaultsBase):
    """Before each round every node is down for that round with probability DOWN_PROB
    (silent, no step); with ``wipes``, a node that is down comes back wiped."""

    silences = stops = stateful = True

    def __init__(self, draws, nodes, wipes=False):
        self.draws, self.nodes, self.wipes = draws, nodes, wipes
        self.down_set = {}
        self.wiped_set = {}

    def begin_round(self, trial, rnd):
        was = self.down_set.get(trial, frozenset())
        self.down_set[trial] = frozenset(
            node for node in range(self.nodes)
            if self.draws.hit(DOWN_PROB, trial, rnd, FIRST_FREE_PHASE, node, 0))
        self.wiped_set[trial] = was - self.down_set[trial] if self.wipes else frozenset()

    def down(self, trial, rnd, node):
        return node in self.down_set.get(trial, ())

    def wiped(self, trial, rnd, node):
        return node in self.wiped_set.get(trial, ())

    def silenced(self, trial, rnd, phase, sender, receiver):
        down = self.down_set.get(trial, ())
        return sender in down or receiver in down

    def state(self, trial):
        return (tuple(sorted(self.down_set.get(trial, ()))),
                tuple(sorted(self.wiped_set.get(trial, ()))))

    def restore(self, trial, state):
        down, wiped = state if state is not None else ((), ())
        self.down_set[trial], self.wiped_set[trial] = frozenset(down), frozenset(wiped)


@pytest.fixture
def models(monkeypatch):
    FAULTS.names()  # the registry is filled on first use
    for name, wipes in (("test_down", False), ("test_amnesia", True)):
        model = FaultModel(name=name, description="a node is down for a round (test)",
                           build=lambda config, draws, wipes=wipes: _DownPerRound(
                               draws, config.nodes, wipes))
        monkeypatch.setitem(FAULTS._found, name, model)


@pytest.mark.parametrize("nodes", [1, 2, 3, 4])
def test_down_nodes_give_the_exact_law_and_classic_stays_safe(models, nodes):
    found = explore(RunConfig(nodes=nodes, fail_prob=0.0, rounds=2, faults="test_down"))
    up = 1 - DOWN_PROB
    # A round decides iff its leader is up and a majority (the leader included) is up.
    per_round = up * binomial_tail(nodes - 1, up, majority(nodes) - 1)
    for decides in found.decides:
        assert abs(decides - per_round) < 1e-12
    assert found.safe and found.violation == 0


def test_wiped_nodes_break_classic_and_the_counterexample_replays_on_both_engines(models):
    config = RunConfig(nodes=3, fail_prob=0.0, rounds=3, faults="test_amnesia")
    found = search(config)
    witness = found.witness
    assert witness is not None and "agreement" in witness.broken
    inprocess = replay(config, witness, "inprocess")
    assert "agreement" in inprocess.broken
    assert sum(record.silenced for record in inprocess.result.rounds) > 0


@pytest.mark.slow
def test_the_amnesia_counterexample_replays_on_real_processes(models):
    config = RunConfig(nodes=3, fail_prob=0.0, rounds=3, faults="test_amnesia")
    witness = search(config).witness
    inprocess = replay(config, witness, "inprocess")
    processes = replay(config, witness, "processes")
    assert processes.broken == inprocess.broken
    assert processes.result.rounds == inprocess.result.rounds
