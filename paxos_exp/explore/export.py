"""A replayed counterexample as text and files: a message-sequence diagram with the faults
marked, JSONL (one event per line) and ShiViz's log format (one event per line with the
node's vector clock; the parsing regex is the file's first line). Each fault reads as what
happened (``round 1: node 1 went down (crash_recovery: ...)``, ``node 2's JOIN to the leader
became CRASH (omission)``), as the fault models describe their draws
(:mod:`paxos_exp.explore.fault_events`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from paxos_exp.core.records import TraceRecord
from paxos_exp.explore.fault_events import as_dict, cause
from paxos_exp.explore.replay import Replay

SHIVIZ_REGEX = r'(?<host>\S+) "(?<event>.*)" (?<clock>\{.*\})'
_PHASE = {1: "JOIN", 2: "VOTE"}


def _meant(row: TraceRecord, leader: int) -> str:
    """What a message was meant to be (the failure draw turned it into CRASH)."""
    if row.sender == leader:
        return "START" if row.phase == 1 else "PROPOSE"
    return "JOIN" if row.phase == 1 else "VOTE"


def _named(row: TraceRecord, leader: int) -> str:
    """The message in words: "node 2's JOIN to the leader", "the leader's START to node 1"."""
    meant = _meant(row, leader) if row.crashed else row.kind
    if row.sender == leader:
        to = "itself" if row.receiver == leader else f"node {row.receiver}"
        return f"the leader's {meant} to {to}"
    to = "the leader" if row.receiver == leader else f"node {row.receiver}"
    return f"node {row.sender}'s {meant} to {to}"


def fault_description(replay: Replay, row: TraceRecord) -> str | None:
    """What befell a message, in words (None: it arrived as sent)."""
    if not (row.crashed or row.silenced):
        return None
    leader = row.round % replay.result.config.nodes
    event = cause(replay.faults, row.round, row.sender, row.receiver)
    if row.crashed:
        return f"{_named(row, leader)} became {row.body} ({event.model if event else 'a fault'})"
    why = f"{event.reason} ({event.model})" if event is not None else "a fault"
    return f"{_named(row, leader)} was silenced: {why}"


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
        for event in replay.faults:
            if event.round == record.round:
                out.append(f"  ! {event.text}")
        if not rows.get(record.round):
            out.append("  (no message: the leader took no step, it was down)")
        for row in rows.get(record.round, ()):
            lane = f"  {_PHASE[row.phase]:<4}  {row.sender} -> {row.receiver}  "
            event = cause(replay.faults, row.round, row.sender, row.receiver)
            if row.silenced:
                why = f": {event.reason} ({event.model})" if event is not None else ""
                out.append(f"{lane}{row.body:<14} X silenced, never arrives{why}")
            elif row.crashed:
                meant = _meant(row, leader)
                why = f" ({event.model})" if event is not None else ""
                out.append(f"{lane}{row.body:<14} X fault: the {meant} became {row.body}{why}")
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
    """Every fault, send and receive of the replay, each round opened by its faults
    (``event: fault``, with its description, model, draws, nodes and messages) and closed
    by its outcome, as dicts; a faulty send carries its ``description`` too."""
    nodes = replay.result.config.nodes
    rows: dict[int, list[TraceRecord]] = {}
    for row in _ordered(replay):
        rows.setdefault(row.round, []).append(row)
    for record in replay.result.rounds:
        leader = record.round % nodes
        for event in replay.faults:
            if event.round == record.round:
                yield {**as_dict(event, replay.choices),
                       "node": event.nodes[0] if event.nodes else leader}
        for row in rows.get(record.round, ()):
            base = {"round": row.round, "phase": _PHASE[row.phase], "sender": row.sender,
                    "receiver": row.receiver, "message": row.body,
                    "meant": _meant(row, leader) if row.crashed else row.kind,
                    "fault": "crash" if row.crashed else "silenced" if row.silenced else None}
            if base["fault"]:
                base["description"] = fault_description(replay, row)
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
            mark = f" (FAULT: {event['description']})" if event["fault"] else ""
            line(node, f"r{event['round']} {event['phase']} send {event['message']} to "
                       f"node{event['receiver']}{mark}")
        elif event["event"] == "fault":
            clock[node] += 1
            line(node, f"FAULT {event['description']}")
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
