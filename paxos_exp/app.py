"""``paxos-exp``: the Hydra application. One job = one configuration, run ``trials`` times.

The entry point is thin: :func:`run_job` does the work and can be called without a CLI.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException
from omegaconf import DictConfig

from paxos_exp.app_config import (
    JobFailed,
    job_config,
    job_key,
    job_name,
    register_configs,
    register_resolvers,
    run_spec,
    stored_config,
)
from paxos_exp.core.errors import ConfigError, RunError, StopSweep
from paxos_exp.core.config import Safety
from paxos_exp.core.records import Timings, TrialRecord
from paxos_exp.host import SIGTERM_STATUS, Terminated, sigterm_raises
from paxos_exp.hydra_callbacks import current_output
from paxos_exp.results import (
    LOCK_FILE,
    RESULT_FILE,
    STATUS_FAILED,
    STATUS_INTERRUPTED,
    STATUS_OK,
    SWEEP_MANIFEST,
    TABLE_FILES,
    JobLock,
    JobTables,
    TableSizes,
    completed,
    load_result,
    locked_elsewhere,
    stop_for,
    table_formats,
    versions,
    write_result,
)
from paxos_exp import metrics
from paxos_exp.schema import JobResult, SchemaError, Summary

log = logging.getLogger("paxos_exp")

register_configs()
register_resolvers()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


class _TrialProgress:
    """Progress over a job's trials: tqdm's bar on a terminal, its widget in a notebook.

    Created only where someone watches (:func:`_watching`): a log file or a launcher's captured
    output gets the job's one end line instead of a stream of redraws."""

    def __init__(self, label: str, file: Any = None) -> None:
        self.label = label
        self.file = file if file is not None else sys.stderr
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = _bar_class()(
                total=total, desc=self.label, unit="trial", file=self.file, mininterval=0.25,
                dynamic_ncols=True, leave=True,
            )
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (IPython already imported and a kernel app)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None  # type: ignore[attr-defined]
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def _watching() -> bool:
    """Whether per-trial progress has anyone to show it to: a terminal or a notebook."""
    return sys.stderr.isatty() or _in_notebook()


def _bar_class() -> Any:
    """tqdm's notebook widget in a Jupyter kernel with ipywidgets, its text bar elsewhere."""
    if _in_notebook():
        try:
            import ipywidgets  # noqa: F401 - the notebook bar needs it
            from tqdm.notebook import tqdm as notebook_tqdm

            return notebook_tqdm
        except ImportError:
            pass
    from tqdm import tqdm

    return tqdm


def _position(hydra_cfg: Any) -> tuple[str, float | None]:
    """``[k/n]`` for a sweep job, and the seconds left estimated from the sweep's pace."""
    try:
        from hydra.types import RunMode

        if hydra_cfg.mode != RunMode.MULTIRUN:
            return "", None
        number = int(hydra_cfg.job.num) + 1
        manifest = Path(hydra_cfg.sweep.dir) / SWEEP_MANIFEST
        info = json.loads(manifest.read_text(encoding="utf-8"))
        total = int(info["total_jobs"])
        elapsed = time.time() - float(info["started_epoch"])
        return f"[{number}/{total}] ", elapsed / number * max(0, total - number)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return "", None


def _describe(config: dict[str, Any]) -> str:
    protocol = config.get("protocol")
    name = protocol.get("name") if isinstance(protocol, dict) else None
    where = "" if name in (None, "classic") else f"protocol={name} "
    return (f"{where}nodes={config['nodes']} fail_prob={config['fail_prob']:.2f} "
            f"rounds={config['rounds']}")


RUNNING_ELSEWHERE = "running elsewhere"  # what run_job returns for a job another process holds


def run_job(cfg: DictConfig, output_dir: Path | None = None) -> dict[str, Any]:
    """Run one job and write its result files; returns its summary.

    The job holds an OS lock on its directory while it runs: a job locked by another process
    is skipped (``{"skipped": "running elsewhere"}``). A job whose result.json says ok for the
    same job key, with tables matching the row counts and checksums it records, is skipped
    (unless ``force``). An ok result is never replaced by a failed or interrupted run. Raises
    on failure after writing a result.json that says why (unless an ok one was kept).
    """
    began = time.perf_counter()
    hydra_cfg = HydraConfig.get() if HydraConfig.initialized() else None
    if output_dir is None:
        if hydra_cfg is None:
            raise RuntimeError("run_job needs output_dir when called outside Hydra")
        output_dir = Path(hydra_cfg.runtime.output_dir)
    config = job_config(cfg)
    key = job_key(config)
    position, left = _position(hydra_cfg) if hydra_cfg is not None else ("", None)
    label = _describe(config) if all(k in config for k in ("nodes", "fail_prob", "rounds")) else key
    # Every value is checked before anything is locked, written or started, and so is
    # whether this machine can give a run of this size what it needs.
    run_config, options = run_spec(config)
    if hydra_cfg is None or str(hydra_cfg.mode) != "RunMode.MULTIRUN":
        # (In a sweep the engine's own check fails just this job, and its result.json says so.)
        from paxos_exp.runtime.limits import check_fits, check_fits_inprocess

        if options.engine == "processes":
            check_fits(run_config.nodes, run_config.rounds)
        else:
            check_fits_inprocess(run_config.nodes)
    lock = JobLock(output_dir)
    if not lock.acquire():
        log.warning("%s%s: skipped, %s (another paxos-exp holds %s)", position, label,
                    RUNNING_ELSEWHERE, output_dir)
        return {"skipped": RUNNING_ELSEWHERE}
    with lock:
        _remove_leftovers(output_dir)
        previous, unreadable = _previous_result(output_dir)
        not_done = completed(output_dir, previous, key)
        if not_done is None and not cfg.get("force", False):
            log.info("%s%s: already done in %s (force=true reruns it)", position, label, output_dir)
            return asdict(previous.summary)  # type: ignore[union-attr, arg-type]
        if previous is not None and not_done is not None and previous.status == STATUS_OK:
            log.warning("%s%s: redoing the job: %s", position, label, not_done)
        elif unreadable is not None:
            log.warning("%s%s: redoing the job: no readable result.json (%s)", position, label,
                        unreadable)
        keep_previous = not_done is None  # a good result survives anything but a good rerun
        document = _run_and_record(cfg, config, key, run_config, options, output_dir, position,
                                   label, hydra_cfg, began, keep_previous)
    summary = document.summary
    assert summary is not None  # an ok run has one; a failed one raised
    eta = f", about {_duration(left)} left" if left is not None and left >= 1 else ""
    log.info(
        "%s%s: %d/%d decided (%.1f%%) in %.2f s%s",
        position,
        label,
        summary.decided_trials,
        summary.trials,
        100.0 * (summary.decision_rate or 0.0),
        document.wall_seconds,
        eta,
    )
    if hydra_cfg is not None and str(hydra_cfg.mode) != "RunMode.MULTIRUN":
        log.info("results: %s", output_dir)
    return asdict(summary)


def _previous_result(output_dir: Path) -> tuple[JobResult | None, str | None]:
    """The job's earlier result.json, or None and why it cannot be used (None: there is none)."""
    if not (output_dir / RESULT_FILE).exists():
        return None, None
    try:
        return load_result(output_dir), None
    except (OSError, UnicodeDecodeError, SchemaError) as error:
        return None, str(error)


def _run_and_record(
    cfg: DictConfig,
    config: dict[str, Any],
    key: str,
    run_config: Any,
    options: Any,
    output_dir: Path,
    position: str,
    label: str,
    hydra_cfg: Any,
    began: float,
    keep_previous: bool,
) -> JobResult:
    """Run the job into temporary tables and record it; see :func:`run_job`."""
    document = JobResult(
        status=STATUS_FAILED,
        job_key=key,
        name=cfg.get("name"),
        config=stored_config(run_config, options),
        seed=run_config.seed,
        tables=None,
        overrides=list(hydra_cfg.overrides.task) if hydra_cfg is not None else [],
        command=list(sys.argv),
        versions=versions(),
        started_at=_now(),
    )
    progress = None
    tables: JobTables | None = None
    # SIGTERM (a launcher cancelling the job) unwinds like Ctrl-C, so the node processes and
    # socket directory are cleaned up and result.json says what happened.
    restore_sigterm = sigterm_raises()
    engine_warnings = _EngineWarnings()
    record = True  # whether this run's result.json is written (not over a kept ok one)
    try:
        if options.engine == "processes" and options.start_method != "fork" and _under_joblib(hydra_cfg):
            from paxos_exp.runtime.api import set_default_start_method

            set_default_start_method(options.start_method)
        if cfg.get("progress", True) and _watching():
            progress = _TrialProgress(f"{position}{label}")
        from paxos_exp.runtime.api import stream_config

        tables = JobTables(output_dir, trace=run_config.trace,
                           formats=table_formats(cfg.get("tables")),
                           sizes=TableSizes.of(run_config))
        sink = tables if run_config.safety is Safety.record else _StopAtViolation(tables, output_dir)
        with engine_warnings:
            stats = stream_config(run_config, options, sink, on_trial=progress)
        document.foreign_messages = stats.foreign_messages
        if stats.foreign_messages:
            log.warning(
                "%s%s: dropped %d foreign messages (without this run's token) sent to its node "
                "sockets by another process; the records are unaffected", position, label,
                stats.foreign_messages,
            )
        document.summary = tables.summary.summary(run_config, stats.timings)
        # Only now, complete, do the new tables replace anything (a forced rerun's old ones).
        document.tables = tables.commit()
        document.status = STATUS_OK
    except Exception as error:
        document.error = f"{type(error).__name__}: {error}"
        if isinstance(error, SafetyViolation) and tables is not None and not keep_previous:
            # The trials up to the violating one stay in the tables for a look.
            document.summary = tables.summary.summary(run_config, _partial_timings(began))
            document.tables = tables.commit_whole_trials()
        if document.tables is None:  # no tables, so no summary of them either
            document.summary = None
            if tables is not None:
                tables.discard()
        if keep_previous:
            record = False
            log.error("%s%s: FAILED: %s; the earlier ok result in %s is kept", position, label,
                      document.error, output_dir)
        else:
            log.error("%s%s: FAILED: %s", position, label, document.error)
        raise
    except BaseException as error:  # Ctrl-C, or SIGTERM from a launcher: say so, then go on
        if keep_previous:
            record = False
            if tables is not None:
                tables.discard()
        else:
            document.status = STATUS_INTERRUPTED
            how = "SIGTERM" if isinstance(error, Terminated) else type(error).__name__
            document.error = f"interrupted ({how}); rerun the same command to redo it"
            if tables is not None and document.tables is None:
                # Whatever whole trials were done stay readable, marked as interrupted.
                try:
                    document.summary = tables.summary.summary(run_config, _partial_timings(began))
                    document.tables = tables.commit_whole_trials()
                except Exception:  # noqa: BLE001 - the interrupt is what the user must see
                    document.summary = document.tables = None
                    tables.discard()
        raise
    finally:
        restore_sigterm()
        if progress is not None:
            progress.close()
        if record:
            document.warnings = list(engine_warnings.lines)
            document.finished_at = _now()
            if document.summary is not None:
                document.summary.wall.job = time.perf_counter() - began
            document.wall_seconds = time.perf_counter() - began
            write_result(output_dir, document)
    return document


class _EngineWarnings(logging.Handler):
    """The warnings the engine logs while this job runs (a node that reported an error or
    exited badly after its last trial, one slow to exit): shown like any log line, and kept
    for result.json, where they stay with the results they did not change."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.lines: list[str] = []
        self.logger = logging.getLogger("paxos_exp.runtime")  # the engines' logger

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:  # not another job's (a launcher running threads)
            self.lines.append(record.getMessage())

    def __enter__(self) -> _EngineWarnings:
        self.logger.addHandler(self)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.logger.removeHandler(self)


class SafetyViolation(RunError):
    """A trial of a protocol that claims safety broke it (``safety=fail``)."""


class _StopAtViolation:
    """The job's tables as a sink that stops the run at the first unsafe trial."""

    def __init__(self, tables: JobTables, directory: Path) -> None:
        self.tables, self.directory = tables, directory
        self.add_rounds = tables.add_rounds

    def add_trial(self, trial: TrialRecord) -> None:
        self.tables.add_trial(trial)
        if not trial.safe:
            broken = [name for name, ok in (("agreement", trial.agreement_ok),
                                            ("validity", trial.validity_ok),
                                            ("proposals after the first decision",
                                             trial.proposals_ok)) if not ok]
            raise SafetyViolation(
                f"safety violated in trial {trial.trial} ({', '.join(broken)}); see the trials "
                f"and rounds tables in {self.directory} (safety=record counts violations instead)"
            )


def _partial_timings(began: float) -> Timings:
    return Timings(startup=0.0, rounds=time.perf_counter() - began, teardown=0.0)


# What Hydra puts into a job directory before the job starts (and the job's own lock).
_HYDRA_ONLY = {".hydra", f"{Path(sys.argv[0]).stem}.log", "paxos.log", LOCK_FILE}


def _forget_unstarted(directory: Path) -> None:
    """Remove the directory Hydra made for a job refused before it started, but only if it
    holds nothing else: never a directory with results, a user's own files, or a job that
    another process is running right now."""
    try:
        names = {entry.name for entry in directory.iterdir()}
    except OSError:
        return
    if names <= _HYDRA_ONLY and not locked_elsewhere(directory):
        shutil.rmtree(directory, ignore_errors=True)


def _remove_leftovers(directory: Path) -> None:
    """Delete temporary files a killed run of this job left (SIGKILL, the out-of-memory
    killer): the caller holds the job's lock, so no one else is writing them."""
    for name in (*TABLE_FILES, RESULT_FILE):
        for leftover in directory.glob(f".{name}.*.tmp"):
            leftover.unlink(missing_ok=True)


def _under_joblib(hydra_cfg: Any) -> bool:
    try:
        return "joblib" in str(hydra_cfg.launcher._target_).lower()
    except AttributeError:
        return False


# An absolute path: Hydra resolves relative ones against the module, which breaks under
# console scripts. conf/ at the project root is a link to this directory.
CONFIG_DIR = str(Path(__file__).resolve().parent / "conf")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def hydra_main(cfg: DictConfig) -> float:
    """One job; returns its ``optimized_metric`` (a float, so optimising sweepers work). A job
    that fails raises :class:`JobFailed`, whose one line names it and where its files are."""
    hydra_cfg = HydraConfig.get()
    try:
        return _job(cfg, hydra_cfg)
    except JobFailed:
        raise
    except Exception as error:  # noqa: BLE001 - every failure of a job becomes its one line
        raise _failure(hydra_cfg, error) from error


def _job(cfg: DictConfig, hydra_cfg: Any) -> float:
    try:
        metric = metrics.check(cfg.get("optimized_metric", metrics.DEFAULT_METRIC))
        summary = run_job(cfg)
        if "skipped" in summary:  # held by another process: nothing measured here
            return math.nan
        return metrics.value(metric, Summary.from_dict(summary), cfg)
    except ConfigError as error:
        if str(hydra_cfg.mode) == "RunMode.MULTIRUN":
            raise  # the job fails, the sweep goes on and exits non-zero
        # A single run with a bad value: a one-line error, no traceback, exit status 2, and
        # no directory left for a job that never ran (Hydra made it before calling us).
        _forget_unstarted(Path(hydra_cfg.runtime.output_dir))
        print(f"paxos-exp: error: {error}", file=sys.stderr)
        sys.exit(2)
    except OSError as error:
        stop = stop_for(error, Path(hydra_cfg.runtime.output_dir))
        if stop is None:
            raise
        raise stop from error


def _failure(hydra_cfg: Any, error: Exception) -> JobFailed:
    """A failed job's line, the same under every launcher (the cluster ones name a job that
    ended without a result the same way): which job, why, and where its files are."""
    multirun = str(hydra_cfg.mode) == "RunMode.MULTIRUN"
    name = job_name(int(hydra_cfg.job.num) + 1 if multirun else None,
                    list(hydra_cfg.overrides.task))
    directory = Path(hydra_cfg.runtime.output_dir)
    log_file = directory / f"{hydra_cfg.job.name}.log"
    previous, _ = _previous_result(directory)
    if previous is None:
        where = f"its log: {log_file}"
    elif previous.status == STATUS_OK:  # a rerun that failed: the good result stays
        where = f"the earlier ok result in {directory} is kept; this run's log: {log_file}"
    else:
        where = f"its result.json and log are in {directory}"
    return JobFailed(f"{name} failed: {type(error).__name__}: {_one_line(error)}; {where}")


def main() -> None:
    """The console entry point: Hydra's app, with one line on stderr for every failure a
    user can cause (the traceback only with HYDRA_FULL_ERROR=1)."""
    full = os.environ.get("HYDRA_FULL_ERROR") == "1"
    # Hydra prints its own multi-line report (or a traceback) of any error unless told to
    # let it through; let it through, and say it in one line here.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    # SIGTERM (kill, a scheduler's time limit, a CI runner cancelling) unwinds like Ctrl-C
    # wherever it lands: in a job, between jobs, while a launcher waits or the report is
    # written, so no node process, socket or temporary file is left; then one line says so.
    restore_sigterm = sigterm_raises()
    try:
        hydra_main()
    except Terminated:
        if full:
            raise
        print(f"paxos-exp: stopped by SIGTERM; {_kept()}; {_resume_hint()}", file=sys.stderr)
        sys.exit(SIGTERM_STATUS)
    except KeyboardInterrupt:
        if full:
            raise
        print(f"paxos-exp: interrupted; {_resume_hint()}", file=sys.stderr)
        sys.exit(130)
    except StopSweep as error:
        if full:
            raise
        print(f"paxos-exp: error: {error}", file=sys.stderr)
        sys.exit(1)
    except (HydraException, OmegaConfBaseException) as error:  # composing the configuration
        if full:
            raise
        print(f"paxos-exp: error: {_one_line(error)} (paxos-exp --help lists the keys and "
              "their values)", file=sys.stderr)
        sys.exit(2)
    except OSError as error:  # raised by Hydra itself, making a directory or writing its files
        stop = stop_for(error)
        if full:
            raise
        print(f"paxos-exp: error: {stop if stop is not None else _one_line(error)}", file=sys.stderr)
        sys.exit(1)
    except JobFailed as error:  # Hydra re-raises the first failed job's as the sweep ends
        if full:
            raise
        retry = _resume_hint().replace("to resume", "to retry it")
        print(f"paxos-exp: error: {error}; {retry}", file=sys.stderr)  # one line already
        sys.exit(1)
    except Exception as error:  # a launcher's own failure, outside any job
        if full:
            raise
        retry = _resume_hint().replace("to resume", "to retry it")
        print(f"paxos-exp: error: {type(error).__name__}: {_one_line(error)} "
              f"(HYDRA_FULL_ERROR=1 shows the traceback); {retry}", file=sys.stderr)
        sys.exit(1)
    finally:
        restore_sigterm()
        if not full:
            os.environ.pop("HYDRA_FULL_ERROR", None)


def _resume_hint() -> str:
    """How to pick up where this command stopped: an ad-hoc sweep's directory is only reused
    when named (the sweeper writes the words into sweep.json)."""
    sweep = current_output.get("sweep")
    if sweep is not None:
        try:
            manifest = json.loads((sweep / SWEEP_MANIFEST).read_text(encoding="utf-8"))
            hint = manifest.get("resume")
            if isinstance(hint, str) and hint:
                return hint
        except (OSError, ValueError, AttributeError):
            pass  # no readable manifest: the plain advice holds
    return "rerun the same command to resume"


def _status(directory: Path) -> str | None:
    """A job directory's result.json status, or None (none, or not readable)."""
    try:
        status = json.loads((directory / RESULT_FILE).read_text(encoding="utf-8")).get("status")
    except (OSError, ValueError, AttributeError):
        return None
    return status if isinstance(status, str) else None


def _kept() -> str:
    """What a command stopped by a signal leaves for the next one, in words."""
    sweep, run = current_output.get("sweep"), current_output.get("run")
    if sweep is not None:
        done = sum(_status(path.parent) == STATUS_OK for path in sweep.glob(f"*/{RESULT_FILE}"))
        jobs = "1 finished job is" if done == 1 else f"{done} finished jobs are"
        return f"{jobs} kept in {sweep}"
    status = _status(run) if run is not None else None
    if status == STATUS_INTERRUPTED:
        return f"the job's whole trials so far are kept in {run} (status interrupted)"
    if status == STATUS_OK:
        return f"the job's result is kept in {run}"
    return "no job had finished"


_DETAIL_LINES = ("full_key:", "object_type=", "reference_type=", "provider=", "Config search path")


_MISSING_SETTING = re.compile(r"Key '(\w+)' not in '(\w+)_conf'")


def _missing_setting(text: str) -> str | None:
    """``protocol.join_quorum=2`` under a protocol without that setting: say which plug-ins
    have it, instead of Hydra's advice to append it with ``+``."""
    from dataclasses import fields

    from paxos_exp.core.faults import FAULTS
    from paxos_exp.core.protocols import PROTOCOLS

    found = _MISSING_SETTING.search(text)
    if found is None:
        return None
    key, name = found.groups()
    for group, registry in (("protocol", PROTOCOLS), ("faults", FAULTS)):
        plugins = {plugin.name: plugin for plugin in registry}
        if name not in plugins:
            continue
        settings = [field.name for field in fields(plugins[name].params)]
        having = [other for other, plugin in plugins.items()
                  if key in {field.name for field in fields(plugin.params)}]
        has = (f"; its settings: {', '.join(settings)}" if settings else "; it has no settings")
        if group == "faults":  # a fault model's settings are faults.NAME.KEY
            choose = (f"; {key} belongs to faults={' or '.join(having)} (for example "
                      f"faults={having[0]} faults.{having[0]}.{key}=...)" if having else "")
            return f"faults.{name}.{key}: the fault model {name} has no setting {key}{has}{choose}"
        choose = (f"; {key} belongs to {group}={' or '.join(having)} (for example "
                  f"{group}={having[0]} {group}.{key}=...)" if having else "")
        return f"{group}.{key}: the {group} {name} has no setting {key}{has}{choose}"
    return None


_FAULT_OVERRIDE = re.compile(r"Could not override 'faults\.([\w.]+)'")
_APPEND_VALUE = re.compile(r"use \+faults\.[\w.]+=(.*?)(?:; |$)")


def _fault_models_chosen(error: BaseException) -> list[str]:
    """The job's fault models, as OmegaConf's error under Hydra's names them (its parent
    node is the composed ``faults``, one key per model); [] if no error in the chain does."""
    seen: BaseException | None = error
    while seen is not None:
        full_key = str(getattr(seen, "full_key", "") or "")
        parent = getattr(seen, "parent_node", None)
        if full_key.startswith("faults.") and full_key.count(".") == 1 and isinstance(
                parent, DictConfig):
            return [str(key) for key in parent.keys()]
        seen = seen.__cause__
    return []


def _fault_sweep(args: Sequence[str]) -> tuple[str, list[list[str]]] | None:
    """A sweep over fault models on the command line (``faults=crash_stop,partition``): as
    written, and each job's models; None if there is none."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    given = [arg for arg in args if "=" in arg and not arg.startswith("-")]
    try:
        overrides = OverridesParser.create().parse_overrides(given)
    except HydraException:
        return None
    for override in overrides:
        if override.key_or_group == "faults" and override.is_sweep_override():
            values = getattr(override.value(), "list", None) or []
            return override.input_line, [[str(name) for name in value] if isinstance(value, list)
                                         else str(value).split("+") for value in values]
    return None


def _fault_setting(text: str, chosen: Sequence[str] = (),
                   sweep: tuple[str, list[list[str]]] | None = None) -> str | None:
    """``faults.KEY=...`` or ``faults.NAME.KEY=...`` that Hydra cannot place: a fault model's
    settings are ``faults.NAME.KEY``, and NAME must be one of the job's models ``chosen``
    (the example names them, and the model that has the setting). Under a ``sweep`` over
    fault models Hydra checks a setting before the sweep chooses each job's models."""
    from dataclasses import fields

    from paxos_exp.core.config import unchosen_fault_model
    from paxos_exp.core.faults import FAULTS

    found = _FAULT_OVERRIDE.search(text)
    if found is None:
        return None
    path = found.group(1)
    parts = path.split(".")
    given = _APPEND_VALUE.search(text)
    value = given.group(1) if given is not None and given.group(1) else "..."
    settings = {plugin.name: [field.name for field in fields(plugin.params)] for plugin in FAULTS}
    if sweep is not None:
        written, jobs = sweep
        key = parts[-1]
        swept = list(dict.fromkeys(name for job in jobs for name in job))
        models = ([parts[0]] if len(parts) > 1 and parts[0] in swept
                  else [name for name in swept if key in settings.get(name, [])])
        everywhere = [name for name in models if all(name in job for job in jobs)]
        if everywhere:
            return (f"faults.{path}: Hydra checks a setting before the sweep {written} "
                    f"chooses each job's fault models; write it ++faults.{everywhere[0]}.{key}="
                    f"{value} (every job of the sweep has {everywhere[0]})")
        if models:
            return (f"faults.{path}: the sweep {written} has jobs without "
                    f"{' or '.join(models)}, and a fault model's setting needs its model in "
                    f"every job; sweep one model at a time, such as faults={models[0]} "
                    f"faults.{models[0]}.{key}={value}")
    if len(parts) > 1:
        if parts[0] in settings and parts[0] in chosen:
            return None  # a chosen model's own setting: Hydra's message names the model
        return unchosen_fault_model(parts[0], path, [name for name in chosen if name in settings])
    key = parts[0]
    having = [name for name in settings if key in settings[name]]
    own = [name for name in chosen if name in having]
    head = f"faults.{key}: a fault model's settings are written faults.NAME.KEY"
    if own:
        return f"{head}: {' or '.join(f'faults.{name}.{key}={value}' for name in own)}"
    if having:
        models = f" ({', '.join(chosen)})" if chosen else ""
        return (f"{head}, and {key} is a setting of {' and '.join(having)}, not of this "
                f"job's fault models{models}; choose one with faults={having[0]} "
                f"faults.{having[0]}.{key}={value}")
    own_settings = [f"faults.{name}.{setting}" for name in chosen for setting in settings.get(name, [])]
    listed = (f"; the settings of this job's fault models: {', '.join(own_settings)}"
              if own_settings else f"; this job's fault models ({', '.join(chosen)}) have none"
              if chosen else "")
    return f"faults.{key}: no fault model has a setting {key}{listed}"


def _one_line(error: BaseException) -> str:
    """An error's message and its causes' on one line, without Hydra's and OmegaConf's
    detail lines (``full_key: ...``, search paths) or hints about HYDRA_FULL_ERROR."""
    parts: list[str] = []
    seen: BaseException | None = error
    while seen is not None and len(parts) < 4:
        for line in str(seen).splitlines():
            text = line.strip().rstrip(":")
            if text and "HYDRA_FULL_ERROR" not in text and not text.startswith(_DETAIL_LINES):
                if text not in parts:
                    parts.append(text)
        seen = seen.__cause__
    text = "; ".join(parts)
    return (_missing_extra(text) or _missing_setting(text)
            or _fault_setting(text, _fault_models_chosen(error), _fault_sweep(sys.argv[1:]))
            or _sweeper_setting(text) or text or type(error).__name__)


# The launchers' Hydra plug-ins, by the config name their presets extend, and the extra that
# installs each (pyproject.toml's optional dependencies).
_LAUNCHER_EXTRAS = {"joblib": "joblib", "submitit_local": "submitit",
                    "submitit_slurm": "submitit", "ray": "ray"}
_MISSING_LAUNCHER = re.compile(r"Could not load 'hydra/launcher/(\w+)'")


def _missing_extra(text: str) -> str | None:
    """``hydra/launcher=paxos_joblib`` without the joblib extra: Hydra cannot find the plug-in's
    config; say which extra installs it."""
    found = _MISSING_LAUNCHER.search(text)
    if found is None or found.group(1) not in _LAUNCHER_EXTRAS:
        return None
    extra = _LAUNCHER_EXTRAS[found.group(1)]
    return (f"hydra/launcher=paxos_{found.group(1)} needs the {extra} extra, which is not "
            f"installed: pip install -e '.[{extra}]' (or pip install 'paxos-exp[{extra}]')")


def _sweeper_setting(text: str) -> str | None:
    """A preset written for an optimising sweeper, run with paxos-exp's own grid sweeper
    (the default: an override on the command line is the only way to replace it)."""
    if "Could not load 'hydra/sweeper/optuna'" in text:
        return ("hydra/sweeper=optuna: the Optuna sweeper is not installed; pip install -e "
                "'.[optuna]' (or pip install hydra-optuna-sweeper)")
    match = re.search(r"Key '(\w+)' not in 'PaxosSweeperConf'", text)
    if match is None:
        return None
    return (f"hydra.sweeper.{match.group(1)}: the grid sweeper has no such setting; a preset "
            "for Optuna needs hydra/sweeper=optuna on the command line (pip install -e "
            "'.[optuna]'), such as paxos-exp experiment=half_decision hydra/sweeper=optuna")


if __name__ == "__main__":
    main()
