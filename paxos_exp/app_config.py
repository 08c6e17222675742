"""The Hydra configuration schema (typed, stored in the ConfigStore) and the job key.

A typo or a wrongly typed value fails at composition with Hydra's own message; range checks
that types cannot express are done by :func:`run_spec` before any process starts.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import importlib.resources
import json
import re
import sys
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from paxos_exp.core.config import (
    DEADLINE_KEYS,
    Engine,
    RunConfig,
    RuntimeOptions,
    Safety,
    StartMethod,
    canonical_fail_prob,
    choose_faults,
    parse_initial_values,
)
from paxos_exp.core.errors import ConfigError
from paxos_exp.core.faults import DEFAULT_FAULTS, FAULTS
from paxos_exp.core.protocols import DEFAULT_PROTOCOL, PROTOCOLS


@dataclass
class RuntimeConf:
    """How node processes are started and how long any wait may last (seconds)."""

    start_method: StartMethod = StartMethod.fork
    # null: chosen for the run's size (60 s to start, 10 s per wait, more for large N)
    startup_timeout: Optional[float] = None
    receive_timeout: Optional[float] = None
    barrier_timeout: Optional[float] = None


class Tables(enum.Enum):
    """The formats a job writes its tables in: typed Parquet, CSV for spreadsheets, or both."""

    parquet = "parquet"
    csv = "csv"
    both = "both"


@dataclass
class PaxosConf:
    """Every key of a paxos-exp job."""

    name: str = "adhoc"  # names the output directory: outputs/sweeps/<name>/<job key>
    nodes: int = 5
    fail_prob: float = 0.1
    rounds: int = 3
    trials: int = 100
    seed: int = 0
    initial_values: Optional[str] = None  # null: fair coins per trial; or one bit per node, "0110"
    engine: Engine = Engine.processes
    trace: bool = False
    # The protocol and fault model: Hydra groups filled from the registries (protocol=NAME,
    # faults=NAME); their settings are typed by each plug-in's own params dataclass.
    protocol: Any = None
    faults: Any = None
    safety: Optional[Safety] = None  # null: fail for a protocol that claims safety, else record
    runtime: RuntimeConf = field(default_factory=RuntimeConf)
    force: bool = False  # rerun even if this job's result.json says ok
    report: bool = True  # build the report at the end of a sweep (best effort)
    progress: bool = True  # progress over trials on a terminal
    tables: Tables = Tables.parquet  # trials/rounds/trace as .parquet, .csv, or both
    # What the job returns to Hydra (a float, for optimising sweepers such as Optuna): a
    # metric name of paxos_exp.metrics or an expression of them, e.g. abs(decision_rate - 0.5).
    optimized_metric: str = "decision_rate"


# Keys that say how to run or where to write, not what is simulated: not part of the job key.
BOOKKEEPING_KEYS = ("name", "force", "report", "progress", "optimized_metric", "tables")

# The default name: a sweep under it gets a directory of its own (outputs/sweeps/adhoc/<start
# time>), so unrelated ad-hoc grids never mix; a single run stays at outputs/runs/adhoc/<job key>.
ADHOC_NAME = "adhoc"
# `name` is one path component under outputs/: no separators, no `..`, no hidden directories.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


def check_name(name: Any) -> str:
    """``name`` if it is a plain directory name, else a ConfigError saying what is allowed."""
    text = str(name)
    if not _PLAIN_NAME.fullmatch(text):
        raise ConfigError(
            f"name={text}: must be a plain name (letters, digits, '-', '_' and '.', not starting "
            "with '.'), such as name=my_sweep; it names one directory under outputs/"
        )
    return text


def _name_resolver(name: Any) -> str:
    """``${paxos_name:${name}}`` in hydra.run.dir: a bad name cannot make a directory."""
    return check_name(name)


def _sweep_name_resolver(name: Any, started: Any) -> str:
    """``${paxos_sweep_name:${name},${now:...}}`` in hydra.sweep.dir: a named sweep keeps its
    directory (so rerunning resumes it); an ad-hoc one gets adhoc/<start time> of its own."""
    name = check_name(name)
    return f"{name}/{started}" if name == ADHOC_NAME else name


class NameCheck(Callback):
    """Refuse a bad ``name`` before Hydra makes any directory (it makes the run directory
    before calling the task function): one line on stderr and exit status 2, not a traceback."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        _exit_on_bad_name(config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _exit_on_bad_name(config)


def _exit_on_bad_name(config: DictConfig) -> None:
    try:
        check_name(config.get("name", ADHOC_NAME))
    except ConfigError as error:
        # SystemExit, not an exception: Hydra turns a callback's exception into a warning.
        print(f"paxos-exp: error: {error}", file=sys.stderr)
        sys.exit(2)



def _group_schema(plugin: Any) -> Any:
    """A Hydra structured config for one plug-in: its ``name`` and its params' fields."""
    hints = typing.get_type_hints(plugin.params)
    extra = [(field.name, hints[field.name], dataclasses.field(default=field.default))
             for field in dataclasses.fields(plugin.params)]
    return dataclasses.make_dataclass(f"{plugin.name}_conf",
                                      [("name", str, dataclasses.field(default=plugin.name)), *extra])


# Where each plug-in's typed schema is stored; the plug-in's YAML (conf/<group>/<name>.yaml)
# extends it, so its defaults stay written once, in the plug-in's params dataclass.
SCHEMA_GROUP = "_schema"


def register_configs() -> None:
    """The schema of a job, and the schema of every registered protocol and fault model
    (``_schema/protocol/<name>``), which the plug-in's YAML in its group extends."""
    store = ConfigStore.instance()
    store.store(name="paxos_schema", node=PaxosConf)
    for group, registry in (("protocol", PROTOCOLS), ("faults", FAULTS)):
        for plugin in registry:
            store.store(group=f"{SCHEMA_GROUP}/{group}", name=plugin.name,
                        node=_group_schema(plugin))


def catalogue() -> str:
    """The protocols and fault models, one line each (for ``paxos-exp --help``)."""
    lines = ["Protocols (protocol=NAME):"]
    for protocol in PROTOCOLS:
        lines.append(f"  {protocol.name:<22} {protocol.description}")
    lines.append("Fault models (faults=NAME, settings faults.NAME.KEY; several at once: "
                 "faults=[omission,partition]):")
    for model in FAULTS:
        lines.append(f"  {model.name:<22} {model.description}")
    return "\n".join(lines)


def config_groups() -> str:
    """The configuration groups and their options, one line each (for ``paxos-exp --help``,
    instead of Hydra's list, which would show the plug-in schemas under ``_schema/`` too)."""
    root = importlib.resources.files("paxos_exp") / "conf"
    lines = []
    for group in sorted(entry.name for entry in root.iterdir() if entry.is_dir()):
        if group == "hydra" or group.startswith("_"):
            continue
        options = sorted(entry.name[:-len(".yaml")] for entry in (root / group).iterdir()
                         if entry.name.endswith(".yaml"))
        lines.append(f"{group}: {', '.join(options)}")
    return "\n".join(lines)


def job_config(cfg: DictConfig | dict[str, Any]) -> dict[str, Any]:
    """The resolved keys that define a job (what result.json calls ``config``)."""
    data: dict[str, Any] = {}
    for key in cfg:
        if key == "hydra":  # resolving it would recurse: its output dirs use the job key
            continue
        value = cfg[key]
        if isinstance(value, DictConfig):
            value = OmegaConf.to_container(value, resolve=True, enum_to_str=True)
        elif isinstance(value, enum.Enum):
            value = value.name
        data[str(key)] = value
    for key in BOOKKEEPING_KEYS:
        data.pop(key, None)
    if isinstance(data.get("fail_prob"), (int, float)) and not isinstance(data["fail_prob"], bool):
        data["fail_prob"] = canonical_fail_prob(data["fail_prob"])
    if data.get("initial_values") is not None:
        data["initial_values"] = str(data["initial_values"])
    return data


def _key_form(config: dict[str, Any]) -> dict[str, Any]:
    """What decides a job's records, in one spelling: the run spec, the engine and the start
    method (equal jobs get equal keys). A configuration that is not valid keeps its raw form:
    the range check rejects it before any key matters."""
    try:
        run_config, options = run_spec(config)
    except ConfigError:
        return dict(config)
    return {**run_config.spec(), "engine": options.engine, "start_method": options.start_method}


def job_key(config: dict[str, Any]) -> str:
    """A readable prefix plus a hash of everything that decides the job's records."""
    canonical = json.dumps(_key_form(config), sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.blake2b(canonical.encode(), digest_size=5).hexdigest()
    protocol = config.get("protocol")
    name = protocol.get("name") if isinstance(protocol, dict) else None
    prefix = "" if name in (None, "classic") else f"{name}_"
    faults = _faults_name(config.get("faults"))
    prefix += "" if faults in (None, DEFAULT_FAULTS) else f"{faults}_"
    return (
        f"{prefix}n{config.get('nodes')}_p{config.get('fail_prob')}_r{config.get('rounds')}"
        f"_t{config.get('trials')}_{digest}"
    )


class JobFailed(Exception):
    """One job of a sweep failed. Its message is the whole story in one line, as paxos-exp
    prints it last: the job named by :func:`job_name`, why it failed, and where its
    result.json and log are. Every launcher raises it (a job in its own process, or a cluster
    launcher for a job that ended without a result), so a failure reads the same under each."""


def job_name(number: int | None, overrides: Sequence[str], where: str | None = None) -> str:
    """How a job is named in a failure line: ``job 2 (nodes=3 fail_prob=0.2)``, its number in
    the sweep (from 1) and its own overrides (Hydra's are left out), ``where`` after them
    (``slurm job 41_1``); ``the job (...)`` for a single run (no number)."""
    own = " ".join(text for text in overrides if not text.startswith(("hydra.", "hydra/")))
    inside = "; ".join(part for part in (own, where) if part)
    head = "the job" if number is None else f"job {number}"
    return f"{head} ({inside})" if inside else head


def _faults_name(faults: Any) -> str | None:
    """The fault models' name for a job key (``omission+partition``), None if not valid."""
    if faults is None:
        return None
    try:
        return choose_faults(faults).name
    except (ConfigError, TypeError):
        return None


def _job_key_resolver(*, _root_: DictConfig) -> str:
    return job_key(job_config(_root_))


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("paxos_job_key"):
        OmegaConf.register_new_resolver("paxos_job_key", _job_key_resolver)
    if not OmegaConf.has_resolver("paxos_name"):
        OmegaConf.register_new_resolver("paxos_name", _name_resolver)
    if not OmegaConf.has_resolver("paxos_catalogue"):
        OmegaConf.register_new_resolver("paxos_catalogue", catalogue)
    if not OmegaConf.has_resolver("paxos_groups"):
        OmegaConf.register_new_resolver("paxos_groups", config_groups)
    if not OmegaConf.has_resolver("paxos_sweep_name"):
        OmegaConf.register_new_resolver("paxos_sweep_name", _sweep_name_resolver)


def run_spec(config: dict[str, Any]) -> tuple[RunConfig, RuntimeOptions]:
    """The one way from a composed job configuration to the validated, frozen run spec and
    the runtime options (raises ConfigError naming the key to change)."""
    runtime = config.get("runtime") or {}
    try:
        run_config = RunConfig(
            nodes=config["nodes"],
            fail_prob=config["fail_prob"],
            rounds=config["rounds"],
            trials=config["trials"],
            seed=config["seed"],
            initial_values=parse_initial_values(config.get("initial_values")),
            protocol=config.get("protocol") or DEFAULT_PROTOCOL,
            faults=config.get("faults") or DEFAULT_FAULTS,
            safety=config.get("safety"),
            trace=bool(config.get("trace", False)),
        )
        given = {key: runtime[key] for key in ("start_method", *DEADLINE_KEYS) if key in runtime}
        if "engine" in config:
            given["engine"] = config["engine"]
        options = RuntimeOptions(**given)
    except KeyError as error:
        raise ConfigError(f"missing configuration key {error}") from None
    return run_config, options


def stored_config(run_config: RunConfig, options: RuntimeOptions) -> dict[str, Any]:
    """What result.json stores as ``config``: the run spec, then how it was run."""
    return {
        **run_config.spec(),
        "engine": options.engine,
        "runtime": {"start_method": options.start_method,
                    **{key: getattr(options, key) for key in DEADLINE_KEYS}},
    }
