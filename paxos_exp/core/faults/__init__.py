"""Fault models: one module each in this package, found by name (``FAULTS.get("omission")``).

A fault model decides, from its draws and a message's position ``(trial, round, phase,
sender, receiver)`` alone, what becomes of each send: delivered, turned into ``CRASH
<leader>`` (only a failure-prone send), or silenced (nothing arrives, no marker), and which
nodes are down in a round. Because the decision is a pure function of the position, every node can work out which messages it
will not get, so a receive ends as soon as the rest arrived and no round waits on a
timeout. To add a fault model, add a module here defining ``FAULTS`` and a YAML in
``conf/faults/``.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Protocol as Interface

from paxos_exp.core.draws import Draws
from paxos_exp.core.registry import NoParams, Registry


class Faults(Interface):
    """A fault model bound to one run (its draws, size and settings).

    Three kinds of fault, each a pure function of the draws and the position:

    - a failure-prone send becomes ``CRASH <leader>`` (:meth:`crashes`, the assignment's);
    - any send is silenced (:meth:`silenced`): nothing arrives, no marker;
    - a node is down for a round (:meth:`down`): it takes no step, writes no line, and every
      send to or from it is silenced (``silenced`` must say so too); it may come back with its
      ``maxVoted*`` wiped (:meth:`wiped`, amnesia).

    Faults that carry over rounds (a node crashed for good, down for two more rounds) live in
    per-trial state that :meth:`begin_round` advances from the draws of round ``rnd``, called
    by every engine for every trial and round in order, so every process holds the same
    state. :meth:`state` and :meth:`restore` let the exhaustive checker resume a trial from a
    remembered state instead of replaying it from round 0.
    """

    # False when the model never silences anything: the driver then skips the silence
    # bookkeeping altogether (the assignment's model, the hot path).
    silences: bool
    # True when nodes can be down or wiped: the driver asks :meth:`down` and :meth:`wiped`.
    stops: bool
    # True when :meth:`begin_round` must be called before each round of each trial.
    stateful: bool

    def begin_round(self, trial: int, rnd: int) -> None:
        """Advance the trial's state to the start of round ``rnd`` (draws of that round)."""
        ...

    def crashes(self, trial: int, rnd: int, phase: int, sender: int, receiver: int) -> bool:
        """Whether the failure-prone send at this position becomes CRASH."""
        ...

    def silenced(self, trial: int, rnd: int, phase: int, sender: int, receiver: int) -> bool:
        """Whether any send at this position (plain or failure-prone) is silenced."""
        ...

    def down(self, trial: int, rnd: int, node: int) -> bool:
        """Whether ``node`` takes no part in round ``rnd``."""
        ...

    def wiped(self, trial: int, rnd: int, node: int) -> bool:
        """Whether ``node`` starts round ``rnd`` with its ``maxVoted*`` reset (amnesia)."""
        ...

    def state(self, trial: int) -> Hashable:
        """The trial's carried-over faults at the start of the next round (None if none)."""
        ...

    def restore(self, trial: int, state: Hashable) -> None:
        """Set the trial's carried-over faults to ``state`` (from :meth:`state`)."""
        ...


class FaultsBase:
    """Defaults for a fault model: nothing silenced, nothing down, nothing carried over.
    A model overrides what it does (and sets the matching flags)."""

    silences = False
    stops = False
    stateful = False

    def begin_round(self, trial: int, rnd: int) -> None:
        return None

    def crashes(self, trial: int, rnd: int, phase: int, sender: int, receiver: int) -> bool:
        return False

    def silenced(self, trial: int, rnd: int, phase: int, sender: int, receiver: int) -> bool:
        return False

    def down(self, trial: int, rnd: int, node: int) -> bool:
        return False

    def wiped(self, trial: int, rnd: int, node: int) -> bool:
        return False

    def state(self, trial: int) -> Hashable:
        return None

    def restore(self, trial: int, state: Hashable) -> None:
        return None


@dataclass(frozen=True)
class FaultModel:
    """A registered fault model. ``build(config, draws)`` binds it to a run (``config`` is the
    run's RunConfig: nodes, fail_prob and ``config.faults.params``; ``draws`` where every random
    choice comes from, :class:`~paxos_exp.core.draws.SeededDraws` of the run's seed when
    simulated). ``keeps_theory``: the protocols' exact laws, written for the assignment's
    omission model, hold under it."""

    name: str
    description: str
    build: Callable[[Any, Draws], Faults]
    params: type = NoParams
    keeps_theory: bool = False


FAULTS: Registry[FaultModel] = Registry(__name__, "FAULTS", "fault model", "faults")
DEFAULT_FAULTS = "omission"
