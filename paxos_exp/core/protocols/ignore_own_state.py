"""``ignore_own_state``: the leader leaves its own voting history out of the value rule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from paxos_exp.core.messages import Message
from paxos_exp.core.node import NodeState
from paxos_exp.core.protocols import RoundContext, Stepped, classic, never


def on_joins(ctx: RoundContext, state: NodeState, received: Sequence[Message]) -> Stepped:
    return classic.leader_on_joins(ctx, state, received, use_own_state=False)


PROTOCOL = replace(
    classic.PROTOCOL,
    name="ignore_own_state",
    description="wrong: the leader leaves its own voted value out of the value rule",
    on_joins=on_joins,
    claims_safety=never,
)
