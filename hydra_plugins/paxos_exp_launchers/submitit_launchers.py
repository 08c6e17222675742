"""Hydra plug-in: Hydra's submitit launchers (SLURM, and local to try it) with what paxos-exp
needs from them. The presets ``conf/hydra/launcher/paxos_submitit_slurm.yaml`` and
``paxos_submitit_local.yaml`` point ``_target_`` here.

- **Resources from the jobs.** ``cpus_per_task`` and ``mem_gb`` left null are derived from the
  batch's largest job (``min(nodes, CPUs per node)`` and limits' memory estimate), and what is
  asked for is checked against the partition's largest node (``sinfo``) before anything is
  submitted: a job that can never run fails the sweep at once with one line, instead of
  pending forever.
- **Progress on the console.** Each job's log lines (its ``[k/n] ...`` line among them), which
  SLURM writes to ``.submitit/`` files, are copied to this console as they appear.
- **A failed job is failed everywhere.** The job process exits non-zero when its task failed
  (so ``sacct`` says FAILED, not COMPLETED); here it becomes a failed job of the sweep with its
  one-line reason, and the other jobs' results are kept, as under the basic launcher. A job
  that ended without a result (``scancel``, a node lost) is a failed job saying so.
- **Nothing left queued.** Ctrl-C or SIGTERM while waiting cancels every job of the array
  that has not finished (``scancel``; under submitit_local, SIGTERM to each job, waited for, so
  each unwinds and records ``interrupted``), then stops.
- **A refusing sbatch** (a limit, a bad option) is one line quoting SLURM's reason, and the
  batch script and pickles submitit wrote for the array are removed.
"""

import contextlib
import io
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf

from hydra_plugins.paxos_exp_launchers._resources import (
    ClusterCannotRun,
    check_fits,
    gigabytes,
    job_sizes,
    slurm_largest,
)
from paxos_exp.app_config import JobFailed, job_name
from paxos_exp.host import sigterm_raises, usable_cpus

log = logging.getLogger("paxos_exp")

_POLL_SECONDS = 1.0  # how often the jobs' state and logs are looked at while waiting
# How long cancelled submitit_local jobs get to unwind (stop their node processes, write
# result.json) before submitit kills them: a job's own clean-up takes a few seconds at most.
_LOCAL_STOP_SECONDS = 60.0
# submitit's own log lines in a job's log (its handler's, and through Hydra's): not copied
_SUBMITIT_CHATTER = "][submitit]["


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


try:
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import (
        LocalLauncher,
        SlurmLauncher,
    )
except ImportError:  # the submitit extra is not installed: its presets say so when chosen
    LocalLauncher = SlurmLauncher = None  # type: ignore[assignment, misc]


class _LogCopier:
    """Copies the lines the jobs write to their stdout (Hydra's job log) to this console."""

    def __init__(self, jobs: Sequence[Any]) -> None:
        self.jobs = jobs
        self.offsets: dict[int, int] = {}

    def copy(self, final: bool = False) -> None:
        for number, job in enumerate(self.jobs):
            try:
                path = Path(job.paths.stdout)
                with open(path, "rb") as handle:
                    handle.seek(self.offsets.get(number, 0))
                    data = handle.read()
            except OSError:
                continue
            end = len(data) if final else data.rfind(b"\n") + 1  # whole lines only
            if end <= 0:
                continue
            self.offsets[number] = self.offsets.get(number, 0) + end
            for line in data[:end].decode("utf-8", "replace").splitlines():
                if _SUBMITIT_CHATTER not in line and not line.startswith("submitit "):
                    sys.stdout.write(line + "\n")
        sys.stdout.flush()


if SlurmLauncher is not None:

    class _PaxosSubmitit:
        """What the paxos presets add to Hydra's submitit launchers (mixed in first)."""

        _EXECUTOR: str
        params: dict[str, Any]
        config: Any

        # -- in the job -------------------------------------------------------------------
        def __call__(self, *args: Any, **kwargs: Any) -> JobReturn:
            result = super().__call__(*args, **kwargs)  # type: ignore[misc]
            if result.status == JobStatus.FAILED:
                # Exit non-zero (submitit records the reason), so the scheduler sees it failed.
                # paxos-exp's job already said it all in one line (JobFailed); anything else
                # failed outside it and is named here.
                failure = result._return_value
                if isinstance(failure, JobFailed):
                    raise JobFailed(str(failure))
                raise JobFailed(_reason(failure))
            return result

        # -- in paxos-exp -----------------------------------------------------------------
        def _largest(self) -> Any:
            return None

        def _resources(self, job_overrides: Sequence[Sequence[str]]) -> dict[str, Any]:
            """The batch's cpus_per_task and mem_gb: as set, or derived from its largest job;
            checked against the largest machine before anything is submitted."""
            sizes = job_sizes(self.config, job_overrides)
            machine = self._largest()
            most = machine.cpus if machine is not None else usable_cpus()
            cpus = self.params.get("cpus_per_task")
            explicit_cpus = cpus is not None
            if cpus is None:
                cpus = max(size.cpus(most) for size in sizes)
            largest = max(sizes, key=lambda size: size.memory)
            mem_gb = self.params.get("mem_gb")
            explicit_memory = mem_gb is not None
            if mem_gb is None:
                mem_gb = gigabytes(largest.memory)
            check_fits(machine, cpus, mem_gb << 30, explicit_cpus, explicit_memory, largest,
                       "hydra.launcher.cpus_per_task", "hydra.launcher.mem_gb", f"{mem_gb} GB")
            return {"cpus_per_task": cpus, "mem_gb": mem_gb}

        def launch(self, job_overrides: Sequence[Sequence[str]],
                   initial_job_idx: int) -> Sequence[JobReturn]:
            import submitit

            assert self.config is not None and job_overrides
            params = dict(self.params)
            params.update(self._resources(job_overrides))
            # submitit's executor: its folder and retry count at creation, the rest as
            # parameters (the executor-specific ones prefixed with its name).
            executor = submitit.AutoExecutor(
                cluster=self._EXECUTOR, folder=params.pop("submitit_folder"),
                **{f"{self._EXECUTOR}_max_num_timeout": params.pop("max_num_timeout")}
                if "max_num_timeout" in params else {},
            )
            shared = set(OmegaConf.structured(BaseQueueConf).keys())
            executor.update_parameters(**{
                key if key in shared else f"{self._EXECUTOR}_{key}": value
                for key, value in params.items()
            })
            sweep_dir = Path(str(self.config.hydra.sweep.dir))
            sweep_dir.mkdir(parents=True, exist_ok=True)
            if "mode" in self.config.hydra.sweep:
                os.chmod(sweep_dir, mode=int(str(self.config.hydra.sweep.mode), 8))
            numbers = range(initial_job_idx, initial_job_idx + len(job_overrides))
            state = Singleton.get_state()
            arguments = [(list(overrides), "hydra.sweep.dir", number, f"job_id_for_{number}", state)
                         for number, overrides in zip(numbers, job_overrides)]
            jobs = self._submit(executor, arguments)
            log.info("submitted %d jobs (%s, %d CPUs and %d GB each) as %s; their logs: %s",
                     len(jobs), self._EXECUTOR, params["cpus_per_task"], params["mem_gb"],
                     _array_id(jobs), Path(str(self.params["submitit_folder"])).parent)
            self._wait(jobs)
            return [self._outcome(job, overrides, number)
                    for job, overrides, number in zip(jobs, job_overrides, numbers)]

        def _submit(self, executor: Any, arguments: Sequence[tuple[Any, ...]]) -> list[Any]:
            """Submit the array; if sbatch refuses it (a limit, a bad option), one line quoting
            SLURM's reason, and none of the files submitit wrote for it is left behind."""
            from submitit.core.utils import JobPaths

            staging = JobPaths.get_first_id_independent_folder(executor.folder)
            before = set(staging.iterdir()) if staging.is_dir() else None
            said = io.StringIO()  # submitit prints sbatch's refusal as well as raising it
            try:
                with contextlib.redirect_stderr(said):
                    jobs = executor.map_array(self, *zip(*arguments))
            except Exception as error:  # noqa: BLE001 - sbatch refused the array
                _remove_new(staging, before)
                raise ClusterCannotRun(
                    f"the {self._EXECUTOR} jobs could not be submitted: {_refusal(str(error))}"
                    f"; no job was submitted"
                ) from None
            sys.stderr.write(said.getvalue())  # nothing is hidden when the array went in
            return list(jobs)

        def _wait(self, jobs: Sequence[Any]) -> None:
            """Wait for every job, copying their log lines here; on Ctrl-C or SIGTERM,
            cancel the ones not finished and stop."""
            import threading

            copier = _LogCopier(jobs)
            restore = sigterm_raises()
            tick = threading.Event()  # never set: its wait() is the poll interval
            try:
                while not all(job.done() for job in jobs):
                    copier.copy()
                    tick.wait(_POLL_SECONDS)
            except BaseException:
                self._cancel([job for job in jobs if not _finished(job)])
                raise
            finally:
                restore()
                copier.copy(final=True)

        def _cancel(self, jobs: Sequence[Any]) -> None:
            if not jobs:
                return
            ids = [job.job_id for job in jobs]
            if self._EXECUTOR == "slurm":
                subprocess.run(["scancel", *ids], check=False, timeout=60,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            else:
                _stop_local(jobs)
            log.warning("cancelled %d unfinished jobs (%s: %s)", len(ids),
                        "scancel" if self._EXECUTOR == "slurm" else "local",
                        _array_id(jobs))

        def _outcome(self, job: Any, overrides: Sequence[str], number: int) -> JobReturn:
            """The job's JobReturn; a failed or vanished job becomes a failed JobReturn whose
            error names the job and says why in one line."""
            from submitit.core.utils import FailedJobError, UncompletedJobError

            plain = job_name(number + 1, overrides)
            name = job_name(number + 1, overrides,
                            f"{self._EXECUTOR} job {job.job_id}")
            try:
                return job.results()[0]
            except FailedJobError as error:
                found = re.findall(r"JobFailed: (.*)", str(error))
                reason = found[-1] if found else _last_line(str(error))
                if reason.startswith(f"{plain} failed: "):
                    # The job's own line (why, where its result.json is), with its cluster id.
                    failure = JobFailed(name + reason[len(plain):])
                else:  # it failed outside paxos-exp's job (Hydra, the launcher in the job)
                    failure = JobFailed(f"{name} failed: {reason}; its log: {job.paths.stderr}")
            except UncompletedJobError:
                failure = JobFailed(
                    f"{name} ended without a result (state {job.state}); its log: "
                    f"{job.paths.stderr}"
                )
            return JobReturn(overrides=list(overrides), status=JobStatus.FAILED,
                             _return_value=failure)

    def _stop_local(jobs: Sequence[Any]) -> None:
        """Stop submitit_local's jobs as scancel does a SLURM job's: SIGTERM to each job's
        submitit process, which passes it on to the job (submitit's own cancel sends SIGINT and
        kills the job a second later, before a job with node processes has cleaned up), then
        wait for them until a deadline; what is left then is cancelled submitit's way."""
        processes = [getattr(job, "_process", None) for job in jobs]
        for process in processes:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + _LOCAL_STOP_SECONDS
        for job, process in zip(jobs, processes):
            try:
                if process is not None:
                    process.wait(timeout=max(0.0, deadline - time.monotonic()))
                    continue
            except subprocess.TimeoutExpired:
                pass
            job.cancel(check=False)

    def _remove_new(folder: Path, before: set[Path] | None) -> None:
        """Remove what appeared in ``folder`` since ``before`` (its entries then; None: it did
        not exist, and goes too if nothing else is left in it)."""
        try:
            for path in set(folder.iterdir()) - (before or set()):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
            if before is None:
                folder.rmdir()
        except OSError:
            pass  # best effort: the refusal is what the user must see

    def _finished(job: Any) -> bool:
        try:
            return bool(job.done())
        except Exception:  # noqa: BLE001 - cannot tell: cancel it to be sure
            return False

    def _array_id(jobs: Sequence[Any]) -> str:
        ids = sorted({str(job.job_id).split("_")[0] for job in jobs})
        return ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")

    def _last_line(text: str) -> str:
        lines = [line.strip() for line in text.splitlines() if line.strip()
                 and not line.startswith(("-", "You can check", "  - ", "or at paths"))]
        return lines[-1] if lines else text.strip()

    def _refusal(text: str) -> str:
        """What sbatch said when it refused (its ``error:`` lines), or the message's last line."""
        said = [line.split("error:", 1)[1].strip() for line in text.splitlines() if "error:" in line]
        return "; ".join(dict.fromkeys(said)) if said else _last_line(text)

    class PaxosSlurmLauncher(_PaxosSubmitit, SlurmLauncher):  # type: ignore[misc, valid-type]
        """Hydra's SLURM launcher with resources from the jobs, progress, failures, cancel."""

        def _largest(self) -> Any:
            return slurm_largest(self.params.get("partition"))

    class PaxosLocalLauncher(_PaxosSubmitit, LocalLauncher):  # type: ignore[misc, valid-type]
        """Hydra's submitit_local launcher, as the SLURM one but on this machine."""
