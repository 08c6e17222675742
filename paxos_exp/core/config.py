"""The run configuration and its range checks (run before any process starts)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from paxos_exp.core.errors import ConfigError
from paxos_exp.core.faults import MAX_SEED, initial_value
from paxos_exp.core.quorum import Quorums

ENGINES = ("processes", "inprocess")
# ZeroMQ takes receive deadlines as an int of milliseconds (at most ~24.8 days) and OS waits
# reject infinite ones; a day is beyond any sensible wait and within every limit.
MAX_TIMEOUT = 86_400.0
# The runtime keys that decide whether a run finishes, never what it records.
DEADLINE_KEYS = ("startup_timeout", "receive_timeout", "barrier_timeout")
START_METHODS = ("fork", "spawn", "forkserver")


# Float noise from Hydra's range() (0.15000000000000002) must not change a job or its key;
# twelve significant digits keep every value a user can mean (1e-11 stays 1e-11).
FAIL_PROB_SIGNIFICANT = 12


def canonical_fail_prob(value: float) -> float:
    """``fail_prob`` without binary float noise: ``0.15000000000000002`` -> ``0.15``."""
    return float(f"{float(value):.{FAIL_PROB_SIGNIFICANT}g}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class RunConfig:
    """What to simulate. ``initial_values``: None for fair coins drawn from the seed per
    trial, or one 0/1 value per node used in every trial."""

    nodes: int
    fail_prob: float
    rounds: int
    trials: int = 1
    seed: int = 0
    initial_values: tuple[int, ...] | None = None
    join_quorum: int | None = None
    vote_quorum: int | None = None
    trace: bool = False

    def __post_init__(self) -> None:
        if not _is_int(self.nodes) or self.nodes < 1:
            raise ConfigError(f"nodes={self.nodes!r}: the number of nodes must be an integer >= 1")
        if isinstance(self.fail_prob, bool) or not isinstance(self.fail_prob, (int, float)):
            raise ConfigError(f"fail_prob={self.fail_prob!r}: must be a number in [0, 1]")
        if not (math.isfinite(self.fail_prob) and 0.0 <= self.fail_prob <= 1.0):
            raise ConfigError(f"fail_prob={self.fail_prob!r}: must lie in [0, 1]")
        object.__setattr__(self, "fail_prob", float(self.fail_prob))
        if not _is_int(self.rounds) or self.rounds < 0:
            raise ConfigError(f"rounds={self.rounds!r}: the number of rounds must be an integer >= 0")
        if not _is_int(self.trials) or self.trials < 1:
            raise ConfigError(f"trials={self.trials!r}: the number of trials must be an integer >= 1")
        if not _is_int(self.seed) or not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"seed={self.seed!r}: must be an integer from 0 to 2**64-1")
        if self.initial_values is not None:
            values = tuple(self.initial_values)
            if len(values) != self.nodes or any(v not in (0, 1) or isinstance(v, bool) for v in values):
                raise ConfigError(
                    f"initial_values={''.join(map(str, values))}: give exactly one 0 or 1 per "
                    f"node ({self.nodes} values, such as {'01' * (self.nodes // 2)}"
                    f"{'0' * (self.nodes % 2)}), or leave it unset for fair coins from the seed; "
                    "write it without commas (with commas, paxos-exp -m reads a sweep)"
                )
            object.__setattr__(self, "initial_values", values)
        Quorums.for_nodes(self.nodes, self.join_quorum, self.vote_quorum)

    @property
    def quorums(self) -> Quorums:
        return Quorums.for_nodes(self.nodes, self.join_quorum, self.vote_quorum)

    def initial_values_for(self, trial: int) -> tuple[int, ...]:
        """The initial values of every node in one trial."""
        if self.initial_values is not None:
            return self.initial_values
        return tuple(initial_value(self.seed, trial, node) for node in range(self.nodes))


@dataclass(frozen=True)
class RuntimeOptions:
    """How to run it. Deadlines are in seconds; every blocking wait has one. A deadline left
    at None is chosen for the run's size (60 s to start and 10 s per wait, grown with N: see
    ``paxos_exp.runtime.limits.default_deadlines``)."""

    engine: str = "processes"
    start_method: str = "fork"
    startup_timeout: float | None = None
    receive_timeout: float | None = None
    barrier_timeout: float | None = None
    transcript: bool = False

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ConfigError(f"engine={self.engine!r}: choose one of {', '.join(ENGINES)}")
        if self.start_method not in START_METHODS:
            raise ConfigError(
                f"start_method={self.start_method!r}: choose one of {', '.join(START_METHODS)}"
            )
        for name in DEADLINE_KEYS:
            value = getattr(self, name)
            if value is None:
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not 0 < value <= MAX_TIMEOUT
            ):
                raise ConfigError(
                    f"{name}={value!r}: must be a number of seconds above 0 and at most "
                    f"{MAX_TIMEOUT:g} (one day)"
                )


def parse_initial_values(values: Sequence[int] | str | None) -> tuple[int, ...] | None:
    """Accept ``None``, a sequence of 0/1, or a string such as ``"0101"`` or ``"0,1,0,1"``."""
    if values is None:
        return None
    if isinstance(values, str):
        text = values.strip().strip("[]()").replace(",", "").replace(" ", "")
        if text.lower() in ("", "random", "none", "null"):
            return None
        if set(text) - {"0", "1"}:
            raise ConfigError(
                f"initial_values={values!r}: write one 0 or 1 per node, such as 0101"
            )
        return tuple(int(ch) for ch in text)
    return tuple(values)
