"""Protocols: one module each in this package, found by name (``PROTOCOLS.get("classic")``).

A protocol is the five steps of a round, all with one signature: ``step(round, state,
received) -> (state, sends, counted)``, where ``received`` is what arrived for the node in
that phase (nothing for the leader's first step; at most one message for an acceptor; what
the leader gathered, one per sender at most, fewer when a fault model silenced some) and
``counted`` is the number of messages the leader counted towards its quorum (0 elsewhere).
``on_votes`` leaves this round's decision in the state's ``decision`` (None if none).
The order of the steps is the round driver's (:mod:`paxos_exp.core.driver`), never a
protocol's. To add a protocol, add a module here defining ``PROTOCOL`` and a YAML in
``conf/protocol/``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from paxos_exp.core.messages import Message
from paxos_exp.core.node import NodeState, Send
from paxos_exp.core.quorum import Quorums
from paxos_exp.core.registry import NoParams, Registry
from paxos_exp.core.theory import RoundLaw, quorum_law


@dataclass(frozen=True, slots=True)
class RoundContext:
    """What every step knows about the round it is in."""

    trial: int
    round: int
    leader: int
    nodes: int
    quorums: Quorums


Stepped = tuple[NodeState, list[Send], int]
Step = Callable[[RoundContext, NodeState, Sequence[Message]], Stepped]


def _majorities(nodes: int, _params: Any) -> Quorums:
    return Quorums.for_nodes(nodes)


def _safe(_nodes: int, _params: Any) -> bool:
    return True


def never(_nodes: int, _params: Any) -> bool:
    """``claims_safety`` of a deliberately wrong variant."""
    return False


def _no_check(_nodes: int, _params: Any) -> None:
    return None


@dataclass(frozen=True)
class Protocol:
    """A registered protocol (see the module docstring for the step signature).

    ``claims_safety(nodes, params)``: whether it promises agreement and validity (a wrong
    variant does not, so its violations are measured, not fatal); ``check(nodes, params)``
    raises ConfigError for a setting that must not run; ``theory``: the exact per-round law
    under the omission fault model, or None when there is none.
    """

    name: str
    description: str
    start: Step  # leader: broadcast the request (received: nothing)
    on_request: Step  # acceptor, join phase
    on_joins: Step  # leader, end of the join phase: propose or change round
    on_proposal: Step  # acceptor, vote phase
    on_votes: Step  # leader, end of the vote phase: decide or not
    params: type = NoParams
    quorums: Callable[[int, Any], Quorums] = _majorities
    claims_safety: Callable[[int, Any], bool] = _safe
    check: Callable[[int, Any], None] = _no_check
    theory: Callable[[int, float, Quorums], RoundLaw] | None = quorum_law


PROTOCOLS: Registry[Protocol] = Registry(__name__, "PROTOCOL", "protocol", "protocol")
DEFAULT_PROTOCOL = "classic"
