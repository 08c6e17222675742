"""Hydra plugin (plugins must live in the ``hydra_plugins`` namespace): paxos-exp's sweeper.

A basic sweeper that checks every job of the sweep before the first one starts.

Hydra's basic sweeper composes every job of a batch to catch type errors before launching it
(about a quarter of a second per job: minutes of silence for a 1,000-job sweep). This one
composes one job per distinct value of the swept config groups (``runtime=default,spawn``:
two), applies the other swept values to that composed config the way Hydra's composition
does (type errors surface with Hydra's own message), and range-checks every job
(``fail_prob=1.5``, ``trials=0``, a quorum larger than ``nodes``...), so a bad sweep stops with
one clear error and no job. It refuses a swept preset (``experiment=a,b``) and a bad ``name``,
records the job count in ``sweep.json`` so each job can log ``[k/n]`` with an estimate of the
time left, and keeps only what Hydra needs of each finished job, so a long sweep's parent
process does not grow with every job.
"""

# No `from __future__ import annotations`: Hydra's plugin scan executes this module before it
# is in sys.modules, and dataclasses would then fail to resolve string annotations.
import contextlib
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, NoReturn, Optional, Tuple

from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from paxos_exp.app_config import ADHOC_NAME, check_name, job_config, job_name, run_spec
from paxos_exp.core.errors import ConfigError
from paxos_exp.hydra_callbacks import warn_running_elsewhere
from paxos_exp.results import SWEEP_MANIFEST, write_atomic

log = logging.getLogger("paxos_exp")

# The config group of presets: each preset is a whole sweep of its own.
PRESET_GROUP = "experiment"
# Checking a sweep takes milliseconds per thousand jobs; say so if a huge one takes longer.
CHECK_NOTICE_SECONDS = 1.0


@dataclass
class PaxosSweeperConf:
    _target_: str = "hydra_plugins.paxos_exp_sweeper.paxos_sweeper.PaxosSweeper"
    max_batch_size: Optional[int] = None
    params: Optional[Dict[str, str]] = None


ConfigStore.instance().store(
    group="hydra/sweeper", name="paxos", node=PaxosSweeperConf, provider="paxos_exp"
)


def _refuse(message: str, config: Optional[DictConfig] = None) -> NoReturn:
    """One line and exit status 2, like any other bad value: not a traceback. With the sweep's
    config, also remove its directory if it is empty (the sweep callback makes it to check it
    is writable before the sweeper runs): a refused ad-hoc sweep leaves no empty directory."""
    if config is not None:
        # rmdir only ever removes an empty directory; not there or not resolvable: nothing.
        with contextlib.suppress(Exception):
            Path(config.hydra.sweep.dir).rmdir()
    print(f"paxos-exp: error: {message}", file=sys.stderr)
    sys.exit(2)


def _earlier_runs(sweep_dir: Path) -> List[Dict[str, Any]]:
    """What earlier invocations wrote into this sweep directory, oldest first: a resumed or
    widened sweep keeps the record of every command that contributed jobs to it."""
    try:
        previous = json.loads((sweep_dir / SWEEP_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(previous, dict):
        return []
    history = [entry for entry in previous.get("history") or [] if isinstance(entry, dict)]
    history.append({key: previous.get(key) for key in ("command", "started_epoch", "total_jobs", "overrides")})
    return history


def _refuse_swept_presets(overrides: Sequence[Override], config: DictConfig) -> None:
    """``-m experiment=quick,scaling`` would run each job with one preset's plain values but
    without its grid (a job does not sweep): refuse it rather than run the wrong jobs."""
    for override in overrides:
        if override.is_sweep_override() and override.key_or_group == PRESET_GROUP:
            presets = list(override.sweep_string_iterator())
            commands = "; ".join(f"paxos-exp {PRESET_GROUP}={preset}" for preset in presets)
            swept = f"{PRESET_GROUP}={','.join(presets)}"
            _refuse(f"{swept}: run the presets one after the other ({commands})", config)


def resume_hint(config: DictConfig) -> str:
    """How to add to (or finish) this sweep later: its directory is only reused on purpose."""
    sweep_dir = config.hydra.sweep.dir
    if config.get("name") == ADHOC_NAME:
        return f"rerun with hydra.sweep.dir={sweep_dir} to resume"
    return f"rerun the same command to resume (name={config.get('name')} writes to {sweep_dir})"


def _lighten(job_return: JobReturn) -> None:
    """Drop a finished job's composed configs (~130 KB each), which nothing reads after the
    job: the launcher and the sweeper keep every JobReturn to the end of the sweep."""
    job_return.cfg = None
    job_return.hydra_cfg = None


def _name_failed_jobs(results: Sequence[JobReturn], initial_job_idx: int) -> None:
    """Several failed jobs in a batch: name them all in one line (the command's last line
    names the first, with why and where its result.json is)."""
    failed = [job_name(initial_job_idx + position + 1, result.overrides or [])
              for position, result in enumerate(results) if result.status == JobStatus.FAILED]
    if len(failed) > 1:
        log.error("%d jobs failed: %s%s; each one's result.json says why", len(failed),
                  ", ".join(failed[:10]), ", ..." if len(failed) > 10 else "")


class LightJobReturns(Callback):
    """Lighten each sweep job's JobReturn as the job ends, inside a batch too (a sweep with no
    max_batch_size is a single batch) and before a remote launcher sends it back."""

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if OmegaConf.select(config, "hydra.mode") == RunMode.MULTIRUN:
            _lighten(job_return)


class _GridCheck:
    """Range-check every job of a sweep while composing as few configs as possible.

    Composing a job costs about 0.25 s; the range check needs only each job's values. So one
    job is composed per distinct combination of config-group values (usually one in all), and
    each job's plain ``key=value`` overrides are applied to that composed config with Hydra's
    own override code, which enforces the schema's types exactly as composition would.
    """

    def __init__(self, sweeper: "PaxosSweeper") -> None:
        assert sweeper.hydra_context is not None and sweeper.config is not None
        self.loader = sweeper.hydra_context.config_loader
        self.master = sweeper.config
        self.parser = OverridesParser.create(config_loader=self.loader)
        self.parsed: Dict[str, Override] = {}
        self.composed = 0  # configs composed, for the debug log and the tests

    def _parse(self, text: str) -> Override:
        if text not in self.parsed:
            self.parsed[text] = self.parser.parse_override(text)
        return self.parsed[text]

    def _is_plain(self, override: Override) -> bool:
        """A value override Hydra applies after composition (not a group, an add or a delete)."""
        return not (
            override.is_hydra_override()
            or override.is_add()
            or override.is_force_add()
            or override.is_delete()
            or override.package is not None
            or self.loader.repository.group_exists(override.key_or_group)
        )

    def _compose(self, overrides: Sequence[str]) -> DictConfig:
        self.composed += 1
        return self.loader.load_sweep_config(self.master, list(overrides))

    def run(self, jobs: Sequence[Sequence[str]]) -> None:
        """Exit with a one-line error naming the first bad job; Hydra's own composition errors
        (a wrongly typed value, an unknown key) propagate as they would from Hydra's check."""
        if not jobs:
            return
        began = time.perf_counter()
        noticed = False
        plain = [self._is_plain(self._parse(text)) for text in jobs[0]]
        # One composed config per combination of group values, with the plain override strings
        # last applied to it (most jobs differ from the previous one in one key only).
        bases: Dict[Tuple[str, ...], Tuple[DictConfig, List[Optional[str]]]] = {}
        for job in jobs:
            if not noticed and time.perf_counter() - began > CHECK_NOTICE_SECONDS:
                noticed = True
                print(f"paxos-exp: checking {len(jobs)} jobs...", file=sys.stderr, flush=True)
            groups = tuple(text for text, is_plain in zip(job, plain) if not is_plain)
            if groups not in bases:
                bases[groups] = (self._compose(job), list(job))
            cfg, applied = bases[groups]
            try:
                for position, text in enumerate(job):
                    if plain[position] and applied[position] != text:
                        applied[position] = None  # half-applied if the override fails
                        ConfigLoaderImpl._apply_overrides_to_config([self._parse(text)], cfg)
                        applied[position] = text
            except Exception:
                # Composing the job itself raises Hydra's own error, exactly as its check did.
                cfg = self._compose(job)
                bases[groups] = (cfg, list(job))
            try:
                check_name(cfg.get("name"))
                run_spec(job_config(cfg))
            except ConfigError as error:
                _refuse(f"sweep job {' '.join(job)}: {error}. No job was started.", self.master)
        log.debug(
            "checked %d jobs in %.2f s, composing %d configs",
            len(jobs), time.perf_counter() - began, self.composed,
        )


class PaxosSweeper(BasicSweeper):
    """BasicSweeper plus a whole-sweep check, a manifest and light job returns."""

    def sweep(self, arguments: List[str]) -> Any:
        # BasicSweeper.sweep (Hydra 1.3), with the checks before anything is written, the
        # manifest, and each finished batch's returns lightened.
        assert self.config is not None and self.launcher is not None
        assert self.hydra_context is not None
        params_conf = self._parse_config()
        params_conf.extend(arguments)
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        overrides = parser.parse_overrides(params_conf)
        _refuse_swept_presets(overrides, self.config)
        try:
            check_name(self.config.get("name"))  # before hydra.sweep.dir is resolved
        except ConfigError as error:
            _refuse(str(error))
        self.overrides = self.split_arguments(overrides, self.max_batch_size)
        jobs = [job for batch in self.overrides for job in batch]
        checker = _GridCheck(self)
        try:
            checker.run(jobs)
        except Exception:
            # Hydra's own composition error (a wrongly typed value, an unknown key) follows;
            # as for a range error, no empty sweep directory is left behind.
            with contextlib.suppress(Exception):
                Path(self.config.hydra.sweep.dir).rmdir()
            raise

        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        hint = resume_hint(self.config)
        manifest: Dict[str, Any] = {
            "name": self.config.get("name"),
            "total_jobs": len(jobs),
            "started_epoch": time.time(),
            "command": sys.argv,
            "overrides": list(self.config.hydra.overrides.task),
            "sweeper_params": dict(self.params),
            "sweep_dir": str(sweep_dir),
            "resume": hint,
            "history": _earlier_runs(sweep_dir),
        }
        write_atomic(sweep_dir / SWEEP_MANIFEST, json.dumps(manifest, indent=2, default=str) + "\n")

        returns: List[Sequence[JobReturn]] = []
        initial_job_idx = 0
        try:
            while not self.is_done():
                batch = self.get_job_batch()
                self.validate_batch_is_legal(batch)
                results = self.launcher.launch(batch, initial_job_idx=initial_job_idx)
                _name_failed_jobs(results, initial_job_idx)
                for result in results:
                    _ = result.return_value  # raises if the job failed, as BasicSweeper does
                    _lighten(result)
                initial_job_idx += len(batch)
                returns.append(results)
        finally:
            # Also after a failed job or Ctrl-C (when Hydra skips on_multirun_end): that is
            # when the sweep needs resuming, and jobs another copy still runs are named.
            warn_running_elsewhere(sweep_dir)
            log.info("sweep: %s", hint)
        return returns

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        """Nothing left to do: :meth:`sweep` checked every job of every batch before the first
        (Hydra's own check would compose each job of the batch once more)."""
