"""The exact values of a report's rows: core's closed form where there is one, else the
exhaustive explorer's, within a budget, else none (the row is measured by simulation only).

Where each value comes from (a row's ``theory_source``):

- ``closed form``: the protocol's per-round law (``Protocol.theory``) under fault models that
  keep it (``FaultModel.keeps_theory``, the assignment's omission model);
- ``per-round law``: rounds independent and alike (every fault model's
  ``FaultModel.rounds_iid``, and a protocol with a per-round law): one round explored gives
  ``s``, and ``R`` rounds ``1 - (1 - s)^R``;
- ``exhaustive``: every fault pattern of all ``R`` rounds explored (``paxos-check
  exhaustive``'s explorer), weighing the ``2^N`` initial value vectors equally, as the runs'
  fair coins do (``core.draws.initial_value``: one independent fair coin per node and trial);
- ``simulation only``: none of these within the budget (:class:`TheoryBudget`, and each
  exploration's memory growth at most half the memory available to the process as it
  begins).

An unsafe configuration (a protocol or fault model that does not claim safety) also gets the
probability that a trial breaks safety within ``R`` rounds (``violation_theory``), from a
full exploration when the budget allows; a safe one gets 0.

A row's configuration is rebuilt from its columns (:func:`row_config`): nodes, fail_prob,
rounds, initial_values, the protocol and fault model names and every setting of theirs, which
``analysis.job.flatten_config`` made columns (a setting's leaf name, or ``group_leaf`` when
the leaf was taken; :mod:`paxos_exp.analysis.row_config`). Exact values are cached per
configuration for the whole process (and, in a report's :func:`session`, on disk beside it:
:func:`cache_beside`), so the summary and every figure explore a configuration once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paxos_exp.analysis.row_config import (
    RowError,
    config_key,
    missing,
    plain,
    row_config,
    row_law,
)
from paxos_exp.analysis.theory_cache import DiskCache
from paxos_exp.core.config import RunConfig
from paxos_exp.core.faults import FAULTS
from paxos_exp.core.theory import RoundLaw
from paxos_exp.explore.explorer import Budget, TooLarge, default_memory_mb, explore

CLOSED_FORM = "closed form"
PER_ROUND = "per-round law"
EXHAUSTIVE = "exhaustive"
SIMULATION_ONLY = "simulation only"
SOURCES = (CLOSED_FORM, PER_ROUND, EXHAUSTIVE, SIMULATION_ONLY)

# CPU seconds one configuration's exploration may take.
DEFAULT_SECONDS = 2.0
# An exploration that ran out of memory is tried again only when the memory bound (half the
# memory available) is this many times the one it ran out of: below it, the available memory's
# ordinary drift between two reports, under which it would run out again.
MEMORY_RETRY = 1.25


# ----------------------------------------------------------------------------- the law


@dataclass(frozen=True)
class ExactLaw:
    """A configuration's exact values, answering as :class:`RoundLaw` does (``decides``,
    ``proposes``, ``decision_within``, ``first_round``, ``first_round_mean``,
    ``messages_per_decision``) so that figures draw either.

    ``law``: the per-round law when rounds are independent and alike (any number of rounds);
    else ``first`` and ``decides_by_round``, P(first decision in round r) and P(round r
    decides) for r < ``rounds``. ``violation``: P(a trial breaks safety within ``rounds``)."""

    source: str
    rounds: int
    law: RoundLaw | None = None
    first: tuple[float, ...] = ()
    decides_by_round: tuple[float, ...] = ()
    violation: float = math.nan
    note: str = ""
    nodes: int = 0
    proposes_by_round: tuple[float, ...] = ()

    @property
    def exact(self) -> bool:
        return self.source != SIMULATION_ONLY

    @property
    def decides(self) -> float:
        """P(a round decides), averaged over the rounds a trial runs (every trial runs all
        ``R``: what a summary's ``round_rate`` measures)."""
        if self.law is not None:
            return self.law.decides
        if not self.decides_by_round:
            return math.nan
        return math.fsum(self.decides_by_round) / len(self.decides_by_round)

    @property
    def proposes(self) -> float:
        """P(a round's leader proposes, no ROUNDCHANGE), averaged over the rounds as
        :attr:`decides` is."""
        if self.law is not None:
            return self.law.proposes
        if not self.proposes_by_round:
            return math.nan
        return math.fsum(self.proposes_by_round) / len(self.proposes_by_round)

    def first_round(self, rounds: int) -> list[float]:
        """P(first decision in round k) for k < ``rounds``, then P(no decision)."""
        if self.law is not None:
            return self.law.first_round(rounds)
        if not self.first or rounds > len(self.first):
            return [math.nan] * (rounds + 1)
        head = list(self.first[:rounds])
        return head + [1.0 - math.fsum(head)]

    def decision_within(self, rounds: int) -> float:
        if self.law is not None:
            return self.law.decision_within(rounds)
        return 1.0 - self.first_round(rounds)[-1]

    def first_round_mean(self, rounds: int) -> float:
        probabilities = self.first_round(rounds)[:-1]
        total = math.fsum(probabilities)
        if not total > 0:
            return math.nan
        return math.fsum(k * p for k, p in enumerate(probabilities)) / total

    def messages_per_decision(self, nodes: int) -> float:
        """The closed form's only: the explorer does not count messages."""
        if self.source != CLOSED_FORM or self.law is None:
            return math.nan
        return self.law.messages_per_decision(nodes)


def _none(rounds: int, note: str) -> ExactLaw:
    return ExactLaw(SIMULATION_ONLY, rounds, note=note)


# ----------------------------------------------------------------------------- the budget


class TheoryBudget:
    """CPU seconds for each exploration (``seconds``; None: no limit; 0: no exploration, the
    closed form alone). There is no total for a report: one would leave the rows after it to
    simulation only, different rows in each rebuild (cached rows no longer spend it). What a
    report spends is its own (:func:`session`); outside one the module's default applies.
    Memory is bounded whatever the seconds: each exploration may grow the process by half the
    memory available to it as it begins (:func:`~paxos_exp.explore.explorer.default_memory_mb`);
    ``out_of_memory`` counts those that ran out of it, or of the process's memory first
    (within ``too_large``), ``memory_ran_out`` the last one's bound in MB."""

    def __init__(self, seconds: float | None = DEFAULT_SECONDS) -> None:
        self.seconds = seconds
        self.spent = 0.0
        self.explored = 0
        self.too_large = 0
        self.out_of_memory = 0
        self.memory_ran_out = math.inf

    @classmethod
    def per_configuration(cls, seconds: float | None) -> TheoryBudget:
        """``seconds`` per configuration (None or inf: no limit). A report's first build may
        take that per configuration; its rebuilds take the values from the cache."""
        return cls(None if seconds is None or math.isinf(seconds) else seconds)

    def left(self) -> float | None:
        """Seconds the next exploration may take."""
        return self.seconds


# Outside a report's session: the per-configuration limit alone.
_BUDGET = TheoryBudget(DEFAULT_SECONDS)
CACHE_FILE = ".exact_values.json"


# ----------------------------------------------------------------------------- the cache


# key -> (exact values, the seconds an exploration ran out of, the memory bound in MB one ran
# out of): inf when none did, so the values hold for any budget; else they are computed again
# only with more seconds, or with MEMORY_RETRY times the memory
_MEMORY: dict[str, tuple[ExactLaw, float, float]] = {}
_DISK: DiskCache | None = None


@contextlib.contextmanager
def session(budget: TheoryBudget | None = None) -> Iterator[TheoryBudget]:
    """A report's exact values: ``budget`` (default a fresh :class:`TheoryBudget`) for every
    exploration within the block, and the disk cache :func:`cache_beside` opens saved when
    the block ends."""
    global _BUDGET, _DISK
    budget = budget if budget is not None else TheoryBudget()
    previous = _BUDGET, _DISK
    _BUDGET, _DISK = budget, None
    try:
        yield budget
    finally:
        disk = _DISK
        _BUDGET, _DISK = previous
        if disk is not None:
            with contextlib.suppress(OSError):
                disk.save()


def cache_beside(directory: Path) -> None:
    """Within a :func:`session`, read and keep exact values in ``directory`` too
    (:data:`CACHE_FILE`, valid for this version of the sources only)."""
    global _DISK
    _DISK = DiskCache(Path(directory) / CACHE_FILE)


# ----------------------------------------------------------------------------- exact values


def rounds_iid(config: RunConfig) -> bool:
    """Whether the configuration's rounds decide independently with one probability: a
    protocol with a per-round law under fault models that each declare ``rounds_iid``."""
    return config.protocol_plugin.theory is not None and all(
        FAULTS.get(choice.name).rounds_iid(choice.params) for choice in config.fault_choices)


def _explore(config: RunConfig, budget: TheoryBudget) -> Any:
    """An exploration within the budget (None when it runs out)."""
    left = budget.left()
    if left is not None and left <= 0:
        budget.too_large += 1
        return None
    memory = default_memory_mb()  # resolved here: a memory stop is cached with it
    began = time.process_time()
    try:
        found = explore(config, budget=Budget(seconds=left, memory_mb=memory))
    except (TooLarge, MemoryError) as error:  # MemoryError: the process's limit came first
        budget.too_large += 1
        if (isinstance(error, MemoryError) or error.resource == "memory") and memory is not None:
            budget.out_of_memory += 1
            budget.memory_ran_out = memory
        return None
    finally:
        budget.spent += time.process_time() - began
    budget.explored += 1
    return found


def _compute(config: RunConfig, budget: TheoryBudget, violations: bool) -> ExactLaw:
    rounds, nodes = config.rounds, config.nodes
    safe = config.claims_safety
    law = config.law
    iid = rounds_iid(config)
    known = 0.0 if safe else math.nan
    if law is not None and (safe or not violations):
        return ExactLaw(CLOSED_FORM, rounds, law, violation=known, nodes=nodes)
    if rounds == 0:
        return ExactLaw(EXHAUSTIVE, 0, violation=0.0, nodes=nodes)
    full = None
    if not iid or (violations and not safe):
        # All R rounds: the only way to an unsafe configuration's violation probability, and
        # to a decision law whose rounds are not independent and alike.
        full = _explore(config, budget)
    if law is not None:  # the closed form's decisions, the exploration's violations
        return ExactLaw(CLOSED_FORM, rounds, law, nodes=nodes,
                        violation=float(full.violation) if full is not None else math.nan)
    if full is not None:
        return ExactLaw(EXHAUSTIVE, rounds, first=tuple(map(float, full.first)),
                        decides_by_round=tuple(map(float, full.decides)),
                        proposes_by_round=tuple(map(float, full.proposes)),
                        violation=float(full.violation), nodes=nodes)
    if iid:
        one = _explore(dataclasses.replace(config, rounds=1), budget)
        if one is not None:
            return ExactLaw(PER_ROUND if rounds > 1 else EXHAUSTIVE, rounds,
                            RoundLaw(proposes=float(one.proposes[0]),
                                     decides=float(one.decides[0])),
                            violation=known, nodes=nodes)
    return _none(rounds, "exploration beyond the budget")


def exact_law(config: RunConfig, violations: bool = False) -> ExactLaw:
    """A configuration's exact values (cached: memory, then the disk cache if one is open).
    Values an exploration ran out of budget for (simulation only, or a violation probability
    left out) are remembered with the seconds it had, and computed again only with more; or,
    when it ran out of memory, with the memory bound it had, and computed again only when
    the bound is :data:`MEMORY_RETRY` times as large (more seconds would not help it).
    ``violations``: also P(a trial breaks safety) of an unsafe configuration, which may take
    an exploration of all R rounds where the decisions alone would not."""
    plain_key = config_key(config)
    key = plain_key + ("|violations" if violations else "")
    # Values with violations answer a question without them too.
    keys = (key,) if violations else (key, plain_key + "|violations")
    left = _BUDGET.left()
    allowed = math.inf if left is None else left
    for known_key in keys:
        known = _MEMORY.get(known_key)
        if known is None and _DISK is not None:
            known = _from_entry(_DISK.get(known_key))
            if known is not None:
                _MEMORY[known_key] = known
        if known is not None and known[1] >= allowed and _memory_holds(known[2]):
            return known[0]
    ran_out, out_of_memory = _BUDGET.too_large, _BUDGET.out_of_memory
    value = _compute(config, _BUDGET, violations)
    # Complete: good for any budget; else for budgets up to the one it had.
    memory_stops = _BUDGET.out_of_memory - out_of_memory
    had = allowed if _BUDGET.too_large - ran_out > memory_stops else math.inf
    memory = _BUDGET.memory_ran_out if memory_stops else math.inf
    _MEMORY[key] = (value, had, memory)
    if _DISK is not None:
        _DISK.put(key, _to_entry(value, had, memory))
    return value


def _memory_holds(ran_out: float) -> bool:
    """Whether values an exploration ran out of ``ran_out`` MB for still hold: the memory
    bound now is below :data:`MEMORY_RETRY` times it (always, when none ran out)."""
    if math.isinf(ran_out):
        return True
    now = default_memory_mb()
    return now is not None and now < ran_out * MEMORY_RETRY


def _to_entry(value: ExactLaw, had: float, memory: float) -> dict[str, Any]:
    entry = dataclasses.asdict(value)
    entry["law"] = None if value.law is None else dataclasses.asdict(value.law)
    entry["budget"] = None if math.isinf(had) else had  # the seconds it ran out of
    entry["memory"] = None if math.isinf(memory) else memory  # the MB it ran out of
    # Strict JSON: a missing value (NaN, such as the violation probability of a safe
    # configuration left unexplored) is written null and read back as NaN.
    entry["violation"] = None if math.isnan(value.violation) else value.violation
    return entry


def _from_entry(entry: dict[str, Any] | None) -> tuple[ExactLaw, float, float] | None:
    if entry is None:
        return None
    try:
        entry = dict(entry)
        had = entry.pop("budget", None)
        memory = entry.pop("memory", None)
        law = entry.get("law")
        if entry.get("violation") is None:
            entry["violation"] = math.nan
        return ExactLaw(**{**entry, "law": RoundLaw(**law) if law is not None else None,
                           "first": tuple(entry["first"]),
                           "decides_by_round": tuple(entry["decides_by_round"]),
                           "proposes_by_round": tuple(entry.get("proposes_by_round", ()))}), \
            (math.inf if had is None else float(had)), \
            (math.inf if memory is None else float(memory))
    except (KeyError, TypeError, ValueError):
        return None


def clear_cache() -> None:
    """Forget every exact value this process computed (tests)."""
    _MEMORY.clear()


def row_exact(row: Mapping[str, Any], violations: bool = False) -> ExactLaw:
    """A row's exact values: the closed form of its columns (:func:`row_law`, quorum sizes
    included) where there is one, else :func:`exact_law` of :func:`row_config`; simulation
    only when its configuration cannot be rebuilt (a column that varies within the row, a
    plug-in this installation lacks)."""
    rounds = row.get("rounds")
    count = 0 if missing(rounds) else int(plain(rounds))
    if any(key not in row or missing(row[key]) for key in ("nodes", "fail_prob", "rounds")):
        return _none(count, "nodes, fail_prob or rounds varies within the row")
    if row.get("_settings_vary") is True:
        return _none(count, "a setting varies within the row")
    law = row_law(row)
    if law is not None and not violations:  # the closed form alone (figures' curves)
        return ExactLaw(CLOSED_FORM, count, law, nodes=int(plain(row["nodes"])))
    try:
        config: RunConfig | None = row_config(row)
    except RowError as error:
        if law is None:
            return _none(count, str(error))
        config = None
    if law is not None and (config is None or config.claims_safety or not violations):
        safe = config is not None and config.claims_safety
        return ExactLaw(CLOSED_FORM, count, law, violation=0.0 if safe else math.nan,
                        nodes=int(plain(row["nodes"])))
    if config is None:
        return _none(count, "no configuration")
    found = exact_law(config, violations)
    if law is not None and found.law != law:  # the closed form of the row's own columns
        found = dataclasses.replace(found, law=law)
    return found
