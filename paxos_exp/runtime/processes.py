"""The real runtime: one OS process per node, ZeroMQ over ipc://, a supervisor that watches them.

The supervisor (this process) is not a node. It starts the nodes from an explicit
multiprocessing context, collects each node's records once per trial through a pipe, and
watches the processes' sentinels: a node that dies, fails or stalls ends the run with a
RunError naming it, after the barrier is aborted so the others stop too. Processes, pipes and
the private socket directory are cleaned up on every path, KeyboardInterrupt included.
"""

from __future__ import annotations

import fcntl
import logging
import multiprocessing
import os
import shutil
import signal
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from paxos_exp.core.assemble import TrialAssembler
from paxos_exp.core.config import RunConfig, RuntimeOptions
from paxos_exp.core.errors import ConfigError, OutputClosedError, RunError
from paxos_exp.core.messages import new_token
from paxos_exp.core.records import RecordSink, RunStats, Timings
from paxos_exp.runtime.limits import (
    MEMORY_SHARE,
    check_fits,
    memory_available,
    needs,
    oom_kills,
    raise_fd_limit,
    with_deadlines,
)
from paxos_exp.runtime.node_process import (
    ERROR_BARRIER,
    ERROR_OUTPUT,
    ERROR_PEER,
    ERROR_TIMEOUT,
    PROGRESS_SLOTS,
    STAGE_BARRIER,
    STAGE_DONE,
    STAGE_OUTPUT,
    STAGE_RECEIVE,
    STAGE_ROUND,
    STAGE_STARTING,
    NodeArgs,
    endpoint,
    node_main,
    read_frame,
)

log = logging.getLogger("paxos_exp.runtime")

_SOCKET_PREFIX = "pxe-"
_SOCKET_PATH_LIMIT = 107  # sun_path on Linux, minus the terminating NUL
_WATCH_INTERVAL = 0.5  # how often the watchdog looks at node progress between messages
_ERROR_GRACE = 2.0  # after the first failure: time for the other nodes' reports to arrive
SUPERVISOR_FDS_PER_NODE = 4
# After the last trial every node exits on its own; how long to wait for that before
# terminating the stragglers: a fresh interpreter per node (spawn, forkserver) shuts down more
# slowly than a forked one, and N of them share the machine's cores.
_TEARDOWN_BASE = {"fork": 5.0, "forkserver": 10.0, "spawn": 15.0}
_TEARDOWN_PER_NODE = {"fork": 0.05, "forkserver": 0.1, "spawn": 0.2}
_ABORT_WAIT = 0.5  # how long to try for the barrier's lock before giving up on aborting it
_STAGE_NAMES = {
    STAGE_STARTING: "starting",
    STAGE_ROUND: "working",
    STAGE_RECEIVE: "waiting for a message",
    STAGE_BARRIER: "at the barrier",
    STAGE_DONE: "done",
    STAGE_OUTPUT: "blocked writing the transcript to standard output: is its reader keeping up?",
}
_DEADLINE_HINT = (
    "if the machine is just slow, raise the deadlines (paxos-classic --timeout S; paxos-exp "
    "runtime.receive_timeout=S runtime.barrier_timeout=S, or runtime=patient)"
)


_OWNER_FILE = ".owner"  # in a socket directory: flock-ed by the supervisor for the run's life
_LEGACY_AGE = 3600.0  # seconds: a directory without an owner file older than this is stale


def socket_directory(nodes: int) -> tuple[str, int]:
    """A private (0700) directory with a path short enough for every node's ipc endpoint,
    and the descriptor of its owner lock (held until the run ends, released by the kernel
    however this process dies, so a later run can tell the directory is stale)."""
    for parent in (None, "/tmp"):
        directory = tempfile.mkdtemp(prefix=_SOCKET_PREFIX, dir=parent)
        if len(endpoint(directory, nodes - 1)) - len("ipc://") <= _SOCKET_PATH_LIMIT:
            try:
                return directory, _take_ownership(directory)
            except BaseException:
                shutil.rmtree(directory, ignore_errors=True)
                raise
        shutil.rmtree(directory, ignore_errors=True)
    raise ConfigError(
        "no temporary directory with a path short enough for ipc sockets: set TMPDIR to a "
        "short path such as /tmp"
    )


def _take_ownership(directory: str) -> int:
    # Locked under a temporary name, then renamed: no one ever sees an unlocked owner file.
    staging = os.path.join(directory, ".owner-staging")
    fd = os.open(staging, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(staging, os.path.join(directory, _OWNER_FILE))
    except BaseException:
        os.close(fd)
        raise
    return fd


def remove_stale_socket_directories(parents: Sequence[str] | None = None) -> list[str]:
    """Remove socket directories left by runs whose supervisor is gone (SIGKILL, an
    out-of-memory kill); never one whose owner lives. ``parents``: where to look (the
    temporary directory and /tmp). Returns the directories removed."""
    removed: list[str] = []
    uid = os.getuid()
    for parent in parents if parents is not None else sorted({tempfile.gettempdir(), "/tmp"}):
        try:
            entries = list(os.scandir(parent))
        except OSError:
            continue
        for entry in entries:
            if not entry.name.startswith(_SOCKET_PREFIX):
                continue
            try:
                if not entry.is_dir(follow_symlinks=False) or entry.stat().st_uid != uid:
                    continue
                if _stale(entry.path, entry.stat().st_mtime):
                    shutil.rmtree(entry.path)
                    removed.append(entry.path)
            except OSError:
                continue  # gone already, or not ours to judge
    return removed


def _stale(directory: str, mtime: float) -> bool:
    try:
        fd = os.open(os.path.join(directory, _OWNER_FILE), os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        # No owner file: a directory being set up right now (its owner file appears within
        # microseconds), one from a version without owner files, or not ours at all. Stale
        # only when old and holding nothing but node sockets (named 0..N-1).
        if time.time() - mtime <= _LEGACY_AGE:
            return False
        try:
            return all(name.isdigit() for name in os.listdir(directory))
        except OSError:
            return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False  # its owner (or one of its nodes) still holds the lock: alive
    finally:
        os.close(fd)
    return True


def abort_barrier(barrier: Any, timeout: float = _ABORT_WAIT) -> bool:
    """Mark the barrier broken, so no node passes it again; never block for long.

    ``Barrier.abort()`` can hang the supervisor for good: it takes the barrier's lock with no
    deadline (a node stopped or killed while holding it never lets go), and its notify waits,
    again with no deadline, for every sleeping waiter to wake (a killed one never does). So the
    lock is tried with a deadline and only the state is set: the waiters see it when their own
    barrier deadline wakes them, and the supervisor kills whatever is left anyway.
    """
    condition = barrier._cond
    if not condition.acquire(True, timeout):
        return False
    try:
        barrier._state = -2  # threading.Barrier's "broken"; what abort() sets, minus the notify
    finally:
        condition.release()
    return True


def teardown_grace(nodes: int, start_method: str) -> float:
    """Seconds to wait after the last trial for ``nodes`` node processes to exit on their own
    (then they are terminated: their records are already in, so it costs nothing but time)."""
    base = _TEARDOWN_BASE.get(start_method, _TEARDOWN_BASE["spawn"])
    per_node = _TEARDOWN_PER_NODE.get(start_method, _TEARDOWN_PER_NODE["spawn"])
    return base + per_node * nodes


def _process_stopped(pid: int | None) -> bool:
    """Whether a process is stopped (SIGSTOP, a debugger); Linux only, False elsewhere."""
    if pid is None:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state in ("T", "t")


def _describe_exit(exitcode: int | None) -> str:
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit status {exitcode}"


class _Supervisor:
    def __init__(self, config: RunConfig, options: RuntimeOptions) -> None:
        self.config = config
        self.options = options
        self.context = multiprocessing.get_context(options.start_method)
        self.processes: list[Any] = []
        self.conns: dict[int, Connection] = {}
        self.directory: str | None = None
        self.owner_lock: int | None = None
        self.oom_before: int | None = None
        self.barrier: Any = None
        self.progress: Any = None
        self.errors: dict[int, tuple[int, int, str, str, int | None]] = {}
        self.finished: set[int] = set()  # nodes that sent every trial
        self.exited: dict[int, int] = {}
        self.pending: dict[int, bytearray] = {}  # frames of a message not yet complete
        self.token = new_token()  # fresh per run: replays of a seed stay bit-identical

    # -- start -------------------------------------------------------------------------
    def start(self) -> None:
        nodes = self.config.nodes
        # Under forkserver a node's parent is the server, not this process.
        parent = 0 if self.options.start_method == "forkserver" else os.getpid()
        remove_stale_socket_directories()
        raise_fd_limit(SUPERVISOR_FDS_PER_NODE * nodes + 64)  # a pipe and a sentinel per node
        self.oom_before = oom_kills()
        self.directory, self.owner_lock = socket_directory(nodes)
        self.barrier = self.context.Barrier(nodes)
        self.progress = self.context.RawArray("q", nodes * PROGRESS_SLOTS)
        inherited = (self.owner_lock,) if self.options.start_method == "fork" else ()
        for node in range(nodes):
            receiver, sender = self.context.Pipe(duplex=False)
            self.conns[node] = receiver  # stored first: close() closes it whatever happens
            process = self.context.Process(
                target=node_main,
                args=(
                    NodeArgs(node, self.config, self.options, self.directory, parent, self.token,
                             inherited),
                    self.barrier,
                    sender,
                    self.progress,
                ),
                name=f"paxos-node-{node}",
                daemon=True,
            )
            try:
                process.start()
            except OSError as error:  # EAGAIN or ENOMEM from fork: a process or memory limit
                raise RunError(
                    f"could not start node process {node} of {nodes} ({error.strerror or error}): "
                    "this machine's process or memory limit was reached; run fewer nodes, or "
                    "raise the limit (ulimit -u, the cgroup's pids.max or memory)"
                ) from None
            finally:
                sender.close()  # the child holds its own end; EOF then means the child is gone
            self.processes.append(process)

    # -- messages ------------------------------------------------------------------------
    def _where(self, node: int) -> tuple[int, int, int]:
        base = node * PROGRESS_SLOTS
        return self.progress[base], self.progress[base + 1], self.progress[base + 2]

    def _drain(self, node: int, handle: Any) -> None:
        """Read every frame a node's pipe holds, until it would block or hits EOF.

        Frames are written atomically (see ``send_report``), so a frame that ``poll`` reports
        is wholly there and reading it cannot block, whatever happened to the node.
        """
        conn = self.conns.get(node)
        pending = self.pending.setdefault(node, bytearray())
        while conn is not None:
            try:
                if not conn.poll():
                    return
                message = read_frame(conn.recv_bytes(), pending)
            except (EOFError, OSError):
                conn.close()
                del self.conns[node]
                return
            if message is not None:
                handle(message)

    def _record_exit(self, node: int) -> None:
        process = self.processes[node]
        process.join(0)
        if process.exitcode is not None:
            self.exited[node] = process.exitcode

    def pump(self, timeout: float, handle: Any) -> None:
        """Wait up to ``timeout`` for node messages or exits and handle them."""
        sentinels = {
            self.processes[node].sentinel: node
            for node in range(self.config.nodes)
            if node not in self.exited
        }
        by_conn = {conn: node for node, conn in self.conns.items()}
        for ready in wait([*by_conn, *sentinels], timeout):
            if ready in by_conn:
                self._drain(by_conn[ready], handle)
            else:
                node = sentinels[ready]
                self._drain(node, handle)
                self._record_exit(node)

    # -- failure -------------------------------------------------------------------------
    def problem(self) -> bool:
        """A node reported an error or exited before sending every trial. (One that fails or
        exits badly after its last trial has no effect on the records: a warning at the end.
        A node's pipe keeps its order, so an error read after its last trial came after it.)"""
        if any(node not in self.finished for node in self.errors):
            return True
        return any(node not in self.finished for node in self.exited)

    def fail(self, handle: Any, reason: str | None = None) -> RunError:
        """Stop the others, gather what every node has to say, and name the root cause."""
        abort_barrier(self.barrier)
        deadline = time.monotonic() + _ERROR_GRACE
        while len(self.exited) < self.config.nodes and time.monotonic() < deadline:
            self.pump(max(0.0, deadline - time.monotonic()), handle)
        if any(error[2] == ERROR_OUTPUT for error in self.errors.values()):
            return OutputClosedError(self.diagnose(reason))
        return RunError(self.diagnose(reason))

    def diagnose(self, reason: str | None) -> str:
        parts: list[str] = []
        silent_dead = [
            node for node, code in sorted(self.exited.items())
            if node not in self.errors and (code != 0 or node not in self.finished)
        ]
        out_of_memory = self._out_of_memory(silent_dead)
        for node in silent_dead:
            trial, rnd, _ = self._where(node)
            how = _describe_exit(self.exited[node])
            if out_of_memory and self.exited[node] == -signal.SIGKILL:
                how = f"killed by the kernel for lack of memory: {out_of_memory}"
            parts.append(f"node {node} died ({how}) in trial {trial}, round {rnd}")
        primary = {
            node: error for node, error in self.errors.items()
            if error[2] not in (ERROR_TIMEOUT, ERROR_BARRIER)
        }
        for node, (trial, rnd, category, text, culprit) in sorted(primary.items()):
            if category == ERROR_PEER:
                # The receiver only noticed: the sender is the one at fault.
                parts.append(
                    f"node {culprit} broke the protocol in trial {trial}, round {rnd}: {text} "
                    "(a bug in paxos-exp; please report it)"
                )
            else:
                parts.append(f"node {node} failed in trial {trial}, round {rnd} ({category}): {text}")
        if not parts:
            parts.extend(self._stalled())
        if not parts:
            for node, (trial, rnd, category, text, _) in sorted(self.errors.items()):
                parts.append(f"node {node} failed in trial {trial}, round {rnd} ({category}): {text}")
        if reason is not None:
            parts.insert(0, reason)
        deadlines = any(
            error[2] in (ERROR_TIMEOUT, ERROR_BARRIER) for error in self.errors.values()
        ) or (reason is not None and "progress" in reason)
        if not parts:
            parts.append("the run failed for an unknown reason")
        hint = f". {_DEADLINE_HINT[0].upper()}{_DEADLINE_HINT[1:]}" if deadlines else ""
        return "; ".join(parts) + "; the other nodes were stopped" + hint

    def _out_of_memory(self, dead: list[int]) -> str | None:
        """Why the SIGKILLs among ``dead`` look like the out-of-memory killer's, or None."""
        if not any(self.exited[node] == -signal.SIGKILL for node in dead):
            return None
        need = needs(self.config.nodes, self.config.rounds).memory
        estimate = f"N={self.config.nodes} needs about {need / 2**30:.1f} GiB here"
        now = oom_kills()
        if now is not None and self.oom_before is not None:
            if now > self.oom_before:
                return f"the out-of-memory killer struck {now - self.oom_before} times; {estimate}"
            return None
        left = memory_available()
        if left is not None and left < (1 - MEMORY_SHARE) / 2 * need:
            return f"memory is nearly exhausted ({left / 2**20:.0f} MiB left); {estimate}"
        return None

    def _stalled(self) -> list[str]:
        """Name the nodes that hold the others up: alive, silent, and not waiting themselves.

        A node blocked in a receive or at the barrier of the latest round is waiting for
        someone else; a node still working, stopped by a signal, or whose progress is behind
        the others' (it passed a barrier and got no further) is the one they wait for.
        """
        silent = [
            node for node in range(self.config.nodes)
            if node not in self.errors and node not in self.finished and node not in self.exited
        ]
        latest = max((self._where(node)[:2] for node in range(self.config.nodes)), default=(0, 0))
        culprits = []
        for node in silent:
            trial, rnd, stage = self._where(node)
            stopped = _process_stopped(self.processes[node].pid)
            behind = (trial, rnd) < latest
            waiting = stage == STAGE_RECEIVE or (stage == STAGE_BARRIER and not behind)
            if stopped or not waiting:
                state = "stopped by a signal" if stopped else _STAGE_NAMES.get(stage, "?")
                culprits.append(
                    f"node {node} stopped responding in trial {trial}, round {rnd} ({state})"
                )
        if culprits:
            return culprits
        return [
            f"node {node} did not answer in trial {trial}, round {rnd} "
            f"({_STAGE_NAMES.get(stage, '?')})"
            for node in silent
            for trial, rnd, stage in [self._where(node)]
        ]

    # -- teardown ------------------------------------------------------------------------
    def close(self, aborting: bool) -> None:
        """Stop and reap every node process: those still alive (after a failure, or the
        stragglers of a slow teardown, which the caller already waited for) are terminated,
        then killed."""
        if aborting and self.barrier is not None:
            abort_barrier(self.barrier)
        deadline = time.monotonic() + (1.0 if aborting else 0.0)
        for process in self.processes:
            process.join(max(0.0, deadline - time.monotonic()))
        for process in self.processes:
            if process.is_alive():
                process.terminate()
        for process in self.processes:
            process.join(1.0)
            if process.is_alive():
                process.kill()
                process.join()
        for process in self.processes:
            process.close()
        for conn in self.conns.values():
            conn.close()
        self.conns.clear()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
        if self.owner_lock is not None:
            os.close(self.owner_lock)
            self.owner_lock = None


def _warn_unclean_exits(supervisor: _Supervisor, grace: float) -> None:
    """Name the nodes that, after sending every trial, reported an error, did not exit within
    ``grace`` seconds (they are terminated next) or exited unsuccessfully: the run's records
    are complete, so none of this fails it. (The job keeps these lines in its result.json.)"""
    nodes = supervisor.config.nodes
    for node, (_, _, category, text, _) in sorted(supervisor.errors.items())[:10]:
        log.warning("node %d reported an error after its last trial (%s): %s; every trial was "
                    "already recorded", node, category, text)
    late = [node for node in range(nodes) if node not in supervisor.exited]
    # A node that reported an error exits with status 1 by design: said once, above.
    unclean = {node: code for node, code in supervisor.exited.items()
               if code != 0 and node not in supervisor.errors}
    if late:
        log.warning(
            "node%s %s did not exit within %.0f s of the last trial (%s start method, N=%d); "
            "terminated. Every trial was already recorded", "s" if len(late) > 1 else "",
            ", ".join(map(str, late[:10])) + (", ..." if len(late) > 10 else ""), grace,
            supervisor.options.start_method, nodes,
        )
    for node, code in sorted(unclean.items())[:10]:
        log.warning("node %d exited after the last trial with %s; every trial was already "
                    "recorded", node, _describe_exit(code))


def run_processes(
    config: RunConfig,
    options: RuntimeOptions,
    sink: RecordSink,
    on_trial: Callable[[int, int], None] | None = None,
) -> RunStats:
    """Run every trial of ``config`` on N node processes, records into ``sink``; raise
    RunError on any failure."""
    nodes = config.nodes
    began = time.perf_counter()
    check_fits(nodes, config.rounds)  # before any process starts: one line if it cannot fit
    options = with_deadlines(options, nodes, config.rounds)
    supervisor = _Supervisor(config, options)
    ready: set[int] = set()
    # Each node's chunks of rounds not yet merged, oldest first. Nodes move in lockstep (a
    # barrier per round), so these hold a chunk or two at most.
    chunks: list[deque[tuple[Any, ...]]] = [deque() for _ in range(nodes)]
    trials_sent = [0] * nodes
    foreign = 0

    def handle(message: tuple[Any, ...]) -> None:
        kind, node = message[0], message[1]
        if kind == "ready":
            ready.add(node)
        elif kind == "rounds":
            chunks[node].append(message)
            if message[6]:
                trials_sent[node] += 1
                if trials_sent[node] == config.trials:
                    supervisor.finished.add(node)
        elif kind == "error":
            supervisor.errors.setdefault(node, tuple(message[2:]))

    aborting = True
    ready_at = finished_at = began
    try:
        supervisor.start()
        stall_limit = max(options.receive_timeout, options.barrier_timeout) + 5.0
        startup_deadline = time.monotonic() + options.startup_timeout + 5.0
        last_change = time.monotonic()
        last_seen: tuple[Any, ...] = ()
        next_trial = 0
        assembler: TrialAssembler | None = None
        while next_trial < config.trials:
            supervisor.pump(_WATCH_INTERVAL, handle)
            if supervisor.problem():
                raise supervisor.fail(handle)
            if len(ready) == nodes and ready_at == began:
                ready_at = time.perf_counter()
            while all(chunks):
                heads = [queue.popleft() for queue in chunks]
                if assembler is None:
                    assembler = TrialAssembler(config, next_trial)
                traces = [head[4] for head in heads] if config.trace else None
                records, trace_records = assembler.add_chunk([head[3] for head in heads], traces)
                foreign += sum(head[5] for head in heads)
                sink.add_rounds(records, trace_records)
                if heads[0][6]:
                    sink.add_trial(assembler.finish())
                    assembler = None
                    next_trial += 1
                    if on_trial is not None:
                        on_trial(next_trial, config.trials)
            now = time.monotonic()
            if len(ready) < nodes:
                if now > startup_deadline:
                    missing = sorted(set(range(nodes)) - ready)
                    raise supervisor.fail(
                        handle, f"nodes {missing} did not start within {options.startup_timeout:g} s"
                    )
                continue
            seen = (tuple(supervisor.progress), tuple(trials_sent))
            if seen != last_seen:
                last_seen, last_change = seen, now
            elif now - last_change > stall_limit:
                raise supervisor.fail(handle, f"no node made progress for {stall_limit:g} s")
        finished_at = time.perf_counter()
        # Every node has sent its last trial, and every trial is in the sink (safety-checked
        # there); each node now exits on its own. Nothing that happens from here on can change
        # a record: an error a node reports on its way out, a slow or an unclean exit, is a
        # warning naming the node, never a failure that would throw the finished trials away.
        grace = teardown_grace(nodes, options.start_method)
        deadline = time.monotonic() + grace
        while len(supervisor.exited) < nodes and time.monotonic() < deadline:
            supervisor.pump(max(0.0, deadline - time.monotonic()), handle)
        _warn_unclean_exits(supervisor, grace)
        aborting = False
    finally:
        supervisor.close(aborting)
    ended = time.perf_counter()
    if ready_at == began:
        ready_at = finished_at
    return RunStats(
        engine="processes",
        timings=Timings(startup=ready_at - began, rounds=finished_at - ready_at, teardown=ended - finished_at),
        start_method=options.start_method,
        foreign_messages=foreign,
    )
