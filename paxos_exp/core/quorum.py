"""Quorum rules: strict majority by default; join and vote sizes can differ for variants."""

from __future__ import annotations

from dataclasses import dataclass

from paxos_exp.core.errors import ConfigError


def majority(nodes: int) -> int:
    """The smallest count strictly greater than ``nodes / 2``."""
    return nodes // 2 + 1


@dataclass(frozen=True, slots=True)
class Quorums:
    """How many joins and how many votes a leader needs."""

    join: int
    vote: int

    @staticmethod
    def for_nodes(nodes: int, join: int | None = None, vote: int | None = None) -> Quorums:
        """Strict majorities unless sizes are given; sizes must lie in ``1..nodes``."""
        quorums = Quorums(
            join=majority(nodes) if join is None else join,
            vote=majority(nodes) if vote is None else vote,
        )
        for name, size in (("protocol.join_quorum", quorums.join), ("protocol.vote_quorum", quorums.vote)):
            if not 1 <= size <= nodes:
                raise ConfigError(
                    f"{name}={size} is impossible with nodes={nodes}: choose a size from 1 to "
                    f"{nodes}, or leave it unset for a strict majority ({majority(nodes)})"
                )
        return quorums
