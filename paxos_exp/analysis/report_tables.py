"""Markdown tables of a report (``DataFrame.to_markdown``, through tabulate): any frame with
per-column number formats, and summary.md's table with its note."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from paxos_exp.analysis.theory import SIMULATION_ONLY, SOURCES

# The columns summary.md shows (summary.csv has them all), and their number formats.
SUMMARY_MD_COLUMNS = {
    "trials": "d", "decided": "d", "decision_rate": ".4f", "ci_low": ".4f", "ci_high": ".4f",
    "theory": ".4f", "theory_source": None, "z": ".2f", "round_rate": ".4f",
    "round_theory": ".4f", "round_z": ".2f",
    "first_round_mean": ".3f", "first_round_theory": ".3f", "messages_per_decision": ".1f",
    "messages_theory": ".1f", "wall_seconds": ".2f",
}
# Shown too when some configuration has safety violations.
VIOLATION_MD_COLUMNS = {"violations": "d", "violation_rate": ".4f", "violation_ci_low": ".4f",
                        "violation_ci_high": ".4f", "violation_theory": ".4f",
                        "violation_z": ".2f"}
SUMMARY_MD_HEADERS = {
    "theory_source": "theory from", "violation_theory": "violations (exact)",
    "first_round_mean": "first round (mean)", "first_round_theory": "first round (exact)",
    "messages_per_decision": "messages/decision", "messages_theory": "messages (exact)",
    "wall_seconds": "wall s",
}

# ----------------------------------------------------------------------------- markdown


def missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or another container: not one missing value
        return False


def cell(value: Any, spec: str | None) -> str:
    if missing(value):
        return ""
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if spec and isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return format(int(value) if spec == "d" else float(value), spec)
        except (TypeError, ValueError):
            pass
    if isinstance(value, float):
        return f"{value:g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(
    frame: pd.DataFrame,
    formats: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> str:
    """A GitHub-flavoured markdown table (``DataFrame.to_markdown``, through tabulate), each
    column in its number format; numbers right-aligned."""
    formats = formats or {}
    headers = headers or {}
    columns = list(frame.columns)
    numeric = [pd.api.types.is_numeric_dtype(frame[column]) and
               not pd.api.types.is_bool_dtype(frame[column]) for column in columns]
    cells = pd.DataFrame(
        {index: [cell(value, formats.get(column)) for value in frame[column].tolist()]
         for index, column in enumerate(columns)}, index=range(len(frame)))
    cells.columns = [headers.get(column, column).replace("|", "\\|") for column in columns]
    # The cells are already text in their formats: tabulate must not parse them as numbers.
    return cells.to_markdown(index=False, tablefmt="pipe", disable_numparse=True,
                             colalign=["right" if is_number else "left"
                                       for is_number in numeric]) + "\n"


def summary_markdown(summary: pd.DataFrame, keys: Sequence[str]) -> str:
    """The summary table with its main columns (summary.csv holds every column)."""
    columns = [*keys, *[c for c in SUMMARY_MD_COLUMNS if c in summary.columns and c not in keys]]
    if "violations" in summary.columns and summary["violations"].fillna(0).sum() > 0:
        columns += [c for c in VIOLATION_MD_COLUMNS if c in summary.columns]
    formats = {**SUMMARY_MD_COLUMNS, **VIOLATION_MD_COLUMNS, "fail_prob": "g"}
    return markdown_table(marked(summary[columns]), formats, SUMMARY_MD_HEADERS)


def largest(z: pd.Series) -> str:
    """The largest ``|z|`` of a column, or ``none`` where no row has one."""
    top = z.abs().max()
    return "none" if missing(top) else f"{top:.2f}"


def marked(frame: pd.DataFrame) -> pd.DataFrame:
    """``theory_source`` with the rows measured by simulation only in bold."""
    if "theory_source" not in frame.columns:
        return frame
    frame = frame.copy()
    frame["theory_source"] = frame["theory_source"].map(
        lambda source: f"**{source}**" if source == SIMULATION_ONLY else source)
    return frame


def theory_sources(summary: pd.DataFrame, keys: Sequence[str], budget: float | None) -> list[str]:
    """Where the exact values came from, and the configurations that had none (simulation
    only), for report.md."""
    if "theory_source" not in summary.columns or summary.empty:
        return []
    counts = summary["theory_source"].value_counts()
    told = ", ".join(f"{counts[source]} {source}" for source in SOURCES if source in counts)
    lines = [f"Exact values (`theory_source`): {told}. Closed form: PROTOCOL.md's law; "
             "exhaustive: every fault pattern of the R rounds explored (`paxos-check "
             "exhaustive`), the 2^N initial value vectors weighed equally as the runs' fair "
             "coins are; per-round law: one round explored, 1 - (1 - s)^R for rounds that are "
             "independent and alike (the fault models declare it).", ""]
    alone = summary[summary["theory_source"] == SIMULATION_ONLY]
    if not alone.empty:
        limit = ("no limit on CPU time" if budget is None else
                 f"{budget:g} CPU s per configuration, raised with `--exact-budget SECONDS`")
        lines += [f"**{len(alone)} configurations measured by simulation only** (no exact value "
                  f"within the exploration budget: {limit}; and half the memory available "
                  "to each exploration, which only more memory raises); their z is empty:", "",
                  markdown_table(alone[[*keys, "trials", "decision_rate"]],
                                 {**SUMMARY_MD_COLUMNS, "fail_prob": "g"})]
    return lines


def summary_note(keys: Sequence[str]) -> str:
    return (
        f"Grouped by {', '.join(keys)}; jobs differing only in seed or trial count are pooled. "
        "decision_rate: trials with at least one decision within the round limit; ci_low/ci_high: "
        "95% Wilson interval; theory: exact, 1 - (1 - f\u00b2)^R in closed form or the "
        "exhaustive explorer's (theory from: which; **simulation only** where neither was "
        "within the budget); z = (rate - theory) / sqrt(theory (1 - theory) / trials); "
        "round_rate vs round_theory = f\u00b2: the same per round (round_z only where rounds "
        "are independent, not under crash_stop say); first round: mean first deciding round of "
        "the trials that decided; messages per decision: all messages (CRASH included) per "
        "deciding round. Every column is in summary.csv."
    )
