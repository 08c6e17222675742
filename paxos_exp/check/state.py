"""Every node's state, rebuilt from the lines (PROTOCOL.md, "Node state"), and one round's view.

A node's ``maxVotedRound``/``maxVotedVal`` change only when it receives a PROPOSE: as an
acceptor (it prints ``ACCEPTOR i RECEIVED IN VOTE PHASE: PROPOSE v``) or as the leader, its
own (``LEADER OF r RECEIVED IN VOTE PHASE: PROPOSE v``). Both are printed, so the whole state
of every node is known from the transcript. Where a line is missing or malformed the state is
marked unknown (``known=False``) until the next PROPOSE sets it again, and the rules that
need it skip rather than guess. A node's initial value is known once it leads a round.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from paxos_exp.check.rounds import RoundBlock
from paxos_exp.check.transcript import AcceptorReceived, Kind, LeaderReceived, Message, Phase


@dataclass(frozen=True, slots=True)
class Params:
    """What a run's rules need to know: N, p and R from the header (p and R may be unknown),
    and the quorum sizes (strict majorities unless given)."""

    nodes: int
    fail_prob: float | None
    rounds: int | None
    join_quorum: int
    vote_quorum: int
    silent: bool = False  # messages may be silenced, nodes down (--faults silent)
    amnesia: bool = False  # ... and nodes may forget their votes (--faults amnesia)

    @property
    def majorities(self) -> bool:
        return self.join_quorum == self.vote_quorum == self.nodes // 2 + 1


@dataclass(slots=True)
class NodeView:
    """One node's state between rounds."""

    val: int | None = None
    val_round: int | None = None  # the round whose ROUND line showed ``val``
    val_line: int | None = None
    voted_round: int = -1
    voted_value: int | None = None
    known: bool = True

    def describe(self) -> str:
        if not self.known:
            return "unknown (a line it would show in is missing or unreadable)"
        if self.voted_round == -1:
            return "never voted (JOIN -1 None)"
        body = f"JOIN {self.voted_round} {self.voted_value}"
        return f"voted {self.voted_value} in round {self.voted_round} ({body})"


@dataclass(frozen=True, slots=True)
class Decision:
    round: int
    value: int
    line: int


def only_message(lines: list[AcceptorReceived]) -> Message | None:
    """The message of exactly one well-formed line, else None."""
    if len(lines) == 1 and lines[0].message is not None:
        return lines[0].message
    return None


class RoundView:
    """One round's lines with the states before it, and what follows from them."""

    def __init__(self, block: RoundBlock, params: Params, states: list[NodeView],
                 first_decision: Decision | None) -> None:
        self.block, self.params, self.states = block, params, states
        self.first_decision = first_decision
        self.number, self.leader, self.nodes = block.number, block.leader, params.nodes

    @cached_property
    def join_receipts(self) -> list[LeaderReceived]:
        return self.block.receipts(Phase.JOIN)

    @cached_property
    def vote_receipts(self) -> list[LeaderReceived]:
        return self.block.receipts(Phase.VOTE)

    def acceptor(self, node: int, phase: Phase) -> list[AcceptorReceived]:
        return self.block.acceptor_lines(node, phase)

    def acceptor_message(self, node: int, phase: Phase) -> Message | None:
        return only_message(self.acceptor(node, phase))

    def printing_acceptors(self) -> list[int]:
        return sorted(self.block.acceptors)

    def missing_acceptors(self, phase: Phase) -> int:
        """How many acceptors printed no line in ``phase``."""
        printed = sum(1 for node in self.block.acceptors if self.acceptor(node, phase))
        return self.nodes - 1 - printed

    @cached_property
    def leader_outcome(self) -> str | None:
        """'proposed' or 'changed' as the leader's own lines say, None if they say neither
        or both."""
        proposed, changed = bool(self.vote_receipts), bool(self.block.changes)
        if proposed == changed:
            return None
        return "proposed" if proposed else "changed"

    @cached_property
    def outcome(self) -> tuple[str, int] | None:
        """('proposed' or 'changed', the first line that shows it): from the leader's lines,
        else from what the acceptors received in the vote phase."""
        if self.leader_outcome == "proposed":
            return "proposed", self.vote_receipts[0].line
        if self.leader_outcome == "changed":
            return "changed", self.block.changes[0].line
        if self.vote_receipts and self.block.changes:
            return None
        seen: dict[str, int] = {}
        for node in self.printing_acceptors():
            for event in self.acceptor(node, Phase.VOTE):
                if event.message is not None:
                    kind = "changed" if event.message.kind is Kind.ROUNDCHANGE else "proposed"
                    seen[kind] = min(seen.get(kind, event.line), event.line)
        if len(seen) != 1:
            return None
        return next(iter(seen.items()))

    @cached_property
    def proposals(self) -> list[tuple[int, int]]:
        """(line, value) of every PROPOSE printed in the round, in file order."""
        found = [(event.line, event.message.value) for event in self.vote_receipts
                 if event.message is not None and event.message.kind is Kind.PROPOSE]
        for node in self.printing_acceptors():
            found += [(event.line, event.message.value) for event in self.acceptor(node, Phase.VOTE)
                      if event.message is not None and event.message.kind is Kind.PROPOSE]
        return sorted(found)  # type: ignore[arg-type]

    @cached_property
    def proposal(self) -> tuple[int, int] | None:
        """(value, first line) of the round's proposal when it is printed and one value."""
        values = {value for _, value in self.proposals}
        if len(values) != 1:
            return None
        line, value = self.proposals[0]
        return value, line

    def counted(self, receipts: list[LeaderReceived], kinds: tuple[Kind, ...]) -> tuple[int, int]:
        """(at least, at most) how many of the leader's N receipts of a phase are of ``kinds``:
        malformed and missing receipts could be either."""
        sure = sum(1 for event in receipts if event.message is not None and event.message.kind in kinds)
        unsure = sum(1 for event in receipts if event.message is None)
        unsure += max(0, self.nodes - len(receipts))
        return sure, sure + unsure

    def complete(self, receipts: list[LeaderReceived]) -> bool:
        return len(receipts) == self.nodes and all(event.message is not None for event in receipts)

    @cached_property
    def own_start(self) -> bool:
        return any(event.message is not None and event.message.kind is Kind.START
                   for event in self.join_receipts)

    @cached_property
    def leader_value(self) -> int | None:
        """The leader's initial value: its ROUND line's, else what an earlier one showed."""
        started = self.block.started
        if started and started[0].value is not None:
            return started[0].value
        return self.states[self.leader].val


def advance(view: RoundView) -> Decision | None:
    """Apply the round to the states (in place); returns the round's decision, if any."""
    states, block, number, leader = view.states, view.block, view.number, view.leader
    started = block.started
    own = states[leader]
    if started and started[0].value is not None and own.val is None:
        own.val, own.val_round, own.val_line = started[0].value, number, started[0].line
    for node in range(view.nodes):
        if node == leader:
            continue
        lines = view.acceptor(node, Phase.VOTE)
        message = only_message(lines)
        state = states[node]
        if message is None:
            if lines or view.outcome is None or view.outcome[0] == "proposed":
                state.known = False  # it may have received a PROPOSE we cannot read
        elif message.kind is Kind.PROPOSE:
            state.voted_round, state.voted_value, state.known = number, message.value, True
    proposes = {event.message.value for event in view.vote_receipts
                if event.message is not None and event.message.kind is Kind.PROPOSE}
    if len(proposes) == 1:
        own.voted_round, own.voted_value, own.known = number, proposes.pop(), True
    elif proposes or (view.vote_receipts and not view.complete(view.vote_receipts)):
        own.known = False
    for decided in block.decisions:
        if decided.value is not None:
            return Decision(number, decided.value, decided.line)
    return None
