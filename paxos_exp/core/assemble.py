"""Turn the nodes' reports into records, identically for every engine.

Nodes report a trial in chunks of rounds (see ``records.ROUND_CHUNK``); a :class:`TrialAssembler`
merges each chunk as it arrives and checks safety round by round, so memory does not grow
with the number of rounds.
"""

from __future__ import annotations

from collections.abc import Sequence

from paxos_exp.core.config import RunConfig
from paxos_exp.core.node import leader_of
from paxos_exp.core.records import (
    LeaderReport,
    NodeRoundReport,
    ReportRow,
    RoundRecord,
    TraceRecord,
    TraceRow,
    TrialRecord,
    merge_round,
)
from paxos_exp.core.safety import TrialCheck


class TrialAssembler:
    """One trial's records, merged from every node's reports one chunk of rounds at a time."""

    def __init__(self, config: RunConfig, trial: int) -> None:
        self.config = config
        self.trial = trial
        self.check = TrialCheck(trial, config.initial_values_for(trial))

    def add_chunk(
        self,
        node_reports: Sequence[Sequence[ReportRow]],
        node_traces: Sequence[Sequence[TraceRow]] | None,
    ) -> tuple[list[RoundRecord], list[TraceRecord]]:
        """``node_reports[i]``: node i's reports of the same consecutive rounds, in order."""
        nodes, trial = self.config.nodes, self.trial
        rounds: list[RoundRecord] = []
        for reports_of_round in zip(*node_reports):
            rnd = reports_of_round[0][0]
            reports = [
                NodeRoundReport(row_round, sent, crashed, silenced,
                                None if leader_row is None else LeaderReport(*leader_row))
                for row_round, sent, crashed, silenced, leader_row in reports_of_round
            ]
            record = merge_round(trial, rnd, leader_of(rnd, nodes), reports)
            self.check.add(record)
            rounds.append(record)
        trace: list[TraceRecord] = []
        if node_traces is not None:
            rows = sorted(row for node_rows in node_traces for row in node_rows)
            trace = [TraceRecord(trial, *row) for row in rows]
        return rounds, trace

    def finish(self) -> TrialRecord:
        return self.check.finish()
