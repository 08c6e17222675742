"""The classic console lines of the assignment (PROTOCOL.md, "Wire messages and console lines")."""

from __future__ import annotations

from paxos_exp.core.messages import Phase

_PHASE_NAME = {Phase.JOIN: "JOIN", Phase.VOTE: "VOTE"}


def header(nodes: int, fail_prob: float, rounds: int) -> str:
    return f"NUM_NODES: {nodes}, CRASH PROB: {fail_prob}, NUM_ROUNDS: {rounds}"


def round_started(rnd: int, value: int) -> str:
    return f"ROUND {rnd} STARTED WITH INITIAL VALUE: {value}"


def leader_received(rnd: int, phase: Phase, body: str) -> str:
    return f"LEADER OF {rnd} RECEIVED IN {_PHASE_NAME[phase]} PHASE: {body}"


def acceptor_received(node: int, phase: Phase, body: str) -> str:
    return f"ACCEPTOR {node} RECEIVED IN {_PHASE_NAME[phase]} PHASE: {body}"


def decided(rnd: int, value: int) -> str:
    return f"LEADER OF {rnd} DECIDED ON VALUE: {value}"


def changed_round(rnd: int) -> str:
    return f"LEADER OF ROUND {rnd} CHANGED ROUND"
