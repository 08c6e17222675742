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

    # The steps' state changes, spelled as plain constructor calls: dataclasses.replace is
    # about ten times slower, and these run several times per node and round.
    def voted(self, rnd: int, value: int | None) -> NodeState:
        """This state having voted for ``value`` in round ``rnd``."""
        return NodeState(self.node, self.val, rnd, value, self.propose_val, self.decision,
                         self.memo)

    def proposing(self, value: int | None) -> NodeState:
        """This state with ``propose_val`` set (None: no proposal this round)."""
        return NodeState(self.node, self.val, self.max_voted_round, self.max_voted_val, value,
                         self.decision, self.memo)

    def deciding(self, decision: int | None) -> NodeState:
        """This state with this round's ``decision`` (None: none)."""
        return NodeState(self.node, self.val, self.max_voted_round, self.max_voted_val,
                         self.propose_val, decision, self.memo)


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
