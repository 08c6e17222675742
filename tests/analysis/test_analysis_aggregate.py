"""Aggregation, intervals and the theory column on hand-built frames with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from paxos_exp.analysis import aggregate, stats
from paxos_exp.core import theory
from paxos_exp.core.quorum import Quorums

# PROTOCOL.md, "Exact decision probability": f^2 to four decimals.
REFERENCE_F2 = {
    3: {0.1: 0.8707, 0.2: 0.6057, 0.3: 0.3481, 0.5: 0.0625},
    4: {0.1: 0.7535, 0.2: 0.3795, 0.3: 0.1405, 0.5: 0.0074},
    5: {0.1: 0.9259, 0.2: 0.6401, 0.3: 0.3135, 0.5: 0.0244},
    9: {0.1: 0.9757, 0.2: 0.7098, 0.3: 0.2838, 0.5: 0.0050},
}


def job(**values: object) -> dict[str, object]:
    """One job row as load() makes it, with neutral defaults."""
    row: dict[str, object] = {
        "status": "ok", "nodes": 3, "fail_prob": 0.1, "rounds": 1, "trials": 100, "seed": 0,
        "engine": "inprocess", "join_quorum": None, "vote_quorum": None, "decided": 50,
        "rounds_total": 100, "deciding_rounds": 50, "roundchanges": 10,
        "first_round_mean": 0.0, "sent_total": 1000, "safe": True, "wall_seconds": 0.5,
    }
    row.update(values)
    return row


def wilson_by_hand(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


@pytest.mark.parametrize("k,n", [(0, 10), (5, 10), (10, 10), (81, 263), (1, 2000)])
def test_wilson_interval_matches_the_closed_form(k: int, n: int) -> None:
    low, high = stats.wilson_interval(k, n)
    expected = wilson_by_hand(k, n)
    assert low[0] == pytest.approx(max(0.0, expected[0]), abs=1e-12)
    assert high[0] == pytest.approx(min(1.0, expected[1]), abs=1e-12)


def test_wilson_interval_known_values() -> None:
    low, high = stats.wilson_interval([0, 5], [10, 10])
    assert low[0] == 0.0 and high[0] == pytest.approx(0.2775, abs=1e-4)
    assert (low[1], high[1]) == pytest.approx((0.2366, 0.7634), abs=1e-4)


def test_z_score_is_the_standardised_deviation() -> None:
    assert stats.z_score(60, 100, 0.5)[0] == pytest.approx(2.0)
    assert stats.z_score(40, 100, 0.5)[0] == pytest.approx(-2.0)
    assert stats.z_score(4, 100, 0.01)[0] == pytest.approx(0.03 / math.sqrt(0.0099 / 100))


def test_z_score_when_theory_is_certain() -> None:
    z = stats.z_score([0, 100, 1, 99, 5], [100, 100, 100, 100, 0], [0.0, 1.0, 0.0, 1.0, 0.5])
    assert z[0] == 0.0 and z[1] == 0.0  # the certain outcome: no deviation
    assert z[2] == math.inf and z[3] == -math.inf  # an impossible outcome
    assert math.isnan(z[4])  # no sample


def test_acceptance_interval_has_at_most_half_a_percent_in_each_tail() -> None:
    for n, p in [(100, 0.5), (2000, 0.0625), (200, 0.99), (30, 0.3)]:
        low, high = (int(v[0]) for v in stats.acceptance_interval(n, p))
        assert binom.cdf(low - 1, n, p) < 0.005 <= binom.cdf(low, n, p)
        assert binom.sf(high, n, p) <= 0.005 < binom.sf(high - 1, n, p)
    low, high = stats.acceptance_interval(100, 0.5)
    assert (low[0], high[0]) == (37, 63)
    assert list(stats.outside_acceptance([36, 37, 63, 64], 100, 0.5)) == [True, False, False,
                                                                                True]


def test_certain_theory_flags_any_other_count() -> None:
    assert list(stats.outside_acceptance([100, 99], 100, 1.0)) == [False, True]
    assert list(stats.outside_acceptance([0, 1], 100, 0.0)) == [False, True]


def test_theory_column_reproduces_protocol_reference_values() -> None:
    frame = pd.DataFrame([{"nodes": n, "fail_prob": p, "rounds": rounds}
                          for n, values in REFERENCE_F2.items() for p in values
                          for rounds in (1, 3)])
    exact = aggregate.theory_columns(frame)
    for (_, row), (_, value) in zip(frame.iterrows(), exact.iterrows()):
        f2 = REFERENCE_F2[row["nodes"]][row["fail_prob"]]
        assert value["round_theory"] == pytest.approx(f2, abs=5e-5)
        within = 1 - (1 - value["round_theory"]) ** row["rounds"]
        assert value["theory"] == pytest.approx(within, rel=1e-12)
        assert value["roundchange_theory"] == pytest.approx(1 - math.sqrt(value["round_theory"]))


def test_theory_follows_custom_quorums() -> None:
    frame = pd.DataFrame([{"nodes": 5, "fail_prob": 0.2, "rounds": 2, "join_quorum": 4,
                           "vote_quorum": np.nan}])
    exact = aggregate.theory_columns(frame).iloc[0]
    per_round = theory.round_decision_probability(5, 0.2, 4, None)
    assert exact["round_theory"] == pytest.approx(per_round)
    assert per_round < theory.round_decision_probability(5, 0.2)


def _law(nodes: int, fail_prob: float) -> theory.RoundLaw:
    return theory.quorum_law(nodes, fail_prob, Quorums.for_nodes(nodes))


def test_messages_per_round_at_the_extremes() -> None:
    # p = 0: START + JOIN phases (2N - 1) and PROPOSE + VOTE phases (2N - 1).
    assert _law(3, 0.0).messages_per_round(3) == 10
    # p = 1: N START-or-CRASH, N - 1 CRASH relays, N - 1 ROUNDCHANGE.
    assert _law(3, 1.0).messages_per_round(3) == 7
    assert _law(1, 0.0).messages_per_round(1) == 2
    assert _law(3, 1.0).messages_per_decision(3) == math.inf


def test_first_round_theory_is_a_truncated_geometric() -> None:
    law = theory.RoundLaw(proposes=0.7, decides=0.5)
    assert law.first_round(3) == pytest.approx([0.5, 0.25, 0.125, 0.125])
    assert law.first_round_mean(3) == pytest.approx((0.25 + 2 * 0.125) / 0.875)
    assert math.isnan(theory.RoundLaw(proposes=0.0, decides=0.0).first_round_mean(3))


def test_no_theory_where_the_protocol_has_no_law_or_is_unknown() -> None:
    frame = pd.DataFrame([{"nodes": 3, "fail_prob": 0.2, "rounds": 2, "protocol": "nonesuch"}])
    exact = aggregate.theory_columns(frame)
    assert exact.drop(columns="theory_source").isna().all(axis=None)
    assert list(exact["theory_source"]) == ["simulation only"]


def test_summary_counts_rates_and_intervals() -> None:
    jobs = pd.DataFrame([job(nodes=3, fail_prob=0.5, rounds=2, trials=200, decided=30,
                             rounds_total=400, deciding_rounds=32, roundchanges=250,
                             first_round_mean=0.4, sent_total=3200, wall_seconds=2.0)])
    row = aggregate.summarize(jobs).iloc[0]
    assert (row["trials"], row["decided"], row["jobs"]) == (200, 30, 1)
    assert row["decision_rate"] == pytest.approx(0.15)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(wilson_by_hand(30, 200))
    expected = theory.decision_within_probability(3, 0.5, 2)
    assert row["theory"] == pytest.approx(expected)
    assert row["z"] == pytest.approx((0.15 - expected) / math.sqrt(expected * (1 - expected) / 200))
    assert row["round_rate"] == pytest.approx(32 / 400)
    assert row["round_theory"] == pytest.approx(0.0625)
    assert row["roundchange_rate"] == pytest.approx(250 / 400)
    assert row["first_round_mean"] == pytest.approx(0.4)
    assert row["messages_per_round"] == pytest.approx(8.0)
    assert row["messages_per_decision"] == pytest.approx(100.0)
    assert row["messages_per_decision_low"] < 100 < row["messages_per_decision_high"]
    assert row["wall_per_trial_ms"] == pytest.approx(10.0)


def test_replicates_are_pooled_by_adding_counts() -> None:
    jobs = pd.DataFrame([
        job(seed=1, trials=100, decided=80, rounds_total=100, deciding_rounds=80,
            first_round_mean=0.0, wall_seconds=1.0),
        job(seed=2, trials=300, decided=150, rounds_total=300, deciding_rounds=150,
            first_round_mean=0.0, wall_seconds=2.0),
    ])
    summary = aggregate.summarize(jobs)
    assert len(summary) == 1
    row = summary.iloc[0]
    assert (row["jobs"], row["seeds"], row["trials"], row["decided"]) == (2, "1,2", 400, 230)
    assert row["decision_rate"] == pytest.approx(230 / 400)  # not the mean of 0.8 and 0.5
    assert row["wall_seconds"] == pytest.approx(3.0)


def test_first_round_mean_is_weighted_by_decided_trials() -> None:
    jobs = pd.DataFrame([
        job(seed=1, rounds=3, decided=10, first_round_mean=0.0),
        job(seed=2, rounds=3, decided=30, first_round_mean=2.0),
    ])
    assert aggregate.summarize(jobs).iloc[0]["first_round_mean"] == pytest.approx(60 / 40)


def test_a_differing_key_is_never_averaged_over() -> None:
    jobs = pd.DataFrame([
        job(engine="inprocess", decided=90),
        job(engine="processes", decided=10),
        job(engine="processes", decided=20, join_quorum=3, vote_quorum=3),
    ])
    summary = aggregate.summarize(jobs)
    assert "engine" in summary.columns and "join_quorum" in summary.columns
    assert len(summary) == 3
    assert sorted(summary["decided"]) == [10, 20, 90]
    strict = summary[summary["decided"] == 20].iloc[0]
    assert strict["round_theory"] == pytest.approx(theory.round_decision_probability(3, 0.1, 3, 3))


def test_group_keys() -> None:
    jobs = pd.DataFrame([job(seed=1), job(seed=2, engine="processes"), job(seed=3, trials=50)])
    assert aggregate.group_keys(jobs) == ["nodes", "fail_prob", "rounds", "engine"]
    assert aggregate.group_keys(jobs, extra=["seed"]) == ["nodes", "fail_prob", "rounds",
                                                           "engine", "seed"]
    with pytest.raises(KeyError):
        aggregate.group_keys(jobs, extra=["colour"])


def test_failed_jobs_are_left_out() -> None:
    jobs = pd.DataFrame([job(decided=50), job(status="failed", decided=np.nan, seed=1)])
    summary = aggregate.summarize(jobs)
    assert summary.iloc[0]["trials"] == 100 and summary.iloc[0]["jobs"] == 1


def test_outliers_flag_measurements_far_from_theory() -> None:
    per_round = theory.round_decision_probability(3, 0.1)
    close = round(per_round * 1000)
    jobs = pd.DataFrame([
        job(fail_prob=0.1, trials=1000, decided=close, rounds_total=1000, deciding_rounds=close),
        job(fail_prob=0.3, trials=1000, decided=700, rounds_total=1000, deciding_rounds=700),
    ])
    summary = aggregate.summarize(jobs)
    assert list(summary["outside_99"]) == [False, True]
    assert abs(summary["z"].iloc[0]) < 1 and summary["z"].iloc[1] > 10
    flagged = aggregate.outliers(summary)
    assert list(flagged["fail_prob"]) == [0.3]


def test_rounds_zero_has_no_per_round_rate() -> None:
    jobs = pd.DataFrame([job(rounds=0, decided=0, rounds_total=0, deciding_rounds=0,
                             sent_total=0, first_round_mean=np.nan)])
    row = aggregate.summarize(jobs).iloc[0]
    assert row["theory"] == 0.0 and row["z"] == 0.0 and not row["outside_99"]
    assert math.isnan(row["round_rate"]) and math.isnan(row["round_z"])


def test_first_round_distribution_counts_and_theory() -> None:
    trials = pd.DataFrame({
        "nodes": 3, "fail_prob": 0.3, "rounds": 3, "trial": range(6),
        "first_decision_round": [0, 0, 1, 2, np.nan, 0],
    })
    dist = aggregate.first_round_distribution(trials, ["nodes", "fail_prob", "rounds"])
    assert list(dist["first_round"]) == [0, 1, 2, -1]
    assert list(dist["count"]) == [3, 1, 1, 1]
    assert dist["fraction"].sum() == pytest.approx(1.0)
    assert dist["theory"].sum() == pytest.approx(1.0)
    s = theory.round_decision_probability(3, 0.3)
    assert dist["theory"].iloc[1] == pytest.approx((1 - s) * s)


def test_replicates_can_be_kept_apart() -> None:
    jobs = pd.DataFrame([job(seed=1, decided=80), job(seed=2, decided=50)])
    summary = aggregate.summarize(jobs, pool=())
    assert list(summary["seed"]) == [1, 2] and list(summary["decided"]) == [80, 50]


def test_leader_down_rate_is_missing_where_a_job_did_not_count_it():
    # A result written before leader_down_rounds existed (None) pooled with a newer one: a
    # sum over the newer alone would understate the rate.
    jobs = pd.DataFrame({
        "nodes": [3, 3, 3], "fail_prob": [0.1, 0.1, 0.2], "rounds": [2, 2, 2],
        "seed": [0, 1, 0], "trials": [10, 10, 10], "decided": [5, 6, 7],
        "rounds_total": [20, 20, 20], "deciding_rounds": [5, 6, 7], "roundchanges": [3, 3, 3],
        "leader_down_rounds": [1, None, 2]})
    summary = aggregate.summarize(jobs)
    assert math.isnan(summary.loc[summary["fail_prob"] == 0.1, "leader_down_rate"].iloc[0])
    assert summary.loc[summary["fail_prob"] == 0.2, "leader_down_rate"].iloc[0] == 0.1
