"""``crash_recovery``: nodes go down for a while and come back.

Before each round ``r``, every node that is up (one coming back this round included) goes
down with probability ``crash_prob``, one draw per such node, ``draws.hit(crash_prob, trial,
r, 17, node, 0)``. A node that goes down before round ``r`` is down in rounds ``r .. r +
down_rounds - 1`` (it takes no step, writes no line, every message to or from it is
silenced, a round it would lead has no leader) and comes back in round ``r + down_rounds``:
with its state, as stable storage would keep it (``amnesia=false``, durable), or with its
``maxVoted*`` and every other memory but its initial value wiped (``amnesia=true``: an unsafe
model, the reason Paxos writes its promises and votes to disk before answering). Any number
of nodes may be down at once. With ``down_rounds=1`` every node is drawn afresh before every
round, so rounds are independent (``rounds_iid``): one round's exact law gives any R's.

This model turns nothing into CRASH and ignores ``fail_prob``: combine it with ``omission``
(``faults=[omission,crash_recovery]``) for both kinds of fault.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from paxos_exp.core.draws import Draws
from paxos_exp.core.faults import (
    DRAW_PHASES,
    FaultEvent,
    FaultModel,
    FaultsBase,
    Intensity,
    PerTrial,
    check_count,
    check_flag,
    check_probability,
    counted,
    node_down_event,
)

DOWN_PHASE = DRAW_PHASES["crash_recovery"]["down"]
KEY = "faults.crash_recovery"


@dataclass(frozen=True)
class Params:
    crash_prob: float = 0.1  # per up node, before each round
    down_rounds: int = 1  # rounds a node stays down
    amnesia: bool = False  # false: back with its state (durable); true: back wiped (unsafe)

    def __post_init__(self) -> None:
        object.__setattr__(self, "crash_prob",
                           check_probability(f"{KEY}.crash_prob", self.crash_prob))
        check_count(f"{KEY}.down_rounds", self.down_rounds, 1)
        check_flag(f"{KEY}.amnesia", self.amnesia)


class CrashRecovery(FaultsBase):
    """A trial's state: for each node, the rounds it is still down counting the current one
    (0: up), as a tuple; the nodes back in the current round, for the wipe."""

    silences = stops = stateful = True

    def __init__(self, nodes: int, crash_prob: float, down_rounds: int, amnesia: bool,
                 draws: Draws) -> None:
        self.nodes, self.crash_prob, self.down_rounds = nodes, crash_prob, down_rounds
        self.amnesia, self.draws = amnesia, draws
        self._left: PerTrial = PerTrial()
        self._back: PerTrial = PerTrial()

    def begin_round(self, trial: int, rnd: int) -> None:
        if rnd == 0:
            self._left.starting(trial)
            self._back.starting(trial)
        before = (0,) * self.nodes if rnd == 0 else self._left.get(trial, (0,) * self.nodes)
        left, back = [], set()
        for node, down in enumerate(before):
            if down > 1:
                left.append(down - 1)
                continue
            if down == 1:
                back.add(node)
            if self.draws.hit(self.crash_prob, trial, rnd, DOWN_PHASE, node, 0):
                left.append(self.down_rounds)
            else:
                left.append(0)
        self._left[trial] = tuple(left)
        self._back[trial] = frozenset(back) if self.amnesia else frozenset()

    def down(self, trial: int, rnd: int, node: int) -> bool:
        left = self._left.get(trial)
        return left is not None and left[node] > 0

    def wiped(self, trial: int, rnd: int, node: int) -> bool:
        return node in self._back.get(trial, ())

    def silenced(self, trial: int, rnd: int, phase: int, sender: int, receiver: int) -> bool:
        left = self._left.get(trial)
        return left is not None and (left[sender] > 0 or left[receiver] > 0)

    def state(self, trial: int) -> Hashable:
        left = self._left.get(trial)
        return None if left is None or not any(left) else left

    def restore(self, trial: int, state: Hashable) -> None:
        self._left[trial] = (0,) * self.nodes if state is None else tuple(state)  # type: ignore[arg-type]
        self._back[trial] = frozenset()


def describe(config: Any, rnd: int, drawn: Mapping[tuple[int, int, int], Any]
             ) -> list[FaultEvent]:
    """Each node whose down draw hit before round ``rnd``: down for ``down_rounds`` rounds,
    back durable or wiped (or still down when the run ends)."""
    params: Params = config.faults_params("crash_recovery")
    back = rnd + params.down_rounds
    if back >= config.rounds:
        after = "still down when the run ends"
    elif params.amnesia:
        after = f"comes back in round {back} wiped, its votes forgotten: amnesia"
    else:
        after = f"comes back in round {back} with its state (durable)"
    events = []
    for (phase, node, _), answer in sorted(drawn.items()):
        if phase == DOWN_PHASE and answer is True:
            events.append(node_down_event(
                "crash_recovery", rnd, (phase, node, 0), node,
                range(rnd, min(back, config.rounds)), config.nodes,
                f"node {node} went down (crash_recovery: down for "
                f"{counted(params.down_rounds, 'round')}, {after})", f"node {node} is down"))
    return events


def build(config: Any, draws: Draws) -> CrashRecovery:
    params: Params = config.faults_params("crash_recovery")
    return CrashRecovery(config.nodes, params.crash_prob, params.down_rounds, params.amnesia,
                         draws)


FAULTS = FaultModel(
    name="crash_recovery",
    description="each up node goes down for down_rounds rounds with probability crash_prob per "
                "round; back durable, or wiped with amnesia=true (unsafe)",
    build=build,
    params=Params,
    keeps_safety=lambda params: not params.amnesia,
    describe=describe,
    intensity=Intensity("crash_prob", "crash probability per node and round"),
    # Down for one round, every node is drawn afresh before each round: the rounds' faults are
    # independent, with one law whoever leads (a wiped state changes no decision's odds).
    rounds_iid=lambda params: params.down_rounds == 1,
)
