"""``classic``: the protocol of PROTOCOL.md, exactly. Its steps are the building blocks the
variants in this package change one rule of."""

from __future__ import annotations

from collections.abc import Sequence

from paxos_exp.core import messages as m
from paxos_exp.core.errors import ProtocolError
from paxos_exp.core.messages import Kind, Message
from paxos_exp.core.node import NodeState, Send
from paxos_exp.core.protocols import Protocol, RoundContext, Stepped


def start(ctx: RoundContext, state: NodeState, received: Sequence[Message]) -> Stepped:
    """Phase 1 of the leader: ``broadcastFailure("START")``, itself included, in id order."""
    message = m.start(state.node)
    return state, [Send(receiver, message, True) for receiver in range(ctx.nodes)], 0


def _only(received: Sequence[Message], state: NodeState, phase: str) -> Message:
    if len(received) != 1:
        raise ProtocolError(
            f"acceptor {state.node} got {len(received)} messages in the {phase} phase, not one"
        )
    return received[0]


def on_request(ctx: RoundContext, state: NodeState, received: Sequence[Message]) -> Stepped:
    """Phase 1 of an acceptor: answer START with JOIN (failure-prone), relay CRASH (plain)."""
    message = _only(received, state, "join")
    if message.kind is Kind.START:
        reply = m.join(state.node, state.max_voted_round, state.max_voted_val)
        return state, [Send(ctx.leader, reply, True)], 0
    if message.kind is Kind.CRASH:
        return state, [Send(ctx.leader, m.crash(state.node, ctx.leader), False)], 0
    raise ProtocolError(
        f"acceptor {state.node} got {message.body!r} from node {message.sender} in the join phase"
    )


def leader_on_joins(
    ctx: RoundContext,
    state: NodeState,
    received: Sequence[Message],
    *,
    use_reports: bool = True,
    use_own_state: bool = True,
) -> Stepped:
    """Phase 1 end: count joins, pick the value, then PROPOSE (failure-prone) or ROUNDCHANGE.

    The leader's own START is recognised by its sender, never by arrival order; only if it
    arrived does the leader's own voting history take part in the value rule. The keywords
    switch parts of the value rule off (for the wrong variants): the joiners' reports, and
    the leader's own history.
    """
    joins = 0
    best_round, best_value = -1, None
    for message in received:
        if message.sender == state.node:
            if message.kind is Kind.START:
                joins += 1
                if use_own_state and state.max_voted_round > best_round:
                    best_round, best_value = state.max_voted_round, state.max_voted_val
            elif message.kind is not Kind.CRASH:
                raise ProtocolError(f"leader {state.node} got its own {message.body!r} in phase 1")
        elif message.kind is Kind.JOIN:
            joins += 1
            if use_reports and message.voted_round > best_round:
                best_round, best_value = message.voted_round, message.value
        elif message.kind is not Kind.CRASH:
            raise ProtocolError(
                f"leader {state.node} got {message.body!r} from node {message.sender} in phase 1"
            )
    if joins < ctx.quorums.join:
        sends = [
            Send(receiver, m.roundchange(state.node), False)
            for receiver in range(ctx.nodes)
            if receiver != state.node
        ]
        return state.proposing(None), sends, joins
    proposal = state.val if best_round == -1 else best_value
    if proposal is None:  # a JOIN with a voted round but no value: impossible in this protocol
        raise ProtocolError(f"leader {state.node} found voted round {best_round} with no value")
    message = m.propose(state.node, proposal)
    sends = [Send(receiver, message, True) for receiver in range(ctx.nodes)]
    return state.proposing(proposal), sends, joins


def on_joins(ctx: RoundContext, state: NodeState, received: Sequence[Message]) -> Stepped:
    """The classic value rule: the highest voted round among the joiners (itself included
    if its own START arrived), else the leader's own initial value."""
    return leader_on_joins(ctx, state, received)


def acceptor_on_proposal(
    ctx: RoundContext, state: NodeState, received: Sequence[Message], *, record: bool = True
) -> Stepped:
    """Phase 2 of an acceptor: vote on PROPOSE, relay CRASH, accept ROUNDCHANGE. On PROPOSE
    it records the proposal as its vote (``record``) whether or not its VOTE gets through."""
    message = _only(received, state, "vote")
    if message.kind is Kind.PROPOSE:
        voted = state.voted(ctx.round, message.value) if record else state
        return voted, [Send(ctx.leader, m.vote(state.node), True)], 0
    if message.kind is Kind.CRASH:
        return state, [Send(ctx.leader, m.crash(state.node, ctx.leader), False)], 0
    if message.kind is Kind.ROUNDCHANGE:
        return state, [], 0
    raise ProtocolError(
        f"acceptor {state.node} got {message.body!r} from node {message.sender} in the vote phase"
    )


def on_proposal(ctx: RoundContext, state: NodeState, received: Sequence[Message]) -> Stepped:
    return acceptor_on_proposal(ctx, state, received)


def on_votes(ctx: RoundContext, state: NodeState, received: Sequence[Message]) -> Stepped:
    """Phase 2 end: the leader's own PROPOSE is its vote; a quorum of votes decides.
    ``decision`` in the returned state is this round's (None when it did not decide)."""
    if state.propose_val is None:
        raise ProtocolError(f"leader {state.node} counts votes without having proposed")
    votes = 0
    for message in received:
        if message.sender == state.node:
            if message.kind is Kind.PROPOSE:
                votes += 1
                state = state.voted(ctx.round, message.value)
            elif message.kind is not Kind.CRASH:
                raise ProtocolError(f"leader {state.node} got its own {message.body!r} in phase 2")
        elif message.kind is Kind.VOTE:
            votes += 1
        elif message.kind is not Kind.CRASH:
            raise ProtocolError(
                f"leader {state.node} got {message.body!r} from node {message.sender} in phase 2"
            )
    decision = state.propose_val if votes >= ctx.quorums.vote else None
    return state.deciding(decision), [], votes


PROTOCOL = Protocol(
    name="classic",
    description="the protocol of the assignment: majority quorums, the highest voted value",
    start=start,
    on_request=on_request,
    on_joins=on_joins,
    on_proposal=on_proposal,
    on_votes=on_votes,
)
