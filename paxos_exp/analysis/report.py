"""``build_report``: from sweep directories to tables, figures and a report.md.

Writes into the output directory (default ``SWEEP_DIR/report/``):
``jobs.csv``, ``trials.csv``, ``problems.csv``, ``summary.csv``, ``summary.md``, every figure as
PNG and SVG, and ``report.md`` (what was run, the figures, the table, every measurement outside
its 99% interval around theory, every job missing, failed or unreadable). Every file is
written to a temporary name and renamed into place (:mod:`paxos_exp.analysis.files`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from paxos_exp.analysis import aggregate
from paxos_exp.analysis.files import save_figure_atomic, write_text_atomic
from paxos_exp.analysis.discover import ReportError, Sweep
from paxos_exp.analysis.load import Results, load
from paxos_exp.analysis.report_text import report_markdown, summary_markdown, summary_note

FIGURES = (
    "decision_rate",
    "round_decision_rate",
    "first_decision_round",
    "decision_heatmap",
    "messages_per_decision",
)
DEFAULT_HUE, DEFAULT_COL = "nodes", "rounds"
X_AXIS = "fail_prob"


# ----------------------------------------------------------------------------- choices


def choose_axes(
    config_columns: Sequence[str], hue: str | None, col: str | None, row: str | None
) -> tuple[str | None, str | None, str | None]:
    """Check the asked keys and fill in defaults (hue nodes, columns rounds)."""
    available = ", ".join(c for c in config_columns if c != X_AXIS)
    for role, key in (("hue", hue), ("col", col), ("row", row)):
        if key is None:
            continue
        if key == X_AXIS:
            raise ReportError(f"--{role} {key}: {X_AXIS} is the x axis of every figure")
        if key == "trials":
            raise ReportError(f"--{role} trials: the trial count is a sample size, pooled over "
                              "jobs, not a configuration to compare; choose another key")
        if key not in config_columns:
            raise ReportError(f"--{role} {key}: not a configuration column; choose from: "
                              f"{available}")
    given = [key for key in (hue, col, row) if key is not None]
    if len(given) != len(set(given)):
        raise ReportError(f"one key on two axes (--hue {hue}, --col {col}, --row {row})")
    if hue is None:
        hue = next((k for k in (DEFAULT_HUE, DEFAULT_COL) if k not in given
                    and k in config_columns), None)
    if col is None:
        col = next((k for k in (DEFAULT_COL, DEFAULT_HUE) if k not in (hue, row)
                    and k in config_columns), None)
    return hue, col, row


def default_out(sweeps: Sequence[Sweep]) -> Path:
    """``SWEEP/report`` for one directory; beside them, named after all, for several."""
    if len(sweeps) == 1:
        return sweeps[0].path / "report"
    parent = Path(os.path.commonpath([str(s.path.resolve()) for s in sweeps]))
    name = "report-" + "+".join(s.path.name for s in sweeps)
    if len(name) > 80:
        name = name[:70] + f"+{len(sweeps)}-dirs"
    return parent / name


def apply_query(results: Results, query: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The jobs and trials that ``query`` (pandas DataFrame.query on the jobs) keeps."""
    jobs, trials = results.jobs, results.trials
    if not query:
        return jobs, trials
    if jobs.empty:
        return jobs, trials
    columns = ", ".join(results.config_columns)
    try:
        mask = jobs.eval(query, engine="python")
    except Exception as error:  # noqa: BLE001 - pandas raises many types for a bad expression
        raise ReportError(f"--query {query!r}: {type(error).__name__}: {error} (columns: "
                          f"{columns})") from None
    # DataFrame.query would take numbers as row labels ("--query nodes"): insist on a condition.
    if not (isinstance(mask, pd.Series) and mask.dtype == bool and mask.index.equals(jobs.index)):
        raise ReportError(f"--query {query!r} is not a condition on the jobs (true or false for "
                          f"each), such as \"nodes >= 5\" (columns: {columns})")
    kept = jobs[mask]
    if kept.empty:
        raise ReportError(f"--query {query!r} matches none of the {len(jobs)} jobs")
    return kept, trials[trials["job_key"].isin(kept["job_key"])]


# ----------------------------------------------------------------------------- figures


def make_figures(
    summary: pd.DataFrame,
    distribution: pd.DataFrame,
    hue: str | None,
    col: str | None,
    row: str | None,
) -> dict[str, Callable[[], Any]]:
    """Figure builders by file name (called one at a time so each can be closed after saving)."""
    from paxos_exp.analysis import plots

    heat_y = hue if hue is not None else "nodes"
    first_row = hue if row is None else row
    figures: dict[str, Callable[[], Any]] = {}
    if "violations" in summary.columns and summary["violations"].fillna(0).sum() > 0:
        figures["violation_rate"] = lambda: plots.violation_rate_figure(
            summary, hue=hue, col=col, row=row)
    return figures | {
        "decision_rate": lambda: plots.decision_rate_figure(summary, hue=hue, col=col, row=row),
        "round_decision_rate": lambda: plots.round_decision_rate_figure(
            summary, hue=hue, col=col, row=row),
        "first_decision_round": lambda: plots.first_decision_round_figure(
            distribution, row=first_row, col=col),
        "decision_heatmap": lambda: plots.decision_heatmap_figure(
            summary, y=heat_y, col=col, row=row),
        "messages_per_decision": lambda: plots.messages_per_decision_figure(
            summary, hue=hue, col=col, row=row),
    }


def save_figure(figure: Any, directory: Path, name: str) -> list[Path]:
    """``name.png`` (150 dpi) and ``name.svg``; the figure is closed afterwards."""
    import matplotlib.pyplot as plt

    written = []
    # No dates and fixed SVG ids: rebuilding a report from the same data gives the same files,
    # so committed figures only change when the results do.
    png = {"dpi": 150, "metadata": {"Software": None}}
    svg = {"metadata": {"Date": None, "Creator": None}}
    try:
        with plt.rc_context({"svg.hashsalt": "paxos-exp"}):
            for suffix, options in ((".png", png), (".svg", svg)):
                path = directory / f"{name}{suffix}"
                save_figure_atomic(figure, path, bbox_inches="tight", **options)
                written.append(path)
    finally:
        plt.close(figure)
    return written


# ----------------------------------------------------------------------------- the report


def build_report(
    paths: Sequence[Path | str],
    out: Path | str | None = None,
    hue: str | None = None,
    col: str | None = None,
    row: str | None = None,
    query: str | None = None,
) -> Path:
    """Read ``paths`` (sweep directories, job directories, globs) and write the report.

    Returns the report directory (it holds report.md). Raises ReportError on bad input (a
    path that does not exist or holds no results, an unknown key, a bad query); a missing,
    failed or unreadable job never stops the report: it is listed in report.md.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    results = load(paths, trials=True)
    hue, col, row = choose_axes(results.config_columns, hue, col, row)
    jobs, trials = apply_query(results, query)
    ok = jobs[jobs["status"] == "ok"] if not jobs.empty else jobs
    keys = aggregate.group_keys(ok, results.config_columns, extra=[hue, col, row]) if not \
        ok.empty else list(aggregate.CORE_KEYS)
    summary = aggregate.summarize(ok, keys=keys)
    summary.attrs["group_keys"] = keys
    distribution = aggregate.first_round_distribution(trials, keys)
    distribution.attrs["group_keys"] = keys

    directory = Path(out) if out is not None else default_out(results.sweeps)
    directory.mkdir(parents=True, exist_ok=True)
    for name, table in (("jobs.csv", jobs), ("trials.csv", trials),
                        ("problems.csv", results.problems), ("summary.csv", summary)):
        write_table(directory / name, table)
    write_text_atomic(
        directory / "summary.md",
        "# Summary: one row per configuration\n\n" + summary_note(keys) + "\n\n"
        + (summary_markdown(summary, keys) if not summary.empty else "No completed job.\n"),
    )
    figures: list[str] = []
    skipped: dict[str, str] = {}
    if not summary.empty:
        for name, build in make_figures(summary, distribution, hue, col, row).items():
            if name == "first_decision_round" and distribution.empty:
                skipped[name] = "no readable trials.csv among the completed jobs"
                continue
            try:
                figure = build()
            except Exception as error:  # noqa: BLE001 - one bad figure must not stop the report
                skipped[name] = f"{type(error).__name__}: {error}"
                continue
            save_figure(figure, directory, name)
            figures.append(name)
    for name, why in skipped.items():
        print(f"paxos-report: warning: figure {name} not drawn: {why}", file=sys.stderr)
    for note in results.notes:
        print(f"paxos-report: note: {note}", file=sys.stderr)
    text = report_markdown(results, jobs, summary, keys, figures, directory, paths,
                            (hue, col, row, query))
    if skipped:
        text += "\n## Figures not drawn\n\n" + "".join(
            f"- `{name}`: {why}\n" for name, why in skipped.items())
    write_text_atomic(directory / "report.md", text)
    return directory


def write_table(path: Path, frame: pd.DataFrame) -> None:
    """``frame`` as CSV (no index), renamed into place once complete."""
    write_text_atomic(path, frame.to_csv(index=False, lineterminator="\n"))
