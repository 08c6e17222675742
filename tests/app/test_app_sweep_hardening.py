"""Sweeps that start at once, stay small, keep to their own directories and refuse bad input.

Each test runs paxos-exp in a subprocess with its outputs under ``tmp_path``; the first two run
it through a small driver that counts Hydra's compositions and reads the process's memory.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from app_helpers import job_results
from paxos_exp.app import CONFIG_DIR

pytestmark = pytest.mark.timeout(900)

# Cheap jobs: what is measured here is the sweep around them, not the protocol.
FAST = ["trials=1", "rounds=1", "nodes=3", "engine=inprocess", "report=false"]
STAMP = re.compile(r"\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}_\d{6}")

# Runs the app in its own process, reporting on stderr how many configs Hydra composed before
# the first job started (the launcher composes each job once; anything more is the check) and
# the process's resident memory after chosen jobs.
DRIVER = '''
import sys
from hydra._internal.config_loader_impl import ConfigLoaderImpl
import paxos_exp.app as app

mode, marks, args = sys.argv[1], {int(m) for m in sys.argv[2].split(",") if m}, sys.argv[3:]
state = {"composed": 0, "jobs": 0}
real_load, real_run_job = ConfigLoaderImpl.load_sweep_config, app.run_job


def rss_kb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])


def counting_load(self, *args, **kwargs):
    state["composed"] += 1
    return real_load(self, *args, **kwargs)


def observed_run_job(*args, **kwargs):
    if state["jobs"] == 0:
        print("COMPOSED_BEFORE_FIRST_JOB", state["composed"], file=sys.stderr, flush=True)
        if mode == "first-job":
            raise SystemExit(0)
    state["jobs"] += 1
    result = real_run_job(*args, **kwargs)
    if state["jobs"] in marks:
        print("RSS_KB_AFTER_JOB", state["jobs"], rss_kb(), file=sys.stderr, flush=True)
    return result


ConfigLoaderImpl.load_sweep_config = counting_load
app.run_job = observed_run_job
sys.argv = ["paxos-exp", *args]
app.main()
'''


def _run(args: list[str], cwd: Path, *, env: dict[str, str] | None = None,
         timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """paxos-exp in a subprocess, optionally with extra environment variables."""
    return subprocess.run(
        [sys.executable, "-m", "paxos_exp.app", *args], cwd=cwd, capture_output=True, text=True,
        timeout=timeout, env={**os.environ, **(env or {})},
    )


def _drive(tmp_path: Path, mode: str, marks: list[int], args: list[str],
           timeout: float) -> tuple[subprocess.CompletedProcess[str], dict[str, list[int]]]:
    """Run the app under DRIVER; returns the process and its reports (name -> numbers)."""
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    done = subprocess.run(
        [sys.executable, str(driver), mode, ",".join(map(str, marks)), *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=timeout,
    )
    reports: dict[str, list[int]] = {}
    for line in done.stderr.splitlines():
        words = line.split()
        if words and words[0] in ("COMPOSED_BEFORE_FIRST_JOB", "RSS_KB_AFTER_JOB"):
            reports.setdefault(words[0], []).append(int(words[-1]))
    return done, reports


def _fast(*grid: str) -> list[str]:
    """The grid plus FAST's keys it does not set (Hydra keeps only the last value of a key)."""
    keys = {item.split("=", 1)[0] for item in grid}
    return [*grid, *(item for item in FAST if item.split("=", 1)[0] not in keys)]


def _error_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.strip()]


def _all_paths(root: Path) -> set[Path]:
    return {path.relative_to(root) for path in root.rglob("*")}


@pytest.mark.parametrize(
    "grid, check_composes",
    [(["seed=range(0,200)"], 1),  # plain values only: one composed config serves every job
     (["seed=range(0,100)", "runtime=default,spawn"], 2)],  # one per config-group value
)
def test_checking_a_sweep_composes_one_config_per_group_value(tmp_path, grid, check_composes):
    done, reports = _drive(tmp_path, "first-job", [], ["-m", *_fast(*grid), "name=c"], timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    # The launcher composes the first job itself; everything before that is the check.
    assert reports["COMPOSED_BEFORE_FIRST_JOB"] == [check_composes + 1], done.stderr[-3000:]


@pytest.mark.parametrize(
    "grid, named",
    [(["seed=range(0,300)", "trials=5,0"], "trials=0"),  # the very last jobs are bad
     (["nodes=5,3", "protocol=flexible", "protocol.vote_quorum=4"], "nodes=3")],  # only with the other key
)
def test_a_bad_job_anywhere_still_stops_the_sweep_before_its_first_job(
    paxos_exp, tmp_path, grid, named
):
    done = paxos_exp(["-m", *_fast(*grid), "name=bad"], tmp_path)
    assert done.returncode == 2, done.stderr
    assert len(_error_lines(done)) == 1 and named in done.stderr
    assert "No job was started" in done.stderr
    assert job_results(tmp_path / "outputs" / "sweeps" / "bad") == {}


def test_a_wrongly_typed_sweep_value_is_still_caught_before_any_job(paxos_exp, tmp_path):
    done = paxos_exp(["-m", *_fast("seed=range(0,50)", "nodes=3,abc"), "name=typed"], tmp_path)
    assert done.returncode != 0 and "nodes=abc" in done.stderr
    assert not any(tmp_path.glob("outputs/**/result.json"))


def test_the_sweep_process_does_not_grow_with_every_job(tmp_path):
    if not Path("/proc/self/status").is_file():
        pytest.skip("reads resident memory from /proc")
    jobs = 120
    args = ["-m", f"seed=range(0,{jobs})", *FAST, "name=m"]
    done, reports = _drive(tmp_path, "rss", [20, jobs], args, timeout=800)
    assert done.returncode == 0, done.stderr[-3000:]
    after_20, after_last = reports["RSS_KB_AFTER_JOB"]
    # The target is 20 MB per 1,000 jobs (20 KB a job); allow twice that for allocator noise.
    # Keeping every job's composed configs costs about 130 KB a job (13 MB over these 100
    # jobs, against a bound of 4 MB); today's growth is about 13 KB a job (1.1 MB over 80).
    bound_kb = 2 * 20 * (jobs - 20)
    grown = after_last - after_20
    assert grown < bound_kb, f"grew by {grown} KB over {jobs - 20} jobs"


def test_each_adhoc_sweep_gets_its_own_directory_and_says_how_to_resume(paxos_exp, tmp_path):
    first = paxos_exp(["-m", *_fast("seed=1,2")], tmp_path)
    second = paxos_exp(["-m", *_fast("seed=3", "nodes=2")], tmp_path)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    adhoc = tmp_path / "outputs" / "sweeps" / "adhoc"
    sweeps = sorted(path for path in adhoc.iterdir())
    assert len(sweeps) == 2 and all(STAMP.fullmatch(path.name) for path in sweeps)
    assert sorted(len(job_results(path)) for path in sweeps) == [1, 2]
    assert all((path / "multirun.yaml").is_file() for path in sweeps)

    # The log and sweep.json say how to add to the sweep later; doing so resumes it.
    two_jobs = next(path for path in sweeps if len(job_results(path)) == 2)
    where = f"hydra.sweep.dir={two_jobs.relative_to(tmp_path)}"
    assert f"rerun with {where} to resume" in first.stdout + first.stderr
    assert where in json.loads((two_jobs / "sweep.json").read_text())["resume"]
    again = paxos_exp(["-m", *_fast("seed=1,2"), where], tmp_path)
    assert again.returncode == 0, again.stderr
    assert (again.stdout + again.stderr).count("already done") == 2
    assert len(list(adhoc.iterdir())) == 2

    # A single run keeps its one directory per job key, so it still resumes by itself.
    single = _fast("seed=9")
    assert paxos_exp(single, tmp_path).returncode == 0
    assert len(list((tmp_path / "outputs" / "runs" / "adhoc").glob("*/result.json"))) == 1
    rerun = paxos_exp(single, tmp_path)
    assert rerun.returncode == 0 and "already done" in rerun.stdout + rerun.stderr


@pytest.mark.parametrize(
    "overrides, sweep_dir",
    [(["name=foo"], "outputs/sweeps/foo"),
     (["experiment=quick"], "outputs/sweeps/quick"),  # what `make run` tells the user
     ([], None)],
)
def test_named_sweeps_keep_their_directory(overrides, sweep_dir):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides, return_hydra_config=True)
        resolved = OmegaConf.select(cfg, "hydra.sweep.dir")
        assert OmegaConf.select(cfg, "hydra.sweep.dir") == resolved  # computed once per sweep
    if sweep_dir is not None:
        assert resolved == sweep_dir
    else:
        head, stamp = resolved.rsplit("/", 1)
        assert head == "outputs/sweeps/adhoc" and STAMP.fullmatch(stamp), resolved


def test_sweeping_presets_is_refused(paxos_exp, tmp_path):
    done = paxos_exp(["-m", "experiment=quick,scaling"], tmp_path)
    assert done.returncode == 2, done.stderr
    assert _error_lines(done) == [
        "paxos-exp: error: experiment=quick,scaling: run the presets one after the other "
        "(paxos-exp experiment=quick; paxos-exp experiment=scaling)"
    ]
    assert not any(tmp_path.glob("outputs/**/result.json"))
    assert not any(path.is_dir() and STAMP.fullmatch(path.name) for path in tmp_path.rglob("*"))


@pytest.mark.parametrize("name", ["../../../x", "a/b"])
@pytest.mark.parametrize("sweep", [False, True], ids=["run", "sweep"])
@pytest.mark.parametrize("full_error", [False, True], ids=["", "HYDRA_FULL_ERROR"])
def test_a_name_that_is_not_a_plain_name_is_refused_before_anything_is_made(
    tmp_path, name, sweep, full_error
):
    # Deep enough that ../../../x would still land inside tmp_path, where it is looked for.
    cwd = tmp_path / "a" / "b" / "c" / "cwd"
    cwd.mkdir(parents=True)
    before = _all_paths(tmp_path)
    args = (["-m", "seed=1,2"] if sweep else []) + [*FAST, f"name={name}"]
    done = _run(args, cwd, env={"HYDRA_FULL_ERROR": "1"} if full_error else None)
    assert done.returncode == 2, done.stderr
    assert _error_lines(done) == [_error_lines(done)[0]] and f"name={name}" in done.stderr
    assert "plain name" in done.stderr
    assert _all_paths(tmp_path) == before


def test_a_bad_name_among_swept_values_is_refused(paxos_exp, tmp_path):
    done = paxos_exp(["-m", *_fast("name=fine,a/b")], tmp_path)
    assert done.returncode == 2, done.stderr
    assert len(_error_lines(done)) == 1 and "name=a/b" in done.stderr
    assert not any(tmp_path.glob("outputs/**/result.json"))
