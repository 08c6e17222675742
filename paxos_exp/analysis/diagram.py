"""The message-sequence diagram of one traced trial (a job run with ``trace=true``).

One vertical lane per node; time runs down through the rounds, each cut into four steps: the
leader's START broadcast, the replies (JOIN or CRASH), the leader's PROPOSE broadcast (or its
ROUNDCHANGE), the replies (VOTE or CRASH). One arrow per message, coloured by the kind the
sender meant to send; a message that the failure draw turned into CRASH is dashed and crossed
out; a CRASH an acceptor relays (a plain send) is a thin grey arrow. The leader's lane is shaded
for its round, and a ROUNDCHANGE or a decision is marked on it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Rectangle

KIND_COLOURS = {
    "START": "#1f77b4",
    "JOIN": "#2ca02c",
    "PROPOSE": "#ff7f0e",
    "VOTE": "#9467bd",
    "ROUNDCHANGE": "#d62728",
    "CRASH": "#7f7f7f",
}
STEPS_PER_ROUND = 4  # leader broadcast, replies, leader broadcast, replies
STEP_HEIGHT = 1.0
ROUND_GAP = 0.6
ARROW_SPAN = 0.78  # of a step: how far down an arrow travels


def _leader_of(round_number: int, nodes: int) -> int:
    return int(round_number) % nodes


def intended_kind(phase: int, sender: int, leader: int) -> str:
    """What a message was meant to be (a crashed one travels as CRASH)."""
    if int(phase) == 1:
        return "START" if sender == leader else "JOIN"
    return "PROPOSE" if sender == leader else "VOTE"


def _round_top(index: int) -> float:
    return index * (STEPS_PER_ROUND * STEP_HEIGHT + ROUND_GAP)


def _outcomes_from_trace(trace: pd.DataFrame, nodes: int) -> dict[int, dict[str, Any]]:
    """Per round: whether the leader proposed (and what), and whether a majority voted.
    Used only when rounds.csv is not at hand (it assumes majority quorums)."""
    outcomes: dict[int, dict[str, Any]] = {}
    for round_number, part in trace.groupby("round"):
        leader = _leader_of(round_number, nodes)
        vote_phase = part[part["phase"] == 2]
        changed = (vote_phase["kind"] == "ROUNDCHANGE").any() or (
            nodes > 1 and vote_phase.empty)
        proposes = vote_phase[(vote_phase["kind"] == "PROPOSE")]
        value = None
        if not proposes.empty:
            value = int(str(proposes["body"].iloc[0]).split()[-1])
        to_leader = vote_phase[vote_phase["receiver"] == leader]
        votes = int(((to_leader["kind"] == "VOTE")
                     | ((to_leader["kind"] == "PROPOSE") & (to_leader["sender"] == leader))).sum())
        decided = not changed and votes > nodes // 2
        outcomes[int(round_number)] = {"proposal": None if changed else value,
                                       "changed": bool(changed), "decided": decided,
                                       "decision": value if decided else None}
    return outcomes


def _outcomes_from_rounds(rounds: pd.DataFrame) -> dict[int, dict[str, Any]]:
    outcomes: dict[int, dict[str, Any]] = {}
    for _, row in rounds.iterrows():
        proposal = row.get("proposal")
        changed = bool(pd.isna(proposal))  # None, NaN or pd.NA (a nullable integer column)
        decision = row.get("decision")
        decided = bool(row.get("decided"))
        outcomes[int(row["round"])] = {
            "proposal": None if changed else int(proposal),
            "changed": changed,
            "decided": decided,
            "decision": int(decision) if decided and pd.notna(decision) else None,
        }
    return outcomes


def select_trial(trace: pd.DataFrame, trial: int | None) -> int:
    """The trial to draw: ``trial`` if the trace has it, else the first one."""
    trials = sorted(int(t) for t in trace["trial"].unique())
    if not trials:
        raise ValueError("the trace is empty")
    if trial is None:
        return trials[0]
    if int(trial) not in trials:
        raise ValueError(f"trial {trial} is not in the trace (it has trials {trials[0]}.."
                         f"{trials[-1]})")
    return int(trial)


def sequence_diagram(
    trace: pd.DataFrame,
    nodes: int | None = None,
    trial: int | None = None,
    rounds: tuple[int | None, int | None] | None = None,
    outcomes: pd.DataFrame | None = None,
    initial_values: str | None = None,
    title: str | None = None,
    violation: str | None = None,
) -> Figure:
    """Draw one trial of a trace frame (columns of ``trace.csv``).

    ``rounds`` is a half-open range ``(first, stop)`` of round numbers (either end None for
    open). ``outcomes`` is the job's rounds frame (``rounds.csv``), which says exactly which
    rounds decided; without it, decisions are read off the trace assuming majority quorums.
    ``violation`` names the safety properties the trial broke: the first decision that differs
    from the trial's first one is marked in red, and the title says what broke.
    """
    trial = select_trial(trace, trial)
    data = trace[trace["trial"] == trial]
    if nodes is None:
        nodes = int(max(data["sender"].max(), data["receiver"].max())) + 1
    present = sorted(int(r) for r in data["round"].unique())
    first, stop = rounds if rounds is not None else (None, None)
    first = present[0] if first is None else int(first)
    stop = present[-1] + 1 if stop is None else int(stop)
    shown = [r for r in range(first, stop) if r in present]
    if not shown:
        raise ValueError(f"no round in {first}..{stop - 1} for trial {trial} (the trace has "
                         f"rounds {present[0]}..{present[-1]})")
    data = data[data["round"].isin(shown)]
    if outcomes is not None and "trial" in outcomes.columns:
        table = outcomes[outcomes["trial"] == trial]
        results = _outcomes_from_rounds(table)
    else:
        results = _outcomes_from_trace(data, nodes)

    width = 2.4 + 1.0 * max(nodes, 3)
    height = 1.6 + 0.3 * (STEPS_PER_ROUND * STEP_HEIGHT + ROUND_GAP) * len(shown)
    figure = Figure(figsize=(width, height), layout="constrained")
    axes = figure.add_subplot()
    bottom = _round_top(len(shown)) - ROUND_GAP
    lane_extent = (-ROUND_GAP / 2, bottom + ROUND_GAP / 2)

    for node in range(nodes):
        axes.plot([node, node], lane_extent, color="0.55", linewidth=0.9, zorder=1)
    for index, round_number in enumerate(shown):
        top = _round_top(index)
        leader = _leader_of(round_number, nodes)
        axes.add_patch(Rectangle((leader - 0.32, top - 0.15), 0.64,
                                 STEPS_PER_ROUND * STEP_HEIGHT + 0.1, color="#fff3c4", zorder=0))
        if index:
            axes.axhline(top - ROUND_GAP / 2, color="0.8", linewidth=0.8, zorder=0)
        axes.text(-0.55, top + 2 * STEP_HEIGHT, f"round {round_number}\nleader {leader}",
                  ha="right", va="center", fontsize=8.5)
        for step, name in ((0, "join"), (2, "vote")):
            axes.text(nodes - 0.45, top + (step + 1) * STEP_HEIGHT, name, ha="left",
                      va="center", fontsize=7, color="0.45", style="italic")
        _mark_outcome(axes, results.get(round_number), leader, top)
        if violation and round_number == _conflicting_round(results):
            axes.add_patch(Rectangle((-0.45, top - 0.2), nodes - 0.1,
                                     STEPS_PER_ROUND * STEP_HEIGHT + 0.2, fill=False,
                                     edgecolor="#d62728", linewidth=2.0, zorder=7))
            axes.text(nodes - 0.45, top - 0.1, f"violation: {violation}", ha="left", va="top",
                      fontsize=8, fontweight="bold", color="#d62728", zorder=7)

    for row in data.itertuples(index=False):
        _draw_message(axes, row, nodes, shown.index(int(row.round)))

    axes.set_xlim(-1.9, nodes - 0.1 + 0.5)
    axes.set_ylim(bottom + ROUND_GAP, -ROUND_GAP)
    axes.set_xticks(range(nodes))
    labels = [f"node {n}" for n in range(nodes)]
    if initial_values and len(initial_values) == nodes:
        labels = [f"{label}\nval {value}" for label, value in zip(labels, initial_values)]
    axes.set_xticklabels(labels, fontsize=8)
    axes.xaxis.set_ticks_position("top")
    axes.set_yticks([])
    for side in ("left", "right", "bottom", "top"):
        axes.spines[side].set_visible(False)
    axes.tick_params(axis="x", length=0)
    axes.set_ylabel("time (rounds, top to bottom)")
    heading = title or f"Trial {trial}: message sequence, rounds {shown[0]}..{shown[-1]}"
    if violation:
        heading += f"\nbreaks {violation}"
    axes.set_title(heading, fontsize=10, pad=22, color="#d62728" if violation else "black")
    _legend(figure)
    return figure


def _draw_message(axes: Any, row: Any, nodes: int, index: int) -> None:
    leader = _leader_of(row.round, nodes)
    sender, receiver = int(row.sender), int(row.receiver)
    step = (0 if sender == leader else 1) + (0 if int(row.phase) == 1 else 2)
    start = _round_top(index) + step * STEP_HEIGHT + 0.1
    end = start + ARROW_SPAN * STEP_HEIGHT
    crashed = bool(row.crashed)
    kind = str(row.kind)
    if crashed:
        colour = KIND_COLOURS[intended_kind(row.phase, sender, leader)]
        style, width = (0, (3, 2)), 1.1
    elif kind == "CRASH":
        colour, style, width = KIND_COLOURS["CRASH"], "-", 0.8
    else:
        colour, style, width = KIND_COLOURS.get(kind, "black"), "-", 1.1
    bend = "arc3,rad=-1.2" if sender == receiver else "arc3,rad=0"
    arrow = FancyArrowPatch(
        (sender, start), (receiver, end), arrowstyle="-|>", mutation_scale=8,
        color=colour, linewidth=width, linestyle=style, connectionstyle=bend, zorder=3,
        shrinkA=0, shrinkB=1,
    )
    axes.add_patch(arrow)
    if crashed:
        if sender == receiver:
            where = (sender + 0.22, (start + end) / 2)
        else:
            where = (sender + 0.35 * (receiver - sender), start + 0.35 * (end - start))
        axes.plot(*where, marker="x", color="#d62728", markersize=5.5, markeredgewidth=1.6,
                  zorder=4)


def _conflicting_round(results: dict[int, dict[str, Any]]) -> int | None:
    """The first round that decides a value other than the trial's first decision."""
    first = None
    for round_number in sorted(results):
        outcome = results[round_number]
        if outcome.get("decided") and not outcome.get("changed"):
            if first is None:
                first = outcome["decision"]
            elif outcome["decision"] != first:
                return round_number
    return None


def _mark_outcome(axes: Any, outcome: dict[str, Any] | None, leader: int, top: float) -> None:
    if outcome is None:
        return
    if outcome["changed"]:
        axes.text(leader + 0.08, top + 2.55 * STEP_HEIGHT, "ROUNDCHANGE", ha="left", va="center",
                  fontsize=7, color=KIND_COLOURS["ROUNDCHANGE"], fontweight="bold", zorder=5,
                  bbox={"boxstyle": "round,pad=0.15", "facecolor": "white",
                        "edgecolor": KIND_COLOURS["ROUNDCHANGE"], "linewidth": 0.6})
    elif outcome["decided"]:
        y = top + STEPS_PER_ROUND * STEP_HEIGHT - 0.05
        axes.plot(leader, y, marker="*", color="#2ca02c", markersize=13,
                  markeredgecolor="black", markeredgewidth=0.6, zorder=6)
        axes.text(leader + 0.16, y, f"decides {outcome['decision']}", ha="left", va="center",
                  fontsize=7.5, fontweight="bold", color="#1a6e1a", zorder=6,
                  bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none",
                        "alpha": 0.85})
    else:
        axes.text(leader + 0.08, top + STEPS_PER_ROUND * STEP_HEIGHT - 0.05, "no quorum",
                  ha="left", va="center", fontsize=7, color="0.35", zorder=5)


def _legend(figure: Figure) -> None:
    handles = [Line2D([], [], color=colour, linewidth=1.4, label=kind)
               for kind, colour in KIND_COLOURS.items() if kind != "CRASH"]
    handles.append(Line2D([], [], color=KIND_COLOURS["CRASH"], linewidth=0.8,
                          label="CRASH relayed (plain send)"))
    handles.append(Line2D([], [], color="0.3", linestyle=(0, (3, 2)), marker="x",
                          markeredgecolor="#d62728", label="crashed: sent as CRASH"))
    handles.append(Line2D([], [], color="#2ca02c", marker="*", linestyle="none",
                          markeredgecolor="black", markersize=10, label="leader decides"))
    handles.append(Rectangle((0, 0), 1, 1, color="#fff3c4", label="leader's lane"))
    columns = 5 if figure.get_figwidth() >= 9 else 3
    figure.legend(handles=handles, loc="outside lower center", ncol=columns, fontsize=7.5,
                  frameon=False)
