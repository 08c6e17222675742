"""The Hydra configuration schema (typed, stored in the ConfigStore) and the job key.

A typo or a wrongly typed value fails at composition with Hydra's own message; range checks
that types cannot express are done by :func:`to_run_config` before any process starts.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from paxos_exp.core.config import (
    DEADLINE_KEYS,
    RunConfig,
    RuntimeOptions,
    canonical_fail_prob,
    parse_initial_values,
)
from paxos_exp.core.errors import ConfigError
from paxos_exp.core.quorum import majority


class Engine(enum.Enum):
    processes = "processes"
    inprocess = "inprocess"


class StartMethod(enum.Enum):
    fork = "fork"
    spawn = "spawn"
    forkserver = "forkserver"


@dataclass
class RuntimeConf:
    """How node processes are started and how long any wait may last (seconds)."""

    start_method: StartMethod = StartMethod.fork
    # null: chosen for the run's size (60 s to start, 10 s per wait, more for large N)
    startup_timeout: Optional[float] = None
    receive_timeout: Optional[float] = None
    barrier_timeout: Optional[float] = None


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
    join_quorum: Optional[int] = None  # null: strict majority
    vote_quorum: Optional[int] = None
    runtime: RuntimeConf = field(default_factory=RuntimeConf)
    force: bool = False  # rerun even if this job's result.json says ok
    report: bool = True  # build the report at the end of a sweep (best effort)
    progress: bool = True  # progress over trials on a terminal


# Keys that say how to run or where to write, not what is simulated: not part of the job key.
BOOKKEEPING_KEYS = ("name", "force", "report", "progress")

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



def register_configs() -> None:
    ConfigStore.instance().store(name="paxos_schema", node=PaxosConf)


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
    """What decides a job's records, in one spelling: equal jobs get equal keys."""
    form = dict(config)
    runtime = dict(form.get("runtime") or {})
    # Deadlines are not part of the key, so a sweep that failed on them resumes with longer
    # ones (runtime=patient).
    for key in DEADLINE_KEYS:
        runtime.pop(key, None)
    form["runtime"] = runtime
    try:
        values = parse_initial_values(form.get("initial_values"))
        form["initial_values"] = None if values is None else "".join(map(str, values))
    except ConfigError:
        pass  # invalid: the range check rejects it before any key matters
    nodes = form.get("nodes")
    if isinstance(nodes, int) and nodes >= 1:
        for quorum in ("join_quorum", "vote_quorum"):
            if form.get(quorum) is None:
                form[quorum] = majority(nodes)
    return form


def job_key(config: dict[str, Any]) -> str:
    """A readable prefix plus a hash of everything that decides the job's records."""
    canonical = json.dumps(_key_form(config), sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.blake2b(canonical.encode(), digest_size=5).hexdigest()
    return (
        f"n{config.get('nodes')}_p{config.get('fail_prob')}_r{config.get('rounds')}"
        f"_t{config.get('trials')}_{digest}"
    )


def _job_key_resolver(*, _root_: DictConfig) -> str:
    return job_key(job_config(_root_))


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("paxos_job_key"):
        OmegaConf.register_new_resolver("paxos_job_key", _job_key_resolver)
    if not OmegaConf.has_resolver("paxos_name"):
        OmegaConf.register_new_resolver("paxos_name", _name_resolver)
    if not OmegaConf.has_resolver("paxos_sweep_name"):
        OmegaConf.register_new_resolver("paxos_sweep_name", _sweep_name_resolver)


def to_run_config(config: dict[str, Any]) -> tuple[RunConfig, RuntimeOptions]:
    """Range-check a job configuration (raises ConfigError naming the key to change)."""
    runtime = config.get("runtime") or {}
    try:
        run_config = RunConfig(
            nodes=config["nodes"],
            fail_prob=config["fail_prob"],
            rounds=config["rounds"],
            trials=config["trials"],
            seed=config["seed"],
            initial_values=parse_initial_values(config.get("initial_values")),
            join_quorum=config.get("join_quorum"),
            vote_quorum=config.get("vote_quorum"),
            trace=bool(config.get("trace", False)),
        )
        given = {key: runtime[key] for key in ("start_method", *DEADLINE_KEYS) if key in runtime}
        if "engine" in config:
            given["engine"] = config["engine"]
        options = RuntimeOptions(**given)
    except KeyError as error:
        raise ConfigError(f"missing configuration key {error}") from None
    return run_config, options
