"""The minimal counterexample: the fewest faults, then the smallest N, then the fewest rounds.

The exploration of (N, R) keeps, for every configuration, the path that reached it with the
fewest faults, so its witness has the fewest faults of any violation within R rounds, and
among those the earliest round. Smaller node counts are explored too (with every initial
vector; a given vector fixes N), and the best of all is the minimal counterexample.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from paxos_exp.core.config import RunConfig
from paxos_exp.core.errors import ConfigError
from paxos_exp.explore.explorer import Exploration, Witness, explore


@dataclass
class Search:
    """The exploration of the configuration asked for, and the minimal counterexample over
    it and every smaller node count (None when all are safe, or when ``exploration`` is safe
    and smaller counts were not searched)."""

    exploration: Exploration
    witness: Witness | None
    smaller: dict[int, Exploration]  # node count -> its exploration (or absent: not valid)


def smaller_config(config: RunConfig, nodes: int) -> RunConfig | None:
    """``config`` with ``nodes`` nodes (and no given initial values), or None when its
    settings do not fit that many nodes (a quorum larger than N, say)."""
    try:
        return replace(config, nodes=nodes, initial_values=None)
    except ConfigError:
        return None


def search(config: RunConfig, exact: bool = False, smaller: bool = True) -> Search:
    """Explore ``config``; if it breaks, explore every smaller node count too (unless
    ``smaller`` is False or the initial values are given) and return the minimal witness."""
    main = explore(config, exact=exact)
    if main.witness is None:
        return Search(main, None, {})
    best = main.witness
    others: dict[int, Exploration] = {}
    if smaller and config.initial_values is None:
        for nodes in range(1, config.nodes):
            fitted = smaller_config(config, nodes)
            if fitted is None:
                continue
            found = explore(fitted, exact=exact)
            others[nodes] = found
            witness = found.witness
            if witness is not None and _order(witness) < _order(best):
                best = witness
    return Search(main, best, others)


def _order(witness: Witness) -> tuple[int, int, int]:
    return (witness.faults, witness.nodes, witness.rounds)
