"""Leader and acceptor steps as pure functions: state + messages in, new state + sends out.

The engines decide *how* messages travel; these functions decide *what* a node does with
them. A step never draws randomness: it marks each send failure-prone or plain, and the
engine passes failure-prone sends through :func:`paxos_exp.core.faults.transmit`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from paxos_exp.core import messages as m
from paxos_exp.core.errors import ProtocolError
from paxos_exp.core.messages import Kind, Message
from paxos_exp.core.quorum import Quorums


@dataclass(frozen=True, slots=True)
class NodeState:
    """What a node remembers across rounds (PROTOCOL.md, "Node state")."""

    node: int
    val: int
    max_voted_round: int = -1
    max_voted_val: int | None = None
    propose_val: int | None = None
    decision: int | None = None


@dataclass(frozen=True, slots=True)
class Send:
    """One message a step wants sent; ``failure_prone`` sends go through the failure draw."""

    receiver: int
    message: Message
    failure_prone: bool


@dataclass(frozen=True, slots=True)
class JoinOutcome:
    """What the leader made of the join phase: ``proposal`` is None on a round change."""

    joins: int
    proposal: int | None


@dataclass(frozen=True, slots=True)
class VoteOutcome:
    """What the leader made of the vote phase."""

    votes: int
    decision: int | None


def leader_of(rnd: int, nodes: int) -> int:
    """Round-robin leadership: round ``r`` is led by node ``r mod N``."""
    return rnd % nodes


def send_targets(node: int, nodes: int, rounds: int) -> list[int]:
    """The nodes ``node`` ever sends to in a trial of ``rounds`` rounds, in id order.

    An acceptor only answers the round's leader; a leader sends to every node, itself
    included. So with fewer rounds than nodes most pairs never exchange a message, and an
    engine need not open a connection for them.
    """
    leaders = min(rounds, nodes)  # rounds 0..R-1 are led by nodes 0..min(R, N)-1
    if node < leaders:
        return list(range(nodes))
    return list(range(leaders))


def senders_to(node: int, nodes: int, rounds: int) -> int:
    """How many nodes have ``node`` among their :func:`send_targets` (itself included)."""
    leaders = min(rounds, nodes)
    if leaders == 0:
        return 0
    return nodes if node < leaders else leaders


def leader_start(state: NodeState, nodes: int) -> list[Send]:
    """Phase 1 of the leader: ``broadcastFailure("START")``, itself included, in id order."""
    message = m.start(state.node)
    return [Send(receiver, message, True) for receiver in range(nodes)]


def acceptor_on_request(state: NodeState, message: Message, leader: int) -> list[Send]:
    """Phase 1 of an acceptor: answer START with JOIN (failure-prone), relay CRASH (plain)."""
    if message.kind is Kind.START:
        reply = m.join(state.node, state.max_voted_round, state.max_voted_val)
        return [Send(leader, reply, True)]
    if message.kind is Kind.CRASH:
        return [Send(leader, m.crash(state.node, leader), False)]
    raise ProtocolError(
        f"acceptor {state.node} got {message.body!r} from node {message.sender} in the join phase"
    )


def _check_one_per_node(received: Sequence[Message], nodes: int, phase: str) -> None:
    senders = sorted(message.sender for message in received)
    if senders != list(range(nodes)):
        raise ProtocolError(
            f"leader expected one {phase}-phase message from each of nodes 0..{nodes - 1}, "
            f"got senders {senders}"
        )


def leader_on_joins(
    state: NodeState, received: Sequence[Message], nodes: int, quorums: Quorums
) -> tuple[NodeState, JoinOutcome, list[Send]]:
    """Phase 1 end: count joins, pick the value, then PROPOSE (failure-prone) or ROUNDCHANGE.

    The leader's own START is recognised by its sender, never by arrival order; only if it
    arrived does the leader's own voting history take part in the value rule.
    """
    _check_one_per_node(received, nodes, "join")
    joins = 0
    best_round, best_value = -1, None
    for message in received:
        if message.sender == state.node:
            if message.kind is Kind.START:
                joins += 1
                if state.max_voted_round > best_round:
                    best_round, best_value = state.max_voted_round, state.max_voted_val
            elif message.kind is not Kind.CRASH:
                raise ProtocolError(f"leader {state.node} got its own {message.body!r} in phase 1")
        elif message.kind is Kind.JOIN:
            joins += 1
            if message.voted_round > best_round:
                best_round, best_value = message.voted_round, message.value
        elif message.kind is not Kind.CRASH:
            raise ProtocolError(
                f"leader {state.node} got {message.body!r} from node {message.sender} in phase 1"
            )
    if joins < quorums.join:
        sends = [
            Send(receiver, m.roundchange(state.node), False)
            for receiver in range(nodes)
            if receiver != state.node
        ]
        return replace(state, propose_val=None), JoinOutcome(joins, None), sends
    proposal = state.val if best_round == -1 else best_value
    if proposal is None:  # a JOIN with a voted round but no value: impossible in this protocol
        raise ProtocolError(f"leader {state.node} found voted round {best_round} with no value")
    message = m.propose(state.node, proposal)
    sends = [Send(receiver, message, True) for receiver in range(nodes)]
    return replace(state, propose_val=proposal), JoinOutcome(joins, proposal), sends


def acceptor_on_proposal(
    state: NodeState, message: Message, rnd: int, leader: int
) -> tuple[NodeState, list[Send]]:
    """Phase 2 of an acceptor: vote on PROPOSE (recording it), relay CRASH, accept ROUNDCHANGE."""
    if message.kind is Kind.PROPOSE:
        voted = replace(state, max_voted_round=rnd, max_voted_val=message.value)
        return voted, [Send(leader, m.vote(state.node), True)]
    if message.kind is Kind.CRASH:
        return state, [Send(leader, m.crash(state.node, leader), False)]
    if message.kind is Kind.ROUNDCHANGE:
        return state, []
    raise ProtocolError(
        f"acceptor {state.node} got {message.body!r} from node {message.sender} in the vote phase"
    )


def leader_on_votes(
    state: NodeState, received: Sequence[Message], rnd: int, nodes: int, quorums: Quorums
) -> tuple[NodeState, VoteOutcome]:
    """Phase 2 end: the leader's own PROPOSE is its vote; a quorum of votes decides."""
    _check_one_per_node(received, nodes, "vote")
    if state.propose_val is None:
        raise ProtocolError(f"leader {state.node} counts votes without having proposed")
    votes = 0
    for message in received:
        if message.sender == state.node:
            if message.kind is Kind.PROPOSE:
                votes += 1
                state = replace(state, max_voted_round=rnd, max_voted_val=message.value)
            elif message.kind is not Kind.CRASH:
                raise ProtocolError(f"leader {state.node} got its own {message.body!r} in phase 2")
        elif message.kind is Kind.VOTE:
            votes += 1
        elif message.kind is not Kind.CRASH:
            raise ProtocolError(
                f"leader {state.node} got {message.body!r} from node {message.sender} in phase 2"
            )
    if votes >= quorums.vote:
        return replace(state, decision=state.propose_val), VoteOutcome(votes, state.propose_val)
    return state, VoteOutcome(votes, None)
