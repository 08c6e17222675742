"""The exact decision probability of PROTOCOL.md.

The leader counts itself with probability ``q = 1 - p`` (one message); each acceptor with
``q^2`` (request and reply). With quorum ``M``:
``f = q P(Bin(N-1, q^2) >= M-1) + p P(Bin(N-1, q^2) >= M)``. Both phases have this law with
fresh draws, so a round decides with probability ``f_join * f_vote`` (``f^2`` for majorities).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb, exp, fsum, lgamma, log, log1p

from paxos_exp.core.quorum import Quorums, majority


# Up to here every binomial coefficient converts to a float (comb(1030, 515) would not).
_EXACT_TRIALS = 1000


def binomial_tail(trials: int, success: float, at_least: int) -> float:
    """``P(Bin(trials, success) >= at_least)``, exactly summed; past 1,000 trials the terms
    are summed in log space (a coefficient alone would overflow a float)."""
    if at_least <= 0:
        return 1.0
    if at_least > trials:
        return 0.0
    failure = 1.0 - success
    if trials <= _EXACT_TRIALS:
        return sum(
            comb(trials, k) * success**k * failure ** (trials - k)
            for k in range(at_least, trials + 1)
        )
    if success <= 0.0:
        return 0.0
    if success >= 1.0:
        return 1.0
    log_success, log_failure, whole = log(success), log1p(-success), lgamma(trials + 1)
    return min(1.0, fsum(
        exp(whole - lgamma(k + 1) - lgamma(trials - k + 1) + k * log_success
            + (trials - k) * log_failure)
        for k in range(at_least, trials + 1)
    ))


def quorum_probability(nodes: int, fail_prob: float, quorum: int | None = None) -> float:
    """Probability that one phase gathers ``quorum`` (default: a strict majority)."""
    size = majority(nodes) if quorum is None else quorum
    q = 1.0 - fail_prob
    acceptor = q * q
    return q * binomial_tail(nodes - 1, acceptor, size - 1) + fail_prob * binomial_tail(
        nodes - 1, acceptor, size
    )


def join_probability(nodes: int, fail_prob: float, join_quorum: int | None = None) -> float:
    """``f``: the probability that the leader proposes (no ROUNDCHANGE)."""
    return quorum_probability(nodes, fail_prob, join_quorum)


def round_decision_probability(
    nodes: int, fail_prob: float, join_quorum: int | None = None, vote_quorum: int | None = None
) -> float:
    """Probability that one round decides (``f^2`` for majority quorums)."""
    return quorum_probability(nodes, fail_prob, join_quorum) * quorum_probability(
        nodes, fail_prob, vote_quorum
    )


def roundchange_probability(nodes: int, fail_prob: float, join_quorum: int | None = None) -> float:
    """Probability that a round ends in ROUNDCHANGE (``1 - f``)."""
    return 1.0 - join_probability(nodes, fail_prob, join_quorum)


def decision_within_probability(
    nodes: int,
    fail_prob: float,
    rounds: int,
    join_quorum: int | None = None,
    vote_quorum: int | None = None,
) -> float:
    """Probability of at least one decision in ``rounds`` rounds: ``1 - (1 - f^2)^R``."""
    per_round = round_decision_probability(nodes, fail_prob, join_quorum, vote_quorum)
    return 1.0 - (1.0 - per_round) ** rounds


@dataclass(frozen=True, slots=True)
class RoundLaw:
    """The exact law of one round: ``proposes`` (no ROUNDCHANGE) and ``decides``."""

    proposes: float
    decides: float

    def decision_within(self, rounds: int) -> float:
        """At least one decision in ``rounds`` independent rounds: ``1 - (1 - decides)^R``."""
        return 1.0 - (1.0 - self.decides) ** rounds

    def first_round(self, rounds: int) -> list[float]:
        """``P(first deciding round = k)`` for ``k = 0..rounds-1``, then ``P(no decision)``."""
        miss = 1.0 - self.decides
        return [miss**k * self.decides for k in range(rounds)] + [miss**rounds]

    def first_round_mean(self, rounds: int) -> float:
        """Mean first deciding round among trials that decide within ``rounds`` (NaN if none
        can): a geometric law cut at ``rounds``."""
        probabilities = self.first_round(rounds)[:-1]
        total = sum(probabilities)
        if total <= 0:
            return float("nan")
        return sum(k * p for k, p in enumerate(probabilities)) / total

    def messages_per_round(self, nodes: int) -> float:
        """Expected messages a round puts on the wire, CRASH included. Every failure draw
        still sends a message (the real one or a CRASH), so the join phase sends ``2N - 1``,
        then ``2N - 1`` more when the leader proposes, or ``N - 1`` ROUNDCHANGEs when not."""
        phase = 2 * nodes - 1
        return phase + self.proposes * phase + (1.0 - self.proposes) * (nodes - 1)

    def messages_per_decision(self, nodes: int) -> float:
        """Expected messages per round over the probability a round decides (inf if never)."""
        return self.messages_per_round(nodes) / self.decides if self.decides > 0 else float("inf")


def quorum_law(nodes: int, fail_prob: float, quorums: Quorums) -> RoundLaw:
    """The law of a round that counts one message per node towards each quorum, under the
    omission model: true of every protocol whose steps change values, not counts."""
    proposes = quorum_probability(nodes, fail_prob, quorums.join)
    vote = proposes if quorums.vote == quorums.join else quorum_probability(nodes, fail_prob, quorums.vote)
    return RoundLaw(proposes=proposes, decides=proposes * vote)
