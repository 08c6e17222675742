"""Property-based tests of the whole protocol on the in-process engine."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import paxos_exp
from paxos_exp.core.draws import MAX_SEED
from paxos_exp.core.quorum import majority

SETTINGS = settings(deadline=None, max_examples=500, derandomize=True)

configs = st.fixed_dictionaries(
    {
        "nodes": st.integers(1, 9),
        "fail_prob": st.one_of(st.sampled_from([0.0, 1.0, 0.5]), st.floats(0.0, 1.0)),
        "rounds": st.integers(0, 20),
        "seed": st.integers(0, MAX_SEED),
        "trials": st.integers(1, 3),
    }
)


def _check_safety_independently(result):
    """Agreement, validity and proposal consistency, recomputed from the round records."""
    for trial in result.trials:
        mine = [r for r in result.rounds if r.trial == trial.trial]
        decisions = [r.decision for r in mine if r.decided]
        assert len(set(decisions)) <= 1, f"agreement broken in trial {trial.trial}: {decisions}"
        assert all(d in trial.initial_values for d in decisions), "validity broken"
        if decisions:
            first = next(r for r in mine if r.decided)
            later = [r.proposal for r in mine if r.round > first.round and r.proposal is not None]
            assert all(v == first.decision for v in later), "a later PROPOSE differs"
            assert trial.decision == first.decision and trial.first_decision_round == first.round
        assert trial.decided == bool(decisions)
        assert trial.deciding_rounds == len(decisions)
        assert trial.agreement_ok and trial.validity_ok and trial.proposals_ok


@SETTINGS
@given(configs)
def test_agreement_validity_and_proposals_hold(config):
    result = paxos_exp.run(engine="inprocess", **config)
    assert len(result.trials) == config["trials"]
    assert len(result.rounds) == config["trials"] * config["rounds"]
    assert result.safe
    _check_safety_independently(result)

# Where safety is actually at stake: several nodes, many rounds, lossy but not hopeless links.
busy_configs = st.fixed_dictionaries(
    {
        "nodes": st.integers(3, 9),
        "fail_prob": st.floats(0.05, 0.6),
        "rounds": st.integers(10, 20),
        "seed": st.integers(0, MAX_SEED),
        "trials": st.just(3),
    }
)


@settings(deadline=None, max_examples=150, derandomize=True)
@given(busy_configs)
def test_agreement_validity_and_proposals_hold_in_busy_runs(config):
    result = paxos_exp.run(engine="inprocess", **config)
    assert result.safe
    _check_safety_independently(result)


@SETTINGS
@given(configs)
def test_round_records_are_consistent_with_the_protocol(config):
    nodes = config["nodes"]
    quorum = majority(nodes)
    result = paxos_exp.run(engine="inprocess", **config)
    for record in result.rounds:
        assert record.leader == record.round % nodes
        assert 0 <= record.joins <= nodes and 0 <= record.votes <= nodes
        assert (record.proposal is None) == (record.joins < quorum)
        assert record.decided == (record.decision is not None)
        if record.proposal is None:
            assert record.votes == 0 and not record.decided
            assert record.sent_roundchange == nodes - 1
            assert record.messages == (2 * nodes - 1) + (nodes - 1)
        else:
            assert record.sent_roundchange == 0
            assert record.decided == (record.votes >= quorum)
            assert record.messages == 2 * (2 * nodes - 1)
        if record.decided:
            assert record.decision == record.proposal
        # joins / votes are bounded by the messages that got through
        assert record.joins <= record.sent_start + record.sent_join
        assert record.sent_join <= nodes - 1 and record.sent_vote <= nodes - 1
        failure_prone = (2 * nodes - 1) * (1 if record.proposal is None else 2)
        assert record.crashed <= failure_prone
        if config["fail_prob"] == 0.0:
            assert record.crashed == 0 and record.decided
        if config["fail_prob"] == 1.0:
            # Every START fails; acceptors then only relay (plain) and ROUNDCHANGE is plain.
            assert record.crashed == nodes and record.proposal is None


@settings(deadline=None, max_examples=120, derandomize=True)
@given(configs, st.sampled_from([0, 1]))
def test_all_equal_initial_values_force_that_value(config, value):
    result = paxos_exp.run(
        engine="inprocess", initial_values=[value] * config["nodes"], **config
    )
    assert all(r.proposal in (None, value) for r in result.rounds)
    assert all(r.decision in (None, value) for r in result.rounds)
    assert all(t.decision in (None, value) for t in result.trials)
    assert all(t.initial_values == (value,) * config["nodes"] for t in result.trials)


@settings(deadline=None, max_examples=60, derandomize=True)
@given(configs)
def test_runs_are_reproducible_from_the_seed(config):
    first = paxos_exp.run(engine="inprocess", trace=True, **config)
    again = paxos_exp.run(engine="inprocess", trace=True, **config)
    assert first.rounds == again.rounds
    assert first.trials == again.trials
    assert first.trace == again.trace


def test_the_checker_is_not_vacuous_non_intersecting_quorums_break_agreement():
    # With quorums of 1 out of 3, two leaders can decide different values: the checks must see it.
    result = paxos_exp.run(3, 0.5, 6, seed=0, engine="inprocess",
                            protocol={"name": "flexible", "join_quorum": 1, "vote_quorum": 1,
                                      "allow_unsafe": True})
    (trial,) = result.trials
    assert not trial.agreement_ok and not trial.proposals_ok
    assert not result.safe
    assert len({r.decision for r in result.rounds if r.decided}) == 2
