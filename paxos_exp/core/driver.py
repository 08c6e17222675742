"""The one round driver: the order of a round's steps, written once for every engine.

An engine hosts some of the nodes (all of them in memory, one per OS process) and is a
:class:`Network` under the driver: it delivers each message and hands a node the messages of
a phase. The driver calls the protocol's steps in PROTOCOL.md's order, passes every send
through the fault model, counts and traces what went on the wire, and places the transcript
lines. It plays one round of several trials at once (each phase over every trial before the
next phase), so an engine can run K trials in lockstep on the same nodes; the engines here
pass one trial at a time.

A receive names how many messages the node will get: the fault model's silences are a pure
function of the seed, so every node knows which of its messages will never come, and no
round waits on a timeout for them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol as Interface

from paxos_exp.core import transcript as lines
from paxos_exp.core.faults import Faults
from paxos_exp.core.messages import KINDS, Message, Phase, crash
from paxos_exp.core.node import NodeState, Send
from paxos_exp.core.protocols import Protocol, RoundContext
from paxos_exp.core.quorum import Quorums
from paxos_exp.core.records import KIND_INDEX, LeaderRow, ReportRow, TraceRow

_NOTHING: tuple[Message, ...] = ()
# A step of a round: ``step(rnd, runs, contexts, node)`` (see :meth:`RoundDriver.steps`).
Step = Callable[[int, Sequence["TrialRun"], Sequence[RoundContext], int], None]


class Network(Interface):
    """What an engine provides: delivery, and a node's messages of one phase."""

    def deliver(self, trial: int, rnd: int, phase: Phase, receiver: int, message: Message) -> None:
        ...

    def receive(self, trial: int, node: int, phase: Phase, count: int) -> Sequence[Message]:
        """The ``count`` messages of this phase for ``node``, one per sender (blocking until
        they arrived, within the engine's deadline)."""
        ...


class MemoryNetwork:
    """A :class:`Network` over plain lists (the in-process engine's, and the explorer's over
    one configuration at a time): each node's inbox is a list; a phase's messages are handed
    over sorted by sender."""

    __slots__ = ("inbox",)

    def __init__(self, nodes: int) -> None:
        self.inbox: list[list[Message]] = [[] for _ in range(nodes)]

    def deliver(self, trial: int, rnd: int, phase: Phase, receiver: int, message: Message) -> None:
        self.inbox[receiver].append(message)

    def receive(self, trial: int, node: int, phase: Phase, count: int) -> Sequence[Message]:
        received = self.inbox[node]
        if len(received) != count:
            raise RuntimeError(
                f"node {node} expected {count} messages in the {phase.name.lower()} phase of "
                f"trial {trial}, got {len(received)}: the driver and the fault model disagree"
            )
        self.inbox[node] = []
        if count > 1:
            received.sort(key=_by_sender)
        return received


def _by_sender(message: Message) -> int:
    return message.sender


class Transcript(Interface):
    """Where the classic console lines go; ``opening`` is a round's first line (the real
    runtime writes it at once, so a reader sees each round open before its messages)."""

    def opening(self, line: str) -> None: ...

    def line(self, line: str) -> None: ...


class Outbox:
    """One node's sends in one round of one trial: by kind, draws hit, silenced; trace rows."""

    __slots__ = ("sent", "crashed", "silenced", "trace")

    def __init__(self, trace: list[TraceRow] | None) -> None:
        self.sent = [0] * len(KINDS)
        self.crashed = 0
        self.silenced = 0
        self.trace = trace

    def report(self, rnd: int, leader_row: LeaderRow | None) -> ReportRow:
        row = (rnd, tuple(self.sent), self.crashed, self.silenced, leader_row)
        self.sent = [0] * len(KINDS)
        self.crashed = self.silenced = 0
        return row


class TrialRun:
    """One trial's part on the nodes an engine hosts: their states, outboxes and reports."""

    __slots__ = ("trial", "states", "outboxes", "reports", "traces", "joins", "proposal",
                 "sends")

    def __init__(self, trial: int, values: Sequence[int], hosted: Sequence[int], nodes: int,
                 trace: bool) -> None:
        self.trial = trial
        self.states: list[NodeState | None] = [None] * nodes
        self.outboxes: list[Outbox | None] = [None] * nodes
        self.reports: list[list[ReportRow]] = [[] for _ in range(nodes)]
        self.traces: list[list[TraceRow]] | None = [[] for _ in range(nodes)] if trace else None
        for node in hosted:
            self.states[node] = NodeState(node, values[node])
            self.outboxes[node] = Outbox(None if self.traces is None else self.traces[node])
        self.joins = 0
        self.proposal: int | None = None
        self.sends: list[Send] = []  # the leader's sends between counting and sending

    def new_chunk(self) -> None:
        """Start the next chunk of rounds: reports and trace rows so far were taken."""
        for node, outbox in enumerate(self.outboxes):
            self.reports[node] = []
            if outbox is not None and self.traces is not None:
                self.traces[node] = outbox.trace = []


class RoundDriver:
    """Plays rounds of ``protocol`` under ``faults`` for the ``hosted`` nodes over ``network``."""

    def __init__(self, protocol: Protocol, quorums: Quorums, faults: Faults, nodes: int,
                 hosted: Sequence[int], network: Network, transcript: Transcript | None) -> None:
        self.protocol, self.quorums, self.faults = protocol, quorums, faults
        self.nodes, self.hosted = nodes, list(hosted)
        self.network, self.transcript = network, transcript
        self._hosts = [False] * nodes
        for node in self.hosted:
            self._hosts[node] = True
        # The hosted acceptors of each leader's rounds (computed once, not per round).
        self._acceptors = [[node for node in self.hosted if node != leader]
                           for leader in range(nodes)]
        self._steps = [self._schedule(leader) for leader in range(nodes)]

    def steps(self, rnd: int) -> Sequence[tuple[Step, int]]:
        """The steps of round ``rnd`` after :meth:`begin`, in PROTOCOL.md's order: each is
        ``(step, node)``, run as ``step(rnd, runs, contexts, node)``. :meth:`play` runs them
        all; the exhaustive explorer (:mod:`paxos_exp.explore`) runs them one at a time and
        branches on the fault model's draws between them. This is the one place the order of
        a round is written."""
        return self._steps[rnd % self.nodes]

    def _schedule(self, leader: int) -> list[tuple[Step, int]]:
        leads = self._hosts[leader]
        acceptors = self._acceptors[leader]
        steps: list[tuple[Step, int]] = []
        if leads:
            steps.append((self.lead_start, leader))
        steps += [(self.accept_join, node) for node in acceptors]
        if leads:
            steps.append((self.count_joins, leader))
            steps.append((self.propose, leader))
        steps += [(self.accept_vote, node) for node in acceptors]
        if leads:
            steps.append((self.count_votes, leader))
        steps.append((self.report, leader))
        return steps

    def play(self, rnd: int, runs: Sequence[TrialRun]) -> None:
        """One round of every trial in ``runs``; each hosted node's report is appended to
        ``run.reports[node]``."""
        contexts = self.begin(rnd, runs)
        if contexts is None:
            return
        for step, node in self._steps[rnd % self.nodes]:
            step(rnd, runs, contexts, node)

    def begin(self, rnd: int, runs: Sequence[TrialRun]) -> list[RoundContext] | None:
        """Open round ``rnd``: advance the fault model, reset the wiped nodes. Returns the
        trials' contexts for :meth:`steps`, or None when the round was played whole already
        (a trial whose leader is down)."""
        nodes = self.nodes
        leader = rnd % nodes
        contexts = [RoundContext(run.trial, rnd, leader, nodes, self.quorums) for run in runs]
        faults = self.faults
        if faults.stateful:
            for run in runs:
                faults.begin_round(run.trial, rnd)
        if faults.stops:
            # Nodes back with their state wiped start afresh; a leader that is down leads no
            # round: it takes no step and writes no line (its acceptors hear nothing).
            for run in runs:
                self._wipe(run, rnd)
            if self._hosts[leader] and any(faults.down(run.trial, rnd, leader) for run in runs):
                self._play_down_leader(rnd, runs, contexts)
                return None
        return contexts

    def lead_start(self, rnd: int, runs: Sequence[TrialRun], contexts: Sequence[RoundContext],
                   leader: int) -> None:
        """Phase 1: the leader's START (failure-prone, to every node, itself included)."""
        say, start = self.transcript, self.protocol.start
        for run, ctx in zip(runs, contexts):
            state = run.states[leader]
            if say is not None:
                say.opening(lines.round_started(rnd, state.val))  # type: ignore[union-attr]
            state, sends, _ = start(ctx, state, _NOTHING)  # type: ignore[arg-type]
            run.states[leader] = state
            self._send(run, rnd, leader, leader, sends, Phase.JOIN)

    def accept_join(self, rnd: int, runs: Sequence[TrialRun], contexts: Sequence[RoundContext],
                    node: int) -> None:
        """An acceptor answers what it got (JOIN or a relayed CRASH); nothing if silenced."""
        for run, ctx in zip(runs, contexts):
            self._accept(run, ctx, node, Phase.JOIN)

    def count_joins(self, rnd: int, runs: Sequence[TrialRun], contexts: Sequence[RoundContext],
                    leader: int) -> None:
        """The leader counts the joins and picks PROPOSE or ROUNDCHANGE (sent by
        :meth:`propose`: the explorer merges equal outcomes of the count before it branches
        on the sends' draws)."""
        network, say, on_joins = self.network, self.transcript, self.protocol.on_joins
        for run, ctx in zip(runs, contexts):
            received = network.receive(run.trial, leader, Phase.JOIN,
                                       self._expected(run.trial, rnd, Phase.JOIN, leader))
            if say is not None:
                for message in received:
                    say.line(lines.leader_received(rnd, Phase.JOIN, message.body))
            state, sends, run.joins = on_joins(ctx, run.states[leader], received)  # type: ignore[arg-type]
            run.states[leader] = state
            run.proposal = state.propose_val
            run.sends = sends

    def propose(self, rnd: int, runs: Sequence[TrialRun], contexts: Sequence[RoundContext],
                leader: int) -> None:
        """The leader's PROPOSE (failure-prone, to every node) or ROUNDCHANGE (plain)."""
        say = self.transcript
        for run in runs:
            self._send(run, rnd, leader, leader, run.sends, Phase.VOTE)
            run.sends = []
            if run.proposal is None and say is not None:
                say.line(lines.changed_round(rnd))

    def accept_vote(self, rnd: int, runs: Sequence[TrialRun], contexts: Sequence[RoundContext],
                    node: int) -> None:
        """Phase 2: an acceptor votes on PROPOSE, relays CRASH, or takes the ROUNDCHANGE."""
        for run, ctx in zip(runs, contexts):
            self._accept(run, ctx, node, Phase.VOTE)

    def count_votes(self, rnd: int, runs: Sequence[TrialRun], contexts: Sequence[RoundContext],
                    leader: int) -> None:
        """The leader counts the votes (after a PROPOSE) and reports the round."""
        network, say, on_votes = self.network, self.transcript, self.protocol.on_votes
        for run, ctx in zip(runs, contexts):
            row: LeaderRow = (run.joins, None, 0, None)
            if run.proposal is not None:
                received = network.receive(run.trial, leader, Phase.VOTE,
                                           self._expected(run.trial, rnd, Phase.VOTE, leader))
                if say is not None:
                    for message in received:
                        say.line(lines.leader_received(rnd, Phase.VOTE, message.body))
                state, sends, votes = on_votes(ctx, run.states[leader], received)  # type: ignore[arg-type]
                run.states[leader] = state
                self._send(run, rnd, leader, leader, sends, Phase.VOTE)
                if state.decision is not None and say is not None:
                    say.line(lines.decided(rnd, state.decision))
                row = (run.joins, run.proposal, votes, state.decision)
            run.reports[leader].append(run.outboxes[leader].report(rnd, row))  # type: ignore[union-attr]

    def report(self, rnd: int, runs: Sequence[TrialRun], contexts: Sequence[RoundContext],
               leader: int) -> None:
        """Every hosted acceptor reports the round (the leader did when it counted)."""
        for node in self._acceptors[leader]:
            for run in runs:
                run.reports[node].append(run.outboxes[node].report(rnd, None))  # type: ignore[union-attr]

    def _wipe(self, run: TrialRun, rnd: int) -> None:
        """Reset ``maxVoted*`` (and every other memory but the initial value) of each hosted
        node the fault model brings back with its state wiped this round."""
        for node in self.hosted:
            if self.faults.wiped(run.trial, rnd, node):
                state = run.states[node]
                run.states[node] = NodeState(node, state.val)  # type: ignore[union-attr]

    def _play_down_leader(self, rnd: int, runs: Sequence[TrialRun],
                          contexts: Sequence[RoundContext]) -> None:
        """One round of trials some of whose leader is down: those trials' nodes all sit it
        out (an acceptor hears nothing from a down leader), the others play it one at a
        time (the driver plays trials in lockstep only when they take the same steps)."""
        leader = rnd % self.nodes
        for run, ctx in zip(runs, contexts):
            if not self.faults.down(run.trial, rnd, leader):
                self._play_one(rnd, run)
                continue
            for node in self._acceptors[leader]:
                self._accept(run, ctx, node, Phase.JOIN)  # nothing arrives: no step
                self._accept(run, ctx, node, Phase.VOTE)
            for node in self.hosted:
                row: LeaderRow | None = (0, None, 0, None) if node == leader else None
                run.reports[node].append(run.outboxes[node].report(rnd, row))  # type: ignore[union-attr]

    def _play_one(self, rnd: int, run: TrialRun) -> None:
        """Round ``rnd`` of one trial whose leader is up (state changes already made)."""
        faults, self.faults = self.faults, _Started(self.faults)
        try:
            self.play(rnd, [run])
        finally:
            self.faults = faults

    def _accept(self, run: TrialRun, ctx: RoundContext, node: int, phase: Phase) -> None:
        """An acceptor's step of one phase: at most one message, from the leader."""
        faults = self.faults
        if faults.silences and faults.silenced(run.trial, ctx.round, phase, ctx.leader, node):
            expected = 0
        else:
            expected = 1
        received = self.network.receive(run.trial, node, phase, expected)
        if not received:
            return  # silenced: an acceptor that gets nothing does nothing
        if self.transcript is not None:
            self.transcript.line(lines.acceptor_received(node, phase, received[0].body))
        step = self.protocol.on_request if phase is Phase.JOIN else self.protocol.on_proposal
        state, sends, _ = step(ctx, run.states[node], received)  # type: ignore[arg-type]
        run.states[node] = state
        self._send(run, ctx.round, ctx.leader, node, sends, phase)

    def _expected(self, trial: int, rnd: int, phase: Phase, leader: int) -> int:
        """How many messages the leader gets in a phase: its own, and one from every
        acceptor whose request and reply are both not silenced."""
        faults = self.faults
        if not faults.silences:
            return self.nodes
        silenced = faults.silenced
        count = 0 if silenced(trial, rnd, phase, leader, leader) else 1
        for node in range(self.nodes):
            if node != leader and not silenced(trial, rnd, phase, leader, node) \
                    and not silenced(trial, rnd, phase, node, leader):
                count += 1
        return count

    def _send(self, run: TrialRun, rnd: int, leader: int, node: int, sends: list[Send],
              phase: Phase) -> None:
        """Pass each send through the fault model; count, trace and deliver what is left."""
        outbox: Any = run.outboxes[node]
        faults, trial, deliver = self.faults, run.trial, self.network.deliver
        silences, crashes, sent, trace = faults.silences, faults.crashes, outbox.sent, outbox.trace
        for send in sends:
            message, receiver = send.message, send.receiver
            sender = message.sender
            if silences and faults.silenced(trial, rnd, phase, sender, receiver):
                outbox.silenced += 1
                if trace is not None:
                    trace.append((rnd, int(phase), sender, receiver, message.kind.value,
                                         message.body, False, True))
                continue
            hit = send.failure_prone and crashes(trial, rnd, phase, sender, receiver)
            if hit:
                message = crash(sender, leader)
                outbox.crashed += 1
            sent[KIND_INDEX[message.kind]] += 1
            if trace is not None:
                trace.append((rnd, int(phase), sender, receiver, message.kind.value,
                                     message.body, hit, False))
            deliver(trial, rnd, phase, receiver, message)


class _Started:
    """A fault model whose round was already begun and whose wiped nodes were already reset:
    the same answers, without advancing or resetting again (a round is begun once)."""

    __slots__ = ("_faults", "silences", "stops", "stateful")

    def __init__(self, faults: Faults) -> None:
        self._faults = faults
        self.silences, self.stops, self.stateful = faults.silences, False, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._faults, name)
