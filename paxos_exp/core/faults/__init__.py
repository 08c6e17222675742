"""Fault models: one module each in this package, found by name (``FAULTS.get("omission")``).

A fault model decides, from its draws and a message's position ``(trial, round, phase,
sender, receiver)`` alone, what becomes of each send: delivered, turned into ``CRASH
<leader>`` (only a failure-prone send), or silenced (nothing arrives, no marker), and which
nodes are down in a round. Because the decision is a pure function of the position, every node can work out which messages it
will not get, so a receive ends as soon as the rest arrived and no round waits on a
timeout. To add a fault model, add a module here defining ``FAULTS`` and a YAML in
``conf/faults/``.

Fault models compose: a run may name several (``faults=[omission,partition]``), and
:class:`Composite` combines them: a send becomes CRASH if any model says so, is silenced if
any does, a node is down or wiped if any model says so, and the carried-over state is the
tuple of the models' states. Only ``omission`` turns sends into CRASH (it alone reads
``fail_prob``); the other models silence, so "loss plus CRASH markers" is a composition.

Each model draws from phases of its own (``draws.FIRST_FREE_PHASE`` up), listed in
:data:`DRAW_PHASES` so that no two models' draws ever coincide.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol as Interface

from paxos_exp.core.draws import Draws
from paxos_exp.core.errors import ConfigError
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


# Engines play a run's trials in order, at most this many at once (in lockstep).
TRIAL_WINDOW = 4096


class PerTrial(dict):  # type: ignore[type-arg]
    """A stateful model's per-trial state (trial -> state) that forgets trials long over.

    A trial ``TRIAL_WINDOW`` behind the one starting is never asked about again, so without
    this a long run's fault state would grow by an entry per trial in every node process."""

    def starting(self, trial: int) -> None:
        """Trial ``trial`` begins its round 0: drop trials before ``trial - TRIAL_WINDOW``
        (every ``TRIAL_WINDOW`` trials, so the cost per trial stays constant)."""
        if trial and trial % TRIAL_WINDOW == 0:
            for old in [key for key in self if key < trial - TRIAL_WINDOW]:
                del self[old]


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
class FaultEvent:
    """One fault as it happened, for people (a counterexample's faults): the round it
    happened in, the model, a sentence, the draws of that round it stands for (``(phase, a,
    b)``), the nodes it concerns, and the messages ``(round, sender, receiver)`` it silences
    or turns into CRASH, with ``reason``: what befell each of them, in a few words."""

    round: int
    model: str
    text: str
    draws: tuple[tuple[int, int, int], ...] = ()
    nodes: tuple[int, ...] = ()
    messages: frozenset[tuple[int, int, int]] = frozenset()
    reason: str = ""


def node_down_event(model: str, rnd: int, draw: tuple[int, int, int], node: int,
                    rounds: range, nodes: int, text: str, reason: str) -> FaultEvent:
    """Node ``node`` down in ``rounds`` (its draw ``draw`` of round ``rnd`` hit): every
    message to or from it in those rounds is the event's."""
    messages = frozenset((r, a, b) for r in rounds for other in range(nodes)
                         for a, b in ((node, other), (other, node)))
    return FaultEvent(rnd, model, text, draws=(draw,), nodes=(node,), messages=messages,
                      reason=reason)


def message_name(nodes: int, rnd: int, phase: int, sender: int, receiver: int) -> str:
    """A message of round ``rnd`` in words: "node 2's JOIN to the leader", "the leader's
    PROPOSE to node 1" (phase 1: START and JOIN; phase 2: PROPOSE and VOTE)."""
    leader = rnd % nodes
    if sender == leader:
        kind = "START" if phase == 1 else "PROPOSE"
        return f"the leader's {kind} to {'itself' if receiver == leader else f'node {receiver}'}"
    kind = "JOIN" if phase == 1 else "VOTE"
    return f"node {sender}'s {kind} to {'the leader' if receiver == leader else f'node {receiver}'}"


def counted(count: int, noun: str) -> str:
    """``3 rounds``, ``1 round``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


class RoundDraws:
    """Draws answered from one round's recorded answers ((phase, a, b) -> answer), so that a
    model's ``describe`` can replay its own ``begin_round``; a draw not recorded gets the
    fault-free answer (no hit, the first possible pick)."""

    def __init__(self, drawn: Mapping[tuple[int, int, int], Any]) -> None:
        self.drawn = drawn

    def hit(self, prob: float, trial: int, rnd: int, phase: int, a: int, b: int) -> bool:
        if prob <= 0.0 or prob >= 1.0:
            return prob >= 1.0
        return bool(self.drawn.get((phase, a, b), False))

    def pick(self, weights: Sequence[float], trial: int, rnd: int, phase: int, a: int,
             b: int) -> int:
        first = next(index for index, weight in enumerate(weights) if weight > 0.0)
        return int(self.drawn.get((phase, a, b), first))


def _no_check(_nodes: int, _params: Any) -> None:
    return None


def _keeps_safety(_params: Any) -> bool:
    return True


def _dependent_rounds(_params: Any) -> bool:
    return False


@dataclass(frozen=True)
class Intensity:
    """How strongly a fault model strikes: the one setting a study sweeps to vary it (a setting
    of the model's ``params``, or ``fail_prob`` for the run's own key) and how an axis or a
    legend names it (``short`` where room is tight; the label itself when unset)."""

    setting: str
    label: str
    short: str = ""


@dataclass(frozen=True)
class FaultModel:
    """A registered fault model. ``build(config, draws)`` binds it to a run (``config`` is the
    run's RunConfig: nodes, fail_prob and ``config.faults.params``; ``draws`` where every random
    choice comes from, :class:`~paxos_exp.core.draws.SeededDraws` of the run's seed when
    simulated). ``keeps_theory``: the protocols' exact laws, written for the assignment's
    omission model, hold under it. ``check(nodes, params)`` raises ConfigError for settings
    that do not fit the run's size (before any process starts); ``params`` checks the rest
    itself. ``keeps_safety(params)``: whether a protocol that claims safety keeps it under
    the model (False for amnesia: a run then records violations instead of failing).
    ``intensity``: the setting that measures how often it strikes (a report's x axis)."""

    name: str
    description: str
    build: Callable[[Any, Draws], Faults]
    params: type = NoParams
    keeps_theory: bool = False
    check: Callable[[int, Any], None] = _no_check
    keeps_safety: Callable[[Any], bool] = _keeps_safety
    # describe(config, rnd, drawn): the model's faults of round rnd in words (FaultEvent), from
    # drawn, that round's draws ((phase, a, b) -> answer, every model's: each picks out its
    # own). None: a counterexample names the model's raw draws.
    describe: Callable[[Any, int, Mapping[tuple[int, int, int], Any]], list[FaultEvent]] \
        | None = None
    intensity: Intensity | None = None
    # rounds_iid(params): every round's faults are drawn afresh, independent of earlier rounds,
    # with one law whichever node leads it (up to relabelling the nodes). A protocol with a
    # per-round law (``Protocol.theory``) then decides in each round independently with one
    # probability, so one round's exact law gives any R's (``1 - (1 - s)^R``). False when a
    # model carries state over rounds (crash_stop) or strikes fixed nodes or links (one_link).
    rounds_iid: Callable[[Any], bool] = _dependent_rounds


class Composite:
    """Several fault models as one: CRASH, silenced, down and wiped if any model says so;
    ``state`` is the tuple of the models' states (in the run's order of models)."""

    def __init__(self, models: Sequence[Faults]) -> None:
        self.models = tuple(models)
        self.silences = any(model.silences for model in self.models)
        self.stops = any(model.stops for model in self.models)
        self.stateful = any(model.stateful for model in self.models)
        self._crashing = [model for model in self.models if _overrides(model, "crashes")]
        self._silencing = [model for model in self.models if model.silences]
        self._stopping = [model for model in self.models if model.stops]
        self._stateful = [model for model in self.models if model.stateful]

    def begin_round(self, trial: int, rnd: int) -> None:
        for model in self._stateful:
            model.begin_round(trial, rnd)

    def crashes(self, trial: int, rnd: int, phase: int, sender: int, receiver: int) -> bool:
        return any(model.crashes(trial, rnd, phase, sender, receiver) for model in self._crashing)

    def silenced(self, trial: int, rnd: int, phase: int, sender: int, receiver: int) -> bool:
        return any(model.silenced(trial, rnd, phase, sender, receiver)
                   for model in self._silencing)

    def down(self, trial: int, rnd: int, node: int) -> bool:
        return any(model.down(trial, rnd, node) for model in self._stopping)

    def wiped(self, trial: int, rnd: int, node: int) -> bool:
        return any(model.wiped(trial, rnd, node) for model in self._stopping)

    def state(self, trial: int) -> Hashable:
        return tuple(model.state(trial) for model in self.models)

    def restore(self, trial: int, state: Hashable) -> None:
        for model, part in zip(self.models, state):  # type: ignore[call-overload]
            model.restore(trial, part)


def _overrides(model: Faults, method: str) -> bool:
    """Whether ``model`` has its own ``method`` (not FaultsBase's answer-nothing default)."""
    base = getattr(FaultsBase, method)
    return getattr(type(model), method, base) is not base


def check_probability(key: str, value: Any) -> float:
    """``value`` as a float in [0, 1], or a ConfigError naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not 0.0 <= float(value) <= 1.0:
        raise ConfigError(f"{key}={value!r}: must be a probability, a number from 0 to 1")
    return float(value)


def check_count(key: str, value: Any, low: int, high: int | None = None) -> int:
    """``value`` as an int in [low, high], or a ConfigError naming ``key``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low \
            or (high is not None and value > high):
        span = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise ConfigError(f"{key}={value!r}: must be a whole number {span}")
    return value


def check_flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key}={value!r}: must be true or false")
    return value


# The draw phases of each fault model (from draws.FIRST_FREE_PHASE up): one per kind of
# choice, never shared, so two models' draws never coincide (a test checks it).
DRAW_PHASES = {
    "crash_stop": {"crash": 16},
    "crash_recovery": {"down": 17},
    "partition": {"happens": 18, "size": 19, "member": 20},
    "link_loss": {"join": 21, "vote": 22, "subset": 23},
}


FAULTS: Registry[FaultModel] = Registry(__name__, "FAULTS", "fault model", "faults")
DEFAULT_FAULTS = "omission"
