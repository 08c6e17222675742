"""``partition``: in some rounds a cut splits the nodes in two and messages across it are lost.

Before each round ``r``, with probability ``partition_prob`` (``draws.hit(partition_prob,
trial, r, 18, 0, 0)``) the nodes split into two non-empty sides for that round only; the
next round draws afresh. ``shape`` says which cuts are possible, each with its law:

- ``minority``: one side is a minority, a set of ``k`` nodes with ``1 <= k < N/2``, uniform
  over all such sets (so a size ``k`` has probability ``C(N, k) / sum_j C(N, j)``). Drawn as
  the size (``pick`` at phase 19) and then its members one by one, uniform among the nodes
  left (``pick`` at phase 20, ``a`` = the member's rank). The leader is in it as often as
  any node. N <= 2 has no minority: no cut.
- ``isolated_leader``: the round's leader alone on one side, the others on the other (no
  draw beyond the first; N = 1: no cut).
- ``random_cut``: uniform over all ``2^(N-1) - 1`` cuts into two non-empty sides: the side
  without node 0 is a non-empty subset of ``1..N-1`` of size ``k`` with probability
  ``C(N-1, k) / (2^(N-1) - 1)``, its members drawn as for ``minority``.

``symmetric=true`` silences every message across the cut, both ways. ``symmetric=false``
silences only the messages from the side without the round's leader to the side with it:
acceptors cut off still get the leader's START and PROPOSE (and record the proposal) but
their JOIN, VOTE and relayed CRASH never reach the leader. The other direction alone would
be the symmetric cut again, since in this protocol an acceptor that hears nothing sends
nothing; this one is the asymmetric case that differs (state changes the leader never
learns of). The leader's messages to itself never cross the cut.

This model turns nothing into CRASH and ignores ``fail_prob``: combine it with ``omission``
(``faults=[omission,partition]``) for both kinds of fault.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from paxos_exp.core.draws import Draws
from paxos_exp.core.errors import ConfigError
from paxos_exp.core.faults import (
    DRAW_PHASES,
    FaultEvent,
    FaultModel,
    FaultsBase,
    Intensity,
    PerTrial,
    RoundDraws,
    check_flag,
    check_probability,
)

PHASES = DRAW_PHASES["partition"]
KEY = "faults.partition"
SHAPES = ("minority", "isolated_leader", "random_cut")


@dataclass(frozen=True)
class Params:
    partition_prob: float = 0.1  # per round
    shape: str = "minority"  # minority | isolated_leader | random_cut
    symmetric: bool = True  # false: only messages into the leader's side are lost

    def __post_init__(self) -> None:
        object.__setattr__(self, "partition_prob",
                           check_probability(f"{KEY}.partition_prob", self.partition_prob))
        if self.shape not in SHAPES:
            raise ConfigError(f"{KEY}.shape={self.shape!r}: choose one of {', '.join(SHAPES)}")
        check_flag(f"{KEY}.symmetric", self.symmetric)


def cut_sizes(shape: str, nodes: int) -> list[tuple[int, float]]:
    """The sizes the drawn side can have and their probabilities (``minority``: the
    minority; ``random_cut``: the side without node 0); empty when no cut is possible."""
    if shape == "minority":
        sizes = range(1, (nodes - 1) // 2 + 1)
        weights = [math.comb(nodes, k) for k in sizes]
    else:
        sizes = range(1, nodes)
        weights = [math.comb(nodes - 1, k) for k in sizes]
    total = sum(weights)
    return [(k, w / total) for k, w in zip(sizes, weights)]


class Partition(FaultsBase):
    """Each trial's cut of the current round: per node, whether it is away from the leader's
    side (None: no cut). Nothing carries over to the next round."""

    silences = stateful = True

    def __init__(self, nodes: int, partition_prob: float, shape: str, symmetric: bool,
                 draws: Draws) -> None:
        self.nodes, self.partition_prob, self.shape = nodes, partition_prob, shape
        self.symmetric, self.draws = symmetric, draws
        self._sizes = cut_sizes(shape, nodes)
        self._away: PerTrial = PerTrial()

    def begin_round(self, trial: int, rnd: int) -> None:
        if rnd == 0:
            self._away.starting(trial)
        self._away[trial] = None
        if not self.draws.hit(self.partition_prob, trial, rnd, PHASES["happens"], 0, 0):
            return
        leader = rnd % self.nodes
        if self.shape == "isolated_leader":
            if self.nodes == 1:
                return
            side = {leader}
        else:
            if not self._sizes:
                return
            index = self.draws.pick([w for _, w in self._sizes], trial, rnd, PHASES["size"], 0, 0)
            size = self._sizes[index][0]
            left = list(range(self.nodes)) if self.shape == "minority" else list(range(1, self.nodes))
            side = set()
            for rank in range(size):
                chosen = self.draws.pick([1.0 / len(left)] * len(left), trial, rnd,
                                         PHASES["member"], rank, 0)
                side.add(left.pop(chosen))
        with_leader = leader in side
        self._away[trial] = tuple((node in side) != with_leader for node in range(self.nodes))

    def silenced(self, trial: int, rnd: int, phase: int, sender: int, receiver: int) -> bool:
        away = self._away.get(trial)
        if away is None:
            return False
        if self.symmetric:
            return away[sender] != away[receiver]
        return away[sender] and not away[receiver]

    def state(self, trial: int) -> Hashable:
        # The cut of the current round: nothing carries over to the next round (begin_round
        # draws afresh), but a trial resumed within a round must keep its cut.
        return self._away.get(trial)

    def restore(self, trial: int, state: Hashable) -> None:
        self._away[trial] = state  # type: ignore[assignment]


def _side(nodes: list[int]) -> str:
    return "{" + ", ".join(map(str, nodes)) + "}"


def describe(config: Any, rnd: int, drawn: Mapping[tuple[int, int, int], Any]
             ) -> list[FaultEvent]:
    """The round's cut, rebuilt by the model's own ``begin_round`` from the round's draws."""
    if drawn.get((PHASES["happens"], 0, 0)) is not True:
        return []
    params: Params = config.faults_params("partition")
    nodes = config.nodes
    model = Partition(nodes, params.partition_prob, params.shape, params.symmetric,
                      RoundDraws(drawn))
    model.begin_round(0, rnd)
    away = model.state(0)
    own = tuple(key for key in sorted(drawn) if key[0] in PHASES.values())
    shape = params.shape.replace("_", " ")
    if away is None:
        return [FaultEvent(rnd, "partition", f"a partition ({shape}) was drawn, but "
                           f"{nodes} nodes have no such cut: nothing is cut", draws=own)]
    leader = rnd % nodes
    cut_off = [node for node in range(nodes) if away[node]]  # type: ignore[index]
    kept = [node for node in range(nodes) if not away[node]]  # type: ignore[index]
    messages = frozenset((rnd, a, b) for a in range(nodes) for b in range(nodes)
                         if model.silenced(0, rnd, 0, a, b))
    split = (f"the nodes split into {_side(kept)} (the leader {leader}'s side) and "
             f"{_side(cut_off)}")
    if params.symmetric:
        text = (f"partition ({shape}): {split}; every message between the sides is lost, "
                "both ways")
    else:
        text = (f"partition ({shape}, one way): {split}; every message from {_side(cut_off)} "
                f"to {_side(kept)} is lost, the other way arrives")
    return [FaultEvent(rnd, "partition", text, draws=own, nodes=tuple(cut_off),
                       messages=messages, reason="across the cut")]


def build(config: Any, draws: Draws) -> Partition:
    params: Params = config.faults_params("partition")
    return Partition(config.nodes, params.partition_prob, params.shape, params.symmetric, draws)


FAULTS = FaultModel(
    name="partition",
    description="per round with probability partition_prob a cut (minority, isolated_leader, "
                "random_cut) silences messages across it (both ways, or into the leader's side)",
    build=build,
    params=Params,
    describe=describe,
    # Drawn afresh each round; every shape's law treats the leader as any other node (or,
    # isolated_leader, by its role): the same law whichever node leads.
    rounds_iid=lambda _params: True,
    intensity=Intensity("partition_prob", "partition probability per round"),
)
