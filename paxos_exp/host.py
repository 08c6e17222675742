"""What paxos-exp asks of the machine and the process it runs in, written once for every layer:
the CPUs this process may use, and SIGTERM turned into an exception.

Standard library only, and no paxos-exp import: the analysis, the runtime, the Hydra app and the
launcher plug-ins all use it. (Not named ``platform``: a module of that name would shadow the
standard library's for any script run from inside the package directory.)
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from typing import Any

SIGTERM_STATUS = 128 + signal.SIGTERM  # 143: the shell's status for a command ended by SIGTERM


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity, which a SLURM allotment, ``taskset`` or a
    cgroup cpuset narrows (``os.cpu_count()`` counts the whole machine)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


class Terminated(SystemExit):
    """SIGTERM arrived (``kill``, a scheduler or launcher cancelling). A SystemExit with status
    143, raised where the main thread is, so the way out runs every ``finally`` (node
    processes stopped, sockets and temporary files removed) just as Ctrl-C does."""

    def __init__(self) -> None:
        super().__init__(SIGTERM_STATUS)


class _RaiseTerminated:
    """The SIGTERM handler: raises :class:`Terminated` once. A second SIGTERM while the first
    unwinds (a scheduler that signals twice, an impatient ``kill``) is ignored, so it cannot
    cut a ``finally`` short and leave a node process or a temporary file behind; SIGKILL
    still ends everything."""

    terminating = False  # shared by every installed handler: one process, one way out

    def __call__(self, _signum: int, _frame: Any) -> None:
        if _RaiseTerminated.terminating:
            return
        _RaiseTerminated.terminating = True
        raise Terminated()


def sigterm_raises() -> Callable[[], None]:
    """From now on SIGTERM raises :class:`Terminated` in the main thread; returns the undo
    (which restores the handler there was). Off the main thread, where Python cannot set a
    handler, it does nothing."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGTERM, _RaiseTerminated())

    def undo() -> None:
        signal.signal(signal.SIGTERM, previous)
        if not isinstance(previous, _RaiseTerminated):
            _RaiseTerminated.terminating = False  # none of ours is left: a new SIGTERM is news

    return undo
