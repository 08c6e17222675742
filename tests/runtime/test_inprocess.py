"""Golden behaviours of PROTOCOL.md on the deterministic in-process engine."""

from __future__ import annotations

import re
from collections import Counter

import pytest

import paxos_exp
from paxos_exp.core.errors import ConfigError
from paxos_exp.core.quorum import majority


def run(nodes, p, rounds, **kwargs):
    return paxos_exp.run(nodes, p, rounds, engine="inprocess", **kwargs)


def transcript(nodes, p, rounds, **kwargs):
    lines: list[str] = []
    result = run(nodes, p, rounds, emit=lines.append, **kwargs)
    return result, lines


@pytest.mark.parametrize("nodes", [1, 2, 3, 4, 5, 9])
@pytest.mark.parametrize("seed", [0, 1, 77])
def test_p0_every_round_decides_on_round_0_leaders_value(nodes, seed):
    rounds = 7
    result = run(nodes, 0.0, rounds, seed=seed, trials=2)
    assert result.engine == "inprocess"
    assert len(result.rounds) == 2 * rounds
    for trial in result.trials:
        values = trial.initial_values
        mine = [r for r in result.rounds if r.trial == trial.trial]
        assert [r.round for r in mine] == list(range(rounds))
        for record in mine:
            assert record.leader == record.round % nodes
            assert (record.joins, record.votes) == (nodes, nodes)
            assert record.proposal == record.decision == values[0]
            assert record.decided
            assert (record.sent_start, record.sent_join, record.sent_propose, record.sent_vote) == (
                nodes, nodes - 1, nodes, nodes - 1,
            )
            assert (record.sent_roundchange, record.sent_crash, record.crashed) == (0, 0, 0)
        assert trial.decided and trial.decision == values[0]
        assert trial.first_decision_round == 0 and trial.deciding_rounds == rounds
        assert trial.safe


def test_p0_decides_round_0_leaders_value_even_when_later_leaders_differ():
    result = run(4, 0.0, 8, initial_values="0111")
    assert {r.decision for r in result.rounds} == {0}
    result = run(4, 0.0, 8, initial_values="1000")
    assert {r.decision for r in result.rounds} == {1}


@pytest.mark.parametrize("nodes", [1, 2, 3, 4, 7])
def test_p1_nothing_decides_and_every_round_changes(nodes):
    rounds = 6
    result, lines = transcript(nodes, 1.0, rounds, seed=5)
    for record in result.rounds:
        assert record.proposal is None and record.round_changed
        assert not record.decided and record.decision is None
        assert (record.joins, record.votes) == (0, 0)
        assert record.sent_roundchange == nodes - 1
        assert record.sent_crash == 2 * nodes - 1  # N failed STARTs, N-1 relays
        assert record.crashed == nodes
        assert record.sent_start == record.sent_join == record.sent_propose == record.sent_vote == 0
    assert not result.trials[0].decided
    for rnd in range(rounds):
        leader = rnd % nodes
        received = [line for line in lines if line.startswith(f"LEADER OF {rnd} RECEIVED")]
        assert received == [f"LEADER OF {rnd} RECEIVED IN JOIN PHASE: CRASH {leader}"] * nodes
        assert f"LEADER OF ROUND {rnd} CHANGED ROUND" in lines
    assert not any("DECIDED" in line or "VOTE PHASE: VOTE" in line for line in lines)


@pytest.mark.parametrize("nodes", [1, 2, 3, 5])
@pytest.mark.parametrize("rounds", [0, 1, 4])
def test_transcript_line_counts(nodes, rounds):
    _, lines = transcript(nodes, 0.0, rounds, seed=3)
    assert len(lines) == 4 * nodes * rounds
    _, lines = transcript(nodes, 1.0, rounds, seed=3)
    assert len(lines) == 3 * nodes * rounds


def test_p0_transcript_content_n3():
    result, lines = transcript(3, 0.0, 2, initial_values="101")
    expected_round = lambda r, acceptors: Counter(  # noqa: E731
        [f"ROUND {r} STARTED WITH INITIAL VALUE: {[1, 0, 1][r % 3]}"]
        + [f"ACCEPTOR {a} RECEIVED IN JOIN PHASE: START" for a in acceptors]
        + [f"ACCEPTOR {a} RECEIVED IN VOTE PHASE: PROPOSE 1" for a in acceptors]
        + [f"LEADER OF {r} RECEIVED IN JOIN PHASE: START"]
        + [f"LEADER OF {r} RECEIVED IN JOIN PHASE: JOIN {-1 if r == 0 else 0} {'None' if r == 0 else 1}"] * 2
        + [f"LEADER OF {r} RECEIVED IN VOTE PHASE: PROPOSE 1"]
        + [f"LEADER OF {r} RECEIVED IN VOTE PHASE: VOTE"] * 2
        + [f"LEADER OF {r} DECIDED ON VALUE: 1"]
    )
    assert lines[0] == "ROUND 0 STARTED WITH INITIAL VALUE: 1"
    split = next(i for i, line in enumerate(lines) if line.startswith("ROUND 1 "))
    assert Counter(lines[:split]) == expected_round(0, [1, 2])
    assert Counter(lines[split:]) == expected_round(1, [0, 2])
    assert {r.decision for r in result.rounds} == {1}


def test_r0_runs_nothing():
    result, lines = transcript(3, 0.3, 0, trials=3)
    assert result.rounds == () and lines == []
    assert len(result.trials) == 3
    assert all(not t.decided and t.safe and t.deciding_rounds == 0 for t in result.trials)


@pytest.mark.parametrize("value", [0, 1])
def test_single_node_at_p0_decides_every_round_on_its_own_value(value):
    result, lines = transcript(1, 0.0, 5, initial_values=str(value))
    assert [r.decision for r in result.rounds] == [value] * 5
    assert all((r.joins, r.votes, r.leader) == (1, 1, 0) for r in result.rounds)
    assert lines[:4] == [
        f"ROUND 0 STARTED WITH INITIAL VALUE: {value}",
        "LEADER OF 0 RECEIVED IN JOIN PHASE: START",
        f"LEADER OF 0 RECEIVED IN VOTE PHASE: PROPOSE {value}",
        f"LEADER OF 0 DECIDED ON VALUE: {value}",
    ]


def test_n2_needs_both_nodes_for_each_quorum():
    result = run(2, 0.3, 3000, seed=11)
    assert majority(2) == 2
    assert {r.joins for r in result.rounds} == {0, 1, 2}  # every case occurs
    for record in result.rounds:
        assert (record.proposal is not None) == (record.joins == 2)
        assert record.decided == (record.proposal is not None and record.votes == 2)
    assert result.safe


def test_n2_later_leader_adopts_the_earlier_decision():
    result = run(2, 0.0, 4, initial_values="01")
    assert [r.decision for r in result.rounds] == [0, 0, 0, 0]


def test_same_seed_same_records_other_seed_other_records():
    first = run(5, 0.3, 40, seed=123, trials=2, trace=True)
    again = run(5, 0.3, 40, seed=123, trials=2, trace=True)
    other = run(5, 0.3, 40, seed=124, trials=2, trace=True)
    assert (first.rounds, first.trials, first.trace) == (again.rounds, again.trials, again.trace)
    assert first.rounds != other.rounds


def test_trials_are_independent_repetitions():
    result = run(3, 0.3, 10, seed=9, trials=4)
    assert [t.trial for t in result.trials] == [0, 1, 2, 3]
    assert [r.trial for r in result.rounds] == [t for t in range(4) for _ in range(10)]
    single = run(3, 0.3, 10, seed=9, trials=1)
    assert single.rounds == result.rounds[:10]


def test_trace_matches_the_round_records():
    result = run(4, 0.35, 30, seed=8, trace=True)
    assert result.trace is not None
    for record in result.rounds:
        rows = [t for t in result.trace if (t.trial, t.round) == (record.trial, record.round)]
        assert len(rows) == record.messages
        assert sum(t.crashed for t in rows) == record.crashed
        kinds = Counter(t.kind for t in rows)
        assert kinds["START"] == record.sent_start and kinds["JOIN"] == record.sent_join
        assert kinds["PROPOSE"] == record.sent_propose and kinds["VOTE"] == record.sent_vote
        assert kinds["ROUNDCHANGE"] == record.sent_roundchange and kinds["CRASH"] == record.sent_crash
        for row in rows:
            if row.kind == "CRASH":
                assert row.body == f"CRASH {record.leader}"
            if row.crashed:
                assert row.kind == "CRASH"
            assert row.phase in (1, 2)
    assert run(4, 0.35, 30, seed=8).trace is None


def test_emit_receives_only_whole_classic_lines():
    pattern = re.compile(
        r"ROUND \d+ STARTED WITH INITIAL VALUE: [01]"
        r"|LEADER OF \d+ RECEIVED IN (JOIN|VOTE) PHASE: (START|JOIN -?\d+ (None|[01])|PROPOSE [01]|VOTE|CRASH \d+)"
        r"|ACCEPTOR \d+ RECEIVED IN (JOIN|VOTE) PHASE: (START|PROPOSE [01]|ROUNDCHANGE|CRASH \d+)"
        r"|LEADER OF \d+ DECIDED ON VALUE: [01]"
        r"|LEADER OF ROUND \d+ CHANGED ROUND"
    )
    _, lines = transcript(5, 0.3, 25, seed=4)
    assert lines and all(pattern.fullmatch(line) for line in lines)


def test_invalid_arguments_raise_config_error():
    with pytest.raises(ConfigError, match="nodes"):
        run(0, 0.1, 1)
    with pytest.raises(ConfigError, match="engine"):
        paxos_exp.run(3, 0.1, 1, engine="threads")
    with pytest.raises(ConfigError, match="initial_values"):
        run(3, 0.1, 1, initial_values="01")
