"""Every fault pattern of a configuration, explored through the real round driver.

The fault model is the registered one, built with :class:`BranchingDraws`: each ``hit`` or
``pick`` it asks is a choice point. The explorer plays a round as the driver's own steps
(:meth:`RoundDriver.begin`, then :meth:`RoundDriver.steps`), one step at a time over a set of
*configurations* (every node's state, the messages in flight, the fault model's state, the
draws of this round that can still matter, the safety verdicts so far). Each step is run
once per combination of the new choices it meets (depth-first, by re-running the step), and
the configurations it leads to are merged when they are equivalent: their probabilities
add up, and the one reached with the fewest faults is kept as the witness.

Equivalence (why it scales):

- within a round, the leader's inbox is compared as a multiset of (message, from itself?):
  a leader's step counts and compares what arrived, never who of the acceptors sent it
  (true of every registered protocol); a failure-prone send's draw is asked once, so it
  is not part of a configuration;
- at a round's end, ``propose_val`` and ``decision`` (a round's scratch) are dropped, a
  node's initial value only counts while it will still lead a round (the validity check
  keeps the set of initial values), and, when the fault model treats nodes alike
  (``omission``), the nodes that lead no later round are interchangeable, so their states
  are compared as a sorted list.

``symmetry=False`` switches every equivalence off but the exact ones (equal states), for
tests that check the reductions change nothing.

A :class:`Budget` bounds an exploration: ``states`` counts the configurations run through a
step so far (:attr:`Exploration.configurations`, the work done), ``seconds`` the CPU time,
``memory_mb`` the growth of the process's resident memory since the exploration began (by
default half the memory available to the process then, within its cgroup's and its
address-space limits too, so that a large exploration stops with a line rather than swapping,
meeting the OOM killer or failing an allocation). All are checked between steps (and every
256 re-runs of one step), so an exploration stops soon after one runs out, with
:class:`TooLarge`.
"""

from __future__ import annotations

import copy
import enum
import itertools
import os
import sys
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paxos_exp.core.config import RunConfig
from paxos_exp.core.errors import PaxosExpError
from paxos_exp.core.driver import MemoryNetwork, Outbox, RoundDriver, TrialRun
from paxos_exp.core.messages import Message
from paxos_exp.core.node import NodeState
from paxos_exp.core.records import KIND_INDEX, RoundRecord
from paxos_exp.core.safety import TrialCheck
from paxos_exp.explore.draws import BranchingDraws, Choice, exact_number

# Fault models whose nodes are interchangeable (every node's faults have the same law).
SYMMETRIC_FAULTS = frozenset({"omission"})
PROPERTIES = ("agreement", "validity", "proposals")


class MemoryDefault(enum.Enum):
    """The default memory bound, resolved when an exploration starts."""

    HALF_AVAILABLE = "half the memory available to the process"


HALF_AVAILABLE = MemoryDefault.HALF_AVAILABLE


@dataclass(frozen=True)
class Budget:
    """How far an exploration may go: ``states``, the configurations run through a step
    (:attr:`Exploration.configurations`); ``seconds``, CPU time; ``memory_mb``, the growth of
    the process's resident memory since the exploration began, in MB (default: half the
    memory available to the process when it begins, :func:`default_memory_mb`). None: no
    limit."""

    states: int | None = None
    seconds: float | None = None
    memory_mb: float | MemoryDefault | None = HALF_AVAILABLE


class TooLarge(PaxosExpError):
    """An exploration ran out of its :class:`Budget` before it was complete; ``resource``:
    which bound ran out (``states``, ``seconds`` or ``memory``)."""

    def __init__(self, message: str, resource: str = "") -> None:
        super().__init__(message)
        self.resource = resource


_PAGE_MB = (os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096) / 2**20
# Where the process's memory and its limits are read (module constants: tests point them at
# files of their own).
STATM = "/proc/self/statm"
MEMINFO = "/proc/meminfo"
SELF_CGROUP = "/proc/self/cgroup"
CGROUP_ROOT = Path("/sys/fs/cgroup")
# A cgroup's files, v2 and v1: its limit ("max": none), its usage, and the field of its
# memory.stat that counts the page cache it could reclaim (as MemAvailable counts it).
_CGROUP_FILES = (("", "memory.max", "memory.current", "inactive_file"),
                 ("memory", "memory.limit_in_bytes", "memory.usage_in_bytes",
                  "total_inactive_file"))


def _statm_mb(field: int = 1) -> float:
    """A field of /proc/self/statm in MB: 1, the resident size; 0, the virtual size."""
    with open(STATM, "rb") as statm:
        return int(statm.read().split()[field]) * _PAGE_MB


def _peak_mb() -> float:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes there, else KB


def _rss_reader() -> Callable[[], float] | None:
    """How to read the process's resident memory in MB, cheaply: /proc/self/statm where there
    is one (Linux: the size now); else the peak size getrusage reports (its growth misses
    what grows below an earlier peak); None where neither can be read (no memory bound)."""
    for reader in (_statm_mb, _peak_mb):
        try:
            reader()
        except (OSError, ValueError, IndexError, ImportError):
            continue
        return reader
    return None


resident_mb = _rss_reader()


def _machine_mb() -> float | None:
    """The machine's memory available now, in MB: MemAvailable of /proc/meminfo (Linux), else
    all of its physical memory (os.sysconf; its free pages alone would leave out the page
    cache, which can be reclaimed); None when unknown."""
    try:
        with open(MEMINFO, encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 2**10
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (AttributeError, ValueError, OSError):
        return None


def _cgroup_level_mb(directory: Path, limit_file: str, usage_file: str, cache_field: str
                     ) -> float | None:
    """What one cgroup's memory limit leaves, in MB: the limit less the usage, less the page
    cache it could reclaim; None when it has no limit (or its files are absent)."""
    try:
        limit = (directory / limit_file).read_text(encoding="ascii").strip()
        if limit == "max":
            return None
        used = int((directory / usage_file).read_text(encoding="ascii"))
    except (OSError, ValueError):
        return None
    try:
        for line in (directory / "memory.stat").read_text(encoding="ascii").splitlines():
            name, _, value = line.partition(" ")
            if name == cache_field:
                used -= int(value)
                break
    except (OSError, ValueError):
        pass
    try:
        return max(int(limit) - used, 0) / 2**20
    except ValueError:
        return None


def _cgroup_mb() -> float | None:
    """What the process's cgroup leaves it, in MB (docker --memory, SLURM --mem, systemd
    MemoryMax): the least over its memory cgroup and those above it (a limit set on a parent
    holds too), v2 or v1, from /proc/self/cgroup; None when none has a limit."""
    try:
        with open(SELF_CGROUP, encoding="ascii") as lines:
            memberships = [line.rstrip("\n").split(":", 2) for line in lines]
    except (OSError, ValueError):
        return None
    found = []
    for membership in memberships:
        if len(membership) != 3:
            continue
        _, controllers, path = membership
        parts = [part for part in path.split("/") if part]
        if ".." in parts:
            continue  # outside the cgroup namespace's root: not under the mount
        for mount, limit_file, usage_file, cache_field in _CGROUP_FILES:
            if controllers == mount or mount and mount in controllers.split(","):
                # From the process's cgroup up to the mount's root (in a container, the
                # mount's root may be the container's own cgroup).
                for depth in range(len(parts), -1, -1):
                    left = _cgroup_level_mb(CGROUP_ROOT.joinpath(mount, *parts[:depth]),
                                            limit_file, usage_file, cache_field)
                    if left is not None:
                        found.append(left)
    return min(found, default=None)


def _address_space_mb() -> float | None:
    """What the process's address-space limit leaves it, in MB (ulimit -v): RLIMIT_AS's soft
    limit less the process's virtual size now; None when there is no limit (or it is
    unknown)."""
    try:
        import resource

        soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
        if soft == resource.RLIM_INFINITY or soft < 0:
            return None
        return max(soft / 2**20 - _statm_mb(0), 0.0)
    except (ImportError, AttributeError, OSError, ValueError, IndexError):
        return None


def available_mb() -> float | None:
    """The memory available to the process now, in MB: the least of what the machine has
    available, what its cgroup's limit leaves it and what its address-space limit leaves it
    (/proc/meminfo alone shows none of the limits placed on the process); None when none of
    them is known."""
    known = [mb for mb in (_machine_mb(), _cgroup_mb(), _address_space_mb()) if mb is not None]
    return min(known, default=None)


def default_memory_mb() -> float | None:
    """The default memory bound: half the memory available to the process now (None when
    unknown)."""
    available = available_mb()
    return None if available is None else available / 2


def _int(value: int | None) -> int:
    return -2 if value is None else value


class _Observed:
    """The fault model as the driver sees it, telling the draws when a choice is asked by
    ``crashes`` (a failure-prone send's draw, asked once: no configuration keeps it)."""

    def __init__(self, faults: Any, draws: BranchingDraws) -> None:
        self._faults, self._draws = faults, draws
        self.silences, self.stops, self.stateful = faults.silences, faults.stops, faults.stateful

    def crashes(self, trial: int, rnd: int, phase: int, sender: int, receiver: int) -> bool:
        draws = self._draws
        draws.ephemeral = True
        try:
            return self._faults.crashes(trial, rnd, phase, sender, receiver)
        finally:
            draws.ephemeral = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._faults, name)


class _Config:
    """One equivalence class of partial paths: a representative and what the class adds up."""

    __slots__ = ("run", "inbox", "fault_state", "memo", "keyed", "check", "values", "done",
                 "prob", "paths", "faults", "path")

    def __init__(self, run: TrialRun, inbox: tuple[tuple[Message, ...], ...], fault_state: Any,
                 check: TrialCheck, values: tuple[int, ...], prob: Any, paths: int) -> None:
        self.run, self.inbox, self.fault_state = run, inbox, fault_state
        self.memo: dict[Any, Any] = {}
        self.keyed: dict[Any, Any] = {}
        self.check, self.values = check, values
        self.done = False
        self.prob, self.paths = prob, paths
        self.faults = 0
        self.path: Any = ()  # a chain of (parent chain, choices of one step)

    def choices(self) -> list[Choice]:
        """The recorded choices of the representative path, in the order they were made."""
        steps = []
        chain = self.path
        while chain:
            chain, made = chain
            steps.append(made)
        return [choice for made in reversed(steps) for choice in made]


class _NullOutbox(Outbox):
    """Every node's outbox in an exploration: message counts are the replay's business (the
    explorer reads a round's outcome off the leader's state), so nothing is kept."""

    def report(self, rnd: int, leader_row: Any) -> Any:
        self.crashed = self.silenced = 0
        return None


_NULL_OUTBOX = _NullOutbox(None)


class _Scratch(list):
    """Where the driver appends reports in an exploration: dropped at once."""

    def append(self, _row: Any) -> None:
        return None


def _copy_run(run: TrialRun) -> TrialRun:
    fresh = TrialRun.__new__(TrialRun)
    fresh.trial = run.trial
    fresh.states = list(run.states)
    fresh.outboxes = run.outboxes
    fresh.reports = run.reports
    fresh.traces = None
    fresh.joins, fresh.proposal, fresh.sends = run.joins, run.proposal, run.sends
    return fresh


def _fresh_run(values: Sequence[int]) -> TrialRun:
    nodes = len(values)
    run = TrialRun(0, values, range(nodes), nodes, False)
    run.outboxes = [_NULL_OUTBOX] * nodes
    run.reports = [_Scratch() for _ in range(nodes)]
    return run


@dataclass
class Witness:
    """The fewest-faults path to a violation: its faults, the round it broke in, the nodes'
    initial values, the properties it broke and every choice along it."""

    faults: int
    round: int
    nodes: int
    values: tuple[int, ...]
    broken: tuple[str, ...]
    choices: list[Choice]
    # The probability of every path merged into the witness's class when it broke.
    probability: Any

    @property
    def rounds(self) -> int:
        """The fewest rounds that show it."""
        return self.round + 1


@dataclass
class Exploration:
    """What an exploration found, with the exact probabilities at the configuration's p."""

    config: RunConfig
    vectors: int  # initial value vectors explored (weighed equally)
    patterns: int  # complete fault patterns, over every vector
    states: list[int]  # distinct configurations at the start of each round and at the end
    configurations: int  # configurations run through a step, in all
    seconds: float  # CPU time
    decides: list[Any]  # P(round r decides), r = 0..R-1
    first: list[Any]  # P(first decision in round r), r = 0..R-1
    violation: Any  # P(some property breaks within R rounds)
    broken: dict[str, Any] = field(default_factory=dict)  # P(that property breaks)
    witness: Witness | None = None
    # P(round r's leader proposes), r = 0..R-1 (no ROUNDCHANGE; a round without a leader
    # proposes nothing, as a run records it)
    proposes: list[Any] = field(default_factory=list)

    @property
    def safe(self) -> bool:
        return self.witness is None

    @property
    def distinct_states(self) -> int:
        return sum(self.states)

    @property
    def decided_within(self) -> Any:
        """P(at least one decision within R rounds)."""
        return sum(self.first, 0 * self.violation)

    @property
    def undecided(self) -> Any:
        return 1 - self.decided_within


class Explorer:
    """Explores every fault pattern of ``config`` (nodes, rounds, fail_prob, protocol and
    fault model with settings; ``initial_values``: one vector, or None for all ``2^N``
    weighed equally, as fair coins)."""

    def __init__(self, config: RunConfig, exact: bool = False, symmetry: bool = True,
                 budget: Budget | None = None) -> None:
        self.config = config
        self.budget = budget
        self._states_limit = (budget.states if budget is not None and budget.states is not None
                              else float("inf"))
        self._began = time.process_time()
        self._memory_limit: float | None = None  # MB of growth, resolved when run() begins
        self._resident_began = 0.0
        self._round = 0
        self.exact = exact
        self.symmetry = symmetry
        self.nodes, self.rounds = config.nodes, config.rounds
        self.draws = BranchingDraws(exact)
        self.faults = config.build_faults(self.draws)
        self.observed = _Observed(self.faults, self.draws)
        self.network = MemoryNetwork(0)
        self.driver = RoundDriver(config.protocol_plugin, config.quorums, self.observed,
                                  self.nodes, range(self.nodes), self.network, None)
        self.interchangeable = symmetry and (
            getattr(config.faults, "name", None) in SYMMETRIC_FAULTS
            or getattr(config.fault_plugin, "symmetric_nodes", False))
        self.configurations = 0
        self._decides: list[Any] = []
        self._proposes: list[Any] = []
        self._first: list[Any] = []
        self._violation: Any = 0
        self._broken: dict[str, Any] = {}
        self._witness: Witness | None = None

    # -- the budget --------------------------------------------------------------------------

    def _check_budget(self) -> None:
        budget = self.budget
        if budget is None:
            return
        where = (f"after {self.configurations} configurations run through a step, "
                 f"in round {self._round + 1} of {self.rounds}")
        if budget.states is not None and self.configurations >= budget.states:
            raise TooLarge(f"exploration too large: the budget of {budget.states} "
                           f"configurations ran out {where}", "states")
        if budget.seconds is not None:
            spent = time.process_time() - self._began
            if spent > budget.seconds:
                raise TooLarge(f"exploration too large: the budget of {budget.seconds:g} CPU "
                               f"seconds ran out {where}", "seconds")
        limit = self._memory_limit
        if limit is not None and resident_mb is not None \
                and resident_mb() - self._resident_began > limit:
            size = (f"{limit:.0f} MB ({HALF_AVAILABLE.value})"
                    if budget.memory_mb is HALF_AVAILABLE else f"{limit:g} MB")
            raise TooLarge(f"exploration too large: the memory budget of {size} ran out "
                           f"{where}", "memory")

    def _start_budget(self) -> None:
        """The CPU clock, the resident memory and the memory bound as the exploration
        begins (the default bound is half the memory available to the process then)."""
        self._began = time.process_time()
        memory = None if self.budget is None else self.budget.memory_mb
        limit = default_memory_mb() if memory is HALF_AVAILABLE else memory
        if resident_mb is None or not isinstance(limit, (int, float)):
            self._memory_limit = None  # no bound, or no way to read the process's memory
            return
        self._memory_limit = limit
        self._resident_began = resident_mb()

    # -- numbers -----------------------------------------------------------------------------

    def _zero(self) -> Any:
        return exact_number(0) if self.exact else 0.0

    # -- keys --------------------------------------------------------------------------------

    def _leads_later(self, rnd: int) -> set[int]:
        """The nodes that lead a round from ``rnd`` on (within the configuration's rounds)."""
        return {k % self.nodes for k in range(rnd, min(self.rounds, rnd + self.nodes))}

    def _history(self, config: _Config) -> Hashable:
        check = config.check
        first = None if check.first is None else check.first.decision
        return (first, check.agreement_ok, check.validity_ok, check.proposals_ok,
                frozenset(config.values))

    def _node_key(self, state: NodeState, keep_val: bool, scratch: bool) -> Hashable:
        """A node's state as a tuple of ints (None as -2), comparable and sortable."""
        if not self.symmetry:
            return state
        memo = state.memo
        return (state.val if keep_val else -2, state.max_voted_round,
                _int(state.max_voted_val),
                # The memo itself (a hash could merge two different states): ints and None
                # first, any other (hashable) value after them, so keys stay sortable.
                (0, -2) if memo is None else (0, memo) if type(memo) is int else (1, memo),
                _int(state.propose_val) if scratch else -2,
                _int(state.decision) if scratch else -2)

    def _step_key(self, config: _Config, rnd: int, leaders: set[int], done: Sequence[int]
                  ) -> Hashable:
        """The key of a configuration within round ``rnd``; ``done[i]``: how many of node
        i's steps of the round have run."""
        leader = rnd % self.nodes
        node_key = self._node_key
        states = [node_key(state, node in leaders, node == leader)  # type: ignore[arg-type]
                  for node, state in enumerate(config.run.states)]
        if self.symmetry:
            inbox = []
            for node, messages in enumerate(config.inbox):
                if not messages:
                    inbox.append(())
                elif node == leader:  # who among the acceptors sent it does not count
                    inbox.append(tuple(sorted(
                        (KIND_INDEX[m.kind], _int(m.value), m.voted_round, m.leader,
                         m.sender == leader) for m in messages)))
                else:
                    inbox.append(tuple((KIND_INDEX[m.kind], _int(m.value), m.voted_round,
                                        m.leader, m.sender) for m in messages))
            memo: Hashable = frozenset(config.keyed.items())
        else:
            inbox = list(config.inbox)
            memo = frozenset(config.memo.items())
        if self.interchangeable:
            # Nodes that lead no later round, at the same point of the round, are alike.
            nodes: Hashable = (
                tuple((states[node], inbox[node]) for node in sorted(leaders)),
                tuple(sorted((done[node], states[node], inbox[node])
                             for node in range(self.nodes) if node not in leaders)))
        else:
            nodes = (tuple(states), tuple(inbox))
        sends = tuple((send.receiver, KIND_INDEX[send.message.kind], _int(send.message.value),
                       send.failure_prone) for send in config.run.sends)
        return (config.done, nodes, config.fault_state, memo, config.run.proposal, sends,
                self._history(config))

    def _round_key(self, config: _Config, rnd: int) -> Hashable:
        """The key of a configuration at the start of round ``rnd``."""
        leaders = self._leads_later(rnd)
        states = [self._node_key(state, node in leaders, False)  # type: ignore[arg-type]
                  for node, state in enumerate(config.run.states)]
        if self.interchangeable:
            fixed = tuple(states[node] for node in sorted(leaders))
            others = tuple(sorted(states[node] for node in range(self.nodes)
                                  if node not in leaders))
            key: Hashable = (fixed, others)
        else:
            key = tuple(states)
        return (key, config.fault_state, self._history(config))

    # -- merging -----------------------------------------------------------------------------

    @staticmethod
    def _merge(into: dict[Hashable, _Config], key: Hashable, config: _Config) -> None:
        known = into.get(key)
        if known is None:
            into[key] = config
            return
        known.prob += config.prob
        known.paths += config.paths
        if config.faults < known.faults:
            known.run, known.inbox, known.memo, known.keyed = (
                config.run, config.inbox, config.memo, config.keyed)
            known.check, known.values, known.faults, known.path = (
                config.check, config.values, config.faults, config.path)
            known.fault_state, known.done = config.fault_state, config.done

    # -- one step over every configuration ---------------------------------------------------

    def _expand(self, configs: dict[Hashable, _Config], rnd: int, step: Any, node: int,
                contexts: list[Any], leaders: set[int], done: Sequence[int]
                ) -> dict[Hashable, _Config]:
        """Run ``step`` (None: :meth:`RoundDriver.begin`) on every configuration, once per
        combination of the new choices it meets; merge what it leads to."""
        out: dict[Hashable, _Config] = {}
        draws, network, faults = self.draws, self.network, self.faults
        for config in configs.values():
            if config.done:
                self._merge(out, self._step_key(config, rnd, leaders, done), config)
                continue
            script: list[int] | None = []
            while script is not None:
                if self.budget is not None and (self.configurations >= self._states_limit
                                                or self.configurations & 255 == 0):
                    self._check_budget()
                self.configurations += 1
                run = _copy_run(config.run)
                network.inbox = [list(messages) for messages in config.inbox]
                faults.restore(0, config.fault_state)
                draws.memo, draws.keyed = dict(config.memo), dict(config.keyed)
                draws.script, draws.trail = script, []
                finished = False
                if step is None:
                    got = self.driver.begin(rnd, [run])
                    if got is None:
                        finished = True
                    elif not contexts:
                        contexts.extend(got)
                else:
                    step(rnd, [run], contexts, node)
                child = _Config(run, tuple(tuple(messages) for messages in network.inbox),
                                faults.state(0), config.check, config.values, config.prob,
                                config.paths)
                child.memo, child.keyed, child.done = draws.memo, draws.keyed, finished
                child.faults, child.path = config.faults, config.path
                made = []
                for position, _index, _options, probability, fault, answer in draws.trail:
                    child.prob = child.prob * probability
                    child.faults += fault
                    made.append((position, answer))
                if made:
                    child.path = (config.path, tuple(made))
                self._merge(out, self._step_key(child, rnd, leaders, done), child)
                script = draws.next_script()
        return out

    # -- a round's end -----------------------------------------------------------------------

    def _finish_round(self, config: _Config, rnd: int) -> None:
        """Merge the round's reports into its record, check it, and add up what it did."""
        run = config.run
        leader = rnd % self.nodes
        proposal = run.proposal
        decision = None if proposal is None else run.states[leader].decision  # type: ignore[union-attr]
        record = RoundRecord(0, rnd, leader, run.joins, proposal, 0, decision is not None,
                             decision, 0, 0, 0, 0, 0, 0, 0)
        run.joins, run.proposal = 0, None  # a round's scratch: not carried into the next
        before = config.check
        check = copy.copy(before)  # the class's check goes on from the round's start
        check.add(record)
        config.check = check
        prob = config.prob
        if record.decided:
            self._decides[rnd] += prob
        if proposal is not None:
            self._proposes[rnd] += prob
        if before.first is None and check.first is not None:
            self._first[rnd] += prob
        was_safe = before.agreement_ok and before.validity_ok and before.proposals_ok
        broken = tuple(name for name in PROPERTIES
                       if getattr(before, f"{name}_ok") and not getattr(check, f"{name}_ok"))
        for name in broken:
            self._broken[name] = self._broken.get(name, self._zero()) + prob
        if was_safe and broken:
            self._violation += prob
            witness = self._witness
            if witness is None or (config.faults, rnd) < (witness.faults, witness.round):
                self._witness = Witness(config.faults, rnd, self.nodes, config.values, broken,
                                        config.choices(), prob)

    # -- the whole exploration ---------------------------------------------------------------

    def _initial(self) -> dict[Hashable, _Config]:
        nodes = self.nodes
        given = self.config.initial_values
        vectors = [given] if given is not None else list(itertools.product((0, 1), repeat=nodes))
        weight = (exact_number(1) if self.exact else 1.0) / len(vectors)
        start_state = self.faults.state(0)  # a fresh model's: nothing carried over yet
        configs: dict[Hashable, _Config] = {}
        for values in vectors:
            run = _fresh_run(values)
            config = _Config(run, tuple(() for _ in range(nodes)), start_state,
                             TrialCheck(0, values), tuple(values), weight, 1)
            self._merge(configs, self._round_key(config, 0), config)
        self.vectors = len(vectors)
        return configs

    def run(self) -> Exploration:
        """Explore; raises :class:`TooLarge` when the budget runs out."""
        self._start_budget()
        began = self._began
        rounds = self.rounds
        self._decides = [self._zero() for _ in range(rounds)]
        self._proposes = [self._zero() for _ in range(rounds)]
        self._first = [self._zero() for _ in range(rounds)]
        self._violation = self._zero()
        configs = self._initial()
        states = [len(configs)]
        for rnd in range(rounds):
            self._round = rnd
            self.draws.round = rnd
            leaders = self._leads_later(rnd)
            contexts: list[Any] = []
            for config in configs.values():
                config.memo, config.keyed, config.done = {}, {}, False
            done = [0] * self.nodes
            configs = self._expand(configs, rnd, None, 0, contexts, leaders, done)
            for step, node in self.driver.steps(rnd):
                if not contexts:
                    break  # every configuration's leader was down: the round is over
                done = list(done)
                done[node] += 1
                self._check_budget()
                configs = self._expand(configs, rnd, step, node, contexts, leaders, done)
            merged: dict[Hashable, _Config] = {}
            for config in configs.values():
                self._finish_round(config, rnd)
                config.memo, config.keyed, config.done = {}, {}, False
                config.inbox = tuple(() for _ in range(self.nodes))
                self._merge(merged, self._round_key(config, rnd + 1), config)
            configs = merged
            states.append(len(configs))
        patterns = sum(config.paths for config in configs.values())
        return Exploration(
            config=self.config, vectors=self.vectors, patterns=patterns, states=states,
            configurations=self.configurations, seconds=time.process_time() - began,
            decides=self._decides, first=self._first, violation=self._violation,
            broken=dict(self._broken), witness=self._witness, proposes=self._proposes,
        )


def explore(config: RunConfig, exact: bool = False, symmetry: bool = True,
            budget: Budget | None = None) -> Exploration:
    """Every fault pattern of ``config``: safety verdicts, the fewest-faults violation (if
    any) and the exact probabilities (see :class:`Exploration`). Raises :class:`TooLarge`
    when ``budget`` runs out first."""
    return Explorer(config, exact=exact, symmetry=symmetry, budget=budget).run()
