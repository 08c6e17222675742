"""The message-sequence diagram: one arrow per traced message, crashes marked, outcomes shown."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from matplotlib.patches import FancyArrowPatch

from paxos_exp.analysis.diagram import intended_kind, sequence_diagram
from paxos_exp.analysis.job import read_rounds, read_trace
from paxos_exp.runtime.api import run


def traced(nodes: int, fail_prob: float, rounds: int, seed: int = 1) -> tuple[pd.DataFrame,
                                                                              pd.DataFrame]:
    result = run(nodes=nodes, fail_prob=fail_prob, rounds=rounds, trials=2, seed=seed,
                 engine="inprocess", trace=True)
    return pd.DataFrame(result.trace_dicts()), pd.DataFrame(result.round_dicts())


def arrows(figure) -> list[FancyArrowPatch]:
    (axes,) = figure.axes
    return [patch for patch in axes.patches if isinstance(patch, FancyArrowPatch)]


def texts(figure) -> list[str]:
    return [text.get_text() for text in figure.axes[0].texts]


def stars(figure) -> int:
    return sum(1 for line in figure.axes[0].get_lines() if line.get_marker() == "*")


def test_nine_nodes_ten_rounds() -> None:
    trace, rounds = traced(9, 0.2, 10)
    figure = sequence_diagram(trace, nodes=9, trial=1, outcomes=rounds)
    one = trace[trace["trial"] == 1]
    drawn = arrows(figure)
    assert len(drawn) == len(one)
    dashed = [arrow for arrow in drawn if arrow.get_linestyle() not in ("-", "solid")]
    assert len(dashed) == int(one["crashed"].sum()) > 0
    crosses = [line for line in figure.axes[0].get_lines() if line.get_marker() == "x"]
    assert len(crosses) == len(dashed)
    decided = rounds[(rounds["trial"] == 1) & rounds["decided"]]
    assert stars(figure) == len(decided) > 0
    changed = rounds[(rounds["trial"] == 1) & rounds["proposal"].isna()]
    assert texts(figure).count("ROUNDCHANGE") == len(changed)
    labels = [label.get_text() for label in figure.axes[0].get_xticklabels()]
    assert labels == [f"node {n}" for n in range(9)]
    assert sum(text.startswith("round ") for text in texts(figure)) == 10
    width, height = figure.get_size_inches()
    assert width >= 9 and height >= 10  # room for 9 lanes and 40 steps
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert "crashed: sent as CRASH" in legend and "VOTE" in legend


def test_certain_outcomes() -> None:
    trace, rounds = traced(4, 0.0, 3)
    figure = sequence_diagram(trace, trial=0, outcomes=rounds)
    assert stars(figure) == 3 and "ROUNDCHANGE" not in texts(figure)
    assert all(arrow.get_linestyle() in ("-", "solid") for arrow in arrows(figure))
    trace, rounds = traced(4, 1.0, 3)
    figure = sequence_diagram(trace, trial=0, outcomes=rounds)
    assert stars(figure) == 0 and texts(figure).count("ROUNDCHANGE") == 3


def test_outcomes_read_off_the_trace_match_the_records() -> None:
    trace, rounds = traced(5, 0.25, 8, seed=4)
    for trial in (0, 1):
        with_records = sequence_diagram(trace, trial=trial, outcomes=rounds)
        from_trace = sequence_diagram(trace, trial=trial)
        assert stars(with_records) == stars(from_trace)
        assert texts(with_records) == texts(from_trace)


def test_a_range_of_rounds() -> None:
    trace, rounds = traced(3, 0.3, 6)
    figure = sequence_diagram(trace, trial=0, rounds=(2, 5), outcomes=rounds)
    expected = trace[(trace["trial"] == 0) & trace["round"].between(2, 4)]
    assert len(arrows(figure)) == len(expected)
    assert [t for t in texts(figure) if t.startswith("round ")] == [
        "round 2\nleader 2", "round 3\nleader 0", "round 4\nleader 1"]
    with pytest.raises(ValueError, match="no round"):
        sequence_diagram(trace, trial=0, rounds=(7, 9))
    with pytest.raises(ValueError, match="trial 5 is not in the trace"):
        sequence_diagram(trace, trial=5)


def test_from_files_written_by_paxos_exp(traced_job: Path) -> None:
    trace = read_trace(traced_job)
    figure = sequence_diagram(trace, trial=2, outcomes=read_rounds(traced_job),
                              initial_values="0110", title="traced job")
    assert len(arrows(figure)) == int((trace["trial"] == 2).sum())
    assert figure.axes[0].get_title() == "traced job"
    assert figure.axes[0].get_xticklabels()[1].get_text() == "node 1\nval 1"


def test_intended_kind() -> None:
    assert intended_kind(1, 2, 2) == "START" and intended_kind(1, 0, 2) == "JOIN"
    assert intended_kind(2, 2, 2) == "PROPOSE" and intended_kind(2, 1, 2) == "VOTE"


def test_a_violating_trial_is_drawn_with_its_conflicting_decision_marked(tmp_path: Path) -> None:
    from paxos_exp.analysis.cli import main

    result = run(nodes=3, fail_prob=0.3, rounds=6, trials=20, seed=0, engine="inprocess",
                 trace=True, protocol="own_value")
    unsafe = [t for t in result.trials if not t.agreement_ok]
    assert unsafe, "own_value at N=3, p=0.3 breaks agreement in some of 20 trials"
    trial = unsafe[0].trial
    trace, rounds = pd.DataFrame(result.trace_dicts()), pd.DataFrame(result.round_dicts())
    figure = sequence_diagram(trace, nodes=3, trial=trial, outcomes=rounds,
                              violation="agreement")
    one = rounds[(rounds["trial"] == trial) & rounds["decided"]]
    first = one.iloc[0]["decision"]
    conflicting = int(one[one["decision"] != first].iloc[0]["round"])
    marks = [t for t in texts(figure) if t.startswith("violation: ")]
    assert marks == ["violation: agreement"]
    assert "breaks agreement" in figure.axes[0].get_title()
    # A safe trial of the same run carries no mark.
    safe = next(t.trial for t in result.trials if t.safe)
    assert not [t for t in texts(sequence_diagram(trace, nodes=3, trial=safe, outcomes=rounds))
                if t.startswith("violation")]
    from matplotlib.colors import to_hex
    from matplotlib.patches import Rectangle
    framed = [p for p in figure.axes[0].patches if isinstance(p, Rectangle)
              and not p.get_fill() and to_hex(p.get_edgecolor()) == "#d62728"]
    assert len(framed) == 1  # one frame, around the conflicting round
    round_labels = [t for t in figure.axes[0].texts if t.get_text().startswith(f"round {conflicting}\n")]
    (label,) = round_labels
    low, height = framed[0].get_y(), framed[0].get_height()
    assert low <= label.get_position()[1] <= low + height
