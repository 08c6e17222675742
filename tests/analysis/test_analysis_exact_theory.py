"""The report's exact values from the exhaustive explorer: where the closed form has none, within
a budget, cached; rows rebuilt from their columns; curves along any x column."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import run_sweep

from paxos_exp.analysis import aggregate, exact, theory
from paxos_exp.analysis.cli import _budget
from paxos_exp.analysis.load import load
from paxos_exp.analysis.report import build_report
from paxos_exp.analysis.row_config import row_config
from paxos_exp.core.config import RunConfig
from paxos_exp.explore.explorer import explore


@pytest.fixture(autouse=True)
def fresh_cache():
    """Every test computes its own values (the memory cache lives for the process), with CPU
    seconds enough on a loaded machine (a test sets a smaller budget where it means to)."""
    theory.clear_cache()
    exact.clear_cache()
    with theory.session(theory.TheoryBudget(seconds=60.0)):
        yield
    theory.clear_cache()
    exact.clear_cache()


def _row(**values: object) -> dict[str, object]:
    return {"nodes": 3, "fail_prob": 0.2, "rounds": 3, "protocol": "classic",
            "faults": "omission", **values}


# ----------------------------------------------------------------------------- values


@pytest.mark.parametrize("nodes,rounds", [(3, 2), (5, 1)])
def test_the_explorer_gives_the_closed_form_where_both_exist(nodes: int, rounds: int) -> None:
    closed = theory.row_exact(_row(nodes=nodes, rounds=rounds))
    assert closed.source == theory.CLOSED_FORM
    # A crash_stop model that never strikes: no closed form, rounds not independent (explored
    # whole); a partition that never happens: rounds independent (one round explored).
    for faults, settings, source in (
            ("crash_stop+omission", {"crash_prob": 0.0}, theory.EXHAUSTIVE),
            ("omission+partition", {"partition_prob": 0.0},
             theory.PER_ROUND if rounds > 1 else theory.EXHAUSTIVE)):
        explored = theory.row_exact(_row(nodes=nodes, rounds=rounds, faults=faults, **settings),
                                    violations=True)
        assert explored.source == source
        assert explored.decision_within(rounds) == pytest.approx(
            closed.decision_within(rounds), abs=1e-12)
        assert explored.decides == pytest.approx(closed.decides, abs=1e-12)
        assert explored.proposes == pytest.approx(closed.proposes, abs=1e-12)
        assert explored.first_round(rounds) == pytest.approx(closed.first_round(rounds),
                                                             abs=1e-12)
        assert explored.violation == 0.0  # classic claims safety under both


@pytest.mark.parametrize("settings", [
    {"nodes": 4, "faults": "partition", "partition_prob": 0.3, "shape": "random_cut",
     "symmetric": False},
    # Down for one round: every node is drawn afresh each round (durable or wiped alike).
    {"nodes": 3, "fail_prob": 0.0, "faults": "crash_recovery", "crash_prob": 0.3,
     "down_rounds": 1, "amnesia": False},
    {"nodes": 3, "fail_prob": 0.0, "faults": "crash_recovery", "crash_prob": 0.3,
     "down_rounds": 1, "amnesia": True},
])
def test_the_per_round_law_equals_a_full_exploration(settings: dict) -> None:
    row = _row(rounds=3, **settings)
    per_round = theory.row_exact(row)
    assert per_round.source == theory.PER_ROUND
    full = explore(row_config(row))
    assert per_round.decision_within(3) == pytest.approx(float(full.decided_within), abs=1e-12)
    assert per_round.first_round(3)[:-1] == pytest.approx([float(p) for p in full.first],
                                                          abs=1e-12)
    assert 0.0 < per_round.decides < 1.0


def test_leader_dependent_and_stateful_models_are_explored_whole() -> None:
    # Every link of node 0 loses half its messages: its round (0) may fail, node 1's (round 1)
    # always has node 2 beside it.
    matrix = json.dumps([[0, 0.5, 0.5], [0.5, 0, 0], [0.5, 0, 0]])
    lossy = _row(fail_prob=0.0, faults="link_loss", rule="matrix", matrix=matrix)
    stateful = _row(fail_prob=0.0, faults="crash_recovery", crash_prob=0.2, down_rounds=2,
                    amnesia=False)
    for row in (lossy, stateful):
        found = theory.row_exact(row)
        assert found.source == theory.EXHAUSTIVE
        full = explore(row_config(row))
        assert found.decides_by_round == tuple(map(float, full.decides))
    by_round = theory.row_exact(lossy).decides_by_round
    assert by_round[0] < 1.0 and by_round[1] == by_round[2] == 1.0


def test_an_unsafe_configuration_gets_its_violation_probability() -> None:
    unsafe = theory.row_exact(_row(protocol="own_value", rounds=2), violations=True)
    assert unsafe.source == theory.CLOSED_FORM  # its decisions keep the closed form
    full = explore(row_config(_row(protocol="own_value", rounds=2)))
    assert unsafe.violation == pytest.approx(float(full.violation), abs=1e-12)
    assert unsafe.violation > 0


def test_a_row_rebuilds_its_fault_models_settings_from_its_columns() -> None:
    config = row_config(_row(faults="crash_stop+link_loss", crash_prob=0.25,
                             max_crashed=1.0, rule="one_link", prob=0.5, link="[0, 2]",
                             fraction=0.5, matrix=float("nan"), initial_values="011"))
    assert config.faults_params("crash_stop").max_crashed == 1
    assert config.faults_params("crash_stop").crash_prob == 0.25
    assert tuple(config.faults_params("link_loss").link) == (0, 2)
    assert config.initial_values == (0, 1, 1)
    # A setting the row does not have is the model's default.
    assert row_config(_row(faults="partition")).faults_params("partition").partition_prob == 0.1


def test_beyond_the_budget_a_row_is_simulation_only() -> None:
    row = _row(fail_prob=0.0, faults="crash_stop", crash_prob=0.2)
    with theory.session(theory.TheoryBudget(seconds=0.0)) as budget:
        found = theory.row_exact(row)
    assert found.source == theory.SIMULATION_ONLY and budget.too_large == 1
    assert math.isnan(found.decision_within(3))
    # A larger budget tries again (a row left to simulation is not cached as such).
    with theory.session(theory.TheoryBudget(seconds=60.0)) as budget:
        assert theory.row_exact(row).source == theory.EXHAUSTIVE
    assert budget.explored == 1


def test_the_disk_cache_answers_the_next_report_without_exploring(tmp_path: Path) -> None:
    row = _row(fail_prob=0.0, faults="crash_stop", crash_prob=0.2)
    with theory.session() as budget:
        theory.cache_beside(tmp_path)
        first = theory.row_exact(row)
    assert budget.explored == 1 and (tmp_path / theory.CACHE_FILE).is_file()
    theory.clear_cache()
    with theory.session() as budget:
        theory.cache_beside(tmp_path)
        assert theory.row_exact(row) == first
    assert budget.explored == 0
    # Another version's cache is ignored.
    stored = json.loads((tmp_path / theory.CACHE_FILE).read_text())
    stored["version"] = "0+other"
    (tmp_path / theory.CACHE_FILE).write_text(json.dumps(stored))
    theory.clear_cache()
    with theory.session() as budget:
        theory.cache_beside(tmp_path)
        assert theory.row_exact(row) == first
    assert budget.explored == 1


# ----------------------------------------------------------------------------- curves


def test_curves_follow_any_x_column() -> None:
    xs = np.linspace(0.0, 0.4, 9)
    row = pd.Series(_row(fail_prob=0.0, faults="crash_stop", crash_prob=0.2, max_crashed=None))
    curve = exact.within_theory(row, xs, x="crash_prob")
    drawn = np.flatnonzero(np.isfinite(curve))
    assert 2 <= len(drawn) <= exact.EXPLORED_POINTS + 1 and {0, 8, 4} <= set(drawn)
    for index in drawn:
        config = RunConfig(nodes=3, fail_prob=0.0, rounds=3,
                           faults={"name": "crash_stop", "crash_prob": float(xs[index])})
        assert curve[index] == pytest.approx(float(explore(config).decided_within), abs=1e-12)
    # A closed-form row: every point, along fail_prob as before.
    closed = exact.within_theory(pd.Series(_row()), xs)
    law = RunConfig(nodes=3, fail_prob=0.3, rounds=3).law
    assert np.isfinite(closed).all()
    assert closed[6] == pytest.approx(law.decision_within(3))
    assert np.isnan(exact.messages_theory_curve(row, xs, x="crash_prob")).all()


# ----------------------------------------------------------------------------- a sweep


@pytest.fixture(scope="module")
def crash_stop_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_sweep(tmp_path_factory.mktemp("crash"), "crash", "faults=crash_stop",
                     "faults.crash_stop.crash_prob=0.1,0.3", "nodes=3", "rounds=3",
                     "trials=400", "seed=7", "engine=inprocess", "report=false")


def _summary(sweep: Path) -> pd.DataFrame:
    results = load([sweep])
    return aggregate.summarize(results.jobs, config_columns=results.config_columns)


def test_a_crash_stop_sweep_is_compared_with_its_exhaustive_law(crash_stop_sweep: Path) -> None:
    summary = _summary(crash_stop_sweep)
    assert list(summary["theory_source"]) == [theory.EXHAUSTIVE] * 2
    # Within 4 binomial standard errors of the exact values (z is in those units); a trial's
    # rounds are correlated under crash_stop: no binomial z over them.
    assert (summary["z"].abs() < 4).all() and summary["round_z"].isna().all()
    assert summary["round_theory"].notna().all() and summary["join_theory"].notna().all()
    assert (summary["violation_theory"] == 0.0).all()
    exact_values = [explore(RunConfig(nodes=3, fail_prob=0.1, rounds=3, faults={
        "name": "crash_stop", "crash_prob": p})).decided_within for p in (0.1, 0.3)]
    assert list(summary["theory"]) == pytest.approx([float(v) for v in exact_values],
                                                    abs=1e-12)


def test_the_summary_counts_the_rounds_whose_leader_was_down(crash_stop_sweep: Path) -> None:
    # A down leader's round is a round change (no proposal) with nothing on the wire and
    # nothing silenced; the summary's rate is counted from the jobs' summaries.
    results = load([crash_stop_sweep], rounds=True)
    summary = aggregate.summarize(results.jobs, config_columns=results.config_columns)
    rounds = results.rounds
    sent = rounds[[c for c in rounds.columns if c.startswith("sent_")]].sum(axis=1)
    down = rounds["proposal"].isna() & (sent == 0) & (rounds["silenced"] == 0)
    by_prob = down.groupby(rounds["crash_prob"].astype(float)).mean()
    for _, row in summary.iterrows():
        assert row["leader_down_rate"] == pytest.approx(by_prob[float(row["crash_prob"])])
    assert (summary["leader_down_rate"] > 0).all()
    assert (summary["leader_down_rate"] <= summary["roundchange_rate"]).all()
    assert summary["leader_down_rate"].is_monotonic_increasing  # crash_prob 0.1, then 0.3


def test_sweeps_of_different_models_read_together_keep_their_exact_values(
        crash_stop_sweep: Path, tmp_path: Path) -> None:
    # Read beside crash_stop's rows, partition's bool setting (symmetric) and crash_stop's
    # null one (max_crashed) are columns mixing values with NaN, which the grouping makes
    # text ('True', 'nan'); each row must still rebuild its own model's settings.
    partition = run_sweep(tmp_path, "cut", "faults=partition",
                          "faults.partition.partition_prob=0.3", "nodes=3", "rounds=2",
                          "trials=100", "seed=3", "engine=inprocess", "report=false")
    both = _summary_of([crash_stop_sweep, partition])
    assert set(both["faults"]) == {"crash_stop", "partition"}
    assert not (both["theory_source"] == theory.SIMULATION_ONLY).any(), both["theory_source"]
    alone = _summary_of([partition])
    assert float(both.loc[both["faults"] == "partition", "theory"].iloc[0]) == \
        pytest.approx(float(alone["theory"].iloc[0]), abs=1e-12)


def _summary_of(sweeps: list[Path]) -> pd.DataFrame:
    results = load(sweeps)
    return aggregate.summarize(results.jobs, config_columns=results.config_columns)


def test_a_sweep_beyond_the_budget_is_simulation_only(crash_stop_sweep: Path) -> None:
    with theory.session(theory.TheoryBudget(seconds=0.0)):
        summary = _summary(crash_stop_sweep)
    assert list(summary["theory_source"]) == [theory.SIMULATION_ONLY] * 2
    assert summary["z"].isna().all() and summary["theory"].isna().all()
    assert summary["decision_rate"].notna().all()


def test_a_setting_that_varies_within_a_row_leaves_it_no_theory(crash_stop_sweep: Path) -> None:
    # Grouped without crash_prob, the two crash probabilities share a row: no single law.
    summary = aggregate.summarize(load([crash_stop_sweep]).jobs,
                                  config_columns=["nodes", "fail_prob", "rounds", "faults"])
    assert len(summary) == 1 and summary["theory_source"].iloc[0] == theory.SIMULATION_ONLY
    assert math.isnan(summary["z"].iloc[0])


def test_export_takes_the_exact_budget(crash_stop_sweep: Path, tmp_path: Path) -> None:
    from paxos_exp.analysis.cli import main

    dest = tmp_path / "study"
    assert main(["export", str(crash_stop_sweep), str(dest), "--exact-budget", "0",
                 "--format", "png"]) == 0
    exported = pd.read_csv(dest / "summary.csv")
    assert list(exported["theory_source"]) == [theory.SIMULATION_ONLY] * 2
    assert main(["export", str(crash_stop_sweep), str(dest), "--format", "png"]) == 0
    assert list(pd.read_csv(dest / "summary.csv")["theory_source"]) == [theory.EXHAUSTIVE] * 2


def test_a_report_rebuilt_with_the_same_budget_has_the_same_summary(tmp_path: Path) -> None:
    # Ten explorations of most of the budget each (about 0.07 CPU s): whichever rows end
    # beyond it, they must be the same ones in every build (a total over the report left
    # later rows out in the first build only, when the cached rows no longer spent it).
    sweep = run_sweep(tmp_path, "same", "faults=crash_stop",
                      "faults.crash_stop.crash_prob=0.05,0.1,0.15,0.2,0.25,0.3,0.35,0.4,0.45,0.5",
                      "nodes=4", "rounds=2", "trials=20", "seed=1", "engine=inprocess",
                      "report=false")
    summaries = []
    for _ in range(3):
        out = build_report([sweep], out=tmp_path / "report", exact_budget=0.1, formats="png")
        summaries.append((out / "summary.csv").read_bytes())
    assert summaries[0] == summaries[1] == summaries[2]


def test_exact_budget_takes_seconds_or_inf() -> None:
    assert _budget("2.5") == 2.5 and math.isinf(_budget("inf")) and _budget("0") == 0.0
    for bad in ("-1", "nan", "soon"):
        with pytest.raises(Exception, match="give CPU seconds"):
            _budget(bad)


def test_the_report_marks_simulation_only_rows_and_keeps_its_budget(crash_stop_sweep: Path,
                                                                     tmp_path: Path) -> None:
    from paxos_exp.analysis.report import build_report

    out = build_report([crash_stop_sweep], out=tmp_path / "report", exact_budget=0.0,
                       formats="svg")
    table = (out / "summary.md").read_text()
    assert table.count("| **simulation only** |") == 2
    text = (out / "report.md").read_text()
    assert "**2 configurations measured by simulation only**" in text
    assert "--exact-budget 0" in text  # the rebuild command keeps it
    # Kept as left to simulation with no seconds: a larger budget computes them again.
    entries = json.loads((out / theory.CACHE_FILE).read_text())["entries"].values()
    assert {(entry["source"], entry["budget"]) for entry in entries} == {
        (theory.SIMULATION_ONLY, 0.0)}
    out = build_report([crash_stop_sweep], out=tmp_path / "report", formats="svg")
    assert "| exhaustive " in (out / "summary.md").read_text()
    # The figures' curves too (they were left out under the first build's budget).
    row = _summary(crash_stop_sweep).iloc[0]
    assert np.isfinite(exact.within_theory(row, np.array([0.1]), x="crash_prob")).all()
    text = (out / "report.md").read_text()
    assert "| **simulation only** |" not in text
    assert "configurations measured by simulation only**" not in text
    assert (out / theory.CACHE_FILE).is_file()


def test_the_disk_cache_is_strict_json(tmp_path: Path) -> None:
    from paxos_exp.analysis.theory_cache import DiskCache

    cache = DiskCache(tmp_path / theory.CACHE_FILE)
    cache.put("key", {"violation": math.nan, "first": [0.5, math.nan]})
    cache.save()
    text = (tmp_path / theory.CACHE_FILE).read_text(encoding="utf-8")
    assert "NaN" not in text
    assert json.loads(text)["entries"]["key"] == {"violation": None, "first": [0.5, None]}


def test_a_row_beyond_the_budget_is_not_tried_again_with_the_same_budget(tmp_path: Path) -> None:
    row = _row(fail_prob=0.0, faults="crash_stop", crash_prob=0.2)
    for attempts in (1, 0):
        theory.clear_cache()
        with theory.session(theory.TheoryBudget(seconds=0.0)) as budget:
            theory.cache_beside(tmp_path)
            assert theory.row_exact(row).source == theory.SIMULATION_ONLY
        assert budget.too_large == attempts
