"""``crash_stop``: nodes crash for good.

Before each round ``r`` (round 0 included), every node that is still live crashes with
probability ``crash_prob``, one draw per live node, ``draws.hit(crash_prob, trial, r,
16, node, 0)``, taken in id order; a node whose draw hits crashes only while fewer than
``max_crashed`` nodes have crashed (so when the bound binds, lower ids go first; a node
that did not crash is drawn afresh the next round). ``max_crashed`` left unset (null) means
``N - 1``: at least one node stays up, since a run with every node crashed does nothing at
all. A crashed node is down from that round on: it takes no step and writes no line, every
message to or from it is silenced (no CRASH marker), and a round it would lead has no leader.

This model turns nothing into CRASH and ignores ``fail_prob``: combine it with ``omission``
(``faults=[omission,crash_stop]``) for both kinds of fault.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Optional

from paxos_exp.core.draws import Draws
from paxos_exp.core.errors import ConfigError
from paxos_exp.core.faults import (
    DRAW_PHASES,
    FaultEvent,
    FaultModel,
    FaultsBase,
    Intensity,
    PerTrial,
    check_count,
    check_probability,
    node_down_event,
)

CRASH_PHASE = DRAW_PHASES["crash_stop"]["crash"]
KEY = "faults.crash_stop"


@dataclass(frozen=True)
class Params:
    crash_prob: float = 0.1  # per live node, before each round
    max_crashed: Optional[int] = None  # null: N - 1 (one node always stays up)

    def __post_init__(self) -> None:
        object.__setattr__(self, "crash_prob",
                           check_probability(f"{KEY}.crash_prob", self.crash_prob))
        if self.max_crashed is not None:
            check_count(f"{KEY}.max_crashed", self.max_crashed, 0)


def check(nodes: int, params: Params) -> None:
    if params.max_crashed is not None and params.max_crashed > nodes:
        raise ConfigError(f"{KEY}.max_crashed={params.max_crashed}: at most nodes={nodes} can "
                          "crash; give a number from 0 to nodes, or null for nodes - 1")


class CrashStop(FaultsBase):
    """The crashed nodes of each trial (a tuple in id order) are its state."""

    silences = stops = stateful = True

    def __init__(self, nodes: int, crash_prob: float, max_crashed: int, draws: Draws) -> None:
        self.nodes, self.crash_prob, self.max_crashed = nodes, crash_prob, max_crashed
        self.draws = draws
        self._crashed: PerTrial = PerTrial()

    def begin_round(self, trial: int, rnd: int) -> None:
        if rnd == 0:
            self._crashed.starting(trial)
        crashed = set() if rnd == 0 else set(self._crashed.get(trial, ()))
        if self.crash_prob > 0.0:
            for node in range(self.nodes):
                if node in crashed or len(crashed) >= self.max_crashed:
                    continue
                if self.draws.hit(self.crash_prob, trial, rnd, CRASH_PHASE, node, 0):
                    crashed.add(node)
        self._crashed[trial] = frozenset(crashed)

    def down(self, trial: int, rnd: int, node: int) -> bool:
        return node in self._crashed.get(trial, ())

    def silenced(self, trial: int, rnd: int, phase: int, sender: int, receiver: int) -> bool:
        crashed = self._crashed.get(trial, ())
        return sender in crashed or receiver in crashed

    def state(self, trial: int) -> Hashable:
        return tuple(sorted(self._crashed.get(trial, ())))

    def restore(self, trial: int, state: Hashable) -> None:
        self._crashed[trial] = frozenset(state or ())  # type: ignore[arg-type]


def describe(config: Any, rnd: int, drawn: Mapping[tuple[int, int, int], Any]
             ) -> list[FaultEvent]:
    """Each node whose crash draw hit before round ``rnd``: down from then on."""
    events = []
    for (phase, node, _), answer in sorted(drawn.items()):
        if phase == CRASH_PHASE and answer is True:
            events.append(node_down_event(
                "crash_stop", rnd, (phase, node, 0), node, range(rnd, config.rounds),
                config.nodes, f"node {node} crashed for good (crash_stop): it takes no part "
                f"in round {rnd} or any later one", f"node {node} has crashed"))
    return events


def build(config: Any, draws: Draws) -> CrashStop:
    params: Params = config.faults_params("crash_stop")
    bound = config.nodes - 1 if params.max_crashed is None else params.max_crashed
    return CrashStop(config.nodes, params.crash_prob, bound, draws)


FAULTS = FaultModel(
    name="crash_stop",
    description="before each round each live node crashes for good with probability crash_prob "
                "(silent; at most max_crashed)",
    build=build,
    params=Params,
    check=check,
    describe=describe,
    intensity=Intensity("crash_prob", "crash probability per node and round"),
)
