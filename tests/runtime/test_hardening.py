"""The real runtime against hostile conditions: forged and oversized messages, a node that
breaks the protocol, socket directories left by a killed supervisor, runs too large for the
machine.

Every subprocess runs in its own session with a deadline, and is killed (its whole process
group) whatever happens.
"""

from __future__ import annotations

import fcntl
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

import paxos_exp
from paxos_exp.core import messages as m
from paxos_exp.core.errors import RunError
from paxos_exp.core.node import Send
from paxos_exp.runtime import limits, node_process, processes
from dataclasses import replace

from paxos_exp.core.driver import RoundDriver
from paxos_exp.core.protocols import PROTOCOLS, classic

# A process that knows nothing of the run but where its sockets are: it pushes messages with
# the right tags but no token (the old plain-text envelope), garbage, messages under a wrong
# token, and one 50 MB message, into every node socket it finds, until told to stop.
FORGER = textwrap.dedent(
    """
    import glob, os, sys, zmq
    parent, stop, nodes, ready = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    context = zmq.Context()
    sockets, sent = {}, 0
    forged = [b"0 0 1 0 START", b"0 0 2 0 PROPOSE 1", b"0 0 1 1 JOIN 0 1", b"0 0 2 2 VOTE",
              b"\\xff\\xfe garbage", bytes(16) + b"0 0 2 0 PROPOSE 1", b""]
    while not os.path.exists(stop):
        for path in glob.glob(os.path.join(parent, "pxe-*", "[0-9]*")):
            if path not in sockets:
                push = context.socket(zmq.PUSH)
                push.setsockopt(zmq.LINGER, 0)
                push.setsockopt(zmq.SNDHWM, 1000)
                push.connect("ipc://" + path)
                sockets[path] = push
                try:
                    push.send(b"x" * (50 << 20), zmq.NOBLOCK)  # refused by the node's socket
                except zmq.Again:
                    pass
            for data in forged:
                try:
                    sockets[path].send(data, zmq.NOBLOCK)
                    sent += 1
                except zmq.Again:
                    pass
        if ready >= 0 and len(sockets) == nodes and sent >= 10 * nodes:
            os.write(ready, b"!")  # every node socket has forged messages on their way
            os.close(ready)
            ready = -1
    print(sent, flush=True)
    for push in sockets.values():
        push.close(0)
    context.term()
    """
)


@pytest.fixture
def private_tmp(monkeypatch: pytest.MonkeyPatch):
    """A short private temporary directory for this test's socket directories."""
    directory = tempfile.mkdtemp(prefix="pxt-", dir="/tmp")
    monkeypatch.setattr(tempfile, "tempdir", directory)
    yield Path(directory)
    shutil.rmtree(directory, ignore_errors=True)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def test_forged_garbage_and_oversized_messages_are_dropped_and_counted(
    private_tmp: Path, monkeypatch: pytest.MonkeyPatch
):
    clean = paxos_exp.run(4, 0.2, 20, trials=60, seed=11, engine="inprocess")
    stop = private_tmp / "stop"
    ready_read, ready_write = os.pipe()
    forger = subprocess.Popen(
        [sys.executable, "-c", FORGER, str(private_tmp), str(stop), "4", str(ready_write)],
        stdout=subprocess.PIPE, text=True, start_new_session=True, pass_fds=(ready_write,),
    )
    os.close(ready_write)
    real_play = RoundDriver.play

    def play_once_forged(self, rnd, runs):
        # (In every forked node.) Trial 1 starts only once the forger has sent to every node
        # socket, so the forged messages are there to be read: the test cannot race it.
        if runs[0].trial == 1 and rnd == 0:
            select.select([ready_read], [], [], 60)
        return real_play(self, rnd, runs)

    monkeypatch.setattr(RoundDriver, "play", play_once_forged)
    try:
        attacked = paxos_exp.run(4, 0.2, 20, trials=60, seed=11, start_method="fork")
        stop.touch()
        sent = int(forger.communicate(timeout=60)[0].split()[-1])
    finally:
        _kill_group(forger)
        os.close(ready_read)
    assert sent > 0
    assert attacked.foreign_messages > 0
    # Nothing forged reached the protocol: exactly the records of the same run without it.
    assert attacked.trials == clean.trials
    assert attacked.rounds == clean.rounds


def test_oversized_messages_are_refused_by_the_socket_itself():
    import zmq

    directory = tempfile.mkdtemp(prefix="pxt-", dir="/tmp")
    context = zmq.Context()
    try:
        pull = context.socket(zmq.PULL)
        pull.setsockopt(zmq.MAXMSGSIZE, m.MAX_ENVELOPE_BYTES)
        pull.setsockopt(zmq.RCVTIMEO, 300)
        pull.bind(f"ipc://{directory}/0")
        push = context.socket(zmq.PUSH)
        push.connect(f"ipc://{directory}/0")
        push.send(b"x" * (m.MAX_ENVELOPE_BYTES + 1))
        with pytest.raises(zmq.Again):
            pull.recv()
        other = context.socket(zmq.PUSH)
        other.connect(f"ipc://{directory}/0")
        other.send(b"x" * m.MAX_ENVELOPE_BYTES)
        assert len(pull.recv()) == m.MAX_ENVELOPE_BYTES
        for socket in (pull, push, other):
            socket.close(0)
    finally:
        context.term()
        shutil.rmtree(directory, ignore_errors=True)


def _patch_acceptor(monkeypatch: pytest.MonkeyPatch, on_request) -> None:
    """Make ``classic`` use another acceptor step (forked nodes inherit the registry)."""
    PROTOCOLS.names()  # the registry is filled on first use
    monkeypatch.setitem(PROTOCOLS._found, "classic", replace(classic.PROTOCOL, on_request=on_request))


def test_a_node_that_breaks_the_protocol_is_named(monkeypatch: pytest.MonkeyPatch):
    """A message with the run's token in the wrong phase is a bug: the run fails and the
    error names the node that sent it, not the one that noticed."""
    honest = classic.on_request

    def acceptor_2_votes_too_early(ctx, state, received):
        if state.node == 2:
            return state, [Send(ctx.leader, m.vote(2), False)], 0
        return honest(ctx, state, received)

    # Fork start: the children inherit the patched registry.
    _patch_acceptor(monkeypatch, acceptor_2_votes_too_early)
    with pytest.raises(RunError) as caught:
        paxos_exp.run(4, 0.0, 3, trials=2, seed=1, start_method="fork")
    text = str(caught.value)
    assert text.startswith("node 2 broke the protocol in trial 0, round 0")
    assert "to node 0" in text and "belongs to the vote phase" in text
    assert "node 0 failed" not in text


def _start_and_wait_for_sockets(parent: Path, started: list[subprocess.Popen]) -> subprocess.Popen:
    """A supervisor in a subprocess, reported running once its first trial is done."""
    script = textwrap.dedent(
        f"""
        import tempfile
        tempfile.tempdir = {str(parent)!r}
        from paxos_exp.core.config import RunConfig, RuntimeOptions
        from paxos_exp.core.records import CollectingSink
        from paxos_exp.runtime.processes import run_processes
        class Sink(CollectingSink):
            def add_trial(self, trial):
                if trial.trial == 0:
                    print("running", flush=True)
        run_processes(RunConfig(3, 0.1, 2, trials=10**6, seed=1), RuntimeOptions(), Sink())
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            start_new_session=True)
    started.append(proc)  # killed by the caller whatever happens next
    ready, _, _ = select.select([proc.stdout], [], [], 60)
    assert ready and proc.stdout.readline().strip() == b"running"
    return proc


def test_socket_directory_of_a_killed_supervisor_is_removed_by_the_next_run(private_tmp: Path):
    started: list[subprocess.Popen] = []
    try:
        victim = _start_and_wait_for_sockets(private_tmp, started)
        alive = _start_and_wait_for_sockets(private_tmp, started)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
        left = sorted(private_tmp.glob("pxe-*"))
        assert len(left) == 2  # the killed one's directory stayed behind, with its sockets
        paxos_exp.run(3, 0.1, 1, trials=1, seed=1)  # the next run cleans up
        remaining = sorted(private_tmp.glob("pxe-*"))
        assert len(remaining) == 1  # the live supervisor's directory is kept
        assert (remaining[0] / "0").exists()
        assert alive.poll() is None
    finally:
        for proc in started:
            _kill_group(proc)


def test_stale_directories_are_judged_by_their_owner_lock(private_tmp: Path):
    stale = private_tmp / "pxe-stale"
    stale.mkdir()
    (stale / ".owner").touch()  # its owner is gone: no one holds the lock
    live = private_tmp / "pxe-live"
    live.mkdir()
    fd = os.open(live / ".owner", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    fresh = private_tmp / "pxe-fresh"  # being set up: no owner file yet, but new
    fresh.mkdir()
    other = private_tmp / "not-ours"
    other.mkdir()
    old_legacy = private_tmp / "pxe-legacy"  # an old version's: no owner file, only sockets
    old_legacy.mkdir()
    (old_legacy / "0").touch()
    not_sockets = private_tmp / "pxe-someone-elses"  # old, no owner file, other contents
    not_sockets.mkdir()
    (not_sockets / "notes.txt").touch()
    two_hours_ago = time.time() - 7200
    for path in (old_legacy, not_sockets):
        os.utime(path, (two_hours_ago, two_hours_ago))
    try:
        removed = processes.remove_stale_socket_directories([str(private_tmp)])
    finally:
        os.close(fd)
    assert sorted(removed) == sorted([str(stale), str(old_legacy)])
    assert live.exists() and fresh.exists() and other.exists() and not_sockets.exists()


def test_a_run_too_large_for_the_machine_is_refused_before_anything_starts():
    small = limits.Machine(memory=2 << 30, fds=20000, threads=30000, zmq_sockets=65535)
    with pytest.raises(limits.LimitError) as caught:
        limits.check_fits(500, 500, small)
    text = str(caught.value)
    assert "memory" in text and "the largest N that fits here with rounds=500 is" in text
    largest = int(text.split(" is ")[1].split()[0])
    assert limits.problem(limits.needs(largest, 500), small) is None
    assert limits.problem(limits.needs(largest + 1, 500), small) is not None
    # Absurd sizes are refused as fast, in constant memory (no per-node lists).
    with pytest.raises(limits.LimitError, match="does not fit"):
        limits.check_fits(10**12, 3, small)
    with pytest.raises(limits.LimitError, match="in-process engine"):
        limits.check_fits_inprocess(10**12, small)
    few_fds = limits.Machine(memory=None, fds=1024, threads=None, zmq_sockets=65535)
    with pytest.raises(limits.LimitError, match="open files"):
        limits.check_fits(400, 400, few_fds)
    few_threads = limits.Machine(memory=None, fds=None, threads=300, zmq_sockets=65535)
    with pytest.raises(limits.LimitError, match="processes"):
        limits.check_fits(101, 3, few_threads)


def test_paxos_classic_refuses_a_huge_run_in_one_line():
    proc = subprocess.run(
        [sys.executable, "-m", "paxos_exp.classic", "100000", "0.1", "100000"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not fit on this machine" in lines[0]
    assert "the largest N that fits here" in lines[0]


def test_default_deadlines_grow_with_the_run():
    small = limits.default_deadlines(5, 3)
    large = limits.default_deadlines(1000, 1000)
    assert small[1] >= 10 and small[0] >= 60
    assert all(big > little for big, little in zip(large, small))
    options = limits.with_deadlines(paxos_exp.core.config.RuntimeOptions(receive_timeout=3.0), 1000, 3)
    assert options.receive_timeout == 3.0  # a deadline the user set is kept
    assert options.barrier_timeout == limits.default_deadlines(1000, 3)[2]


def test_fewer_rounds_than_nodes_connect_only_to_leaders():
    from paxos_exp.core.node import send_targets, senders_to

    assert send_targets(0, 6, 2) == list(range(6))  # a leader sends to everyone
    assert send_targets(4, 6, 2) == [0, 1]  # an acceptor only to the leaders
    assert send_targets(4, 6, 0) == []
    total, _ = limits.connections(6, 2)
    assert total == sum(len(send_targets(node, 6, 2)) for node in range(6))
    for rounds in (0, 2, 6, 9):  # every node is told exactly how many greet it at start-up
        for node in range(6):
            assert senders_to(node, 6, rounds) == sum(
                node in send_targets(other, 6, rounds) for other in range(6))
    result = paxos_exp.run(6, 0.2, 2, trials=30, seed=4)
    assert result.trials == paxos_exp.run(6, 0.2, 2, trials=30, seed=4, engine="inprocess").trials


def test_a_fork_failure_is_one_clear_error_and_leaves_nothing(monkeypatch: pytest.MonkeyPatch,
                                                              private_tmp: Path):
    import multiprocessing.process

    real_start = multiprocessing.process.BaseProcess.start

    def start(self):
        if self.name == "paxos-node-2":
            raise BlockingIOError(11, "Resource temporarily unavailable")
        return real_start(self)

    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", start)
    with pytest.raises(RunError) as caught:
        paxos_exp.run(4, 0.1, 3, trials=2, seed=1)
    assert str(caught.value).startswith(
        "could not start node process 2 of 4 (Resource temporarily unavailable)")
    assert not list(private_tmp.glob("pxe-*"))  # its socket directory went too
    assert not multiprocessing.active_children()


def test_a_node_killed_by_the_out_of_memory_killer_is_reported_as_that(
    monkeypatch: pytest.MonkeyPatch,
):
    honest = classic.on_request

    def node_1_is_killed(ctx, state, received):
        if state.node == 1:
            os.kill(os.getpid(), signal.SIGKILL)  # what the out-of-memory killer sends
        return honest(ctx, state, received)

    _patch_acceptor(monkeypatch, node_1_is_killed)
    kills = iter([0, 1])  # the kernel's count of out-of-memory kills, before and after
    monkeypatch.setattr(processes, "oom_kills", lambda: next(kills, 1))
    with pytest.raises(RunError) as caught:
        paxos_exp.run(3, 0.0, 2, trials=1, seed=1)
    text = str(caught.value)
    assert "node 1 died (killed by the kernel for lack of memory: the out-of-memory killer" in text
    assert "N=3 needs about" in text


def test_a_node_killed_by_someone_else_is_not_blamed_on_memory(monkeypatch: pytest.MonkeyPatch):
    honest = classic.on_request

    def node_1_is_killed(ctx, state, received):
        if state.node == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        return honest(ctx, state, received)

    _patch_acceptor(monkeypatch, node_1_is_killed)
    monkeypatch.setattr(processes, "oom_kills", lambda: 0)
    with pytest.raises(RunError, match=r"node 1 died \(killed by SIGKILL\)"):
        paxos_exp.run(3, 0.0, 2, trials=1, seed=1)
