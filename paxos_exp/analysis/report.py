"""``build_report``: from sweep directories to tables, figures and a report.md.

Writes into the output directory (default ``SWEEP_DIR/report/``):
``jobs.csv``, ``trials.csv``, ``problems.csv``, ``summary.csv``, ``summary.md``, every figure as
PNG and SVG, and ``report.md`` (what was run, the figures, the table, every measurement outside
its 99% interval around theory, every job missing, failed or unreadable). Every file is
written to a temporary name and renamed into place (:mod:`paxos_exp.analysis.files`).
"""

from __future__ import annotations

import math
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from paxos_exp.analysis import aggregate
from paxos_exp.analysis.files import copy_atomic, save_figure_atomic, write_text_atomic
from paxos_exp.analysis.load import (
    BAD_TABLE,
    CORRUPT,
    DUPLICATE,
    FAILED,
    INTERRUPTED,
    MISSING,
    NO_RESULT,
    OVERLAP,
    PROBLEM_KINDS,
    RUNNING,
    ReportError,
    Results,
    Sweep,
    load,
)
from paxos_exp.results import STATUS_INTERRUPTED

FIGURES = (
    "decision_rate",
    "round_decision_rate",
    "first_decision_round",
    "decision_heatmap",
    "messages_per_decision",
)
FIGURE_CAPTIONS = {
    "decision_rate": "Decision within the round limit against crash probability. Points: "
    "measured fraction of trials with at least one decision, with 95% Wilson intervals; dashed: "
    "the exact probability 1 - (1 - f\u00b2)^R in the same colour.",
    "round_decision_rate": "Fraction of rounds that decide, against the exact f\u00b2 (it does "
    "not depend on the round limit: every panel shows the same law).",
    "first_decision_round": "Distribution of the first deciding round (bars, bottom up: round "
    "0, 1, ..., no decision on top); black ticks mark the exact cumulative probabilities.",
    "decision_heatmap": "Measured decision rate by node count and crash probability, one panel "
    "per round limit; * marks a cell outside the 99% interval around the exact value.",
    "messages_per_decision": "Messages on the wire (CRASH included) per deciding round, log "
    "scale; dashed: expected messages per round over f\u00b2.",
    "violation_rate": "Fraction of trials that broke agreement, validity or proposal "
    "consistency, with 95% Wilson intervals (drawn when some configuration has violations).",
}
# The columns summary.md shows (summary.csv has them all), and their number formats.
SUMMARY_MD_COLUMNS = {
    "trials": "d", "decided": "d", "decision_rate": ".4f", "ci_low": ".4f", "ci_high": ".4f",
    "theory": ".4f", "z": ".2f", "round_rate": ".4f", "round_theory": ".4f", "round_z": ".2f",
    "first_round_mean": ".3f", "first_round_theory": ".3f", "messages_per_decision": ".1f",
    "messages_theory": ".1f", "wall_seconds": ".2f",
}
SUMMARY_MD_HEADERS = {
    "first_round_mean": "first round (mean)", "first_round_theory": "first round (exact)",
    "messages_per_decision": "messages/decision", "messages_theory": "messages (exact)",
    "wall_seconds": "wall s",
}
# What each problem kind means, for report.md (only the kinds that occur are explained).
PROBLEM_MEANINGS = {
    MISSING: "the sweep asked for it but there is no directory (a job found completed in "
    "another directory read is not missing: it is counted from there)",
    RUNNING: "another paxos-exp holds the job's lock and is running it right now; left out "
    "whatever its files say: rebuild the report when it has finished",
    NO_RESULT: "a directory without result.json: the job was killed before it finished (or, "
    "in a directory of an older paxos-exp without job locks, may still be running)",
    INTERRUPTED: "stopped by Ctrl-C or SIGTERM; its partial trials are left out, and rerunning "
    "the same command redoes it",
    FAILED: "the job says why",
    CORRUPT: "result.json cannot be used (the job is left out)",
    BAD_TABLE: "a CSV table is missing, truncated, changed or inconsistent with result.json "
    "(a resumed sweep redoes the job); its counts come from result.json, its rows are not used",
    DUPLICATE: "the same job twice (used once)",
    OVERLAP: "a job whose trials are the first ones of a larger job with the same seed (only "
    "the larger one is counted)",
}
DEFAULT_HUE, DEFAULT_COL = "nodes", "rounds"
X_AXIS = "fail_prob"


# ----------------------------------------------------------------------------- markdown


def _cell(value: Any, spec: str | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
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
    """A GitHub-flavoured markdown table (no tabulate needed); numbers right-aligned."""
    formats = formats or {}
    headers = headers or {}
    columns = list(frame.columns)
    names = [headers.get(column, column) for column in columns]
    numeric = [pd.api.types.is_numeric_dtype(frame[column]) and
               not pd.api.types.is_bool_dtype(frame[column]) for column in columns]
    lines = ["| " + " | ".join(names) + " |",
             "|" + "|".join("---:" if is_number else "---" for is_number in numeric) + "|"]
    for row in frame.itertuples(index=False, name=None):
        cells = [_cell(value, formats.get(column)) for column, value in zip(columns, row)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def summary_markdown(summary: pd.DataFrame, keys: Sequence[str]) -> str:
    """The summary table with its main columns (summary.csv holds every column)."""
    columns = [*keys, *[c for c in SUMMARY_MD_COLUMNS if c in summary.columns and c not in keys]]
    formats = {**SUMMARY_MD_COLUMNS, "fail_prob": "g"}
    return markdown_table(summary[columns], formats, SUMMARY_MD_HEADERS)


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
        "# Summary: one row per configuration\n\n" + _summary_note(keys) + "\n\n"
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
    text = _report_markdown(results, jobs, summary, keys, figures, directory, paths,
                            (hue, col, row, query))
    if skipped:
        text += "\n## Figures not drawn\n\n" + "".join(
            f"- `{name}`: {why}\n" for name, why in skipped.items())
    write_text_atomic(directory / "report.md", text)
    return directory


def write_table(path: Path, frame: pd.DataFrame) -> None:
    """``frame`` as CSV (no index), renamed into place once complete."""
    write_text_atomic(path, frame.to_csv(index=False, lineterminator="\n"))


def _summary_note(keys: Sequence[str]) -> str:
    return (
        f"Grouped by {', '.join(keys)}; jobs differing only in seed or trial count are pooled. "
        "decision_rate: trials with at least one decision within the round limit; ci_low/ci_high: "
        "95% Wilson interval; theory: exact 1 - (1 - f\u00b2)^R; z = (rate - theory) / "
        "sqrt(theory (1 - theory) / trials); round_rate vs round_theory = f\u00b2: the same per "
        "round; first round: mean first deciding round of the trials that decided; messages per "
        "decision: all messages (CRASH included) per deciding round. Every column is in "
        "summary.csv."
    )


def _command_text(command: Any) -> str:
    """A recorded argv as a shell line, the program by its console-script name."""
    if isinstance(command, list) and command:
        program = Path(str(command[0])).name
        if program in ("app.py", "__main__.py"):  # python -m paxos_exp.app
            program = "paxos-exp"
        return shlex.join([program, *map(str, command[1:])])
    return str(command or "")


def _config_lines(jobs: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    lines = []
    for column in columns:
        if column not in jobs.columns:
            continue
        values = list(dict.fromkeys(jobs[column].tolist()))
        try:
            values = sorted(values)
        except TypeError:  # mixed types (e.g. None with numbers): keep first-seen order
            pass
        shown = [_cell(v, None) or "null" for v in values]
        if len(values) == 1:
            lines.append(f"| `{column}` | {shown[0]} |")
        else:
            ordered = shown if len(shown) <= 20 else shown[:20] + [f"... ({len(shown)} values)"]
            lines.append(f"| `{column}` | varies: {', '.join(ordered)} |")
    return lines


def _report_markdown(
    results: Results,
    jobs: pd.DataFrame,
    summary: pd.DataFrame,
    keys: Sequence[str],
    figures: Sequence[str],
    directory: Path,
    paths: Sequence[Path | str],
    choices: tuple[str | None, str | None, str | None, str | None],
) -> str:
    hue, col, row, query = choices
    names = ", ".join(sweep.name for sweep in results.sweeps)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    ok = jobs[jobs["status"] == "ok"] if not jobs.empty else jobs
    problems = results.problems
    out: list[str] = [f"# Report: {names}", ""]
    out.append(f"Built {now} by `paxos-report` from {len(results.sweeps)} director"
               f"{'y' if len(results.sweeps) == 1 else 'ies'}. "
               f"Rebuild it with `{_rebuild_command(paths, directory, choices)}`.")
    out.append("")
    if not problems.empty:
        counts = problems["kind"].value_counts()
        listed = ", ".join(f"{counts[k]} {k}" for k in PROBLEM_KINDS if k in counts)
        out += [f"**Problems: {listed}; see [the list](#missing-failed-or-unreadable-jobs).**",
                ""]
    if results.notes:
        out += ["**Notes:**", "", *(f"- {note}" for note in results.notes), ""]

    out += ["## What was run", ""]
    for sweep in results.sweeps:
        manifest = sweep.manifest or {}
        out.append(f"- `{sweep.path}`: {len(sweep.job_dirs)} job directories"
                   + (f" of {manifest['total_jobs']} in the sweep" if "total_jobs" in manifest
                      else ""))
        if manifest.get("command"):
            out.append(f"  - command: `{_command_text(manifest['command'])}`")
        if manifest.get("sweeper_params"):
            params = " ".join(f"{k}={v}" for k, v in manifest["sweeper_params"].items())
            out.append(f"  - sweep grid: `{params}`")
        if manifest.get("overrides"):
            out.append(f"  - overrides: `{' '.join(map(str, manifest['overrides']))}`")
        earlier = [entry for entry in manifest.get("history") or [] if isinstance(entry, dict)]
        if earlier:
            out.append(f"  - {len(earlier)} earlier run(s) into this directory (their finished "
                       "jobs are kept; missing jobs are looked for in every grid that "
                       "sweep.json can rebuild):")
            for entry in earlier[-5:]:
                out.append(f"    - `{_command_text(entry.get('command'))}` "
                           f"({entry.get('total_jobs', '?')} jobs)")
    if not any(sweep.manifest for sweep in results.sweeps) and "command" in jobs.columns:
        for command in list(dict.fromkeys(jobs["command"].dropna().tolist()))[:5]:
            out.append(f"- job command: `{command}`")
    out.append("")
    total_trials = int(ok["trials"].sum()) if not ok.empty else 0
    wall = float(jobs["wall_seconds"].fillna(0).sum()) if "wall_seconds" in jobs.columns else 0.0
    failed = int((jobs["status"] == "failed").sum()) if not jobs.empty else 0
    # Jobs not finished are named too, so "completed" is not read as "all there is". An
    # interrupted job is a row of the jobs (its configuration is known); one running
    # elsewhere is only a problem (nothing of it is read).
    interrupted = int((jobs["status"] == STATUS_INTERRUPTED).sum()) if not jobs.empty else 0
    running = int((problems["kind"] == RUNNING).sum()) if not problems.empty else 0
    unfinished = "".join(f", {count} {what}" for count, what in
                         ((interrupted, INTERRUPTED), (running, RUNNING)) if count)
    out.append(f"{len(ok)} completed jobs ({total_trials} trials), {failed} failed{unfinished}; "
               f"{wall:.1f} s of job wall time in all"
               + (f"; filtered with `--query {query}`" if query else "") + ".")
    if not ok.empty and "safe" in ok.columns:
        unsafe = ok[~ok["safe"].astype(bool)]
        claims = (unsafe["claims_safety"].fillna(True).astype(bool) if "claims_safety" in unsafe
                  else pd.Series(True, index=unsafe.index))
        broken, recorded = unsafe[claims], unsafe[~claims]
        if unsafe.empty:
            out.append("Every completed trial passed the agreement, validity and proposal checks.")
        if not broken.empty:
            out.append(f"**{len(broken)} completed jobs of protocols that claim safety report "
                       f"unsafe trials: {', '.join(broken['job_key'])}.**")
        if not recorded.empty:
            out += ["", f"{len(recorded)} jobs of protocols that do not claim safety recorded "
                    "violations (the violation rate is in summary.csv). The first violating "
                    "trial of each (draw it with `paxos-report diagram JOB_DIR --trial K`; "
                    "its rounds are in the job's rounds.csv):", "",
                    "| job | violating trials | first |", "|---|---|---|"]
            for _, job in recorded.iterrows():
                first = job.get("first_unsafe_trial")
                out.append(f"| {job['job_key']} | {int(job['unsafe_count'])} of "
                           f"{int(job['trials'])} | {'' if pd.isna(first) else int(first)} |")
    out += ["", "Configuration (every key of the jobs read):", "", "| key | value |", "|---|---|"]
    out += _config_lines(jobs, results.config_columns)
    versions = sorted(set(jobs["version"].dropna())) if "version" in jobs.columns else []
    if versions:
        out += ["", f"paxos-exp version: {', '.join(map(str, versions))}."]
    out.append("")
    out.append(f"Rows of the summary are grouped by {', '.join(f'`{k}`' for k in keys)}"
               f" (replicates differing only in `seed` or `trials` are pooled). Figures: colour "
               f"`{hue}`, columns `{col}`" + (f", rows `{row}`" if row else "") + ".")
    out.append("")

    out += ["## Figures", ""]
    if not figures:
        out += ["No completed job: no figure.", ""]
    for name in figures:
        title = name.replace("_", " ").capitalize()
        out += [f"### {title}", "", f"![{title}]({name}.png)", "",
                f"{FIGURE_CAPTIONS[name]} (Also [{name}.svg]({name}.svg).)", ""]

    out += ["## Summary", ""]
    if summary.empty:
        out += ["No completed job.", ""]
    else:
        out += [_summary_note(keys), "", summary_markdown(summary, keys)]

    out += ["## Measurements outside the 99% interval around theory", ""]
    if not summary.empty:
        flagged = aggregate.outliers(summary)
        cells = len(summary)
        out.append(
            f"A configuration is listed when its count of deciding trials (or of deciding "
            f"rounds) lies outside the central 99% of its exact binomial law. If the model is "
            f"right, each of the two tests flags a configuration with probability at most 1%: "
            f"up to about {cells / 100:.1f} of these {cells} configurations per test by chance "
            f"alone (the two coincide when R = 1). "
            f"Largest |z|: {summary['z'].abs().max():.2f} (decisions), "
            f"{summary['round_z'].abs().max():.2f} (rounds)."
        )
        out.append("")
        if flagged.empty:
            out += ["None.", ""]
        else:
            columns = [*keys, "trials", "decided", "decision_rate", "theory", "accept_low",
                       "accept_high", "z", "outside_99", "round_rate", "round_theory",
                       "round_z", "round_outside_99"]
            formats = {**SUMMARY_MD_COLUMNS, "accept_low": ".4f", "accept_high": ".4f",
                       "fail_prob": "g"}
            out += [markdown_table(flagged[columns], formats)]
    else:
        out += ["No completed job.", ""]

    out += ["## Missing, failed or unreadable jobs", ""]
    if problems.empty:
        out += ["None: every job of every directory read completed and was readable.", ""]
    else:
        plural = "s" if len(problems) != 1 else ""
        occurring = [kind for kind in PROBLEM_KINDS if (problems["kind"] == kind).any()]
        out += [f"{len(problems)} problem{plural}:", ""]
        out += [f"- `{kind}`: {PROBLEM_MEANINGS[kind]}." for kind in occurring]
        # Grouped by kind, in the order above (problems.csv keeps the order they were found).
        rank = {kind: index for index, kind in enumerate(PROBLEM_KINDS)}
        grouped = problems.sort_values("kind", key=lambda kinds: kinds.map(rank),
                                       kind="stable")
        out += ["", markdown_table(grouped[["kind", "path", "job_key", "detail"]])]
    out += ["## Files", "",
            ("`jobs.csv` (one row per job), `trials.csv` (one row per trial), `summary.csv` "
             "(one row per configuration, every column), `summary.md`, `problems.csv`, and each "
             "figure as PNG and SVG."), ""]
    return "\n".join(out)


def _rebuild_command(
    paths: Sequence[Path | str],
    directory: Path,
    choices: tuple[str | None, str | None, str | None, str | None],
) -> str:
    hue, col, row, query = choices
    parts = ["paxos-report", *map(str, paths), "--out", str(directory)]
    for flag, value in (("--hue", hue), ("--col", col), ("--row", row), ("--query", query)):
        if value:
            parts += [flag, value]
    return shlex.join(parts)


# ----------------------------------------------------------------------------- experiments/


def write_experiment_folder(sweep_dir: Path | str, dest: Path | str) -> Path:
    """Build the report of ``sweep_dir`` and copy what a study folder commits into ``dest``:
    the figures (PNG and SVG), summary.md, summary.csv, and a README.md stub with the commands
    that reproduce it. An existing README.md is kept (it holds the written reading)."""
    sweep_dir, dest = Path(sweep_dir), Path(dest)
    report = build_report([sweep_dir])
    dest.mkdir(parents=True, exist_ok=True)
    for name in FIGURES:
        for suffix in (".png", ".svg"):
            source = report / f"{name}{suffix}"
            if source.exists():
                copy_atomic(source, dest / source.name)
    for name in ("summary.md", "summary.csv"):
        copy_atomic(report / name, dest / name)
    readme = dest / "README.md"
    if not readme.exists():
        write_text_atomic(readme, _readme_stub(sweep_dir, dest, report))
    return dest


def _readme_stub(sweep_dir: Path, dest: Path, report: Path) -> str:
    results = load([sweep_dir], trials=False)
    sweep = results.sweeps[0]
    manifest = sweep.manifest or {}
    name = sweep.name
    command = _command_text(manifest.get("command")) or f"paxos-exp experiment={name}"
    summary = pd.read_csv(report / "summary.csv")
    jobs = results.ok_jobs
    grid = " ".join(f"{k}={v}" for k, v in (manifest.get("sweeper_params") or {}).items())
    trials = sorted(set(jobs["trials"])) if not jobs.empty else []
    seeds = sorted(set(jobs["seed"])) if "seed" in jobs.columns and not jobs.empty else []
    wall = float(results.jobs["wall_seconds"].fillna(0).sum()) if not results.jobs.empty else 0
    where = dest.as_posix() if not dest.is_absolute() else f"experiments/{dest.name}"
    flagged = aggregate.outliers(summary) if not summary.empty else summary
    lines = [
        f"# {name.replace('_', ' ').capitalize()}",
        "",
        "![Decision rate within the round limit against crash probability](decision_rate.png)",
        "",
        (f"The committed report of a real run of the `{name}` sweep: {len(jobs)} jobs "
         f"(`{grid}`), {', '.join(map(str, trials))} trials each, seed "
         f"{', '.join(map(str, seeds))}; {wall / 60:.1f} min of job wall time."),
        "",
        "## Reproduce",
        "",
        "```sh",
        f"{command}   # the sweep -> outputs/sweeps/{sweep_dir.name}/",
        (f"paxos-report outputs/sweeps/{sweep_dir.name}   # full report -> "
         f"outputs/sweeps/{sweep_dir.name}/report/"),
        f"paxos-report export outputs/sweeps/{sweep_dir.name} {where}   # this folder",
        "```",
        "",
        ("Parallel: add `hydra/launcher=paxos_joblib` to the first command. Every job is "
         "reproducible from its seed: the same commands give the same numbers."),
        "",
        "## Files",
        "",
    ]
    for figure in FIGURES:
        lines.append(f"- `{figure}.png` / `.svg`: {FIGURE_CAPTIONS[figure]}")
    lines += [
        ("- `summary.md`, `summary.csv`: one row per configuration (rates, 95% Wilson "
         "intervals, exact values, z)."),
        "",
        "## Checks against the exact model",
        "",
    ]
    if not summary.empty:
        lines.append(
            f"{len(summary)} configurations; largest |z| {summary['z'].abs().max():.2f} "
            f"(decision within R rounds) and {summary['round_z'].abs().max():.2f} (per round); "
            f"{len(flagged)} outside the 99% interval around theory (each of the two tests "
            f"flags at most 1% by chance: up to about {len(summary) / 100:.1f} per test).")
    if not results.problems.empty:
        lines.append(f"{len(results.problems)} jobs missing, failed or unreadable: see the "
                     f"full report.")
    lines += [
        "",
        "## Reading",
        "",
        ("<!-- TODO: where the curves for different node counts cross and why; why even node "
         "counts do worse than the odd count below them; how many rounds buy how much. -->"),
        "",
    ]
    return "\n".join(lines)
