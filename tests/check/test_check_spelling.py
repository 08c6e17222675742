"""Handout-style spelling variants (PROTOCOL.md: no colon before the value, NUM NODES /
CRASH_PROB spellings, spaces before commas) read exactly like the canonical transcript."""

from __future__ import annotations

import re

import pytest
from check_helpers import inprocess_transcript, problems_of
from test_check_rules import BASE, edit

from paxos_exp.check import check_text
from paxos_exp.check.transcript import Header, Kind, LeaderReceived, parse_line

HEADERS = [
    "NUM_NODES: 4, CRASH PROB: 0.3, NUM_ROUNDS: 6",
    "NUM NODES: 4, CRASH_PROB: 0.3, NUM ROUNDS: 6",
    "NUM_NODES: 4 , CRASH PROB: 0.3 , NUM_ROUNDS: 6",
    "NUM_NODES 4, CRASH PROB 0.3, NUM_ROUNDS 6",
    "NUM_NODES: 4 CRASH_PROB: 0.3 NUM_ROUNDS: 6",
    "num_nodes: 4, crash_prob: 0.3, num_rounds: 6",
    "NUM_NODES: 4, CRASH PROBABILITY: 0.3, NUM_ROUNDS: 6",
    "NUM_NODES:4,CRASH_PROB:0.3,NUM_ROUNDS:6",
]


def _no_colons(line: str) -> str:
    return re.sub(r"(VALUE|PHASE): ", r"\1 ", line)


def _never_voted(word: str):
    return lambda line: line.replace("JOIN -1 None", f"JOIN -1 {word}")


STYLES = {
    "no colon before values": _no_colons,
    "spaces around words": lambda line: "  " + line.replace(" ", "  ").replace(":", " :") + "   ",
    "tabs": lambda line: line.replace(" ", "\t"),
    "lower case": str.lower,
    "JOIN -1 none": _never_voted("none"),
    "JOIN -1 null": _never_voted("null"),
    "JOIN -1 -1": _never_voted("-1"),
    "ROUND CHANGE": lambda line: line.replace("ROUNDCHANGE", "ROUND CHANGE"),
}


@pytest.mark.parametrize("header", HEADERS)
def test_every_header_spelling_gives_the_same_numbers(header):
    event = parse_line(1, header)
    assert isinstance(event, Header)
    assert (event.nodes, event.fail_prob, event.rounds, event.error) == (4, 0.3, 6, None)


@pytest.mark.parametrize("style", list(STYLES))
def test_a_restyled_transcript_reads_like_the_canonical_one(style):
    restyle = STYLES[style]
    checked = 0
    for seed in range(12):
        lines, _ = inprocess_transcript(4, 0.3, 6, seed)
        canonical = check_text("\n".join(lines), "t.txt")
        text = "\r\n".join([HEADERS[seed % len(HEADERS)]] + [restyle(line) for line in lines[1:]])
        restyled = check_text(text, "t.txt")
        assert problems_of(restyled) == [], style
        assert restyled.runs == canonical.runs  # the same decisions and initial values
        checked += bool(canonical.runs[0].decisions)
    assert checked > 0


def test_a_restyled_broken_transcript_reports_the_same_problem_at_the_same_line():
    broken = edit(BASE, replace={39: "LEADER OF 3 RECEIVED IN JOIN PHASE: JOIN 1 1"})
    restyled = "\n".join(_no_colons(line).lower() for line in broken.splitlines())
    assert problems_of(check_text(restyled, "t.txt")) == [("join-state", 39)]


def test_a_line_in_a_spelling_of_its_own_is_a_syntax_problem_not_a_guess():
    assert problems_of(check_text(edit(BASE, replace={
        6: "LEADER 0 RECEIVED IN JOIN PHASE: JOIN -1 None"}), "t.txt")) == [("syntax", 6)]
    event = parse_line(7, "LEADER OF 2 RECEIVED IN VOTE PHASE PROPOSE 1")
    assert isinstance(event, LeaderReceived) and event.message is not None
    assert (event.round, event.message.kind, event.message.value) == (2, Kind.PROPOSE, 1)
