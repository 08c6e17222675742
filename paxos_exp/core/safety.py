"""Safety checks on a finished trial: agreement, validity, and proposal consistency."""

from __future__ import annotations

from collections.abc import Sequence

from paxos_exp.core.records import RoundRecord, TrialRecord


def check_trial(
    trial: int, initial_values: Sequence[int], rounds: Sequence[RoundRecord]
) -> TrialRecord:
    """Summarise one trial's rounds (in round order) and check it.

    - agreement: every decision of the trial is the same value;
    - validity: every decided value is some node's initial value;
    - proposals: after the first decision, every later PROPOSE carries the decided value.
    """
    decisions = [record.decision for record in rounds if record.decided]
    first = next((record for record in rounds if record.decided), None)
    agreement_ok = len(set(decisions)) <= 1
    validity_ok = all(value in initial_values for value in decisions)
    proposals_ok = True
    if first is not None:
        proposals_ok = all(
            record.proposal == first.decision
            for record in rounds
            if record.round > first.round and record.proposal is not None
        )
    return TrialRecord(
        trial=trial,
        initial_values=tuple(initial_values),
        decided=first is not None,
        first_decision_round=None if first is None else first.round,
        deciding_rounds=len(decisions),
        decision=None if first is None else first.decision,
        agreement_ok=agreement_ok,
        validity_ok=validity_ok,
        proposals_ok=proposals_ok,
    )
