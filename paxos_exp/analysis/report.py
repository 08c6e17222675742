"""``build_report``: from sweep directories to tables, figures and a report.md.

Writes into the output directory (default ``SWEEP_DIR/report/``):
``jobs.csv``, ``problems.csv``, ``summary.csv``, ``summary.md``, every figure in each format
asked for (PNG and SVG by default; PDF, and PGF with LaTeX installed), ``report.md`` (what was
run, the figures with their captions, the table, every measurement outside its 99% interval
around theory, every job missing, failed or unreadable), and ``trials.csv`` (one row per trial)
only when asked for. Every file is written to a temporary name and renamed into place
(:mod:`paxos_exp.analysis.files`).
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.layout_engine import PlaceHolderLayoutEngine

from paxos_exp.analysis import aggregate, intensity, theory
from paxos_exp.analysis.discover import ReportError, Sweep
from paxos_exp.analysis.draw import draw_figures
from paxos_exp.analysis.files import save_figure_atomic, write_text_atomic
from paxos_exp.analysis.style import CONTEXTS, FigureStyle, as_style
from paxos_exp.analysis.load import Results, load
from paxos_exp.analysis.report_text import (
    ReportOptions,
    report_markdown,
    summary_markdown,
    summary_note,
)

FIGURES = (
    "decision_rate",
    "round_decision_rate",
    "first_decision_round",
    "decision_heatmap",
    "messages_per_decision",
)
DEFAULT_HUE, DEFAULT_COL = "nodes", "rounds"
X_AXIS = "fail_prob"
# Figure formats: raster for a browser, vector with real text for LaTeX (PDF: TrueType fonts,
# SVG: <text> elements), PGF for LaTeX documents that typeset the figure's text themselves.
FIGURE_FORMATS = ("png", "pdf", "svg", "pgf")
DEFAULT_FORMATS = ("png", "svg")


def parse_formats(formats: str | Iterable[str] | None) -> tuple[str, ...]:
    """``"png,pdf"`` (or a list) -> ``("png", "pdf")``; ReportError names a bad one."""
    if formats is None:
        return DEFAULT_FORMATS
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    chosen = tuple(dict.fromkeys(item.strip().lower().lstrip(".") for item in items
                                 if item.strip()))
    if not chosen:
        raise ReportError(f"--format {formats!r}: name at least one of "
                          f"{', '.join(FIGURE_FORMATS)}")
    unknown = [item for item in chosen if item not in FIGURE_FORMATS]
    if unknown:
        raise ReportError(f"--format {','.join(unknown)}: not a figure format; choose from "
                          f"{', '.join(FIGURE_FORMATS)} (comma-separated, e.g. png,pdf)")
    if "pgf" in chosen:
        import matplotlib as mpl

        tex = mpl.rcParams["pgf.texsystem"]
        if shutil.which(tex) is None:
            raise ReportError(f"--format pgf needs LaTeX ({tex}) on the PATH to measure the "
                              "text: install it (Debian: apt-get install texlive-xetex) or "
                              "leave pgf out (pdf keeps the text as text too)")
    return chosen


def parse_style(context: str | None, title: bool | None) -> FigureStyle:
    """The figure style of ``--context`` and ``--title``/``--no-title``."""
    context = context or "paper"
    if context not in CONTEXTS:
        raise ReportError(f"--context {context}: choose from {', '.join(CONTEXTS)}")
    return FigureStyle(context=context, title=title)


# ----------------------------------------------------------------------------- choices


def choose_axes(
    config_columns: Sequence[str], hue: str | None, col: str | None, row: str | None
) -> tuple[str | None, str | None, str | None]:
    """Check the asked keys and fill in defaults (hue nodes, columns rounds). A key on the x
    axis (fail_prob in a sweep of it) is refused once the jobs tell which that is."""
    available = ", ".join(c for c in config_columns if c != X_AXIS)
    for role, key in (("hue", hue), ("col", col), ("row", row)):
        if key is None:
            continue
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


def has_violations(summary: pd.DataFrame) -> bool:
    return "violations" in summary.columns and \
        pd.to_numeric(summary["violations"], errors="coerce").fillna(0).sum() > 0


def make_figures(
    summary: pd.DataFrame,
    distribution: pd.DataFrame,
    hue: str | None,
    col: str | None,
    row: str | None,
    style: FigureStyle | str | None = None,
    x_axes: Sequence[str] | None = None,
) -> dict[str, Callable[[], Any]]:
    """Figure builders by file name (called one at a time so each can be freed after saving).

    Each figure is drawn along every x axis of ``x_axes`` (default
    :func:`intensity.x_columns` of the summary; the report takes them from the jobs: the
    fault intensity the sweep varies, one axis for one model's sweep): the first keeps the
    figure's name, the others are ``NAME_by_COLUMN`` (``decision_rate_by_crash_prob``)."""
    from paxos_exp.analysis import plots

    style = as_style(style)
    heat_y = hue if hue is not None else "nodes"
    first_row = hue if row is None else row
    figures: dict[str, Callable[[], Any]] = {}
    for number, x in enumerate(x_axes or intensity.x_columns(summary)):
        along: dict[str, Callable[[], Any]] = {}
        facets = {"hue": hue, "col": col, "row": row, "x": x, "style": style}
        if has_violations(intensity.rows_for(summary, x)):
            along["violation_rate"] = functools.partial(
                plots.violation_rate_figure, summary, **facets)
        along |= {
            "decision_rate": functools.partial(plots.decision_rate_figure, summary, **facets),
            "round_decision_rate": functools.partial(
                plots.round_decision_rate_figure, summary, **facets),
            "first_decision_round": functools.partial(
                plots.first_decision_round_figure, distribution, row=first_row, col=col, x=x,
                style=style),
            "decision_heatmap": functools.partial(
                plots.decision_heatmap_figure, summary, y=heat_y, col=col, row=row, x=x,
                style=style),
            "messages_per_decision": functools.partial(
                plots.messages_per_decision_figure, summary, **facets),
        }
        figures |= {intensity.figure_name(kind, x, main=number == 0): build
                    for kind, build in along.items()}
    # One kind of figure after another, each along its x axes in turn.
    kinds = ("violation_rate", *FIGURES)
    return dict(sorted(figures.items(),
                       key=lambda item: kinds.index(intensity.figure_kind(item[0])[0])))


def with_configuration(frame: pd.DataFrame, jobs: pd.DataFrame,
                       config_columns: Sequence[str]) -> pd.DataFrame:
    """``frame`` (one row per configuration) with the configuration columns it leaves out
    because every job has the same value (the fault model, its settings, the protocol...), so
    a figure's exact curves along any x rebuild each row's configuration whole. Pooled
    replicate keys and deadlines stay out."""
    if jobs.empty or frame.empty:
        return frame
    left_out = {column: jobs[column].iloc[0] for column in config_columns
                if column in jobs.columns and column not in frame.columns
                and column not in aggregate.REPLICATE_KEYS
                and column not in aggregate.NEVER_GROUPED
                and jobs[column].astype(str).nunique(dropna=False) == 1}
    if not left_out:
        return frame
    out = frame.assign(**left_out)
    out.attrs = dict(frame.attrs)
    return out


# No dates, no producer versions, fixed SVG ids: rebuilding a report from the same data gives
# the same files, so committed figures only change when the results do.
_METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "Creator": None, "Producer": None},
}


def save_figure(
    figure: Any,
    directory: Path,
    name: str,
    formats: Sequence[str] = DEFAULT_FORMATS,
    style: FigureStyle | str | None = None,
    dpi: float | None = None,
) -> list[Path]:
    """``name.<format>`` for each format, at the figure's own size (never cropped or grown, so
    a paper figure keeps its column width and its 8 pt text). PDF keeps text as TrueType text
    and SVG as ``<text>``: both searchable and editable. Returns the files written."""
    style = as_style(style)
    written = []
    with style.applied():
        # Laid out once, here: with its layout engine on, every save would lay the figure out
        # twice (a measuring pass, then again while drawing), and each format again.
        engine = figure.get_layout_engine()
        if engine is not None and not isinstance(engine, PlaceHolderLayoutEngine):
            engine.execute(figure)
            figure.set_layout_engine(None)
        for fmt in formats:
            path = directory / f"{name}.{fmt}"
            options: dict[str, Any] = {}
            if fmt in _METADATA:
                options["metadata"] = _METADATA[fmt]
            if fmt == "png":
                options["dpi"] = dpi or style.sizes.dpi
            save_figure_atomic(figure, path, **options)
            written.append(path)
    return written


# ----------------------------------------------------------------------------- the report


def build_report(
    paths: Sequence[Path | str],
    out: Path | str | None = None,
    hue: str | None = None,
    col: str | None = None,
    row: str | None = None,
    query: str | None = None,
    *,
    formats: str | Sequence[str] | None = None,
    style: FigureStyle | str | None = None,
    dpi: float | None = None,
    trials_table: bool = False,
    exact_budget: float | None = theory.DEFAULT_SECONDS,
) -> Path:
    """Read ``paths`` (sweep directories, job directories, globs) and write the report.

    ``formats`` are the figure formats (default PNG and SVG), ``style`` the figure style or
    context (default paper: LaTeX column and text widths, 8 pt text, no titles), ``dpi`` the PNG
    resolution (default the context's), ``trials_table`` also writes trials.csv (one row per
    trial of every job: big, and every job directory has its own table already).
    ``exact_budget``: CPU seconds the exhaustive explorer may spend on one configuration's
    exact values where there is no closed form (0: closed form only,
    None: no limit); they are kept beside the report (:data:`theory.CACHE_FILE`).

    Returns the report directory (it holds report.md). Raises ReportError on bad input (a
    path that does not exist or holds no results, an unknown key, a bad query or format); a
    missing, failed or unreadable job never stops the report: it is listed in report.md.
    """
    with theory.session(theory.TheoryBudget.per_configuration(exact_budget)):
        return _build_report(paths, out, hue, col, row, query, formats=formats, style=style,
                             dpi=dpi, trials_table=trials_table, exact_budget=exact_budget)


def _build_report(
    paths: Sequence[Path | str],
    out: Path | str | None,
    hue: str | None,
    col: str | None,
    row: str | None,
    query: str | None,
    *,
    formats: str | Sequence[str] | None,
    style: FigureStyle | str | None,
    dpi: float | None,
    trials_table: bool,
    exact_budget: float | None,
) -> Path:
    if isinstance(paths, (str, Path)):
        paths = [paths]
    formats = parse_formats(formats)
    style = as_style(style)
    results = load(paths, trials=True)
    hue, col, row = choose_axes(results.config_columns, hue, col, row)
    jobs, trials = apply_query(results, query)
    ok = jobs[jobs["status"] == "ok"] if not jobs.empty else jobs
    # The figures' x axes: the fault intensities the jobs vary (fail_prob for the assignment's
    # model), each a grouping key even where it does not vary (one crash_stop setting).
    x_axes = intensity.x_columns(ok)
    on_x = [key for key in (hue, col, row) if key in x_axes]
    if on_x:
        raise ReportError(f"--hue/--col/--row {on_x[0]}: it is the x axis of the figures (the "
                          "fault intensity the sweep varies); choose another key")
    keys = aggregate.group_keys(ok, results.config_columns, extra=[hue, col, row, *x_axes]) \
        if not ok.empty else list(aggregate.CORE_KEYS)
    directory = Path(out) if out is not None else default_out(results.sweeps)
    directory.mkdir(parents=True, exist_ok=True)
    theory.cache_beside(directory)
    summary = aggregate.summarize(ok, keys=keys)
    summary.attrs["group_keys"] = keys
    distribution = aggregate.first_round_distribution(trials, keys)
    distribution.attrs["group_keys"] = keys
    tables = [("jobs.csv", jobs), ("problems.csv", results.problems),
              ("summary.csv", summary)]
    if trials_table:
        tables.append(("trials.csv", trials))
    for name, table in tables:
        write_table(directory / name, table)
    table = summary_markdown(summary, keys) if not summary.empty else None
    write_text_atomic(
        directory / "summary.md",
        "# Summary: one row per configuration\n\n" + summary_note(keys) + "\n\n"
        + (table or "No completed job.\n"),
    )
    figures: list[str] = []
    skipped: dict[str, str] = {}
    if not summary.empty:
        builders = make_figures(with_configuration(summary, ok, results.config_columns),
                                with_configuration(distribution, ok, results.config_columns),
                                hue, col, row, style, x_axes)
        if distribution.empty:
            for name in [name for name in builders if intensity.figure_kind(name)[0] ==
                         "first_decision_round"]:
                del builders[name]
                skipped[name] = "no readable trials table among the completed jobs"
        outcome = draw_figures(builders, directory, formats, style, dpi, save_figure)
        figures = [name for name, why in outcome.items() if why is None]
        skipped |= {name: why for name, why in outcome.items() if why is not None}
    # A figure not drawn this time must not keep an earlier build's file beside the new ones
    # (export would copy it, and report.md would not explain it).
    for name in {*FIGURES, "violation_rate"} - set(figures):
        for fmt in formats:
            (directory / f"{name}.{fmt}").unlink(missing_ok=True)
    for kind in {*FIGURES, "violation_rate"}:
        for fmt in formats:
            for path in directory.glob(f"{kind}{intensity.ALONG}*.{fmt}"):
                if path.stem not in figures:
                    path.unlink(missing_ok=True)
    for name, why in skipped.items():
        print(f"paxos-report: warning: figure {name} not drawn: {why}", file=sys.stderr)
    for note in results.notes:
        print(f"paxos-report: note: {note}", file=sys.stderr)
    options = ReportOptions(hue=hue, col=col, row=row, query=query, formats=formats,
                            context=style.context, title=style.title, dpi=dpi,
                            trials_table=trials_table, exact_budget=exact_budget)
    text = report_markdown(results, jobs, summary, keys, figures, directory, paths, options,
                           summary_table=table)
    if skipped:
        text += "\n## Figures not drawn\n\n" + "".join(
            f"- `{name}`: {why}\n" for name, why in skipped.items())
    write_text_atomic(directory / "report.md", text)
    return directory


def write_table(path: Path, frame: pd.DataFrame) -> None:
    """``frame`` as CSV (no index), renamed into place once complete."""
    write_text_atomic(path, frame.to_csv(index=False, lineterminator="\n"))
