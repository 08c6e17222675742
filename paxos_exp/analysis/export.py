"""``paxos-report export``: what a study folder under ``experiments/`` commits (figures,
summary tables, a README stub with the commands that reproduce it)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from paxos_exp.analysis import aggregate, intensity
from paxos_exp.analysis.files import copy_atomic, write_text_atomic
from paxos_exp.analysis.style import FigureStyle, as_style
from paxos_exp.analysis.load import load
from paxos_exp.analysis.report import FIGURES, build_report, parse_formats
from paxos_exp.analysis.report_text import FIGURE_CAPTIONS, command_text, figure_link


def write_experiment_folder(
    sweep_dirs: Path | str | Sequence[Path | str],
    dest: Path | str,
    hue: str | None = None,
    col: str | None = None,
    row: str | None = None,
    *,
    formats: str | Sequence[str] | None = None,
    style: FigureStyle | str | None = None,
    dpi: float | None = None,
    exact_budget: float | None = None,
) -> Path:
    """Build the report of ``sweep_dirs`` (one or several sweeps, written into the first one's
    ``report/``) and copy what a study folder commits into ``dest``: every figure drawn (in each
    of ``formats``, default PNG and SVG; ``style`` and ``dpi`` as for
    :func:`~paxos_exp.analysis.report.build_report`), summary.md, summary.csv, and a README.md
    stub with the commands that reproduce it. An existing README.md is kept (it holds the
    written reading). ``exact_budget``: as for the report (None: its default)."""
    if isinstance(sweep_dirs, (str, Path)):
        sweep_dirs = [sweep_dirs]
    formats = parse_formats(formats)
    style = as_style(style)
    sweeps = [Path(path) for path in sweep_dirs]
    sweep_dir, dest = sweeps[0], Path(dest)
    report = build_report(sweeps, out=sweep_dir / "report", hue=hue, col=col, row=row,
                          formats=formats, style=style, dpi=dpi,
                          **({} if exact_budget is None else {"exact_budget": exact_budget}))
    dest.mkdir(parents=True, exist_ok=True)
    for name in (*FIGURES, "violation_rate"):  # violation_rate: drawn when there are some
        for fmt in formats:
            # NAME_by_COLUMN: the figure along a further fault intensity (analysis.intensity)
            for source in [report / f"{name}.{fmt}",
                           *sorted(report.glob(f"{name}{intensity.ALONG}*.{fmt}"))]:
                if source.exists():
                    copy_atomic(source, dest / source.name)
            # A figure an earlier export drew and this one did not (report.md says why) must
            # not stay beside the new ones as if it were of these results. Only the report's
            # own names: NAME, or NAME_by_X for a fault intensity X (a user's
            # decision_rate_by_hand.png stays).
            for old in [dest / f"{name}.{fmt}", *dest.glob(f"{name}{intensity.ALONG}*.{fmt}")]:
                along = intensity.figure_kind(old.stem)[1]
                if old.exists() and not (report / old.name).exists() and (
                        along is None or intensity.is_intensity(along)):
                    old.unlink()
                    print(f"paxos-report export: removed {old} (not drawn this time)",
                          file=sys.stderr)
    for name in ("summary.md", "summary.csv"):
        copy_atomic(report / name, dest / name)
    readme = dest / "README.md"
    if not readme.exists():
        write_text_atomic(readme, _readme_stub(sweep_dir, dest, report, formats, style))
    return dest


def _export_options(formats: Sequence[str], style: FigureStyle) -> str:
    """The export command's figure options, as typed (none for the defaults)."""
    parts = []
    if tuple(formats) != ("png", "svg"):
        parts.append(f"--format {','.join(formats)}")
    if style.context != "paper":
        parts.append(f"--context {style.context}")
    if style.title is not None:
        parts.append("--title" if style.title else "--no-title")
    return "".join(f" {part}" for part in parts)


def _readme_stub(sweep_dir: Path, dest: Path, report: Path,
                 formats: Sequence[str] = ("png", "svg"),
                 style: FigureStyle | None = None) -> str:
    style = style or FigureStyle()
    results = load([sweep_dir], trials=False)
    sweep = results.sweeps[0]
    manifest = sweep.manifest or {}
    name = sweep.name
    command = command_text(manifest.get("command")) or f"paxos-exp experiment={name}"
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
        ("![Decision rate within the round limit against crash probability]"
         f"({figure_link('decision_rate', formats)[0]})"),
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
        (f"paxos-report export outputs/sweeps/{sweep_dir.name} {where}"
         f"{_export_options(formats, style)}   # this folder"),
        "```",
        "",
        ("Parallel: add `hydra/launcher=paxos_joblib` to the first command. Every job is "
         "reproducible from its seed: the same commands give the same numbers."),
        "",
        "## Files",
        "",
    ]
    suffixes = " / ".join(f"`.{fmt}`" for fmt in formats[1:])
    for figure in FIGURES:
        if not (report / f"{figure}.{formats[0]}").exists():
            continue  # not drawn (report.md says why)
        files = f"`{figure}.{formats[0]}`" + (f" / {suffixes}" if suffixes else "")
        lines.append(f"- {files}: {FIGURE_CAPTIONS[figure]}")
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
