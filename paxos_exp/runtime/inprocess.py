"""The in-process engine: the same core steps, plain function calls, no processes or sockets.

It is the reference the real runtime is tested against (identical records for the same seed)
and fast enough for very large statistical sweeps.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from paxos_exp.core import transcript as lines
from paxos_exp.core.config import RunConfig
from paxos_exp.core.messages import Message, Phase
from paxos_exp.core.node import (
    NodeState,
    acceptor_on_proposal,
    acceptor_on_request,
    leader_of,
    leader_on_joins,
    leader_on_votes,
    leader_start,
)
from paxos_exp.core.records import RecordSink, RunStats, Timings
from paxos_exp.runtime.assemble import TrialAssembler
from paxos_exp.runtime.wire import ROUND_CHUNK, NodeWire, ReportRow, TraceRow

Emit = Callable[[str], None]


def run_inprocess(
    config: RunConfig,
    sink: RecordSink,
    emit: Emit | None = None,
    on_trial: Callable[[int, int], None] | None = None,
) -> RunStats:
    """Run every trial of ``config`` in this process, records into ``sink``. ``emit``
    receives transcript lines."""
    began = time.perf_counter()
    for trial in range(config.trials):
        run_trial(config, trial, sink, emit)
        if on_trial is not None:
            on_trial(trial + 1, config.trials)
    elapsed = time.perf_counter() - began
    return RunStats(engine="inprocess", timings=Timings(startup=0.0, rounds=elapsed, teardown=0.0))


def run_trial(config: RunConfig, trial: int, sink: RecordSink, emit: Emit | None = None) -> None:
    """One whole protocol run: fresh node state, initial values from the seed."""
    nodes = config.nodes
    quorums = config.quorums
    values = config.initial_values_for(trial)
    states = [NodeState(node, values[node]) for node in range(nodes)]
    inbox: list[list[Message]] = [[] for _ in range(nodes)]

    def deliver(receiver: int, _phase: Phase, message: Message) -> None:
        inbox[receiver].append(message)

    traces: list[list[TraceRow]] | None = [[] for _ in range(nodes)] if config.trace else None
    wires = [
        NodeWire(config.fail_prob, config.seed, None if traces is None else traces[node], deliver)
        for node in range(nodes)
    ]
    reports: list[list[ReportRow]] = [[] for _ in range(nodes)]
    assembler = TrialAssembler(config, trial)

    def flush() -> None:
        rounds, trace = assembler.add_chunk(reports, traces)
        sink.add_rounds(rounds, trace)
        for node in range(nodes):
            reports[node].clear()
            if traces is not None:
                traces[node].clear()

    for rnd in range(config.rounds):
        leader = leader_of(rnd, nodes)
        for wire in wires:
            wire.begin(trial, rnd, leader)
        if emit is not None:
            emit(lines.round_started(rnd, states[leader].val))
        # Phase 1: START out (failure-prone), JOIN or relayed CRASH back.
        wires[leader].send_all(leader_start(states[leader], nodes), Phase.JOIN)
        for node in range(nodes):
            if node == leader:
                continue
            (request,) = inbox[node]
            inbox[node].clear()
            if emit is not None:
                emit(lines.acceptor_received(node, Phase.JOIN, request.body))
            wires[node].send_all(acceptor_on_request(states[node], request, leader), Phase.JOIN)
        received = sorted(inbox[leader], key=_by_sender)
        inbox[leader].clear()
        if emit is not None:
            for message in received:
                emit(lines.leader_received(rnd, Phase.JOIN, message.body))
        states[leader], joined, sends = leader_on_joins(states[leader], received, nodes, quorums)
        wires[leader].send_all(sends, Phase.VOTE)
        # Phase 2: PROPOSE out (failure-prone), VOTE or relayed CRASH back; or ROUNDCHANGE.
        for node in range(nodes):
            if node == leader:
                continue
            (request,) = inbox[node]
            inbox[node].clear()
            if emit is not None:
                emit(lines.acceptor_received(node, Phase.VOTE, request.body))
            states[node], replies = acceptor_on_proposal(states[node], request, rnd, leader)
            wires[node].send_all(replies, Phase.VOTE)
        votes, decision = 0, None
        if joined.proposal is None:
            if emit is not None:
                emit(lines.changed_round(rnd))
        else:
            received = sorted(inbox[leader], key=_by_sender)
            inbox[leader].clear()
            if emit is not None:
                for message in received:
                    emit(lines.leader_received(rnd, Phase.VOTE, message.body))
            states[leader], voted = leader_on_votes(states[leader], received, rnd, nodes, quorums)
            votes, decision = voted.votes, voted.decision
            if decision is not None and emit is not None:
                emit(lines.decided(rnd, decision))
        for node in range(nodes):
            leader_row = (joined.joins, joined.proposal, votes, decision) if node == leader else None
            reports[node].append(wires[node].report(leader_row))
        if len(reports[0]) == ROUND_CHUNK:
            flush()
    flush()
    sink.add_trial(assembler.finish())


def _by_sender(message: Message) -> int:
    return message.sender
