"""Grouping a run's events into rounds, with only the ordering PROTOCOL.md guarantees.

Lines of different nodes interleave freely within a round. What is guaranteed: every line of
round ``r`` is written before the round's barrier (so before any line of ``r+1``), and each
node prints its own lines in protocol order. Lines that carry a round number (the leader's)
open a new round when the number grows. An acceptor's line carries none: it belongs to the
round around it, unless it cannot (see :class:`RoundGrouper`). Nothing is assumed about
where the leader's ROUND line falls among the acceptors' lines of its round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from paxos_exp.check.problems import Problem, rounds_text
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
    leader_events: list[LeaderEvent] = field(default_factory=list)
    acceptors: dict[int, list[AcceptorReceived]] = field(default_factory=dict)
    stray: list[AcceptorReceived] = field(default_factory=list)
    _by_phase: dict[tuple[int, Phase], list[AcceptorReceived]] = field(default_factory=dict)
    unreadable: int = 0  # lines in the round that are no transcript line (any node's, maybe)

    def add(self, event: LeaderEvent | AcceptorReceived) -> None:
        if isinstance(event, AcceptorReceived):
            if event.node >= self.nodes or event.node == self.leader:
                self.stray.append(event)
            else:
                self.acceptors.setdefault(event.node, []).append(event)
                self._by_phase.setdefault((event.node, event.phase), []).append(event)
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
        return self._by_phase.get((node, phase), [])


class RoundGrouper:
    """Feeds a run's events (after its header) in file order; hands back each round once the
    next one begins (or at :meth:`finish`). Reports ``round-order`` problems as it goes.

    An acceptor's line belongs to the round around it. One that cannot belong to the current
    round (its node leads that round, or already printed both its lines in it) waits: if the
    next line of a leader opens the next round, it is that round's, printed before the
    ROUND line (nothing orders an acceptor's print after the leader's); if a line of the
    current round's leader comes first, the barrier says it is the current round's after all.
    """

    def __init__(self, nodes: int, rounds: int | None, report: Report,
                 gaps: bool = False) -> None:
        # gaps: a round may have no line at all (its leader down: --faults silent)
        self.nodes, self.rounds, self.report, self.gaps = nodes, rounds, report, gaps
        self.current: RoundBlock | None = None
        self.rounds_seen = 0
        self.highest = -1  # the highest round opened so far
        self._waiting: list[AcceptorReceived] = []
        self._named_leader: set[int] = set()  # rounds already told "LEADER OF <node id>"

    def feed(self, event: LeaderEvent | AcceptorReceived) -> RoundBlock | None:
        current = self.current
        if isinstance(event, AcceptorReceived):
            # With gaps (--faults silent), an acceptor may print nothing in a round, so which
            # of two rounds a line before a ROUND line belongs to is unknowable: a line belongs
            # to the round opened last, as paxos-exp's engines print them (the leader writes
            # its ROUND line before it sends START, so no line of the round can come before).
            if current is not None and (self.gaps or _fits(current, event)):
                current.add(event)
            else:
                self._waiting.append(event)
            return None
        number = event.round
        if current is not None and number == current.number:
            self._settle(current)
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
                self._settle(current)
                current.add(event)
                return None
            self.report(Problem(
                event.line, "round-order",
                f"a line of round {number} after round {current.number} began: every line of a "
                "round is printed before the round's barrier", number))
            return None
        return self._open(number, event.line, event)

    def unreadable(self) -> None:
        """A line that is no transcript line, here: it may be one the round misses."""
        if self.current is not None:
            self.current.unreadable += 1

    def _settle(self, block: RoundBlock) -> None:
        """Lines that waited belong to ``block`` after all."""
        for waiting in self._waiting:
            block.add(waiting)
        self._waiting.clear()

    def _open(self, number: int, line: int, event: LeaderEvent | None) -> RoundBlock | None:
        closed = self.current
        expected = 0 if closed is None else closed.number + 1
        if number > expected and not self.gaps:
            missing = rounds_text(expected, number - 1)
            where = "the first round" if closed is None else f"after round {closed.number}"
            self.report(Problem(line, "round-order",
                                f"round {number} comes {where}: {missing} missing", number))
        if self.rounds is not None and number >= self.rounds:
            self.report(Problem(
                line, "round-order",
                f"round {number} is beyond NUM_ROUNDS {self.rounds} (rounds 0..{self.rounds - 1})"
                if self.rounds else f"round {number} in a run of NUM_ROUNDS 0 (no rounds)",
                number))
        first = self._waiting[0].line if self._waiting else line
        self.highest = number
        self.current = RoundBlock(number, number % self.nodes, self.nodes, first)
        self._settle(self.current)
        if event is not None:
            self.current.add(event)
        self.rounds_seen += 1
        return closed

    def finish(self) -> list[RoundBlock]:
        """The rounds not yet handed back (lines that waited open one more round when the
        run has rounds left for them)."""
        closed: list[RoundBlock] = []
        current = self.current
        if current is None and self._waiting:
            if self.rounds == 0:
                for waiting in self._waiting:
                    self.report(Problem(waiting.line, "round-order",
                                        "an ACCEPTOR line in a run of NUM_ROUNDS 0 (no rounds)"))
                self._waiting.clear()
            else:
                self._open(0, self._waiting[0].line, None)
        elif current is not None and self._waiting:
            if self.rounds is not None and current.number + 1 >= self.rounds:
                self._settle(current)
            else:
                self._open(current.number + 1, self._waiting[0].line, None)
                closed.append(current)
        if self.current is not None:
            closed.append(self.current)
        self.current = None
        return closed


def _fits(block: RoundBlock, event: AcceptorReceived) -> bool:
    """Whether an acceptor's line can be one of ``block``'s."""
    node = event.node
    if node >= block.nodes:
        return True  # no such node: reported wherever it lands
    if node == block.leader:
        return False
    lines = block.acceptors.get(node, ())
    if event.phase is Phase.JOIN:
        return not lines
    return not any(line.phase is Phase.VOTE for line in lines)
