"""Hydra callbacks of paxos-exp sweeps.

``on_multirun_start`` expands the sweep the way the basic sweeper will, range-checks every job
before any job starts, and writes ``sweep.json`` (job count, start time, command) that jobs read
for their ``[k/n]`` progress. ``on_multirun_end`` builds the report, best effort: Hydra skips
it when a job failed, so ``paxos-report`` is always the way to (re)build it.
"""

from __future__ import annotations

import itertools
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from paxos_exp.app_config import FAIL_PROB_DIGITS
from paxos_exp.core.config import RunConfig, parse_initial_values
from paxos_exp.core.errors import ConfigError
from paxos_exp.results import write_atomic

log = logging.getLogger("paxos_exp")

SWEEP_MANIFEST = "sweep.json"
_CHECKED_KEYS = (
    "nodes", "fail_prob", "rounds", "trials", "seed", "initial_values", "join_quorum", "vote_quorum",
)
_MAX_CHECKED_JOBS = 100_000


def sweep_values(config: DictConfig) -> dict[str, list[Any]]:
    """Every key the sweep sets, with its typed values (one value for plain overrides)."""
    params = [f"{key}={value}" for key, value in (config.hydra.sweeper.get("params") or {}).items()]
    arguments = params + list(config.hydra.overrides.task)
    values: dict[str, list[Any]] = {}
    for override in OverridesParser.create().parse_overrides(arguments):
        key = override.get_key_element()
        if override.is_sweep_override():
            values[key] = list(override.sweep_iterator())
        else:
            values[key] = [override.value()]
    return values


def check_sweep(config: DictConfig, values: dict[str, list[Any]]) -> int:
    """Range-check every job of the sweep; returns the number of jobs."""
    total = 1
    for options in values.values():
        total *= max(1, len(options))
    checked = {key: values.get(key, [config.get(key)]) for key in _CHECKED_KEYS}
    combos = 1
    for options in checked.values():
        combos *= max(1, len(options))
    if combos > _MAX_CHECKED_JOBS:
        return total
    keys = list(checked)
    for combination in itertools.product(*(checked[key] for key in keys)):
        job = dict(zip(keys, combination))
        try:
            RunConfig(
                nodes=job["nodes"],
                fail_prob=round(job["fail_prob"], FAIL_PROB_DIGITS)
                if isinstance(job["fail_prob"], float) else job["fail_prob"],
                rounds=job["rounds"],
                trials=job["trials"],
                seed=job["seed"],
                initial_values=parse_initial_values(
                    None if job["initial_values"] is None else str(job["initial_values"])
                ),
                join_quorum=job["join_quorum"],
                vote_quorum=job["vote_quorum"],
            )
        except ConfigError as error:
            where = " ".join(f"{key}={job[key]}" for key in ("nodes", "fail_prob", "rounds"))
            raise ConfigError(f"sweep job {where}: {error}; no job was started") from None
    return total


class SweepCallback(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        values = sweep_values(config)
        total = check_sweep(config, values)
        sweep_dir = Path(config.hydra.sweep.dir)
        manifest = {
            "name": config.get("name"),
            "total_jobs": total,
            "started_epoch": time.time(),
            "command": sys.argv,
            "overrides": list(config.hydra.overrides.task),
            "sweeper_params": OmegaConf.to_container(config.hydra.sweeper.get("params") or {}),
        }
        write_atomic(sweep_dir / SWEEP_MANIFEST, json.dumps(manifest, indent=2) + "\n")
        log.info("sweep of %d jobs into %s", total, sweep_dir)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if not config.get("report", True):
            log.info("results: %s (paxos-report %s builds the report)", sweep_dir, sweep_dir)
            return
        try:
            from paxos_exp.analysis.report import build_report
        except ImportError:
            log.info("results: %s", sweep_dir)
            return
        try:
            out = build_report([sweep_dir])
            log.info("results: %s; report: %s", sweep_dir, out / "report.md")
        except Exception as error:  # noqa: BLE001 - the sweep's results matter more than its report
            log.warning(
                "results: %s; the report could not be built (%s: %s); run `paxos-report %s`",
                sweep_dir, type(error).__name__, error, sweep_dir,
            )
