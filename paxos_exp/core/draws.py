"""Every random choice is a pure function of its position.

A draw is keyed on ``(seed, trial, round, phase, sender, receiver)`` and hashed with BLAKE2b, so
two engines (or two runs, whatever the OS scheduling) that ask for the same position get the
same number, and no generator state is ever shared between processes. Fault models draw
through :func:`uniform`; a fault model that needs more than one draw per position uses its own
``phase`` numbers (from :data:`FIRST_FREE_PHASE` up), so its draws never coincide with another's.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from typing import Protocol as Interface

from paxos_exp.core.messages import Phase

MAX_SEED = 2**64 - 1
# Draw phases below this are the protocol's (INIT, JOIN, VOTE); fault models key their
# per-round or per-node draws from here up.
FIRST_FREE_PHASE = 16

_KEY = struct.Struct("<QQQBQQ")
_SCALE = 2.0**-53
_blake2b = hashlib.blake2b


def uniform(seed: int, trial: int, rnd: int, phase: int, sender: int, receiver: int) -> float:
    """A uniform number in [0, 1) determined only by its arguments."""
    digest = _blake2b(
        _KEY.pack(seed, trial, rnd, phase, sender, receiver), digest_size=8
    ).digest()
    return (int.from_bytes(digest, "little") >> 11) * _SCALE


def fails(
    fail_prob: float, seed: int, trial: int, rnd: int, phase: int, sender: int, receiver: int
) -> bool:
    """Whether the draw at this position hits: ``U < p`` (so p=0 never, p=1 always)."""
    if fail_prob <= 0.0:
        return False
    if fail_prob >= 1.0:
        return True
    return uniform(seed, trial, rnd, phase, sender, receiver) < fail_prob


def initial_value(seed: int, trial: int, node: int) -> int:
    """The default initial value of a node in a trial: a fair coin from the seed."""
    return 1 if uniform(seed, trial, 0, Phase.INIT, node, 0) < 0.5 else 0


class Draws(Interface):
    """Where a fault model gets its randomness: every choice is named by its position
    ``(trial, round, phase, a, b)``. :class:`SeededDraws` answers from the seed (every engine,
    every process, the same answer); the exhaustive checker answers each choice every way it
    can go, weighed by its probability. So a fault model written against this interface is
    simulated and explored by the same code."""

    def hit(self, prob: float, trial: int, rnd: int, phase: int, a: int, b: int) -> bool:
        """True with probability ``prob`` (``prob <= 0`` never, ``prob >= 1`` always)."""
        ...

    def pick(self, weights: Sequence[float], trial: int, rnd: int, phase: int, a: int,
             b: int) -> int:
        """Index ``i`` with probability ``weights[i]`` (non-negative, summing to 1)."""
        ...


class SeededDraws:
    """The draws of a run: a pure function of the seed and the position (:func:`uniform`)."""

    __slots__ = ("seed",)

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def hit(self, prob: float, trial: int, rnd: int, phase: int, a: int, b: int) -> bool:
        if prob <= 0.0:
            return False
        if prob >= 1.0:
            return True
        return uniform(self.seed, trial, rnd, phase, a, b) < prob

    def pick(self, weights: Sequence[float], trial: int, rnd: int, phase: int, a: int,
             b: int) -> int:
        draw = uniform(self.seed, trial, rnd, phase, a, b)
        total = 0.0
        last = 0
        for index, weight in enumerate(weights):
            if weight > 0.0:
                total += weight
                last = index
                if draw < total:
                    return index
        return last  # rounding left the draw above the sum: the last possible choice
