"""Safety checks on a trial: agreement, validity, and proposal consistency.

A trial is checked round by round (:class:`TrialCheck`), so no engine ever has to hold a
whole long trial to judge it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from paxos_exp.core.records import RoundRecord, TrialRecord


class TrialCheck:
    """The verdicts of one trial, fed its rounds in round order.

    - agreement: every decision of the trial is the same value;
    - validity: every decided value is some node's initial value;
    - proposals: after the first decision, every later PROPOSE carries the decided value.
    """

    __slots__ = ("trial", "initial_values", "first", "deciding", "agreement_ok", "validity_ok",
                 "proposals_ok")

    def __init__(self, trial: int, initial_values: Sequence[int]) -> None:
        self.trial = trial
        self.initial_values = tuple(initial_values)
        self.first: RoundRecord | None = None
        self.deciding = 0
        self.agreement_ok = self.validity_ok = self.proposals_ok = True

    def add(self, record: RoundRecord) -> None:
        first = self.first
        if first is not None and record.proposal is not None and record.proposal != first.decision:
            self.proposals_ok = False
        if not record.decided:
            return
        self.deciding += 1
        if record.decision not in self.initial_values:
            self.validity_ok = False
        if first is None:
            self.first = record
        elif record.decision != first.decision:
            self.agreement_ok = False

    def extend(self, records: Iterable[RoundRecord]) -> None:
        for record in records:
            self.add(record)

    def finish(self) -> TrialRecord:
        first = self.first
        return TrialRecord(
            trial=self.trial,
            initial_values=self.initial_values,
            decided=first is not None,
            first_decision_round=None if first is None else first.round,
            deciding_rounds=self.deciding,
            decision=None if first is None else first.decision,
            agreement_ok=self.agreement_ok,
            validity_ok=self.validity_ok,
            proposals_ok=self.proposals_ok,
        )


def check_trial(
    trial: int, initial_values: Sequence[int], rounds: Sequence[RoundRecord]
) -> TrialRecord:
    """Summarise one trial's rounds (in round order) and check it (see :class:`TrialCheck`)."""
    check = TrialCheck(trial, initial_values)
    check.extend(rounds)
    return check.finish()
