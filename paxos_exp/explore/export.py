"""A replayed counterexample as text and files: a message-sequence diagram with the faults
marked, JSONL (one event per line) and ShiViz's log format (one event per line with the
node's vector clock; the parsing regex is the file's first line)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from paxos_exp.core.records import TraceRecord
from paxos_exp.explore.replay import Replay

SHIVIZ_REGEX = r'(?<host>\S+) "(?<event>.*)" (?<clock>\{.*\})'
_PHASE = {1: "JOIN", 2: "VOTE"}


def _meant(row: TraceRecord, leader: int) -> str:
    """What a message was meant to be (the failure draw turned it into CRASH)."""
    if row.sender == leader:
        return "START" if row.phase == 1 else "PROPOSE"
    return "JOIN" if row.phase == 1 else "VOTE"


def _ordered(replay: Replay) -> list[TraceRecord]:
    """The trace in the order the round happened: per phase the leader's sends, then the
    acceptors' replies in id order."""
    nodes = replay.result.config.nodes
    trace = replay.result.trace or ()
    return sorted(trace, key=lambda row: (row.round, row.phase,
                                          row.sender != row.round % nodes, row.sender,
                                          row.receiver))


def diagram(replay: Replay) -> list[str]:
    """A text message-sequence diagram: one line per message, ``X`` marks a fault."""
    config = replay.result.config
    nodes = config.nodes
    rows: dict[int, list[TraceRecord]] = {}
    for row in _ordered(replay):
        rows.setdefault(row.round, []).append(row)
    out: list[str] = []
    for record in replay.result.rounds:
        leader = record.round % nodes
        out.append(f"round {record.round} (leader {leader}, initial value "
                   f"{config.initial_values[leader]})")  # type: ignore[index]
        if not rows.get(record.round):
            out.append("  (no message: the leader took no step, it was down)")
        for row in rows.get(record.round, ()):
            lane = f"  {_PHASE[row.phase]:<4}  {row.sender} -> {row.receiver}  "
            if row.silenced:
                out.append(f"{lane}{row.body:<14} X silenced (never arrives)")
            elif row.crashed:
                meant = _meant(row, leader)
                out.append(f"{lane}{row.body:<14} X fault: the {meant} became {row.body}")
            else:
                out.append(f"{lane}{row.body}")
        out.append(_outcome(record))
    return out


def _outcome(record: Any) -> str:
    if record.proposal is None:
        return f"  => round {record.round}: ROUNDCHANGE ({record.joins} joins)"
    if record.decided:
        return (f"  => round {record.round}: proposed {record.proposal}, {record.votes} votes, "
                f"DECIDED {record.decision}")
    return f"  => round {record.round}: proposed {record.proposal}, {record.votes} votes, no decision"


def events(replay: Replay) -> Iterator[dict[str, Any]]:
    """Every send and receive of the replay, each round closed by its outcome, as dicts."""
    nodes = replay.result.config.nodes
    rows: dict[int, list[TraceRecord]] = {}
    for row in _ordered(replay):
        rows.setdefault(row.round, []).append(row)
    for record in replay.result.rounds:
        leader = record.round % nodes
        for row in rows.get(record.round, ()):
            base = {"round": row.round, "phase": _PHASE[row.phase], "sender": row.sender,
                    "receiver": row.receiver, "message": row.body,
                    "meant": _meant(row, leader) if row.crashed else row.kind,
                    "fault": "crash" if row.crashed else "silenced" if row.silenced else None}
            yield {"event": "send", "node": row.sender, **base}
            if not row.silenced:
                yield {"event": "receive", "node": row.receiver, **base}
        yield _outcome_event(record)


def _outcome_event(record: Any) -> dict[str, Any]:
    return {"event": "decide" if record.decided else "roundchange" if record.proposal is None
            else "no_decision", "round": record.round, "node": record.leader,
            "proposal": record.proposal, "votes": record.votes, "joins": record.joins,
            "decision": record.decision}


def jsonl(replay: Replay) -> str:
    return "".join(json.dumps(event) + "\n" for event in events(replay))


def shiviz(replay: Replay) -> str:
    """ShiViz's input: the regex on the first line, a blank line, then one line per event:
    ``node<i> "<event>" {"node<i>": n, ...}`` with the node's vector clock after it."""
    nodes = replay.result.config.nodes
    clocks = [[0] * nodes for _ in range(nodes)]
    lines = [SHIVIZ_REGEX, ""]
    sent: dict[tuple[int, int, int, str], list[int]] = {}

    def line(node: int, text: str) -> None:
        clock = {f"node{peer}": count for peer, count in enumerate(clocks[node]) if count}
        lines.append(f'node{node} "{text}" {json.dumps(clock)}')

    for event in events(replay):
        node = event["node"]
        clock = clocks[node]
        if event["event"] == "send":
            clock[node] += 1
            key = (event["round"], event["sender"], event["receiver"], event["phase"])
            sent[key] = list(clock)
            mark = f" (FAULT: {event['meant']} became {event['message']})" \
                if event["fault"] == "crash" else " (FAULT: silenced)" if event["fault"] else ""
            line(node, f"r{event['round']} {event['phase']} send {event['message']} to "
                       f"node{event['receiver']}{mark}")
        elif event["event"] == "receive":
            key = (event["round"], event["sender"], event["receiver"], event["phase"])
            for peer, count in enumerate(sent[key]):
                clock[peer] = max(clock[peer], count)
            clock[node] += 1
            line(node, f"r{event['round']} {event['phase']} receive {event['message']} from "
                       f"node{event['sender']}")
        else:
            clock[node] += 1
            what = {"decide": f"DECIDED {event['decision']}", "roundchange": "ROUNDCHANGE",
                    "no_decision": "no decision"}[event["event"]]
            line(node, f"r{event['round']} {what}")
    return "\n".join(lines) + "\n"
