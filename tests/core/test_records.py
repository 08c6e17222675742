"""Run records, their merge from per-node reports, and the classic console lines."""

from __future__ import annotations

import pytest

from paxos_exp.core import transcript
from paxos_exp.core.messages import KINDS, Kind, Phase
from paxos_exp.core.records import (
    KIND_INDEX,
    LeaderReport,
    NodeRoundReport,
    RoundRecord,
    RunResult,
    Timings,
    TrialRecord,
    merge_round,
    tally,
)


def test_tally_counts_by_kind_in_kinds_order():
    counts = tally([Kind.START, Kind.CRASH, Kind.START, Kind.VOTE])
    assert len(counts) == len(KINDS)
    assert counts[KIND_INDEX[Kind.START]] == 2
    assert counts[KIND_INDEX[Kind.CRASH]] == 1
    assert counts[KIND_INDEX[Kind.VOTE]] == 1
    assert sum(counts) == 4


def test_merge_round_sums_the_nodes_and_takes_the_leader_part():
    leader = NodeRoundReport(4, tuple(tally([Kind.START] * 3 + [Kind.PROPOSE] * 2 + [Kind.CRASH])), 1,
                             leader=LeaderReport(joins=2, proposal=1, votes=2, decision=1))
    acceptor1 = NodeRoundReport(4, tuple(tally([Kind.JOIN, Kind.VOTE])), 0)
    acceptor2 = NodeRoundReport(4, tuple(tally([Kind.CRASH, Kind.CRASH])), 1)
    merged = merge_round(3, 4, 1, [acceptor1, leader, acceptor2])
    assert merged == RoundRecord(
        trial=3, round=4, leader=1, joins=2, proposal=1, votes=2, decided=True, decision=1,
        sent_start=3, sent_join=1, sent_propose=2, sent_vote=1, sent_roundchange=0,
        sent_crash=3, crashed=2,
    )
    assert merged.messages == 10
    assert not merged.round_changed


def test_merge_round_rejects_wrong_round_or_missing_leader():
    ok = NodeRoundReport(0, tuple(tally([])), 0, leader=LeaderReport(0, None, 0, None))
    with pytest.raises(ValueError):
        merge_round(0, 1, 0, [ok])
    with pytest.raises(ValueError):
        merge_round(0, 0, 0, [NodeRoundReport(0, tuple(tally([])), 0)])


def test_round_changed_means_no_proposal():
    report = NodeRoundReport(0, tuple(tally([Kind.CRASH] * 3 + [Kind.ROUNDCHANGE] * 2)), 3,
                             leader=LeaderReport(0, None, 0, None))
    merged = merge_round(0, 0, 0, [report])
    assert merged.round_changed and not merged.decided and merged.decision is None


def test_run_result_safe_and_rows():
    good = TrialRecord(0, (0, 1), True, 0, 1, 0, True, True, True)
    bad = TrialRecord(1, (1, 1), True, 2, 1, 1, True, True, False)
    result = RunResult(config=None, engine="inprocess", rounds=(), trials=(good,), timings=Timings(1.0, 2.0, 0.5))
    assert result.safe and result.timings.total == 3.5
    assert result.trial_dicts()[0]["initial_values"] == "01"
    assert result.trace_dicts() == []
    assert not RunResult(None, "inprocess", (), (good, bad), Timings(0, 0, 0)).safe


def test_classic_lines():
    assert transcript.header(4, 0.1, 3) == "NUM_NODES: 4, CRASH PROB: 0.1, NUM_ROUNDS: 3"
    assert transcript.header(4, 0.0, 3) == "NUM_NODES: 4, CRASH PROB: 0.0, NUM_ROUNDS: 3"
    assert transcript.round_started(2, 1) == "ROUND 2 STARTED WITH INITIAL VALUE: 1"
    assert transcript.leader_received(5, Phase.JOIN, "JOIN -1 None") == "LEADER OF 5 RECEIVED IN JOIN PHASE: JOIN -1 None"
    assert transcript.leader_received(5, Phase.VOTE, "VOTE") == "LEADER OF 5 RECEIVED IN VOTE PHASE: VOTE"
    assert transcript.acceptor_received(3, Phase.JOIN, "CRASH 1") == "ACCEPTOR 3 RECEIVED IN JOIN PHASE: CRASH 1"
    assert transcript.acceptor_received(3, Phase.VOTE, "ROUNDCHANGE") == "ACCEPTOR 3 RECEIVED IN VOTE PHASE: ROUNDCHANGE"
    assert transcript.decided(7, 0) == "LEADER OF 7 DECIDED ON VALUE: 0"
    assert transcript.changed_round(7) == "LEADER OF ROUND 7 CHANGED ROUND"
