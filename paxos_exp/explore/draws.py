"""The draws of the exhaustive explorer: every ``hit``/``pick`` a fault model asks is a
choice point, answered every way it can go (:class:`BranchingDraws`), and the draws of a
replay, answered from a recorded path (:class:`ScriptedDraws`).

A choice is named by its position ``(round, phase, a, b)`` (one trial: the trial number is
always 0 here). Within a path, a position asked twice gets the same answer, as with seeded
draws.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any

from paxos_exp.core.errors import PaxosExpError

Position = tuple[int, int, int, int]  # round, phase, a, b
# One recorded choice: position, answer (a hit's True/False, a pick's index).
Choice = tuple[Position, Any]


class ExploreError(PaxosExpError, RuntimeError):
    """The explorer met something it cannot explore (a draw outside the current round,
    a replay asking a choice its script does not have)."""


def exact_number(value: float) -> Fraction:
    """A probability as the fraction its shortest decimal spelling means (0.1 -> 1/10)."""
    return Fraction(repr(float(value)))


class BranchingDraws:
    """Draws that branch: one *run* of a driver step answers each new choice point from
    ``script`` (option indices, in the order the points are met; past its end, option 0,
    the fault-free one) and records it in ``trail``; :meth:`next_script` gives the script of
    the next unexplored combination (depth-first), or None when every one was run.

    ``memo`` holds the answers of the current path's positions this round (so a position
    asked again, by a later step or a second query, gets the same answer); ``keyed`` the
    positions whose answer can still matter later, asked outside ``crashes`` (a failure-prone
    send's draw is asked exactly once, by the driver's send, so it is not part of a state).
    """

    __slots__ = ("exact", "round", "memo", "keyed", "script", "trail", "ephemeral")

    def __init__(self, exact: bool = False) -> None:
        self.exact = exact
        self.round = 0
        self.memo: dict[Position, Any] = {}
        self.keyed: dict[Position, Any] = {}
        self.script: list[int] = []
        # (position, chosen index, number of options, probability, is a fault, answer)
        self.trail: list[tuple[Position, int, int, Any, int, Any]] = []
        self.ephemeral = False

    def _number(self, value: float) -> Any:
        return exact_number(value) if self.exact else float(value)

    def _position(self, trial: int, rnd: int, phase: int, a: int, b: int) -> Position:
        if rnd != self.round or trial != 0:
            raise ExploreError(
                f"a fault model asked the draw of trial {trial} round {rnd} during round "
                f"{self.round} of trial 0: carried-over faults must live in its state "
                "(begin_round/state/restore), so a round's draws are asked only in that round"
            )
        return (rnd, phase, a, b)

    def _choose(self, position: Position, options: list[tuple[Any, Any, int]]) -> Any:
        """``options``: (answer, probability, is a fault), the fault-free one first."""
        index = len(self.trail)
        chosen = self.script[index] if index < len(self.script) else 0
        answer, probability, fault = options[chosen]
        self.trail.append((position, chosen, len(options), probability, fault, answer))
        self.memo[position] = answer
        if not self.ephemeral:
            self.keyed[position] = answer
        return answer

    def hit(self, prob: float, trial: int, rnd: int, phase: int, a: int, b: int) -> bool:
        position = self._position(trial, rnd, phase, a, b)
        if position in self.memo:
            return self.memo[position]
        if prob <= 0.0:
            options = [(False, self._number(1), 0)]
        elif prob >= 1.0:
            options = [(True, self._number(1), 1)]
        else:
            weight = self._number(prob)
            options = [(False, 1 - weight, 0), (True, weight, 1)]
        return self._choose(position, options)

    def pick(self, weights: Sequence[float], trial: int, rnd: int, phase: int, a: int,
             b: int) -> int:
        position = self._position(trial, rnd, phase, a, b)
        if position in self.memo:
            return self.memo[position]
        options = [(index, self._number(weight), 0) for index, weight in enumerate(weights)
                   if weight > 0.0]
        return self._choose(position, options)

    def next_script(self) -> list[int] | None:
        """The option indices of the next combination after the last run's, or None."""
        script = [entry[1] for entry in self.trail]
        while script and script[-1] == self.trail[len(script) - 1][2] - 1:
            script.pop()
        if not script:
            return None
        script[-1] += 1
        return script


class ScriptedDraws:
    """Draws answered from a recorded path: ``choices`` maps (round, phase, a, b) to the
    answer. A draw that cannot go two ways (probability 0 or 1) needs no entry; any other
    position missing from the script is an error (the replay left the recorded path)."""

    __slots__ = ("choices",)

    def __init__(self, choices: Iterable[Choice]) -> None:
        self.choices = {tuple(position): answer for position, answer in choices}

    def __getstate__(self) -> dict[str, Any]:
        return {"choices": self.choices}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.choices = state["choices"]

    def _answer(self, trial: int, rnd: int, phase: int, a: int, b: int) -> Any:
        try:
            return self.choices[(rnd, phase, a, b)]
        except KeyError:
            raise ExploreError(
                f"the replay asked the draw of round {rnd} phase {phase} ({a}, {b}), which "
                "the recorded path does not have"
            ) from None

    def hit(self, prob: float, trial: int, rnd: int, phase: int, a: int, b: int) -> bool:
        if prob <= 0.0:
            return False
        if prob >= 1.0:
            return True
        return bool(self._answer(trial, rnd, phase, a, b))

    def pick(self, weights: Sequence[float], trial: int, rnd: int, phase: int, a: int,
             b: int) -> int:
        if sum(1 for weight in weights if weight > 0.0) == 1:
            return next(index for index, weight in enumerate(weights) if weight > 0.0)
        return int(self._answer(trial, rnd, phase, a, b))
