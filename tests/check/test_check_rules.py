"""Hand-made broken transcripts, one (or a few) per rule: each reports exactly the rule it
breaks, at the line that breaks it, and nothing else (no cascade of consequences)."""

from __future__ import annotations

import pytest
from check_helpers import problems_of

from paxos_exp.check import RULES, Options, check_text

# paxos-classic's transcript of N=3, p=0.3, R=4, seed 112 (in-process engine); initial values
# 1, 1, 0. Round 0 decides 1, round 1 changes round, round 2's leader (initial value 0)
# proposes 1 from JOIN 0 1, round 3 decides 1 again.
BASE = """\
NUM_NODES: 3, CRASH PROB: 0.3, NUM_ROUNDS: 4
ROUND 0 STARTED WITH INITIAL VALUE: 1
ACCEPTOR 1 RECEIVED IN JOIN PHASE: START
ACCEPTOR 2 RECEIVED IN JOIN PHASE: CRASH 0
LEADER OF 0 RECEIVED IN JOIN PHASE: START
LEADER OF 0 RECEIVED IN JOIN PHASE: JOIN -1 None
LEADER OF 0 RECEIVED IN JOIN PHASE: CRASH 0
ACCEPTOR 1 RECEIVED IN VOTE PHASE: PROPOSE 1
ACCEPTOR 2 RECEIVED IN VOTE PHASE: CRASH 0
LEADER OF 0 RECEIVED IN VOTE PHASE: PROPOSE 1
LEADER OF 0 RECEIVED IN VOTE PHASE: VOTE
LEADER OF 0 RECEIVED IN VOTE PHASE: CRASH 0
LEADER OF 0 DECIDED ON VALUE: 1
ROUND 1 STARTED WITH INITIAL VALUE: 1
ACCEPTOR 0 RECEIVED IN JOIN PHASE: CRASH 1
ACCEPTOR 2 RECEIVED IN JOIN PHASE: CRASH 1
LEADER OF 1 RECEIVED IN JOIN PHASE: CRASH 1
LEADER OF 1 RECEIVED IN JOIN PHASE: CRASH 1
LEADER OF 1 RECEIVED IN JOIN PHASE: CRASH 1
LEADER OF ROUND 1 CHANGED ROUND
ACCEPTOR 0 RECEIVED IN VOTE PHASE: ROUNDCHANGE
ACCEPTOR 2 RECEIVED IN VOTE PHASE: ROUNDCHANGE
ROUND 2 STARTED WITH INITIAL VALUE: 0
ACCEPTOR 0 RECEIVED IN JOIN PHASE: START
ACCEPTOR 1 RECEIVED IN JOIN PHASE: START
LEADER OF 2 RECEIVED IN JOIN PHASE: JOIN 0 1
LEADER OF 2 RECEIVED IN JOIN PHASE: CRASH 2
LEADER OF 2 RECEIVED IN JOIN PHASE: START
ACCEPTOR 0 RECEIVED IN VOTE PHASE: CRASH 2
ACCEPTOR 1 RECEIVED IN VOTE PHASE: PROPOSE 1
LEADER OF 2 RECEIVED IN VOTE PHASE: CRASH 2
LEADER OF 2 RECEIVED IN VOTE PHASE: VOTE
LEADER OF 2 RECEIVED IN VOTE PHASE: PROPOSE 1
LEADER OF 2 DECIDED ON VALUE: 1
ROUND 3 STARTED WITH INITIAL VALUE: 1
ACCEPTOR 1 RECEIVED IN JOIN PHASE: START
ACCEPTOR 2 RECEIVED IN JOIN PHASE: START
LEADER OF 3 RECEIVED IN JOIN PHASE: START
LEADER OF 3 RECEIVED IN JOIN PHASE: JOIN 2 1
LEADER OF 3 RECEIVED IN JOIN PHASE: CRASH 0
ACCEPTOR 1 RECEIVED IN VOTE PHASE: CRASH 0
ACCEPTOR 2 RECEIVED IN VOTE PHASE: PROPOSE 1
LEADER OF 3 RECEIVED IN VOTE PHASE: PROPOSE 1
LEADER OF 3 RECEIVED IN VOTE PHASE: CRASH 0
LEADER OF 3 RECEIVED IN VOTE PHASE: VOTE
LEADER OF 3 DECIDED ON VALUE: 1
"""


def edit(text: str, replace: dict[int, str] | None = None, delete: tuple[int, ...] = (),
         insert: dict[int, str] | None = None) -> str:
    """``text`` with lines (1-based) replaced, deleted, or new lines inserted after them."""
    out = []
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        if number not in delete:
            out.append((replace or {}).get(number, line))
        if number in (insert or {}):
            out.extend(insert[number].splitlines())  # type: ignore[index]
    if 0 in (insert or {}):
        out[:0] = insert[0].splitlines()  # type: ignore[index]
    return "\n".join(out) + "\n"


def moved(text: str, line: int, after: int) -> str:
    """``text`` with one line moved to just after another (numbers before the move)."""
    lines = text.splitlines()
    return edit(text, delete=(line,), insert={after: lines[line - 1]})


# Small transcripts for the rules whose witness needs a run of its own.
ONE_ROUND = """\
NUM_NODES: 3, CRASH PROB: 0.3, NUM_ROUNDS: 1
ROUND 0 STARTED WITH INITIAL VALUE: 1
ACCEPTOR 1 RECEIVED IN JOIN PHASE: START
ACCEPTOR 2 RECEIVED IN JOIN PHASE: START
LEADER OF 0 RECEIVED IN JOIN PHASE: START
LEADER OF 0 RECEIVED IN JOIN PHASE: JOIN -1 None
LEADER OF 0 RECEIVED IN JOIN PHASE: JOIN -1 None
ACCEPTOR 1 RECEIVED IN VOTE PHASE: PROPOSE 1
ACCEPTOR 2 RECEIVED IN VOTE PHASE: PROPOSE 1
LEADER OF 0 RECEIVED IN VOTE PHASE: PROPOSE 1
LEADER OF 0 RECEIVED IN VOTE PHASE: VOTE
LEADER OF 0 RECEIVED IN VOTE PHASE: CRASH 0
LEADER OF 0 DECIDED ON VALUE: 1
"""

# Round 1's leader (node 1, initial value 1) got its own START, its own state says it voted 0
# in round 0, and node 2 never voted: the value rule says 0, ignore_own_state proposes 1.
OWN_STATE = """\
NUM_NODES: 3, CRASH PROB: 0.3, NUM_ROUNDS: 2
ROUND 0 STARTED WITH INITIAL VALUE: 0
ACCEPTOR 1 RECEIVED IN JOIN PHASE: START
ACCEPTOR 2 RECEIVED IN JOIN PHASE: START
LEADER OF 0 RECEIVED IN JOIN PHASE: START
LEADER OF 0 RECEIVED IN JOIN PHASE: JOIN -1 None
LEADER OF 0 RECEIVED IN JOIN PHASE: JOIN -1 None
ACCEPTOR 1 RECEIVED IN VOTE PHASE: PROPOSE 0
ACCEPTOR 2 RECEIVED IN VOTE PHASE: CRASH 0
LEADER OF 0 RECEIVED IN VOTE PHASE: CRASH 0
LEADER OF 0 RECEIVED IN VOTE PHASE: CRASH 0
LEADER OF 0 RECEIVED IN VOTE PHASE: CRASH 0
ROUND 1 STARTED WITH INITIAL VALUE: 1
ACCEPTOR 0 RECEIVED IN JOIN PHASE: CRASH 1
ACCEPTOR 2 RECEIVED IN JOIN PHASE: START
LEADER OF 1 RECEIVED IN JOIN PHASE: START
LEADER OF 1 RECEIVED IN JOIN PHASE: CRASH 1
LEADER OF 1 RECEIVED IN JOIN PHASE: JOIN -1 None
ACCEPTOR 0 RECEIVED IN VOTE PHASE: CRASH 1
ACCEPTOR 2 RECEIVED IN VOTE PHASE: CRASH 1
LEADER OF 1 RECEIVED IN VOTE PHASE: CRASH 1
LEADER OF 1 RECEIVED IN VOTE PHASE: PROPOSE 1
LEADER OF 1 RECEIVED IN VOTE PHASE: CRASH 1
"""

# Quorums of 1 (flexible, unsafe: 1 + 1 <= 3): every rule holds round by round, and two
# leaders still decide their own values.
TINY_QUORUMS = """\
NUM_NODES: 3, CRASH PROB: 0.3, NUM_ROUNDS: 2
ROUND 0 STARTED WITH INITIAL VALUE: 0
ACCEPTOR 1 RECEIVED IN JOIN PHASE: CRASH 0
ACCEPTOR 2 RECEIVED IN JOIN PHASE: CRASH 0
LEADER OF 0 RECEIVED IN JOIN PHASE: START
LEADER OF 0 RECEIVED IN JOIN PHASE: CRASH 0
LEADER OF 0 RECEIVED IN JOIN PHASE: CRASH 0
ACCEPTOR 1 RECEIVED IN VOTE PHASE: CRASH 0
ACCEPTOR 2 RECEIVED IN VOTE PHASE: CRASH 0
LEADER OF 0 RECEIVED IN VOTE PHASE: PROPOSE 0
LEADER OF 0 RECEIVED IN VOTE PHASE: CRASH 0
LEADER OF 0 RECEIVED IN VOTE PHASE: CRASH 0
LEADER OF 0 DECIDED ON VALUE: 0
ROUND 1 STARTED WITH INITIAL VALUE: 1
ACCEPTOR 0 RECEIVED IN JOIN PHASE: CRASH 1
ACCEPTOR 2 RECEIVED IN JOIN PHASE: CRASH 1
LEADER OF 1 RECEIVED IN JOIN PHASE: START
LEADER OF 1 RECEIVED IN JOIN PHASE: CRASH 1
LEADER OF 1 RECEIVED IN JOIN PHASE: CRASH 1
ACCEPTOR 0 RECEIVED IN VOTE PHASE: CRASH 1
ACCEPTOR 2 RECEIVED IN VOTE PHASE: CRASH 1
LEADER OF 1 RECEIVED IN VOTE PHASE: PROPOSE 1
LEADER OF 1 RECEIVED IN VOTE PHASE: CRASH 1
LEADER OF 1 RECEIVED IN VOTE PHASE: CRASH 1
LEADER OF 1 DECIDED ON VALUE: 1
"""
QUORUMS_OF_ONE = Options(join_quorum=1, vote_quorum=1)

# N=1, p=0: one node, deciding on its own initial value.
ALONE = """\
NUM_NODES: 1, CRASH PROB: 0.0, NUM_ROUNDS: 1
ROUND 0 STARTED WITH INITIAL VALUE: 0
LEADER OF 0 RECEIVED IN JOIN PHASE: START
LEADER OF 0 RECEIVED IN VOTE PHASE: PROPOSE 0
LEADER OF 0 DECIDED ON VALUE: 0
"""

P_ZERO = """\
NUM_NODES: 2, CRASH PROB: 0, NUM_ROUNDS: 1
ROUND 0 STARTED WITH INITIAL VALUE: 1
ACCEPTOR 1 RECEIVED IN JOIN PHASE: START
LEADER OF 0 RECEIVED IN JOIN PHASE: START
LEADER OF 0 RECEIVED IN JOIN PHASE: JOIN -1 None
ACCEPTOR 1 RECEIVED IN VOTE PHASE: PROPOSE 1
LEADER OF 0 RECEIVED IN VOTE PHASE: PROPOSE 1
LEADER OF 0 RECEIVED IN VOTE PHASE: VOTE
LEADER OF 0 DECIDED ON VALUE: 1
"""

P_ONE = """\
NUM_NODES: 2, CRASH PROB: 1.0, NUM_ROUNDS: 1
ROUND 0 STARTED WITH INITIAL VALUE: 1
ACCEPTOR 1 RECEIVED IN JOIN PHASE: CRASH 0
LEADER OF 0 RECEIVED IN JOIN PHASE: CRASH 0
LEADER OF 0 RECEIVED IN JOIN PHASE: CRASH 0
LEADER OF ROUND 0 CHANGED ROUND
ACCEPTOR 1 RECEIVED IN VOTE PHASE: ROUNDCHANGE
"""

# (rule, transcript, options, the exact (rule, line) list reported)
CASES = {
    # -- the file and its lines
    "empty file": ("not-a-transcript", "", None, [("not-a-transcript", 0)]),
    "some other text": ("not-a-transcript", "\nhello\nworld\n", None, [("not-a-transcript", 2)]),
    "a line that is no transcript line": (
        "syntax", edit(BASE, insert={10: "DEBUG: got PROPOSE"}), None, [("syntax", 11)]),
    "a message that is no message": (
        "syntax", edit(BASE, replace={26: "LEADER OF 2 RECEIVED IN JOIN PHASE: JOIN 0 maybe"}), None,
        [("syntax", 26)]),
    "PROPOSE None": (
        "syntax", edit(BASE, replace={8: "ACCEPTOR 1 RECEIVED IN VOTE PHASE: PROPOSE None"}), None,
        [("syntax", 8)]),
    "an initial value that is not binary": (
        "syntax", edit(BASE, replace={35: "ROUND 3 STARTED WITH INITIAL VALUE: 2"}), None,
        [("syntax", 35)]),
    # -- the header
    "no nodes": ("header", edit(BASE, replace={1: "NUM_NODES: 0, CRASH PROB: 0.3, NUM_ROUNDS: 4"}),
                 None, [("header", 1)]),
    "a probability above 1": (
        "header", edit(BASE, replace={1: "NUM_NODES: 3, CRASH PROB: 1.5, NUM_ROUNDS: 4"}), None,
        [("header", 1)]),
    "no header": ("header", edit(BASE, delete=(1,)), None, [("header", 1)]),
    "no header, --nodes given": ("header", edit(BASE, delete=(1,)), Options(nodes=3), [("header", 1)]),
    "--nodes disagrees with the header": ("header", BASE, Options(nodes=4), [("header", 1)]),
    # -- rounds
    "a round missing": ("round-order", edit(BASE, delete=tuple(range(14, 23))), None,
                        [("round-order", 14)]),
    "the run ends early": ("round-order", edit(BASE, delete=tuple(range(35, 47))), None,
                           [("round-order", 34)]),
    "a round beyond NUM_ROUNDS": (
        "round-order", edit(BASE, replace={1: "NUM_NODES: 3, CRASH PROB: 0.3, NUM_ROUNDS: 3"}), None,
        [("round-order", 35)]),
    "LEADER OF <the leader's id>": (
        "round-order",
        edit(BASE, replace={n: BASE.splitlines()[n - 1].replace("LEADER OF 3", "LEADER OF 0")
                            for n in range(38, 47)}),
        None, [("round-order", 38)]),
    "a leader's line after the next round began": (
        "round-order", moved(BASE, 12, after=14), None, [("line-count", 2), ("round-order", 14)]),
    # -- who leads
    "CRASH naming another node": (
        "round-leader", edit(BASE, replace={15: "ACCEPTOR 0 RECEIVED IN JOIN PHASE: CRASH 0"}), None,
        [("round-leader", 15)]),
    "a node that does not exist": (
        "round-leader", edit(BASE, insert={4: "ACCEPTOR 5 RECEIVED IN JOIN PHASE: START"}), None,
        [("round-leader", 5)]),
    "the leader printing ACCEPTOR lines": (
        "round-leader", edit(BASE, insert={4: "ACCEPTOR 0 RECEIVED IN JOIN PHASE: START"}), None,
        [("round-leader", 5)]),
    # -- each node's order
    "an acceptor's vote before its join": ("node-order", edit(BASE, replace={
        3: BASE.splitlines()[7], 8: BASE.splitlines()[2]}), None, [("node-order", 8)]),
    "the leader's change of round before its last join receipt": ("node-order", edit(BASE, replace={
        19: BASE.splitlines()[19], 20: BASE.splitlines()[18]}), None, [("node-order", 20)]),
    # -- how many lines
    "a vote receipt missing": ("line-count", edit(BASE, delete=(12,)), None, [("line-count", 2)]),
    "an acceptor's vote-phase line missing": (
        "line-count", edit(BASE, delete=(9,)), None, [("line-count", 2)]),
    "no ROUND line": ("line-count", edit(BASE, delete=(2,)), None, [("line-count", 2)]),
    "a decision printed twice": (
        "line-count", edit(BASE, insert={13: BASE.splitlines()[12]}), None, [("line-count", 14)]),
    "an acceptor's line printed twice": (
        "line-count", edit(BASE, insert={8: BASE.splitlines()[7]}), None, [("line-count", 9)]),
    # -- what can arrive where
    "a second START": ("phase-message", edit(BASE, replace={7: "LEADER OF 0 RECEIVED IN JOIN PHASE: START"}),
                       None, [("phase-message", 7)]),
    "ROUNDCHANGE in the join phase": (
        "phase-message", edit(BASE, replace={16: "ACCEPTOR 2 RECEIVED IN JOIN PHASE: ROUNDCHANGE"}), None,
        [("phase-message", 16)]),
    # -- what the leader got against what the acceptors printed
    "ROUNDCHANGE in a round that proposed": (
        "delivery", edit(BASE, replace={29: "ACCEPTOR 0 RECEIVED IN VOTE PHASE: ROUNDCHANGE"}), None,
        [("delivery", 29)]),
    "more VOTEs than acceptors that got PROPOSE": (
        "delivery", edit(BASE, replace={31: "LEADER OF 2 RECEIVED IN VOTE PHASE: VOTE"}), None,
        [("delivery", 32)]),
    "two proposals in one round": (
        "delivery", edit(BASE, replace={30: "ACCEPTOR 1 RECEIVED IN VOTE PHASE: PROPOSE 0"}), None,
        [("delivery", 33)]),
    # -- JOIN reports the sender's state
    "a JOIN no acceptor's state matches": (
        "join-state", edit(BASE, replace={39: "LEADER OF 3 RECEIVED IN JOIN PHASE: JOIN 1 1"}), None,
        [("join-state", 39)]),
    "a JOIN from the future": (
        "join-state", edit(BASE, replace={39: "LEADER OF 3 RECEIVED IN JOIN PHASE: JOIN 3 1"}), None,
        [("join-state", 39)]),
    # -- quorums
    "a change of round with a majority of joins": ("quorum", edit(BASE, replace={
        15: "ACCEPTOR 0 RECEIVED IN JOIN PHASE: START",
        17: "LEADER OF 1 RECEIVED IN JOIN PHASE: START",
        18: "LEADER OF 1 RECEIVED IN JOIN PHASE: JOIN 0 1"}), None, [("quorum", 20)]),
    "a proposal without a majority of joins": (
        "quorum", edit(BASE, replace={6: "LEADER OF 0 RECEIVED IN JOIN PHASE: CRASH 0"}), None,
        [("quorum", 10)]),
    "a decision without a majority of votes": (
        "quorum", edit(BASE, replace={32: "LEADER OF 2 RECEIVED IN VOTE PHASE: CRASH 2"}), None,
        [("quorum", 34)]),
    "a majority of votes and no decision": ("quorum", edit(BASE, delete=(34,)), None, [("quorum", 33)]),
    # -- the value rule
    "not the leader's own value when nobody voted": ("value-rule", edit(ONE_ROUND, replace={
        8: "ACCEPTOR 1 RECEIVED IN VOTE PHASE: PROPOSE 0",
        9: "ACCEPTOR 2 RECEIVED IN VOTE PHASE: PROPOSE 0",
        10: "LEADER OF 0 RECEIVED IN VOTE PHASE: PROPOSE 0",
        13: "LEADER OF 0 DECIDED ON VALUE: 0"}), None, [("value-rule", 8)]),
    "the leader's own state ignored (ignore_own_state)": ("value-rule", OWN_STATE, None, [("value-rule", 22)]),
    "the joiners' votes ignored (own_value), agreement breaks": ("value-rule", edit(BASE, delete=tuple(range(35, 47)), replace={
        1: "NUM_NODES: 3, CRASH PROB: 0.3, NUM_ROUNDS: 3",
        30: "ACCEPTOR 1 RECEIVED IN VOTE PHASE: PROPOSE 0",
        33: "LEADER OF 2 RECEIVED IN VOTE PHASE: PROPOSE 0",
        34: "LEADER OF 2 DECIDED ON VALUE: 0"}), None,
        [("value-rule", 30), ("proposal-consistency", 30), ("agreement", 34)]),
    # -- decisions
    "a decision that is not the proposal": (
        "decision", edit(ONE_ROUND, replace={13: "LEADER OF 0 DECIDED ON VALUE: 0"}), None,
        [("decision", 13)]),
    "an initial value that changes": (
        "initial-value", edit(BASE, replace={35: "ROUND 3 STARTED WITH INITIAL VALUE: 0"}), None,
        [("initial-value", 35)]),
    "two values decided": ("agreement", TINY_QUORUMS, QUORUMS_OF_ONE,
                           [("proposal-consistency", 22), ("agreement", 25)]),
    "a later proposal of another value": (
        "proposal-consistency", edit(TINY_QUORUMS, delete=(25,), replace={
            20: "ACCEPTOR 0 RECEIVED IN VOTE PHASE: PROPOSE 1",
            22: "LEADER OF 1 RECEIVED IN VOTE PHASE: CRASH 1"}), QUORUMS_OF_ONE,
        [("proposal-consistency", 20)]),
    "a value no node started with": ("validity", edit(ALONE, replace={
        4: "LEADER OF 0 RECEIVED IN VOTE PHASE: PROPOSE 1",
        5: "LEADER OF 0 DECIDED ON VALUE: 1"}), None, [("value-rule", 4), ("validity", 5)]),
    "a CRASH at p = 0": ("crash-probability", edit(P_ZERO, delete=(9,), replace={
        6: "ACCEPTOR 1 RECEIVED IN VOTE PHASE: CRASH 0",
        8: "LEADER OF 0 RECEIVED IN VOTE PHASE: CRASH 0"}), None, [("crash-probability", 6)]),
    "a START delivered at p = 1": ("crash-probability", edit(P_ONE, replace={
        3: "ACCEPTOR 1 RECEIVED IN JOIN PHASE: START"}), None, [("crash-probability", 3)]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_broken_transcript_reports_its_rule_at_its_line(case):
    _, text, options, expected = CASES[case]
    result = check_text(text, "t.txt", options or Options())
    assert problems_of(result) == expected, "\n".join(p.message for p in result.problems)


def test_every_rule_has_a_broken_transcript():
    assert {rule for rule, *_ in CASES.values()} == set(RULES)
    reported = {rule for *_, expected in CASES.values() for rule, _ in expected}
    assert reported == set(RULES)


@pytest.mark.parametrize("text", [BASE, ONE_ROUND, ALONE, P_ZERO, P_ONE])
def test_the_unbroken_transcripts_pass(text):
    assert problems_of(check_text(text, "t.txt")) == []


def test_quorum_sizes_decide_what_the_quorum_rule_asks():
    # Quorums of one are the run's own sizes: only the safety it lost is a problem; judged
    # by strict majorities, every proposal and decision lacked a quorum.
    safety = [("proposal-consistency", 22), ("agreement", 25)]
    assert problems_of(check_text(TINY_QUORUMS, "t.txt", QUORUMS_OF_ONE)) == safety
    assert sorted(problems_of(check_text(TINY_QUORUMS, "t.txt")), key=lambda found: found[1]) == [
        ("quorum", 10), ("quorum", 13), ("quorum", 22), ("proposal-consistency", 22),
        ("quorum", 25), ("agreement", 25)]
