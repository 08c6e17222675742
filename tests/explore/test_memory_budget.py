"""The explorer's memory budget: the growth of the process's resident memory since an
exploration began, bounded by ``--max-memory`` (default half the memory available) in
``paxos-check exhaustive`` and by the default in a report's explorations."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from paxos_exp.analysis import theory
from paxos_exp.check.cli import main
from paxos_exp.core.config import RunConfig
from paxos_exp.explore import explorer
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
    with pytest.raises(TooLarge, match=r"memory budget of 2 MB \(half the memory available\)"):
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
    assert status == 3 and "1 MB (half the memory available)" in err
    assert "raise --max-memory" in err
    status, out, err = _run(capsys, "nodes=3", "rounds=2", "--max-memory", "inf")
    assert status == 0 and out.startswith("safe:") and not err


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan"])
def test_a_bad_max_memory_is_a_usage_error(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["exhaustive", "nodes=3", "rounds=1", "--max-memory", value])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "--max-memory must be" in err


# -- the report ------------------------------------------------------------------------------


def _report(tmp_path: Path) -> tuple[theory.ExactLaw, theory.TheoryBudget]:
    """The row's exact values as a report built with --exact-budget inf finds them."""
    with theory.session(theory.TheoryBudget.per_configuration(math.inf)) as budget:
        theory.cache_beside(tmp_path)
        found = theory.row_exact(ROW)
    theory.clear_cache()  # the next report is a new process: the disk cache alone
    return found, budget


def test_a_report_row_out_of_memory_is_simulation_only_until_there_is_more(
        growing: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(theory, "default_memory_mb", lambda: 1.0)
    found, budget = _report(tmp_path)
    assert found.source == theory.SIMULATION_ONLY
    assert budget.out_of_memory == budget.too_large == 1
    # Kept as out of 1 MB, not of CPU seconds (more of those would not help).
    [entry] = json.loads((tmp_path / theory.CACHE_FILE).read_text())["entries"].values()
    assert (entry["source"], entry["budget"], entry["memory"]) == (theory.SIMULATION_ONLY,
                                                                   None, 1.0)
    # A little more memory (the available memory's drift): not tried again.
    monkeypatch.setattr(theory, "default_memory_mb", lambda: 1.2)
    found, budget = _report(tmp_path)
    assert found.source == theory.SIMULATION_ONLY and budget.too_large == budget.explored == 0
    # Twice as much, and an exploration that fits in it: tried again, and kept as complete.
    monkeypatch.setattr(theory, "default_memory_mb", lambda: 2.0)
    monkeypatch.setattr(explorer, "resident_mb", lambda: 100.0)
    found, budget = _report(tmp_path)
    assert found.source == theory.EXHAUSTIVE and budget.explored == 1
    [entry] = json.loads((tmp_path / theory.CACHE_FILE).read_text())["entries"].values()
    assert entry["memory"] is None and entry["budget"] is None
