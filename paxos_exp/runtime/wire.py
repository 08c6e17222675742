"""Per-node bookkeeping shared by both engines: send through the failure model, count, trace."""

from __future__ import annotations

from collections.abc import Callable

from paxos_exp.core.faults import transmit
from paxos_exp.core.messages import KINDS, Message, Phase
from paxos_exp.core.node import Send
from paxos_exp.core.records import KIND_INDEX

# A trace row as it travels from a node to the supervisor (compact: no dataclass per message).
TraceRow = tuple[int, int, int, int, str, str, bool]  # round, phase, sender, receiver, kind, body, crashed
# A node's report of one round: round, sent counts (indexed like KINDS), crashed, leader part.
LeaderRow = tuple[int, "int | None", int, "int | None"]  # joins, proposal, votes, decision
ReportRow = tuple[int, tuple[int, ...], int, "LeaderRow | None"]
# Rounds travel from a node to the supervisor (and into the records) in chunks of at most
# this many, so neither side ever holds a whole long trial.
ROUND_CHUNK = 1000


class NodeWire:
    """One node's outgoing side for one round: applies the failure draw, counts, traces."""

    __slots__ = ("fail_prob", "seed", "trial", "round", "leader", "sent", "crashed", "trace", "deliver")

    def __init__(
        self,
        fail_prob: float,
        seed: int,
        trace: list[TraceRow] | None,
        deliver: Callable[[int, Phase, Message], None],
    ) -> None:
        self.fail_prob = fail_prob
        self.seed = seed
        self.trace = trace
        self.deliver = deliver
        self.trial = 0
        self.round = 0
        self.leader = 0
        self.sent = [0] * len(KINDS)
        self.crashed = 0

    def begin(self, trial: int, rnd: int, leader: int) -> None:
        self.trial, self.round, self.leader = trial, rnd, leader
        self.sent = [0] * len(KINDS)
        self.crashed = 0

    def send_all(self, sends: list[Send], phase: Phase) -> None:
        for send in sends:
            message, hit = transmit(
                send.message,
                send.receiver,
                send.failure_prone,
                self.leader,
                self.fail_prob,
                self.seed,
                self.trial,
                self.round,
                phase,
            )
            self.sent[KIND_INDEX[message.kind]] += 1
            if hit:
                self.crashed += 1
            if self.trace is not None:
                self.trace.append(
                    (self.round, int(phase), message.sender, send.receiver, message.kind.value, message.body, hit)
                )
            self.deliver(send.receiver, phase, message)

    def report(self, leader_row: LeaderRow | None) -> ReportRow:
        return (self.round, tuple(self.sent), self.crashed, leader_row)
