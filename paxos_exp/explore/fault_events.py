"""A counterexample's faults as events: what happened, in words, from its recorded draws.

Each fault model in the run describes its own draws (``FaultModel.describe``); nothing here
knows a model by name. A draw that hit and that no model claimed (a model without
``describe``) is still listed, by its position.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from paxos_exp.core.faults import DRAW_PHASES, FAULTS, FaultEvent
from paxos_exp.explore.draws import Choice


def _owner(phase: int) -> str:
    """The model that draws at ``phase`` (from the registry's table), or a neutral name."""
    for name, phases in DRAW_PHASES.items():
        if phase in phases.values():
            return name
    return "fault model"


def fault_events(config: Any, choices: Iterable[Choice]) -> list[FaultEvent]:
    """The faults of a path of ``config`` (its choices, as a witness records them), round by
    round, each model's in the run's order of models."""
    by_round: dict[int, dict[tuple[int, int, int], Any]] = {}
    for (rnd, phase, a, b), answer in choices:
        by_round.setdefault(int(rnd), {})[(int(phase), int(a), int(b))] = answer
    plugins = [FAULTS.get(choice.name) for choice in config.fault_choices]
    events: list[FaultEvent] = []
    for rnd in sorted(by_round):
        drawn = by_round[rnd]
        claimed: set[tuple[int, int, int]] = set()
        for plugin in plugins:
            if plugin.describe is None:
                continue
            for event in plugin.describe(config, rnd, drawn):
                events.append(event)
                claimed.update(event.draws)
        for key, answer in sorted(drawn.items()):
            if answer is True and key not in claimed:
                phase, a, b = key
                events.append(FaultEvent(rnd, _owner(phase),
                                         f"the draw (phase {phase}, {a}, {b}) hit",
                                         draws=(key,)))
    return events


def text(event: FaultEvent) -> str:
    """One line: ``round 1: node 1 went down (crash_recovery: ...)``."""
    return f"round {event.round}: {event.text}"


def as_dict(event: FaultEvent, choices: Iterable[Choice] = ()) -> dict[str, Any]:
    """An event for JSON: its description and its machine-readable fields (``draws``:
    ``[round, phase, a, b, answer]``, the answer from ``choices`` when given)."""
    answers: Mapping[Any, Any] = {tuple(position): answer for position, answer in choices}
    return {"event": "fault", "round": event.round, "model": event.model,
            "description": text(event),
            "draws": [[event.round, *draw, answers.get((event.round, *draw))]
                      for draw in event.draws],
            "nodes": list(event.nodes),
            "messages": sorted([list(message) for message in event.messages])}


def cause(events: Sequence[FaultEvent], rnd: int, sender: int, receiver: int
          ) -> FaultEvent | None:
    """The first event that silenced or crashed the message ``rnd: sender -> receiver``."""
    for event in events:
        if (rnd, sender, receiver) in event.messages:
            return event
    return None
