"""What a node is: its state, the sends its steps ask for, who leads a round, who talks to whom.

The steps themselves belong to a protocol (:mod:`paxos_exp.core.protocols`). A step never
draws randomness: it marks each send failure-prone or plain, and the round driver passes
every send through the run's fault model.
"""

from __future__ import annotations

from dataclasses import dataclass

from paxos_exp.core.messages import Message


@dataclass(frozen=True, slots=True)
class NodeState:
    """What a node remembers across rounds (PROTOCOL.md, "Node state")."""

    node: int
    val: int
    max_voted_round: int = -1
    max_voted_val: int | None = None
    propose_val: int | None = None
    decision: int | None = None
    # A protocol's own bookkeeping beyond PROTOCOL.md's state (None for most protocols).
    memo: object = None


@dataclass(frozen=True, slots=True)
class Send:
    """One message a step wants sent; ``failure_prone`` sends go through the failure draw."""

    receiver: int
    message: Message
    failure_prone: bool


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
