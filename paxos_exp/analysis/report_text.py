"""The text of a report: markdown tables, figure captions, what each problem kind means, and
report.md itself (what was run, the figures, the table, the checks against theory, the
problems found, and how to rebuild it)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from paxos_exp.analysis import aggregate, intensity
from paxos_exp.analysis.load import Results
from paxos_exp.analysis.report_tables import (  # noqa: F401 - the public names stay here too
    SUMMARY_MD_COLUMNS,
    SUMMARY_MD_HEADERS,
    VIOLATION_MD_COLUMNS,
    cell,
    largest,
    markdown_table,
    missing,
    summary_markdown,
    summary_note,
    theory_sources,
)
from paxos_exp.analysis.problems import (
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
)
from paxos_exp.analysis.theory import DEFAULT_SECONDS
from paxos_exp.results import STATUS_INTERRUPTED

FIGURE_CAPTIONS = {
    "decision_rate": "Decision within the round limit against crash probability. Points: "
    "measured fraction of trials with at least one decision, with 95% Wilson intervals; lines: "
    "the exact probability (1 - (1 - f\u00b2)^R under omission, else the exhaustive explorer's "
    "at a few points "
    "joined by straight lines; none for configurations measured by simulation only) in the "
    "colour of the points (each colour has its own marker and line style too).",
    "round_decision_rate": "Fraction of rounds that decide (points, 95% Wilson intervals), "
    "against its exact value (lines: f\u00b2 under omission, the same for every round limit; "
    "under other fault models the exhaustive explorer's, averaged over the R rounds).",
    "first_decision_round": "The first deciding round against crash probability: measured "
    "fractions of trials stacked bottom up (round 0, 1, 2, round 3 or later, no decision on "
    "top, so any round limit reads alike); black lines: the exact probability of a first "
    "decision by the end of each band (1 - (1 - f\u00b2)^(k+1) under omission, else the "
    "exhaustive explorer's), at the same crash probabilities (both joined by straight lines).",
    "decision_heatmap": "Measured decision rate by node count and crash probability, one panel "
    "per round limit; * marks a cell outside the 99% interval around the exact value.",
    "messages_per_decision": "Messages on the wire (CRASH included) per deciding round, log "
    "scale (points, with the interval from the per-round rate's); lines: expected messages per "
    "round over f\u00b2 (omission only: the exhaustive explorer counts no messages).",
    "violation_rate": "Fraction of trials that broke agreement, validity or proposal "
    "consistency, with 95% Wilson intervals (drawn when some configuration has violations).",
}


def figure_caption(name: str) -> str:
    """A figure's caption; one along a further fault intensity (``decision_rate_by_crash_prob``)
    is its kind's, and says which."""
    kind, x = intensity.figure_kind(name)
    if x is None:
        return FIGURE_CAPTIONS[kind]
    return (f"{FIGURE_CAPTIONS[kind]} Drawn against `{x}`, from the jobs whose fault model it "
            "is the intensity of.")


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


def command_text(command: Any) -> str:
    """A recorded argv as a shell line, the program by its console-script name."""
    if isinstance(command, list) and command:
        program = Path(str(command[0])).name
        if program in ("app.py", "__main__.py"):  # python -m paxos_exp.app
            program = "paxos-exp"
        return shlex.join([program, *map(str, command[1:])])
    return str(command or "")


def _config_lines(jobs: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """``| key | value |`` rows. A key some jobs lack (a setting their protocol does not have)
    shows its values and names the protocols without it once, instead of one null per job."""
    lines = []
    for column in columns:
        if column not in jobs.columns:
            continue
        values = jobs[column].astype(object)
        absent = values.map(missing)
        present = list(dict.fromkeys(values[~absent].tolist()))
        try:
            present = sorted(present)
        except TypeError:  # mixed types: keep first-seen order
            pass
        shown = [cell(v, None) for v in present]
        if absent.any():
            shown.append(_not_set(jobs[absent], column))
        if len(shown) == 1:
            lines.append(f"| `{column}` | {shown[0]} |")
        else:
            ordered = shown if len(shown) <= 20 else shown[:20] + [f"... ({len(shown)} values)"]
            lines.append(f"| `{column}` | varies: {', '.join(ordered)} |")
    return lines


def _fault_settings() -> set[str]:
    """The names of every registered fault model's settings (columns of the jobs table)."""
    from dataclasses import fields

    from paxos_exp.core.faults import FAULTS

    return {field.name for model in FAULTS for field in fields(model.params)}


def _not_set(jobs: pd.DataFrame, column: str) -> str:
    """``null`` for a key no job sets; ``not set (protocol classic, own_value)`` when the jobs
    without it are told apart by their protocol (or fault model: ``not set (faults omission)``
    for a fault model's setting)."""
    owners = ("faults", "protocol") if column in _fault_settings() else ("protocol", "faults")
    for owner in owners:
        if owner != column and owner in jobs.columns:
            names = [str(name) for name in dict.fromkeys(jobs[owner].astype(object).tolist())
                     if not missing(name)]
            if names:
                return f"not set ({owner} {', '.join(names)})"
    return "null"


@dataclass(frozen=True)
class ReportOptions:
    """The choices a report was built with (report.md states them and how to rebuild it)."""

    hue: str | None = None
    col: str | None = None
    row: str | None = None
    query: str | None = None
    formats: tuple[str, ...] = ("png", "svg")
    context: str = "paper"
    title: bool | None = None
    dpi: float | None = None
    trials_table: bool = False
    exact_budget: float | None = DEFAULT_SECONDS


def _job_directories(sweep: Any) -> str:
    """``84 job directories of 84 in the sweep``, or, for a directory that several different
    sweep commands wrote into, how many each asked for (the latest count alone is not the
    directory's)."""
    manifest = sweep.manifest or {}
    count = len(sweep.job_dirs)
    text = f"{count} job director{'y' if count == 1 else 'ies'}"
    total = manifest.get("total_jobs")
    commands: dict[tuple, Any] = {}
    for entry in [*(manifest.get("history") or []), manifest]:
        if isinstance(entry, dict) and "total_jobs" in entry:
            identity = (tuple(map(str, entry.get("overrides") or [])), entry.get("total_jobs"))
            commands.pop(identity, None)  # a command run again (resumed) counts once, latest
            commands[identity] = entry.get("total_jobs")
    if len(commands) > 1:
        asked = " + ".join(str(jobs) for jobs in commands.values())
        return (f"{text}, written by {len(commands)} different sweep commands asking for "
                f"{asked} jobs (the latest last; they may share jobs)")
    if isinstance(total, int):
        return f"{text} of {total} in the sweep"
    return text


def figure_link(name: str, formats: Sequence[str]) -> tuple[str, list[str]]:
    """The file report.md shows (PNG, else SVG, else the first) and the other files."""
    shown = next((fmt for fmt in ("png", "svg") if fmt in formats), formats[0])
    return f"{name}.{shown}", [f"{name}.{fmt}" for fmt in formats if fmt != shown]


def report_markdown(
    results: Results,
    jobs: pd.DataFrame,
    summary: pd.DataFrame,
    keys: Sequence[str],
    figures: Sequence[str],
    directory: Path,
    paths: Sequence[Path | str],
    options: ReportOptions | tuple[str | None, str | None, str | None, str | None],
    summary_table: str | None = None,
) -> str:
    """report.md; ``summary_table`` is summary.md's table when the caller has it already."""
    if not isinstance(options, ReportOptions):  # (hue, col, row, query), as before
        options = ReportOptions(*options)
    hue, col, row, query = options.hue, options.col, options.row, options.query
    names = ", ".join(sweep.name for sweep in results.sweeps)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    ok = jobs[jobs["status"] == "ok"] if not jobs.empty else jobs
    problems = results.problems
    out: list[str] = [f"# Report: {names}", ""]
    out.append(f"Built {now} by `paxos-report` from {len(results.sweeps)} director"
               f"{'y' if len(results.sweeps) == 1 else 'ies'}. "
               f"Rebuild it with `{_rebuild_command(paths, directory, options)}`.")
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
        out.append(f"- `{sweep.path}`: {_job_directories(sweep)}")
        if manifest.get("command"):
            out.append(f"  - command: `{command_text(manifest['command'])}`")
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
                out.append(f"    - `{command_text(entry.get('command'))}` "
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
               f"`{hue}`, columns `{col}`" + (f", rows `{row}`" if row else "") + "; "
               f"{options.context} context, as {', '.join(options.formats)}.")
    out.append("")

    out += ["## Figures", ""]
    if not figures:
        out += ["No completed job: no figure.", ""]
    for name in figures:
        title = name.replace("_", " ").capitalize()
        shown, others = figure_link(name, options.formats)
        also = (" (Also " + ", ".join(f"[{other}]({other})" for other in others) + ".)"
                if others else "")
        out += [f"### {title}", "", f"![{title}]({shown})", "",
                f"{figure_caption(name)}{also}", ""]

    out += ["## Summary", ""]
    if summary.empty:
        out += ["No completed job.", ""]
    else:
        out += [summary_note(keys), "", summary_table or summary_markdown(summary, keys)]

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
            f"Largest |z|: {largest(summary['z'])} (decisions), "
            f"{largest(summary['round_z'])} (rounds)."
        )
        out += ["", *theory_sources(summary, keys, options.exact_budget)]
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
    names = [fmt.upper() for fmt in options.formats]
    formats = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
    trials = ("`trials.csv` (one row per trial), " if options.trials_table else "")
    out += ["## Files", "",
            (f"`jobs.csv` (one row per job), {trials}`summary.csv` (one row per configuration, "
             f"every column), `summary.md`, `problems.csv`, and each figure as {formats}."
             + ("" if options.trials_table else
                " One row per trial: each job directory's trials table, or rebuild with "
                "`--trials-table` for one trials.csv of them all.")), ""]
    return "\n".join(out)


def _rebuild_command(
    paths: Sequence[Path | str],
    directory: Path,
    options: ReportOptions,
) -> str:
    parts = ["paxos-report", *map(str, paths), "--out", str(directory)]
    for flag, value in (("--hue", options.hue), ("--col", options.col), ("--row", options.row),
                        ("--query", options.query)):
        if value:
            parts += [flag, value]
    if tuple(options.formats) != ("png", "svg"):
        parts += ["--format", ",".join(options.formats)]
    if options.context != "paper":
        parts += ["--context", options.context]
    if options.title is not None:
        parts.append("--title" if options.title else "--no-title")
    if options.dpi:
        parts += ["--dpi", f"{options.dpi:g}"]
    if options.trials_table:
        parts.append("--trials-table")
    if options.exact_budget != DEFAULT_SECONDS:
        parts += ["--exact-budget", "inf" if options.exact_budget is None
                  else f"{options.exact_budget:g}"]
    return shlex.join(parts)
