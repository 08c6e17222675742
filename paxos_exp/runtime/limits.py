"""What a run needs from this machine, checked before any process starts.

A run of N nodes costs N processes (three threads each: the node and ZeroMQ's I/O and reaper
threads), a ZeroMQ context per node with one socket per peer it sends to, file descriptors
for every connection, and memory that grows with the number of connections. Each is checked
against what the machine gives (resource limits, the cgroup's memory limit, available
memory), and a run that cannot fit fails at once with one line naming the limit and the
largest N that fits. The same figures give the default deadlines, which grow with N.

The per-node and per-connection memory figures were measured on this project's 2-core
development machine (``experiments/benchmarks/bench_limits.py``); they are deliberately
rounded up.
"""

from __future__ import annotations

import functools
import os
import resource
from dataclasses import dataclass, replace

from paxos_exp.core.config import RuntimeOptions
from paxos_exp.core.errors import ConfigError

# Measured proportional set size (PSS) of one node process before it connects (interpreter,
# libzmq, the protocol: 3.5 MB at N=300, 4.1 MB at N=2000, as a forked node inherits more of a
# larger supervisor), and of one PUSH->PULL connection (both ends' libzmq pipes and buffers,
# 52-55 kB, plus about 10 kB of kernel socket memory), rounded up.
NODE_BYTES = 5 << 20
CONNECTION_BYTES = 64 << 10
SUPERVISOR_BYTES = 64 << 20
MEMORY_SHARE = 0.8  # of what is available: leave room for everything else on the machine
THREADS_PER_NODE = 3  # the node's own, libzmq's I/O thread and its reaper
# Descriptors per node: its PULL and the context's own (mailboxes, epoll), then per
# connection one for the socket's end and one for its libzmq mailbox.
NODE_FDS = 32
FDS_PER_CONNECTION = 3
# Per round of a run, how long a busy 2-core machine can take per node (the barrier wakes
# every node, and the leader handles N messages per phase), and per connection to set up.
SECONDS_PER_NODE = 0.05
SECONDS_PER_CONNECTION = 0.002


class LimitError(ConfigError):
    """A configuration this machine cannot run; the message names the limit and what fits."""


@dataclass(frozen=True)
class Needs:
    """What one run of ``nodes`` nodes and ``rounds`` rounds asks of the machine."""

    nodes: int
    connections: int  # PUSH->PULL connections over all nodes
    most_sockets: int  # ZeroMQ sockets in the busiest node's context
    most_fds: int  # descriptors of the busiest node
    memory: int  # bytes, supervisor included
    threads: int


def connections(nodes: int, rounds: int) -> tuple[int, int]:
    """(connections over all nodes, the most any node opens): see ``send_targets``."""
    leaders = min(rounds, nodes)
    if leaders == 0:
        return 0, 0
    # Leaders connect to every node; every other node to the leaders only.
    total = leaders * nodes + (nodes - leaders) * leaders
    return total, nodes


def needs(nodes: int, rounds: int) -> Needs:
    total, most = connections(nodes, rounds)  # the counts send_targets gives, in O(1)
    incoming = nodes if rounds else 0  # a leader receives from every node
    return Needs(
        nodes=nodes,
        connections=total,
        most_sockets=most + 1,
        most_fds=NODE_FDS + FDS_PER_CONNECTION * (most + incoming),
        memory=SUPERVISOR_BYTES + NODE_BYTES * nodes + CONNECTION_BYTES * total,
        threads=THREADS_PER_NODE * nodes,
    )


def default_deadlines(nodes: int, rounds: int, start_method: str = "fork") -> tuple[float, float, float]:
    """(startup, receive, barrier) seconds for a run when the user sets none: the historic
    60 s and 10 s, grown with N so that any N that fits here also runs with the defaults
    (spawn and forkserver start a fresh interpreter per node: twice the start-up)."""
    total, _ = connections(nodes, rounds)
    startup = 60.0 + SECONDS_PER_NODE * nodes + SECONDS_PER_CONNECTION * total
    if start_method != "fork":
        startup *= 2
    per_round = 10.0 + SECONDS_PER_NODE * nodes
    return startup, per_round, per_round


def with_deadlines(options: RuntimeOptions, nodes: int, rounds: int) -> RuntimeOptions:
    """``options`` with every deadline the user left unset chosen for this run's size."""
    startup, receive, barrier = default_deadlines(nodes, rounds, options.start_method)
    return replace(
        options,
        startup_timeout=startup if options.startup_timeout is None else options.startup_timeout,
        receive_timeout=receive if options.receive_timeout is None else options.receive_timeout,
        barrier_timeout=barrier if options.barrier_timeout is None else options.barrier_timeout,
    )


def raise_fd_limit(needed: int) -> None:
    """Raise this process's soft limit on open files towards ``needed`` (never past the
    hard limit, which only root may raise): distributions default to a soft 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass  # the check before start said it fits; a failure shows as an error later


# -- what the machine gives ---------------------------------------------------------------


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


def _meminfo(field: str) -> int | None:
    text = _read("/proc/meminfo")
    for line in (text or "").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return None


def cgroup_memory_dir() -> str | None:
    """This process's memory cgroup directory (v2, or v1's memory controller), if visible."""
    text = _read("/proc/self/cgroup") or ""
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # v2
            candidate = "/sys/fs/cgroup" + path
            if os.path.exists(os.path.join(candidate, "memory.max")):
                return candidate
        elif "memory" in controllers.split(","):
            candidate = "/sys/fs/cgroup/memory" + path
            if os.path.isdir(candidate):
                return candidate
    return None


def cgroup_memory_left() -> int | None:
    """Bytes the cgroup still allows (its limit less its usage), or None if unlimited."""
    directory = cgroup_memory_dir()
    if directory is None:
        return None
    for limit_file, usage_file in (("memory.max", "memory.current"),
                                   ("memory.limit_in_bytes", "memory.usage_in_bytes")):
        limit, usage = _read(os.path.join(directory, limit_file)), _read(os.path.join(directory, usage_file))
        if limit is None or usage is None:
            continue
        limit = limit.strip()
        if limit == "max" or int(limit) >= 1 << 60:
            return None
        return max(0, int(limit) - int(usage))
    return None


def oom_kills() -> int | None:
    """The out-of-memory kills counted for this cgroup (or, failing that, the whole system)."""
    directory = cgroup_memory_dir()
    names = ["memory.events", "memory.oom_control"] if directory else []
    for name in names:
        text = _read(os.path.join(directory, name)) or ""  # type: ignore[arg-type]
        for line in text.splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
    for line in (_read("/proc/vmstat") or "").splitlines():
        if line.startswith("oom_kill "):
            return int(line.split()[1])
    return None


def memory_available() -> int | None:
    """Bytes a run may use: the smaller of MemAvailable and what the cgroup still allows."""
    found = [value for value in (_meminfo("MemAvailable"), cgroup_memory_left()) if value is not None]
    return min(found) if found else None


def _limit(kind: int) -> int | None:
    soft, hard = resource.getrlimit(kind)
    limit = hard if hard != resource.RLIM_INFINITY else soft
    return None if limit == resource.RLIM_INFINITY else int(limit)


def _system_threads() -> int:
    """Threads running on the whole system now (the total of /proc/loadavg's "running/total";
    0 when it cannot be read)."""
    fields = (_read("/proc/loadavg") or "").split()
    try:
        return int(fields[3].split("/")[1])
    except (IndexError, ValueError):
        return 0


def _user_threads() -> int:
    """Threads this user runs now (what RLIMIT_NPROC counts); 0 when /proc cannot tell."""
    uid, count = os.getuid(), 0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}").st_uid == uid:
                status = _read(f"/proc/{entry}/status") or ""
                count += next((int(line.split()[1]) for line in status.splitlines()
                               if line.startswith("Threads:")), 1)
        except OSError:
            continue
    return count


@functools.lru_cache(maxsize=1)
def _zmq_socket_limit() -> int:
    """libzmq's ceiling for a context's MAX_SOCKETS, read from a throwaway context: a
    lasting one here would be inherited by every forked node (DESIGN: never across fork)."""
    try:
        import zmq

        context = zmq.Context()
        try:
            return int(context.get(zmq.SOCKET_LIMIT))
        finally:
            context.term()
    except Exception:  # noqa: BLE001 - a missing or odd libzmq: do not guess a limit
        return 1 << 30


@dataclass(frozen=True)
class Machine:
    """What this machine gives a run."""

    memory: int | None  # bytes available
    fds: int | None  # hard RLIMIT_NOFILE (a node raises its soft limit up to it)
    threads: int | None  # threads this user may still start (RLIMIT_NPROC, pid_max, threads-max)
    zmq_sockets: int  # libzmq's ceiling for MAX_SOCKETS

    @staticmethod
    def here() -> Machine:
        zmq_sockets = _zmq_socket_limit()
        caps = []
        # Root is not held to RLIMIT_NPROC (the kernel exempts it); everyone else is, and it
        # counts this user's threads, which only a scan of /proc can tell.
        nproc = _limit(resource.RLIMIT_NPROC) if os.geteuid() != 0 else None
        if nproc is not None:
            caps.append(nproc - _user_threads())
        # pid_max, threads-max and a pids cgroup count every thread of the system.
        running = _system_threads()
        for text in (_read("/proc/sys/kernel/pid_max"), _read("/proc/sys/kernel/threads-max"),
                     _read("/sys/fs/cgroup/pids/pids.max") or _read("/sys/fs/cgroup/pids.max")):
            if text and text.strip().isdigit():
                caps.append(int(text) - running)
        return Machine(
            memory=memory_available(),
            fds=_limit(resource.RLIMIT_NOFILE),
            threads=min(caps) if caps else None,
            zmq_sockets=zmq_sockets,
        )


def problem(need: Needs, machine: Machine) -> str | None:
    """Which limit ``need`` exceeds on ``machine``, in words, or None when it fits."""
    if machine.memory is not None and need.memory > MEMORY_SHARE * machine.memory:
        return (f"memory: about {need.memory / 2**30:.1f} GiB needed, "
                f"{machine.memory / 2**30:.1f} GiB available")
    if machine.fds is not None and need.most_fds > machine.fds:
        return (f"open files: a node needs about {need.most_fds} descriptors, the limit is "
                f"{machine.fds} (ulimit -Hn)")
    if machine.threads is not None and need.threads > machine.threads:
        return (f"processes: {need.nodes} nodes need {need.threads} threads, this user may "
                f"start {max(0, machine.threads)} more (ulimit -u, kernel.pid_max)")
    if need.most_sockets > machine.zmq_sockets:
        return (f"ZeroMQ sockets: a node needs {need.most_sockets}, libzmq allows "
                f"{machine.zmq_sockets}")
    return None


def largest_fitting(rounds: int, machine: Machine, upper: int) -> int:
    """The largest N (below ``upper``) whose run of ``rounds`` rounds fits ``machine``."""
    low, high = 0, upper  # fits(low) holds (N=0 trivially); fits(high) does not
    while high - low > 1:
        middle = (low + high) // 2
        if problem(needs(middle, rounds), machine) is None:
            low = middle
        else:
            high = middle
    return low


def check_fits(nodes: int, rounds: int, machine: Machine | None = None) -> Needs:
    """Raise LimitError, naming the limit and the largest N that fits, if a run of ``nodes``
    node processes cannot run on this machine; return what it needs otherwise."""
    need = needs(nodes, rounds)
    machine = machine or Machine.here()
    reason = problem(need, machine)
    if reason is None:
        return need
    largest = largest_fitting(rounds, machine, nodes)
    raise LimitError(
        f"nodes={nodes} does not fit on this machine ({reason}); the largest N that fits "
        f"here with rounds={rounds} is {largest}"
        + ("" if rounds < nodes else " (a run with fewer rounds than nodes opens far fewer connections)")
        + "; or use engine=inprocess, which starts no processes"
    )


# The in-process engine keeps a few small objects per node (state, wire, inbox) and a trace
# row per message of a round; rounded up.
INPROCESS_NODE_BYTES = 4 << 10


def check_fits_inprocess(nodes: int, machine: Machine | None = None) -> None:
    """Raise LimitError if the in-process engine cannot hold ``nodes`` nodes in memory here."""
    memory = (machine or Machine.here()).memory
    need = SUPERVISOR_BYTES + INPROCESS_NODE_BYTES * nodes
    if memory is not None and need > MEMORY_SHARE * memory:
        largest = int((MEMORY_SHARE * memory - SUPERVISOR_BYTES) // INPROCESS_NODE_BYTES)
        raise LimitError(
            f"nodes={nodes} does not fit on this machine (memory: the in-process engine needs "
            f"about {need / 2**30:.1f} GiB, {memory / 2**30:.1f} GiB available); the largest "
            f"N that fits here is {largest}"
        )
