"""The round driver on its own: a list-based network, the omission model and fault stubs.

The stubs silence messages (the omission model never does), so these tests check the
driver's silence bookkeeping: who expects how many messages, what an acceptor that gets
nothing does, and the ``silenced`` counts of the reports, records and trace.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from paxos_exp.core import messages as m
from paxos_exp.core.assemble import TrialAssembler
from paxos_exp.core.config import RunConfig
from paxos_exp.core.driver import RoundDriver, TrialRun
from paxos_exp.core.draws import SeededDraws
from paxos_exp.core.faults import FaultsBase
from paxos_exp.core.faults.omission import Omission
from paxos_exp.core.messages import KINDS, Kind, Phase
from paxos_exp.core.node import NodeState
from paxos_exp.core.protocols import PROTOCOLS, classic
from paxos_exp.core.quorum import Quorums
from paxos_exp.core.records import KIND_INDEX


class ListNetwork:
    """Each node's inbox is a list; a receive must find exactly the count the driver names
    (so a driver whose expected counts disagree with what it delivered fails the test)."""

    def __init__(self, nodes):
        self.inbox = [[] for _ in range(nodes)]
        self.received = []  # (node, phase, messages) of every receive, in order

    def deliver(self, trial, rnd, phase, receiver, message):
        self.inbox[receiver].append(message)

    def receive(self, trial, node, phase, count):
        got = self.inbox[node]
        assert len(got) == count, (node, phase, count, got)
        self.inbox[node] = []
        got.sort(key=lambda message: message.sender)
        self.received.append((node, phase, list(got)))
        return got


class SilenceFrom(FaultsBase):
    """A fault model that silences every message sent by one node, and crashes nothing."""

    silences = True

    def __init__(self, node):
        self.node = node

    def crashes(self, trial, rnd, phase, sender, receiver):
        return False

    def silenced(self, trial, rnd, phase, sender, receiver):
        return sender == self.node


class SilenceTo(SilenceFrom):
    """Silences every message sent to one node."""

    def silenced(self, trial, rnd, phase, sender, receiver):
        return receiver == self.node


def _recording_classic(calls):
    """``classic`` whose acceptor steps note which node they ran for."""

    def on_request(ctx, state, received):
        calls.append(("request", state.node))
        return classic.on_request(ctx, state, received)

    def on_proposal(ctx, state, received):
        calls.append(("proposal", state.node))
        return classic.on_proposal(ctx, state, received)

    return replace(classic.PROTOCOL, on_request=on_request, on_proposal=on_proposal)


def _play(faults, rounds, nodes=5, values=(0, 1, 1, 0, 1), protocol=None, trace=True):
    network = ListNetwork(nodes)
    driver = RoundDriver(protocol or PROTOCOLS.get("classic"), Quorums.for_nodes(nodes), faults,
                         nodes, range(nodes), network, None)
    run = TrialRun(0, values[:nodes], range(nodes), nodes, trace)
    for rnd in rounds:
        driver.play(rnd, [run])
    return run, network


def _sent(row, kind):
    return row[1][KIND_INDEX[kind]]


def test_a_leader_counts_the_joins_and_votes_of_every_node_not_silenced():
    run, network = _play(SilenceFrom(2), [0])
    leader_row = run.reports[0][0][4]
    joins, proposal, votes, decision = leader_row
    assert (joins, votes) == (4, 4)  # N-1: node 2's JOIN and VOTE never arrive
    assert proposal is not None and decision == proposal  # still a quorum of 3 at N=5, p=0
    gathered = [(phase, [msg.sender for msg in msgs]) for node, phase, msgs in network.received
                if node == 0]
    assert gathered == [(Phase.JOIN, [0, 1, 3, 4]), (Phase.VOTE, [0, 1, 3, 4])]


def test_a_silenced_acceptor_puts_nothing_on_the_wire_and_its_report_counts_the_silenced():
    run, _ = _play(SilenceFrom(2), [0])
    rnd, sent, crashed, silenced, leader_row = run.reports[2][0]
    assert (rnd, sent, crashed, silenced, leader_row) == (0, (0,) * len(KINDS), 0, 2, None)
    # It still heard the PROPOSE (only its own sends are silenced), so it took the vote.
    assert (run.states[2].max_voted_round, run.states[2].max_voted_val) == (0, run.states[0].propose_val)
    for node in (1, 3, 4):
        row = run.reports[node][0]
        assert (_sent(row, Kind.JOIN), _sent(row, Kind.VOTE), row[3]) == (1, 1, 0)
    leader = run.reports[0][0]
    assert (_sent(leader, Kind.START), _sent(leader, Kind.PROPOSE), leader[3]) == (5, 5, 0)


def test_an_acceptor_that_gets_nothing_does_nothing():
    calls = []
    run, network = _play(SilenceTo(2), [0], protocol=_recording_classic(calls))
    assert sorted(set(calls)) == [(kind, node) for kind in ("proposal", "request")
                                  for node in (1, 3, 4)]
    assert run.states[2] == NodeState(2, 1)  # never voted
    assert run.reports[2][0][1:4] == ((0,) * len(KINDS), 0, 0)
    assert not any(msgs for node, _, msgs in network.received if node == 2)
    # The leader's START and PROPOSE to node 2 are counted as silenced, and it never joined.
    leader = run.reports[0][0]
    assert leader[3] == 2 and leader[4][0] == 4 and leader[4][3] is not None


def test_a_silenced_leader_changes_round_and_every_message_of_the_round_is_silenced():
    run, network = _play(SilenceFrom(2), [2])
    leader = run.reports[2][0]
    assert leader[4] == (0, None, 0, None)  # no join arrived, not even its own START
    assert leader[1] == (0,) * len(KINDS)
    assert leader[3] == 5 + 4  # START to all five, ROUNDCHANGE to the four others
    # Nobody gets anything, and the leader never gathers votes.
    assert [(node, phase) for node, phase, msgs in network.received] == [
        (0, Phase.JOIN), (1, Phase.JOIN), (3, Phase.JOIN), (4, Phase.JOIN), (2, Phase.JOIN),
        (0, Phase.VOTE), (1, Phase.VOTE), (3, Phase.VOTE), (4, Phase.VOTE)]
    assert not any(msgs for _, _, msgs in network.received)
    assert all(run.reports[node][0][1:4] == ((0,) * len(KINDS), 0, 0) for node in (0, 1, 3, 4))


class Down(FaultsBase):
    """Node ``node`` is down in the rounds ``down_in`` (every message to or from it silenced)
    and comes back wiped in the rounds ``wiped_in``; ``begin_round`` calls are noted."""

    silences = stops = stateful = True

    def __init__(self, node, down_in=(), wiped_in=()):
        self.node, self.down_in, self.wiped_in = node, set(down_in), set(wiped_in)
        self.begun = []

    def begin_round(self, trial, rnd):
        self.begun.append((trial, rnd))

    def down(self, trial, rnd, node):
        return node == self.node and rnd in self.down_in

    def wiped(self, trial, rnd, node):
        return node == self.node and rnd in self.wiped_in

    def silenced(self, trial, rnd, phase, sender, receiver):
        return self.down(trial, rnd, sender) or self.down(trial, rnd, receiver)


class Lines:
    def __init__(self):
        self.lines = []

    def opening(self, line):
        self.lines.append(line)

    def line(self, line):
        self.lines.append(line)


def test_a_down_leader_takes_no_step_writes_no_line_and_its_acceptors_hear_nothing():
    calls, lines, network = [], Lines(), ListNetwork(5)
    faults = Down(1, down_in={1})
    driver = RoundDriver(_recording_classic(calls), Quorums.for_nodes(5), faults, 5, range(5),
                         network, lines)
    run = TrialRun(0, (0, 1, 1, 0, 1), range(5), 5, True)
    before = list(run.states)
    driver.play(1, [run])
    assert faults.begun == [(0, 1)]
    assert run.states == before and calls == [] and lines.lines == []
    assert run.reports[1][0] == (1, (0,) * len(KINDS), 0, 0, (0, None, 0, None))
    assert all(run.reports[node][0] == (1, (0,) * len(KINDS), 0, 0, None) for node in (0, 2, 3, 4))
    assert not any(msgs for _, _, msgs in network.received)
    # The next round (node 1 up, not its round to lead) is an ordinary one.
    driver.play(2, [run])
    assert run.reports[2][1][4][3] is not None and ("request", 1) in calls


def test_a_down_acceptor_is_missing_from_the_quorum_and_a_wiped_node_forgets_its_vote():
    faults = Down(4, down_in={0}, wiped_in={1})
    run, _ = _play(faults, [0])
    assert run.reports[0][0][4][:1] == (4,) and run.states[4] == NodeState(4, 1)
    assert run.states[3].max_voted_round == 0  # the others voted in round 0
    # Node 3 voted in round 0; it starts round 1 wiped (and down): only its value is left.
    assert run.states[3] != NodeState(3, 0)
    RoundDriver(PROTOCOLS.get("classic"), Quorums.for_nodes(5),
                Down(3, down_in={1}, wiped_in={1}), 5, range(5), ListNetwork(5), None).play(1, [run])
    assert run.states[3] == NodeState(3, 0)


def test_the_records_and_the_trace_carry_the_silenced_counts():
    config = RunConfig(nodes=5, fail_prob=0.0, rounds=5, initial_values=(0, 1, 1, 0, 1), trace=True)
    run, _ = _play(SilenceFrom(2), range(5))
    rounds, trace = TrialAssembler(config, 0).add_chunk(run.reports, run.traces)
    assert [record.silenced for record in rounds] == [2, 2, 9, 2, 2]
    assert [record.decided for record in rounds] == [True, True, False, True, True]
    assert [record.joins for record in rounds] == [4, 4, 0, 4, 4]
    silenced = [row for row in trace if row.silenced]
    assert len(silenced) == sum(record.silenced for record in rounds)
    assert all(row.sender == 2 and not row.crashed for row in silenced)
    assert not any(row.sender == 2 for row in trace if not row.silenced)
    # What was meant is traced: node 2's JOIN of round 0 and its ROUNDCHANGE of round 2.
    assert any(row.round == 0 and row.kind == "JOIN" for row in silenced)
    assert any(row.round == 2 and row.kind == "ROUNDCHANGE" for row in silenced)
    # Messages put on the wire never include the silenced ones.
    assert (rounds[0].sent_start, rounds[0].sent_join, rounds[0].sent_propose,
            rounds[0].sent_vote) == (5, 3, 5, 3)
    assert rounds[0].messages == 16 and rounds[2].messages == 0


def test_without_silences_every_node_is_expected_and_a_round_decides():
    run, _ = _play(Omission(0.0, SeededDraws(0)), [0])
    assert run.reports[0][0][4] == (5, 0, 5, 0)  # node 0's value is 0, nobody voted before
    assert all(row[3] == 0 for reports in run.reports for row in reports)


def test_a_failure_prone_send_hit_by_the_draw_becomes_crash_naming_the_leader():
    # p=1: every START becomes CRASH 1; the acceptors relay CRASH (plain, never hit); the
    # leader has no join and sends ROUNDCHANGE (plain) to the others.
    run, network = _play(Omission(1.0, SeededDraws(0)), [1], nodes=3)
    assert network.received == [
        (0, Phase.JOIN, [m.crash(1, 1)]),
        (2, Phase.JOIN, [m.crash(1, 1)]),
        (1, Phase.JOIN, [m.crash(0, 1), m.crash(1, 1), m.crash(2, 1)]),
        (0, Phase.VOTE, [m.roundchange(1)]),
        (2, Phase.VOTE, [m.roundchange(1)]),
    ]
    leader = run.reports[1][0]
    assert (_sent(leader, Kind.CRASH), _sent(leader, Kind.START), leader[2]) == (3, 0, 3)
    assert _sent(leader, Kind.ROUNDCHANGE) == 2 and leader[4] == (0, None, 0, None)
    for node in (0, 2):
        assert (_sent(run.reports[node][0], Kind.CRASH), run.reports[node][0][2]) == (1, 0)
    hit = [row for rows in run.traces for row in rows if row[6]]
    assert sorted((row[2], row[3], row[5]) for row in hit) == [(1, r, "CRASH 1") for r in range(3)]


@pytest.mark.parametrize("seed", [3, 17])
def test_the_driver_crashes_exactly_the_sends_the_fault_model_names(seed):
    faults = Omission(0.4, SeededDraws(seed))
    run, _ = _play(faults, range(10))
    outcomes = []
    for rows in run.traces:
        for rnd, phase, sender, receiver, kind, body, crashed, silenced in rows:
            assert not silenced
            if kind in ("CRASH", "ROUNDCHANGE") and not crashed:
                continue  # a relayed CRASH or a ROUNDCHANGE: plain, never drawn
            assert crashed == faults.crashes(0, rnd, phase, sender, receiver), (rnd, sender, receiver)
            if crashed:
                assert (kind, body) == ("CRASH", f"CRASH {rnd % 5}")
            outcomes.append(crashed)
    assert any(outcomes) and not all(outcomes)  # both kinds of outcome were checked


class CrashAt(FaultsBase):
    """A fault model that turns exactly the failure-prone sends at the given positions
    ``(round, phase, sender, receiver)`` into CRASH, and silences nothing."""

    silences = False

    def __init__(self, *positions):
        self.positions = set(positions)

    def crashes(self, trial, rnd, phase, sender, receiver):
        return (rnd, phase, sender, receiver) in self.positions

    def silenced(self, trial, rnd, phase, sender, receiver):
        return False


def _bodies_to(network, node, phase, occurrence=0):
    """The bodies ``node`` received in its ``occurrence``-th receive of ``phase``."""
    found = [msgs for receiver, got_phase, msgs in network.received
             if receiver == node and got_phase == phase]
    return [(msg.sender, msg.body) for msg in found[occurrence]]


def test_an_acceptor_whose_vote_is_lost_has_recorded_the_proposal_and_reports_it_next_round():
    # N=3, values (1, 0, 0). Round 0: node 2's VOTE to leader 0 becomes CRASH. Round 1: node
    # 1 leads; node 2's JOIN reports round 0's proposal, which leader 1 (val 0) then proposes.
    faults = CrashAt((0, Phase.VOTE, 2, 0))
    run, network = _play(faults, [0], nodes=3, values=(1, 0, 0))
    assert run.reports[0][0][4] == (3, 1, 2, 1)  # 3 joins, proposal 1, 2 votes, decided
    assert (run.states[2].max_voted_round, run.states[2].max_voted_val) == (0, 1)
    assert _bodies_to(network, 0, Phase.VOTE) == [(0, "PROPOSE 1"), (1, "VOTE"), (2, "CRASH 0")]
    network2 = ListNetwork(3)
    driver = RoundDriver(PROTOCOLS.get("classic"), Quorums.for_nodes(3), faults, 3, range(3),
                         network2, None)
    driver.play(1, [run])
    assert _bodies_to(network2, 1, Phase.JOIN) == [(0, "JOIN 0 1"), (1, "START"), (2, "JOIN 0 1")]
    assert run.reports[1][1][4][1] == 1


def test_an_acceptor_that_did_not_join_records_the_proposal_through_the_driver():
    # N=3, values (1, 0, 0). Round 0: leader 0's START to node 2 becomes CRASH (node 2 relays
    # it and does not join), and its PROPOSE to node 1 becomes CRASH: only node 2 gets the
    # PROPOSE, and only node 2 (besides the leader) holds round 0's vote afterwards.
    faults = CrashAt((0, Phase.JOIN, 0, 2), (0, Phase.VOTE, 0, 1))
    run, network = _play(faults, [0], nodes=3, values=(1, 0, 0))
    assert _bodies_to(network, 2, Phase.JOIN) == [(0, "CRASH 0")]
    assert _bodies_to(network, 2, Phase.VOTE) == [(0, "PROPOSE 1")]
    assert [(state.max_voted_round, state.max_voted_val) for state in run.states] == [
        (0, 1), (-1, None), (0, 1)]
    assert run.reports[0][0][4] == (2, 1, 2, 1)


def test_a_round_is_one_schedule_of_steps_that_play_runs_in_order():
    driver = RoundDriver(classic.PROTOCOL, Quorums.for_nodes(3), Omission(0.0, SeededDraws(0)),
                         3, range(3), ListNetwork(3), None)
    names = [(step.__name__, node) for step, node in driver.steps(4)]  # round 4: leader 1
    assert names == [("lead_start", 1), ("accept_join", 0), ("accept_join", 2),
                     ("count_joins", 1), ("propose", 1), ("accept_vote", 0),
                     ("accept_vote", 2), ("count_votes", 1), ("report", 1)]
    # An engine hosting one acceptor runs only its steps (and the report).
    alone = RoundDriver(classic.PROTOCOL, Quorums.for_nodes(3), Omission(0.0, SeededDraws(0)),
                        3, [2], ListNetwork(3), None)
    assert [(step.__name__, node) for step, node in alone.steps(1)] == [
        ("accept_join", 2), ("accept_vote", 2), ("report", 1)]
