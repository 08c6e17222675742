"""The Hydra configuration schema (typed, stored in the ConfigStore) and the job key.

A typo or a wrongly typed value fails at composition with Hydra's own message; range checks
that types cannot express are done by :func:`to_run_config` before any process starts.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
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
    startup_timeout: float = 60.0
    receive_timeout: float = 10.0
    barrier_timeout: float = 10.0


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
