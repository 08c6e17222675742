"""Reading a PA3 transcript into typed events (PROTOCOL.md, "Wire messages and console lines").

One function, :func:`parse_line`, turns one line into one event. It accepts the spellings
seen in handouts and students' programs, not only the canonical one paxos-classic prints:
keywords in any case, any run of spaces or tabs, a colon before a value or none,
``NUM_NODES``/``NUM NODES``, ``CRASH PROB``/``CRASH_PROB``/``CRASH PROBABILITY``, spaces
before commas (or no commas), Windows line ends, ``ROUNDCHANGE``/``ROUND CHANGE`` and a
never-voted JOIN written ``JOIN -1 None``, ``none``, ``null`` or ``-1``.

A line that has the shape of a transcript line but a value that cannot be (``PROPOSE None``,
``ROUND 2 STARTED WITH INITIAL VALUE: 7``) is still its event, with ``error`` saying what is
wrong and the value left ``None``, so one bad value is one problem and not also a missing line.
"""

from __future__ import annotations

import enum
import functools
import math
import re
from dataclasses import dataclass
from typing import Union


class Phase(enum.Enum):
    JOIN = "JOIN"
    VOTE = "VOTE"


class Kind(enum.Enum):
    START = "START"
    JOIN = "JOIN"
    PROPOSE = "PROPOSE"
    VOTE = "VOTE"
    ROUNDCHANGE = "ROUNDCHANGE"
    CRASH = "CRASH"


@dataclass(frozen=True, slots=True)
class Message:
    """A message body as printed. ``voted_round``/``value``: JOIN's ``maxVotedRound`` and
    ``maxVotedVal`` (-1 and None before any vote); ``value``: PROPOSE's proposal;
    ``leader``: the node CRASH names."""

    kind: Kind
    voted_round: int = -1
    value: int | None = None
    leader: int | None = None

    def __str__(self) -> str:
        if self.kind is Kind.JOIN:
            return f"JOIN {self.voted_round} {self.value}"
        if self.kind is Kind.PROPOSE:
            return f"PROPOSE {self.value}"
        if self.kind is Kind.CRASH:
            return f"CRASH {self.leader}"
        return self.kind.value


@dataclass(frozen=True, slots=True)
class Header:
    """``NUM_NODES: N, CRASH PROB: p, NUM_ROUNDS: R``; a field that is not a valid value is
    None and ``error`` says why."""

    line: int
    nodes: int | None
    fail_prob: float | None
    rounds: int | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class RoundStarted:
    """``ROUND r STARTED WITH INITIAL VALUE: v`` (printed by the round's leader)."""

    line: int
    round: int
    value: int | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class LeaderReceived:
    """``LEADER OF r RECEIVED IN <phase> PHASE: <msg>``."""

    line: int
    round: int
    phase: Phase
    message: Message | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class AcceptorReceived:
    """``ACCEPTOR i RECEIVED IN <phase> PHASE: <msg>`` (no round number: the round is the
    one the line is printed in)."""

    line: int
    node: int
    phase: Phase
    message: Message | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Decided:
    """``LEADER OF r DECIDED ON VALUE: v``."""

    line: int
    round: int
    value: int | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ChangedRound:
    """``LEADER OF ROUND r CHANGED ROUND``."""

    line: int
    round: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Unrecognised:
    """A line that is none of the transcript's line forms."""

    line: int
    text: str
    error: str


Event = Union[Header, RoundStarted, LeaderReceived, AcceptorReceived, Decided, ChangedRound,
              Unrecognised]
# The events a round's leader prints (all carry the round number).
LeaderEvent = Union[RoundStarted, LeaderReceived, Decided, ChangedRound]

_S = r"[ \t]+"  # between words
_C = r"[ \t]*:?[ \t]*"  # before a value: a colon or not
_NUMBER = r"([0-9]+)"
_HEADER = re.compile(
    rf"NUM[ \t_]*NODES{_C}([^\s,]+)[ \t]*,?[ \t]*"
    rf"CRASH[ \t_]*PROB(?:ABILITY)?{_C}([^\s,]+)[ \t]*,?[ \t]*"
    rf"NUM[ \t_]*ROUNDS{_C}([^\s,]+)[ \t]*,?",
    re.IGNORECASE,
)
_ROUND = re.compile(rf"ROUND{_S}{_NUMBER}{_S}STARTED{_S}WITH{_S}INITIAL{_S}VALUE{_C}(\S*)",
                    re.IGNORECASE)
_LEADER = re.compile(rf"LEADER{_S}OF{_S}{_NUMBER}{_S}RECEIVED{_S}IN{_S}(JOIN|VOTE){_S}PHASE{_C}(.*)",
                     re.IGNORECASE)
_ACCEPTOR = re.compile(rf"ACCEPTOR{_S}{_NUMBER}{_S}RECEIVED{_S}IN{_S}(JOIN|VOTE){_S}PHASE{_C}(.*)",
                       re.IGNORECASE)
_DECIDED = re.compile(rf"LEADER{_S}OF{_S}{_NUMBER}{_S}DECIDED{_S}ON{_S}VALUE{_C}(\S*)",
                      re.IGNORECASE)
_CHANGED = re.compile(rf"LEADER{_S}OF{_S}ROUND{_S}{_NUMBER}{_S}CHANGED{_S}ROUND", re.IGNORECASE)
_BODY = re.compile(r"(START|JOIN|PROPOSE|VOTE|ROUND[ \t_]?CHANGE|CRASH)(?:[ \t]+(.*))?",
                   re.IGNORECASE)
_NONE_WORDS = ("none", "null", "-1")
BODY_FORMS = "START, JOIN <round> <value>, PROPOSE <value>, VOTE, ROUNDCHANGE or CRASH <leader>"


def _binary(text: str) -> int | None:
    return int(text) if text in ("0", "1") else None


def _whole(text: str) -> int | None:
    return int(text) if re.fullmatch(r"-?[0-9]+", text) else None


def parse_body(text: str) -> tuple[Message | None, str | None]:
    """The message a receipt line names, or None and why it is not one."""
    found = _BODY.fullmatch(text.strip())
    if not found:
        shown = text.strip() or "nothing"
        return None, f"{shown!r} is not a message (one of {BODY_FORMS})"
    word = found.group(1).upper().replace(" ", "").replace("\t", "").replace("_", "")
    kind = Kind(word)
    args = (found.group(2) or "").split()
    if kind in (Kind.START, Kind.VOTE, Kind.ROUNDCHANGE):
        if args:
            return None, f"{kind.value} carries nothing, not {' '.join(args)!r}"
        return Message(kind), None
    if kind is Kind.PROPOSE:
        if len(args) != 1 or _binary(args[0]) is None:
            shown = " ".join(args) or "nothing"
            return None, f"PROPOSE carries a binary value, 0 or 1, not {shown!r}"
        return Message(kind, value=int(args[0])), None
    if kind is Kind.CRASH:
        if len(args) != 1 or _whole(args[0]) is None or int(args[0]) < 0:
            shown = " ".join(args) or "nothing"
            return None, f"CRASH names the round's leader, a node id, not {shown!r}"
        return Message(kind, leader=int(args[0])), None
    # JOIN <maxVotedRound> <maxVotedVal>
    if len(args) != 2 or _whole(args[0]) is None or int(args[0]) < -1:
        shown = " ".join(args) or "nothing"
        return None, ("JOIN carries maxVotedRound and maxVotedVal ('JOIN -1 None', 'JOIN 2 1'), "
                      f"not {shown!r}")
    voted_round = int(args[0])
    if voted_round == -1:
        if args[1].lower() not in _NONE_WORDS:
            return None, f"JOIN -1 (never voted) carries no value (None), not {args[1]!r}"
        return Message(kind, voted_round=-1, value=None), None
    if _binary(args[1]) is None:
        return None, (f"JOIN {voted_round} (voted in round {voted_round}) carries the value "
                      f"voted for, 0 or 1, not {args[1]!r}")
    return Message(kind, voted_round=voted_round, value=int(args[1])), None


def _header(line: int, fields: tuple[str, str, str]) -> Header:
    nodes_text, prob_text, rounds_text = fields
    errors = []
    nodes = _whole(nodes_text)
    if nodes is None or nodes < 1:
        errors.append(f"NUM_NODES must be a whole number of at least 1, not {nodes_text!r}")
        nodes = None
    try:
        fail_prob: float | None = float(prob_text)
    except ValueError:
        fail_prob = None
    if fail_prob is None or not (math.isfinite(fail_prob) and 0.0 <= fail_prob <= 1.0):
        errors.append(f"CRASH PROB must be a number from 0 to 1, not {prob_text!r}")
        fail_prob = None
    rounds = _whole(rounds_text)
    if rounds is None or rounds < 0:
        errors.append(f"NUM_ROUNDS must be a whole number of at least 0, not {rounds_text!r}")
        rounds = None
    return Header(line, nodes, fail_prob, rounds, "; ".join(errors) or None)


def _value(text: str, what: str) -> tuple[int | None, str | None]:
    value = _binary(text)
    if value is None:
        return None, f"{what} is a binary value, 0 or 1, not {text or 'nothing'!r}"
    return value, None


def parse_line(line: int, text: str) -> Event | None:
    """The event of one line (``line`` is its 1-based number), or None for a blank line."""
    text = text.strip()
    if not text:
        return None
    kind, fields = _shape(text)
    return kind(line, *fields)


@functools.lru_cache(maxsize=4096)
def _shape(text: str) -> tuple[type, tuple]:
    """The event type and fields (all but the line number) of a stripped, non-blank line;
    cached, since a transcript repeats a few dozen distinct lines many times."""
    found = _LEADER.fullmatch(text)
    if found:
        message, error = parse_body(found.group(3))
        return LeaderReceived, (int(found.group(1)), Phase(found.group(2).upper()), message, error)
    found = _ACCEPTOR.fullmatch(text)
    if found:
        message, error = parse_body(found.group(3))
        return AcceptorReceived, (int(found.group(1)), Phase(found.group(2).upper()), message, error)
    found = _ROUND.fullmatch(text)
    if found:
        value, error = _value(found.group(2), "the initial value")
        return RoundStarted, (int(found.group(1)), value, error)
    found = _DECIDED.fullmatch(text)
    if found:
        value, error = _value(found.group(2), "a decided value")
        return Decided, (int(found.group(1)), value, error)
    found = _CHANGED.fullmatch(text)
    if found:
        return ChangedRound, (int(found.group(1)),)
    found = _HEADER.fullmatch(text)
    if found:
        header = _header(0, found.groups())  # type: ignore[arg-type]
        return Header, (header.nodes, header.fail_prob, header.rounds, header.error)
    shown = text if len(text) <= 60 else text[:57] + "..."
    return Unrecognised, (text, f"{shown!r} is not a transcript line")
