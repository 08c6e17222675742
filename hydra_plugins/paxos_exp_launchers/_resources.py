"""What a batch of paxos-exp jobs asks a cluster for, derived from the jobs themselves.

A job runs ``nodes`` node processes (engine=processes) on one machine: it wants about
``min(nodes, CPUs of the machine)`` CPUs, and the memory that ``paxos_exp.runtime.limits``
estimates for a run of its size plus the job process itself. The cluster launchers ask for
that when the preset leaves the value unset (null), check what they ask for against the
largest machine the cluster has before submitting anything, and fail at once with one line
when it cannot be given (a job that can never be scheduled would otherwise pend forever).

(A module whose name starts with ``_``: Hydra's plug-in scan skips it.)
"""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from paxos_exp.core.errors import StopSweep

# The job process itself (Python, Hydra, pandas, pyarrow, the launcher's own client), on top
# of what the run needs (limits.needs: the supervisor and its node processes); rounded up.
JOB_PROCESS_BYTES = 512 << 20
_SIZE_KEYS = ("nodes", "rounds", "engine")


class ClusterCannotRun(StopSweep):
    """The cluster cannot give a job what it asks for: nothing was submitted."""


@dataclass(frozen=True)
class JobSize:
    """What one job of a sweep runs: its node count, rounds and engine."""

    nodes: int
    rounds: int
    engine: str

    @property
    def memory(self) -> int:
        """Bytes the job needs: its run (limits' estimate) and the job process."""
        from paxos_exp.runtime import limits

        if self.engine == "inprocess":
            run = limits.SUPERVISOR_BYTES + limits.INPROCESS_NODE_BYTES * self.nodes
        else:
            run = limits.needs(self.nodes, self.rounds).memory
        return run + JOB_PROCESS_BYTES

    def cpus(self, most: int | None) -> int:
        """CPUs to ask for: one per node process, at most ``most`` (a machine's CPUs)."""
        wanted = 1 if self.engine == "inprocess" else max(1, self.nodes)
        return wanted if most is None else max(1, min(wanted, most))

    def describe(self) -> str:
        return f"nodes={self.nodes} rounds={self.rounds}" + (
            " engine=inprocess" if self.engine == "inprocess" else "")


def job_sizes(config: Any, job_overrides: Sequence[Sequence[str]]) -> list[JobSize]:
    """Each job's size: its own ``nodes=``, ``rounds=`` and ``engine=`` overrides, else the
    sweep's values (a preset's, or the defaults)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    base = {key: config.get(key) for key in _SIZE_KEYS}
    sizes = []
    for overrides in job_overrides:
        values = dict(base)
        wanted = [text for text in overrides if text.split("=", 1)[0].lstrip("+~") in _SIZE_KEYS]
        for override in parser.parse_overrides(wanted):
            if not override.is_delete():
                values[override.key_or_group] = override.value()
        sizes.append(JobSize(int(values["nodes"]), int(values["rounds"]), str(values["engine"])))
    return sizes


def gigabytes(size: int) -> int:
    """Whole GB (as submitit's mem_gb counts them: GiB) covering ``size`` bytes, at least 1."""
    return max(1, math.ceil(size / 2**30))


@dataclass(frozen=True)
class Machine:
    """The largest machine a cluster (or a partition of it) offers."""

    where: str  # "SLURM partition debug", "the Ray cluster"
    cpus: int
    memory: int  # bytes


def slurm_largest(partition: str | None) -> Machine | None:
    """The largest node of ``partition`` (the default one if None), from ``sinfo``; None when
    sinfo is not there or does not answer (then nothing is checked before sbatch)."""
    if shutil.which("sinfo") is None:
        return None
    command = ["sinfo", "--noheader", "--Node", "--format=%P %c %m"]
    if partition:
        command.append(f"--partition={partition}")
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    rows = []
    for line in out.splitlines():
        try:
            name, cpus, memory = line.split()
            rows.append((name, int(cpus.rstrip("+")), int(memory.rstrip("+")) << 20))
        except ValueError:
            continue
    if not partition:
        default = [row for row in rows if row[0].endswith("*")]
        rows = default or rows
    if not rows:
        if partition:
            raise ClusterCannotRun(
                f"hydra.launcher.partition={partition}: sinfo lists no such partition (sinfo "
                "--summarize lists them): no job was submitted"
            )
        return None
    name = partition or rows[0][0].rstrip("*")
    return Machine(f"SLURM partition {name}", max(row[1] for row in rows),
                   max(row[2] for row in rows))


def check_fits(machine: Machine | None, cpus: int, memory: int, explicit_cpus: bool,
               explicit_memory: bool, largest_job: JobSize, cpus_key: str, memory_key: str,
               memory_text: str) -> None:
    """Raise ClusterCannotRun, in one line saying what to change, if ``machine`` cannot give a
    job ``cpus`` CPUs and ``memory`` bytes."""
    if machine is None:
        return
    if cpus > machine.cpus:
        how = (f"{cpus_key}={cpus}" if explicit_cpus else
               f"the largest job ({largest_job.describe()}) asks for {cpus} CPUs")
        raise ClusterCannotRun(
            f"{how}, but the largest node of {machine.where} has {machine.cpus}: no job was "
            f"submitted; ask for at most {machine.cpus} ({cpus_key}={machine.cpus}, or leave it "
            "unset: paxos-exp then asks for min(nodes, CPUs per node))"
        )
    if memory > machine.memory:
        how = (f"{memory_key}={memory_text.split()[0]}" if explicit_memory else
               f"the largest job ({largest_job.describe()}) needs about {memory_text} of memory "
               f"({memory_key})")
        raise ClusterCannotRun(
            f"{how}, but the largest node of {machine.where} has "
            f"{machine.memory / 2**30:.1f} GiB: no job was submitted; run fewer nodes per job, "
            f"or use a partition with larger nodes"
        )

