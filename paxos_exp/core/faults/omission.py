from __future__ import annotations

from typing import Any

from paxos_exp.core.draws import Draws, SeededDraws, uniform
from paxos_exp.core.faults import FaultModel, FaultsBase


class Omission(FaultsBase):
    __slots__ = ("fail_prob", "draws", "_seed")

    def __init__(self, fail_prob: float, draws: Draws) -> None:
        self.fail_prob, self.draws = fail_prob, draws
        # The hot path: seeded draws inline (one call less per failure-prone send).
        self._seed = draws.seed if type(draws) is SeededDraws else None

    def crashes(self, trial: int, rnd: int, phase: int, sender: int, receiver: int) -> bool:
        fail_prob = self.fail_prob
        if fail_prob <= 0.0:
            return False
        if fail_prob >= 1.0:
            return True
        if self._seed is not None:
            return uniform(self._seed, trial, rnd, phase, sender, receiver) < fail_prob
        return self.draws.hit(fail_prob, trial, rnd, phase, sender, receiver)


def build(config: Any, draws: Draws) -> Omission:
    return Omission(config.fail_prob, draws)


FAULTS = FaultModel(
    name="omission",
    description="each failure-prone message becomes CRASH with probability fail_prob",
    build=build,
    keeps_theory=True,
)
