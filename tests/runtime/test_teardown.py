"""Teardown after the last trial: its grace grows with N and the start method, and a node slow
to exit (or exiting badly) after sending every trial costs a warning, never the run's records."""

from __future__ import annotations

import logging
import threading

import pytest

import paxos_exp
from paxos_exp.core.errors import RunError
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


def _failing_on_the_way_out(original, failing_node):
    """A node body that raises after its last trial is sent: an error in its teardown (closing
    its sockets, terminating its ZeroMQ context), which node_main reports to the supervisor."""

    def run_node(args, *rest):
        original(args, *rest)
        if args.node == failing_node:
            raise OSError("context termination failed (injected)")

    return run_node


def test_an_error_a_node_reports_after_its_last_trial_keeps_the_records(monkeypatch, caplog):
    monkeypatch.setattr(node_process, "_run_node",
                        _failing_on_the_way_out(node_process._run_node, 1))
    kwargs = {"nodes": 3, "fail_prob": 0.2, "rounds": 3, "trials": 6, "seed": 8}
    with caplog.at_level(logging.WARNING, logger="paxos_exp"):
        real = paxos_exp.run(**kwargs, start_method="fork")
    assert real.trials == paxos_exp.run(**kwargs, engine="inprocess").trials
    warnings = [record.getMessage() for record in caplog.records]
    said = [text for text in warnings if text.startswith("node 1 reported an error after its "
                                                         "last trial")]
    assert len(said) == 1 and "context termination failed (injected)" in said[0], warnings
    assert "already recorded" in said[0]
    # Its exit status 1 (how a node that reported an error exits) is not a second warning.
    assert not [text for text in warnings if "node 1 exited after the last trial" in text]


def test_an_error_before_a_nodes_last_trial_still_fails_the_run(monkeypatch):
    original = node_process._send_rounds

    def send_rounds(conn, run, node, inbox, last):
        if node == 1 and last and run.trial == 3:  # trial 3 of 6 never reaches the supervisor
            raise OSError("lost before its last trial (injected)")
        return original(conn, run, node, inbox, last)

    monkeypatch.setattr(node_process, "_send_rounds", send_rounds)
    with pytest.raises(RunError, match=r"node 1 failed in trial 3, round 2 \(crash\): OSError: "
                                       r"lost before its last trial \(injected\)"):
        paxos_exp.run(nodes=3, fail_prob=0.2, rounds=3, trials=6, seed=8, start_method="fork")
