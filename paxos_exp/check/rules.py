"""The rules of one round, each a small function from a :class:`RoundView` to its problems.

Every rule is derived from PROTOCOL.md and checks only what the lines can show: where a line
is missing or malformed (itself a problem, reported once by ``line-count`` or ``syntax``), a
rule that would need it gives the benefit of the doubt instead of reporting a consequence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from paxos_exp.check.problems import Problem
from paxos_exp.check.state import RoundView
from paxos_exp.check.transcript import (
    AcceptorReceived,
    ChangedRound,
    Decided,
    Kind,
    LeaderReceived,
    Message,
    Phase,
    RoundStarted,
)

Rule = Callable[[RoundView], Iterator[Problem]]

# What can arrive where (PROTOCOL.md, "A round"): a role, a phase -> the kinds.
_ALLOWED = {
    ("leader", Phase.JOIN): (Kind.START, Kind.JOIN, Kind.CRASH),
    ("leader", Phase.VOTE): (Kind.PROPOSE, Kind.VOTE, Kind.CRASH),
    ("acceptor", Phase.JOIN): (Kind.START, Kind.CRASH),
    ("acceptor", Phase.VOTE): (Kind.PROPOSE, Kind.CRASH, Kind.ROUNDCHANGE),
}
_FAILURE_PRONE = (Kind.START, Kind.JOIN, Kind.PROPOSE, Kind.VOTE)
_LIST_AT_MOST = 8


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _phase(phase: Phase) -> str:
    return phase.value.lower()


def _nodes(nodes: list[int]) -> str:
    shown = ", ".join(str(node) for node in nodes[:_LIST_AT_MOST])
    more = f", ... ({len(nodes)} in all)" if len(nodes) > _LIST_AT_MOST else ""
    return shown + more


def _quorum_text(view: RoundView, size: int, what: str) -> str:
    if view.params.majorities:
        return f"{what} > {view.nodes}/2"
    return f"{what} >= the {'join' if what == 'joins' else 'vote'} quorum {size}"


def _all_receipts(view: RoundView) -> Iterator[LeaderReceived | AcceptorReceived]:
    yield from view.join_receipts
    yield from view.vote_receipts
    for node in view.printing_acceptors():
        yield from view.block.acceptors[node]


def round_leader(view: RoundView) -> Iterator[Problem]:
    """Node r mod N leads round r: no ACCEPTOR line of it, no node id >= N, CRASH names it."""
    r, leader, nodes = view.number, view.leader, view.nodes
    for event in view.block.stray:
        if event.node >= nodes:
            text = f"node {event.node} does not exist: NUM_NODES is {nodes} (ids 0..{nodes - 1})"
        else:
            text = (f"node {leader} leads round {r} ({r} mod {nodes}), so it prints LEADER OF "
                    f"lines in it, not ACCEPTOR lines")
        yield Problem(event.line, "round-leader", text, r)
    for event in [*_all_receipts(view), *view.block.stray]:
        message = event.message
        if message is not None and message.kind is Kind.CRASH and message.leader != leader:
            yield Problem(event.line, "round-leader",
                          f"CRASH {message.leader} names node {message.leader}, but node {leader} "
                          f"leads round {r} ({r} mod {nodes}) and every CRASH names the round's "
                          "leader", r)


def phase_message(view: RoundView) -> Iterator[Problem]:
    """Each receipt is a message that can arrive in that phase at that role; the leader's own
    START and PROPOSE arrive once at most."""
    r = view.number
    for phase in Phase:
        own = Kind.START if phase is Phase.JOIN else Kind.PROPOSE
        seen_own = False
        for event in view.block.receipts(phase):
            message = event.message
            if message is None:
                continue
            allowed = _ALLOWED["leader", phase]
            if message.kind not in allowed:
                yield Problem(event.line, "phase-message",
                              f"the leader cannot receive {message} in the {_phase(phase)} phase "
                              f"(only {', '.join(kind.value for kind in allowed)})", r)
            elif message.kind is own:
                if seen_own:
                    yield Problem(event.line, "phase-message",
                                  f"a second {own.value}: only the leader sends {own.value}, so it "
                                  "receives one at most, its own", r)
                seen_own = True
    for node in view.printing_acceptors():
        for event in view.block.acceptors[node]:
            message = event.message
            allowed = _ALLOWED["acceptor", event.phase]
            if message is not None and message.kind not in allowed:
                yield Problem(event.line, "phase-message",
                              f"acceptor {node} cannot receive {message} in the "
                              f"{_phase(event.phase)} phase (only "
                              f"{', '.join(kind.value for kind in allowed)})", r)


def line_count(view: RoundView) -> Iterator[Problem]:
    """One ROUND line; N receipts per phase the leader runs and one outcome; one line per
    acceptor and phase. A round with unreadable lines (each a syntax problem already) is not
    blamed for as many missing lines: they may be the unreadable ones."""
    block, r, nodes, first = view.block, view.number, view.nodes, view.block.first_line
    missing: list[tuple[Problem, int]] = []  # (problem, how many lines it misses)
    started = block.started
    if not started:
        missing.append((Problem(first, "line-count", f"round {r} has no 'ROUND {r} STARTED WITH "
                                "INITIAL VALUE' line", r), 1))
    for extra in started[1:]:
        yield Problem(extra.line, "line-count", f"a second ROUND {r} line", r)
    changes, decisions, votes = block.changes, block.decisions, view.vote_receipts
    for phase, receipts in ((Phase.JOIN, view.join_receipts), (Phase.VOTE, votes)):
        if phase is Phase.VOTE and not votes:
            continue
        own = "START" if phase is Phase.JOIN else "PROPOSE"
        why = (f"the leader receives exactly N = {nodes} messages in the {_phase(phase)} phase "
               f"(its own {own} or CRASH, and one from each acceptor)")
        if len(receipts) < nodes and not view.params.silent:
            missing.append((Problem(first, "line-count", f"the leader printed {len(receipts)} "
                                    f"{_phase(phase)}-phase receipts; {why}", r), nodes - len(receipts)))
        elif len(receipts) > nodes:
            yield Problem(receipts[nodes].line, "line-count", f"the leader printed more than "
                          f"{nodes} {_phase(phase)}-phase receipts; {why}", r)
    if changes and votes:
        later = max(changes[0].line, votes[0].line)
        yield Problem(later, "line-count", "the leader both changed round and received votes: it "
                      "does one or the other", r)
    elif not changes and not votes and not decisions:
        missing.append((Problem(first, "line-count", "the leader neither changed round nor "
                                "printed vote-phase receipts", r), 1))
    for extra in changes[1:]:
        yield Problem(extra.line, "line-count", f"a second 'LEADER OF ROUND {r} CHANGED ROUND'", r)
    if decisions and not votes:
        yield Problem(decisions[0].line, "line-count", "a decision without vote-phase receipts: "
                      "the leader decides only after receiving N messages in the vote phase", r)
    for extra in decisions[1:]:
        yield Problem(extra.line, "line-count", f"a second decision in round {r}", r)
    for phase in Phase:
        silent = [node for node in range(nodes)
                  if node != view.leader and not view.acceptor(node, phase)] \
            if view.missing_acceptors(phase) else []
        if silent and not view.params.silent:  # --faults silent: it may have heard nothing
            who = f"acceptor {silent[0]}" if len(silent) == 1 else f"acceptors {_nodes(silent)}"
            missing.append((Problem(first, "line-count", f"{who} printed no {_phase(phase)}-phase "
                                    f"line in round {r}; each acceptor prints exactly one per phase",
                                    r), len(silent)))
        for node in view.printing_acceptors():
            for extra in view.acceptor(node, phase)[1:]:
                yield Problem(extra.line, "line-count", f"acceptor {node} printed a second "
                              f"{_phase(phase)}-phase line in round {r}", r)
    if sum(lines for _, lines in missing) > block.unreadable:
        yield from (problem for problem, _ in missing)


_STAGE_NAMES = ("its ROUND line", "join-phase receipts", "its change of round or vote-phase "
                "receipts", "its decision")


def _stage(event: RoundStarted | LeaderReceived | Decided | ChangedRound) -> int:
    if isinstance(event, RoundStarted):
        return 0
    if isinstance(event, LeaderReceived):
        return 1 if event.phase is Phase.JOIN else 2
    return 2 if isinstance(event, ChangedRound) else 3


def node_order(view: RoundView) -> Iterator[Problem]:
    """The leader prints ROUND, its join receipts, then ROUNDCHANGE or its vote receipts, then
    its decision; an acceptor its join-phase line, then its vote-phase line."""
    r = view.number
    highest = -1
    started = view.block.started[:1]
    for event in view.block.leader_events:
        if isinstance(event, RoundStarted) and event not in started:
            continue  # a second ROUND line is line-count's
        stage = _stage(event)
        if stage < highest:
            yield Problem(event.line, "node-order",
                          f"the leader printed {_STAGE_NAMES[stage]} after {_STAGE_NAMES[highest]}", r)
        highest = max(highest, stage)
    for node in view.printing_acceptors():
        voted = False
        for event in view.block.acceptors[node]:
            if event.phase is Phase.VOTE:
                voted = True
            elif voted:
                yield Problem(event.line, "node-order",
                              f"acceptor {node} printed its join-phase line after its vote-phase "
                              "line", r)


def delivery(view: RoundView) -> Iterator[Problem]:
    """The leader's receipts fit what the acceptors printed; one PROPOSE value; ROUNDCHANGE
    (a plain send) reaches every acceptor exactly when the leader changed round."""
    r = view.number
    for phase, asked, answer in ((Phase.JOIN, Kind.START, Kind.JOIN),
                                 (Phase.VOTE, Kind.PROPOSE, Kind.VOTE)):
        possible = 0  # acceptors that received the request, or may have (line missing or unreadable)
        for node in range(view.nodes) if view.missing_acceptors(phase) else view.printing_acceptors():
            if node == view.leader:
                continue
            message = view.acceptor_message(node, phase)
            if message is None or message.kind is asked:
                possible += 1
        answers = [event for event in view.block.receipts(phase)
                   if event.message is not None and event.message.kind is answer]
        if len(answers) > possible:
            yield Problem(answers[possible].line, "delivery",
                          f"the leader received {_count(len(answers), answer.value)}, but only "
                          f"{_count(possible, 'acceptor')} printed receiving {asked.value} (an "
                          "acceptor answers "
                          f"{asked.value}, and only {asked.value}, with {answer.value})", r)
    if view.leader_outcome is not None:
        for node in view.printing_acceptors():
            for event in view.acceptor(node, Phase.VOTE):
                message = event.message
                if message is None:
                    continue
                if view.leader_outcome == "proposed" and message.kind is Kind.ROUNDCHANGE:
                    yield Problem(event.line, "delivery",
                                  f"acceptor {node} received ROUNDCHANGE, but the leader proposed "
                                  "(it printed vote-phase receipts)", r)
                elif view.leader_outcome == "changed" and message.kind is not Kind.ROUNDCHANGE:
                    yield Problem(event.line, "delivery",
                                  f"acceptor {node} received {message} in a round whose leader "
                                  "changed round: the leader sends every acceptor ROUNDCHANGE, a "
                                  "plain send that never fails", r)
    proposals = view.proposals
    if proposals:
        first_line, first_value = proposals[0]
        for line, value in proposals[1:]:
            if value != first_value:
                yield Problem(line, "delivery",
                              f"PROPOSE {value}, but PROPOSE {first_value} at line {first_line}: "
                              "the leader proposes one value per round, to every node", r)
                break


def join_state(view: RoundView) -> Iterator[Problem]:
    """Each JOIN reports an earlier round and the state of an acceptor that received START."""
    r, states = view.number, view.states
    pool: list[int] = []  # acceptors whose JOIN the leader may have received
    for node in range(view.nodes) if view.missing_acceptors(Phase.JOIN) else view.printing_acceptors():
        if node == view.leader:
            continue
        message = view.acceptor_message(node, Phase.JOIN)
        if message is None or message.kind is Kind.START:
            pool.append(node)
    joins = [event for event in view.join_receipts
             if event.message is not None and event.message.kind is Kind.JOIN]
    unmatched: list[LeaderReceived] = []
    for event in joins:
        message = event.message
        assert message is not None
        if message.voted_round >= r:
            yield Problem(event.line, "join-state",
                          f"{message} in round {r}: no node can have voted in round "
                          f"{message.voted_round} yet", r)
            continue
        exact = next((node for node in pool if states[node].known
                      and (states[node].voted_round, states[node].voted_value)
                      == (message.voted_round, message.value)), None)
        if exact is None and view.params.amnesia and message.voted_round == -1 and pool:
            exact = pool[0]  # --faults amnesia: a node back with its votes forgotten
        if exact is not None:
            pool.remove(exact)
        else:
            unmatched.append(event)
    for event in unmatched:
        unknown = next((node for node in pool if not states[node].known), None)
        if unknown is not None:
            pool.remove(unknown)
            continue
        if not pool:
            break  # more JOINs than acceptors that received START: delivery's to report
        held = "; ".join(f"node {node} {states[node].describe()}" for node in pool[:_LIST_AT_MOST])
        yield Problem(event.line, "join-state",
                      f"{event.message} matches the state of no acceptor that received START "
                      f"(and whose JOIN is not matched already); rebuilt from the lines above: "
                      f"{held}", r)
        pool.pop(0)


def quorum(view: RoundView) -> Iterator[Problem]:
    """Propose exactly with a join quorum, decide exactly with a vote quorum."""
    r, nodes, params = view.number, view.nodes, view.params
    outcome = view.outcome
    if outcome is not None:
        least, most = view.counted(view.join_receipts, (Kind.START, Kind.JOIN))
        kind, line = outcome
        if kind == "changed" and least >= params.join_quorum:
            yield Problem(line, "quorum",
                          f"the leader changed round with {_count(least, 'join')} of {nodes}, and "
                          f"{_quorum_text(view, params.join_quorum, 'joins')}: it must propose", r)
        elif kind == "proposed" and most < params.join_quorum:
            yield Problem(line, "quorum",
                          f"the leader proposed with {_count(most, 'join')} of {nodes}, but "
                          "proposing needs "
                          f"{_quorum_text(view, params.join_quorum, 'joins')}: it must change round", r)
    votes = view.vote_receipts
    if not votes:
        return
    least, most = view.counted(votes, (Kind.PROPOSE, Kind.VOTE))
    decisions = view.block.decisions
    if decisions and most < params.vote_quorum:
        yield Problem(decisions[0].line, "quorum",
                      f"the leader decided with {_count(most, 'vote')} of {nodes}, but deciding needs "
                      f"{_quorum_text(view, params.vote_quorum, 'votes')}", r)
    elif not decisions and least >= params.vote_quorum and not view.block.changes:
        yield Problem(votes[-1].line, "quorum",
                      f"the leader received {_count(least, 'vote')} of {nodes}, and "
                      f"{_quorum_text(view, params.vote_quorum, 'votes')}, but printed no decision", r)


def value_rule(view: RoundView) -> Iterator[Problem]:
    """The proposal is the value of the highest voted round among the printed JOINs (the
    leader's own state included only if its own START arrived), else its initial value."""
    r, receipts, proposal = view.number, view.join_receipts, view.proposal
    if proposal is None or view.outcome is None or view.outcome[0] != "proposed":
        return
    if not view.complete(receipts):
        return  # a receipt we cannot read could have carried the highest vote
    candidates: list[tuple[int, int | None, str]] = []
    for event in receipts:
        message: Message = event.message  # type: ignore[assignment]
        if message.kind is Kind.JOIN:
            candidates.append((message.voted_round, message.value, f"the JOIN at line {event.line}"))
    own = view.states[view.leader]
    if view.own_start:
        if not own.known:
            return
        candidates.append((own.voted_round, own.voted_value, "the leader's own state"))
        scope = "among the joins (the leader's own state included: its own START arrived)"
    else:
        scope = "among the joins (not the leader's own state: its own START did not arrive)"
    highest = max((round_ for round_, _, _ in candidates), default=-1)
    value, line = proposal
    if highest == -1:
        initial = view.leader_value
        if initial is None or value == initial:
            return
        yield Problem(line, "value-rule",
                      f"the leader proposes {value}, but no vote is reported {scope}, so it must "
                      f"propose its own initial value {initial}", r)
        return
    best = [(value_, source) for round_, value_, source in candidates if round_ == highest]
    if any(value == value_ for value_, _ in best):
        return
    if view.params.amnesia and view.own_start:
        # --faults amnesia: the leader's own state may have been wiped; the rule without it.
        joins = [(round_, value_) for round_, value_, source in candidates
                 if source != "the leader's own state"]
        top = max((round_ for round_, _ in joins), default=-1)
        if (top == -1 and view.leader_value in (None, value)) or any(
                value == value_ for round_, value_ in joins if round_ == top and top >= 0):
            return
    best_value, source = best[0]
    yield Problem(line, "value-rule",
                  f"the leader proposes {value}, but the highest voted round {scope} is "
                  f"{highest}, with value {best_value} ({source})", r)


def decision(view: RoundView) -> Iterator[Problem]:
    """A decided value is the round's proposal."""
    proposal = view.proposal
    if proposal is None:
        return
    for event in view.block.decisions:
        if event.value is not None and event.value != proposal[0]:
            yield Problem(event.line, "decision",
                          f"the leader decided {event.value}, but the round's proposal is "
                          f"{proposal[0]} (line {proposal[1]})", view.number)


def initial_value(view: RoundView) -> Iterator[Problem]:
    """A node's initial value never changes."""
    state = view.states[view.leader]
    for event in view.block.started[:1]:
        if event.value is not None and state.val is not None and event.value != state.val:
            yield Problem(event.line, "initial-value",
                          f"node {view.leader} starts round {view.number} with initial value "
                          f"{event.value}, but started round {state.val_round} (line "
                          f"{state.val_line}) with {state.val}: a node's initial value never changes",
                          view.number)


def crash_probability(view: RoundView) -> Iterator[Problem]:
    """p = 0: nothing fails; p = 1: every failure-prone message fails."""
    p = view.params.fail_prob
    if p not in (0.0, 1.0):
        return
    if p == 0.0:
        wrong, why = (Kind.CRASH,), "CRASH PROB is 0, so no message fails"
    else:
        wrong, why = _FAILURE_PRONE, ("CRASH PROB is 1, so every failure-prone message "
                                      "(START, JOIN, PROPOSE, VOTE) becomes CRASH")
    found = sorted(event.line for event in _all_receipts(view)
                   if event.message is not None and event.message.kind in wrong)
    if found:
        others = len(found) - 1
        more = f" (and {_count(others, 'more line')} in round {view.number})" if others else ""
        shown = "a CRASH" if p == 0.0 else "a delivered message"
        yield Problem(found[0], "crash-probability", f"{shown}, but {why}{more}", view.number)


def agreement(view: RoundView) -> Iterator[Problem]:
    """All decisions of a run are equal."""
    first = view.first_decision
    if first is None:
        return
    for event in view.block.decisions:
        if event.value is not None and event.value != first.value:
            yield Problem(event.line, "agreement",
                          f"round {view.number} decides {event.value}, but round {first.round} "
                          f"decided {first.value} (line {first.line})", view.number)


def proposal_consistency(view: RoundView) -> Iterator[Problem]:
    """After the first decision, every later PROPOSE carries the decided value."""
    first, proposal = view.first_decision, view.proposal
    if first is None or proposal is None or proposal[0] == first.value:
        return
    yield Problem(proposal[1], "proposal-consistency",
                  f"round {view.number} proposes {proposal[0]}, but round {first.round} decided "
                  f"{first.value} (line {first.line}): after a decision every PROPOSE carries the "
                  "decided value", view.number)


ROUND_RULES: tuple[Rule, ...] = (
    round_leader, phase_message, line_count, node_order, delivery, join_state, quorum,
    value_rule, decision, initial_value, crash_probability, agreement, proposal_consistency,
)
