"""The cluster launchers' own logic, without a cluster (tests/cluster runs them on real ones):
resources derived from the jobs, the check against the largest node, Ray's init options."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from hydra_plugins.paxos_exp_launchers._resources import (
    ClusterCannotRun,
    JobSize,
    Machine,
    check_fits,
    gigabytes,
    job_sizes,
)
from paxos_exp.core.errors import StopSweep
from paxos_exp.runtime.limits import needs

BASE = OmegaConf.create({"nodes": 5, "rounds": 3, "engine": "processes"})


def test_each_jobs_size_comes_from_its_overrides_or_the_sweep():
    sizes = job_sizes(BASE, [["nodes=9", "fail_prob=0.1"], ["rounds=1"], ["engine=inprocess", "nodes=200"]])
    assert sizes == [JobSize(9, 3, "processes"), JobSize(5, 1, "processes"),
                     JobSize(200, 3, "inprocess")]


def test_cpus_are_one_per_node_up_to_a_machine_and_one_in_process():
    assert JobSize(3, 3, "processes").cpus(64) == 3
    assert JobSize(9, 3, "processes").cpus(2) == 2
    assert JobSize(9, 3, "processes").cpus(None) == 9
    assert JobSize(500, 3, "inprocess").cpus(64) == 1


def test_memory_is_the_limits_estimate_plus_the_job_process_in_whole_gb():
    size = JobSize(1000, 1000, "processes")
    assert size.memory > needs(1000, 1000).memory
    assert gigabytes(JobSize(5, 3, "processes").memory) == 1
    assert gigabytes(size.memory) == -(-size.memory // 2**30)
    assert JobSize(1000, 3, "inprocess").memory < JobSize(1000, 3, "processes").memory


@pytest.mark.parametrize("cpus, memory, explicit, says", [
    (4, 1 << 30, True, "hydra.launcher.cpus_per_task=4, but the largest node of SLURM partition p has 2"),
    (2, 64 << 30, True, "hydra.launcher.mem_gb=64, but the largest node of SLURM partition p has 8.0 GiB"),
    (2, 64 << 30, False, "the largest job (nodes=9 rounds=3) needs about 64 GB of memory"),
])
def test_what_the_largest_node_cannot_give_is_one_line_and_stops_the_sweep(cpus, memory, explicit, says):
    machine = Machine("SLURM partition p", 2, 8 << 30)
    with pytest.raises(ClusterCannotRun) as caught:
        check_fits(machine, cpus, memory, explicit, explicit, JobSize(9, 3, "processes"),
                   "hydra.launcher.cpus_per_task", "hydra.launcher.mem_gb", f"{memory >> 30} GB")
    text = str(caught.value)
    assert says in text and "no job was submitted" in text and "\n" not in text
    assert isinstance(caught.value, StopSweep)  # paxos-exp prints it in one line, exit 1


def test_what_fits_passes_and_an_unknown_cluster_is_not_checked():
    check_fits(Machine("x", 2, 8 << 30), 2, 8 << 30, False, False, JobSize(3, 3, "processes"),
               "c", "m", "8 GB")
    check_fits(None, 999, 1 << 50, True, True, JobSize(3, 3, "processes"), "c", "m", "huge")


ray_launcher = pytest.importorskip("hydra_plugins.paxos_exp_launchers.ray_launcher")


def test_ray_without_an_address_starts_a_private_instance():
    options = ray_launcher.init_options({"address": None, "num_cpus": None}, environ={})
    assert options["address"] == "local" and options["num_cpus"] >= 1
    assert options["object_store_memory"] > 0


@pytest.mark.parametrize("init, environ", [
    ({"address": "auto", "num_cpus": 4, "object_store_memory": 1 << 30}, {}),
    ({"address": None, "num_cpus": 4}, {"RAY_ADDRESS": "10.0.0.1:6379"}),
])
def test_ray_connecting_drops_what_only_a_new_instance_takes(init, environ):
    options = ray_launcher.init_options(init, environ=environ)
    assert options["address"] in ("auto", "10.0.0.1:6379")
    assert not {"num_cpus", "object_store_memory"} & set(options)


def test_the_largest_ray_node_counts_alive_nodes_only():
    nodes = [{"Alive": True, "Resources": {"CPU": 2.0, "memory": 4e9}},
             {"Alive": False, "Resources": {"CPU": 64.0, "memory": 1e12}},
             {"Alive": True, "Resources": {"CPU": 8.0, "memory": 2e9}}]
    machine = ray_launcher.largest_node(nodes)
    assert (machine.cpus, machine.memory) == (8, 4_000_000_000)


def test_a_ray_job_whose_worker_died_is_one_failed_job_and_the_others_go_on():
    """Ray raises out of ray.get when a worker dies; the sweep gets a failed job naming it
    (as under SLURM), the finished jobs' results, and nothing cancelled."""
    from types import SimpleNamespace

    ray_exceptions = pytest.importorskip("ray.exceptions")
    from hydra.core.utils import JobReturn, JobStatus

    from hydra_plugins.paxos_exp_launchers.ray_launcher import _gather

    finished = JobReturn(overrides=["nodes=3"], status=JobStatus.COMPLETED, _return_value=0.5)
    outcomes = {"a": (finished, ["[1/2] nodes=3: done"]),
                "b": ray_exceptions.WorkerCrashedError()}
    cancelled = []

    def get(run):
        outcome = outcomes[run]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    fake_ray = SimpleNamespace(
        wait=lambda pending, num_returns, timeout: (pending[:1], pending[1:]),
        get=get, cancel=cancelled.append, exceptions=ray_exceptions)
    results = _gather(fake_ray, ["a", "b"], [(["nodes=3"], "job 1 (nodes=3)"),
                                             (["nodes=5"], "job 2 (nodes=5)")])
    assert results[0] is finished and not cancelled
    assert results[1].status is JobStatus.FAILED and results[1].overrides == ["nodes=5"]
    with pytest.raises(Exception, match=r"job 2 \(nodes=5\) ended without a result "
                                        r"\(WorkerCrashedError"):
        _ = results[1].return_value


def _fake_slurm(bin_dir, calls, sbatch_says: str) -> None:
    """SLURM's commands as small shell scripts that log their calls: a partition whose largest
    node has 4 CPUs and 8000 MB, and an sbatch that refuses every job with ``sbatch_says``."""
    bodies = {
        "sinfo": 'echo "debug* 4 8000"',
        "srun": "exit 1",  # submitit only checks that there is one
        "sbatch": f'echo "{sbatch_says}" >&2; exit 1',
        "squeue": "exit 1", "sacct": "exit 1", "scancel": "exit 1",
    }
    bin_dir.mkdir()
    for name, body in bodies.items():
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\necho "{name} $*" >> "{calls}"\n{body}\n')
        script.chmod(0o755)


def test_an_array_sbatch_refuses_is_one_line_quoting_slurm_and_leaves_nothing(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    import os
    import subprocess
    import sys

    refusal = ("Batch job submission failed: Job violates accounting/QOS policy (job submit "
               "limit, user's size and/or time limits)")
    calls = tmp_path / "calls.txt"
    _fake_slurm(tmp_path / "bin", calls, f"sbatch: error: {refusal}")
    done = subprocess.run(
        [sys.executable, "-m", "paxos_exp.app", "-m", "nodes=3", "fail_prob=0.1,0.2",
         "trials=3", "rounds=2", "name=refused", "report=false",
         "hydra/launcher=paxos_submitit_slurm"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"},
    )
    assert done.returncode == 1, done.stderr
    said = [line for line in done.stderr.splitlines() if not line.startswith("[")]
    assert said == [f"paxos-exp: error: the slurm jobs could not be submitted: {refusal}; no job "
                    "was submitted"], done.stderr
    called = [line.split()[0] for line in calls.read_text().splitlines()]
    assert called.count("sbatch") == 1 and "sinfo" in called
    assert not {"squeue", "sacct", "scancel"} & set(called)  # nothing to follow or cancel
    sweep = tmp_path / "outputs" / "sweeps" / "refused"
    assert not list(sweep.glob("*/result.json"))
    assert not (sweep / ".submitit").exists()  # submitit's batch script and pickles are gone


def test_joblib_runs_as_many_jobs_as_the_cpus_this_process_may_use(tmp_path):
    """n_jobs is derived, not fixed: under an affinity of one CPU, joblib runs one job at a
    time (a fixed n_jobs: 2 would run two on the one CPU)."""
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    import os
    import subprocess
    import sys

    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two CPUs to tell a derived n_jobs from a fixed one")
    script = (
        "import os, joblib\n"
        "from hydra import compose, initialize_config_dir\n"
        "from paxos_exp.app import CONFIG_DIR\n"
        "os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
        "with initialize_config_dir(config_dir=CONFIG_DIR, version_base='1.3'):\n"
        "    cfg = compose(config_name='config', overrides=['hydra/launcher=paxos_joblib'],\n"
        "                  return_hydra_config=True)\n"
        "print(joblib.effective_n_jobs(cfg.hydra.launcher.n_jobs))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1"]


def test_sigterm_while_ray_waits_stops_the_sweep_as_sigterm_and_waits_for_the_cancelled():
    """Ray's blocking calls turn a SystemExit raised by a signal handler into SystemExit(1):
    the launcher notes SIGTERM and raises Terminated itself after the bounded wait, cancels the
    jobs not finished and waits for them to unwind."""
    import os
    import signal
    from types import SimpleNamespace

    ray_exceptions = pytest.importorskip("ray.exceptions")
    from paxos_exp.host import Terminated

    calls = []

    def wait(pending, num_returns, timeout):
        calls.append(("wait", list(pending), num_returns))
        if len(calls) == 1:
            try:  # SIGTERM while Ray waits, delivered as Ray's C code checks for signals
                os.kill(os.getpid(), signal.SIGTERM)
                for _ in range(1000):
                    pass
            except SystemExit:
                raise SystemExit(1) from None  # what ray.wait makes of it
        return [], list(pending)

    fake_ray = SimpleNamespace(wait=wait, get=None, exceptions=ray_exceptions,
                               cancel=lambda run: calls.append(("cancel", run)))
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated):
        ray_launcher._gather(fake_ray, ["a", "b"], [(["nodes=3"], "job 1 (nodes=3)"),
                                                    (["nodes=5"], "job 2 (nodes=5)")])
    assert signal.getsignal(signal.SIGTERM) is before
    assert calls[1:] == [("cancel", "a"), ("cancel", "b"), ("wait", ["a", "b"], 2)]
