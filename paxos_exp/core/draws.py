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
