"""The public pandas API: paxos_exp.load_sweeps and paxos_exp.summarize (dtypes, one meaning
per column name, the summary against the per-trial rows)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import paxos_exp
from paxos_exp.analysis.discover import ReportError

CONFIG = ("protocol", "faults", "nodes", "fail_prob", "rounds")


def test_exported_with_docstrings() -> None:
    for name in ("load_sweeps", "summarize", "Sweeps"):
        assert name in paxos_exp.__all__ and name in dir(paxos_exp)
        assert len((getattr(paxos_exp, name).__doc__ or "").split()) > 30, name


def test_load_sweeps_types_every_frame(tiny_sweep: Path) -> None:
    sweeps = paxos_exp.load_sweeps(tiny_sweep)
    assert repr(sweeps) == "Sweeps(jobs=8, trials=240, rounds=360, problems=0)"
    for frame in (sweeps.jobs, sweeps.trials, sweeps.rounds):
        for column in CONFIG:
            dtype = frame[column].dtype
            assert isinstance(dtype, pd.CategoricalDtype) and dtype.ordered, (column, dtype)
        assert list(frame["nodes"].cat.categories) == [3, 5]
        assert list(frame["fail_prob"].cat.categories) == [0.1, 0.4]
        assert frame["trace"].dtype == bool
    trials, rounds, jobs = sweeps.trials, sweeps.rounds, sweeps.jobs
    # Numbers still compare and select as numbers.
    assert len(trials[trials["nodes"] >= 5]) == 120
    # Booleans are booleans; what may be missing is a nullable integer, missing exactly there.
    for column in ("decided", "agreement_ok", "validity_ok", "proposals_ok"):
        assert trials[column].dtype == bool
    assert rounds["decided"].dtype == bool
    for frame, column in ((trials, "first_decision_round"), (trials, "decision"),
                          (rounds, "decision"), (rounds, "proposal")):
        assert isinstance(frame[column].dtype, pd.api.extensions.ExtensionDtype)
        assert pd.api.types.is_integer_dtype(frame[column].dtype), (column, frame[column].dtype)
    assert (trials["first_decision_round"].isna() == ~trials["decided"]).all()
    assert (trials["decision"].isna() == ~trials["decided"]).all()
    assert (rounds["decision"].isna() == ~rounds["decided"]).all()
    for column in ("trial", "deciding_rounds"):
        assert trials[column].dtype.itemsize <= 2
    for column in ("round", "leader", "votes", "sent_total" if "sent_total" in rounds else
                   "sent_join", "crashed"):
        assert rounds[column].dtype.itemsize == 1, column


def test_one_meaning_per_column_name(tiny_sweep: Path) -> None:
    sweeps = paxos_exp.load_sweeps(tiny_sweep)
    jobs, trials, rounds = sweeps.jobs, sweeps.trials, sweeps.rounds
    # ``trials`` counts trials: a job's own count, never a column of per-trial/round rows.
    assert "trials" not in trials.columns and "trials" not in rounds.columns
    per_job = trials.groupby("job_key", observed=True).size()
    assert (jobs.set_index("job_key")["trials"] == per_job.reindex(jobs["job_key"]).values).all()
    # ``decided`` is a flag; the count is ``decided_trials``.
    assert "decided" not in jobs.columns
    decided = trials.groupby("job_key", observed=True)["decided"].sum()
    assert (jobs.set_index("job_key")["decided_trials"]
            == decided.reindex(jobs["job_key"]).values).all()
    assert jobs["decided_trials"].dtype == "Int64"
    # ``trial`` and ``round`` are indices; ``rounds`` is the configured limit.
    assert sorted(trials["trial"].unique()) == list(range(30))
    within = rounds["round"].astype(int) < rounds["rounds"].astype(int)
    assert within.all()
    assert len(rounds) == int((jobs["trials"] * jobs["rounds"].astype(int)).sum())


def test_load_sweeps_can_skip_the_big_frames(tiny_sweep: Path) -> None:
    sweeps = paxos_exp.load_sweeps([tiny_sweep], rounds=False)
    assert sweeps.rounds is None and len(sweeps.trials) == 240
    lean = paxos_exp.load_sweeps(tiny_sweep, trials=False, rounds=False)
    assert lean.trials is None and lean.rounds is None and len(lean.jobs) == 8


def test_load_sweeps_reads_csv_tables_the_same(tiny_sweep: Path, tiny_csv_sweep: Path) -> None:
    parquet = paxos_exp.load_sweeps(tiny_sweep)
    csv = paxos_exp.load_sweeps(tiny_csv_sweep)
    for name in ("trials", "rounds"):
        left = getattr(parquet, name).sort_values(["job_key", "trial"], kind="stable")
        right = getattr(csv, name).sort_values(["job_key", "trial"], kind="stable")
        columns = [c for c in left.columns if c != "job_key"]
        pd.testing.assert_frame_equal(left[columns].reset_index(drop=True),
                                      right[columns].reset_index(drop=True))


def test_a_bad_path_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no such directory"):
        paxos_exp.load_sweeps(tmp_path / "nowhere")


def test_summarize_jobs_and_trials_agree_and_count_right(tiny_sweep: Path) -> None:
    sweeps = paxos_exp.load_sweeps(tiny_sweep, rounds=False)
    by = ["nodes", "fail_prob", "rounds"]
    from_jobs = paxos_exp.summarize(sweeps.jobs, by=by)
    from_trials = paxos_exp.summarize(sweeps.trials, by=by)
    assert len(from_jobs) == 8
    shared = ["trials", "decided_trials", "decision_rate", "ci_low", "ci_high", "theory", "z",
              "deciding_rounds", "round_rate", "first_round_mean", "violations"]
    pd.testing.assert_frame_equal(from_jobs[by + shared], from_trials[by + shared])
    counts = sweeps.trials.groupby(by, observed=True)["decided"].agg(["size", "sum"])
    merged = from_jobs.join(counts, on=by)
    assert (merged["trials"] == merged["size"]).all()
    assert (merged["decided_trials"] == merged["sum"]).all()
    assert from_jobs["decided_trials"].dtype == "Int64"
    assert np.allclose(from_jobs["decision_rate"], merged["sum"] / merged["size"])
    assert ((from_jobs["ci_low"] <= from_jobs["decision_rate"])
            & (from_jobs["decision_rate"] <= from_jobs["ci_high"])).all()
    # The exact law in one place: R rounds decide with 1 - (1 - s)^R, s one round's chance.
    exact = 1 - (1 - from_jobs["round_theory"]) ** from_jobs["rounds"].astype(int)
    assert np.allclose(from_jobs["theory"], exact)


def test_summarize_by_fewer_keys_pools_and_says_when_theory_is_undefined(tiny_sweep: Path):
    sweeps = paxos_exp.load_sweeps(tiny_sweep, rounds=False)
    by_nodes = paxos_exp.summarize(sweeps.jobs, by=["nodes"])
    assert list(by_nodes["nodes"]) == [3, 5]
    assert list(by_nodes["trials"]) == [120, 120] and list(by_nodes["jobs"]) == [4, 4]
    # p and R vary inside each group: no single exact law, and no verdict against one.
    assert by_nodes["theory"].isna().all() and by_nodes["outside_99"].isna().all()
    # One p and one R in the group: its law is known although they are not grouping keys.
    one = sweeps.jobs[(sweeps.jobs["fail_prob"] == 0.1) & (sweeps.jobs["rounds"] == 2)]
    pooled = paxos_exp.summarize(one, by=["nodes"])
    grouped = paxos_exp.summarize(one, by=["nodes", "fail_prob", "rounds"])
    assert np.allclose(pooled["theory"], grouped["theory"])
    assert not math.isnan(pooled["theory"].iloc[0])


def test_summarize_a_filtered_trials_frame(tiny_sweep: Path) -> None:
    trials = paxos_exp.load_sweeps(tiny_sweep, rounds=False).trials
    values = trials["trial_initial_values"].astype(str)
    unanimous = trials[~(values.str.contains("0") & values.str.contains("1"))]
    summary = paxos_exp.summarize(unanimous, by=["nodes"])
    assert summary["trials"].sum() == len(unanimous)
    assert "messages_per_decision" not in summary.columns  # per-trial rows do not say


def test_summarize_refuses_what_it_cannot_do(tiny_sweep: Path) -> None:
    sweeps = paxos_exp.load_sweeps(tiny_sweep)
    with pytest.raises(ValueError, match="not the rounds frame"):
        paxos_exp.summarize(sweeps.rounds)
    with pytest.raises(ValueError, match="no column colour"):
        paxos_exp.summarize(sweeps.jobs, by=["colour"])
