"""Message kinds, their text form, and the wire envelope."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paxos_exp.core import messages as m
from paxos_exp.core.errors import ProtocolError
from paxos_exp.core.messages import (
    KINDS,
    MAX_ENVELOPE_BYTES,
    TOKEN_BYTES,
    Envelope,
    Kind,
    Message,
    Phase,
    misplaced,
    new_token,
    parse_body,
)

EXAMPLES = [
    (m.start(2), "START"),
    (m.join(1, -1, None), "JOIN -1 None"),
    (m.join(3, 7, 1), "JOIN 7 1"),
    (m.join(0, 0, 0), "JOIN 0 0"),
    (m.propose(0, 0), "PROPOSE 0"),
    (m.propose(4, 1), "PROPOSE 1"),
    (m.vote(5), "VOTE"),
    (m.roundchange(1), "ROUNDCHANGE"),
    (m.crash(3, 0), "CRASH 0"),
    (m.crash(0, 12), "CRASH 12"),
]


def test_there_are_exactly_the_six_protocol_kinds():
    assert [kind.value for kind in KINDS] == [
        "START", "JOIN", "PROPOSE", "VOTE", "ROUNDCHANGE", "CRASH",
    ]


@pytest.mark.parametrize(("message", "body"), EXAMPLES, ids=[body for _, body in EXAMPLES])
def test_body_is_the_assignment_text(message, body):
    assert message.body == body


@pytest.mark.parametrize(("message", "body"), EXAMPLES, ids=[body for _, body in EXAMPLES])
def test_parse_body_inverts_body(message, body):
    parsed = parse_body(body, message.sender)
    assert parsed == message
    assert parsed.body == body


def test_constructors_fill_the_fields_of_their_kind():
    assert m.join(2, 5, 1) == Message(Kind.JOIN, 2, value=1, voted_round=5)
    assert m.propose(1, 0) == Message(Kind.PROPOSE, 1, value=0)
    assert m.crash(4, 3) == Message(Kind.CRASH, 4, leader=3)
    for make in (m.start, m.vote, m.roundchange):
        message = make(6)
        assert (message.sender, message.value, message.voted_round, message.leader) == (6, None, -1, -1)


def test_messages_are_frozen():
    message = m.propose(0, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.value = 0  # type: ignore[misc]


def test_the_sender_is_not_part_of_the_body():
    assert m.vote(1).body == m.vote(2).body == "VOTE"
    assert parse_body("VOTE", 7).sender == 7


messages_strategy = st.one_of(
    st.builds(m.start, st.integers(0, 1000)),
    st.builds(
        m.join,
        st.integers(0, 1000),
        st.integers(-1, 10**6),
        st.one_of(st.none(), st.sampled_from([0, 1])),
    ),
    st.builds(m.propose, st.integers(0, 1000), st.sampled_from([0, 1])),
    st.builds(m.vote, st.integers(0, 1000)),
    st.builds(m.roundchange, st.integers(0, 1000)),
    st.builds(m.crash, st.integers(0, 1000), st.integers(0, 1000)),
)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(messages_strategy)
def test_body_round_trip_for_any_message(message):
    assert parse_body(message.body, message.sender) == message


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    messages_strategy,
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.sampled_from([Phase.JOIN, Phase.VOTE]),
)
def test_envelope_round_trip(message, trial, rnd, phase):
    envelope = Envelope(trial, rnd, phase, message)
    data = envelope.encode(TOKEN)
    assert isinstance(data, bytes)
    assert len(data) <= MAX_ENVELOPE_BYTES
    assert Envelope.decode(data, TOKEN) == envelope


TOKEN = bytes(range(TOKEN_BYTES))


def test_envelope_wire_format():
    envelope = Envelope(2, 17, Phase.VOTE, m.join(3, 4, 1))
    assert envelope.encode(TOKEN) == TOKEN + b"2 17 2 3 JOIN 4 1"
    assert Envelope(0, 0, Phase.JOIN, m.start(0)).encode(TOKEN) == TOKEN + b"0 0 1 0 START"


def test_tokens_are_fresh_per_run():
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) == 50
    assert all(len(token) == TOKEN_BYTES for token in tokens)


@pytest.mark.parametrize(
    "data",
    [
        b"0 0 2 0 PROPOSE 1",  # the old plain-text envelope, right tags, no token
        bytes(TOKEN_BYTES) + b"0 0 2 0 PROPOSE 1",  # a wrong token
        TOKEN[:-1] + b"0 0 2 0 PROPOSE 1",  # a token one byte short
        b"",
        b"\xff" * 100,
    ],
)
def test_messages_without_the_runs_token_are_foreign(data):
    assert Envelope.decode(data, TOKEN) is None


def test_malformed_message_with_the_token_quotes_only_a_prefix():
    with pytest.raises(ProtocolError) as caught:
        Envelope.decode(TOKEN + b"0 0 1 0 " + b"X" * 10_000, TOKEN)
    assert len(str(caught.value)) < 200
    assert "10008 bytes" in str(caught.value)


@pytest.mark.parametrize(
    "message, phase, receiver",
    [
        (m.start(1), Phase.JOIN, 0),
        (m.start(1), Phase.JOIN, 1),  # the leader's own START
        (m.join(0, -1, None), Phase.JOIN, 1),
        (m.crash(1, 1), Phase.JOIN, 2),  # the leader's START became CRASH
        (m.crash(2, 1), Phase.JOIN, 1),  # an acceptor relays CRASH to the leader
        (m.propose(1, 0), Phase.VOTE, 2),
        (m.roundchange(1), Phase.VOTE, 0),
        (m.vote(2), Phase.VOTE, 1),
        (m.crash(0, 1), Phase.VOTE, 1),
    ],
)
def test_messages_in_their_place_are_admitted(message, phase, receiver):
    assert misplaced(Envelope(3, 4, phase, message), 3, 4, phase, 1, receiver) is None


@pytest.mark.parametrize(
    "envelope, phase, receiver, reason",
    [
        (Envelope(2, 4, Phase.VOTE, m.propose(1, 1)), Phase.VOTE, 0, "trial 2"),
        (Envelope(3, 5, Phase.VOTE, m.propose(1, 1)), Phase.VOTE, 0, "round 5"),
        (Envelope(3, 4, Phase.JOIN, m.propose(1, 1)), Phase.JOIN, 0, "vote phase"),
        (Envelope(3, 4, Phase.VOTE, m.propose(0, 1)), Phase.VOTE, 2, "only the round's leader"),
        (Envelope(3, 4, Phase.JOIN, m.start(2)), Phase.JOIN, 0, "only the round's leader"),
        (Envelope(3, 4, Phase.VOTE, m.roundchange(2)), Phase.VOTE, 0, "only the round's leader"),
        (Envelope(3, 4, Phase.JOIN, m.join(1, -1, None)), Phase.JOIN, 1, "only an acceptor"),
        (Envelope(3, 4, Phase.JOIN, m.join(0, -1, None)), Phase.JOIN, 2, "only to the leader"),
        (Envelope(3, 4, Phase.VOTE, m.vote(0)), Phase.VOTE, 2, "only to the leader"),
        (Envelope(3, 4, Phase.JOIN, m.crash(0, 1)), Phase.JOIN, 2, "acceptor 0 to acceptor 2"),
        (Envelope(3, 4, Phase.JOIN, m.crash(0, 0)), Phase.JOIN, 1, "names leader 0"),
    ],
)
def test_misplaced_messages_say_why(envelope, phase, receiver, reason):
    found = misplaced(envelope, 3, 4, phase, 1, receiver)
    assert found is not None and reason in found


MALFORMED_BODIES = [
    "",
    " ",
    "start",
    "START ",
    " START",
    "START 1",
    "VOTE 1",
    "ROUNDCHANGE 0",
    "JOIN",
    "JOIN -1",
    "JOIN -1 None 3",
    "JOIN  -1 None",
    "JOIN x None",
    "JOIN -1 maybe",
    "PROPOSE",
    "PROPOSE None",
    "PROPOSE x",
    "PROPOSE 1 1",
    "CRASH",
    "CRASH None",
    "CRASH 1 2",
    "DECIDE 1",
    "START\n",
]


@pytest.mark.parametrize("body", MALFORMED_BODIES)
def test_malformed_body_raises_protocol_error(body):
    with pytest.raises(ProtocolError, match="malformed"):
        parse_body(body, 3)


def test_protocol_error_names_the_sender():
    with pytest.raises(ProtocolError, match="node 5"):
        parse_body("NONSENSE", 5)


MALFORMED_WIRE = [
    b"",
    b"0 0 1",
    b"0 0 1 0",
    b"x 0 1 0 START",
    b"0 y 1 0 START",
    b"0 0 z 0 START",
    b"0 0 1 w START",
    b"0 0 9 0 START",  # no such phase
    b"0 0 1 0 FOO",
    b"0 0 1 0 START extra",
    b"0 0 1 0 \xff\xfe",
    b"\xff 0 1 0 START",
]


@pytest.mark.parametrize("data", MALFORMED_WIRE)
def test_malformed_wire_message_raises_protocol_error(data):
    with pytest.raises(ProtocolError):
        Envelope.decode(TOKEN + data, TOKEN)


@pytest.mark.parametrize("body", ["PROPOSE 01", "CRASH +1", "JOIN 1_0 1"])
def test_non_canonical_numbers_are_rejected(body):
    with pytest.raises(ProtocolError):
        parse_body(body, 0)
