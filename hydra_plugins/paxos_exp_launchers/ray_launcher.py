"""Hydra plug-in: Hydra's Ray launcher with what paxos-exp needs from it. The preset
``conf/hydra/launcher/paxos_ray.yaml`` points ``_target_`` here.

- **Where it runs.** With no address (``hydra.launcher.ray.init.address`` unset and no
  ``RAY_ADDRESS``), a private local Ray instance is started for the sweep, sized by
  ``ray.init``'s options, whatever other Ray cluster runs on the machine. With an address
  (``auto``, ``HOST:PORT``, ``ray://HOST:10001``, or ``RAY_ADDRESS``) it connects, and the
  options only a new instance takes (``num_cpus``, ``object_store_memory``...) are dropped:
  Ray refuses them when connecting.
- **Resources from the jobs.** ``ray.remote.num_cpus`` and ``memory`` left unset are derived
  from each job (``min(nodes, CPUs of the largest node)`` and limits' memory estimate) and
  checked against the cluster's largest node before any job is sent: a task no node can run
  would otherwise wait forever.
- **Progress on the console.** Each job's log lines come back with its result and are printed
  here as it ends, whole and in order. Ray's own forwarding of worker output is off by default
  (``log_to_driver: false`` in the preset): it folds the jobs' similar lines into one (its log
  de-duplication, also turned off here: ``RAY_DEDUP_LOGS=0``) and can lose the last lines when
  the sweep ends.
- **Ctrl-C** cancels the jobs not finished (each one's result.json says interrupted).
"""

import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import (
    JobReturn,
    JobStatus,
    configure_log,
    filter_overrides,
    setup_globals,
)
from omegaconf import OmegaConf, open_dict

from hydra_plugins.paxos_exp_launchers._resources import Machine, check_fits, job_sizes
from paxos_exp.app_config import JobFailed, job_name
from paxos_exp.host import Terminated, usable_cpus

log = logging.getLogger("paxos_exp")

# ray.init options only a new instance takes: Ray refuses them when connecting to a cluster.
_NEW_INSTANCE_ONLY = ("num_cpus", "num_gpus", "resources", "labels", "object_store_memory",
                      "_system_config", "_enable_object_reconstruction", "_node_name")
# How long cancelled jobs get to unwind (stop their node processes, write result.json) before
# paxos-exp goes on stopping: a job's own clean-up takes a few seconds at most.
STOP_SECONDS = 60.0
# hydra-ray-launcher's object store for a new instance (small: results are tiny).
_OBJECT_STORE_BYTES = 78643200

try:
    from hydra_plugins.hydra_ray_launcher.ray_launcher import RayLauncher
except ImportError:  # the ray extra is not installed: its preset says so when chosen
    RayLauncher = None  # type: ignore[assignment, misc]


def init_options(init: dict[str, Any], environ: Any = os.environ) -> dict[str, Any]:
    """``ray.init``'s keyword arguments: connect when an address is given (here or in
    RAY_ADDRESS), without the options Ray refuses then; else a private local instance."""
    options = {key: value for key, value in init.items() if value is not None}
    address = options.get("address") or environ.get("RAY_ADDRESS") or None
    if address is None or address == "local":
        options["address"] = "local"
        options.setdefault("num_cpus", usable_cpus())
        options.setdefault("object_store_memory", _OBJECT_STORE_BYTES)
        return options
    options["address"] = address
    dropped = [key for key in _NEW_INSTANCE_ONLY if key in options]
    if dropped:
        log.info("connecting to the Ray cluster at %s: ignoring %s (only a new instance "
                 "takes them)", address, ", ".join(dropped))
    return {key: value for key, value in options.items() if key not in _NEW_INSTANCE_ONLY}


def largest_node(nodes: list[dict[str, Any]]) -> Machine | None:
    """The largest alive node of a Ray cluster (``ray.nodes()``)."""
    alive = [node.get("Resources", {}) for node in nodes if node.get("Alive")]
    if not alive:
        return None
    return Machine("the Ray cluster", int(max(r.get("CPU", 0) for r in alive)),
                   int(max(r.get("memory", 0) for r in alive)))


class _Lines(logging.Handler):
    """Keeps the formatted lines of paxos-exp's logger during one job."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def run_job_keeping_lines(hydra_context: Any, sweep_config: Any, task_function: Any,
                          singleton_state: Any) -> tuple[JobReturn, list[str]]:
    """The Ray task: Hydra's job, and the lines paxos-exp logged during it (the launcher
    prints them). Hydra re-configures the root logger for the job, so the lines are taken
    from paxos-exp's own logger."""
    from hydra_plugins.hydra_ray_launcher._launcher_util import _run_job

    keeper = _Lines()
    logger = logging.getLogger("paxos_exp")
    logger.addHandler(keeper)
    try:
        return _run_job(hydra_context, sweep_config, task_function, singleton_state), keeper.lines
    finally:
        logger.removeHandler(keeper)


def _gather(ray: Any, runs: list[Any], names: Sequence[tuple[Sequence[str], str]] = ()
            ) -> list[JobReturn]:
    """Every job's JobReturn in order, printing each job's lines as it ends; a job whose
    worker died (killed, out of memory, a lost node) is a failed job naming it, and the others
    go on. Ctrl-C or SIGTERM cancels the jobs not finished and waits for them to unwind (each
    records that it was interrupted). ``names``: each run's overrides and a name for messages.

    SIGTERM only sets a flag here, looked at after each bounded wait: Ray's blocking calls turn
    any SystemExit raised by a signal handler while they wait into a SystemExit(1) of their
    own, which would lose both the signal and paxos-exp's line saying what happened."""
    results: dict[Any, JobReturn] = {}
    pending = list(runs)
    named = dict(zip(runs, names))
    terminated: list[int] = []
    restore = _on_sigterm(terminated.append)
    try:
        while pending:
            # A bounded wait, so a SIGTERM or Ctrl-C is acted on within a second.
            done, pending = ray.wait(pending, num_returns=1, timeout=1.0)
            for run in done:
                try:
                    result, lines = ray.get(run)
                except ray.exceptions.RayError as error:
                    overrides, name = named.get(run, ((), "a Ray job"))
                    reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
                    failure = JobFailed(f"{name} ended without a result ({type(error).__name__}"
                                        f": {reason})")
                    results[run] = JobReturn(overrides=list(overrides),
                                             status=JobStatus.FAILED, _return_value=failure)
                    continue
                results[run] = result
                for line in lines:
                    sys.stdout.write(line + "\n")
                sys.stdout.flush()
            if terminated:
                raise Terminated()
    except BaseException:
        for run in pending:
            ray.cancel(run)
        if pending:
            log.warning("cancelled the %d Ray jobs not finished", len(pending))
            # Cancelling interrupts each job (KeyboardInterrupt); it then stops its node
            # processes and writes result.json. Ending paxos-exp (and a private Ray instance)
            # before that would cut it short.
            ray.wait(pending, num_returns=len(pending), timeout=STOP_SECONDS)
        raise
    finally:
        restore()
    return [results[run] for run in runs]


def _on_sigterm(record: Any) -> Any:
    """SIGTERM calls ``record(signum)`` (in the main thread) until the returned undo runs."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: record(signum))
    return lambda: signal.signal(signal.SIGTERM, previous)


if RayLauncher is not None:

    class PaxosRayLauncher(RayLauncher):  # type: ignore[misc, valid-type]
        """Hydra's Ray launcher: a private local instance or a cluster, resources from the
        jobs, every job's log line on the console."""

        def launch(self, job_overrides: Sequence[Sequence[str]],
                   initial_job_idx: int) -> Sequence[JobReturn]:
            # Read when Ray is imported: every job's line, not one per "similar" group.
            os.environ.setdefault("RAY_DEDUP_LOGS", "0")
            import ray

            assert self.config is not None and self.hydra_context is not None
            assert self.task_function is not None
            setup_globals()
            configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
            sweep_dir = Path(str(self.config.hydra.sweep.dir))
            sweep_dir.mkdir(parents=True, exist_ok=True)
            if not ray.is_initialized():
                options = init_options(OmegaConf.to_container(self.ray_cfg.init, resolve=True))
                where = ("a private local Ray instance" if options["address"] == "local"
                         else f"the Ray cluster at {options['address']}")
                log.info("starting %d jobs on %s", len(job_overrides), where)
                ours = signal.getsignal(signal.SIGTERM)
                ray.init(**options)
                if threading.current_thread() is threading.main_thread() and ours is not None:
                    # ray.init sets its own SIGTERM handler (a silent exit status 15) for the
                    # rest of the process; paxos-exp's says what happened and exits 143.
                    signal.signal(signal.SIGTERM, ours)
            remotes = self._remote_options(job_overrides, largest_node(ray.nodes()))
            runs, names = [], []
            for number, (overrides, remote) in enumerate(zip(job_overrides, remotes),
                                                         start=initial_job_idx):
                log.info("\t#%d : %s", number, " ".join(filter_overrides(overrides)))
                names.append((overrides, job_name(number + 1, overrides)))
                sweep_config = self.hydra_context.config_loader.load_sweep_config(
                    self.config, list(overrides))
                with open_dict(sweep_config):
                    sweep_config.hydra.job.id = f"job_id_for_{number}"
                    sweep_config.hydra.job.num = number
                    # A Ray worker's working directory is the one its node was started in,
                    # not this one: the sweep directory travels as an absolute path (the
                    # same on every machine of a cluster with a shared filesystem).
                    sweep_config.hydra.sweep.dir = str(sweep_dir.resolve())
                runs.append(ray.remote(**remote)(run_job_keeping_lines).remote(
                    self.hydra_context, sweep_config, self.task_function, Singleton.get_state()))
            return _gather(ray, runs, names)

        def _remote_options(self, job_overrides: Sequence[Sequence[str]],
                            machine: Machine | None) -> list[dict[str, Any]]:
            """Each job's ``ray.remote`` options: as set, or num_cpus and memory derived from
            the job; checked against the largest node before any job is sent."""
            base = OmegaConf.to_container(self.ray_cfg.remote, resolve=True) or {}
            sizes = job_sizes(self.config, job_overrides)
            most = machine.cpus if machine is not None and machine.cpus else None
            remotes = []
            for size in sizes:
                remote = {key: value for key, value in base.items() if value is not None}
                remote.setdefault("num_cpus", size.cpus(most))
                remote.setdefault("memory", size.memory)
                remotes.append(remote)
            largest = max(zip(sizes, remotes), key=lambda pair: pair[1]["memory"])
            cpus = max(remote["num_cpus"] for remote in remotes)
            check_fits(machine, cpus, largest[1]["memory"], base.get("num_cpus") is not None,
                       base.get("memory") is not None, largest[0], "hydra.launcher.ray.remote.num_cpus",
                       "hydra.launcher.ray.remote.memory",
                       f"{largest[1]['memory'] / 2**30:.1f} GiB")
            return remotes
