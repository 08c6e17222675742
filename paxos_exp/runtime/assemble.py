"""Turn the nodes' per-trial reports into records, identically for every engine."""

from __future__ import annotations

from collections.abc import Sequence

from paxos_exp.core.config import RunConfig
from paxos_exp.core.node import leader_of
from paxos_exp.core.records import (
    LeaderReport,
    NodeRoundReport,
    RoundRecord,
    TraceRecord,
    TrialRecord,
    merge_round,
)
from paxos_exp.core.safety import check_trial
from paxos_exp.runtime.wire import ReportRow, TraceRow


def assemble_trial(
    config: RunConfig,
    trial: int,
    node_reports: Sequence[Sequence[ReportRow]],
    node_traces: Sequence[Sequence[TraceRow]] | None,
) -> tuple[list[RoundRecord], TrialRecord, list[TraceRecord]]:
    """``node_reports[i]`` holds node i's report of every round of the trial, in round order."""
    rounds: list[RoundRecord] = []
    for rnd in range(config.rounds):
        reports = []
        for rows in node_reports:
            row_round, sent, crashed, leader_row = rows[rnd]
            leader = None if leader_row is None else LeaderReport(*leader_row)
            reports.append(NodeRoundReport(row_round, sent, crashed, leader))
        rounds.append(merge_round(trial, rnd, leader_of(rnd, config.nodes), reports))
    trial_record = check_trial(trial, config.initial_values_for(trial), rounds)
    trace: list[TraceRecord] = []
    if node_traces is not None:
        rows = sorted(row for node_rows in node_traces for row in node_rows)
        trace = [TraceRecord(trial, *row) for row in rows]
    return rounds, trial_record, trace
