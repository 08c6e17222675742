"""Composed fault models in the analysis: one ``faults`` column (``omission+partition``), each
model's settings as columns, and a sweep over lists of models whose jobs are all found."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from analysis_helpers import run_sweep

from paxos_exp.analysis.grid import normalise
from paxos_exp.analysis.job import flatten_config
from paxos_exp.analysis.load import load
from paxos_exp.analysis.report import build_report


def test_composed_models_flatten_to_one_column_and_their_settings():
    flat = flatten_config({"nodes": 3, "faults": [
        {"name": "link_loss", "rule": "one_link", "prob": 0.5, "link": [0, 2]},
        {"name": "omission"}]})
    assert flat["faults"] == "link_loss+omission"
    assert (flat["rule"], flat["prob"], flat["link"]) == ("one_link", 0.5, "[0, 2]")
    assert flatten_config({"faults": {"name": "omission"}})["faults"] == "omission"
    # A sweep's list override is spelled as the column is.
    assert normalise(["partition", "omission"]) == "omission+partition"
    assert normalise(["omission"]) == "omission" and normalise([0, 2]) == "[0, 2]"


def test_a_setting_named_as_a_derived_column_gets_its_group_prefix():
    # link_loss's ``fraction`` would clash with the first-round distribution's ``fraction``
    # (its figure was skipped when the setting varied): it is read as faults_fraction.
    flat = flatten_config({"nodes": 3, "faults": {"name": "link_loss", "rule": "random_subset",
                                                  "prob": 0.2, "fraction": 0.5}})
    assert flat["faults_fraction"] == 0.5 and "fraction" not in flat
    assert flat["prob"] == 0.2


def test_every_column_the_analysis_derives_is_reserved_from_settings():
    from paxos_exp.analysis import aggregate
    from paxos_exp.analysis.job import DERIVED_COLUMNS

    derived = {*aggregate._OUTPUT_COLUMNS, *aggregate.FIRST_ROUND_COLUMNS}
    assert derived <= DERIVED_COLUMNS, sorted(derived - DERIVED_COLUMNS)


def test_a_sweep_over_lists_of_fault_models_is_read_and_reported_whole(tmp_path: Path):
    sweep = run_sweep(tmp_path, "faults", "faults=[omission,partition],[omission],[crash_stop]",
                      "nodes=3", "rounds=4",
                      "trials=40", "engine=inprocess", "report=false")
    results = load([sweep])
    assert sorted(results.jobs["faults"]) == ["crash_stop", "omission", "omission+partition"]
    assert results.problems.empty if isinstance(results.problems, pd.DataFrame) \
        else not results.problems
    partitioned = results.jobs[results.jobs["faults"] == "omission+partition"].iloc[0]
    assert partitioned["partition_prob"] == 0.1  # its default
    out = build_report([sweep])
    problems = pd.read_csv(out / "problems.csv") if (out / "problems.csv").exists() else None
    assert problems is None or problems.empty
    text = (out / "report.md").read_text()
    assert "omission+partition" in text
    # A model's setting that other jobs lack is told apart by their fault models.
    assert "| `crash_prob` | varies: 0.1, not set (faults omission, omission+partition) |" in text
