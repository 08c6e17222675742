"""Engine conformance: written once, run on every engine of ``paxos_exp.core.config.ENGINES``.

Every test takes the ``engine`` fixture (the processes engine runs with fork here; the few
cases that need spawn or forkserver say so) and checks, on that engine alone:

- the golden behaviours of PROTOCOL.md (p=0, p=1, R=0, N=1, N=2, the transcript);
- every acceptor and leader rule, against an independent model of PROTOCOL.md
  (``protocol_model.py``) that replays the run from its seed, for every registered protocol
  and fault model (and a silencing test model); runs are chosen so that each rule is
  decisive somewhere (the model's witnesses), so a changed rule changes the records;
- two rules pinned by hand-checked runs: an acceptor records a proposal even when its own
  VOTE is lost (and even when it did not join), and a message fails iff its draw U < p;
- pinned golden records for fixed seeds, and the same records from a fresh interpreter;
- record identity with the reference engine (``inprocess``) for the same seeds.

Seeds are fixed, so every test is deterministic; statistical tolerances are Z binomial
standard errors of the sample at hand.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import paxos_exp
from paxos_exp.core import theory
from paxos_exp.core.config import ENGINES, RunConfig, parse_initial_values
from paxos_exp.core.draws import MAX_SEED, uniform
from paxos_exp.core.errors import ConfigError
from paxos_exp.core.faults import FAULTS, FaultModel
from paxos_exp.core.faults.omission import Omission
from paxos_exp.core.messages import Phase
from paxos_exp.core.protocols import PROTOCOLS
from paxos_exp.core.quorum import majority
from paxos_exp.core.records import ROUND_CHUNK

from protocol_model import RULES, expected_run, model_quorums, record_digest, transcript_rounds

pytestmark = pytest.mark.timeout(180)

REFERENCE = "inprocess"  # DESIGN.md: the in-process engine is the reference
HERE = Path(__file__).resolve().parent
Z = 4.0  # binomial standard errors allowed in a rate comparison


# -- the engine under test ------------------------------------------------------------------


def _engine_params(*, reference=True, slow=False):
    """Every engine (``reference=False``: all but the reference); ``slow`` marks the engines
    that start node processes slow, for a test that runs many of them."""
    params = []
    for name in ENGINES:
        if name == REFERENCE and not reference:
            continue
        marks = (pytest.mark.slow,) if slow and name != "inprocess" else ()
        params.append(pytest.param((name, "fork"), id=name if name == "inprocess"
                                   else f"{name}-fork", marks=marks))
    return params


def on_engines(**kwargs):
    """Run a test on the engines of :func:`_engine_params` (instead of the default: all)."""
    return pytest.mark.parametrize("engine", _engine_params(**kwargs), indirect=True)


@dataclass
class Engine:
    name: str
    start_method: str
    capfd: pytest.CaptureFixture

    def run(self, nodes, fail_prob, rounds, **kwargs):
        result = paxos_exp.run(nodes, fail_prob, rounds, engine=self.name,
                               start_method=self.start_method, **kwargs)
        assert result.engine == self.name
        return result

    def transcript(self, nodes, fail_prob, rounds, **kwargs):
        """The run and the classic lines it printed (each engine prints them to stdout)."""
        self.capfd.readouterr()
        result = self.run(nodes, fail_prob, rounds, transcript=True, **kwargs)
        return result, self.capfd.readouterr().out.splitlines()


@pytest.fixture(params=_engine_params())
def engine(request, capfd) -> Engine:
    name, method = request.param
    return Engine(name, method, capfd)


# -- a fault model that silences (registered for the test; forked nodes inherit it) ----------


class _SilenceNode2(Omission):
    """The omission model, plus: every message node 2 sends is silenced."""

    silences = True

    def silenced(self, trial, rnd, phase, sender, receiver):
        return sender == 2


SILENCING = "silence_node_2"


@pytest.fixture
def silencing_model(monkeypatch: pytest.MonkeyPatch) -> str:
    FAULTS.names()  # the registry is filled on first use
    model = FaultModel(name=SILENCING, description="omission, and node 2 is mute",
                       build=lambda config, draws: _SilenceNode2(config.fail_prob, draws))
    monkeypatch.setitem(FAULTS._found, model.name, model)
    return model.name


FAULT_MODELS = [*FAULTS.names(), SILENCING]

# Fault models with settings beyond their defaults, and compositions: each checked against
# the model (every rule of its docstring decisive somewhere: see FAULT_WITNESSES) and across
# engines, under classic. A model added to the registry is covered by FAULT_MODELS above.
AMNESIA = {"name": "crash_recovery", "crash_prob": 0.15, "down_rounds": 2, "amnesia": True}
FAULT_VARIANTS = {
    "crash_stop-bound2": {"name": "crash_stop", "crash_prob": 0.2, "max_crashed": 2},
    "crash_stop-all": {"name": "crash_stop", "crash_prob": 0.1, "max_crashed": 5},
    "crash_recovery-amnesia": AMNESIA,
    "crash_recovery-durable3": {"name": "crash_recovery", "crash_prob": 0.2, "down_rounds": 3},
    "partition-minority": {"name": "partition", "partition_prob": 0.5},
    "partition-leader-oneway": {"name": "partition", "partition_prob": 0.5,
                                "shape": "isolated_leader", "symmetric": False},
    "partition-cut-oneway": {"name": "partition", "partition_prob": 0.5, "shape": "random_cut",
                             "symmetric": False},
    "link_loss-one": {"name": "link_loss", "rule": "one_link", "prob": 0.7, "link": [1, 3]},
    "link_loss-subset": {"name": "link_loss", "rule": "random_subset", "prob": 0.6,
                         "fraction": 0.4},
    "link_loss-matrix": {"name": "link_loss", "rule": "matrix", "matrix": [
        [0, 0.1, 0.2, 0.3, 0.4], [0.5, 0, 0.1, 0.2, 0.3], [0.4, 0.5, 0, 0.1, 0.2],
        [0.3, 0.4, 0.5, 0, 0.1], [0.9, 0.3, 0.4, 0.5, 0]]},
    "all-five": [{"name": "omission"}, AMNESIA, {"name": "crash_stop", "crash_prob": 0.03},
                 {"name": "partition", "partition_prob": 0.3, "shape": "random_cut"},
                 {"name": "link_loss", "prob": 0.1}],
}
FAULT_WITNESSES = ["leader_down", "node_down", "node_wiped"]

# Every registered protocol with its default settings, plus flexible quorums on both sides of
# Q1 + Q2 > N (for N=5). A protocol added to the registry is picked up here automatically.
SAFE_FLEXIBLE = {"name": "flexible", "join_quorum": 2, "vote_quorum": 4}
UNSAFE_FLEXIBLE = {"name": "flexible", "join_quorum": 2, "vote_quorum": 3, "allow_unsafe": True}
PROTOCOL_SETTINGS = [pytest.param(name, id=name) for name in PROTOCOLS.names()] + [
    pytest.param(SAFE_FLEXIBLE, id="flexible-2+4"),
    pytest.param(UNSAFE_FLEXIBLE, id="flexible-2+3-unsafe"),
]


def _config(nodes, fail_prob, rounds, **kwargs) -> RunConfig:
    kwargs["initial_values"] = parse_initial_values(kwargs.get("initial_values"))
    return RunConfig(nodes=nodes, fail_prob=fail_prob, rounds=rounds, **kwargs)


def _assert_follows_the_model(result, config):
    """The run's records, verdicts and trace are exactly what PROTOCOL.md makes of the seed."""
    expected = expected_run(config)
    assert result.rounds == tuple(expected.rounds)
    assert result.trials == tuple(expected.trials)
    if config.trace:
        assert result.trace == tuple(expected.trace)
    else:
        assert result.trace is None
    return expected


def _by_round(lines):
    """The lines of each round as a multiset; every round opens with its ROUND line, and no
    line of a round comes after the next round opened (the barrier)."""
    rounds: list[Counter] = []
    for line in lines:
        opened = re.fullmatch(r"ROUND (\d+) STARTED WITH INITIAL VALUE: [01]", line)
        if opened:
            assert int(opened.group(1)) == len(rounds), f"round {opened.group(1)} out of order"
            rounds.append(Counter())
        assert rounds, f"line before the first ROUND line: {line!r}"
        rounds[-1][line] += 1
    return rounds


CLASSIC_LINE = re.compile(
    r"ROUND \d+ STARTED WITH INITIAL VALUE: [01]"
    r"|LEADER OF \d+ RECEIVED IN (JOIN|VOTE) PHASE: (START|JOIN -?\d+ (None|[01])|PROPOSE [01]|VOTE|CRASH \d+)"
    r"|ACCEPTOR \d+ RECEIVED IN (JOIN|VOTE) PHASE: (START|PROPOSE [01]|ROUNDCHANGE|CRASH \d+)"
    r"|LEADER OF \d+ DECIDED ON VALUE: [01]"
    r"|LEADER OF ROUND \d+ CHANGED ROUND"
)


# == golden behaviours of PROTOCOL.md ==========================================================


@pytest.mark.parametrize("nodes", [1, 2, 3, 4, 5, 9])
@pytest.mark.parametrize("seed", [0, 1, 77])
def test_p0_every_round_decides_on_round_0_leaders_value(engine, nodes, seed):
    rounds = 7
    result = engine.run(nodes, 0.0, rounds, seed=seed, trials=2)
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


@pytest.mark.parametrize("values, decided", [("0111", 0), ("1000", 1)])
def test_p0_decides_round_0_leaders_value_even_when_later_leaders_differ(engine, values, decided):
    result = engine.run(4, 0.0, 8, initial_values=values)
    assert [r.decision for r in result.rounds] == [decided] * 8
    assert [r.proposal for r in result.rounds] == [decided] * 8


@pytest.mark.parametrize("nodes", [1, 2, 3, 4, 7])
def test_p1_nothing_decides_and_every_round_changes(engine, nodes):
    rounds = 6
    result, lines = engine.transcript(nodes, 1.0, rounds, seed=5)
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
def test_transcript_line_counts(engine, nodes, rounds):
    # PROTOCOL.md: 1 + 4*N*R lines at p=0 and 1 + 3*N*R at p=1, the 1 being the CLI's header
    # (tests/cli); an engine prints the rounds' lines only.
    _, lines = engine.transcript(nodes, 0.0, rounds, seed=3)
    assert len(lines) == 4 * nodes * rounds
    assert not any("CRASH" in line or "ROUNDCHANGE" in line or "CHANGED" in line for line in lines)
    _, lines = engine.transcript(nodes, 1.0, rounds, seed=3)
    assert len(lines) == 3 * nodes * rounds


def test_p0_transcript_content_n3(engine):
    result, lines = engine.transcript(3, 0.0, 2, initial_values="101")
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
    assert _by_round(lines) == [expected_round(0, [1, 2]), expected_round(1, [0, 2])]
    assert {r.decision for r in result.rounds} == {1}


@pytest.mark.parametrize(("nodes", "fail_prob", "rounds", "seed"),
                         [(4, 0.3, 12, 31), (5, 0.3, 25, 4), (3, 0.5, 12, 76)])
def test_transcript_lines_are_whole_and_match_the_model_round_by_round(engine, nodes, fail_prob,
                                                                      rounds, seed):
    result, lines = engine.transcript(nodes, fail_prob, rounds, seed=seed, trace=True)
    assert lines and all(CLASSIC_LINE.fullmatch(line) for line in lines)
    expected = _assert_follows_the_model(result, _config(nodes, fail_prob, rounds, seed=seed,
                                                         trace=True))
    # Lines of different nodes interleave within a round, but rounds never mix (barrier).
    assert _by_round(lines) == transcript_rounds(expected)


def test_r0_runs_nothing(engine):
    result, lines = engine.transcript(3, 0.3, 0, trials=3, seed=2)
    assert result.rounds == () and lines == []
    assert len(result.trials) == 3
    assert all(not t.decided and t.safe and t.deciding_rounds == 0 for t in result.trials)
    assert [t.initial_values for t in result.trials] == [
        _config(3, 0.3, 0, seed=2).initial_values_for(trial) for trial in range(3)]


@pytest.mark.parametrize("value", [0, 1])
def test_single_node_at_p0_decides_every_round_on_its_own_value(engine, value):
    result, lines = engine.transcript(1, 0.0, 5, initial_values=str(value))
    assert [r.decision for r in result.rounds] == [value] * 5
    assert all((r.joins, r.votes, r.leader) == (1, 1, 0) for r in result.rounds)
    assert lines == [
        line
        for r in range(5)
        for line in (
            f"ROUND {r} STARTED WITH INITIAL VALUE: {value}",
            f"LEADER OF {r} RECEIVED IN JOIN PHASE: START",
            f"LEADER OF {r} RECEIVED IN VOTE PHASE: PROPOSE {value}",
            f"LEADER OF {r} DECIDED ON VALUE: {value}",
        )
    ]


def test_n2_needs_both_nodes_for_each_quorum(engine):
    result = engine.run(2, 0.3, 3000, seed=11)
    assert majority(2) == 2
    assert {r.joins for r in result.rounds} == {0, 1, 2}  # every case occurs
    assert {r.votes for r in result.rounds if r.proposal is not None} == {0, 1, 2}
    for record in result.rounds:
        assert (record.proposal is not None) == (record.joins == 2)
        assert record.decided == (record.proposal is not None and record.votes == 2)
    assert result.safe


def test_n2_later_leader_adopts_the_earlier_decision(engine):
    result = engine.run(2, 0.0, 4, initial_values="01")
    assert [r.decision for r in result.rounds] == [0, 0, 0, 0]


def test_trials_are_independent_repetitions(engine):
    result = engine.run(3, 0.3, 10, seed=9, trials=4)
    assert [t.trial for t in result.trials] == [0, 1, 2, 3]
    assert [r.trial for r in result.rounds] == [t for t in range(4) for _ in range(10)]
    single = engine.run(3, 0.3, 10, seed=9, trials=1)
    assert single.rounds == result.rounds[:10] and single.trials == result.trials[:1]
    # Trials draw afresh: they are not copies of each other.
    assert len({tuple((r.proposal, r.crashed) for r in result.rounds if r.trial == t)
                for t in range(4)}) > 1


def test_trace_matches_the_round_records(engine):
    result = engine.run(4, 0.35, 30, seed=8, trace=True)
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
    assert engine.run(4, 0.35, 30, seed=8).trace is None


@on_engines(slow=True)
@pytest.mark.parametrize("nodes", [3, 5])
def test_round_rates_match_the_exact_law(engine, nodes):
    # PROTOCOL.md: the fraction of deciding rounds matches f^2, of ROUNDCHANGE rounds 1 - f.
    p, rounds, trials = 0.3, 500, 4  # 2,000 rounds; the processes start once
    result = engine.run(nodes, p, rounds, trials=trials, seed=nodes)
    n = len(result.rounds)
    assert n == rounds * trials
    for observed, expected in (
        (sum(r.decided for r in result.rounds), theory.round_decision_probability(nodes, p)),
        (sum(r.proposal is None for r in result.rounds), theory.roundchange_probability(nodes, p)),
    ):
        error = math.sqrt(expected * (1 - expected) / n)
        assert abs(observed / n - expected) <= Z * error, (observed / n, expected, error)
    assert result.safe


@pytest.mark.parametrize("kwargs", [
    dict(nodes=0, fail_prob=0.1, rounds=1),
    dict(nodes=3, fail_prob=1.5, rounds=1),
    dict(nodes=3, fail_prob=0.1, rounds=-1),
    dict(nodes=3, fail_prob=0.1, rounds=1, initial_values="01"),
    dict(nodes=3, fail_prob=0.1, rounds=1, protocol="nope"),
    dict(nodes=3, fail_prob=0.1, rounds=1, faults="nope"),
    dict(nodes=5, fail_prob=0.1, rounds=1, protocol={"name": "flexible", "join_quorum": 2,
                                                     "vote_quorum": 3}),
], ids=["nodes", "fail_prob", "rounds", "initial_values", "protocol", "faults", "unsafe-quorums"])
def test_invalid_arguments_raise_config_error(engine, kwargs):
    with pytest.raises(ConfigError):
        engine.run(**kwargs)


def test_an_unknown_engine_is_a_config_error():
    with pytest.raises(ConfigError, match="engine"):
        paxos_exp.run(3, 0.1, 1, engine="threads")


# == every acceptor and leader rule, against the model =========================================

# Runs where each rule of PROTOCOL.md is decisive somewhere (see RULE_WITNESSES); the last two
# hold the rare cases (two different voted values on offer; a leader whose own newer vote is
# left out because its own START was lost).
RULE_RUNS = [
    dict(nodes=3, fail_prob=0.3, rounds=40, trials=3, seed=2),
    dict(nodes=5, fail_prob=0.35, rounds=40, trials=2, seed=3),
    dict(nodes=3, fail_prob=0.5, rounds=12, trials=1, seed=76),
    dict(nodes=4, fail_prob=0.4, rounds=12, trials=1, seed=45),
]
RULE_WITNESSES = [
    "lost_vote_later_reported",  # acceptor: records PROPOSE even if its own VOTE is lost
    "unjoined_vote_later_reported",  # acceptor: ... and even if it did not join
    "report_overrode_own_value",  # leader: a joiner's voted value beats its own val
    "highest_round_beat_a_lower_one",  # leader: the highest maxVotedRound wins
    "own_state_chose_the_value",  # leader: its own maxVoted* count when its START arrived
    "own_state_left_out_without_own_start",  # leader: ... and only then
    "joins_one_short", "joins_exactly_quorum",  # leader: joins > N/2 (quorum size)
    "votes_one_short", "votes_exactly_quorum",  # leader: votes > N/2
]


def test_every_rule_is_decisive_in_these_runs_and_the_engine_follows_it(engine):
    witnesses = Counter()
    for run in RULE_RUNS:
        result = engine.run(trace=True, **run)
        witnesses += _assert_follows_the_model(result, _config(trace=True, **run)).witnesses
        assert result.safe
    missing = [name for name in RULE_WITNESSES if witnesses[name] == 0]
    assert missing == [], f"no run where these rules decide anything: {missing}"


@pytest.mark.parametrize("protocol", PROTOCOL_SETTINGS)
@pytest.mark.parametrize("faults", FAULT_MODELS)
def test_each_protocol_and_fault_model_follows_its_rules(engine, protocol, faults, request):
    if faults == SILENCING:
        request.getfixturevalue("silencing_model")
    run = dict(nodes=5, fail_prob=0.3, rounds=20, trials=3, seed=21, initial_values="01101",
               protocol=protocol, faults=faults, trace=True)
    config = _config(**run)
    name = config.protocol.name
    assert name in RULES, (f"protocol {name!r} is registered but tests/conformance/"
                           "protocol_model.py does not know its rules: add them to RULES")
    assert (config.quorums.join, config.quorums.vote) == model_quorums(config)
    result = engine.run(**run)
    _assert_follows_the_model(result, config)
    assert all(t.initial_values == (0, 1, 1, 0, 1) for t in result.trials)
    if faults == SILENCING:
        assert sum(r.silenced for r in result.rounds) > 0
        assert all(r.joins <= 4 for r in result.rounds)  # node 2's JOIN never arrives


def test_an_acceptor_records_a_proposal_even_when_its_own_vote_is_lost(engine):
    # N=3, values (1, 0, 0). Round 0: leader 0 proposes its own 1; only acceptor 2 gets the
    # PROPOSE (the leader's own and acceptor 1's copies fail), and acceptor 2's VOTE becomes
    # CRASH: no decision. Round 1: leader 1 (val 0, never voted) hears its own START and a
    # JOIN from acceptor 2 only (acceptor 0's JOIN is lost). Acceptor 2 recorded round 0's proposal although its VOTE was
    # lost, so its JOIN reports (0, 1) and leader 1 proposes and decides 1, not its own 0.
    result = engine.run(3, 0.3, 4, seed=271, initial_values="100", trace=True)
    rows = {(t.round, t.phase, t.sender, t.receiver): (t.body, t.crashed) for t in result.trace}
    assert rows[(0, 2, 0, 2)] == ("PROPOSE 1", False)
    assert rows[(0, 2, 0, 0)] == rows[(0, 2, 0, 1)] == ("CRASH 0", True)
    assert rows[(0, 2, 2, 0)] == ("CRASH 0", True)  # acceptor 2's VOTE, lost
    assert (result.rounds[0].proposal, result.rounds[0].votes, result.rounds[0].decided) == (1, 0, False)
    assert rows[(1, 1, 1, 1)] == ("START", False)
    assert rows[(1, 1, 0, 1)] == ("CRASH 1", True)  # acceptor 0's JOIN, lost
    assert rows[(1, 1, 2, 1)] == ("JOIN 0 1", False)  # it recorded round 0's proposal
    first = result.rounds[1]
    assert (first.leader, first.joins, first.proposal, first.decision) == (1, 2, 1, 1)
    assert result.trials[0].initial_values[1] == 0  # so the 1 came from acceptor 2's report
    _assert_follows_the_model(result, _config(3, 0.3, 4, seed=271, initial_values="100",
                                               trace=True))


def test_an_acceptor_records_a_proposal_even_when_it_did_not_join(engine):
    # N=3, values (1, 0, 0). Round 0: leader 0's START to acceptor 1 fails (acceptor 1 relays
    # CRASH: it does not join), yet the PROPOSE 1 reaches it, and only it. Round 2: leader 2
    # (val 0, its own START lost) hears JOIN -1 None from node 0 and JOIN 0 1 from node 1:
    # it proposes and decides 1. The no_vote_without_join variant decides 0 there.
    common = dict(seed=40, initial_values="100", trace=True)
    result = engine.run(3, 0.3, 3, **common)
    rows = {(t.round, t.phase, t.sender, t.receiver): (t.body, t.crashed) for t in result.trace}
    assert rows[(0, 1, 0, 1)] == ("CRASH 0", True)
    assert rows[(0, 1, 1, 0)] == ("CRASH 0", False)  # relayed: acceptor 1 did not join
    assert rows[(0, 2, 0, 1)] == ("PROPOSE 1", False)
    assert [rows[(0, 2, 0, receiver)][0] for receiver in (0, 2)] == ["CRASH 0", "CRASH 0"]
    assert rows[(2, 1, 2, 2)] == ("CRASH 2", True)
    assert rows[(2, 1, 0, 2)] == ("JOIN -1 None", False)
    assert rows[(2, 1, 1, 2)] == ("JOIN 0 1", False)
    assert [(r.proposal, r.decision) for r in result.rounds] == [(1, None), (None, None), (1, 1)]
    wrong = engine.run(3, 0.3, 3, protocol="no_vote_without_join", **common)
    assert [(r.proposal, r.decision) for r in wrong.rounds] == [(1, None), (None, None), (0, 0)]
    _assert_follows_the_model(result, _config(3, 0.3, 3, **common))


# The draw of round 0's START from leader 0 to node 1, with seed 0.
STRICT_SEED = 0
STRICT_U = uniform(STRICT_SEED, 0, 0, Phase.JOIN, 0, 1)


def test_a_message_fails_iff_its_draw_is_strictly_below_p(engine):
    assert STRICT_U == 0.3454868883805655  # pinned: the draw keyed on this position
    outcomes = {}
    for label, p in (("below", math.nextafter(STRICT_U, 0.0)), ("equal", STRICT_U),
                     ("above", math.nextafter(STRICT_U, 1.0))):
        result = engine.run(3, p, 3, seed=STRICT_SEED, trace=True)
        assert result.config.fail_prob == p  # the probability reaches the nodes unrounded
        (row,) = [t for t in result.trace if (t.round, t.phase, t.sender, t.receiver) == (0, 1, 0, 1)]
        outcomes[label] = (row.kind, row.body, row.crashed)
        _assert_follows_the_model(result, _config(3, p, 3, seed=STRICT_SEED, trace=True))
    # U == p is not below p: delivered; one ulp above U fails.
    assert outcomes == {"below": ("START", "START", False), "equal": ("START", "START", False),
                        "above": ("CRASH", "CRASH 0", True)}


def test_under_a_silencing_model_the_silenced_are_counted_and_rounds_still_decide(
        engine, silencing_model):
    result = engine.run(5, 0.0, 5, seed=1, faults=silencing_model, trace=True)
    assert [r.silenced for r in result.rounds] == [2, 2, 9, 2, 2]
    assert [r.joins for r in result.rounds] == [4, 4, 0, 4, 4]
    assert [r.decided for r in result.rounds] == [True, True, False, True, True]
    (trial,) = result.trials
    assert trial.safe and trial.first_decision_round == 0
    assert sum(row.silenced for row in result.trace) == 2 * 4 + 9
    assert all(row.sender == 2 for row in result.trace if row.silenced)


# == properties over random configurations =====================================================

configs = st.fixed_dictionaries(
    {
        "nodes": st.integers(1, 9),
        "fail_prob": st.one_of(st.sampled_from([0.0, 1.0, 0.5]), st.floats(0.0, 1.0)),
        "rounds": st.integers(0, 20),
        "seed": st.integers(0, MAX_SEED),
        "trials": st.integers(1, 3),
    }
)
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
# Examples per engine: the reference explores widely; an engine that starts node processes
# for every example gets a smaller, still seeded, sample.
EXAMPLES = {"inprocess": {"configs": 500, "busy": 150, "equal": 120},
            "other": {"configs": 25, "busy": 15, "equal": 10}}


def _examples(engine: Engine, kind: str) -> int:
    return EXAMPLES["inprocess" if engine.name == "inprocess" else "other"][kind]


def _explore(strategy, examples, check):
    @settings(deadline=None, max_examples=examples, derandomize=True, database=None)
    @given(strategy)
    def explore(config):
        check(config)

    explore()


def _check_records(result, config):
    """Agreement, validity and proposal consistency recomputed from the round records, and
    the round records consistent with the protocol."""
    nodes, quorum = config["nodes"], majority(config["nodes"])
    assert len(result.trials) == config["trials"]
    assert len(result.rounds) == config["trials"] * config["rounds"]
    assert result.safe
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
        assert record.joins <= record.sent_start + record.sent_join
        assert record.sent_join <= nodes - 1 and record.sent_vote <= nodes - 1
        assert record.crashed <= (2 * nodes - 1) * (1 if record.proposal is None else 2)
        if config["fail_prob"] == 0.0:
            assert record.crashed == 0 and record.decided
        if config["fail_prob"] == 1.0:
            # Every START fails; acceptors then only relay (plain) and ROUNDCHANGE is plain.
            assert record.crashed == nodes and record.proposal is None


@on_engines(slow=True)
def test_random_configurations_are_safe_consistent_and_follow_the_model(engine):
    def check(config):
        result = engine.run(trace=True, **config)
        _check_records(result, config)
        _assert_follows_the_model(result, _config(trace=True, **config))

    _explore(configs, _examples(engine, "configs"), check)


@on_engines(slow=True)
def test_busy_random_configurations_are_safe(engine):
    def check(config):
        result = engine.run(**config)
        _check_records(result, config)

    _explore(busy_configs, _examples(engine, "busy"), check)


def test_all_equal_initial_values_force_that_value(engine):
    def check(drawn):
        config, value = drawn
        result = engine.run(initial_values=[value] * config["nodes"], **config)
        assert all(r.proposal in (None, value) for r in result.rounds)
        assert all(r.decision in (None, value) for r in result.rounds)
        assert all(t.decision in (None, value) for t in result.trials)
        assert all(t.initial_values == (value,) * config["nodes"] for t in result.trials)

    _explore(st.tuples(configs, st.sampled_from([0, 1])), _examples(engine, "equal"), check)


def test_the_checker_is_not_vacuous_non_intersecting_quorums_break_agreement(engine):
    # With quorums of 1 out of 3, two leaders can decide different values: the checks must see it.
    protocol = {"name": "flexible", "join_quorum": 1, "vote_quorum": 1, "allow_unsafe": True}
    result = engine.run(3, 0.5, 6, seed=0, protocol=protocol, trace=True)
    (trial,) = result.trials
    assert not trial.agreement_ok and not trial.proposals_ok
    assert not result.safe
    assert len({r.decision for r in result.rounds if r.decided}) == 2
    _assert_follows_the_model(result, _config(3, 0.5, 6, seed=0, protocol=protocol, trace=True))


# == reproducibility: pinned records, and a fresh interpreter ==================================

# Digests of record_digest() computed once and written down: a change to the draws, the
# protocol, the records or their order moves them (a same-seed-twice comparison in one process
# could not notice any of that). Each is checked on every engine.
GOLDEN = {
    "classic-N5": (dict(nodes=5, fail_prob=0.3, rounds=40, trials=2, seed=123, trace=True),
                   "16b5891e81e23b0047bc07dc36cc2b9648fd8614330c8ae1f64c725722a8eae9"),
    "own_value-N3": (dict(nodes=3, fail_prob=0.3, rounds=8, trials=20, seed=9,
                          protocol="own_value", trace=True), "fcb3f83bc2cadaba9a9d6dd1e135ac777690fdcc2c6d679754df7563bac73b43"),
    "flexible-N5": (dict(nodes=5, fail_prob=0.25, rounds=15, trials=2, seed=21,
                         initial_values="01101", protocol=SAFE_FLEXIBLE), "cd2040ce8ed295c2eb57ac7832bae2a876eaed433e8bed249096c67f75397e72"),
}
# A few of the pinned records, readable: trial 0 of classic-N5, one character per round
# ('.' round change, '-' proposed but undecided, else the decided value).
GOLDEN_CLASSIC_OUTCOMES = "..--..---.--0-...-0-0-.00.-0...-00.0--.0"
GOLDEN_CLASSIC_VALUES = "11001"


def _outcomes(result, trial=0):
    return "".join("." if r.proposal is None else "-" if not r.decided else str(r.decision)
                   for r in result.rounds if r.trial == trial)


@pytest.mark.parametrize("name", GOLDEN)
def test_pinned_seeds_give_the_pinned_records(engine, name):
    run, digest = GOLDEN[name]
    result = engine.run(**run)
    if name == "classic-N5":
        assert _outcomes(result) == GOLDEN_CLASSIC_OUTCOMES
        assert "".join(map(str, result.trials[0].initial_values)) == GOLDEN_CLASSIC_VALUES
    assert result.safe == (name != "own_value-N3")  # the wrong variant breaks agreement here
    assert record_digest(result) == digest


def test_another_seed_gives_other_records(engine):
    run, _ = GOLDEN["classic-N5"]
    first = engine.run(**run)
    other = engine.run(**{**run, "seed": run["seed"] + 1})
    assert first.rounds != other.rounds and record_digest(first) != record_digest(other)


_FRESH_CODE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import paxos_exp
from protocol_model import record_digest
runs = json.loads(sys.argv[2])
print(json.dumps({name: record_digest(paxos_exp.run(engine="inprocess", **run))
                  for name, run in runs.items()}))
"""


@pytest.fixture(scope="module")
def fresh_interpreter_digests() -> dict[str, str]:
    """The golden runs' digests as a fresh interpreter (other hash seed) computes them."""
    runs = {name: run for name, (run, _) in GOLDEN.items()}
    done = subprocess.run(
        [sys.executable, "-c", _FRESH_CODE, str(HERE), json.dumps(runs)],
        capture_output=True, text=True, timeout=120, check=True,
        env={**os.environ, "PYTHONHASHSEED": "4242"},
    )
    return json.loads(done.stdout)


@pytest.mark.parametrize("name", GOLDEN)
def test_a_fresh_interpreter_gives_the_same_records(engine, name, fresh_interpreter_digests):
    run, _ = GOLDEN[name]
    assert record_digest(engine.run(**run)) == fresh_interpreter_digests[name]


# == record identity with the reference engine ==================================================

# (nodes, fail_prob, rounds, trials, seed, start_method, trace)
CASES = [
    (1, 0.0, 5, 2, 0, "fork", True),
    (1, 0.5, 40, 3, 1, "fork", False),
    (2, 0.1, 30, 2, 2, "fork", True),
    (2, 0.6, 30, 2, 3, "fork", False),
    (3, 0.0, 10, 2, 4, "fork", False),
    (3, 0.3, 50, 3, 5, "fork", True),
    (4, 0.1, 40, 2, 6, "fork", True),
    (4, 0.6, 40, 2, 7, "fork", False),
    (5, 0.3, 40, 2, 8, "fork", True),
    (5, 1.0, 10, 2, 9, "fork", True),
    (7, 0.1, 25, 2, 10, "fork", False),
    (7, 0.3, 30, 2, 11, "fork", True),
    (9, 0.2, 20, 2, 15, "fork", False),
    (3, 0.2, 0, 2, 16, "fork", False),  # no rounds
    (3, 0.3, ROUND_CHUNK + 250, 1, 17, "fork", False),  # reports cross a chunk boundary
    (3, 0.3, 10, 2, 12, "spawn", True),
    (4, 0.1, 8, 2, 13, "spawn", False),
    (5, 0.3, 10, 2, 14, "forkserver", True),
]


def _case_id(case):
    nodes, p, rounds, trials, seed, method, trace = case
    return f"N{nodes}-p{p}-R{rounds}-T{trials}-s{seed}-{method}{'-trace' if trace else ''}"


def _identity_params():
    params = []
    for name in ENGINES:
        if name == REFERENCE:
            continue
        for case in CASES:
            method = case[5]
            if name != "processes" and method != "fork":
                continue  # start methods only mean something to the processes engine
            marks = () if method == "fork" else (pytest.mark.slow,)
            params.append(pytest.param(name, case, id=f"{name}-{_case_id(case)}", marks=marks))
    return params


@pytest.mark.parametrize("name, case", _identity_params())
def test_engine_matches_the_reference_engine(name, case):
    nodes, p, rounds, trials, seed, method, trace = case
    common = dict(trials=trials, seed=seed, trace=trace)
    real = paxos_exp.run(nodes, p, rounds, engine=name, start_method=method, **common)
    reference = paxos_exp.run(nodes, p, rounds, engine=REFERENCE, **common)
    assert real.engine == name
    if name == "processes":
        assert real.start_method == method
    assert len(real.rounds) == rounds * trials and len(real.trials) == trials
    assert real.rounds == reference.rounds
    assert real.trials == reference.trials
    if trace:
        assert real.trace is not None and len(real.trace) == sum(r.messages for r in real.rounds)
        assert real.trace == reference.trace
    else:
        assert real.trace is None and reference.trace is None
    assert real.safe


@on_engines(reference=False)
@pytest.mark.parametrize("protocol", PROTOCOL_SETTINGS)
@pytest.mark.parametrize("faults", FAULT_MODELS)
def test_engines_agree_for_every_protocol_and_fault_model(engine, protocol, faults, request):
    # Covers protocols the model does not know yet: the engines must still agree on them.
    if faults == SILENCING:
        request.getfixturevalue("silencing_model")
    common = dict(trials=4, seed=9, protocol=protocol, faults=faults, trace=True)
    result = engine.run(5, 0.3, 12, **common)
    reference = paxos_exp.run(5, 0.3, 12, engine=REFERENCE, **common)
    assert (result.rounds, result.trials, result.trace) == (reference.rounds, reference.trials,
                                                            reference.trace)


@pytest.mark.parametrize("faults", FAULT_VARIANTS.values(), ids=list(FAULT_VARIANTS))
def test_each_fault_model_variant_follows_the_model(engine, faults):
    run = dict(nodes=5, fail_prob=0.2, rounds=24, trials=3, seed=33, faults=faults,
               trace=True, safety="record")
    config = _config(**run)
    result = engine.run(**run)
    expected = _assert_follows_the_model(result, config)
    silenced = sum(r.silenced for r in result.rounds)
    assert silenced > 0, "a variant that silenced nothing tested nothing"
    if any(choice.name in ("crash_stop", "crash_recovery") for choice in config.fault_choices):
        assert expected.witnesses["node_down"] > 0 and expected.witnesses["leader_down"] > 0


def test_down_and_wiped_nodes_are_decisive_in_the_variants(engine):
    witnesses = Counter()
    for faults in FAULT_VARIANTS.values():
        run = dict(nodes=5, fail_prob=0.2, rounds=24, trials=3, seed=33, faults=faults)
        witnesses += expected_run(_config(**run)).witnesses
    assert [name for name in FAULT_WITNESSES if witnesses[name] == 0] == []


@on_engines(reference=False)
@pytest.mark.parametrize("faults", FAULT_VARIANTS.values(), ids=list(FAULT_VARIANTS))
def test_engines_agree_for_every_fault_model_variant(engine, faults):
    common = dict(trials=3, seed=19, faults=faults, trace=True, safety="record")
    result = engine.run(5, 0.2, 16, **common)
    reference = paxos_exp.run(5, 0.2, 16, engine=REFERENCE, **common)
    assert (result.rounds, result.trials, result.trace) == (reference.rounds, reference.trials,
                                                            reference.trace)
    assert sum(r.silenced for r in result.rounds) > 0
