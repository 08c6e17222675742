"""The pure leader and acceptor steps: message in, messages out, no sockets."""

from __future__ import annotations

import itertools

import pytest

from paxos_exp.core import messages as m
from paxos_exp.core.errors import ProtocolError
from paxos_exp.core.messages import Kind
from typing import NamedTuple

from paxos_exp.core.node import NodeState, Send, leader_of
from paxos_exp.core.protocols import RoundContext, classic
from paxos_exp.core.quorum import Quorums

# The rules below are the classic protocol's steps, called through their one signature
# ``step(ctx, state, received) -> (state, sends, counted)``; these helpers only name the
# parts each test looks at.


class JoinOutcome(NamedTuple):
    joins: int
    proposal: int | None


class VoteOutcome(NamedTuple):
    votes: int
    decision: int | None


def _ctx(rnd, leader, nodes, quorums=None):
    return RoundContext(0, rnd, leader, nodes, quorums or Quorums.for_nodes(nodes))


def leader_start(state, nodes):
    return classic.start(_ctx(0, state.node, nodes), state, ())[1]


def acceptor_on_request(state, message, leader):
    return classic.on_request(_ctx(0, leader, max(leader, state.node) + 1), state, [message])[1]


def acceptor_on_proposal(state, message, rnd, leader):
    new, sends, _ = classic.on_proposal(_ctx(rnd, leader, max(leader, state.node) + 1), state,
                                         [message])
    return new, sends


def leader_on_joins(state, received, nodes, quorums):
    new, sends, joins = classic.on_joins(_ctx(0, state.node, nodes, quorums), state, received)
    return new, JoinOutcome(joins, new.propose_val), sends


def leader_on_votes(state, received, rnd, nodes, quorums):
    new, _, votes = classic.on_votes(_ctx(rnd, state.node, nodes, quorums), state, received)
    return new, VoteOutcome(votes, new.decision)


def q(nodes: int) -> Quorums:
    return Quorums.for_nodes(nodes)


# -- leadership and phase 1 of the leader ---------------------------------------------------


@pytest.mark.parametrize(("rnd", "nodes", "leader"), [(0, 1, 0), (5, 1, 0), (0, 3, 0), (4, 3, 1), (8, 3, 2), (9, 4, 1)])
def test_leader_is_round_mod_n(rnd, nodes, leader):
    assert leader_of(rnd, nodes) == leader


@pytest.mark.parametrize("nodes", [1, 2, 5])
def test_leader_start_broadcasts_failure_prone_start_to_everyone_itself_included_in_order(nodes):
    state = NodeState(node=nodes - 1, val=1)
    sends = leader_start(state, nodes)
    assert [send.receiver for send in sends] == list(range(nodes))
    assert all(send.failure_prone for send in sends)
    assert all(send.message == m.start(nodes - 1) for send in sends)


# -- acceptor, phase 1 -----------------------------------------------------------------------


def test_acceptor_answers_start_with_its_voting_state_failure_prone():
    fresh = NodeState(node=2, val=0)
    assert acceptor_on_request(fresh, m.start(0), leader=0) == [Send(0, m.join(2, -1, None), True)]
    voted = NodeState(node=2, val=0, max_voted_round=4, max_voted_val=1)
    (send,) = acceptor_on_request(voted, m.start(1), leader=1)
    assert send == Send(1, m.join(2, 4, 1), True)
    assert send.message.body == "JOIN 4 1"


def test_first_join_body_is_join_minus_one_none():
    (send,) = acceptor_on_request(NodeState(1, 1), m.start(0), leader=0)
    assert send.message.body == "JOIN -1 None"


def test_acceptor_relays_crash_to_the_leader_as_a_plain_send():
    (send,) = acceptor_on_request(NodeState(3, 1), m.crash(0, 0), leader=0)
    assert send == Send(0, m.crash(3, 0), False)
    assert send.message.body == "CRASH 0"


@pytest.mark.parametrize(
    "message", [m.propose(0, 1), m.vote(0), m.roundchange(0), m.join(0, -1, None)], ids=lambda x: x.body
)
def test_acceptor_rejects_other_messages_in_the_join_phase(message):
    with pytest.raises(ProtocolError):
        acceptor_on_request(NodeState(1, 0), message, leader=0)


# -- acceptor, phase 2 -----------------------------------------------------------------------


def test_acceptor_votes_on_propose_and_records_it():
    state = NodeState(node=1, val=0, max_voted_round=2, max_voted_val=0)
    new, sends = acceptor_on_proposal(state, m.propose(0, 1), rnd=6, leader=0)
    assert (new.max_voted_round, new.max_voted_val) == (6, 1)
    assert (new.node, new.val, new.decision) == (1, 0, None)
    assert sends == [Send(0, m.vote(1), True)]


def test_acceptor_relays_crash_in_the_vote_phase_without_changing_state():
    state = NodeState(node=2, val=1, max_voted_round=3, max_voted_val=1)
    new, sends = acceptor_on_proposal(state, m.crash(1, 1), rnd=4, leader=1)
    assert new == state
    assert sends == [Send(1, m.crash(2, 1), False)]


def test_acceptor_does_nothing_on_roundchange():
    state = NodeState(node=2, val=1)
    new, sends = acceptor_on_proposal(state, m.roundchange(0), rnd=0, leader=0)
    assert new == state and sends == []


@pytest.mark.parametrize("message", [m.start(0), m.vote(0), m.join(0, -1, None)], ids=lambda x: x.body)
def test_acceptor_rejects_other_messages_in_the_vote_phase(message):
    with pytest.raises(ProtocolError):
        acceptor_on_proposal(NodeState(1, 0), message, rnd=0, leader=0)


# -- leader, end of phase 1: the value rule ---------------------------------------------------


def test_leader_own_start_crashed_ignores_its_own_newer_vote():
    # Node 0 leads, N=3. Its own START became CRASH, so its own (newer) vote must not count.
    leader = NodeState(node=0, val=0, max_voted_round=5, max_voted_val=1)
    received = [m.crash(0, 0), m.join(1, 3, 0), m.join(2, -1, None)]
    # In every arrival order: the own START is recognised by sender, not by position.
    for order in itertools.permutations(received):
        new, outcome, sends = leader_on_joins(leader, list(order), 3, q(3))
        assert outcome == JoinOutcome(joins=2, proposal=0)
        assert new.propose_val == 0
        assert sends == [Send(r, m.propose(0, 0), True) for r in range(3)]


def test_leader_own_start_crashed_and_nobody_voted_proposes_own_val_not_own_old_vote():
    leader = NodeState(node=0, val=0, max_voted_round=5, max_voted_val=1)
    received = [m.crash(0, 0), m.join(1, -1, None), m.join(2, -1, None)]
    _, outcome, _ = leader_on_joins(leader, received, 3, q(3))
    assert outcome.proposal == 0  # its own val, not its own (ignored) max voted value 1


def test_leader_own_state_newer_than_every_joiner_is_used_when_its_start_arrived():
    leader = NodeState(node=1, val=0, max_voted_round=5, max_voted_val=1)
    received = [m.join(0, 3, 0), m.start(1), m.join(2, 4, 0)]
    new, outcome, _ = leader_on_joins(leader, received, 3, q(3))
    assert outcome == JoinOutcome(joins=3, proposal=1)
    assert new.propose_val == 1


def test_leader_own_state_older_than_a_joiner_loses():
    leader = NodeState(node=1, val=1, max_voted_round=2, max_voted_val=1)
    received = [m.join(0, 3, 0), m.start(1), m.crash(2, 1)]
    _, outcome, _ = leader_on_joins(leader, received, 3, q(3))
    assert outcome == JoinOutcome(joins=2, proposal=0)


@pytest.mark.parametrize(("val", "nodes"), [(0, 1), (1, 1), (0, 3), (1, 3), (1, 4)])
def test_nobody_voted_before_leader_proposes_its_own_val(val, nodes):
    leader = NodeState(node=0, val=val)
    received = [m.start(0)] + [m.join(i, -1, None) for i in range(1, nodes)]
    new, outcome, sends = leader_on_joins(leader, received, nodes, q(nodes))
    assert outcome == JoinOutcome(joins=nodes, proposal=val)
    assert new.propose_val == val
    assert [s.message.body for s in sends] == [f"PROPOSE {val}"] * nodes


def test_highest_max_voted_round_wins_regardless_of_message_order():
    leader = NodeState(node=2, val=0)
    received = [
        m.join(0, 1, 0),
        m.join(1, 7, 1),
        m.start(2),
        m.join(3, 4, 0),
        m.join(4, -1, None),
    ]
    for order in itertools.permutations(received):
        _, outcome, _ = leader_on_joins(leader, list(order), 5, q(5))
        assert outcome == JoinOutcome(joins=5, proposal=1)


def test_crash_from_an_acceptor_is_not_a_join():
    leader = NodeState(node=0, val=1)
    # N=3: own START + two CRASH relays is one join: round change.
    received = [m.start(0), m.crash(1, 0), m.crash(2, 0)]
    new, outcome, sends = leader_on_joins(leader, received, 3, q(3))
    assert outcome == JoinOutcome(joins=1, proposal=None)
    assert new.propose_val is None
    assert sends == [Send(r, m.roundchange(0), False) for r in (1, 2)]


def test_crash_does_not_take_part_in_the_value_rule():
    # A CRASH carries no voting state (its voted_round default is -1): a JOIN with round 0
    # must win over it, and the leader must not read the CRASH's (absent) value.
    leader = NodeState(node=0, val=1)
    received = [m.crash(0, 0), m.crash(1, 0), m.join(2, 0, 0), m.join(3, -1, None)]
    _, outcome, _ = leader_on_joins(leader, received, 4, Quorums(join=2, vote=2))
    assert outcome == JoinOutcome(joins=2, proposal=0)


def test_own_crash_is_not_a_join():
    leader = NodeState(node=1, val=1)
    received = [m.join(0, -1, None), m.crash(1, 1), m.crash(2, 1)]
    _, outcome, sends = leader_on_joins(leader, received, 3, q(3))
    assert outcome == JoinOutcome(joins=1, proposal=None)
    assert [s.receiver for s in sends] == [0, 2]


def test_roundchange_goes_to_everyone_except_the_leader_as_plain_sends():
    leader = NodeState(node=2, val=1, propose_val=0)
    received = [m.crash(i, 2) for i in range(5)]
    new, outcome, sends = leader_on_joins(leader, received, 5, q(5))
    assert outcome == JoinOutcome(joins=0, proposal=None)
    assert new.propose_val is None  # a stale proposal is cleared
    assert sends == [Send(r, m.roundchange(2), False) for r in (0, 1, 3, 4)]


def test_n1_leader_alone_is_a_quorum_or_nothing():
    alone = NodeState(node=0, val=1)
    _, outcome, sends = leader_on_joins(alone, [m.start(0)], 1, q(1))
    assert outcome == JoinOutcome(1, 1) and sends == [Send(0, m.propose(0, 1), True)]
    _, outcome, sends = leader_on_joins(alone, [m.crash(0, 0)], 1, q(1))
    assert outcome == JoinOutcome(0, None) and sends == []


def test_n2_needs_both_joins():
    leader = NodeState(node=0, val=1)
    _, outcome, _ = leader_on_joins(leader, [m.start(0), m.crash(1, 0)], 2, q(2))
    assert outcome.proposal is None
    _, outcome, _ = leader_on_joins(leader, [m.crash(0, 0), m.join(1, -1, None)], 2, q(2))
    assert outcome.proposal is None
    _, outcome, _ = leader_on_joins(leader, [m.start(0), m.join(1, -1, None)], 2, q(2))
    assert outcome == JoinOutcome(2, 1)


def test_exactly_half_the_joins_is_not_a_quorum_at_even_n():
    # joins > N/2: at N=4 two joins change the round, three propose.
    leader = NodeState(node=0, val=1)
    _, outcome, sends = leader_on_joins(leader, [m.start(0), m.join(1, -1, None), m.crash(2, 0),
                                                 m.crash(3, 0)], 4, q(4))
    assert outcome == JoinOutcome(2, None)
    assert [s.message.kind for s in sends] == [Kind.ROUNDCHANGE] * 3
    _, outcome, _ = leader_on_joins(leader, [m.start(0), m.join(1, -1, None), m.join(2, -1, None),
                                             m.crash(3, 0)], 4, q(4))
    assert outcome == JoinOutcome(3, 1)


def test_exactly_half_the_votes_does_not_decide_at_even_n():
    leader = NodeState(node=0, val=1, propose_val=1)
    _, voted = leader_on_votes(leader, [m.propose(0, 1), m.vote(1), m.crash(2, 0), m.crash(3, 0)],
                               rnd=0, nodes=4, quorums=q(4))
    assert voted == VoteOutcome(2, None)
    _, voted = leader_on_votes(leader, [m.propose(0, 1), m.vote(1), m.vote(2), m.crash(3, 0)],
                               rnd=0, nodes=4, quorums=q(4))
    assert voted == VoteOutcome(3, 1)


def test_a_join_with_a_voted_round_but_no_value_is_refused_not_proposed():
    # PROTOCOL.md's classic mistake "proposing -1/None" cannot happen silently.
    leader = NodeState(node=0, val=1)
    with pytest.raises(ProtocolError, match="no value"):
        leader_on_joins(leader, [m.start(0), m.join(1, 3, None), m.join(2, -1, None)], 3, q(3))


def test_an_acceptor_that_did_not_join_still_records_the_proposal_and_reports_it():
    # Its START became CRASH (it relays it, plain), yet the PROPOSE reaches it: it records the
    # proposal and votes, and its next JOIN reports it.
    ctx = _ctx(3, 0, 3)
    state = NodeState(node=2, val=0)
    state, sends, _ = classic.on_request(ctx, state, [m.crash(0, 0)])
    assert sends == [Send(0, m.crash(2, 0), False)] and state == NodeState(node=2, val=0)
    state, sends, _ = classic.on_proposal(ctx, state, [m.propose(0, 1)])
    assert (state.max_voted_round, state.max_voted_val) == (3, 1)
    assert sends == [Send(0, m.vote(2), True)]
    (send,) = acceptor_on_request(state, m.start(1), leader=1)
    assert send.message.body == "JOIN 3 1"


def test_an_acceptor_records_the_proposal_before_its_vote_is_sent():
    # The step returns the recorded state with the (failure-prone) VOTE: whether the VOTE is
    # then lost is the fault model's business, after the step, and cannot undo the record.
    new, sends = acceptor_on_proposal(NodeState(node=1, val=0), m.propose(2, 1), rnd=5, leader=2)
    assert (new.max_voted_round, new.max_voted_val) == (5, 1)
    assert [(s.receiver, s.message.kind, s.failure_prone) for s in sends] == [(2, Kind.VOTE, True)]


def test_a_leader_counts_only_the_joins_that_arrived():
    # A fault model may silence messages: what is missing is simply not a join (duplicates
    # and strangers never reach a step: the real runtime's inbox fails the run on them).
    new, outcome, sends = leader_on_joins(NodeState(0, 0), [m.start(0), m.join(1, -1, None)], 5,
                                          q(5))
    assert outcome == JoinOutcome(2, None)  # 2 of 5 joins: round change
    assert new.propose_val is None
    assert sends == [Send(r, m.roundchange(0), False) for r in (1, 2, 3, 4)]
    _, outcome, _ = leader_on_joins(NodeState(0, 0), [], 3, q(3))
    assert outcome == JoinOutcome(0, None)
    _, outcome, _ = leader_on_joins(NodeState(0, 1), [m.join(1, -1, None), m.join(2, -1, None)],
                                    3, q(3))
    assert outcome == JoinOutcome(2, 1)  # its own START silenced: two acceptors still a quorum


def test_an_acceptor_step_takes_exactly_one_message():
    for received in ([], [m.start(1), m.start(1)], [m.start(1), m.crash(1, 1)]):
        with pytest.raises(ProtocolError, match="join phase, not one"):
            classic.on_request(_ctx(0, 1, 3), NodeState(0, 0), received)
    for received in ([], [m.propose(1, 0), m.propose(1, 0)], [m.roundchange(1)] * 2):
        with pytest.raises(ProtocolError, match="vote phase, not one"):
            classic.on_proposal(_ctx(0, 1, 3), NodeState(0, 0), received)


@pytest.mark.parametrize(
    "received",
    [
        [m.join(0, -1, None), m.join(1, -1, None), m.join(2, -1, None)],  # own JOIN
        [m.start(0), m.start(1), m.join(2, -1, None)],  # START from an acceptor
        [m.start(0), m.vote(1), m.join(2, -1, None)],
        [m.start(0), m.propose(1, 0), m.join(2, -1, None)],
    ],
)
def test_leader_on_joins_rejects_wrong_kinds(received):
    with pytest.raises(ProtocolError):
        leader_on_joins(NodeState(0, 0), received, 3, q(3))


# -- leader, end of phase 2 -------------------------------------------------------------------


def test_own_propose_counts_as_a_vote_and_records_the_vote():
    leader = NodeState(node=0, val=0, propose_val=1, max_voted_round=2, max_voted_val=0)
    received = [m.propose(0, 1), m.vote(1), m.crash(2, 0)]
    new, outcome = leader_on_votes(leader, received, rnd=9, nodes=3, quorums=q(3))
    assert outcome == VoteOutcome(votes=2, decision=1)
    assert (new.max_voted_round, new.max_voted_val, new.decision) == (9, 1, 1)


def test_own_propose_crashed_does_not_record_a_vote():
    leader = NodeState(node=0, val=0, propose_val=1, max_voted_round=2, max_voted_val=0)
    received = [m.crash(0, 0), m.vote(1), m.vote(2)]
    new, outcome = leader_on_votes(leader, received, rnd=9, nodes=3, quorums=q(3))
    assert outcome == VoteOutcome(votes=2, decision=1)
    assert (new.max_voted_round, new.max_voted_val) == (2, 0)
    assert new.decision == 1


def test_too_few_votes_do_not_decide():
    leader = NodeState(node=1, val=0, propose_val=0)
    received = [m.crash(0, 1), m.propose(1, 0), m.crash(2, 1), m.vote(3)]
    new, outcome = leader_on_votes(leader, received, rnd=5, nodes=4, quorums=q(4))
    assert outcome == VoteOutcome(votes=2, decision=None)
    assert new.decision is None
    assert new.max_voted_round == 5  # its own PROPOSE arrived


def test_vote_order_does_not_matter():
    leader = NodeState(node=2, val=0, propose_val=1)
    received = [m.vote(0), m.crash(1, 2), m.propose(2, 1), m.vote(3), m.crash(4, 2)]
    for order in itertools.permutations(received):
        new, outcome = leader_on_votes(leader, list(order), rnd=7, nodes=5, quorums=q(5))
        assert outcome == VoteOutcome(votes=3, decision=1)
        assert new.max_voted_round == 7


def test_counting_votes_without_a_proposal_is_an_error():
    with pytest.raises(ProtocolError, match="without having proposed"):
        leader_on_votes(NodeState(0, 0), [m.propose(0, 0)], rnd=0, nodes=1, quorums=q(1))


def test_the_decision_in_the_state_is_this_rounds_only():
    # A leader that decided in an earlier round and now misses the quorum has no decision
    # in this round: ``decision`` is not sticky.
    earlier = NodeState(node=0, val=1, propose_val=1, decision=1)
    new, outcome = leader_on_votes(earlier, [m.propose(0, 1), m.crash(1, 0), m.crash(2, 0)],
                                   rnd=3, nodes=3, quorums=q(3))
    assert outcome == VoteOutcome(votes=1, decision=None)
    assert new.decision is None
    new, outcome = leader_on_votes(earlier, [m.propose(0, 1), m.vote(1), m.crash(2, 0)],
                                   rnd=6, nodes=3, quorums=q(3))
    assert outcome == VoteOutcome(votes=2, decision=1) and new.decision == 1


def test_a_leader_counts_only_the_votes_that_arrived():
    state = NodeState(0, 0, propose_val=1)
    _, voted = leader_on_votes(state, [m.propose(0, 1), m.vote(1)], rnd=0, nodes=3, quorums=q(3))
    assert voted == VoteOutcome(2, 1)
    _, voted = leader_on_votes(state, [m.vote(1)], rnd=0, nodes=5, quorums=q(5))
    assert voted == VoteOutcome(1, None)


@pytest.mark.parametrize(
    "received",
    [
        [m.vote(0), m.vote(1), m.vote(2)],  # a VOTE from itself
        [m.propose(0, 1), m.join(1, -1, None), m.vote(2)],
        [m.propose(0, 1), m.propose(1, 1), m.vote(2)],
        [m.propose(0, 1), m.roundchange(1), m.vote(2)],
    ],
)
def test_leader_on_votes_rejects_wrong_kinds(received):
    with pytest.raises(ProtocolError):
        leader_on_votes(NodeState(0, 0, propose_val=1), received, rnd=0, nodes=3, quorums=q(3))


def test_custom_quorums_are_honoured():
    leader = NodeState(node=0, val=1)
    received = [m.start(0), m.crash(1, 0), m.crash(2, 0), m.crash(3, 0)]
    _, outcome, _ = leader_on_joins(leader, received, 4, Quorums(join=1, vote=4))
    assert outcome == JoinOutcome(1, 1)
    voting = NodeState(node=0, val=1, propose_val=1)
    _, voted = leader_on_votes(voting, [m.propose(0, 1), m.vote(1), m.vote(2), m.crash(3, 0)], 0, 4, Quorums(1, 4))
    assert voted == VoteOutcome(3, None)


def test_steps_never_mutate_their_input_state():
    state = NodeState(node=0, val=1)
    leader_on_joins(state, [m.start(0), m.join(1, 3, 0), m.join(2, -1, None)], 3, q(3))
    acceptor_on_proposal(state, m.propose(1, 0), rnd=3, leader=1)
    assert state == NodeState(node=0, val=1)


def test_a_full_round_by_hand_n3():
    """Wire the steps together for one loss-free round and check every message kind."""
    nodes, rnd = 3, 4
    leader_id = leader_of(rnd, nodes)
    states = [NodeState(0, 0), NodeState(1, 1, max_voted_round=2, max_voted_val=0), NodeState(2, 1)]
    starts = leader_start(states[leader_id], nodes)
    replies = {leader_id: starts[leader_id].message}
    for send in starts:
        if send.receiver != leader_id:
            (reply,) = acceptor_on_request(states[send.receiver], send.message, leader_id)
            assert reply.message.kind is Kind.JOIN
            replies[send.receiver] = reply.message
    states[leader_id], joined, proposals = leader_on_joins(
        states[leader_id], [replies[i] for i in range(nodes)], nodes, q(nodes)
    )
    assert joined == JoinOutcome(3, 0)  # node 1's own earlier vote for 0 in round 2
    votes = {leader_id: proposals[leader_id].message}
    for send in proposals:
        if send.receiver != leader_id:
            states[send.receiver], (reply,) = acceptor_on_proposal(
                states[send.receiver], send.message, rnd, leader_id
            )
            votes[send.receiver] = reply.message
    states[leader_id], voted = leader_on_votes(
        states[leader_id], [votes[i] for i in range(nodes)], rnd, nodes, q(nodes)
    )
    assert voted == VoteOutcome(3, 0)
    assert [(s.max_voted_round, s.max_voted_val) for s in states] == [(4, 0)] * 3
    assert states[leader_id].decision == 0
