"""Real sweeps in subprocesses: result files, resume, failing jobs, launchers."""

from __future__ import annotations

import importlib.util
import json

import pyarrow.parquet as pq
import pytest

from hydra import compose, initialize_config_dir

from app_helpers import job_results
from paxos_exp.app import CONFIG_DIR
from paxos_exp.app_config import job_config, job_key

pytestmark = pytest.mark.timeout(600)


def _mtimes(directory):
    return {path.name: path.stat().st_mtime_ns for path in directory.iterdir() if path.is_file()}


def test_sweep_writes_one_ok_result_per_job_and_resumes(paxos_exp, tmp_path):
    args = ["-m", "nodes=2,3", "fail_prob=0,0.3", "rounds=2", "trials=10", "name=t"]
    done = paxos_exp(args, tmp_path)
    assert done.returncode == 0, done.stderr
    sweep = tmp_path / "outputs" / "sweeps" / "t"
    results = job_results(sweep)
    assert len(results) == 4
    seen = set()
    for job_dir, result in results.items():
        assert result["status"] == "ok" and result["error"] is None
        assert result["job_key"] == job_dir
        config = result["config"]
        seen.add((config["nodes"], config["fail_prob"]))
        assert (config["rounds"], config["trials"], config["engine"]) == (2, 10, "processes")
        assert config["runtime"]["start_method"] == "fork"
        summary = result["summary"]
        assert summary["trials"] == 10 and summary["safety"]["agreement_ok"]
        if config["fail_prob"] == 0:
            assert summary["decision_rate"] == 1.0
            assert summary["round_decision_rate"] == 1.0
        assert set(result["versions"]) >= {"python", "pyzmq", "hydra-core", "omegaconf", "paxos-exp"}
        assert pq.read_metadata(sweep / job_dir / "rounds.parquet").num_rows == 10 * 2
        assert pq.read_metadata(sweep / job_dir / "trials.parquet").num_rows == 10
        assert not (sweep / job_dir / "trials.csv").exists()  # tables=csv|both asks for CSV
    assert seen == {(2, 0.0), (2, 0.3), (3, 0.0), (3, 0.3)}
    manifest = json.loads((sweep / "sweep.json").read_text())
    assert manifest["total_jobs"] == 4
    assert "[4/4]" in done.stderr + done.stdout

    # Resume: nothing is redone, and files of finished jobs are untouched.
    before = {job: _mtimes(sweep / job) for job in results}
    again = paxos_exp(args, tmp_path)
    assert again.returncode == 0, again.stderr
    for job in results:
        after = _mtimes(sweep / job)
        for name in ("result.json", "rounds.parquet", "trials.parquet"):
            assert after[name] == before[job][name], f"{job}/{name} was rewritten"
    assert (again.stderr + again.stdout).count("already done") == 4

    # A deleted job is redone, and only that one.
    victim = sorted(results)[0]
    for path in (sweep / victim).rglob("*"):
        if path.is_file():
            path.unlink()
    # The two runs above built the report (and left the jobs' files alone); from here on
    # what is pinned is the jobs, so the report (about 2.5 CPU seconds a run) is skipped.
    third = paxos_exp([*args, "report=false"], tmp_path)
    assert third.returncode == 0, third.stderr
    assert job_results(sweep)[victim]["status"] == "ok"
    assert (third.stderr + third.stdout).count("already done") == 3

    # Widening the grid runs only the new points.
    wider = paxos_exp(["-m", "nodes=2,3,4", "fail_prob=0,0.3", "rounds=2", "trials=10", "name=t",
                       "report=false"], tmp_path)
    assert wider.returncode == 0, wider.stderr
    assert len(job_results(sweep)) == 6
    assert (wider.stderr + wider.stdout).count("already done") == 4
    manifest = json.loads((sweep / "sweep.json").read_text())
    assert manifest["total_jobs"] == 6
    assert [entry["total_jobs"] for entry in manifest["history"]] == [4, 4, 4]

    # force=true reruns a finished job.
    forced = paxos_exp(["-m", "nodes=2", "fail_prob=0", "rounds=2", "trials=10", "name=t", "force=true",
                        "report=false"], tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "already done" not in forced.stderr + forced.stdout


def _doomed(tmp_path, sweep, overrides):
    """Make the job of ``overrides`` fail for real, deterministically: directories squat on
    the paths of its tables, so writing its results fails (an I/O error, as on a full disk)."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    doomed = tmp_path / "outputs" / "sweeps" / sweep / job_key(job_config(cfg))
    for name in ("rounds.parquet", "trials.parquet"):
        (doomed / name).mkdir(parents=True)
    return doomed


def _last_line_names(done, number, overrides, doomed, retry):
    """The command's last line names the failed job (number, own overrides), says why, and
    where its result.json and log are, as under SLURM."""
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"paxos-exp: error: job {number} ({overrides}") and (
        ") failed: IsADirectoryError: [Errno 21] Is a directory: " in last), last
    assert f"; its result.json and log are in {doomed}; {retry}" in last, last
    assert (doomed / "result.json").is_file() and (doomed / "paxos.log").is_file()


def test_failing_job_keeps_the_others_and_exits_nonzero(paxos_exp, tmp_path):
    doomed = _doomed(tmp_path, "f", ["nodes=3", "fail_prob=0.2", "trials=3", "rounds=2"])
    done = paxos_exp(["-m", "fail_prob=0.1,0.2", "nodes=3", "trials=3", "rounds=2", "name=f"], tmp_path)
    assert done.returncode == 1
    _last_line_names(done, 2, "fail_prob=0.2 nodes=3 trials=3 rounds=2 name=f)", doomed,
                     "rerun the same command to retry it (name=f writes to outputs/sweeps/f)")
    results = job_results(tmp_path / "outputs" / "sweeps" / "f")
    assert len(results) == 2
    by_p = {r["config"]["fail_prob"]: r for r in results.values()}
    assert by_p[0.1]["status"] == "ok" and by_p[0.1]["summary"]["trials"] == 3
    failed = by_p[0.2]
    assert failed["status"] == "failed" and failed["summary"] is None
    assert "trials.parquet" in failed["error"]
    # Rerunning redoes only the failed job (and fails again: the squatter is still there).
    again = paxos_exp(["-m", "fail_prob=0.1,0.2", "nodes=3", "trials=3", "rounds=2", "name=f"], tmp_path)
    assert again.returncode != 0 and (again.stderr + again.stdout).count("already done") == 1


def test_deadlines_are_not_part_of_the_job_key(paxos_exp, tmp_path):
    args = ["nodes=3", "trials=3", "rounds=2", "name=k"]
    assert paxos_exp(args, tmp_path).returncode == 0
    patient = paxos_exp([*args, "runtime=patient"], tmp_path)
    assert patient.returncode == 0 and "already done" in patient.stderr + patient.stdout


def test_bad_sweep_value_stops_before_any_job(paxos_exp, tmp_path):
    done = paxos_exp(["-m", "nodes=3", "fail_prob=0.1,1.5", "name=bad"], tmp_path)
    assert done.returncode != 0
    assert "fail_prob=1.5" in done.stderr and "No job was started" in done.stderr
    assert job_results(tmp_path / "outputs" / "sweeps" / "bad") == {}


@pytest.mark.parametrize(
    "args, message",
    [(["nodes=abc"], "nodes"), (["nodez=3"], "nodez"), (["fail_prob=1.5"], "fail_prob"),
     (["rounds=-1"], "rounds"), (["trials=0"], "trials"), (["runtime.start_method=forky"], "forky"),
     (["tables=xml"], "expected one of [parquet, csv, both]")],
)
def test_bad_single_run_is_a_clear_error(paxos_exp, tmp_path, args, message):
    done = paxos_exp(args, tmp_path)
    assert done.returncode != 0
    assert message in done.stderr
    assert not any(tmp_path.glob("outputs/**/rounds.*"))


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_joblib_launcher(paxos_exp, tmp_path, start_method):
    done = paxos_exp(
        ["-m", "nodes=3,4", "fail_prob=0,0.2", "trials=5", "rounds=2", f"runtime.start_method={start_method}",
         "hydra/launcher=paxos_joblib", "name=jl", "report=false"],  # the launcher, not the report
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    results = job_results(tmp_path / "outputs" / "sweeps" / "jl")
    assert len(results) == 4 and all(r["status"] == "ok" for r in results.values())
    assert {r["config"]["runtime"]["start_method"] for r in results.values()} == {start_method}


def test_submitit_local_launcher(paxos_exp, tmp_path):
    # The SLURM launcher's code on this machine; one job fails, named as under SLURM.
    doomed = _doomed(tmp_path, "sl", ["nodes=3", "fail_prob=0.2", "trials=5", "rounds=2"])
    done = paxos_exp(
        ["-m", "nodes=3", "fail_prob=0,0.2", "trials=5", "rounds=2", "hydra/launcher=paxos_submitit_local",
         "hydra.sweeper.max_batch_size=2", "name=sl"],
        tmp_path,
    )
    assert done.returncode == 1, done.stderr
    results = job_results(tmp_path / "outputs" / "sweeps" / "sl")
    assert sorted(r["status"] for r in results.values()) == ["failed", "ok"]
    _last_line_names(done, 2, "nodes=3 fail_prob=0.2 trials=5 rounds=2 name=sl; local job ",
                     doomed, "rerun the same command to retry it")


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is None,
    reason="the ray extra is not installed (pip install -e '.[ray]')",
)
def test_ray_launcher_local(paxos_exp, tmp_path):
    doomed = _doomed(tmp_path, "ray", ["nodes=3", "fail_prob=0.2", "trials=5", "rounds=2"])
    done = paxos_exp(
        ["-m", "nodes=3", "fail_prob=0,0.2", "trials=5", "rounds=2", "hydra/launcher=paxos_ray", "name=ray"],
        tmp_path,
        timeout=540,
    )
    assert done.returncode == 1, done.stderr[-3000:]
    results = job_results(tmp_path / "outputs" / "sweeps" / "ray")
    assert sorted(r["status"] for r in results.values()) == ["failed", "ok"]
    _last_line_names(done, 2, "nodes=3 fail_prob=0.2 trials=5 rounds=2 name=ray)", doomed,
                     "rerun the same command to retry it")
