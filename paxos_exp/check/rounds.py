"""Grouping a run's events into rounds, with only the ordering PROTOCOL.md guarantees.

Lines of different nodes interleave freely within a round; what is guaranteed is that every
line of round ``r`` is written before the round's barrier (so before any line of ``r+1``), that
each node prints its own lines in protocol order, and that the leader prints ``ROUND r
STARTED`` before it sends START, so before any acceptor can print receiving it. An acceptor's
line carries no round number: it belongs to the round whose lines surround it. Lines that
carry a round number (the leader's) open a new round when the number grows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from paxos_exp.check.problems import Problem
from paxos_exp.check.transcript import (
    AcceptorReceived,
    ChangedRound,
    Decided,
    LeaderEvent,
    LeaderReceived,
    Phase,
    RoundStarted,
)

Report = Callable[[Problem], None]


@dataclass
class RoundBlock:
    """Every line of one round, as printed: the leader's in order, each acceptor's in order,
    and ACCEPTOR lines of nodes that cannot be acceptors here (``stray``)."""

    number: int
    leader: int
    nodes: int
    first_line: int
    last_line: int = 0
    leader_events: list[LeaderEvent] = field(default_factory=list)
    acceptors: dict[int, list[AcceptorReceived]] = field(default_factory=dict)
    stray: list[AcceptorReceived] = field(default_factory=list)

    def add(self, event: LeaderEvent | AcceptorReceived) -> None:
        self.last_line = event.line
        if isinstance(event, AcceptorReceived):
            if event.node >= self.nodes or event.node == self.leader:
                self.stray.append(event)
            else:
                self.acceptors.setdefault(event.node, []).append(event)
        else:
            self.leader_events.append(event)

    @property
    def started(self) -> list[RoundStarted]:
        return [event for event in self.leader_events if isinstance(event, RoundStarted)]

    def receipts(self, phase: Phase) -> list[LeaderReceived]:
        return [event for event in self.leader_events
                if isinstance(event, LeaderReceived) and event.phase is phase]

    @property
    def decisions(self) -> list[Decided]:
        return [event for event in self.leader_events if isinstance(event, Decided)]

    @property
    def changes(self) -> list[ChangedRound]:
        return [event for event in self.leader_events if isinstance(event, ChangedRound)]

    def acceptor_lines(self, node: int, phase: Phase) -> list[AcceptorReceived]:
        return [event for event in self.acceptors.get(node, ()) if event.phase is phase]


class RoundGrouper:
    """Feeds a run's events (after its header) in file order; hands back each round once the
    next one begins (or at :meth:`finish`). Reports ``round-order`` problems as it goes."""

    def __init__(self, nodes: int, rounds: int | None, report: Report) -> None:
        self.nodes, self.rounds, self.report = nodes, rounds, report
        self.current: RoundBlock | None = None
        self.rounds_seen = 0
        self.highest = -1  # the highest round opened so far
        self._named_leader: set[int] = set()  # rounds already told "LEADER OF <node id>"

    def feed(self, event: LeaderEvent | AcceptorReceived) -> RoundBlock | None:
        current = self.current
        if isinstance(event, AcceptorReceived):
            if current is None:
                self.report(Problem(event.line, "round-order",
                                    "an ACCEPTOR line before any round began (no ROUND line above it)"))
                return None
            current.add(event)
            return None
        number = event.round
        if current is not None and number == current.number:
            current.add(event)
            return None
        if current is not None and number < current.number:
            if number == current.leader and not isinstance(event, RoundStarted):
                # A common mistake: LEADER OF <the leader's id> instead of the round number.
                if current.number not in self._named_leader:
                    self._named_leader.add(current.number)
                    self.report(Problem(
                        event.line, "round-order",
                        f"'LEADER OF {number}' in round {current.number}: LEADER OF takes the "
                        f"round number ({current.number}), not the leader's id ({number})",
                        current.number))
                current.add(event)
                return None
            self.report(Problem(
                event.line, "round-order",
                f"a line of round {number} after round {current.number} began: every line of a "
                "round is printed before the round's barrier", number))
            return None
        return self._open(event, current)

    def _open(self, event: LeaderEvent, closed: RoundBlock | None) -> RoundBlock | None:
        number = event.round
        expected = 0 if closed is None else closed.number + 1
        if number > expected:
            missing = f"round {expected}" if number == expected + 1 else f"rounds {expected}..{number - 1}"
            where = "the first round" if closed is None else f"after round {closed.number}"
            self.report(Problem(event.line, "round-order",
                                f"round {number} comes {where}: {missing} missing", number))
        if self.rounds is not None and number >= self.rounds:
            self.report(Problem(
                event.line, "round-order",
                f"round {number} is beyond NUM_ROUNDS {self.rounds} (rounds 0..{self.rounds - 1})"
                if self.rounds else f"round {number} in a run of NUM_ROUNDS 0 (no rounds)",
                number))
        self.highest = number
        self.current = RoundBlock(number, number % self.nodes, self.nodes, event.line)
        self.current.add(event)
        self.rounds_seen += 1
        return closed

    def finish(self) -> RoundBlock | None:
        closed, self.current = self.current, None
        return closed
