from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paxos_exp.core.draws import Draws, SeededDraws, uniform
from paxos_exp.core.faults import FaultEvent, FaultModel, FaultsBase, Intensity, message_name
from paxos_exp.core.messages import Phase


class Omission(FaultsBase):
    """Each failure-prone send becomes CRASH when ``draws.hit(fail_prob, position)``."""

    __slots__ = ("fail_prob", "draws")

    def __init__(self, fail_prob: float, draws: Draws) -> None:
        self.fail_prob, self.draws = fail_prob, draws

    def crashes(self, trial: int, rnd: int, phase: int, sender: int, receiver: int) -> bool:
        return self.draws.hit(self.fail_prob, trial, rnd, phase, sender, receiver)


class SeededOmission(Omission):
    """The same answers from the seed's draws, inlined: this runs for every failure-prone
    send of every simulated run (the hot path), and a call less is about 5% of it."""

    __slots__ = ("seed",)

    def __init__(self, fail_prob: float, draws: SeededDraws) -> None:
        super().__init__(fail_prob, draws)
        self.seed = draws.seed

    def crashes(self, trial: int, rnd: int, phase: int, sender: int, receiver: int) -> bool:
        fail_prob = self.fail_prob
        if fail_prob <= 0.0:
            return False
        if fail_prob >= 1.0:
            return True
        return uniform(self.seed, trial, rnd, phase, sender, receiver) < fail_prob


def describe(config: Any, rnd: int, drawn: Mapping[tuple[int, int, int], Any]
             ) -> list[FaultEvent]:
    """Each failure-prone send whose draw hit (phase JOIN or VOTE) became CRASH."""
    events = []
    for (phase, sender, receiver), answer in sorted(drawn.items()):
        if phase in (Phase.JOIN, Phase.VOTE) and answer is True:
            events.append(FaultEvent(
                rnd, "omission",
                f"{message_name(config.nodes, rnd, phase, sender, receiver)} became CRASH",
                draws=((phase, sender, receiver),), nodes=(sender,),
                messages=frozenset({(rnd, sender, receiver)}), reason="became CRASH"))
    return events


def build(config: Any, draws: Draws) -> Omission:
    if type(draws) is SeededDraws:
        return SeededOmission(config.fail_prob, draws)
    return Omission(config.fail_prob, draws)


FAULTS = FaultModel(
    name="omission",
    description="each failure-prone message becomes CRASH with probability fail_prob",
    build=build,
    keeps_theory=True,
    rounds_iid=lambda _params: True,
    describe=describe,
    intensity=Intensity("fail_prob", "crash probability p (per message)",
                        short="crash probability p"),
)
