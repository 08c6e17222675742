"""The minimal counterexample: the fewest faults, then the smallest N, then the fewest rounds.

The exploration of (N, R) keeps, for every configuration, the path that reached it with the
fewest faults, so its witness has the fewest faults of any violation within R rounds, and
among those the earliest round. Smaller node counts are explored too (with every initial
vector; a given vector fixes N), and the best of all is the minimal counterexample.

A :class:`~paxos_exp.explore.explorer.Budget` bounds the whole search: the exploration asked
for gets all of it (and raises :class:`~paxos_exp.explore.explorer.TooLarge` when it runs
out), each smaller node count what is left (of memory, the same bound again). When the
smaller counts run out of it, the best witness found so far is kept and
:attr:`Search.incomplete` says where the search stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from paxos_exp.core.config import RunConfig
from paxos_exp.core.errors import ConfigError
from paxos_exp.explore.explorer import Budget, Exploration, TooLarge, Witness, explore


@dataclass
class Search:
    """The exploration of the configuration asked for, and the minimal counterexample over
    it and every smaller node count (None when all are safe, or when ``exploration`` is safe
    and smaller counts were not searched)."""

    exploration: Exploration
    witness: Witness | None
    smaller: dict[int, Exploration]  # node count -> its exploration (or absent: not valid)
    # Why the smaller node counts were not all searched (the budget ran out), or None.
    incomplete: str | None = None


def smaller_config(config: RunConfig, nodes: int) -> RunConfig | None:
    """``config`` with ``nodes`` nodes (and no given initial values), or None when its
    settings do not fit that many nodes (a quorum larger than N, say)."""
    try:
        return replace(config, nodes=nodes, initial_values=None)
    except ConfigError:
        return None


def _left(budget: Budget | None, began: float, used: int) -> Budget | None:
    """What is left of ``budget`` after ``used`` states and the CPU time since ``began``; the
    memory bound as it was (each exploration's growth counts from its own start: the one
    before has let its configurations go, and their memory is used again first)."""
    if budget is None:
        return None
    return Budget(
        states=None if budget.states is None else max(budget.states - used, 0),
        seconds=None if budget.seconds is None
        else max(budget.seconds - (time.process_time() - began), 0.0),
        memory_mb=budget.memory_mb)


def search(config: RunConfig, exact: bool = False, smaller: bool = True,
           budget: Budget | None = None) -> Search:
    """Explore ``config``; if it breaks, explore every smaller node count too (unless
    ``smaller`` is False or the initial values are given) and return the minimal witness.
    Raises :class:`TooLarge` when ``config``'s own exploration runs out of ``budget``."""
    began = time.process_time()
    main = explore(config, exact=exact, budget=budget)
    if main.witness is None:
        return Search(main, None, {})
    best = main.witness
    others: dict[int, Exploration] = {}
    used = main.configurations
    if smaller and config.initial_values is None:
        for nodes in range(1, config.nodes):
            fitted = smaller_config(config, nodes)
            if fitted is None:
                continue
            try:
                found = explore(fitted, exact=exact, budget=_left(budget, began, used))
            except TooLarge as error:
                return Search(main, best, others, f"N={nodes} not searched: {error}")
            used += found.configurations
            others[nodes] = found
            witness = found.witness
            if witness is not None and _order(witness) < _order(best):
                best = witness
    return Search(main, best, others)


def _order(witness: Witness) -> tuple[int, int, int]:
    return (witness.faults, witness.nodes, witness.rounds)
