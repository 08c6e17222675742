"""The program of one node process: ZeroMQ PULL/PUSH sockets, a barrier per round.

This module is imported by name in spawned children, so it must stay importable on its own.
It reports to the supervisor through a one-way pipe: ``ready`` once, one ``trial`` message per
trial (all rounds' tallies and trace rows at once), or one ``error`` message.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import signal
import sys
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import zmq

from paxos_exp.core.config import RunConfig, RuntimeOptions
from paxos_exp.core.driver import RoundDriver, TrialRun
from paxos_exp.core.errors import ProtocolError
from paxos_exp.core.messages import MAX_ENVELOPE_BYTES, Envelope, Message, Phase, misplaced, quote
from paxos_exp.core.node import leader_of, send_targets, senders_to
from paxos_exp.core.records import ROUND_CHUNK
from paxos_exp.runtime.limits import needs, raise_fd_limit

# Progress slots per node in the shared array: trial, round, stage. The supervisor reads them
# only to name the culprit when a run fails; a node writes them without a lock.
PROGRESS_SLOTS = 3
STAGE_STARTING = 0  # before the start-up barrier
STAGE_ROUND = 1  # working: computing or sending
STAGE_RECEIVE = 2  # blocked in a receive (waiting for another node)
STAGE_BARRIER = 3  # at (or inside) the round barrier
STAGE_DONE = 4
STAGE_OUTPUT = 5  # writing the transcript to stdout (blocks while nobody reads it)

# Error categories a node reports; the supervisor uses them to find the root cause.
ERROR_TIMEOUT = "timeout"
ERROR_BARRIER = "barrier"
ERROR_PROTOCOL = "protocol"
ERROR_PEER = "peer"  # another node of the run sent a message the protocol does not allow
ERROR_CRASH = "crash"
ERROR_OUTPUT = "output"  # stdout closed under the transcript (a pipe into `head`)

_PIPE_BUF = 4096  # writes up to this size to a pipe are atomic: lines never tear
# Reports go to the supervisor in frames whose whole write (4-byte length, 1-byte flag,
# payload) fits in PIPE_BUF: a node that dies or stops mid-report never leaves half a frame,
# so the supervisor's read of a frame it was told is ready never blocks.
_FRAME_PAYLOAD = _PIPE_BUF - 5
_MORE, _LAST = b"+", b"."
# Messages queued per connection: a PUSH never has more than two in flight (one per phase,
# each received before the round's barrier), so a small mark never blocks the protocol; it
# only bounds what a foreign sender can make a node hold.
_HIGH_WATER_MARK = 16


def send_report(conn: Connection, message: tuple[Any, ...]) -> None:
    """Send one message to the supervisor as atomic frames (see :func:`read_frame`)."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    for start in range(0, len(data), _FRAME_PAYLOAD):
        end = start + _FRAME_PAYLOAD
        conn.send_bytes((_LAST if end >= len(data) else _MORE) + data[start:end])


def read_frame(frame: bytes, pending: bytearray) -> tuple[Any, ...] | None:
    """Add one frame to ``pending``; return the whole message once its last frame arrived."""
    pending += frame[1:]
    if frame[:1] != _LAST:
        return None
    message = pickle.loads(bytes(pending))
    pending.clear()
    return message


def endpoint(directory: str, node: int) -> str:
    return f"ipc://{directory}/{node}"


@dataclass(frozen=True)
class NodeArgs:
    """Everything a node needs; picklable for spawn and forkserver."""

    node: int
    config: RunConfig
    options: RuntimeOptions
    directory: str
    supervisor_pid: int  # this node's parent, or 0 when that is a forkserver
    token: bytes  # the run's token: every envelope carries it (see core.messages)
    # Descriptors a forked node inherits but must not keep: the socket directory's owner lock
    # belongs to the supervisor alone, so it frees the moment the supervisor dies.
    inherited_fds: tuple[int, ...] = ()


class _Timeout(Exception):
    pass


class _Misplaced(Exception):
    """A message of this run that breaks the protocol: the fault of its sender."""

    def __init__(self, sender: int, text: str) -> None:
        super().__init__(text)
        self.sender = sender


def write_lines(text_lines: list[str]) -> None:
    """Write whole lines to stdout, each write at most PIPE_BUF bytes so no line tears."""
    chunk: list[bytes] = []
    size = 0
    for line in text_lines:
        data = (line + "\n").encode()
        if size + len(data) > _PIPE_BUF and chunk:
            os.write(1, b"".join(chunk))
            chunk, size = [], 0
        chunk.append(data)
        size += len(data)
    if chunk:
        os.write(1, b"".join(chunk))


def node_main(args: NodeArgs, barrier: Any, conn: Connection, progress: Any) -> None:
    """Entry point of a node process. Never raises: errors go to the supervisor's pipe."""
    node = args.node
    where = [0, 0]  # trial, round: for error messages
    try:
        # Ctrl-C reaches the whole process group; the supervisor alone decides what to do.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # A forked child may inherit the CLI's SIGTERM handler; a node just dies on SIGTERM.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _die_with_parent(args.supervisor_pid)
        for fd in args.inherited_fds:
            os.close(fd)  # not LOCK_UN: that would drop the supervisor's lock too
        _run_node(args, barrier, conn, progress, where)
    except _Timeout as error:
        _report_error(conn, node, where, ERROR_TIMEOUT, str(error))
    except threading.BrokenBarrierError:
        _report_error(conn, node, where, ERROR_BARRIER, "the round barrier was broken or timed out")
    except _Misplaced as error:
        _report_error(conn, node, where, ERROR_PEER, str(error), error.sender)
    except ProtocolError as error:
        _report_error(conn, node, where, ERROR_PROTOCOL, str(error))
    except BrokenPipeError:
        _report_error(conn, node, where, ERROR_OUTPUT, "standard output was closed")
    except BaseException as error:  # noqa: BLE001 - anything else is reported, then we exit
        _report_error(conn, node, where, ERROR_CRASH, f"{type(error).__name__}: {error}")
    finally:
        conn.close()


def _die_with_parent(supervisor_pid: int) -> None:
    """Never outlive the parent (Linux): an orphan could wait forever on a lock a dead peer
    held inside the barrier, where no deadline applies. The parent is the supervisor, or the
    forkserver (``supervisor_pid`` 0), which exits with the supervisor's process."""
    if not sys.platform.startswith("linux"):
        return
    parent = supervisor_pid or os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _report_error(
    conn: Connection, node: int, where: list[int], category: str, text: str, culprit: int | None = None
) -> None:
    try:
        send_report(conn, ("error", node, where[0], where[1], category, text, culprit))
    except (OSError, ValueError):
        pass  # the supervisor is gone; nothing left to tell
    raise SystemExit(1)


class _Inbox:
    """A node's PULL socket, admitting only this run's messages that belong where it is.

    A message without the run's token is foreign (another process pushed it into the socket):
    it is dropped before the protocol sees it, and counted. A message with the token comes
    from the run's own nodes, so one in the wrong trial, round or phase, from a sender whose
    role does not send it, or a second one from the same sender in a phase, is a bug: the
    run fails, naming the node that sent it.
    """

    __slots__ = ("pull", "pushes", "token", "node", "timeout", "progress", "stage", "foreign",
                 "trial", "round", "leader")

    def __init__(self, pull: zmq.Socket, pushes: list[zmq.Socket | None], token: bytes,
                 node: int, timeout: float, progress: Any) -> None:
        self.pull, self.pushes, self.token, self.node = pull, pushes, token, node
        self.timeout, self.progress, self.stage = timeout, progress, node * PROGRESS_SLOTS + 2
        self.foreign = 0  # dropped since the last report
        self.trial = self.round = self.leader = 0  # where the node is: set before each round

    def deliver(self, trial: int, rnd: int, phase: Phase, receiver: int, message: Message) -> None:
        self.pushes[receiver].send(  # type: ignore[union-attr] - targets cover every receiver
            Envelope(trial, rnd, phase, message).encode(self.token)
        )

    def receive(self, trial: int, node: int, phase: Phase, count: int) -> list[Message]:
        """The next ``count`` messages of this phase, one per sender, within the deadline."""
        if not count:
            return []
        pull = self.pull
        # Each message has the whole receive deadline, as without foreign traffic (the
        # socket's RCVTIMEO). Only while foreign messages are being dropped is the deadline
        # kept by hand, from the start of the wait they interrupt, so they never extend it.
        deadline = None
        senders: set[int] = set()
        received: list[Message] = []
        self.progress[self.stage] = STAGE_RECEIVE
        while len(received) < count:
            try:
                if deadline is None:
                    waiting_since = time.monotonic()
                    data = pull.recv()
                else:
                    left = deadline - time.monotonic()
                    if left <= 0 or not pull.poll(max(1, int(left * 1000))):
                        raise zmq.Again()
                    data = pull.recv(zmq.NOBLOCK)
            except zmq.Again:
                raise _Timeout(
                    f"no message within {self.timeout:g} s in the {phase.name.lower()} phase "
                    "(the receive deadline)"
                ) from None
            try:
                envelope = Envelope.decode(data, self.token)
            except ProtocolError as error:
                raise ProtocolError(f"{error}; seen by node {self.node}") from None
            if envelope is None:
                self.foreign += 1
                if deadline is None:
                    deadline = waiting_since + self.timeout
                continue
            deadline = None
            message = envelope.message
            reason = misplaced(envelope, self.trial, self.round, phase, self.leader, self.node)
            if reason is None and message.sender in senders:
                reason = f"is a second {phase.name.lower()}-phase message from node {message.sender}"
            if reason is not None:
                raise _Misplaced(
                    message.sender,
                    f"node {message.sender} sent {message.body!r} to node {self.node}, which "
                    f"{reason}",
                )
            senders.add(message.sender)
            received.append(message)
        self.progress[self.stage] = STAGE_ROUND
        return received


def _run_node(args: NodeArgs, barrier: Any, conn: Connection, progress: Any, where: list[int]) -> None:
    node, config, options = args.node, args.config, args.options
    nodes = config.nodes
    base = node * PROGRESS_SLOTS
    targets = send_targets(node, nodes, config.rounds)
    raise_fd_limit(needs(nodes, config.rounds).most_fds)
    context = zmq.Context()
    # libzmq's default of 1023 sockets per context is too few for a node of a large run.
    if len(targets) + 16 > context.get(zmq.MAX_SOCKETS):
        context.set(zmq.MAX_SOCKETS, len(targets) + 16)
    pushes: list[zmq.Socket | None] = [None] * nodes
    pull = context.socket(zmq.PULL)
    try:
        pull.setsockopt(zmq.LINGER, 0)
        pull.setsockopt(zmq.RCVTIMEO, max(1, int(options.receive_timeout * 1000)))
        # The socket itself refuses (and disconnects) a sender of anything longer.
        pull.setsockopt(zmq.MAXMSGSIZE, MAX_ENVELOPE_BYTES)
        _small_buffers(pull)
        pull.bind(endpoint(args.directory, node))
        # Every PULL is bound before any PUSH connects: no reconnect delay on first messages.
        barrier.wait(options.startup_timeout)
        for peer in targets:
            push = context.socket(zmq.PUSH)
            # Every message is received before the round's barrier, so nothing is queued when a
            # socket closes; zero linger keeps a failed run from blocking context termination.
            push.setsockopt(zmq.LINGER, 0)
            _small_buffers(push)
            push.connect(endpoint(args.directory, peer))
            pushes[peer] = push
        foreign = _greet(pull, pushes, targets, args.token, senders_to(node, nodes, config.rounds),
                         options.startup_timeout)
        # Round 0 starts only once every connection carried a message: libzmq makes them in
        # the background after connect() returns, which for a large N takes longer than a
        # round's deadline, so none of round 0's deadlines may run while they are made.
        barrier.wait(options.startup_timeout)
        send_report(conn, ("ready", node))
        inbox = _Inbox(pull, pushes, args.token, node, options.receive_timeout, progress)
        inbox.foreign = foreign
        out: list[str] = []
        driver = RoundDriver(config.protocol_plugin, config.quorums, config.build_faults(), nodes,
                             [node], inbox, _NodeLines(out) if options.transcript else None)
        for trial in range(config.trials):
            run = TrialRun(trial, config.initial_values_for(trial), [node], nodes, config.trace)
            runs = [run]
            for rnd in range(config.rounds):
                where[0], where[1] = trial, rnd
                progress[base] = trial
                progress[base + 1] = rnd
                progress[base + 2] = STAGE_ROUND
                inbox.trial, inbox.round, inbox.leader = trial, rnd, leader_of(rnd, nodes)
                driver.play(rnd, runs)
                if out:
                    progress[base + 2] = STAGE_OUTPUT
                    write_lines(out)
                    out.clear()
                progress[base + 2] = STAGE_BARRIER
                barrier.wait(options.barrier_timeout)
                if len(run.reports[node]) == ROUND_CHUNK and rnd + 1 < config.rounds:
                    # Long trials travel in chunks of rounds: no one holds a whole trial.
                    _send_rounds(conn, run, node, inbox, False)
                    run.new_chunk()
            _send_rounds(conn, run, node, inbox, True)
        progress[base + 2] = STAGE_DONE
    finally:
        for push in pushes:
            if push is not None:
                push.close(linger=0)
        pull.close(linger=0)
        context.term()


_GREETING = b"HELLO"


def _greet(pull: zmq.Socket, pushes: list[zmq.Socket | None], targets: list[int], token: bytes,
           expected: int, timeout: float) -> int:
    """Send the run's token once over every connection and wait for every node that sends
    to this one to do the same; returns the foreign messages dropped meanwhile."""
    greeting = token + _GREETING
    for peer in targets:
        pushes[peer].send(greeting)  # type: ignore[union-attr]
    deadline = time.monotonic() + timeout
    received = foreign = 0
    while received < expected:
        left = deadline - time.monotonic()
        if left <= 0 or not pull.poll(max(1, int(left * 1000))):
            raise _Timeout(
                f"only {received} of the {expected} nodes that send to this one were connected "
                f"within {timeout:g} s (the start-up deadline)"
            )
        data = pull.recv(zmq.NOBLOCK)
        if data == greeting:
            received += 1
        elif len(data) >= len(token) and data.startswith(token):
            raise ProtocolError(f"a node of this run sent {quote(data[len(token):])} before round 0")
        else:
            foreign += 1
    return foreign


def _small_buffers(socket: zmq.Socket) -> None:
    """At most a couple of tiny messages are ever in flight on one socket of this protocol."""
    socket.setsockopt(zmq.SNDHWM, _HIGH_WATER_MARK)
    socket.setsockopt(zmq.RCVHWM, _HIGH_WATER_MARK * 4)


class _NodeLines:
    """This node's transcript: a round's first line is written at once, the rest before the
    round's barrier (every line of round r is out before any of round r+1)."""

    __slots__ = ("line",)

    def __init__(self, out: list[str]) -> None:
        self.line = out.append

    def opening(self, line: str) -> None:
        write_lines([line])  # the stage stays "working": one line


def _send_rounds(conn: Connection, run: TrialRun, node: int, inbox: _Inbox, last: bool) -> None:
    trace = None if run.traces is None else run.traces[node]
    send_report(conn, ("rounds", node, run.trial, run.reports[node], trace, inbox.foreign, last))
    inbox.foreign = 0
