"""``flexible``: join quorum ``Q1`` and vote quorum ``Q2`` of any size (Flexible Paxos).

Safe exactly when every join quorum meets every vote quorum, ``Q1 + Q2 > N``; a pair with
``Q1 + Q2 <= N`` is refused unless ``allow_unsafe`` is set, and then runs as an unsafe variant.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

from paxos_exp.core.errors import ConfigError
from paxos_exp.core.protocols import classic
from paxos_exp.core.quorum import Quorums


@dataclass(frozen=True)
class Params:
    join_quorum: Optional[int] = None  # None: a strict majority
    vote_quorum: Optional[int] = None
    allow_unsafe: bool = False

    def __post_init__(self) -> None:
        for key in ("join_quorum", "vote_quorum"):
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ConfigError(f"protocol.{key}={value!r}: must be a whole number of nodes")
        if not isinstance(self.allow_unsafe, bool):
            raise ConfigError(f"protocol.allow_unsafe={self.allow_unsafe!r}: must be true or false")


def quorums(nodes: int, params: Params) -> Quorums:
    return Quorums.for_nodes(nodes, params.join_quorum, params.vote_quorum)


def intersect(nodes: int, params: Params) -> bool:
    sizes = quorums(nodes, params)
    return sizes.join + sizes.vote > nodes


def check(nodes: int, params: Params) -> None:
    sizes = quorums(nodes, params)
    if not params.allow_unsafe and sizes.join + sizes.vote <= nodes:
        raise ConfigError(
            f"protocol.join_quorum={sizes.join} and protocol.vote_quorum={sizes.vote} with "
            f"nodes={nodes} are unsafe: {sizes.join} + {sizes.vote} <= {nodes}, so a join quorum "
            "and a vote quorum need not share a node and two leaders can decide different "
            "values; choose sizes that add up to more than nodes, or set "
            "protocol.allow_unsafe=true to run it as an unsafe variant"
        )


PROTOCOL = replace(
    classic.PROTOCOL,
    name="flexible",
    description="join and vote quorums of any size (FPaxos); safe iff they add up to more than N",
    params=Params,
    quorums=quorums,
    claims_safety=intersect,
    check=check,
)
