"""paxos-exp on a real SLURM cluster and a real Ray cluster (make test-cluster starts both).

The README's commands run as written; a sweep under each launcher gives the numbers the basic
launcher gives (every job's summary and its tables' checksums); a cancelled SLURM array resumes
to the same numbers; a failing job is failed in paxos-exp's exit, its result.json and sacct; a
killed paxos-exp leaves nothing queued; a request no node can meet fails at once.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from cluster_helpers import (
    array_ids,
    outcome,
    paxos_exp,
    readme_command,
    record_time,
    sacct_states,
    sacct_until,
    squeue,
    start_paxos_exp,
    terminate,
    wait_until,
)
from hydra import compose, initialize_config_dir

from paxos_exp.app import CONFIG_DIR
from paxos_exp.app_config import job_config, job_key

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]

QUICK_JOBS = 20  # conf/experiment/quick.yaml: nodes 3,5 x 5 crash probabilities x rounds 1,3
# A small sweep whose jobs take a few seconds each, for cancelling and resuming.
SLOW_SWEEP = ["-m", "nodes=3", "fail_prob=0.1,0.2,0.3,0.4", "rounds=3", "trials=1500",
              "report=false"]


def _job_lines(output: str, total: int) -> set[int]:
    """The [k/total] job lines a sweep printed (k), each a job that ended."""
    return {int(k) for k in re.findall(rf"\[(\d+)/{total}\] nodes=\S+ fail_prob=\S+ rounds=\S+: ",
                                       output)}


@pytest.fixture(scope="session")
def basic_quick(cluster, tmp_path_factory):
    """experiment=quick under the basic launcher: the numbers every launcher must give."""
    where = tmp_path_factory.mktemp("basic")
    began = time.perf_counter()
    done = paxos_exp(["experiment=quick"], where)
    record_time(cluster, "experiment=quick, basic launcher", time.perf_counter() - began)
    assert done.returncode == 0, done.stderr[-3000:]
    jobs = outcome(where / "outputs" / "sweeps" / "quick")
    assert len(jobs) == QUICK_JOBS and all(status == "ok" for status, _, _ in jobs.values())
    return jobs


@pytest.fixture(scope="session")
def basic_slow(cluster, tmp_path_factory):
    where = tmp_path_factory.mktemp("basic-slow")
    done = paxos_exp([*SLOW_SWEEP, "name=slow"], where)
    assert done.returncode == 0, done.stderr[-3000:]
    return outcome(where / "outputs" / "sweeps" / "slow")


@pytest.mark.parametrize("launcher", ["paxos_submitit_slurm", "paxos_ray"])
def test_the_readme_command_gives_the_basic_launchers_numbers(cluster, basic_quick, tmp_path,
                                                              launcher):
    args = readme_command(launcher, cluster)
    assert "experiment=quick" in args
    began = time.perf_counter()
    done = paxos_exp(args, tmp_path)
    record_time(cluster, f"experiment=quick, {launcher} (README command)",
                time.perf_counter() - began)
    assert done.returncode == 0, done.stderr[-3000:]
    assert outcome(tmp_path / "outputs" / "sweeps" / "quick") == basic_quick
    # Every job's line reached this console, not only the cluster's log files.
    assert _job_lines(done.stdout + done.stderr, QUICK_JOBS) == set(range(1, QUICK_JOBS + 1))
    assert (tmp_path / "outputs" / "sweeps" / "quick" / "report" / "report.md").is_file()


def test_slurm_asks_for_resources_derived_from_the_jobs(cluster, tmp_path):
    done = paxos_exp(["-m", "nodes=3,5", "fail_prob=0.2", "rounds=2", "trials=5", "report=false",
                      "hydra/launcher=paxos_submitit_slurm", "name=res"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    [array] = array_ids(tmp_path / "outputs" / "sweeps" / "res")
    # One row per task of the two jobs (a task's record reaches sacct a moment after it ends).
    rows = sacct_until(array, "JobID,AllocCPUS,ReqMem",
                       lambda rows: sorted(row[0] for row in rows) == [f"{array}_0", f"{array}_1"],
                       "both tasks")
    cpus = int(subprocess.run(["sinfo", "--noheader", "--format=%c"], capture_output=True,
                              text=True, timeout=60, check=True).stdout.split()[0])
    assert len(rows) == 2
    for _, alloc, mem in rows:
        assert int(alloc) == min(5, cpus)  # min(nodes, CPUs) of the largest job
        assert mem == "1G"  # N=5: well under 1 GB with the job process


def test_a_cancelled_slurm_array_resumes_to_the_same_numbers(cluster, basic_slow, tmp_path):
    args = [*SLOW_SWEEP, "name=slow", "hydra/launcher=paxos_submitit_slurm",
            "hydra.launcher.array_parallelism=1"]
    sweep = tmp_path / "outputs" / "sweeps" / "slow"
    first = start_paxos_exp(args, tmp_path, tmp_path / "first.log")
    try:
        wait_until(lambda: any('"status": "ok"' in path.read_text()
                               for path in sweep.glob("*/result.json")), 300, "a first job")
        [array] = array_ids(sweep)
        subprocess.run(["scancel", array], check=True, timeout=60)
        code = first.wait(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    log = (tmp_path / "first.log").read_text()
    assert code != 0, log[-3000:]
    last = log.strip().splitlines()[-1]
    assert last.startswith("paxos-exp: error:") and "ended without a result" in last, last
    sacct_states(array, lambda states: "CANCELLED" in " ".join(states.values()), "a cancelled task")
    again = paxos_exp(args, tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "already done" in again.stdout + again.stderr
    assert outcome(sweep) == basic_slow


def test_a_killed_paxos_exp_leaves_no_job_queued(cluster, tmp_path):
    args = [*SLOW_SWEEP, "name=killed", "hydra/launcher=paxos_submitit_slurm",
            "hydra.launcher.array_parallelism=1"]
    sweep = tmp_path / "outputs" / "sweeps" / "killed"
    process = start_paxos_exp(args, tmp_path, tmp_path / "killed.log")
    try:
        wait_until(lambda: array_ids(sweep) and squeue(), 120, "the array in the queue")
        [array] = array_ids(sweep)
        code = terminate(process, signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
    assert code == 143
    log = (tmp_path / "killed.log").read_text()
    assert "cancelled 4 unfinished jobs (scancel" in log
    last = log.strip().splitlines()[-1]
    assert last.startswith("paxos-exp: stopped by SIGTERM; ") and (
        "kept in outputs/sweeps/killed; rerun the same command to resume" in last), last
    wait_until(lambda: not [line for line in squeue() if line.startswith(array)], 60,
               "the array leaving the queue")
    sacct_states(array, lambda states: states and all(state.startswith("CANCELLED")
                                                      for state in states.values()),
                 "every task cancelled")


def _doomed(tmp_path: Path, sweep: str, overrides: list[str]) -> Path:
    """Make the job of ``overrides`` fail for real: directories squat on its tables' paths,
    so writing its results fails after the run (an I/O error, as on a full disk)."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    doomed = tmp_path / "outputs" / "sweeps" / sweep / job_key(job_config(cfg))
    for name in ("rounds.csv", "rounds.parquet", "trials.csv", "trials.parquet"):
        (doomed / name).mkdir(parents=True)
    return doomed


@pytest.mark.parametrize("launcher", ["paxos_submitit_slurm", "paxos_ray"])
def test_a_failing_job_is_reported_failed(cluster, tmp_path, launcher):
    doomed = _doomed(tmp_path, "fail", ["nodes=3", "fail_prob=0.2", "trials=3", "rounds=2"])
    done = paxos_exp(["-m", "nodes=3", "fail_prob=0.1,0.2", "trials=3", "rounds=2", "name=fail",
                      "report=false", f"hydra/launcher={launcher}"], tmp_path)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("paxos-exp: error: job 2 (nodes=3 fail_prob=0.2 ") and (
        "Is a directory" in last), last
    # Named as under the basic launcher: its number and overrides, and where its files are.
    assert f"its result.json and log are in {doomed.resolve()}" in last, last
    assert re.search(r"Error executing job with overrides: \[.*'fail_prob=0.2'", done.stderr)
    results = {path.parent.name: json.loads(path.read_text())
               for path in (tmp_path / "outputs" / "sweeps" / "fail").glob("*/result.json")}
    assert results[doomed.name]["status"] == "failed"
    assert [r["status"] for name, r in results.items() if name != doomed.name] == ["ok"]
    if launcher == "paxos_submitit_slurm":
        assert "; slurm job " in last  # and its SLURM job id
        [array] = array_ids(tmp_path / "outputs" / "sweeps" / "fail")
        sacct_states(array, lambda states: sorted(states.values()) == ["COMPLETED", "FAILED"],
                     "one task COMPLETED and one FAILED")


@pytest.mark.parametrize("args, says", [
    (["hydra/launcher=paxos_submitit_slurm", "hydra.launcher.cpus_per_task=64"],
     "hydra.launcher.cpus_per_task=64, but the largest node of SLURM partition"),
    (["hydra/launcher=paxos_submitit_slurm", "hydra.launcher.mem_gb=100000"],
     "hydra.launcher.mem_gb=100000, but the largest node of SLURM partition"),
    (["hydra/launcher=paxos_submitit_slurm", "hydra.launcher.partition=nope"],
     "hydra.launcher.partition=nope: sinfo lists no such partition"),
    (["hydra/launcher=paxos_ray", "hydra.launcher.ray.init.address=auto",
      "hydra.launcher.ray.remote.num_cpus=64"],
     "hydra.launcher.ray.remote.num_cpus=64, but the largest node of the Ray cluster"),
])
def test_what_no_node_can_give_fails_at_once_in_one_line(cluster, tmp_path, args, says):
    before = set(squeue())
    done = paxos_exp(["-m", "nodes=3", "fail_prob=0.1", "trials=3", "rounds=2", "name=big",
                      "report=false", *args], tmp_path, timeout=180)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("paxos-exp: error: ") and says in last and "no job was submitted" in last
    assert set(squeue()) <= before
    assert not list((tmp_path / "outputs" / "sweeps" / "big").glob("*/result.json"))


def test_the_local_ray_preset_runs_beside_a_running_cluster(cluster, tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    done = paxos_exp(["-m", "nodes=3", "fail_prob=0,0.3", "trials=5", "rounds=2", "name=local",
                      "report=false", "hydra/launcher=paxos_ray"], tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "a private local Ray instance" in done.stdout + done.stderr
    assert _job_lines(done.stdout + done.stderr, 2) == {1, 2}
