"""Teardown after the last trial: its grace grows with N and the start method, and a node slow
to exit (or exiting badly) after sending every trial costs a warning, never the run's records."""

from __future__ import annotations

import logging
import threading

import pytest

import paxos_exp
from paxos_exp.runtime import node_process, processes
from paxos_exp.runtime.processes import teardown_grace


def test_grace_grows_with_nodes_and_with_a_fresh_interpreter_per_node():
    assert teardown_grace(5, "fork") >= 5.0  # never below the historic 5 s
    assert teardown_grace(200, "fork") > teardown_grace(5, "fork")
    for method in ("spawn", "forkserver"):
        assert teardown_grace(5, method) > teardown_grace(5, "fork")
        assert teardown_grace(200, method) > teardown_grace(5, method)
    assert teardown_grace(200, "spawn") >= teardown_grace(200, "forkserver")


def _lingering(original, linger_nodes):
    """A node body that, after its last trial is sent, stays alive (a slow interpreter
    shutdown), as some spawned nodes do under Ray."""

    def run_node(args, *rest):
        original(args, *rest)
        if args.node in linger_nodes:
            threading.Event().wait(60)  # until the supervisor terminates it

    return run_node


def test_a_node_slow_to_exit_after_the_last_trial_is_a_warning_not_a_failure(monkeypatch, caplog):
    # Forked nodes run the patched module, so node 1 lingers after its last trial.
    monkeypatch.setattr(node_process, "_run_node", _lingering(node_process._run_node, {1}))
    monkeypatch.setattr(processes, "teardown_grace", lambda nodes, method: 3.0)  # node 1 lingers 60 s; the others need far less
    kwargs = {"nodes": 3, "fail_prob": 0.3, "rounds": 3, "trials": 8, "seed": 11}
    with caplog.at_level(logging.WARNING, logger="paxos_exp"):
        real = paxos_exp.run(**kwargs, start_method="fork")
    assert real.trials == paxos_exp.run(**kwargs, engine="inprocess").trials
    assert len(real.trials) == 8
    warnings = [record.getMessage() for record in caplog.records]
    assert any("node 1 did not exit within" in text and "already recorded" in text
               for text in warnings), warnings


def test_a_node_that_exits_badly_after_the_last_trial_keeps_the_records(monkeypatch, caplog):
    original = node_process._run_node

    def run_node(args, *rest):
        original(args, *rest)
        if args.node == 2:
            import os

            os._exit(3)  # a crash in the interpreter's shutdown, after every record is sent

    monkeypatch.setattr(node_process, "_run_node", run_node)
    kwargs = {"nodes": 3, "fail_prob": 0.2, "rounds": 2, "trials": 5, "seed": 4}
    with caplog.at_level(logging.WARNING, logger="paxos_exp"):
        real = paxos_exp.run(**kwargs, start_method="fork")
    assert real.trials == paxos_exp.run(**kwargs, engine="inprocess").trials
    assert any("node 2 exited after the last trial with exit status 3" in record.getMessage()
               for record in caplog.records)


@pytest.mark.parametrize("start_method", ["fork"])
def test_a_clean_run_warns_nothing(caplog, start_method):
    with caplog.at_level(logging.WARNING, logger="paxos_exp"):
        paxos_exp.run(nodes=3, fail_prob=0.1, rounds=2, trials=3, seed=1, start_method=start_method)
    assert not [record for record in caplog.records if record.name.startswith("paxos_exp")]
