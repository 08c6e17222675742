"""Protocol messages, their text form (the body printed in transcripts) and wire form."""

from __future__ import annotations

import enum
import re
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


@dataclass(frozen=True, slots=True)
class Envelope:
    """A message on the wire, with where it belongs (so a stray message is detected)."""

    trial: int
    round: int
    phase: Phase
    message: Message

    def encode(self) -> bytes:
        return (
            f"{self.trial} {self.round} {int(self.phase)} {self.message.sender} {self.message.body}"
        ).encode("ascii")

    @staticmethod
    def decode(data: bytes) -> Envelope:
        try:
            trial, rnd, phase, sender, body = data.decode("ascii").split(" ", 4)
            return Envelope(int(trial), int(rnd), Phase(int(phase)), parse_body(body, int(sender)))
        except (ValueError, UnicodeDecodeError) as error:
            raise ProtocolError(f"malformed wire message {data!r}: {error}") from None
