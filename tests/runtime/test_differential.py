"""The real ZeroMQ multi-process engine against the in-process reference, seed for seed."""

from __future__ import annotations

from collections import Counter

import pytest

import paxos_exp

pytestmark = pytest.mark.timeout(120)

# (nodes, fail_prob, rounds, trials, seed, start_method, trace)
CASES = [
    (1, 0.0, 5, 2, 0, "fork", True),
    (1, 0.5, 40, 3, 1, "fork", False),
    (2, 0.1, 30, 2, 2, "fork", True),
    (2, 0.6, 30, 2, 3, "fork", False),
    (3, 0.0, 10, 2, 4, "fork", False),
    (3, 0.3, 50, 3, 5, "fork", True),
    (4, 0.1, 40, 2, 6, "fork", True),
    (4, 0.6, 40, 2, 7, "fork", False),
    (5, 0.3, 40, 2, 8, "fork", True),
    (5, 1.0, 10, 2, 9, "fork", True),
    (7, 0.1, 25, 2, 10, "fork", False),
    (7, 0.3, 30, 2, 11, "fork", True),
    (9, 0.2, 20, 2, 15, "fork", False),
    (3, 0.3, 10, 2, 12, "spawn", True),
    (4, 0.1, 8, 2, 13, "spawn", False),
    (5, 0.3, 10, 2, 14, "forkserver", True),
]


def _id(case):
    nodes, p, rounds, trials, seed, method, trace = case
    return f"N{nodes}-p{p}-R{rounds}-T{trials}-s{seed}-{method}{'-trace' if trace else ''}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_processes_engine_matches_inprocess_engine(case):
    nodes, p, rounds, trials, seed, method, trace = case
    common = dict(trials=trials, seed=seed, trace=trace)
    real = paxos_exp.run(nodes, p, rounds, engine="processes", start_method=method, **common)
    reference = paxos_exp.run(nodes, p, rounds, engine="inprocess", **common)
    assert real.engine == "processes" and real.start_method == method
    assert len(real.rounds) == rounds * trials
    assert real.rounds == reference.rounds
    assert real.trials == reference.trials
    if trace:
        assert real.trace is not None and len(real.trace) == sum(r.messages for r in real.rounds)
        assert real.trace == reference.trace
    else:
        assert real.trace is None and reference.trace is None
    assert real.safe


def test_fixed_initial_values_and_quorum_variants_match():
    common = dict(trials=2, seed=21, initial_values="01101",
                  protocol={"name": "flexible", "join_quorum": 2, "vote_quorum": 4}, trace=True)
    real = paxos_exp.run(5, 0.25, 15, engine="processes", **common)
    reference = paxos_exp.run(5, 0.25, 15, engine="inprocess", **common)
    assert (real.rounds, real.trials, real.trace) == (reference.rounds, reference.trials, reference.trace)
    assert all(t.initial_values == (0, 1, 1, 0, 1) for t in real.trials)


def test_zero_rounds_on_processes():
    real = paxos_exp.run(3, 0.2, 0, trials=2, engine="processes")
    assert real.rounds == () and len(real.trials) == 2
    assert real.trials == paxos_exp.run(3, 0.2, 0, trials=2, engine="inprocess").trials


def _by_round(lines):
    rounds: list[Counter] = []
    for line in lines:
        if line.startswith("ROUND ") and " STARTED WITH INITIAL VALUE: " in line:
            assert int(line.split()[1]) == len(rounds)
            rounds.append(Counter())
        assert rounds, f"line before the first ROUND line: {line!r}"
        rounds[-1][line] += 1
    return rounds


def test_processes_transcript_matches_inprocess_transcript(capfd):
    capfd.readouterr()
    paxos_exp.run(4, 0.3, 12, seed=31, engine="processes", transcript=True)
    printed = capfd.readouterr().out.splitlines()
    reference: list[str] = []
    paxos_exp.run(4, 0.3, 12, seed=31, engine="inprocess", emit=reference.append)
    # Lines of different nodes interleave within a round, but rounds never mix (barrier).
    assert _by_round(printed) == _by_round(reference)
    assert len(_by_round(printed)) == 12
