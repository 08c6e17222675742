"""Fault models: one module each in this package, found by name (``FAULTS.get("omission")``).

A fault model decides, from the seed and a message's position ``(trial, round, phase,
sender, receiver)`` alone, what becomes of each send: delivered, turned into ``CRASH
<leader>`` (only a failure-prone send), or silenced (nothing arrives, no marker). Because
the decision is a pure function of the position, every node can work out which messages it
will not get, so a receive ends as soon as the rest arrived and no round waits on a
timeout. To add a fault model, add a module here defining ``FAULTS`` and a YAML in
``conf/faults/``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol as Interface

from paxos_exp.core.registry import NoParams, Registry


class Faults(Interface):
    """A fault model bound to one run (its seed, size and settings)."""

    # False when this model never silences anything: the driver then skips the silence
    # bookkeeping altogether (the assignment's model, the hot path).
    silences: bool

    def crashes(self, trial: int, rnd: int, phase: int, sender: int, receiver: int) -> bool:
        """Whether the failure-prone send at this position becomes CRASH."""
        ...

    def silenced(self, trial: int, rnd: int, phase: int, sender: int, receiver: int) -> bool:
        """Whether any send at this position (plain or failure-prone) is silenced."""
        ...


@dataclass(frozen=True)
class FaultModel:
    """A registered fault model. ``build(config)`` binds it to a run (``config`` is the run's
    RunConfig: seed, nodes, fail_prob and ``config.faults.params``). ``keeps_theory``: the
    protocols' exact laws, written for the assignment's omission model, hold under it."""

    name: str
    description: str
    build: Callable[[Any], Faults]
    params: type = NoParams
    keeps_theory: bool = False


FAULTS: Registry[FaultModel] = Registry(__name__, "FAULTS", "fault model", "faults")
DEFAULT_FAULTS = "omission"
