"""``link_loss``: each link loses each message on it with the link's own probability.

A message from ``i`` to ``j`` (any message: failure-prone or plain) is silenced with the
loss probability of the link ``(i, j)``, one draw per message, ``draws.hit(loss, trial, r,
21 + (phase - 1), i, j)`` (phase 21 for the join phase, 22 for the vote phase). Self-links
(a node's message to itself) are never lost: they never leave the process. ``rule`` gives
the probabilities:

- ``one_link``: the link between the two nodes of ``link`` (default ``[0, 1]``), both
  directions, loses with probability ``prob``; every other link is perfect.
- ``leader_links``: every link of the round's leader, both directions, loses with
  probability ``prob``. In this protocol every message of a round is between the leader and
  an acceptor, so this is silent loss of every message but the leader's own, the silent
  counterpart of ``omission`` at the same loss rate.
- ``random_subset``: before round 0 of each trial, each pair of nodes ``{i, j}`` is a bad
  link with probability ``fraction`` (``draws.hit(fraction, trial, 0, 23, i, j)``, ``i <
  j``), for the whole trial; bad links lose with probability ``prob``, both directions.
- ``matrix``: ``matrix[i][j]`` is the probability that a message from ``i`` to ``j`` is
  lost (directed: ``N`` rows of ``N`` numbers, the diagonal 0).

This model turns nothing into CRASH and ignores ``fail_prob``: combine it with ``omission``
(``faults=[omission,link_loss]``) for both kinds of fault.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any, List, Optional

from paxos_exp.core.draws import Draws
from paxos_exp.core.errors import ConfigError
from paxos_exp.core.faults import (
    DRAW_PHASES,
    FaultEvent,
    FaultModel,
    FaultsBase,
    Intensity,
    PerTrial,
    check_probability,
    message_name,
)

PHASES = DRAW_PHASES["link_loss"]
KEY = "faults.link_loss"
RULES = ("one_link", "leader_links", "random_subset", "matrix")
DEFAULT_LINK = (0, 1)


@dataclass(frozen=True)
class Params:
    rule: str = "leader_links"  # one_link | leader_links | random_subset | matrix
    prob: float = 0.1  # the loss probability of a bad link (not for rule=matrix)
    link: Optional[List[int]] = None  # one_link: its two nodes (null: [0, 1])
    fraction: float = 0.5  # random_subset: the probability that a pair is a bad link
    # matrix: N x N loss probabilities, i to j (typed Any: OmegaConf refuses 0 in a list of floats)
    matrix: Optional[Any] = None

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ConfigError(f"{KEY}.rule={self.rule!r}: choose one of {', '.join(RULES)}")
        object.__setattr__(self, "prob", check_probability(f"{KEY}.prob", self.prob))
        object.__setattr__(self, "fraction", check_probability(f"{KEY}.fraction", self.fraction))
        if self.link is not None:
            if self.rule != "one_link":
                raise ConfigError(f"{KEY}.link is a setting of rule=one_link; drop it or set "
                                  f"{KEY}.rule=one_link")
            link = list(self.link)
            if len(link) != 2 or any(isinstance(n, bool) or not isinstance(n, int) for n in link) \
                    or link[0] == link[1]:
                raise ConfigError(f"{KEY}.link={link}: give two different node ids, such as "
                                  "[0,1]")
            object.__setattr__(self, "link", tuple(link))
        if self.matrix is not None:
            if self.rule != "matrix":
                raise ConfigError(f"{KEY}.matrix is a setting of rule=matrix; drop it or set "
                                  f"{KEY}.rule=matrix")
            if not isinstance(self.matrix, (list, tuple)) or not all(
                    isinstance(row, (list, tuple)) for row in self.matrix):
                raise ConfigError(f"{KEY}.matrix={self.matrix!r}: give N rows of N loss "
                                  "probabilities, such as [[0,0.1],[0.2,0]] for N=2")
            rows = tuple(tuple(check_probability(f"{KEY}.matrix[{i}][{j}]", value)
                               for j, value in enumerate(row))
                         for i, row in enumerate(self.matrix))
            object.__setattr__(self, "matrix", rows)
        elif self.rule == "matrix":
            raise ConfigError(f"{KEY}.matrix: rule=matrix needs the matrix, N rows of N loss "
                              "probabilities, such as [[0,0.1],[0.2,0]] for N=2")


def check(nodes: int, params: Params) -> None:
    if params.rule == "one_link":
        link = params.link or DEFAULT_LINK
        if nodes < 2 or not all(0 <= node < nodes for node in link):
            raise ConfigError(f"{KEY}.link={list(link)}: both nodes must be ids from 0 to "
                              f"nodes-1={nodes - 1} (nodes >= 2)")
    if params.rule == "matrix":
        matrix = params.matrix
        if len(matrix) != nodes or any(len(row) != nodes for row in matrix):
            raise ConfigError(f"{KEY}.matrix: give nodes={nodes} rows of {nodes} probabilities "
                              f"(got {len(matrix)} rows)")
        if any(matrix[i][i] != 0.0 for i in range(nodes)):
            raise ConfigError(f"{KEY}.matrix: the diagonal must be 0 (a node's message to "
                              "itself is never lost)")


class LinkLoss(FaultsBase):
    """Per-message loss draws; ``random_subset`` keeps each trial's bad links as its state."""

    silences = True

    def __init__(self, nodes: int, params: Params, draws: Draws) -> None:
        self.nodes, self.params, self.draws = nodes, params, draws
        self.rule, self.prob = params.rule, params.prob
        self.stateful = params.rule == "random_subset"
        self._link = frozenset(params.link or DEFAULT_LINK)
        self._bad: PerTrial = PerTrial()

    def begin_round(self, trial: int, rnd: int) -> None:
        if rnd != 0:
            return
        self._bad.starting(trial)
        bad = set()
        for i in range(self.nodes):
            for j in range(i + 1, self.nodes):
                if self.draws.hit(self.params.fraction, trial, 0, PHASES["subset"], i, j):
                    bad.add((i, j))
        self._bad[trial] = frozenset(bad)

    def loss(self, trial: int, rnd: int, sender: int, receiver: int) -> float:
        """The loss probability of a message from ``sender`` to ``receiver`` in this round."""
        if sender == receiver:
            return 0.0
        rule = self.rule
        if rule == "leader_links":
            leader = rnd % self.nodes
            return self.prob if leader in (sender, receiver) else 0.0
        if rule == "one_link":
            return self.prob if sender in self._link and receiver in self._link else 0.0
        if rule == "random_subset":
            pair = (sender, receiver) if sender < receiver else (receiver, sender)
            return self.prob if pair in self._bad.get(trial, ()) else 0.0
        return self.params.matrix[sender][receiver]

    def silenced(self, trial: int, rnd: int, phase: int, sender: int, receiver: int) -> bool:
        loss = self.loss(trial, rnd, sender, receiver)
        if loss <= 0.0:
            return False
        draw_phase = PHASES["join"] if phase == 1 else PHASES["vote"]
        return self.draws.hit(loss, trial, rnd, draw_phase, sender, receiver)

    def state(self, trial: int) -> Hashable:
        if not self.stateful:
            return None
        return tuple(sorted(self._bad.get(trial, ())))

    def restore(self, trial: int, state: Hashable) -> None:
        if self.stateful:
            self._bad[trial] = frozenset(state or ())  # type: ignore[arg-type]


def describe(config: Any, rnd: int, drawn: Mapping[tuple[int, int, int], Any]
             ) -> list[FaultEvent]:
    """The bad links drawn (random_subset, round 0) and each message lost on a link."""
    params: Params = config.faults_params("link_loss")
    events = []
    # The bad links (drawn before round 0) first, then the messages lost.
    for (phase, a, b), answer in sorted(drawn.items(),
                                         key=lambda item: (item[0][0] != PHASES["subset"], item)):
        if answer is not True:
            continue
        if phase == PHASES["subset"]:
            events.append(FaultEvent(
                rnd, "link_loss", f"the link {a}-{b} is bad for the whole run (link_loss, "
                f"random_subset: each message on it is lost with probability {params.prob:g})",
                draws=((phase, a, b),), nodes=(a, b)))
        elif phase in (PHASES["join"], PHASES["vote"]):
            message = message_name(config.nodes, rnd, 1 if phase == PHASES["join"] else 2, a, b)
            events.append(FaultEvent(
                rnd, "link_loss", f"{message} was lost (link_loss, {params.rule}: link "
                f"{a}->{b})", draws=((phase, a, b),), nodes=(a, b),
                messages=frozenset({(rnd, a, b)}), reason=f"lost on the link {a}->{b}"))
    return events


def build(config: Any, draws: Draws) -> LinkLoss:
    return LinkLoss(config.nodes, config.faults_params("link_loss"), draws)


FAULTS = FaultModel(
    name="link_loss",
    description="each message on link (i, j) is silenced with that link's probability (rule: "
                "one_link, leader_links, random_subset or matrix)",
    build=build,
    params=Params,
    check=check,
    describe=describe,
    # leader_links alone: the round's leader's links, whichever node leads. one_link and
    # matrix strike fixed links (the law depends on the leader), random_subset's bad links
    # last the whole trial.
    rounds_iid=lambda params: params.rule == "leader_links",
    intensity=Intensity("prob", "loss probability per message on a bad link"),
)
