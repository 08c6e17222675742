"""``own_value``: the leader proposes its own initial value, ignoring what the joiners report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from paxos_exp.core.messages import Message
from paxos_exp.core.node import NodeState
from paxos_exp.core.protocols import RoundContext, Stepped, classic, never


def on_joins(ctx: RoundContext, state: NodeState, received: Sequence[Message]) -> Stepped:
    return classic.leader_on_joins(ctx, state, received, use_reports=False, use_own_state=False)


PROTOCOL = replace(
    classic.PROTOCOL,
    name="own_value",
    description="wrong: the leader proposes its own initial value, ignoring every voted value",
    on_joins=on_joins,
    claims_safety=never,
)
