"""An independent model of PROTOCOL.md: the records and trace a run must produce, from its seed.

Written from PROTOCOL.md alone (it shares no code with ``paxos_exp.core.protocols`` or the
round driver), so an engine whose acceptor or leader rule drifts from the document disagrees
with it. Every registered fault model's draws are recomputed here from the positions its
docstring names (omission: ``uniform(position) < p``; crash_stop, crash_recovery, partition,
link_loss: see :data:`MODELS`), and so are down nodes (no step, no line; a round whose leader
is down has none at all) and wiped ones (``maxVoted*`` reset); only a fault model unknown
here (a test's own) is asked through its bound instance.

The model knows the registered protocols by name (their one-rule differences are in
:data:`RULES`); a new protocol is still covered by the engine-identity tests of the
conformance suite, and the model refuses it (``KeyError``) rather than guessing.

Besides the expected records, :func:`expected_run` counts *witnesses*: how often each rule
was decisive in the run (an acceptor's lost VOTE later reported in a JOIN, a leader's own
state that chose the value, ...). A test over a run without witnesses of a rule would pass
whatever that rule said, so the tests assert the witnesses they rely on are there.
"""

from __future__ import annotations

import math
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
    leaderless: set = field(default_factory=set)  # (trial, round) whose leader was down


def _hit(seed, prob, trial, rnd, phase, a, b) -> bool:
    """A draw that hits with probability ``prob``: ``U < prob`` (never at 0, always at 1)."""
    if prob <= 0.0:
        return False
    return prob >= 1.0 or uniform(seed, trial, rnd, phase, a, b) < prob


def _pick(seed, weights, trial, rnd, phase, a, b) -> int:
    """Index i where the draw falls among the cumulative weights (the last possible one when
    rounding leaves the draw above their sum)."""
    draw, total, last = uniform(seed, trial, rnd, phase, a, b), 0.0, 0
    for index, weight in enumerate(weights):
        if weight > 0.0:
            total += weight
            last = index
            if draw < total:
                return index
    return last


class _RoundFaults:
    """One fault model as PROTOCOL.md and the model's docstring state it, recomputed from
    the draws (``tests/core`` checks the modules; this is the oracle the engines meet):
    ``begin(trial, rnd)`` sets ``down`` and ``wiped`` (sets of nodes) for the round."""

    down: frozenset = frozenset()
    wiped: frozenset = frozenset()

    def begin(self, trial, rnd):
        pass

    def crashes(self, trial, rnd, phase, sender, receiver):
        return False

    def silenced(self, trial, rnd, phase, sender, receiver):
        return sender in self.down or receiver in self.down


class _Omission(_RoundFaults):
    def __init__(self, config, params):
        self.seed, self.p = config.seed, config.fail_prob

    def crashes(self, trial, rnd, phase, sender, receiver):
        return uniform(self.seed, trial, rnd, phase, sender, receiver) < self.p


class _CrashStop(_RoundFaults):
    # Before each round each live node (in id order) crashes with probability crash_prob
    # (phase 16), while fewer than max_crashed (null: N-1) have; crashed nodes stay down.
    def __init__(self, config, params):
        self.seed, self.nodes, self.prob = config.seed, config.nodes, params.crash_prob
        self.bound = config.nodes - 1 if params.max_crashed is None else params.max_crashed

    def begin(self, trial, rnd):
        crashed = set() if rnd == 0 else set(self.down)
        for node in range(self.nodes):
            if node not in crashed and len(crashed) < self.bound \
                    and _hit(self.seed, self.prob, trial, rnd, 16, node, 0):
                crashed.add(node)
        self.down = frozenset(crashed)


class _CrashRecovery(_RoundFaults):
    # Before round r each up node goes down with probability crash_prob (phase 17): it is
    # down in rounds r .. r+down_rounds-1 and back (wiped under amnesia) in r+down_rounds.
    def __init__(self, config, params):
        self.seed, self.nodes, self.params = config.seed, config.nodes, params

    def begin(self, trial, rnd):
        if rnd == 0:
            self.up_again = [-1] * self.nodes  # the round each node is up again
        back = {node for node in range(self.nodes) if self.up_again[node] == rnd}
        for node in range(self.nodes):
            if rnd >= self.up_again[node] and _hit(self.seed, self.params.crash_prob, trial,
                                                    rnd, 17, node, 0):
                self.up_again[node] = rnd + self.params.down_rounds
        self.down = frozenset(n for n in range(self.nodes) if rnd < self.up_again[n])
        self.wiped = frozenset(back) if self.params.amnesia else frozenset()


class _Partition(_RoundFaults):
    # Per round with probability partition_prob (phase 18) a side S is cut off: minority
    # (uniform over the sets of size k < N/2: size at phase 19, members at phase 20),
    # the leader alone, or a random cut (uniform: the side without node 0).
    def __init__(self, config, params):
        self.seed, self.nodes, self.params = config.seed, config.nodes, params

    def begin(self, trial, rnd):
        nodes, shape, leader = self.nodes, self.params.shape, rnd % self.nodes
        self.side, self.leader = None, leader
        if not _hit(self.seed, self.params.partition_prob, trial, rnd, 18, 0, 0):
            return
        if shape == "isolated_leader":
            if nodes > 1:
                self.side = {leader}
            return
        if shape == "minority":
            sizes, pool = [k for k in range(1, nodes) if 2 * k < nodes], list(range(nodes))
            weights = [math.comb(nodes, k) for k in sizes]
        else:
            sizes, pool = list(range(1, nodes)), list(range(1, nodes))
            weights = [math.comb(nodes - 1, k) for k in sizes]
        if not sizes:
            return
        size = sizes[_pick(self.seed, [w / sum(weights) for w in weights], trial, rnd, 19, 0, 0)]
        side = set()
        for rank in range(size):
            side.add(pool.pop(_pick(self.seed, [1.0 / len(pool)] * len(pool), trial, rnd, 20,
                                    rank, 0)))
        self.side = side

    def silenced(self, trial, rnd, phase, sender, receiver):
        if self.side is None:
            return False
        leaders = self.leader in self.side
        sender_away, receiver_away = (sender in self.side) != leaders, (receiver in self.side) != leaders
        if self.params.symmetric:
            return sender_away != receiver_away
        return sender_away and not receiver_away


class _LinkLoss(_RoundFaults):
    # Each message i -> j (i != j) lost with its link's probability (phase 21 join, 22 vote).
    def __init__(self, config, params):
        self.seed, self.nodes, self.params = config.seed, config.nodes, params

    def begin(self, trial, rnd):
        self.leader = rnd % self.nodes
        if rnd == 0 and self.params.rule == "random_subset":
            self.bad = {(i, j) for i in range(self.nodes) for j in range(i + 1, self.nodes)
                        if _hit(self.seed, self.params.fraction, trial, 0, 23, i, j)}

    def loss(self, sender, receiver):
        params = self.params
        if sender == receiver:
            return 0.0
        if params.rule == "matrix":
            return params.matrix[sender][receiver]
        if params.rule == "one_link":
            bad = {sender, receiver} == set(params.link or (0, 1))
        elif params.rule == "leader_links":
            bad = self.leader in (sender, receiver)
        else:
            bad = (min(sender, receiver), max(sender, receiver)) in self.bad
        return params.prob if bad else 0.0

    def silenced(self, trial, rnd, phase, sender, receiver):
        return _hit(self.seed, self.loss(sender, receiver), trial, rnd,
                    21 if phase == JOIN_PHASE else 22, sender, receiver)


class _Bound(_RoundFaults):
    """A fault model the oracle does not know (a test's own): asked through its instance."""

    def __init__(self, config, name):
        from paxos_exp.core.draws import SeededDraws
        from paxos_exp.core.faults import FAULTS

        self.bound = FAULTS.get(name).build(config, SeededDraws(config.seed))
        self.nodes = config.nodes

    def begin(self, trial, rnd):
        if self.bound.stateful:
            self.bound.begin_round(trial, rnd)
        if self.bound.stops:
            self.down = frozenset(n for n in range(self.nodes) if self.bound.down(trial, rnd, n))
            self.wiped = frozenset(n for n in range(self.nodes)
                                   if self.bound.wiped(trial, rnd, n))

    def crashes(self, *position):
        return self.bound.crashes(*position)

    def silenced(self, *position):
        return self.bound.silenced(*position)


MODELS = {"omission": _Omission, "crash_stop": _CrashStop, "crash_recovery": _CrashRecovery,
          "partition": _Partition, "link_loss": _LinkLoss}


class _Faults:
    """The run's fault models together: CRASH, silenced, down, wiped if any says so."""

    def __init__(self, config):
        self.parts = [MODELS[choice.name](config, choice.params) if choice.name in MODELS
                      else _Bound(config, choice.name) for choice in config.fault_choices]

    def begin(self, trial, rnd):
        for part in self.parts:
            part.begin(trial, rnd)
        self.down = frozenset().union(*(part.down for part in self.parts))
        self.wiped = frozenset().union(*(part.wiped for part in self.parts))

    def crashes(self, *position):
        return any(part.crashes(*position) for part in self.parts)

    def silenced(self, *position):
        return any(part.silenced(*position) for part in self.parts)


def expected_run(config) -> Expected:
    """Every record and trace row ``config`` must produce, and the rule witnesses."""
    rules = RULES[config.protocol.name]
    join_quorum, vote_quorum = model_quorums(config)
    faults = _Faults(config)
    crashes, silenced, silences = faults.crashes, faults.silenced, True
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
            # A node back wiped forgets its votes; a down node takes no step (every message
            # to or from it is silenced); a round whose leader is down has no step at all.
            faults.begin(trial, rnd)
            for node in faults.wiped:
                voted[node] = (-1, None)
                pending[node] = {}
            if leader in faults.down:
                out.leaderless.add((trial, rnd))
                records.append(RoundRecord(
                    trial=trial, round=rnd, leader=leader, joins=0, proposal=None, votes=0,
                    decided=False, decision=None, sent_start=0, sent_join=0, sent_propose=0,
                    sent_vote=0, sent_roundchange=0, sent_crash=0, crashed=0, silenced=0))
                witnesses["leader_down"] += 1
                continue
            witnesses["node_down"] += len(faults.down)
            witnesses["node_wiped"] += len(faults.wiped)

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
        if (trial, record.round) in expected.leaderless:
            continue  # a down leader writes no line
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
