"""``half_quorum``: quorums of ``floor(N/2)`` instead of a strict majority (at least one)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from paxos_exp.core.protocols import classic, never
from paxos_exp.core.quorum import Quorums


def quorums(nodes: int, _params: Any) -> Quorums:
    half = max(1, nodes // 2)
    return Quorums.for_nodes(nodes, half, half)


PROTOCOL = replace(
    classic.PROTOCOL,
    name="half_quorum",
    description="wrong: quorums of floor(N/2), so two quorums need not share a node",
    quorums=quorums,
    claims_safety=never,
)
