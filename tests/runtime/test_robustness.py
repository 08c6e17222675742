"""Runs that go wrong: concurrent runs, a node killed or stopped mid-run, bad arguments.

Subprocesses run in their own session so that a test can always remove everything it
started (``os.killpg`` on that session's process group) and never hangs or leaks.
"""

from __future__ import annotations

import multiprocessing
import os
import platform
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest

import paxos_exp
from paxos_exp.core.errors import ConfigError

CLI = [sys.executable, "-m", "paxos_exp.classic"]

# Syscalls a node's main thread sits in while ZeroMQ waits for a message (poll/ppoll). A node
# stopped there is provably outside the round barrier (see _freeze_while_receiving).
POLL_SYSCALLS = {"x86_64": {7, 271}, "aarch64": {73}}


# -- /proc helpers ------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(ppid, state, starttime) of a process, or None if it does not exist."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            text = handle.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = text[text.rindex(")") + 2:].split()
    return int(rest[1]), rest[0], int(rest[19])


def _children(pid: int) -> list[tuple[int, int]]:
    """(pid, starttime) of every child of ``pid``, oldest first."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = _stat(int(entry))
            if info is not None and info[0] == pid:
                found.append((info[2], int(entry)))
    return [(child, start) for start, child in sorted(found)]


def _exists(pid: int, starttime: int) -> bool:
    """Whether that very process (not a later one reusing its pid) still exists, zombie or not."""
    info = _stat(pid)
    return info is not None and info[2] == starttime


class _Lines:
    """Reads a pipe in a thread so the writer never blocks; lets the test wait for progress."""

    def __init__(self, stream) -> None:
        self.count = 0
        self.kept: list[bytes] = []
        self._ticks: queue.Queue[int | None] = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.count += 1
            if len(self.kept) < 1000:
                self.kept.append(line)
            self._ticks.put(self.count)
        self._ticks.put(None)

    def wait_for(self, count: int, deadline: float) -> bool:
        """True once ``count`` lines arrived; False at EOF or at the deadline."""
        while self.count < count:
            try:
                tick = self._ticks.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return False
            if tick is None:
                return False
        return True

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


@contextmanager
def _session(args: list[str], env: dict[str, str] | None = None):
    """A subprocess in its own session; everything in it is SIGKILLed on the way out."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            start_new_session=True)
    try:
        yield proc
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()


def _wait_for_children(pid: int, count: int, deadline: float) -> list[tuple[int, int]]:
    while time.monotonic() < deadline:
        children = _children(pid)
        if len(children) >= count:
            return children
        os.sched_yield()
    raise AssertionError(f"process {pid} did not start {count} node processes")


def _freeze_while_receiving(pid: int, lines: _Lines, deadline: float) -> None:
    """SIGSTOP ``pid`` at a moment its main thread waits inside a ZeroMQ receive.

    A node stopped or killed at an arbitrary instant may hold the round barrier's internal
    lock, which hangs the whole run (see test_a_node_lost_inside_the_barrier_does_not_hang_the_run);
    stopping it inside a receive keeps these tests about what they test, deterministically.
    """
    wanted = POLL_SYSCALLS.get(platform.machine())
    if wanted is None:
        pytest.skip(f"no syscall table for {platform.machine()}")
    while time.monotonic() < deadline:
        os.kill(pid, signal.SIGSTOP)
        while True:
            info = _stat(pid)
            assert info is not None, f"node process {pid} vanished"
            if info[1] in ("t", "T"):
                break
            assert time.monotonic() < deadline, "the node did not stop"
            os.sched_yield()
        try:
            with open(f"/proc/{pid}/syscall") as handle:
                fields = handle.read().split()
        except PermissionError:
            os.kill(pid, signal.SIGCONT)
            pytest.skip("cannot read /proc/<pid>/syscall here")
        if fields and fields[0].lstrip("-").isdigit() and int(fields[0]) in wanted:
            return
        os.kill(pid, signal.SIGCONT)
        # Let the run make progress before the next attempt.
        assert lines.wait_for(lines.count + 5, deadline), "the run stopped making progress"
    raise AssertionError("never caught the node waiting for a message")


def _error_line(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("paxos-classic: error:")]
    assert len(errors) == 1, stderr
    return errors[0]


# -- concurrent runs ----------------------------------------------------------------------------


ROUND = re.compile(r"ROUND (\d+) STARTED WITH INITIAL VALUE: ([01])")
ACCEPTOR = re.compile(r"ACCEPTOR (\d+) RECEIVED IN (JOIN|VOTE) PHASE: .*")


def _by_round(lines: list[str]) -> list[Counter]:
    rounds: list[Counter] = []
    for line in lines:
        opened = ROUND.fullmatch(line)
        if opened:
            assert int(opened.group(1)) == len(rounds)
            rounds.append(Counter())
        assert rounds, f"line before the first ROUND line: {line!r}"
        rounds[-1][line] += 1
    return rounds


def _reference(nodes: int, p: float, rounds: int, seed: int) -> list[Counter]:
    lines: list[str] = []
    paxos_exp.run(nodes, p, rounds, seed=seed, engine="inprocess", emit=lines.append)
    return _by_round(lines)


@pytest.mark.timeout(120)
def test_two_runs_at_the_same_time_do_not_interfere():
    runs = {3: ("3", "0.2", "60", "--seed", "31"), 5: ("5", "0.2", "60", "--seed", "52")}
    procs = {
        nodes: subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        for nodes, args in runs.items()
    }
    try:
        outputs = {nodes: proc.communicate(timeout=90) for nodes, proc in procs.items()}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
    for nodes, (out, err) in outputs.items():
        assert procs[nodes].returncode == 0, err
        lines = out.splitlines()
        assert lines[0] == f"NUM_NODES: {nodes}, CRASH PROB: 0.2, NUM_ROUNDS: 60"
        body = lines[1:]
        acceptors = {int(m.group(1)) for m in map(ACCEPTOR.fullmatch, body) if m}
        assert acceptors == set(range(nodes))
        assert sum(1 for line in body if ACCEPTOR.fullmatch(line)) == 2 * (nodes - 1) * 60
        assert _by_round(body) == _reference(nodes, 0.2, 60, int(runs[nodes][-1]))


# -- a node that dies or stops --------------------------------------------------------------


@pytest.fixture
def short_tmpdir():
    directory = tempfile.mkdtemp(prefix="pxt-", dir="/tmp")
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _start_long_run(short_tmpdir: str, timeout: str):
    env = {**os.environ, "TMPDIR": short_tmpdir}
    return _session([*CLI, "3", "0.1", "1000000", "--seed", "1", "--timeout", timeout], env)


@pytest.mark.timeout(120)
def test_a_node_killed_mid_run_ends_the_run_with_a_clear_error(short_tmpdir):
    victim = 1
    with _start_long_run(short_tmpdir, "3") as proc:
        deadline = time.monotonic() + 60
        lines = _Lines(proc.stdout)
        assert lines.wait_for(30, deadline), "the run did not get going"
        children = _wait_for_children(proc.pid, 3, deadline)
        assert len(children) == 3
        pid, _ = children[victim]
        _freeze_while_receiving(pid, lines, deadline)
        os.kill(pid, signal.SIGKILL)
        status = proc.wait(timeout=30)
        stderr = proc.stderr.read().decode()
        lines.join(10)
        assert status == 1
        error = _error_line(stderr)
        assert f"node {victim} died (killed by SIGKILL)" in error
        assert re.findall(r"\bnode (\d+)\b", error)[0] == str(victim)
        assert [child for child in children if _exists(*child)] == []
        assert os.listdir(short_tmpdir) == []
        assert all(line.endswith(b"\n") for line in lines.kept)


@pytest.mark.timeout(120)
def test_a_stopped_node_ends_the_run_with_a_clear_error(short_tmpdir):
    victim = 2
    with _start_long_run(short_tmpdir, "2") as proc:
        deadline = time.monotonic() + 60
        lines = _Lines(proc.stdout)
        assert lines.wait_for(30, deadline), "the run did not get going"
        children = _wait_for_children(proc.pid, 3, deadline)
        assert len(children) == 3
        pid, _ = children[victim]
        _freeze_while_receiving(pid, lines, deadline)
        status = proc.wait(timeout=40)
        stderr = proc.stderr.read().decode()
        lines.join(10)
        assert status == 1
        error = _error_line(stderr)
        assert re.findall(r"\bnode (\d+)\b", error)[0] == str(victim), error
        assert f"node {victim} stopped responding" in error
        assert [child for child in children if _exists(*child)] == []
        assert os.listdir(short_tmpdir) == []


# Deterministic reproductions of what a SIGSTOP/SIGKILL at an unlucky instant does: the victim
# node freezes (or dies) at a chosen point of its Nth call to the round barrier's wait().
_BARRIER_SCRIPT = textwrap.dedent(
    """
    import multiprocessing, multiprocessing.synchronize as sync, os, signal, sys, threading, time
    import paxos_exp
    from paxos_exp.core.errors import RunError

    VICTIM, CALL, SIG, WHERE = sys.argv[1], int(sys.argv[2]), getattr(signal, sys.argv[3]), sys.argv[4]
    original = sync.Barrier.wait
    calls = [0]

    def wait(self, timeout=None):
        name = multiprocessing.current_process().name
        if WHERE == "asleep" and name != VICTIM and name.endswith("2"):
            calls[0] += 1
            if calls[0] == CALL:  # fault injection, not synchronisation: keep the victim asleep
                time.sleep(0.8)
        if name == VICTIM:
            calls[0] += 1
            if calls[0] == CALL:
                if WHERE == "inside":  # as if stopped while holding the barrier's own lock
                    self._cond.acquire()
                    os.kill(os.getpid(), SIG)
                elif WHERE == "asleep":  # killed while asleep in the barrier's wait
                    threading.Timer(0.3, os.kill, (os.getpid(), SIG)).start()
                else:  # as if stopped right after the barrier released it
                    index = original(self, timeout)
                    os.kill(os.getpid(), SIG)
                    return index
        return original(self, timeout)

    sync.Barrier.wait = wait

    if __name__ == "__main__":
        try:
            paxos_exp.run(3, 0.1, 100000, seed=1, receive_timeout=1, barrier_timeout=1)
        except RunError as error:
            print("RunError:", error, flush=True)
            sys.exit(1)
        sys.exit(0)
    """
)


def _barrier_repro(tmp_path: Path, socket_dir: str, signame: str, where: str, limit: float):
    script = tmp_path / "barrier_repro.py"
    script.write_text(_BARRIER_SCRIPT)
    env = {**os.environ, "TMPDIR": socket_dir}  # a hung run cannot clean up: keep it private
    # Call 1 is the start-up barrier; call 5 ends round 3, so node 1 leads the next round.
    args = [sys.executable, str(script), "paxos-node-1", "5", signame, where]
    with _session(args, env) as proc:
        try:
            out, _ = proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            return None
        return proc.returncode, out.decode()


@pytest.mark.timeout(120)
def test_a_node_stopped_just_after_a_barrier_is_named(tmp_path, short_tmpdir):
    outcome = _barrier_repro(tmp_path, short_tmpdir, "SIGSTOP", "after", limit=60)
    assert outcome is not None, "the run hung"
    status, out = outcome
    assert status == 1
    (message,) = [line for line in out.splitlines() if line.startswith("RunError:")]
    assert re.findall(r"\bnode (\d+)\b", message)[0] == "1", message


@pytest.mark.timeout(120)
@pytest.mark.parametrize("signame", ["SIGSTOP", "SIGKILL"])
def test_a_node_lost_inside_the_barrier_does_not_hang_the_run(tmp_path, short_tmpdir, signame):
    # With 1 s timeouts the supervisor's own stall limit is 6 s: 20 s is ample for any clean end.
    outcome = _barrier_repro(tmp_path, short_tmpdir, signame, "inside", limit=20)
    assert outcome is not None, "the run hung"
    status, out = outcome
    assert status == 1 and "RunError:" in out


@pytest.mark.timeout(120)
def test_a_node_killed_asleep_in_the_barrier_does_not_hang_the_run(tmp_path, short_tmpdir):
    # Barrier.abort() would wait forever for the dead sleeper to acknowledge its wake-up.
    outcome = _barrier_repro(tmp_path, short_tmpdir, "SIGKILL", "asleep", limit=30)
    assert outcome is not None, "the run hung"
    status, out = outcome
    assert status == 1
    (message,) = [line for line in out.splitlines() if line.startswith("RunError:")]
    assert "node 1 died (killed by SIGKILL)" in message, message


# -- bad arguments start nothing ----------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(nodes=0, fail_prob=0.1, rounds=1),
        dict(nodes=3, fail_prob=1.5, rounds=1),
        dict(nodes=3, fail_prob=float("nan"), rounds=1),
        dict(nodes=3, fail_prob=0.1, rounds=-1),
        dict(nodes=3, fail_prob=0.1, rounds=1, trials=0),
        dict(nodes=3, fail_prob=0.1, rounds=1, seed=-5),
        dict(nodes=3, fail_prob=0.1, rounds=1, initial_values="0101"),
        dict(nodes=3, fail_prob=0.1, rounds=1, start_method="threads"),
        dict(nodes=3, fail_prob=0.1, rounds=1, receive_timeout=0),
        dict(nodes=3, fail_prob=0.1, rounds=1, protocol={"name": "flexible", "join_quorum": 4}),
    ],
)
def test_invalid_arguments_raise_config_error_before_any_process_starts(kwargs, monkeypatch, tmp_path):
    from paxos_exp.runtime import processes

    started = []
    monkeypatch.setattr(processes._Supervisor, "start", lambda self: started.append(self))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    before = _children(os.getpid())
    with pytest.raises(ConfigError):
        paxos_exp.run(engine="processes", **kwargs)
    assert started == []
    assert list(tmp_path.iterdir()) == []
    assert set(_children(os.getpid())) - set(before) == set()
    assert multiprocessing.active_children() == []


def test_a_long_tmpdir_falls_back_to_a_short_socket_directory_and_cleans_it(monkeypatch, tmp_path):
    long_dir = tmp_path / ("x" * 110)  # ipc:// socket paths must stay under 108 bytes
    long_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(long_dir))
    created: list[str] = []
    real_mkdtemp = tempfile.mkdtemp

    def spy(*args, **kwargs):
        directory = real_mkdtemp(*args, **kwargs)
        created.append(directory)
        return directory

    monkeypatch.setattr(tempfile, "mkdtemp", spy)
    result = paxos_exp.run(3, 0.2, 8, seed=3, engine="processes")
    assert result.rounds == paxos_exp.run(3, 0.2, 8, seed=3, engine="inprocess").rounds
    assert created and created[-1].startswith("/tmp/") and len(created[-1]) < 60
    assert [directory for directory in created if os.path.exists(directory)] == []
