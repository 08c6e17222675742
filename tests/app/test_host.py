"""paxos_exp.host: the CPUs this process may use, and SIGTERM as an exception (used by the
app, the launchers and the report alike)."""

from __future__ import annotations

import os
import signal

import pytest

from paxos_exp import host


def test_usable_cpus_are_this_processs_affinity():
    assert host.usable_cpus() == len(os.sched_getaffinity(0)) >= 1


def _deliver_sigterm() -> None:
    os.kill(os.getpid(), signal.SIGTERM)
    for _ in range(1000):  # Python runs the handler between two bytecodes of this thread
        pass


def test_sigterm_raises_once_and_the_undo_restores_the_handler_there_was():
    before = signal.getsignal(signal.SIGTERM)
    undo = host.sigterm_raises()
    inner_undo = None
    try:
        inner_undo = host.sigterm_raises()  # nested, as a job inside the paxos-exp command
        with pytest.raises(host.Terminated) as caught:
            _deliver_sigterm()
        assert caught.value.code == 143
        # A second SIGTERM while the first unwinds is ignored, by the outer handler too: it
        # must not cut the clean-up short.
        inner_undo()
        inner_undo = None
        _deliver_sigterm()
    finally:
        if inner_undo is not None:
            inner_undo()
        undo()
    assert signal.getsignal(signal.SIGTERM) is before
    undo = host.sigterm_raises()  # a fresh start: the next SIGTERM raises again
    try:
        with pytest.raises(host.Terminated):
            _deliver_sigterm()
    finally:
        undo()
