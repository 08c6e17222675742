"""The one definition of ``result.json``: dataclasses that the job writes and the analysis reads.

:class:`JobResult` is the whole document, :class:`Summary` its outcome counts. A job builds
them and writes :meth:`JobResult.to_dict`; every reader goes through :meth:`JobResult.from_dict`,
which checks every field against its type and raises :class:`SchemaError` naming the first
field that does not fit. Message counts are spelled as the record fields spell them
(``sent`` by kind in lower case, plus ``total``; ``crashed``; ``silenced``); documents written
before that spelling are read by :func:`_upgrade_summary`.
"""

from __future__ import annotations

import functools
import math
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from typing import Any

from paxos_exp.core.messages import KINDS

STATUS_OK = "ok"
STATUS_FAILED = "failed"
STATUS_INTERRUPTED = "interrupted"  # stopped by Ctrl-C or SIGTERM: partial tables, redone on rerun
STATUSES = (STATUS_OK, STATUS_FAILED, STATUS_INTERRUPTED)
SENT_KEYS = tuple(kind.value.lower() for kind in KINDS)


class SchemaError(ValueError):
    """A result.json that does not fit the schema; the message names the field."""


@dataclass
class FirstRounds:
    """The first deciding round over the decided trials."""

    mean: float | None = None
    median: float | None = None
    min: int | None = None
    max: int | None = None


@dataclass
class Theory:
    """The exact law of the run's protocol under its fault model."""

    join_probability: float
    round_decision_probability: float
    decision_within_rounds: float


@dataclass
class SafetyVerdicts:
    """What the safety checks found over the job's trials."""

    agreement_ok: bool = True
    validity_ok: bool = True
    proposals_ok: bool = True
    policy: str | None = None  # safety=fail|record (None: written before the policy existed)
    claims_safety: bool = True
    violation_rate: float | None = None
    violations: dict[str, int] = field(
        default_factory=lambda: {"agreement": 0, "validity": 0, "proposals": 0})
    unsafe_trials: list[int] = field(default_factory=list)  # the first 20 unsafe trials
    unsafe_count: int = 0

    @property
    def safe(self) -> bool:
        return self.agreement_ok and self.validity_ok and self.proposals_ok


@dataclass
class Wall:
    """Seconds spent: the engine's phases, and the whole job once it is recorded."""

    startup: float | None = None
    rounds: float | None = None
    teardown: float | None = None
    simulation: float | None = None
    job: float | None = None


@dataclass
class Summary:
    """A job's outcome counts (built as records stream in by ``results.SummaryBuilder``)."""

    trials: int
    decided_trials: int
    rounds_total: int
    deciding_rounds: int
    sent: dict[str, int]  # messages put on the wire by kind (lower case), and "total"
    decision_rate: float | None = None
    first_decision_round: FirstRounds = field(default_factory=FirstRounds)
    deciding_rounds_per_trial: float | None = None
    round_decision_rate: float | None = None
    # Rounds without a proposal: the leader changed round (ROUNDCHANGE), or was down.
    roundchanges: int | None = None
    roundchange_rate: float | None = None
    # Of those, the rounds whose leader was down (crash_stop, crash_recovery): no step, no
    # message. None in a result.json written before it was counted.
    leader_down_rounds: int | None = None
    decision_values: dict[str, int] = field(default_factory=lambda: {"0": 0, "1": 0})
    crashed: int | None = None  # failure-prone sends turned into CRASH
    silenced: int = 0  # sends a fault model silenced
    theory: Theory | None = None
    safety: SafetyVerdicts = field(default_factory=SafetyVerdicts)
    wall: Wall = field(default_factory=Wall)

    def check(self) -> None:
        for name in ("trials", "decided_trials", "rounds_total", "deciding_rounds"):
            if getattr(self, name) < 0:
                raise SchemaError(f"summary.{name} is {getattr(self, name)}, not a count")
        if self.decided_trials > self.trials or self.trials < 1:
            raise SchemaError(f"summary says {self.decided_trials} of {self.trials} trials decided")
        if "total" not in self.sent:
            raise SchemaError("summary.sent has no total")
        if any(count < 0 for count in self.sent.values()):
            raise SchemaError("summary.sent holds a negative count")
        if self.leader_down_rounds is not None and not (
                0 <= self.leader_down_rounds <= (self.roundchanges or 0)):
            raise SchemaError(f"summary.leader_down_rounds is {self.leader_down_rounds}, not a "
                              f"count of the {self.roundchanges} rounds without a proposal")

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> Summary:
        """A summary block (as ``asdict`` gives it) read back and checked."""
        summary = _parse(cls, _upgrade_summary(document), "summary.")
        summary.check()
        return summary


@dataclass
class JobResult:
    """One job's result.json."""

    status: str
    config: dict[str, Any]  # the run spec, engine and runtime settings (app_config.stored_config)
    job_key: str | None = None
    error: str | None = None
    name: str | None = None
    seed: int | None = None
    summary: Summary | None = None
    # Every table file the job has: {file: {rows, sha256, format}}, a file being
    # <table>.<format> (trials.parquet, rounds.csv...; results.split_table_file), format
    # "parquet" or "csv" (absent in files written before Parquet: all CSV then). None when no
    # table was kept; {} in a result.json written before tables were recorded.
    tables: dict[str, dict[str, Any]] | None = field(default_factory=dict)
    foreign_messages: int = 0
    # What went wrong without touching the records, one line each (a node that reported an
    # error or exited badly after its last trial); absent in files written before warnings.
    warnings: list[str] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    command: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    started_at: str | None = None
    finished_at: str | None = None
    wall_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, document: Any) -> JobResult:
        """The document checked field by field; raises SchemaError naming what is wrong."""
        if not isinstance(document, dict):
            raise SchemaError("result.json does not hold a JSON object")
        if isinstance(document.get("summary"), dict):
            document = {**document, "summary": _upgrade_summary(document["summary"])}
        result = _parse(cls, document, "")
        result.check()
        return result

    def check(self) -> None:
        if self.status not in STATUSES:
            raise SchemaError(f"result.json status is {self.status!r}")
        for key in ("nodes", "rounds"):
            value = self.config.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise SchemaError(f"config.{key} is {value!r}, not a count")
        fail_prob = self.config.get("fail_prob")
        if not _is_number(fail_prob):
            raise SchemaError(f"config.fail_prob is {fail_prob!r}, not a number")
        if self.status == STATUS_OK:  # only an ok job's counts are ever used
            if self.summary is None:
                raise SchemaError("result.json says ok but has no summary")
            self.summary.check()
            asked = self.config.get("trials")
            if asked is not None and self.summary.trials != asked:
                raise SchemaError(f"summary has {self.summary.trials} trials, the configuration "
                                  f"asked for {asked}")


def _upgrade_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """A summary written before messages were spelled like the records' fields."""
    summary = dict(summary)
    if "sent" not in summary and isinstance(summary.get("messages"), dict):
        summary["sent"] = {str(kind).lower(): count for kind, count in summary["messages"].items()}
    summary.pop("messages", None)
    for old, new in (("crashed_messages", "crashed"), ("silenced_messages", "silenced")):
        if old in summary:
            summary.setdefault(new, summary.pop(old))
    return summary


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and not (isinstance(value, float) and math.isnan(value)))


def _fits(value: Any, hint: Any, where: str) -> Any:
    """``value`` converted to ``hint`` (a dataclass, a scalar, a container or an optional)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        (inner,) = [option for option in options if option is not type(None)]
        return _fits(value, inner, where)
    if is_dataclass(hint):
        if not isinstance(value, dict):
            raise SchemaError(f"result.json {where} is not a mapping")
        return _parse(hint, value, f"{where}.")
    if hint is Any:
        return value
    if hint is float:
        if not _is_number(value):
            raise SchemaError(f"result.json {where} is {value!r}, not a number")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SchemaError(f"result.json {where} is {value!r}, not an integer")
        return value
    if hint in (bool, str):
        if not isinstance(value, hint):
            raise SchemaError(f"result.json {where} is {value!r}, not a {hint.__name__}")
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise SchemaError(f"result.json {where} is not a mapping")
        _, item = typing.get_args(hint)
        return {str(key): _fits(entry, item, f"{where}.{key}") for key, entry in value.items()}
    if origin is list:
        if not isinstance(value, list):
            raise SchemaError(f"result.json {where} is not a list")
        (item,) = typing.get_args(hint)
        return [_fits(entry, item, f"{where}[{index}]") for index, entry in enumerate(value)]
    raise TypeError(f"no schema rule for {hint!r}")  # a field type this module does not know


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    """A dataclass's resolved field types (resolving them is most of a result.json's reading)."""
    return typing.get_type_hints(cls)


def _parse(cls: type, data: dict[str, Any], prefix: str) -> Any:
    hints = _hints(cls)
    values = {}
    for spec in fields(cls):
        where = f"{prefix}{spec.name}"
        if spec.name in data:
            values[spec.name] = _fits(data[spec.name], hints[spec.name], where)
        elif spec.default is MISSING and spec.default_factory is MISSING:
            raise SchemaError(f"result.json has no {where}")
    return cls(**values)
