"""The exact decision probability of PROTOCOL.md."""

from __future__ import annotations

import math
import itertools

import pytest
from scipy.stats import binom

from paxos_exp.core import theory
from paxos_exp.core.quorum import majority

REFERENCE_F2 = {
    3: {0.1: 0.8707, 0.2: 0.6057, 0.3: 0.3481, 0.5: 0.0625},
    4: {0.1: 0.7535, 0.2: 0.3795, 0.3: 0.1405, 0.5: 0.0074},
    5: {0.1: 0.9259, 0.2: 0.6401, 0.3: 0.3135, 0.5: 0.0244},
    9: {0.1: 0.9757, 0.2: 0.7098, 0.3: 0.2838, 0.5: 0.0050},
}


@pytest.mark.parametrize(
    ("nodes", "p", "expected"),
    [(n, p, v) for n, row in REFERENCE_F2.items() for p, v in row.items()],
)
def test_reference_values_of_f_squared(nodes, p, expected):
    assert round(theory.round_decision_probability(nodes, p), 4) == pytest.approx(expected, abs=1e-12)
    f = theory.join_probability(nodes, p)
    assert f * f == pytest.approx(theory.round_decision_probability(nodes, p), rel=1e-12)


@pytest.mark.parametrize("trials", [0, 1, 2, 5, 8, 20])
@pytest.mark.parametrize("success", [0.0, 0.01, 0.25, 0.5, 0.81, 1.0])
def test_binomial_tail_matches_scipy(trials, success):
    for at_least in range(-1, trials + 3):
        expected = binom.sf(at_least - 1, trials, success)
        assert theory.binomial_tail(trials, success, at_least) == pytest.approx(expected, abs=1e-12)


def test_binomial_tail_edges():
    assert theory.binomial_tail(5, 0.3, 0) == 1.0
    assert theory.binomial_tail(5, 0.3, -2) == 1.0
    assert theory.binomial_tail(5, 0.3, 6) == 0.0
    assert theory.binomial_tail(0, 0.3, 0) == 1.0


@pytest.mark.parametrize("nodes", [1, 2, 3, 4, 5, 6, 7, 9, 15])
@pytest.mark.parametrize("p", [0.0, 0.05, 0.1, 0.29, 0.5, 0.77, 1.0])
def test_quorum_probability_is_the_formula_with_scipy(nodes, p):
    q = 1.0 - p
    size = majority(nodes)
    acceptor = q * q
    expected = q * binom.sf(size - 2, nodes - 1, acceptor) + p * binom.sf(size - 1, nodes - 1, acceptor)
    assert theory.quorum_probability(nodes, p) == pytest.approx(expected, abs=1e-12)
    assert theory.join_probability(nodes, p) == pytest.approx(expected, abs=1e-12)
    assert theory.roundchange_probability(nodes, p) == pytest.approx(1 - expected, abs=1e-12)
    assert theory.round_decision_probability(nodes, p) == pytest.approx(expected**2, abs=1e-12)


def _enumerated_quorum_probability(nodes: int, p: float, quorum: int) -> float:
    """Sum over every outcome of the 2N-1 failure-prone sends of one phase."""
    q = 1.0 - p
    total = 0.0
    # own message, then for each acceptor: request delivered, reply delivered
    for outcome in itertools.product((True, False), repeat=2 * nodes - 1):
        probability = 1.0
        for delivered in outcome:
            probability *= q if delivered else p
        count = int(outcome[0]) + sum(
            outcome[1 + 2 * i] and outcome[2 + 2 * i] for i in range(nodes - 1)
        )
        if count >= quorum:
            total += probability
    return total


@pytest.mark.parametrize("nodes", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("p", [0.1, 0.3, 0.6])
def test_quorum_probability_matches_brute_force_enumeration(nodes, p):
    for quorum in range(1, nodes + 1):
        assert theory.quorum_probability(nodes, p, quorum) == pytest.approx(
            _enumerated_quorum_probability(nodes, p, quorum), abs=1e-12
        )


def test_custom_quorums_enter_each_phase_separately():
    nodes, p = 5, 0.3
    join = theory.quorum_probability(nodes, p, 2)
    vote = theory.quorum_probability(nodes, p, 4)
    assert theory.round_decision_probability(nodes, p, 2, 4) == pytest.approx(join * vote)
    assert theory.roundchange_probability(nodes, p, 2) == pytest.approx(1 - join)
    assert theory.join_probability(nodes, p, 2) == pytest.approx(join)


@pytest.mark.parametrize("nodes", [1, 2, 3, 7])
def test_extremes(nodes):
    assert theory.round_decision_probability(nodes, 0.0) == 1.0
    assert theory.round_decision_probability(nodes, 1.0) == 0.0
    assert theory.roundchange_probability(nodes, 0.0) == 0.0
    assert theory.roundchange_probability(nodes, 1.0) == 1.0


def test_single_node_decides_when_both_of_its_own_messages_arrive():
    for p in (0.1, 0.4, 0.9):
        assert theory.round_decision_probability(1, p) == pytest.approx((1 - p) ** 2)


def test_decision_within_r_rounds():
    for nodes, p, rounds in [(3, 0.3, 1), (4, 0.2, 5), (9, 0.5, 10)]:
        f2 = theory.round_decision_probability(nodes, p)
        assert theory.decision_within_probability(nodes, p, rounds) == pytest.approx(1 - (1 - f2) ** rounds)
    assert theory.decision_within_probability(3, 0.3, 0) == 0.0
    assert theory.decision_within_probability(3, 0.3, 1) == pytest.approx(theory.round_decision_probability(3, 0.3))


@pytest.mark.parametrize("nodes", [3, 5, 7])
@pytest.mark.parametrize("p", [0.05, 0.1, 0.2, 0.3, 0.5])
def test_even_n_is_worse_than_n_minus_one(nodes, p):
    assert theory.round_decision_probability(nodes + 1, p) < theory.round_decision_probability(nodes, p)


def test_curves_cross_near_q_squared_one_half():
    # Below p ~ 0.29 more (odd) nodes help, above it they hurt.
    for p in (0.05, 0.1, 0.15, 0.2):
        values = [theory.round_decision_probability(n, p) for n in (3, 5, 9)]
        assert values == sorted(values)
    for p in (0.29, 0.3, 0.4, 0.5, 0.7):
        values = [theory.round_decision_probability(n, p) for n in (3, 5, 9)]
        assert values == sorted(values, reverse=True)


def test_probabilities_are_monotone_in_p():
    grid = [i / 50 for i in range(51)]
    for nodes in (1, 2, 3, 4, 5, 9):
        values = [theory.round_decision_probability(nodes, p) for p in grid]
        assert all(a >= b for a, b in zip(values, values[1:]))
        assert all(0.0 <= v <= 1.0 for v in values)


def test_binomial_tail_of_thousands_of_trials_stays_finite_and_continuous():
    from paxos_exp.core import theory

    # Past 1,000 trials the exact sum's coefficients overflow a float; the log-space sum
    # must agree with the exact one where both work, and stay a probability beyond.
    exact = theory.binomial_tail(1000, 0.81, 501)
    limit = theory._EXACT_TRIALS
    try:
        theory._EXACT_TRIALS = 0
        assert theory.binomial_tail(1000, 0.81, 501) == pytest.approx(exact, abs=1e-12)
        assert theory.binomial_tail(900, 0.3, 280) == pytest.approx(
            sum(math.comb(900, k) * 0.3**k * 0.7 ** (900 - k) for k in range(280, 901)), abs=1e-12)
    finally:
        theory._EXACT_TRIALS = limit
    for nodes in (1031, 3000, 100_000):
        value = theory.decision_within_probability(nodes, 0.1, 3)
        assert 0.0 <= value <= 1.0
    assert theory.binomial_tail(5000, 0.0, 1) == 0.0 and theory.binomial_tail(5000, 1.0, 5000) == 1.0
