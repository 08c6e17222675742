"""What a run records: one row per round, per trial, per message (trace), and timings.

Nodes report per-round tallies; :func:`merge_round` turns the reports of all nodes into one
:class:`RoundRecord`, the same way in every engine, so records compare exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from paxos_exp.core.messages import KINDS, Kind

KIND_INDEX: dict[Kind, int] = {kind: index for index, kind in enumerate(KINDS)}

# What nodes report, in compact tuples (no dataclass per message or per round on the hot path):
# a trace row: round, phase, sender, receiver, kind, body, crashed, silenced;
TraceRow = tuple[int, int, int, int, str, str, bool, bool]
# the leader's part of a round: joins, proposal, votes, decision;
LeaderRow = tuple[int, "int | None", int, "int | None"]
# a node's round: round, sent counts (indexed like KINDS), crashed, silenced, leader part.
ReportRow = tuple[int, tuple[int, ...], int, int, "LeaderRow | None"]
# Rounds travel from a node to the supervisor (and into the records) in chunks of at most
# this many, so neither side ever holds a whole long trial.
ROUND_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class LeaderReport:
    """The leader's view of one round."""

    joins: int
    proposal: int | None
    votes: int
    decision: int | None


@dataclass(frozen=True, slots=True)
class NodeRoundReport:
    """One node's part of a round: what it put on the wire, by kind, and how many draws hit."""

    round: int
    sent: tuple[int, ...]  # indexed like KINDS
    crashed: int
    silenced: int = 0
    leader: LeaderReport | None = None


@dataclass(frozen=True, slots=True)
class RoundRecord:
    """One round of one trial, as a tidy row."""

    trial: int
    round: int
    leader: int
    joins: int
    proposal: int | None
    votes: int
    decided: bool
    decision: int | None
    sent_start: int
    sent_join: int
    sent_propose: int
    sent_vote: int
    sent_roundchange: int
    sent_crash: int
    crashed: int  # failure-prone sends the fault model turned into CRASH
    silenced: int = 0  # sends the fault model silenced (never on the wire)

    @property
    def messages(self) -> int:
        """All messages put on the wire in this round."""
        return (
            self.sent_start
            + self.sent_join
            + self.sent_propose
            + self.sent_vote
            + self.sent_roundchange
            + self.sent_crash
        )

    @property
    def round_changed(self) -> bool:
        return self.proposal is None


@dataclass(frozen=True, slots=True)
class TrialRecord:
    """One whole protocol run (R rounds) with its safety verdicts."""

    trial: int
    initial_values: tuple[int, ...]
    decided: bool
    first_decision_round: int | None
    deciding_rounds: int
    decision: int | None
    agreement_ok: bool
    validity_ok: bool
    proposals_ok: bool

    @property
    def safe(self) -> bool:
        return self.agreement_ok and self.validity_ok and self.proposals_ok


@dataclass(frozen=True, slots=True)
class TraceRecord:
    """One message as sent: ``kind``/``body`` are what went on the wire (CRASH if the draw hit)."""

    trial: int
    round: int
    phase: int
    sender: int
    receiver: int
    kind: str
    body: str
    crashed: bool
    silenced: bool = False  # never delivered: ``kind``/``body`` are what was meant


@dataclass(frozen=True, slots=True)
class Timings:
    """Wall-clock seconds: process start-up, the rounds of all trials, and teardown."""

    startup: float
    rounds: float
    teardown: float

    @property
    def total(self) -> float:
        return self.startup + self.rounds + self.teardown


@dataclass(frozen=True)
class RunResult:
    """Everything a run returns."""

    config: Any  # RunConfig; typed loosely to keep this module free of import cycles
    engine: str
    rounds: tuple[RoundRecord, ...]
    trials: tuple[TrialRecord, ...]
    timings: Timings
    trace: tuple[TraceRecord, ...] | None = None
    start_method: str | None = None
    foreign_messages: int = 0  # messages without the run's token, dropped by the nodes

    @property
    def safe(self) -> bool:
        """Agreement, validity and proposal consistency hold in every trial."""
        return all(trial.safe for trial in self.trials)

    def round_dicts(self) -> list[dict[str, Any]]:
        return [asdict(record) for record in self.rounds]

    def trial_dicts(self) -> list[dict[str, Any]]:
        return [trial_row(record) for record in self.trials]

    def trace_dicts(self) -> list[dict[str, Any]]:
        return [asdict(record) for record in self.trace or ()]


class RecordSink(Protocol):
    """Where an engine puts records as they are made: a trial's rounds (and trace) come in
    chunks, in round order, and then the trial's own record."""

    def add_rounds(self, rounds: Sequence[RoundRecord], trace: Sequence[TraceRecord]) -> None: ...

    def add_trial(self, trial: TrialRecord) -> None: ...


@dataclass
class RunStats:
    """What an engine says about a run besides its records."""

    engine: str
    timings: Timings
    start_method: str | None = None
    foreign_messages: int = 0


@dataclass
class CollectingSink:
    """A sink that keeps every record in memory (for :func:`paxos_exp.run` and tests)."""

    rounds: list[RoundRecord] = field(default_factory=list)
    trials: list[TrialRecord] = field(default_factory=list)
    trace: list[TraceRecord] = field(default_factory=list)

    def add_rounds(self, rounds: Sequence[RoundRecord], trace: Sequence[TraceRecord]) -> None:
        self.rounds.extend(rounds)
        self.trace.extend(trace)

    def add_trial(self, trial: TrialRecord) -> None:
        self.trials.append(trial)

    def result(self, config: Any, stats: RunStats) -> RunResult:
        return RunResult(
            config=config,
            engine=stats.engine,
            rounds=tuple(self.rounds),
            trials=tuple(self.trials),
            timings=stats.timings,
            trace=tuple(self.trace) if config.trace else None,
            start_method=stats.start_method,
            foreign_messages=stats.foreign_messages,
        )


def trial_row(record: TrialRecord) -> dict[str, Any]:
    """A trial record as a table row (initial values as one string of bits)."""
    row = asdict(record)
    row["initial_values"] = "".join(str(value) for value in record.initial_values)
    return row


def tally(kinds: Iterable[Kind]) -> list[int]:
    """Counts per kind, indexed like KINDS."""
    counts = [0] * len(KINDS)
    for kind in kinds:
        counts[KIND_INDEX[kind]] += 1
    return counts


def merge_round(
    trial: int, rnd: int, leader: int, reports: Sequence[NodeRoundReport]
) -> RoundRecord:
    """Combine every node's report of one round into the round's record."""
    sent = [0] * len(KINDS)
    crashed = silenced = 0
    leader_report: LeaderReport | None = None
    for report in reports:
        if report.round != rnd:
            raise ValueError(f"report of round {report.round} merged into round {rnd}")
        for index, count in enumerate(report.sent):
            sent[index] += count
        crashed += report.crashed
        silenced += report.silenced
        if report.leader is not None:
            leader_report = report.leader
    if leader_report is None:
        raise ValueError(f"no leader report for trial {trial} round {rnd}")
    return RoundRecord(
        trial=trial,
        round=rnd,
        leader=leader,
        joins=leader_report.joins,
        proposal=leader_report.proposal,
        votes=leader_report.votes,
        decided=leader_report.decision is not None,
        decision=leader_report.decision,
        sent_start=sent[KIND_INDEX[Kind.START]],
        sent_join=sent[KIND_INDEX[Kind.JOIN]],
        sent_propose=sent[KIND_INDEX[Kind.PROPOSE]],
        sent_vote=sent[KIND_INDEX[Kind.VOTE]],
        sent_roundchange=sent[KIND_INDEX[Kind.ROUNDCHANGE]],
        sent_crash=sent[KIND_INDEX[Kind.CRASH]],
        crashed=crashed,
        silenced=silenced,
    )
