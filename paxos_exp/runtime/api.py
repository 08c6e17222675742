"""The one function that runs a configuration on either engine."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from paxos_exp.core.config import RunConfig, RuntimeOptions, parse_initial_values
from paxos_exp.core.faults import DEFAULT_FAULTS
from paxos_exp.core.protocols import DEFAULT_PROTOCOL
from paxos_exp.core.records import CollectingSink, RecordSink, RunResult, RunStats


def run(
    nodes: int,
    fail_prob: float,
    rounds: int,
    trials: int = 1,
    seed: int = 0,
    initial_values: Sequence[int] | str | None = None,
    engine: str = "processes",
    start_method: str = "fork",
    startup_timeout: float | None = None,
    receive_timeout: float | None = None,
    barrier_timeout: float | None = None,
    trace: bool = False,
    transcript: bool = False,
    protocol: str | Mapping[str, Any] = DEFAULT_PROTOCOL,
    faults: str | Mapping[str, Any] | Sequence[str | Mapping[str, Any]] = DEFAULT_FAULTS,
    safety: str | None = None,
    emit: Callable[[str], None] | None = None,
) -> RunResult:
    """Run the protocol and return per-round, per-trial (and optionally per-message) records.

    ``engine="processes"`` runs one OS process per node over ZeroMQ; ``"inprocess"`` runs the
    same core with plain function calls. Both give identical records for the same seed.
    ``protocol`` and ``faults`` name a registered plug-in, or give a mapping with its
    ``name`` and settings (``{"name": "flexible", "join_quorum": 2, "vote_quorum": 4}``);
    ``faults`` may also be a list of them, composed (``["omission", {"name": "partition",
    "partition_prob": 0.2}]``);
    ``safety`` is ``"fail"``, ``"record"`` or None for the protocol's default.
    ``transcript=True`` makes the nodes print the classic lines (processes: to stdout;
    inprocess: to ``emit``, or stdout). Deadlines left at None grow with ``nodes``. Every
    argument is checked before anything starts (the machine's limits included):
    bad values raise ConfigError; a failed run raises RunError.
    """
    config = RunConfig(
        nodes=nodes,
        fail_prob=fail_prob,
        rounds=rounds,
        trials=trials,
        seed=seed,
        initial_values=parse_initial_values(initial_values),
        protocol=protocol,
        faults=faults,
        safety=safety,
        trace=trace,
    )
    options = RuntimeOptions(
        engine=engine,
        start_method=start_method,
        startup_timeout=startup_timeout,
        receive_timeout=receive_timeout,
        barrier_timeout=barrier_timeout,
        transcript=transcript,
    )
    return run_config(config, options, emit)


def run_config(
    config: RunConfig,
    options: RuntimeOptions,
    emit: Callable[[str], None] | None = None,
    on_trial: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Run an already validated configuration, keeping every record in memory;
    ``on_trial(done, total)`` follows progress."""
    sink = CollectingSink()
    stats = stream_config(config, options, sink, emit, on_trial)
    return sink.result(config, stats)


def stream_config(
    config: RunConfig,
    options: RuntimeOptions,
    sink: RecordSink,
    emit: Callable[[str], None] | None = None,
    on_trial: Callable[[int, int], None] | None = None,
) -> RunStats:
    """Run an already validated configuration, handing records to ``sink`` as they are made
    (a trial's rounds in chunks, then the trial), so memory does not grow with the run."""
    if options.engine == "inprocess":
        from paxos_exp.runtime.inprocess import run_inprocess
        from paxos_exp.runtime.limits import check_fits_inprocess

        check_fits_inprocess(config.nodes)

        if options.transcript and emit is None:
            emit = print
        return run_inprocess(config, sink, emit, on_trial)
    from paxos_exp.runtime.processes import run_processes

    return run_processes(config, options, sink, on_trial)


def transport_version() -> str:
    """The libzmq version the real runtime talks through."""
    import zmq

    return zmq.zmq_version()


def set_default_start_method(method: str) -> None:
    """Make ``method`` this process's multiprocessing default (loky workers under the joblib
    launcher carry their own start-method state; spawn and forkserver children fail to
    bootstrap unless it is set explicitly first)."""
    import multiprocessing

    multiprocessing.set_start_method(method, force=True)
