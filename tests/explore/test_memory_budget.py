"""The explorer's memory budget: the growth of the process's resident memory since an
exploration began, bounded by ``--max-memory`` (default half the memory available) in
``paxos-check exhaustive`` and by the default in a report's explorations."""

from __future__ import annotations

import itertools
import json
import math
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from paxos_exp.analysis import theory
from paxos_exp.check.cli import main
from paxos_exp.core.config import RunConfig
from paxos_exp.explore import explorer, minimal
from paxos_exp.explore.explorer import HALF_AVAILABLE, Budget, TooLarge, explore
from paxos_exp.explore.minimal import _left

CONFIG = RunConfig(nodes=3, fail_prob=0.2, rounds=2)
# Explored whole by a report (crash_stop carries state over rounds): one exploration.
ROW = {"nodes": 3, "fail_prob": 0.0, "rounds": 3, "protocol": "classic",
       "faults": "crash_stop", "crash_prob": 0.2}


@pytest.fixture
def growing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The resident memory as the explorer reads it, 0.5 MB more at every reading: an
    exploration that needs memory, without allocating it (a process that ran other tests
    first reuses what they freed, so a real exploration's growth there is not predictable)."""
    readings = itertools.count()
    monkeypatch.setattr(explorer, "resident_mb", lambda: 100.0 + 0.5 * next(readings))


@pytest.fixture(autouse=True)
def fresh_theory_cache():
    theory.clear_cache()
    yield
    theory.clear_cache()


# -- the explorer ----------------------------------------------------------------------------


def test_a_tiny_memory_budget_raises_too_large_naming_memory(growing: None) -> None:
    with pytest.raises(TooLarge, match=r"^exploration too large: the memory budget of 1 MB ran "
                                       r"out after \d+ configurations run through a step, in "
                                       r"round 1 of 2$") as caught:
        explore(CONFIG, budget=Budget(memory_mb=1.0))
    assert caught.value.resource == "memory"


def test_the_default_bound_is_half_the_memory_available_as_it_begins(
        growing: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(explorer, "available_mb", lambda: 4.0)
    with pytest.raises(TooLarge, match=r"memory budget of 2 MB \(half the memory available to "
                                       r"the process\)"):
        explore(CONFIG, budget=Budget())
    monkeypatch.setattr(explorer, "available_mb", lambda: None)  # unknown: no bound
    assert explore(CONFIG, budget=Budget()).configurations == explore(CONFIG).configurations


def test_the_real_resident_memory_bounds_a_fresh_process() -> None:
    # A fresh interpreter: nothing freed before to reuse, so the exploration's ~10 MB show.
    if explorer.resident_mb is None:
        pytest.skip("no way to read the resident memory here")
    code = ("from paxos_exp.core.config import RunConfig\n"
            "from paxos_exp.explore.explorer import Budget, TooLarge, explore\n"
            "config = RunConfig(nodes=4, fail_prob=0.1, rounds=1, faults='link_loss')\n"
            "try:\n"
            "    explore(config, budget=Budget(memory_mb=1))\n"
            "except TooLarge as error:\n"
            "    print(error.resource, error)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=120)
    assert done.stdout.startswith("memory exploration too large: the memory budget of 1 MB ")


def test_a_generous_memory_budget_changes_nothing() -> None:
    full = explore(CONFIG)
    for budget in (Budget(memory_mb=100_000.0), Budget()):
        bounded = explore(CONFIG, budget=budget)
        assert bounded.first == full.first and bounded.decides == full.decides
        assert bounded.configurations == full.configurations


def test_the_minimal_search_passes_the_memory_bound_on() -> None:
    assert _left(Budget(states=10, memory_mb=5.0), 0.0, 4) == Budget(
        states=6, seconds=None, memory_mb=5.0)
    assert _left(Budget(), 0.0, 0).memory_mb is HALF_AVAILABLE


# -- the memory available to the process ----------------------------------------------------

MB = 2**20


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A machine of 8192 MB available and no limit on the process (no cgroup file, no
    RLIMIT_AS), read from files under ``tmp_path``; a test adds the limits it wants."""
    (tmp_path / "meminfo").write_text("MemTotal:       16777216 kB\n"
                                      "MemAvailable:    8388608 kB\n")
    (tmp_path / "statm").write_text(f"{200 * MB // resource.getpagesize()} 100 0 0 0 0 0\n")
    monkeypatch.setattr(explorer, "MEMINFO", str(tmp_path / "meminfo"))
    monkeypatch.setattr(explorer, "STATM", str(tmp_path / "statm"))
    monkeypatch.setattr(explorer, "SELF_CGROUP", str(tmp_path / "no-cgroup"))
    monkeypatch.setattr(explorer, "CGROUP_ROOT", tmp_path / "cgroup")
    monkeypatch.setattr(resource, "getrlimit", lambda _which: (resource.RLIM_INFINITY,) * 2)
    return tmp_path


def _cgroup(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_without_limits_the_memory_available_is_the_machines(limits: Path) -> None:
    assert explorer.available_mb() == 8192.0 and explorer.default_memory_mb() == 4096.0


def test_a_cgroup_v2_limit_bounds_it_at_its_own_level_or_a_parents(limits: Path) -> None:
    (limits / "no-cgroup").write_text("0::/job/step\n")
    _cgroup(limits / "cgroup", {
        # The process's own cgroup: 1000 MB less 400 MB used, 100 MB of it reclaimable cache.
        "job/step/memory.max": f"{1000 * MB}\n", "job/step/memory.current": f"{400 * MB}\n",
        "job/step/memory.stat": f"anon {300 * MB}\ninactive_file {100 * MB}\n",
        # Its parent: no limit.
        "job/memory.max": "max\n", "job/memory.current": f"{400 * MB}\n"})
    assert explorer.available_mb() == 700.0 and explorer.default_memory_mb() == 350.0
    # A limit on the parent (SLURM's job, systemd's slice) holds for the process too.
    _cgroup(limits / "cgroup", {"job/memory.max": f"{600 * MB}\n"})
    assert explorer.available_mb() == 200.0
    # No limit anywhere ("max", or the root's absent files): the machine's.
    _cgroup(limits / "cgroup", {"job/memory.max": "max\n", "job/step/memory.max": "max\n"})
    assert explorer.available_mb() == 8192.0


def test_a_cgroup_v1_limit_bounds_it_seen_from_inside_a_container(limits: Path) -> None:
    # docker without a cgroup namespace: /proc/self/cgroup names the host's path, but the
    # container's own cgroup is mounted as the root of the memory hierarchy.
    (limits / "no-cgroup").write_text("9:name=systemd:/docker/abc\n4:memory:/docker/abc\n"
                                      "3:cpu,cpuacct:/docker/abc\n0::/\n")
    _cgroup(limits / "cgroup" / "memory", {
        "memory.limit_in_bytes": f"{2048 * MB}\n", "memory.usage_in_bytes": f"{548 * MB}\n",
        "memory.stat": f"cache {100 * MB}\ntotal_inactive_file {48 * MB}\n"})
    assert explorer.available_mb() == 1548.0


def test_the_address_space_limit_bounds_it_less_the_virtual_size(
        limits: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # ulimit -v 800 MB, 200 MB mapped already (the fake statm's virtual size): 600 MB left.
    monkeypatch.setattr(resource, "getrlimit", lambda _which: (800 * MB, resource.RLIM_INFINITY))
    assert explorer.available_mb() == 600.0 and explorer.default_memory_mb() == 300.0
    # The least of every limit: a cgroup that leaves less wins.
    (limits / "no-cgroup").write_text("0::/\n")
    _cgroup(limits / "cgroup", {"memory.max": f"{300 * MB}\n", "memory.current": "0\n"})
    assert explorer.available_mb() == 300.0


def test_without_meminfo_it_falls_back_to_all_physical_memory_then_to_none(
        limits: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (limits / "meminfo").unlink()
    pages = {"SC_PHYS_PAGES": 3000, "SC_AVPHYS_PAGES": 10, "SC_PAGE_SIZE": MB}
    monkeypatch.setattr(explorer.os, "sysconf", pages.__getitem__)
    # All physical memory (free pages alone leave out the page cache: far too few).
    assert explorer.available_mb() == 3000.0

    def unknown(name: str) -> int:
        raise ValueError(name)

    monkeypatch.setattr(explorer.os, "sysconf", unknown)
    assert explorer.available_mb() is None and explorer.default_memory_mb() is None


# -- the command -----------------------------------------------------------------------------


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(["exhaustive", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_max_memory_that_runs_out_is_one_line_naming_it_and_exit_three(
        growing: None, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = _run(capsys, "nodes=3", "rounds=2", "--max-memory", "1")
    assert status == 3 and out == "" and len(err.splitlines()) == 1
    assert err.startswith("paxos-check exhaustive: too large: the memory budget of 1 MB ran out "
                          "after ")
    assert err.rstrip().endswith("(nodes=3 rounds=2); lower nodes or rounds, or raise "
                                 "--max-memory (inf: no limit)")


def test_the_command_bounds_memory_by_default_and_not_with_inf(
        growing: None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(explorer, "available_mb", lambda: 2.0)
    status, _, err = _run(capsys, "nodes=3", "rounds=2")
    assert status == 3 and "1 MB (half the memory available to the process)" in err
    assert "raise --max-memory" in err
    status, out, err = _run(capsys, "nodes=3", "rounds=2", "--max-memory", "inf")
    assert status == 0 and out.startswith("safe:") and not err


def _out_of_memory(*_args: object, **_kwargs: object) -> None:
    raise MemoryError


def test_a_memory_error_is_the_too_large_line_naming_max_memory_and_exit_three(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # The process's own limit came before the memory budget (--max-memory above it).
    monkeypatch.setattr(minimal, "explore", _out_of_memory)
    status, out, err = _run(capsys, "nodes=3", "rounds=2", "--max-memory", "inf")
    assert status == 3 and out == "" and len(err.splitlines()) == 1
    assert err == ("paxos-check exhaustive: too large: the process ran out of memory before the "
                   "memory budget did (nodes=3 rounds=2); lower nodes or rounds, or set "
                   "--max-memory below the memory this process may use\n")
    status, out, _ = _run(capsys, "nodes=3", "rounds=2", "--json")
    assert status == 3 and json.loads(out)["verdict"] == "too_large"


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan"])
def test_a_bad_max_memory_is_a_usage_error(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["exhaustive", "nodes=3", "rounds=1", "--max-memory", value])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "--max-memory must be" in err


# -- the report ------------------------------------------------------------------------------


def _report(tmp_path: Path, seconds: float = 60.0
            ) -> tuple[theory.ExactLaw, theory.TheoryBudget]:
    """The row's exact values as a report built with --exact-budget ``seconds`` finds them."""
    with theory.session(theory.TheoryBudget.per_configuration(seconds)) as budget:
        theory.cache_beside(tmp_path)
        found = theory.row_exact(ROW)
    theory.clear_cache()  # the next report is a new process: the disk cache alone
    return found, budget


def _entry(tmp_path: Path) -> dict[str, object]:
    [entry] = json.loads((tmp_path / theory.CACHE_FILE).read_text())["entries"].values()
    return entry


def test_a_report_row_out_of_memory_is_simulation_only_until_there_is_more(
        growing: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(theory, "default_memory_mb", lambda: 1.0)
    found, budget = _report(tmp_path, 60.0)
    assert found.source == theory.SIMULATION_ONLY
    assert budget.out_of_memory == budget.too_large == 1
    # Kept as out of 1 MB, not of the 60 CPU seconds it had (more of those would not help).
    entry = _entry(tmp_path)
    assert (entry["source"], entry["budget"], entry["memory"]) == (theory.SIMULATION_ONLY,
                                                                   None, 1.0)
    # More seconds, the same memory: not tried again.
    found, budget = _report(tmp_path, 120.0)
    assert found.source == theory.SIMULATION_ONLY and budget.too_large == budget.explored == 0
    # A little more memory (the available memory's drift): not tried again either.
    monkeypatch.setattr(theory, "default_memory_mb", lambda: 1.2)
    found, budget = _report(tmp_path, math.inf)
    assert found.source == theory.SIMULATION_ONLY and budget.too_large == budget.explored == 0
    # Twice as much, and an exploration that fits in it: tried again, and kept as complete.
    monkeypatch.setattr(theory, "default_memory_mb", lambda: 2.0)
    monkeypatch.setattr(explorer, "resident_mb", lambda: 100.0)
    found, budget = _report(tmp_path, 60.0)
    assert found.source == theory.EXHAUSTIVE and budget.explored == 1
    entry = _entry(tmp_path)
    assert entry["memory"] is None and entry["budget"] is None


def test_a_report_row_whose_exploration_meets_a_memory_error_is_a_memory_stop(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The process's own limit came before the memory budget: the row is simulation only,
    # cached as out of the memory bound it had, as if that had run out.
    monkeypatch.setattr(theory, "default_memory_mb", lambda: 5.0)
    monkeypatch.setattr(theory, "explore", _out_of_memory)
    found, budget = _report(tmp_path, 60.0)
    assert found.source == theory.SIMULATION_ONLY
    assert budget.out_of_memory == budget.too_large == 1 and budget.memory_ran_out == 5.0
    entry = _entry(tmp_path)
    assert (entry["budget"], entry["memory"]) == (None, 5.0)
