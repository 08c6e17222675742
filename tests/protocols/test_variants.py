"""The registered protocols: the wrong variants are caught by the safety checks, classic and
safe flexible quorums never are, unsafe quorums are refused unless asked for, and a safety
violation is an outcome (``safety=record``) or stops the job (``safety=fail``)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

import paxos_exp
from paxos_exp.core.config import RunConfig, Safety
from paxos_exp.core.errors import ConfigError
from paxos_exp.core.protocols import PROTOCOLS

WRONG = ("own_value", "ignore_own_state", "no_vote_without_join", "half_quorum")


def _violations(protocol, nodes: int, fail_prob: float, rounds: int, trials: int, seed: int = 1):
    result = paxos_exp.run(nodes, fail_prob, rounds, trials=trials, seed=seed, engine="inprocess",
                           protocol=protocol)
    return result, sum(not trial.agreement_ok for trial in result.trials), \
        sum(not trial.safe for trial in result.trials)


def test_every_shipped_protocol_is_registered_with_a_one_line_description():
    assert {"classic", "flexible", *WRONG} <= set(PROTOCOLS.names())
    for protocol in PROTOCOLS:
        assert protocol.description and "\n" not in protocol.description


@pytest.mark.parametrize("name", WRONG)
def test_each_wrong_variant_is_marked_unsafe_and_records_its_violations_by_default(name):
    config = RunConfig(3, 0.3, 20, protocol=name)
    assert not config.claims_safety and config.safety is Safety.record
    assert RunConfig(3, 0.3, 20).safety is Safety.fail


# Trials per sweep point: enough to expect a dozen violations at p=0.2 (seed 1 finds 1150,
# 43, 9 and 41 in 1,500 trials: no_vote_without_join breaks about once in 170 trials).
SWEEP_TRIALS = {"own_value": 500, "ignore_own_state": 500, "no_vote_without_join": 1500,
                "half_quorum": 500}


@pytest.mark.parametrize("name", WRONG)
def test_each_wrong_variant_breaks_agreement_somewhere_in_a_sweep(name):
    # Seeded: the same trials every time, so this never flakes; a variant that stopped
    # breaking agreement (its mistake undone) fails it.
    found = 0
    for fail_prob in (0.2, 0.3, 0.4):
        _, broken, _ = _violations(name, 3, fail_prob, 20, SWEEP_TRIALS[name])
        found += broken
        if found:
            break  # one sweep point with a violation is enough
    assert found > 0


def test_classic_and_safe_flexible_quorums_show_no_violation():
    for protocol, sizes in (("classic", (3, 5)),
                            ({"name": "flexible", "join_quorum": 2, "vote_quorum": 4}, (4, 5))):
        for nodes, fail_prob in ((sizes[0], 0.3), (sizes[1], 0.3), (sizes[1], 0.5)):
            _, _, unsafe = _violations(protocol, nodes, fail_prob, 10, 1000)
            assert unsafe == 0


def _classic_point(point: tuple[int, float]) -> tuple[int, int]:
    """Trials run and unsafe trials found at one (N, p) of the 200,000-trial check."""
    nodes, fail_prob = point
    result, _, unsafe = _violations("classic", nodes, fail_prob, 4, 22_300, seed=nodes)
    return len(result.trials), unsafe


@pytest.mark.slow
def test_classic_shows_no_violation_in_200_000_trials():
    # The nine points are independent: one worker per core halves the wall time on 2 cores.
    from concurrent.futures import ProcessPoolExecutor

    points = [(nodes, fail_prob) for nodes in (3, 4, 5) for fail_prob in (0.2, 0.3, 0.45)]
    with ProcessPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        found = dict(zip(points, pool.map(_classic_point, points)))
    assert {point: unsafe for point, (_, unsafe) in found.items()} == dict.fromkeys(points, 0)
    assert sum(trials for trials, _ in found.values()) >= 200_000


def test_unsafe_flexible_quorums_are_refused_with_the_reason():
    with pytest.raises(ConfigError) as info:
        RunConfig(5, 0.3, 20, protocol={"name": "flexible", "join_quorum": 2, "vote_quorum": 3})
    assert "need not share a node" in str(info.value) and "allow_unsafe" in str(info.value)


def test_unsafe_flexible_quorums_with_allow_unsafe_are_found_unsafe():
    protocol = {"name": "flexible", "join_quorum": 2, "vote_quorum": 3, "allow_unsafe": True}
    config = RunConfig(5, 0.3, 20, protocol=protocol)
    assert not config.claims_safety and config.safety is Safety.record
    # Seeded: 5 of the first 1,500 trials break agreement (17 of 6,000; about 1 in 350), so
    # 2,500 expect 7 and find some even if the draws were to change (P(none) about 0.1%).
    _, broken, _ = _violations(protocol, 5, 0.3, 20, 2500)
    assert broken > 0


@pytest.mark.parametrize("protocol, nodes", [
    ({"name": "flexible", "join_quorum": 2, "vote_quorum": 4}, 5),
    ("half_quorum", 4),
    ("own_value", 3),
])
def test_measured_round_decision_rate_matches_each_protocols_exact_law(protocol, nodes):
    config = RunConfig(nodes, 0.3, 10, protocol=protocol)
    law = config.law
    assert law is not None
    result = paxos_exp.run(nodes, 0.3, 10, trials=1500, seed=4, engine="inprocess", protocol=protocol)
    rounds = len(result.rounds)
    rate = sum(record.decided for record in result.rounds) / rounds
    standard_error = math.sqrt(law.decides * (1 - law.decides) / rounds)
    assert abs(rate - law.decides) < 4 * standard_error


def test_half_quorum_uses_floor_half_quorums():
    assert RunConfig(4, 0.1, 1, protocol="half_quorum").quorums == RunConfig(
        4, 0.1, 1, protocol={"name": "flexible", "join_quorum": 2, "vote_quorum": 2,
                             "allow_unsafe": True}).quorums


# -- the real-runtime half: the same variants on engine="processes", a small seeded sample ----
# (That the engines give identical records for every protocol is the conformance suite's:
# tests/conformance/test_engines.py.) Each seed was picked so that this small sample holds
# violations; the run is deterministic, so the test never flakes, and a variant whose mistake
# were undone would show none and fail it.

UNSAFE_FLEXIBLE_5 = {"name": "flexible", "join_quorum": 2, "vote_quorum": 3, "allow_unsafe": True}
UNSAFE_FLEXIBLE_3 = {"name": "flexible", "join_quorum": 1, "vote_quorum": 2, "allow_unsafe": True}
# name: (protocol, nodes, fail_prob, rounds, trials, seed)
REAL_RUNTIME_CASES = {
    "own_value": ("own_value", 3, 0.3, 20, 20, 0),
    "ignore_own_state": ("ignore_own_state", 3, 0.3, 20, 20, 4),
    "no_vote_without_join": ("no_vote_without_join", 3, 0.3, 20, 20, 60),
    "half_quorum": ("half_quorum", 3, 0.3, 20, 20, 0),
    "flexible-2+3-of-5-unsafe": (UNSAFE_FLEXIBLE_5, 5, 0.3, 20, 40, 9),
    "flexible-1+2-of-3-unsafe": (UNSAFE_FLEXIBLE_3, 3, 0.3, 20, 20, 6),
}


def test_the_real_runtime_cases_cover_every_wrong_variant():
    names = {case[0] if isinstance(case[0], str) else case[0]["name"]
             for case in REAL_RUNTIME_CASES.values()}
    assert names == {*WRONG, "flexible"}
    for protocol, nodes, *_ in REAL_RUNTIME_CASES.values():
        config = RunConfig(nodes, 0.3, 1, protocol=protocol)
        assert not config.claims_safety
        if isinstance(protocol, dict):
            assert config.quorums.join + config.quorums.vote <= nodes


@pytest.mark.parametrize("name", REAL_RUNTIME_CASES)
def test_each_wrong_variant_breaks_agreement_on_the_real_runtime(name):
    protocol, nodes, fail_prob, rounds, trials, seed = REAL_RUNTIME_CASES[name]
    result = paxos_exp.run(nodes, fail_prob, rounds, trials=trials, seed=seed,
                           engine="processes", protocol=protocol)
    assert result.engine == "processes" and result.config.safety is Safety.record
    broken = [trial for trial in result.trials if not trial.agreement_ok]
    assert broken, f"{name}: no agreement violation in {trials} trials"
    for trial in broken:  # the records show it: two different values decided in one trial
        decided = {r.decision for r in result.rounds if r.trial == trial.trial and r.decided}
        assert decided == {0, 1}
    assert not result.safe
    # The same trials under classic (same seed, same draws): no violation at all.
    classic = paxos_exp.run(nodes, fail_prob, rounds, trials=trials, seed=seed,
                            engine="processes", protocol="classic")
    assert classic.safe and all(trial.safe for trial in classic.trials)


@pytest.mark.slow
def test_classic_and_safe_flexible_quorums_show_no_violation_on_the_real_runtime():
    # A modest sample (4,000 rounds) where the wrong variants above break within 400 rounds.
    total = 0
    for protocol, nodes, fail_prob, seed in (("classic", 3, 0.3, 1), ("classic", 4, 0.3, 2),
                                             ("classic", 5, 0.4, 3),
                                             ({"name": "flexible", "join_quorum": 2,
                                               "vote_quorum": 4}, 5, 0.3, 4)):
        result = paxos_exp.run(nodes, fail_prob, 20, trials=50, seed=seed, engine="processes",
                               protocol=protocol)
        assert result.safe and all(trial.safe for trial in result.trials), (protocol, nodes)
        total += len(result.rounds)
    assert total == 4000


def _app(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "paxos_exp.app", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=240)


def test_safety_fail_stops_a_job_at_the_first_violation_and_keeps_the_trials_before(tmp_path):
    import json

    done = _app(["protocol=own_value", "safety=fail", "nodes=3", "fail_prob=0.3", "rounds=20",
                 "trials=500", "engine=inprocess", "name=stop"], tmp_path)
    assert done.returncode == 1
    assert "safety violated in trial" in done.stderr
    (result,) = tmp_path.glob("outputs/runs/stop/*/result.json")
    document = json.loads(result.read_text())
    assert document["status"] == "failed"
    # The run stopped at its first unsafe trial: it is the last one in the table.
    import pyarrow.parquet as pq

    trials = pq.read_table(result.parent / "trials.parquet").to_pandas()
    assert 1 <= len(trials) < 500
    safe = trials["agreement_ok"] & trials["validity_ok"] & trials["proposals_ok"]
    assert not safe.iloc[-1] and safe.iloc[:-1].all()


def test_safety_record_makes_violations_an_outcome_with_their_rate(tmp_path):
    import json

    done = _app(["protocol=own_value", "nodes=3", "fail_prob=0.3", "rounds=20", "trials=300",
                 "engine=inprocess", "name=record"], tmp_path)
    assert done.returncode == 0, done.stderr
    (result,) = tmp_path.glob("outputs/runs/record/*/result.json")
    document = json.loads(result.read_text())
    safety = document["summary"]["safety"]
    assert document["status"] == "ok" and safety["policy"] == "record"
    assert safety["violation_rate"] == safety["unsafe_count"] / 300 > 0
    assert document["config"]["protocol"] == {"name": "own_value"}


def test_help_lists_every_protocol_and_fault_model(tmp_path):
    done = _app(["--help"], tmp_path)
    assert done.returncode == 0
    for name in [*PROTOCOLS.names(), "omission"]:
        assert f"  {name} " in done.stdout


def test_an_unknown_protocol_is_one_line(tmp_path):
    done = _app(["protocol=nope"], tmp_path)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "protocol" in done.stderr
