"""Safety checks on hand-built round records."""

from __future__ import annotations

from paxos_exp.core.records import RoundRecord
from paxos_exp.core.safety import check_trial


def record(rnd: int, proposal: int | None = None, decision: int | None = None, trial: int = 0) -> RoundRecord:
    return RoundRecord(
        trial=trial,
        round=rnd,
        leader=rnd % 3,
        joins=0 if proposal is None else 2,
        proposal=proposal,
        votes=0 if proposal is None else (2 if decision is not None else 1),
        decided=decision is not None,
        decision=decision,
        sent_start=3,
        sent_join=2,
        sent_propose=0 if proposal is None else 3,
        sent_vote=0 if proposal is None else 2,
        sent_roundchange=2 if proposal is None else 0,
        sent_crash=0,
        crashed=0,
    )


def test_a_clean_trial_passes_every_check():
    rounds = [record(0), record(1, proposal=1), record(2, proposal=1, decision=1), record(3, 1, 1), record(4)]
    result = check_trial(5, (0, 1, 0), rounds)
    assert result.agreement_ok and result.validity_ok and result.proposals_ok and result.safe
    assert result.trial == 5
    assert result.initial_values == (0, 1, 0)
    assert result.decided and result.decision == 1
    assert result.first_decision_round == 2
    assert result.deciding_rounds == 2


def test_no_decision_is_safe_and_undecided():
    result = check_trial(0, [0, 0, 1], [record(0), record(1, proposal=0), record(2, proposal=1)])
    assert result.safe
    assert not result.decided and result.decision is None and result.first_decision_round is None
    assert result.deciding_rounds == 0
    assert isinstance(result.initial_values, tuple)


def test_zero_rounds():
    result = check_trial(0, (1,), [])
    assert result.safe and not result.decided and result.deciding_rounds == 0


def test_agreement_violation_is_detected():
    rounds = [record(0, 0, 0), record(1, 1, 1)]
    result = check_trial(0, (0, 1, 1), rounds)
    assert not result.agreement_ok
    assert result.validity_ok
    assert not result.safe
    assert result.decision == 0 and result.first_decision_round == 0 and result.deciding_rounds == 2


def test_validity_violation_is_detected():
    result = check_trial(0, (0, 0, 0), [record(0), record(1, 1, 1)])
    assert not result.validity_ok
    assert result.agreement_ok and result.proposals_ok
    assert not result.safe


def test_proposal_after_decision_violation_is_detected():
    # Decided 0 in round 1; round 3 proposes 1 but does not decide: only the proposal check fails.
    rounds = [record(0), record(1, 0, 0), record(2), record(3, proposal=1), record(4, 0, 0)]
    result = check_trial(0, (0, 1, 1), rounds)
    assert not result.proposals_ok
    assert result.agreement_ok and result.validity_ok
    assert not result.safe


def test_proposals_before_the_first_decision_may_differ():
    rounds = [record(0, proposal=1), record(1, proposal=0), record(2, 0, 0), record(3, 0)]
    assert check_trial(0, (0, 1, 0), rounds).safe


def test_round_changes_after_a_decision_are_fine():
    rounds = [record(0, 1, 1), record(1), record(2), record(3, 1, 1)]
    assert check_trial(0, (1, 0, 0), rounds).safe
