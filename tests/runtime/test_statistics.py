"""Measured decision and round-change rates against the exact formula of PROTOCOL.md.

Large samples on the in-process reference engine; the same check on every engine, with a
sample the real runtime can afford, is in tests/conformance/test_engines.py
(test_round_rates_match_the_exact_law). Tolerances are 4 binomial standard errors of the
sample at hand (never a magic number); seeds are fixed, so each test is deterministic.
"""

from __future__ import annotations

import math

import pytest

import paxos_exp
from paxos_exp.core import theory

Z = 4.0


def _assert_rate(observed: int, n: int, expected: float, what: str) -> None:
    error = math.sqrt(expected * (1.0 - expected) / n)
    rate = observed / n
    # At p in {0, 1} the standard error is 0 and the count must be exact.
    assert abs(rate - expected) <= Z * error + 1e-12, (
        f"{what}: measured {rate:.5f} over {n} rounds, theory {expected:.5f}, "
        f"allowed +-{Z * error:.5f}"
    )


def _check(result, nodes: int, p: float) -> None:
    n = len(result.rounds)
    decided = sum(record.decided for record in result.rounds)
    changed = sum(record.proposal is None for record in result.rounds)
    _assert_rate(decided, n, theory.round_decision_probability(nodes, p), f"deciding rounds N={nodes} p={p}")
    _assert_rate(changed, n, theory.roundchange_probability(nodes, p), f"ROUNDCHANGE rounds N={nodes} p={p}")
    assert result.safe


INPROCESS_ROUNDS = 20_000


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
@pytest.mark.parametrize("nodes", [1, 2, 3, 4, 5, 9])
def test_inprocess_rates_match_theory(nodes, p):
    seed = 1000 * nodes + int(100 * p)
    result = paxos_exp.run(nodes, p, INPROCESS_ROUNDS, seed=seed, engine="inprocess")
    assert len(result.rounds) == INPROCESS_ROUNDS
    _check(result, nodes, p)


def test_inprocess_rates_with_custom_quorums_match_theory():
    nodes, p, join, vote = 5, 0.2, 2, 4
    result = paxos_exp.run(nodes, p, 5000, trials=2, seed=7, engine="inprocess",
                          protocol={"name": "flexible", "join_quorum": join, "vote_quorum": vote})
    n = len(result.rounds)
    _assert_rate(sum(r.decided for r in result.rounds), n,
                 theory.round_decision_probability(nodes, p, join, vote), "deciding rounds, custom quorums")
    _assert_rate(sum(r.proposal is None for r in result.rounds), n,
                 theory.roundchange_probability(nodes, p, join), "ROUNDCHANGE rounds, custom quorums")


def test_trial_level_decision_rate_matches_theory():
    nodes, p, rounds, trials = 3, 0.5, 3, 4000
    result = paxos_exp.run(nodes, p, rounds, trials=trials, seed=17, engine="inprocess")
    decided = sum(t.decided for t in result.trials)
    _assert_rate(decided, trials, theory.decision_within_probability(nodes, p, rounds), "trials with a decision")
