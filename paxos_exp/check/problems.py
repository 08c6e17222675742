"""What the checker reports: a problem (file line, rule, explanation) and the rules it knows."""

from __future__ import annotations

from dataclasses import dataclass

# Every rule the checker applies, by the name it reports, with what it requires (PROTOCOL.md).
RULES: dict[str, str] = {
    "not-a-transcript": "the file holds at least one transcript line",
    "syntax": "every line is one of the transcript's line forms, with well-formed values and messages",
    "header": "the first line is 'NUM_NODES: N, CRASH PROB: p, NUM_ROUNDS: R' with N >= 1, "
              "0 <= p <= 1, R >= 0",
    "round-order": "rounds 0..R-1 each appear once, in order; no line of a round after a later "
                   "round began (the barrier); no round beyond NUM_ROUNDS; none missing at the end "
                   "(--faults silent: a round may be absent, its leader down)",
    "round-leader": "node r mod N leads round r: it prints no ACCEPTOR line in it, every CRASH "
                    "names it, and every node id is below N",
    "node-order": "each node prints its lines of a round in protocol order (leader: ROUND, join "
                  "receipts, then ROUNDCHANGE or vote receipts, then its decision; acceptor: "
                  "join phase, then vote phase)",
    "line-count": "per round: one ROUND line; the leader prints exactly N receipts per phase it "
                  "runs and one outcome (a change of round, or N vote receipts and at most one "
                  "decision); each acceptor prints exactly one line per phase (--faults "
                  "silent: at most N receipts, at most one line)",
    "phase-message": "each receipt can arrive there: leader join phase START (its own, once), "
                     "JOIN, CRASH; leader vote phase PROPOSE (its own, once), VOTE, CRASH; "
                     "acceptor join phase START, CRASH; acceptor vote phase PROPOSE, CRASH, "
                     "ROUNDCHANGE",
    "delivery": "the leader's receipts fit what the acceptors printed: no more JOINs than "
                "acceptors that received START, no more VOTEs than acceptors that received "
                "PROPOSE, one PROPOSE value per round, ROUNDCHANGE (a plain send) reaches every "
                "acceptor exactly when the leader changed round",
    "join-state": "each JOIN reports an earlier round and the maxVotedRound/maxVotedVal that "
                  "an acceptor which received START holds (states rebuilt from the lines; "
                  "--faults amnesia: or -1 None)",
    "quorum": "the leader proposes exactly when joins > N/2 (else changes round) and decides "
              "exactly when votes > N/2 (or the --join-quorum/--vote-quorum sizes)",
    "value-rule": "the proposal is the value of the highest voted round among the JOINs the "
                  "leader printed (its own state included only if its own START arrived), "
                  "else its own initial value",
    "decision": "a decided value is the round's proposal",
    "initial-value": "a node prints the same initial value in every round it leads",
    "agreement": "all decisions of a run are equal",
    "proposal-consistency": "after the first decision, every later PROPOSE carries the decided value",
    "validity": "a decided value is the initial value of some node (checked when every node's "
                "initial value is printed)",
    "crash-probability": "CRASH PROB 0: no message fails; CRASH PROB 1: every failure-prone "
                         "message (START, JOIN, PROPOSE, VOTE) fails",
}


def rounds_text(first: int, last: int) -> str:
    """``round 3`` or ``rounds 3..5``."""
    return f"round {first}" if first == last else f"rounds {first}..{last}"


@dataclass(frozen=True, slots=True)
class Problem:
    """One broken rule: where (``line``, 1-based; 0 for a file with no line at all), which
    rule, why, and the round it belongs to when it belongs to one."""

    line: int
    rule: str
    message: str
    round: int | None = None

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"unknown rule {self.rule!r}")
