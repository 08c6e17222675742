"""``paxos-report``: build a sweep's report, draw a trial's message diagram, export a study.

    paxos-report [build] [SWEEP_DIR ...] [--out DIR] [--hue KEY] [--col KEY] [--row KEY]
                 [--query EXPR] [--format png,pdf,svg] [--context paper|talk|poster] ...
    paxos-report diagram JOB_DIR [--trial K] [--rounds A:B] [--out FILE] [--format ...]
    paxos-report export SWEEP_DIR ... DEST [--format ...] [--context ...] ...

``build`` is the default command: ``paxos-report DIR`` is ``paxos-report build DIR``.
Exit status: 0 on success, 2 on bad input (a path that does not exist, an unknown key, a bad
query, format or round range); the message on stderr says what to change.
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from paxos_exp.analysis.discover import ReportError

PROG = "paxos-report"
COMMANDS = ("build", "diagram", "export")
DEFAULT_COMMAND = "build"
EPILOG = """\
"paxos-report [SWEEP_DIR ...]" is "paxos-report build [SWEEP_DIR ...]"; each command has its
own --help.

examples:
  paxos-report                                   # the latest sweep under ./outputs/sweeps
  paxos-report outputs/sweeps/decision_vs_failure
  paxos-report outputs/sweeps/decision_vs_failure --format png,pdf --context paper
  paxos-report outputs/sweeps/a outputs/sweeps/b --hue engine --out outputs/compare
  paxos-report 'outputs/sweeps/*' --query "nodes >= 5 and rounds == 3"
  paxos-report diagram outputs/runs/adhoc/<job key> --trial 0 --rounds 0:5
  paxos-report export outputs/sweeps/decision_vs_failure experiments/decision_vs_failure
"""
FIGURE_HELP = """\
figures: paper (the default) fits a LaTeX column (3.4 in, one panel) or text width (6.9 in,
several panels) with 8 pt text and no titles (report.md holds the captions); talk and poster
are larger, with titles. PDF keeps text as text (TrueType fonts) and SVG as <text> elements;
pgf needs LaTeX.
"""


def _figure_options(parser: argparse.ArgumentParser, *, context: bool = True) -> None:
    group = parser.add_argument_group("figures")
    group.add_argument("--format", dest="formats", default=None, metavar="LIST",
                       help="figure formats, comma-separated, from png, pdf, svg, pgf "
                            "(default: png,svg)")
    if context:
        group.add_argument("--context", choices=("paper", "talk", "poster"), default="paper",
                           help="figure size and text size (default: paper)")
        group.add_argument("--title", action=argparse.BooleanOptionalAction, default=None,
                           help="a title over each figure (default: off for paper, on for "
                                "talk and poster)")
    group.add_argument("--dpi", type=float, default=None, metavar="DPI",
                       help="PNG resolution (default: 200 for paper, 150 for talk and "
                            "poster; PDF, SVG and PGF are vector)")


def _axes_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hue", metavar="KEY", help="configuration column for the colour "
                        "(default: nodes)")
    parser.add_argument("--col", metavar="KEY", help="configuration column for the facet "
                        "columns (default: rounds)")
    parser.add_argument("--row", metavar="KEY", help="configuration column for the facet rows")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Turn paxos-exp sweep directories into tables, figures and report.md; "
                    "draw a trial's message diagram; export a study folder.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND")

    build = commands.add_parser(
        "build", help="tables, figures and report.md of one or more sweeps (the default)",
        description="Turn paxos-exp sweep directories into tables, figures and report.md.",
        epilog=FIGURE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    build.add_argument("paths", nargs="*", metavar="SWEEP_DIR",
                       help="sweep or job directories, or globs (default: the most recent "
                            "sweep under ./outputs/sweeps)")
    build.add_argument("--out", type=Path, metavar="DIR",
                       help="where to write (default: SWEEP_DIR/report)")
    _axes_options(build)
    build.add_argument("--query", metavar="EXPR", help='keep the jobs matching a pandas query '
                       'over the configuration columns, e.g. "nodes >= 5"')
    build.add_argument("--trials-table", action="store_true",
                       help="also write trials.csv, one row per trial of every job (big; "
                            "every job directory has its own trials table)")
    _exact_budget_option(build)
    _jobs_option(build)
    _figure_options(build)

    diagram = commands.add_parser(
        "diagram", help="message-sequence diagram of one trial of a job run with trace=true",
        description="Draw the message-sequence diagram of one trial of a job run with "
                    "trace=true (one lane per node, time running down).")
    diagram.add_argument("job_dir", type=Path, metavar="JOB_DIR",
                         help="a job directory holding the trace table")
    diagram.add_argument("--trial", type=int, default=None, metavar="K",
                         help="the trial to draw (default: the first)")
    diagram.add_argument("--rounds", default=None, metavar="A:B",
                         help="rounds A..B-1 (Python slice: '2:5', ':4', '3:', or one round "
                              "'3')")
    diagram.add_argument("--out", type=Path, default=None, metavar="FILE",
                         help="output file, .png/.svg/.pdf (default: JOB_DIR/diagram_trialK "
                              "in each --format)")
    _figure_options(diagram, context=False)

    export = commands.add_parser(
        "export", help="build the report and copy its figures and summary into a study folder",
        description="Build the report of one or more sweeps and copy its figures (in each "
                    "--format), summary.md, summary.csv and a README.md stub (kept if it "
                    "exists) into DEST.",
        epilog=FIGURE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    export.add_argument("sweep_dirs", type=Path, nargs="+", metavar="SWEEP_DIR",
                        help="one or more sweep directories, then DEST (for example "
                             "experiments/decision_vs_failure)")
    _axes_options(export)
    _exact_budget_option(export)
    _figure_options(export)
    _jobs_option(export)
    return parser


def _exact_budget_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exact-budget", type=_budget, default=None, metavar="SECONDS",
                        help="CPU seconds the exhaustive explorer may spend on one "
                             "configuration's exact values where there is no closed form "
                             "(default 2; 0: closed form only; inf: no limit); a configuration "
                             "beyond it is marked simulation only")


def _jobs_option(parser: argparse.ArgumentParser) -> None:
    # Accepted, no longer listed: figures were once drawn in worker processes, and scripts
    # may still pass it.
    parser.add_argument("--jobs", type=int, default=None, help=argparse.SUPPRESS)


def _note_jobs(args: argparse.Namespace) -> None:
    if args.jobs is not None:
        print(f"{PROG}: note: --jobs is no longer needed and is ignored: the figures are drawn "
              "one after another", file=sys.stderr)


def parse_rounds(text: str | None) -> tuple[int | None, int | None] | None:
    """``"A:B"`` -> ``(A, B)``, either side optional; ``"A"`` -> ``(A, A + 1)``."""
    if text is None:
        return None
    try:
        if ":" not in text:
            first = int(text)
            return first, first + 1
        head, _, tail = text.partition(":")
        first = int(head) if head.strip() else None
        stop = int(tail) if tail.strip() else None
    except ValueError:
        raise ReportError(f"--rounds {text!r}: expected A:B with integers (for example 0:5)") \
            from None
    if (first is not None and first < 0) or (first is not None and stop is not None
                                             and stop <= first):
        raise ReportError(f"--rounds {text!r}: expected 0 <= A < B")
    return first, stop


def _use_agg() -> None:
    """The command line draws into files: no window, whatever the environment's backend."""
    import matplotlib

    matplotlib.use("Agg")


def _freeze_imports() -> None:
    """Leave the objects the imports made (pandas, matplotlib, pyarrow: hundreds of thousands)
    out of the garbage collections until the command ends (:func:`main` unfreezes them): a
    report makes as many again, and each full collection would scan them all once more (about
    a twentieth of a report's time). What the report itself makes is collected as usual."""
    from paxos_exp.analysis import plots  # noqa: F401 - the figures' modules, imported now

    gc.freeze()


def _style(args: argparse.Namespace):  # -> FigureStyle
    from paxos_exp.analysis.report import parse_style

    return parse_style(getattr(args, "context", None), getattr(args, "title", None))


def _budget(text: str) -> float:
    """``--exact-budget``: a number of seconds >= 0, or inf."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not seconds >= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give CPU seconds, a number >= 0 (or inf)")
    return seconds


def _report(args: argparse.Namespace) -> int:
    _use_agg()
    _note_jobs(args)
    from paxos_exp.analysis.discover import latest_sweep
    from paxos_exp.analysis.report import build_report

    _freeze_imports()

    paths = list(args.paths) or [latest_sweep(Path("outputs") / "sweeps")]
    out = build_report(paths, out=args.out, hue=args.hue, col=args.col, row=args.row,
                       query=args.query, formats=args.formats, style=_style(args),
                       dpi=args.dpi, trials_table=args.trials_table,
                       **({} if args.exact_budget is None
                          else {"exact_budget": args.exact_budget}))
    _announce_problems(out)
    print(f"report: {out / 'report.md'}")
    return 0


def _announce_problems(out: Path) -> None:
    import pandas as pd

    try:
        problems = pd.read_csv(out / "problems.csv")
    except (OSError, ValueError):
        return
    if len(problems):
        counts = problems["kind"].value_counts()
        listed = ", ".join(f"{count} {kind}" for kind, count in counts.items())
        print(f"{PROG}: warning: {listed} (listed in {out / 'report.md'})", file=sys.stderr)


def _diagram(args: argparse.Namespace) -> int:
    _use_agg()
    import matplotlib as mpl

    from paxos_exp.analysis.diagram import select_trial, sequence_diagram
    from paxos_exp.analysis.files import save_figure_atomic
    from paxos_exp.analysis.job import Unreadable, read_config, read_rounds, read_table, read_trace
    from paxos_exp.analysis.report import parse_formats
    from paxos_exp.results import TRIAL_COLUMNS, TRIALS_FILE

    job_dir: Path = args.job_dir
    if not job_dir.is_dir():
        raise ReportError(f"{job_dir}: no such directory")
    formats = parse_formats(args.formats)
    if "pgf" in formats:
        raise ReportError("--format pgf: the diagram is drawn as png, pdf or svg")
    span = parse_rounds(args.rounds)
    trace = read_trace(job_dir)
    if trace.empty:
        raise ReportError(f"{job_dir}: its trace table holds no message")
    config = read_config(job_dir) or {}
    try:
        trial = select_trial(trace, args.trial)
    except ValueError as error:
        raise ReportError(f"--trial {args.trial}: {error}") from None
    initial_values = violation = None
    try:
        trials = read_table(job_dir, TRIALS_FILE, TRIAL_COLUMNS)
        match = trials[trials["trial"] == trial]
        if len(match):
            verdicts = match.iloc[0]
            initial_values = str(verdicts["initial_values"])
            broken = [name for name in ("agreement", "validity", "proposals")
                      if not bool(verdicts[f"{name}_ok"])]
            violation = ", ".join(broken) or None
    except Unreadable:
        pass
    nodes = config.get("nodes")
    title = f"Trial {trial} of {job_dir.name}"
    if nodes is not None:
        title += (f": N = {nodes}, p = {config.get('fail_prob')}, "
                  f"R = {config.get('rounds')}")
    try:
        figure = sequence_diagram(trace, nodes=nodes, trial=trial, rounds=span,
                                  outcomes=read_rounds(job_dir), initial_values=initial_values,
                                  title=title, violation=violation)
    except ValueError as error:
        raise ReportError(f"{job_dir}: {error}") from None
    if args.out is not None:
        if args.out.suffix.lower() not in (".png", ".svg", ".pdf"):
            raise ReportError(f"--out {args.out}: name a .png, .svg or .pdf file")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        targets = [args.out]
    else:
        stem = f"diagram_trial{trial}" + (f"_rounds{args.rounds.replace(':', '-')}"
                                          if args.rounds else "")
        targets = [job_dir / f"{stem}.{fmt}" for fmt in formats]
    # Text stays text: TrueType in PDF, <text> in SVG.
    with mpl.rc_context({"pdf.fonttype": 42, "svg.fonttype": "none",
                         "svg.hashsalt": "paxos-exp"}):
        for target in targets:
            save_figure_atomic(figure, target, dpi=args.dpi or 150, bbox_inches="tight")
            print(f"diagram: {target}")
    return 0


def _export(args: argparse.Namespace) -> int:
    _use_agg()
    _note_jobs(args)
    from paxos_exp.analysis.export import write_experiment_folder

    _freeze_imports()

    if len(args.sweep_dirs) < 2:
        raise ReportError("give a sweep directory and DEST (the experiment folder)")
    *sweeps, destination = args.sweep_dirs
    dest = write_experiment_folder(sweeps, destination, hue=args.hue, col=args.col, row=args.row,
                                   formats=args.formats, style=_style(args), dpi=args.dpi,
                                   exact_budget=args.exact_budget)
    _announce_problems(sweeps[0] / "report")
    print(f"experiment folder: {dest}")
    return 0


def with_default_command(arguments: Sequence[str]) -> list[str]:
    """``paxos-report DIR ...`` means ``paxos-report build DIR ...``; ``--help`` alone (or
    nothing but it) stays the top-level help that lists the commands."""
    arguments = list(arguments)
    if arguments and (arguments[0] in COMMANDS or arguments[0] in ("-h", "--help")):
        return arguments
    return [DEFAULT_COMMAND, *arguments]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``paxos-report``; returns the exit status."""
    arguments = with_default_command(sys.argv[1:] if argv is None else argv)
    handlers = {"build": _report, "diagram": _diagram, "export": _export}
    try:
        args = _parser().parse_args(arguments)
        return handlers[args.command](args)
    except ReportError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2)
        return exit_.code if isinstance(exit_.code, int) else 2
    finally:
        gc.unfreeze()  # a caller that goes on (a test, a notebook) collects them again


if __name__ == "__main__":
    sys.exit(main())
