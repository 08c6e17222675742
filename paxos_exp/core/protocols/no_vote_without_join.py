"""``no_vote_without_join``: an acceptor records a proposal only if it joined that round.

"Joined" means it answered the round's START with a JOIN (whether or not that JOIN got
through, which the acceptor cannot know); the round it last joined is kept in ``memo``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from paxos_exp.core.messages import Kind, Message
from paxos_exp.core.node import NodeState
from paxos_exp.core.protocols import RoundContext, Stepped, classic, never


def on_request(ctx: RoundContext, state: NodeState, received: Sequence[Message]) -> Stepped:
    state, sends, counted = classic.on_request(ctx, state, received)
    if received[0].kind is Kind.START:
        state = replace(state, memo=ctx.round)
    return state, sends, counted


def on_proposal(ctx: RoundContext, state: NodeState, received: Sequence[Message]) -> Stepped:
    return classic.acceptor_on_proposal(ctx, state, received, record=state.memo == ctx.round)


PROTOCOL = replace(
    classic.PROTOCOL,
    name="no_vote_without_join",
    description="wrong: an acceptor records a proposal only if it joined that round",
    on_request=on_request,
    on_proposal=on_proposal,
    claims_safety=never,
)
