"""The in-process engine: the round driver over plain lists, no processes or sockets.

It is the reference the real runtime is tested against (identical records for the same seed)
and fast enough for very large statistical sweeps.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from paxos_exp.core.assemble import TrialAssembler
from paxos_exp.core.config import RunConfig
from paxos_exp.core.driver import MemoryNetwork, RoundDriver, TrialRun
from paxos_exp.core.records import ROUND_CHUNK, RecordSink, RunStats, Timings

Emit = Callable[[str], None]


class _Lines:
    """The transcript of every node, in the order the driver plays their steps."""

    __slots__ = ("opening", "line")

    def __init__(self, emit: Emit) -> None:
        self.opening = self.line = emit


def run_inprocess(
    config: RunConfig,
    sink: RecordSink,
    emit: Emit | None = None,
    on_trial: Callable[[int, int], None] | None = None,
) -> RunStats:
    """Run every trial of ``config`` in this process, records into ``sink``. ``emit``
    receives transcript lines."""
    began = time.perf_counter()
    driver = memory_driver(config, emit)
    for trial in range(config.trials):
        run_trial(config, trial, sink, driver)
        if on_trial is not None:
            on_trial(trial + 1, config.trials)
    elapsed = time.perf_counter() - began
    return RunStats(engine="inprocess", timings=Timings(startup=0.0, rounds=elapsed, teardown=0.0))


def memory_driver(config: RunConfig, emit: Emit | None = None) -> RoundDriver:
    """The round driver of ``config`` over one in-memory network hosting every node."""
    return RoundDriver(config.protocol_plugin, config.quorums, config.build_faults(),
                       config.nodes, range(config.nodes), MemoryNetwork(config.nodes),
                       None if emit is None else _Lines(emit))


def run_trial(config: RunConfig, trial: int, sink: RecordSink,
              driver: RoundDriver | None = None) -> None:
    """One whole protocol run: fresh node state, initial values from the seed."""
    if driver is None:
        driver = memory_driver(config)
    nodes = config.nodes
    run = TrialRun(trial, config.initial_values_for(trial), range(nodes), nodes, config.trace)
    runs = [run]
    assembler = TrialAssembler(config, trial)

    def flush() -> None:
        rounds, trace = assembler.add_chunk(run.reports, run.traces)
        sink.add_rounds(rounds, trace)
        run.new_chunk()

    for rnd in range(config.rounds):
        driver.play(rnd, runs)
        if len(run.reports[0]) == ROUND_CHUNK:
            flush()
    flush()
    sink.add_trial(assembler.finish())

