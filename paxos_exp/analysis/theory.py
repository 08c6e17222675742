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
- ``simulation only``: none of these within the budget (:class:`TheoryBudget`).

An unsafe configuration (a protocol or fault model that does not claim safety) also gets the
probability that a trial breaks safety within ``R`` rounds (``unsafe_theory``), from a full
exploration when the budget allows; a safe one gets 0.

A row's configuration is rebuilt from its columns (:func:`row_config`): nodes, fail_prob,
rounds, initial_values, the protocol and fault model names and every setting of theirs, which
``analysis.job.flatten_config`` made columns (a setting's leaf name, or ``group_leaf`` when
the leaf was taken). Explorations are cached per configuration for the whole process (and, when
a report asks, on disk beside it: :func:`disk_cache`), so the summary and every figure explore
a configuration once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paxos_exp.analysis.row_config import RowError, config_key, missing, plain, row_config
from paxos_exp.core.config import RunConfig
from paxos_exp.core.faults import FAULTS
from paxos_exp.core.theory import RoundLaw
from paxos_exp.explore.explorer import Budget, TooLarge, explore

CLOSED_FORM = "closed form"
PER_ROUND = "per-round law"
EXHAUSTIVE = "exhaustive"
SIMULATION_ONLY = "simulation only"
SOURCES = (CLOSED_FORM, PER_ROUND, EXHAUSTIVE, SIMULATION_ONLY)

# CPU seconds one configuration's exploration may take, and all of a report's together.
DEFAULT_SECONDS = 2.0
DEFAULT_TOTAL_SECONDS = 20.0


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
        """P(a round's leader proposes): the closed form's only (NaN otherwise)."""
        return self.law.proposes if self.law is not None else math.nan

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
    """CPU seconds for explorations: ``seconds`` per configuration, ``total`` for all of
    them (None: no limit). What a report spends is its own: :func:`budget_for` sets one for a
    block of code; outside one the module's default applies (fresh per process)."""

    def __init__(self, seconds: float | None = DEFAULT_SECONDS,
                 total: float | None = DEFAULT_TOTAL_SECONDS) -> None:
        self.seconds, self.total = seconds, total
        self.spent = 0.0
        self.explored = 0
        self.too_large = 0

    def left(self) -> float | None:
        """Seconds the next exploration may take (0 when the total is spent)."""
        limits = [limit for limit in (self.seconds, None if self.total is None
                                      else max(0.0, self.total - self.spent))
                  if limit is not None]
        return min(limits) if limits else None


_BUDGET = TheoryBudget()


@contextlib.contextmanager
def budget_for(budget: TheoryBudget) -> Iterator[TheoryBudget]:
    """Use ``budget`` for every exploration within the block."""
    global _BUDGET
    previous, _BUDGET = _BUDGET, budget
    try:
        yield budget
    finally:
        _BUDGET = previous


# ----------------------------------------------------------------------------- the cache


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("paxos-exp")
    except Exception:  # noqa: BLE001 - not installed: no version to key a disk cache by
        return "unknown"


class _DiskCache:
    """Exact values per configuration, in one JSON file (keyed by paxos-exp's version), read
    once and written back atomically when something new was explored."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.version = _version()
        self.entries: dict[str, dict[str, Any]] = {}
        self.dirty = False
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            if document.get("version") == self.version:
                self.entries = dict(document.get("entries", {}))
        except (OSError, ValueError, AttributeError):
            pass  # no cache yet, or one that cannot be used: explore again

    def get(self, key: str) -> ExactLaw | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        try:
            law = entry.get("law")
            return ExactLaw(
                entry["source"], int(entry["rounds"]),
                RoundLaw(**law) if law is not None else None,
                tuple(entry["first"]), tuple(entry["decides_by_round"]),
                float(entry["violation"]), entry.get("note", ""), int(entry.get("nodes", 0)))
        except (KeyError, TypeError, ValueError):
            return None

    def put(self, key: str, value: ExactLaw) -> None:
        if value.source == SIMULATION_ONLY:
            return  # a larger budget may do better next time
        self.entries[key] = {
            "source": value.source, "rounds": value.rounds,
            "law": None if value.law is None else dataclasses.asdict(value.law),
            "first": list(value.first), "decides_by_round": list(value.decides_by_round),
            "violation": value.violation, "note": value.note, "nodes": value.nodes}
        self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        text = json.dumps({"version": self.version, "entries": self.entries}, sort_keys=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        self.dirty = False


# key -> (exact values, the seconds the exploration was allowed: a row left to simulation
# is explored again only under a larger budget)
_MEMORY: dict[str, tuple[ExactLaw, float]] = {}
_DISK: _DiskCache | None = None


@contextlib.contextmanager
def disk_cache(path: Path | None) -> Iterator[None]:
    """Within the block, exact values are also read from and saved to ``path`` (a JSON file,
    valid for this paxos-exp version only); None: memory only."""
    global _DISK
    if path is None:
        yield
        return
    previous, _DISK = _DISK, _DiskCache(Path(path))
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            _DISK.save()
        _DISK = previous


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
    began = time.process_time()
    try:
        found = explore(config, budget=Budget(seconds=left))
    except TooLarge:
        budget.too_large += 1
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
                        violation=float(full.violation), nodes=nodes)
    if iid:
        one = full if rounds == 1 else _explore(dataclasses.replace(config, rounds=1), budget)
        if one is not None:
            return ExactLaw(PER_ROUND if rounds > 1 else EXHAUSTIVE, rounds,
                            RoundLaw(proposes=math.nan, decides=float(one.decides[0])),
                            violation=known, nodes=nodes)
    return _none(rounds, "exploration beyond the budget")


def exact_law(config: RunConfig, violations: bool = False) -> ExactLaw:
    """A configuration's exact values (cached: memory, then the disk cache if one is open;
    one left to simulation is tried again only with more seconds than it had).
    ``violations``: also P(a trial breaks safety) of an unsafe configuration, which may take
    an exploration of all R rounds where the decisions alone would not."""
    key = config_key(config) + ("|violations" if violations else "")
    left = _BUDGET.left()
    allowed = math.inf if left is None else left
    known = _MEMORY.get(key)
    if known is not None and (known[0].exact or known[1] >= allowed):
        return known[0]
    if _DISK is not None:
        stored = _DISK.get(key)
        if stored is not None:
            _MEMORY[key] = (stored, math.inf)
            return stored
    value = _compute(config, _BUDGET, violations)
    _MEMORY[key] = (value, allowed)
    if _DISK is not None:
        _DISK.put(key, value)
    return value


def clear_cache() -> None:
    """Forget every exact value this process computed (tests)."""
    _MEMORY.clear()


def row_exact(row: Mapping[str, Any], violations: bool = False) -> ExactLaw:
    """A row's exact values (:func:`exact_law` of :func:`row_config`); simulation only when
    its configuration cannot be rebuilt (a column that varies within the row, a plug-in
    this installation lacks)."""
    rounds = row.get("rounds")
    count = 0 if missing(rounds) else int(plain(rounds))
    if row.get("_settings_vary") is True:
        return _none(count, "a setting varies within the row")
    try:
        config = row_config(row)
    except RowError as error:
        return _none(count, str(error))
    return exact_law(config, violations)
