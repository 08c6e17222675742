"""An independent model of PROTOCOL.md: the records and trace a run must produce, from its seed.

Written from PROTOCOL.md alone (it shares no code with ``paxos_exp.core.protocols`` or the
round driver), so an engine whose acceptor or leader rule drifts from the document disagrees
with it. The omission model's draws are recomputed here as ``uniform(position) < p``; other
fault models are asked through their bound ``crashes``/``silenced`` (their own rules are
tested in ``tests/core``).

The model knows the registered protocols by name (their one-rule differences are in
:data:`RULES`); a new protocol is still covered by the engine-identity tests of the
conformance suite, and the model refuses it (``KeyError``) rather than guessing.

Besides the expected records, :func:`expected_run` counts *witnesses*: how often each rule
was decisive in the run (an acceptor's lost VOTE later reported in a JOIN, a leader's own
state that chose the value, ...). A test over a run without witnesses of a rule would pass
whatever that rule said, so the tests assert the witnesses they rely on are there.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from paxos_exp.core.draws import uniform
from paxos_exp.core.records import RoundRecord, TraceRecord, TrialRecord

JOIN_PHASE, VOTE_PHASE = 1, 2

# What each registered protocol changes (PROTOCOL.md, "Protocol variants").
#   use_reports: the leader's value rule looks at the joiners' JOIN reports;
#   use_own_state: ... and at its own maxVoted* when its own START arrived;
#   record_needs_join: an acceptor records a PROPOSE only if it got START this round.
CLASSIC_RULES = {"use_reports": True, "use_own_state": True, "record_needs_join": False}
RULES = {
    "classic": CLASSIC_RULES,
    "flexible": CLASSIC_RULES,
    "half_quorum": CLASSIC_RULES,
    "own_value": {**CLASSIC_RULES, "use_reports": False, "use_own_state": False},
    "ignore_own_state": {**CLASSIC_RULES, "use_own_state": False},
    "no_vote_without_join": {**CLASSIC_RULES, "record_needs_join": True},
}


def model_quorums(config) -> tuple[int, int]:
    """(join, vote) quorum sizes, from PROTOCOL.md: a strict majority ``floor(N/2)+1``;
    ``half_quorum``: ``floor(N/2)`` (at least 1); ``flexible``: the sizes given."""
    nodes, name = config.nodes, config.protocol.name
    majority = nodes // 2 + 1
    if name == "half_quorum":
        return max(1, nodes // 2), max(1, nodes // 2)
    if name == "flexible":
        params = config.protocol.params
        return (majority if params.join_quorum is None else params.join_quorum,
                majority if params.vote_quorum is None else params.vote_quorum)
    if name in RULES:
        return majority, majority
    raise KeyError(f"the model does not know protocol {name!r}")


@dataclass
class Expected:
    rounds: list[RoundRecord] = field(default_factory=list)
    trials: list[TrialRecord] = field(default_factory=list)
    trace: list[TraceRecord] = field(default_factory=list)
    witnesses: Counter = field(default_factory=Counter)


def _fault_decisions(config):
    """(crashes, silenced, silences) for the run: the omission model recomputed from the
    draws (strictly ``U < p``), any other model through its bound instance."""
    if config.faults.name == "omission":
        seed, p = config.seed, config.fail_prob

        def crashes(trial, rnd, phase, sender, receiver):
            return uniform(seed, trial, rnd, phase, sender, receiver) < p

        return crashes, (lambda *position: False), False
    bound = config.build_faults()
    return bound.crashes, bound.silenced, bound.silences


def expected_run(config) -> Expected:
    """Every record and trace row ``config`` must produce, and the rule witnesses."""
    rules = RULES[config.protocol.name]
    join_quorum, vote_quorum = model_quorums(config)
    crashes, silenced, silences = _fault_decisions(config)
    nodes = config.nodes
    out = Expected()
    witnesses = out.witnesses
    for trial in range(config.trials):
        values = config.initial_values_for(trial)
        voted = [(-1, None)] * nodes  # (maxVotedRound, maxVotedVal) per node
        # Rounds whose vote a node holds only because of a rule under test (lost VOTE,
        # recorded without a JOIN): a later JOIN that shows it is a witness.
        pending: dict[int, dict[int, str]] = {node: {} for node in range(nodes)}
        rows: list[tuple] = []
        records: list[RoundRecord] = []
        for rnd in range(config.rounds):
            leader = rnd % nodes
            sent = Counter()
            crashed_count = silenced_count = 0

            def send(phase, sender, receiver, kind, body, failure_prone):
                nonlocal crashed_count, silenced_count
                if silences and silenced(trial, rnd, phase, sender, receiver):
                    rows.append((rnd, phase, sender, receiver, kind, body, False, True))
                    silenced_count += 1
                    return None
                hit = failure_prone and crashes(trial, rnd, phase, sender, receiver)
                if hit:
                    kind, body = "CRASH", f"CRASH {leader}"
                    crashed_count += 1
                rows.append((rnd, phase, sender, receiver, kind, body, hit, False))
                sent[kind] += 1
                return kind, body

            # Phase 1: broadcastFailure(START), the leader included, in id order.
            request = {node: send(JOIN_PHASE, leader, node, "START", "START", True)
                       for node in range(nodes)}
            got_start = {node: request[node] is not None and request[node][0] == "START"
                         for node in range(nodes)}
            reports: list[tuple[int, int, int | None]] = []  # (sender, round, value) arrived
            for node in range(nodes):
                if node == leader or request[node] is None:
                    continue  # an acceptor that gets nothing does nothing
                if got_start[node]:
                    mvr, mvv = voted[node]
                    reply = send(JOIN_PHASE, node, leader, "JOIN", f"JOIN {mvr} {mvv}", True)
                    if reply is not None and reply[0] == "JOIN":
                        reports.append((node, mvr, mvv))
                        if mvr in pending[node]:
                            witnesses[pending[node].pop(mvr)] += 1
                else:  # CRASH: relayed to the leader as a plain send
                    send(JOIN_PHASE, node, leader, "CRASH", f"CRASH {leader}", False)
            own_start = got_start[leader]
            joins = int(own_start) + len(reports)
            candidates = []
            if rules["use_own_state"] and own_start:
                candidates.append(("own", *voted[leader]))
            if rules["use_reports"]:
                candidates.extend(("report", mvr, mvv) for _, mvr, mvv in reports)
            best = max(candidates, key=lambda c: c[1], default=("none", -1, None))
            proposal = None
            if joins >= join_quorum:
                proposal = values[leader] if best[1] == -1 else best[2]
                _value_rule_witnesses(witnesses, voted[leader], own_start, reports, proposal,
                                      values[leader], best)
            witnesses["joins_one_short"] += joins == join_quorum - 1
            witnesses["joins_exactly_quorum"] += joins == join_quorum
            votes, decision = 0, None
            if proposal is not None:
                # Phase 2: broadcastFailure(PROPOSE v); every acceptor that gets it records it
                # (joined or not, whether or not its VOTE gets through) and votes.
                offer = {node: send(VOTE_PHASE, leader, node, "PROPOSE", f"PROPOSE {proposal}",
                                    True) for node in range(nodes)}
                for node in range(nodes):
                    if node == leader or offer[node] is None:
                        continue
                    if offer[node][0] == "PROPOSE":
                        records_it = got_start[node] or not rules["record_needs_join"]
                        if records_it:
                            voted[node] = (rnd, proposal)
                        answer = send(VOTE_PHASE, node, leader, "VOTE", "VOTE", True)
                        if answer is not None and answer[0] == "VOTE":
                            votes += 1
                        elif records_it and answer is not None:
                            pending[node][rnd] = "lost_vote_later_reported"
                        if records_it and not got_start[node]:
                            pending[node][rnd] = "unjoined_vote_later_reported"
                    else:
                        send(VOTE_PHASE, node, leader, "CRASH", f"CRASH {leader}", False)
                own = offer[leader]
                if own is not None and own[0] == "PROPOSE":
                    votes += 1
                    voted[leader] = (rnd, proposal)
                if votes >= vote_quorum:
                    decision = proposal
                witnesses["votes_one_short"] += votes == vote_quorum - 1
                witnesses["votes_exactly_quorum"] += votes == vote_quorum
            else:
                # ROUNDCHANGE: plain, to every node but the leader; acceptors do nothing.
                for node in range(nodes):
                    if node != leader:
                        send(VOTE_PHASE, leader, node, "ROUNDCHANGE", "ROUNDCHANGE", False)
            records.append(RoundRecord(
                trial=trial, round=rnd, leader=leader, joins=joins, proposal=proposal,
                votes=votes, decided=decision is not None, decision=decision,
                sent_start=sent["START"], sent_join=sent["JOIN"], sent_propose=sent["PROPOSE"],
                sent_vote=sent["VOTE"], sent_roundchange=sent["ROUNDCHANGE"],
                sent_crash=sent["CRASH"], crashed=crashed_count, silenced=silenced_count,
            ))
        out.rounds.extend(records)
        out.trace.extend(TraceRecord(trial, *row) for row in sorted(rows, key=lambda r: r[:4]))
        out.trials.append(_verdicts(trial, values, records))
    return out


def _value_rule_witnesses(witnesses, own, own_start, reports, proposal, val, best) -> None:
    """Count the rounds in which a part of the value rule decided the proposal."""
    best_report = max(((mvr, mvv) for _, mvr, mvv in reports), default=(-1, None))
    if own_start and own[0] > best_report[0] and own[0] >= 0 and own[1] != (
            val if best_report[0] == -1 else best_report[1]):
        witnesses["own_state_chose_the_value"] += 1
    if not own_start and own[0] > best_report[0] and own[0] >= 0 and own[1] != proposal:
        witnesses["own_state_left_out_without_own_start"] += 1
    if best[0] == "report" and proposal != val:
        witnesses["report_overrode_own_value"] += 1
    # Two voted values on offer: only the highest voted round picks the right one.
    offered = {(mvr, mvv) for _, mvr, mvv in reports if mvr >= 0}
    if own_start and own[0] >= 0:
        offered.add(own)
    if len({mvv for _, mvv in offered}) > 1:
        witnesses["highest_round_beat_a_lower_one"] += 1


def _verdicts(trial: int, values, records) -> TrialRecord:
    """Agreement, validity and proposal consistency, as PROTOCOL.md's "Properties" states."""
    decided = [record for record in records if record.decided]
    first = decided[0] if decided else None
    agreement = len({record.decision for record in decided}) <= 1
    validity = all(record.decision in values for record in decided)
    proposals = first is None or all(
        record.proposal in (None, first.decision) for record in records if record.round > first.round)
    return TrialRecord(
        trial=trial, initial_values=tuple(values), decided=first is not None,
        first_decision_round=None if first is None else first.round,
        deciding_rounds=len(decided), decision=None if first is None else first.decision,
        agreement_ok=agreement, validity_ok=validity, proposals_ok=proposals,
    )


def transcript_rounds(expected: Expected, trial: int = 0) -> list[Counter]:
    """The classic lines of each round of ``trial`` (as multisets: lines of different nodes
    may interleave within a round), derived from the expected trace and records: a leader
    prints every message it got, an acceptor the one it got, then DECIDED or CHANGED ROUND."""
    rounds = [record for record in expected.rounds if record.trial == trial]
    result = [Counter() for _ in rounds]
    values = expected.trials[trial].initial_values
    for record in rounds:
        result[record.round][f"ROUND {record.round} STARTED WITH INITIAL VALUE: "
                             f"{values[record.leader]}"] += 1
        if record.decided:
            result[record.round][f"LEADER OF {record.round} DECIDED ON VALUE: {record.decision}"] += 1
        if record.proposal is None:
            result[record.round][f"LEADER OF ROUND {record.round} CHANGED ROUND"] += 1
    for row in expected.trace:
        if row.trial != trial or row.silenced:
            continue
        phase = "JOIN" if row.phase == JOIN_PHASE else "VOTE"
        leader = rounds[row.round].leader
        if row.receiver == leader:
            line = f"LEADER OF {row.round} RECEIVED IN {phase} PHASE: {row.body}"
        else:
            line = f"ACCEPTOR {row.receiver} RECEIVED IN {phase} PHASE: {row.body}"
        result[row.round][line] += 1
    return result


def record_digest(result) -> str:
    """A SHA-256 of a run's records and trace, over the fields PROTOCOL.md gives meaning to
    (named explicitly, so adding a record field does not move a pinned digest)."""
    import hashlib

    lines = []
    for r in result.rounds:
        lines.append(("round", r.trial, r.round, r.leader, r.joins, r.proposal, r.votes,
                      r.decided, r.decision, r.sent_start, r.sent_join, r.sent_propose,
                      r.sent_vote, r.sent_roundchange, r.sent_crash, r.crashed, r.silenced))
    for t in result.trials:
        lines.append(("trial", t.trial, t.initial_values, t.decided, t.first_decision_round,
                      t.deciding_rounds, t.decision, t.agreement_ok, t.validity_ok,
                      t.proposals_ok))
    for row in result.trace or ():
        lines.append(("trace", row.trial, row.round, row.phase, row.sender, row.receiver,
                      row.body, row.crashed, row.silenced))
    return hashlib.sha256("\n".join(map(repr, lines)).encode()).hexdigest()
