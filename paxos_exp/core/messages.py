"""Protocol messages, their text form (the body printed in transcripts) and wire form."""

from __future__ import annotations

import enum
import hmac
import re
import secrets
from dataclasses import dataclass

from paxos_exp.core.errors import ProtocolError


class Kind(enum.Enum):
    """The six message kinds of PROTOCOL.md."""

    START = "START"
    JOIN = "JOIN"
    PROPOSE = "PROPOSE"
    VOTE = "VOTE"
    ROUNDCHANGE = "ROUNDCHANGE"
    CRASH = "CRASH"

    # Members are singletons: identity hashing is correct, and it runs in C (Enum's own
    # __hash__ is a Python call on every dict lookup such as the driver's count per kind).
    __hash__ = object.__hash__


KINDS: tuple[Kind, ...] = tuple(Kind)


class Phase(enum.IntEnum):
    """Where a message (or a random draw) belongs within a round."""

    INIT = 0  # initial values; not a message phase
    JOIN = 1  # START out, JOIN/CRASH back
    VOTE = 2  # PROPOSE out, VOTE/CRASH back; ROUNDCHANGE


@dataclass(frozen=True, slots=True)
class Message:
    """One protocol message.

    ``value`` is the proposal of PROPOSE and the max-voted value of JOIN; ``voted_round`` the
    max-voted round of JOIN; ``leader`` the round leader named by CRASH.
    """

    kind: Kind
    sender: int
    value: int | None = None
    voted_round: int = -1
    leader: int = -1

    @property
    def body(self) -> str:
        """The message text as the assignment prints it (``JOIN -1 None``, ``CRASH 2``...)."""
        kind = self.kind
        if kind is Kind.JOIN:
            return f"JOIN {self.voted_round} {self.value}"
        if kind is Kind.PROPOSE:
            return f"PROPOSE {self.value}"
        if kind is Kind.CRASH:
            return f"CRASH {self.leader}"
        return kind.value


def start(sender: int) -> Message:
    return Message(Kind.START, sender)


def join(sender: int, voted_round: int, value: int | None) -> Message:
    return Message(Kind.JOIN, sender, value=value, voted_round=voted_round)


def propose(sender: int, value: int) -> Message:
    return Message(Kind.PROPOSE, sender, value=value)


def vote(sender: int) -> Message:
    return Message(Kind.VOTE, sender)


def roundchange(sender: int) -> Message:
    return Message(Kind.ROUNDCHANGE, sender)


def crash(sender: int, leader: int) -> Message:
    return Message(Kind.CRASH, sender, leader=leader)


_CANONICAL_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")


def _parse_int(text: str) -> int:
    """Only the form ``str(int)`` produces: ``int()`` alone would take ``01``, ``+1``, ``1_0``."""
    if not _CANONICAL_INT.fullmatch(text):
        raise ValueError(text)
    return int(text)


def _parse_optional_int(text: str) -> int | None:
    return None if text == "None" else _parse_int(text)


def parse_body(body: str, sender: int) -> Message:
    """Inverse of :attr:`Message.body`; raises ProtocolError on anything else."""
    parts = body.split(" ")
    try:
        kind = Kind(parts[0])
        if kind is Kind.JOIN and len(parts) == 3:
            return join(sender, _parse_int(parts[1]), _parse_optional_int(parts[2]))
        if kind is Kind.PROPOSE and len(parts) == 2:
            return propose(sender, _parse_int(parts[1]))
        if kind is Kind.CRASH and len(parts) == 2:
            return crash(sender, _parse_int(parts[1]))
        if len(parts) == 1 and kind in (Kind.START, Kind.VOTE, Kind.ROUNDCHANGE):
            return Message(kind, sender)
    except ValueError:
        pass
    raise ProtocolError(f"malformed message body {body!r} from node {sender}")


# Every envelope starts with the run's token: fresh random bytes per run (never derived from
# the seed, so replays stay bit-identical) that only the run's own processes know.
TOKEN_BYTES = 16
# The longest envelope this protocol produces is well under 100 bytes; a node's socket refuses
# anything longer than this (ZeroMQ's MAXMSGSIZE), so a flood of large messages never reaches
# the node's memory or its error texts.
MAX_ENVELOPE_BYTES = 512
# Error texts quote at most this much of a message.
QUOTE_BYTES = 60


def quote(data: bytes) -> str:
    """A short, printable prefix of raw wire bytes for an error text."""
    shown = repr(data[:QUOTE_BYTES])
    return shown if len(data) <= QUOTE_BYTES else f"{shown}... ({len(data)} bytes)"


@dataclass(frozen=True, slots=True)
class Envelope:
    """A message on the wire, with where it belongs (so a stray message is detected)."""

    trial: int
    round: int
    phase: Phase
    message: Message

    def encode(self, token: bytes) -> bytes:
        return token + (
            f"{self.trial} {self.round} {int(self.phase)} {self.message.sender} {self.message.body}"
        ).encode("ascii")

    @staticmethod
    def decode(data: bytes, token: bytes) -> Envelope | None:
        """The envelope, or None when ``data`` does not carry ``token`` (not from this run).

        A message that carries the token comes from one of the run's own processes, so a
        malformed one is a bug: it raises ProtocolError, quoting only a short prefix.
        """
        if len(data) < TOKEN_BYTES or not hmac.compare_digest(data[:TOKEN_BYTES], token):
            return None
        try:
            trial, rnd, phase, sender, body = data[TOKEN_BYTES:].decode("ascii").split(" ", 4)
            return Envelope(int(trial), int(rnd), Phase(int(phase)), parse_body(body, int(sender)))
        except (ValueError, UnicodeDecodeError, ProtocolError):
            raise ProtocolError(
                f"a node of this run sent a malformed message {quote(data[TOKEN_BYTES:])}"
            ) from None


def new_token() -> bytes:
    """Fresh random bytes for one run (from the OS, never from the run's seed)."""
    return secrets.token_bytes(TOKEN_BYTES)


# What each kind may be in a round led by ``leader``: which phase it belongs to, and whether
# only the leader sends it (START, PROPOSE, ROUNDCHANGE) or only an acceptor, to the leader
# (JOIN, VOTE). CRASH stands in for either side's failure-prone message, so both may send it.
_PHASE_OF = {
    Kind.START: Phase.JOIN,
    Kind.JOIN: Phase.JOIN,
    Kind.PROPOSE: Phase.VOTE,
    Kind.VOTE: Phase.VOTE,
    Kind.ROUNDCHANGE: Phase.VOTE,
}
_LEADER_SENDS = frozenset((Kind.START, Kind.PROPOSE, Kind.ROUNDCHANGE))


def misplaced(
    envelope: Envelope, trial: int, rnd: int, phase: Phase, leader: int, receiver: int
) -> str | None:
    """Why ``envelope`` has no place at ``receiver`` in this phase, or None if it does.

    Checks where it belongs (trial, round, phase) and whether its sender plays the role its
    kind needs: only the round's leader sends START, PROPOSE and ROUNDCHANGE; JOIN and VOTE go
    from an acceptor to the leader; CRASH names the round's leader and, from an acceptor, goes
    to the leader. (That each sender answers once per phase is the receiver's count to keep.)
    """
    message = envelope.message
    sender, kind = message.sender, message.kind
    if (envelope.trial, envelope.round, envelope.phase) != (trial, rnd, phase):
        return (
            f"belongs to trial {envelope.trial} round {envelope.round} "
            f"{envelope.phase.name.lower()} phase, not trial {trial} round {rnd} "
            f"{phase.name.lower()} phase"
        )
    if kind is Kind.CRASH:
        if message.leader != leader:
            return f"names leader {message.leader}, but node {leader} leads round {rnd}"
        if sender != leader and receiver != leader:
            return f"went from acceptor {sender} to acceptor {receiver}"
        return None
    if _PHASE_OF[kind] is not phase:
        return f"belongs to the {_PHASE_OF[kind].name.lower()} phase"
    if kind in _LEADER_SENDS:
        if sender != leader:
            return f"only the round's leader (node {leader}) sends {kind.value}"
    elif sender == leader or receiver != leader:
        return f"only an acceptor sends {kind.value}, and only to the leader (node {leader})"
    return None
