"""The run configuration and its range checks (run before any process starts)."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any

from paxos_exp.core.draws import MAX_SEED, Draws, SeededDraws, initial_value
from paxos_exp.core.errors import ConfigError
from paxos_exp.core.faults import DEFAULT_FAULTS, FAULTS, Composite, FaultModel, Faults
from paxos_exp.core.protocols import DEFAULT_PROTOCOL, PROTOCOLS, Protocol
from paxos_exp.core.quorum import Quorums
from paxos_exp.core.registry import Choice, choose
from paxos_exp.core.theory import RoundLaw


class Engine(enum.Enum):
    """Where the nodes run: one OS process each over ZeroMQ, or all in this process."""

    processes = "processes"
    inprocess = "inprocess"


class StartMethod(enum.Enum):
    fork = "fork"
    spawn = "spawn"
    forkserver = "forkserver"


class Safety(enum.Enum):
    """What a safety violation does: fail the job at once, or be counted as an outcome."""

    fail = "fail"
    record = "record"


ENGINES = tuple(engine.value for engine in Engine)
# ZeroMQ takes receive deadlines as an int of milliseconds (at most ~24.8 days) and OS waits
# reject infinite ones; a day is beyond any sensible wait and within every limit.
MAX_TIMEOUT = 86_400.0
# The runtime keys that decide whether a run finishes, never what it records.
DEADLINE_KEYS = ("startup_timeout", "receive_timeout", "barrier_timeout")
START_METHODS = tuple(method.value for method in StartMethod)


# Float noise from Hydra's range() (0.15000000000000002) must not change a job or its key;
# twelve significant digits keep every value a user can mean (1e-11 stays 1e-11).
FAIL_PROB_SIGNIFICANT = 12


def canonical_fail_prob(value: float) -> float:
    """``fail_prob`` without binary float noise: ``0.15000000000000002`` -> ``0.15``."""
    return float(f"{float(value):.{FAIL_PROB_SIGNIFICANT}g}")


def round_law(protocol: str, faults: str, nodes: int, fail_prob: float,
              quorums: Quorums) -> RoundLaw | None:
    """The exact law of one round of ``protocol`` under ``faults`` (a model's name, or
    several joined by ``+``) with these quorum sizes, where the protocol has one and every
    fault model keeps it (else None)."""
    theory = PROTOCOLS.get(protocol).theory
    if theory is None or not all(FAULTS.get(name).keeps_theory for name in faults.split("+")):
        return None
    return theory(nodes, fail_prob, quorums)


@dataclass(frozen=True)
class Composition:
    """Several fault models in one run (sorted by name, each once): ``name`` joins their
    names with ``+``; ``as_dict`` is the list of their dicts (what the spec stores)."""

    choices: tuple[Choice, ...]

    @property
    def name(self) -> str:
        return "+".join(choice.name for choice in self.choices)

    def as_dict(self) -> list[dict[str, Any]]:  # type: ignore[override]
        return [choice.as_dict() for choice in self.choices]


def unchosen_fault_model(name: str, setting: str, chosen: Sequence[str],
                         appended: bool = False) -> str:
    """The line for ``faults.<setting>``, a setting of the fault model ``name`` that is not
    among the job's models ``chosen`` (empty if not known): how to choose it. ``appended``:
    it was given as ``+faults.<setting>``, which Hydra takes as adding the model."""
    if name not in FAULTS.names():
        return (f"faults.{setting}: no fault model is called {name}; choose among "
                f"{', '.join(FAULTS.names())} with faults=NAME (settings faults.NAME.KEY)")
    if not chosen:
        return (f"faults.{setting}: {name} is not one of this job's fault models; choose it "
                f"with faults={name}, or several with faults=[omission,{name}]")
    plus = " (+faults.NAME.KEY sets a setting; it does not choose a model)" if appended else ""
    return (f"faults.{setting}: {name} is not one of this job's fault models "
            f"({', '.join(chosen)}); choose it with faults={name}, or add it to "
            f"{' and '.join(chosen)} with faults=[{','.join([*chosen, name])}]{plus}")


def choose_faults(given: Any) -> Choice | Composition:
    """One fault model (a :class:`Choice`, so a single model's spec keeps its one-mapping
    form) or several (a :class:`Composition`), from: a name; a mapping with ``name`` and
    settings; Hydra's form, a mapping of model names to their settings
    (``{"omission": {"name": "omission"}, "partition": {...}}``); or a list of names or
    mappings. ConfigError for an unknown model, setting, or a model named twice, and for a
    model without ``name`` beside models with one in Hydra's form (``+faults.NAME.KEY``
    appended it: it sets a setting, it does not choose a model)."""
    if isinstance(given, (Choice, Composition)):
        items: list[Any] = list(given.choices) if isinstance(given, Composition) else [given]
    elif isinstance(given, str):
        items = [part for part in given.split("+")] if "+" in given else [given]
    elif isinstance(given, Mapping):
        if "name" in given or not given:
            items = [given]
        else:
            items = []
            appended: list[tuple[str, Mapping[str, Any]]] = []
            for key, settings in given.items():
                if not isinstance(settings, Mapping):
                    raise ConfigError(f"faults.{key}={settings!r}: give a fault model's "
                                      "settings, or choose models with faults=NAME or "
                                      "faults=[NAME,NAME]")
                # A model chosen through the group (faults=NAME) carries its name; one
                # without, beside such models, came from +faults.NAME.KEY, which sets a
                # setting, not a model (a mapping of names alone, as a caller may write it,
                # names its models).
                if "name" in settings:
                    items.append({"name": key, **settings})
                else:
                    appended.append((str(key), settings))
            if appended and not items:
                items = [{"name": key, **settings} for key, settings in appended]
            elif appended:
                key, settings = appended[0]
                setting = f"{key}.{next(iter(settings))}" if settings else key
                raise ConfigError(unchosen_fault_model(
                    key, setting, [str(item["name"]) for item in items], appended=True))
    elif isinstance(given, Sequence):
        items = list(given)
    else:
        raise ConfigError(f"faults={given!r}: name a fault model, such as faults=omission, or "
                          "several, such as faults=[omission,partition]")
    if not items:
        raise ConfigError("faults=[]: name at least one fault model, such as faults=omission")
    choices = [choose(FAULTS, item) for item in items]
    names = [choice.name for choice in choices]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ConfigError(f"faults: {', '.join(twice)} named twice; name each model once")
    if len(choices) == 1:
        return choices[0]
    return Composition(tuple(sorted(choices, key=lambda choice: choice.name)))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class RunConfig:
    """What to simulate: the run spec that engines run, job keys hash and result.json stores.

    ``initial_values``: None for fair coins drawn from the seed per trial, or one 0/1 value
    per node used in every trial. ``protocol`` and ``faults``: a registered name, or a
    mapping with ``name`` and the plug-in's settings (normalised to a :class:`Choice`).
    ``safety``: None picks ``fail`` for a protocol that claims safety, ``record`` otherwise.
    """

    nodes: int
    fail_prob: float
    rounds: int
    trials: int = 1
    seed: int = 0
    initial_values: tuple[int, ...] | None = None
    protocol: Choice | str | Mapping[str, Any] = DEFAULT_PROTOCOL
    faults: Choice | Composition | str | Mapping[str, Any] | Sequence[Any] = DEFAULT_FAULTS
    safety: Safety | str | None = None
    trace: bool = False
    # Where the fault model's choices come from instead of the seed (a replay of a recorded
    # path, such as the exhaustive checker's counterexamples); not part of the spec.
    draws: Draws | None = None

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
        object.__setattr__(self, "protocol", choose(PROTOCOLS, self.protocol))
        object.__setattr__(self, "faults", choose_faults(self.faults))
        self.protocol_plugin.check(self.nodes, self.protocol.params)
        for choice in self.fault_choices:
            FAULTS.get(choice.name).check(self.nodes, choice.params)
        self.quorums  # noqa: B018 - a size outside 1..nodes fails here, before anything runs
        if self.safety is None:
            safety = Safety.fail if self.claims_safety else Safety.record
        else:
            try:
                safety = Safety(getattr(self.safety, "value", self.safety))
            except ValueError:
                raise ConfigError(
                    f"safety={self.safety}: choose fail (stop at the first violation) or "
                    "record (count violations), or leave it unset for the protocol's default"
                ) from None
        object.__setattr__(self, "safety", safety)

    # Pickle (spawn, cluster launchers) the fields only, not the plug-ins cached beside them.
    def __getstate__(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in fields(self)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, value)

    @cached_property
    def protocol_plugin(self) -> Protocol:
        return PROTOCOLS.get(self.protocol.name)  # type: ignore[union-attr]

    @property
    def fault_choices(self) -> tuple[Choice, ...]:
        """The run's fault models with their settings (one, or several composed)."""
        faults = self.faults
        return faults.choices if isinstance(faults, Composition) else (faults,)  # type: ignore[return-value]

    @cached_property
    def fault_plugin(self) -> FaultModel:
        """The run's fault model (a composition: one that builds a :class:`Composite`)."""
        if isinstance(self.faults, Composition):
            plugins = [FAULTS.get(choice.name) for choice in self.faults.choices]
            return FaultModel(
                name=self.faults.name,
                description=" and ".join(plugin.description for plugin in plugins),
                build=lambda config, draws: Composite(
                    [plugin.build(config, draws) for plugin in plugins]),
                keeps_theory=all(plugin.keeps_theory for plugin in plugins),
            )
        return FAULTS.get(self.faults.name)  # type: ignore[union-attr]

    def faults_params(self, name: str) -> Any:
        """The settings of fault model ``name`` in this run."""
        for choice in self.fault_choices:
            if choice.name == name:
                return choice.params
        raise KeyError(name)

    @cached_property
    def quorums(self) -> Quorums:
        return self.protocol_plugin.quorums(self.nodes, self.protocol.params)  # type: ignore[union-attr]

    @property
    def claims_safety(self) -> bool:
        """Whether the protocol, with these settings, promises agreement and validity, under
        fault models that keep it (amnesia does not)."""
        return self.protocol_plugin.claims_safety(self.nodes, self.protocol.params) and all(  # type: ignore[union-attr]
            FAULTS.get(choice.name).keeps_safety(choice.params) for choice in self.fault_choices)

    def build_faults(self, draws: Draws | None = None) -> Faults:
        """The fault model bound to this run, drawing from ``draws`` (default: the config's
        own ``draws`` if set, else the seed's)."""
        if draws is None:
            draws = SeededDraws(self.seed) if self.draws is None else self.draws
        return self.fault_plugin.build(self, draws)

    @property
    def law(self) -> RoundLaw | None:
        """The exact law of one round, where there is one (else None)."""
        return round_law(self.protocol.name, self.faults.name, self.nodes, self.fail_prob,
                         self.quorums)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> RunConfig:
        """The inverse of :meth:`spec` (extra keys, such as result.json's engine, ignored)."""
        return cls(
            nodes=spec["nodes"], fail_prob=spec["fail_prob"], rounds=spec["rounds"],
            trials=spec.get("trials", 1), seed=spec.get("seed", 0),
            initial_values=parse_initial_values(spec.get("initial_values")),
            protocol=spec.get("protocol") or DEFAULT_PROTOCOL,
            faults=spec.get("faults") or DEFAULT_FAULTS,
            safety=spec.get("safety"), trace=bool(spec.get("trace", False)),
        )

    def spec(self) -> dict[str, Any]:
        """The spec as plain data (what result.json stores and the job key hashes)."""
        return {
            "nodes": self.nodes,
            "fail_prob": self.fail_prob,
            "rounds": self.rounds,
            "trials": self.trials,
            "seed": self.seed,
            "initial_values": None if self.initial_values is None
            else "".join(map(str, self.initial_values)),
            "protocol": self.protocol.as_dict(),  # type: ignore[union-attr]
            "faults": self.faults.as_dict(),  # type: ignore[union-attr]
            "safety": self.safety.value,  # type: ignore[union-attr]
            "trace": self.trace,
        }

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
