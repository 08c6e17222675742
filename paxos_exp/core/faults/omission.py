"""``omission``: the assignment's model. Each failure-prone send becomes ``CRASH <leader>``
when its draw ``U`` is below ``fail_prob`` (strictly: p=0 never fails, p=1 always); nothing
is ever silenced."""

from __future__ import annotations

from typing import Any

from paxos_exp.core.draws import uniform
from paxos_exp.core.faults import FaultModel


class Omission:
    __slots__ = ("fail_prob", "seed")
    silences = False

    def __init__(self, fail_prob: float, seed: int) -> None:
        self.fail_prob, self.seed = fail_prob, seed

    def crashes(self, trial: int, rnd: int, phase: int, sender: int, receiver: int) -> bool:
        fail_prob = self.fail_prob
        if fail_prob <= 0.0:
            return False
        if fail_prob >= 1.0:
            return True
        return uniform(self.seed, trial, rnd, phase, sender, receiver) < fail_prob

    def silenced(self, trial: int, rnd: int, phase: int, sender: int, receiver: int) -> bool:
        return False


def build(config: Any) -> Omission:
    return Omission(config.fail_prob, config.seed)


FAULTS = FaultModel(
    name="omission",
    description="each failure-prone message becomes CRASH with probability fail_prob",
    build=build,
    keeps_theory=True,
)
