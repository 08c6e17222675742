"""Drawing a report's figures into files: one after another, or several at a time in worker
processes (figures are most of a report's time, and each is independent of the others).

Workers are forked (Linux), so they start at once with the frames and the figure builders in
memory; nothing is pickled but figure names and outcomes. They ignore Ctrl-C (the parent stops
them), and the parent waits for all of them with a deadline: a figure not drawn by then is
reported as not drawn, and the workers are terminated. A figure that cannot be built is
reported, never fatal; one that cannot be written (a full disk) stops the report, whichever
way it is drawn.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from paxos_exp.analysis.style import FigureStyle

# Seconds for all the figures of a report drawn in workers (a figure takes about a second).
FIGURE_DEADLINE = 600.0

Saver = Callable[[Any, Path, str, Sequence[str], FigureStyle, "float | None"], Any]

# What forked workers draw: set by the parent just before it forks, cleared after.
_JOB: dict[str, Any] = {}


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity, e.g. a SLURM or cgroup allotment)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def can_fork() -> bool:
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def _draw_one(name: str, build: Callable[[], Any], directory: Path, formats: Sequence[str],
              style: FigureStyle, dpi: float | None, save: Saver) -> str | None:
    """Build and save one figure; the reason it was not drawn, or None. A figure that cannot
    be built is reported; one that cannot be written (a full disk) stops the report."""
    try:
        with style.applied():
            figure = build()
    except Exception as error:  # noqa: BLE001 - one bad figure must not stop the report
        return f"{type(error).__name__}: {error}"
    save(figure, directory, name, formats, style, dpi)
    return None


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle


def _draw_in_worker(name: str) -> tuple[str, str | None]:
    builders, directory, formats, style, dpi, save = _JOB["figures"]
    return name, _draw_one(name, builders[name], directory, formats, style, dpi, save)


def draw_figures(
    builders: dict[str, Callable[[], Any]],
    directory: Path,
    formats: Sequence[str],
    style: FigureStyle,
    dpi: float | None,
    save: Saver,
    workers: int = 1,
    deadline: float = FIGURE_DEADLINE,
) -> dict[str, str | None]:
    """Draw every figure of ``builders`` (name -> function returning a Figure) into
    ``directory`` with ``save``; returns, in the builders' order, each name with the reason it
    was not drawn (None when it was). ``workers`` > 1 draws that many at a time in forked
    processes (where the platform forks; one at a time otherwise)."""
    names = list(builders)
    workers = min(workers, len(names))
    if workers <= 1 or not can_fork():
        return {name: _draw_one(name, builders[name], directory, formats, style, dpi, save)
                for name in names}
    # The costliest first (the first-round figure has the most panels), so none waits last.
    queue = sorted(names, key=lambda name: name != "first_decision_round")
    outcome: dict[str, str | None] = {}
    _JOB["figures"] = (builders, directory, formats, style, dpi, save)
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(workers, initializer=_ignore_interrupts) as pool:
            drawn = pool.imap_unordered(_draw_in_worker, queue)
            end = time.monotonic() + deadline
            try:
                for _ in queue:
                    name, why = drawn.next(timeout=max(0.0, end - time.monotonic()))
                    outcome[name] = why
            except multiprocessing.TimeoutError:
                pass  # the pool is terminated on leaving the block
            else:
                pool.close()
                pool.join()
    finally:
        _JOB.clear()
        # A worker stopped while saving (the deadline, another worker's error, Ctrl-C) leaves
        # its temporary: remove those of every figure not drawn, on every way out.
        for name in set(names) - set(outcome):
            for temporary in directory.glob(f".{name}.*.tmp.*"):
                temporary.unlink(missing_ok=True)
    return {name: outcome[name] if name in outcome else
            f"not drawn within {deadline:g} s (the workers were stopped)" for name in names}
