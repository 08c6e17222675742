"""``paxos-report``: build a sweep's report, draw a trial's message diagram, export a study.

    paxos-report [SWEEP_DIR ...] [--out DIR] [--hue KEY] [--col KEY] [--row KEY] [--query EXPR]
    paxos-report diagram JOB_DIR [--trial K] [--rounds A:B] [--out FILE]
    paxos-report export SWEEP_DIR DEST

Exit status: 0 on success, 2 on bad input (a path that does not exist, an unknown key, a bad
query or round range); the message on stderr says what to change.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from paxos_exp.analysis.discover import ReportError

PROG = "paxos-report"
EPILOG = """\
other commands:
  paxos-report diagram JOB_DIR [--trial K] [--rounds A:B] [--out FILE]
      message-sequence diagram of one trial of a job run with trace=true
  paxos-report export SWEEP_DIR DEST
      build the report and copy its figures, summary and a README stub into DEST
      (for example experiments/decision_vs_failure)

examples:
  paxos-report                                   # the latest sweep under ./outputs/sweeps
  paxos-report outputs/sweeps/decision_vs_failure
  paxos-report outputs/sweeps/a outputs/sweeps/b --hue engine --out outputs/compare
  paxos-report 'outputs/sweeps/*' --query "nodes >= 5 and rounds == 3"
"""


def _report_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Turn paxos-exp sweep directories into tables, figures and report.md.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="*", metavar="SWEEP_DIR",
                        help="sweep or job directories, or globs (default: the most recent "
                             "sweep under ./outputs/sweeps)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="where to write (default: SWEEP_DIR/report)")
    parser.add_argument("--hue", metavar="KEY", help="configuration column for the colour "
                        "(default: nodes)")
    parser.add_argument("--col", metavar="KEY", help="configuration column for the facet "
                        "columns (default: rounds)")
    parser.add_argument("--row", metavar="KEY", help="configuration column for the facet rows")
    parser.add_argument("--query", metavar="EXPR", help='keep the jobs matching a pandas query '
                        'over the configuration columns, e.g. "nodes >= 5"')
    return parser


def _diagram_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} diagram",
        description="Draw the message-sequence diagram of one trial of a job run with "
                    "trace=true (one lane per node, time running down).",
    )
    parser.add_argument("job_dir", type=Path, metavar="JOB_DIR",
                        help="a job directory holding trace.csv")
    parser.add_argument("--trial", type=int, default=None, metavar="K",
                        help="the trial to draw (default: the first)")
    parser.add_argument("--rounds", default=None, metavar="A:B",
                        help="rounds A..B-1 (Python slice: '2:5', ':4', '3:', or one round '3')")
    parser.add_argument("--out", type=Path, default=None, metavar="FILE",
                        help="output file, .png/.svg/.pdf (default: JOB_DIR/diagram_trialK.png "
                             "and .svg)")
    return parser


def _export_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} export",
        description="Build the report of a sweep and copy its figures, summary.md, summary.csv "
                    "and a README.md stub (kept if it exists) into DEST.",
    )
    parser.add_argument("sweep_dirs", type=Path, nargs="+", metavar="SWEEP_DIR",
                        help="one or more sweep directories, then DEST")
    parser.add_argument("--hue", help="configuration column for colour (default nodes)")
    parser.add_argument("--col", help="configuration column for facet columns")
    parser.add_argument("--row", help="configuration column for facet rows")
    return parser


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
    import matplotlib

    matplotlib.use("Agg")


def _report(argv: Sequence[str]) -> int:
    args = _report_parser().parse_args(argv)
    _use_agg()
    from paxos_exp.analysis.discover import latest_sweep
    from paxos_exp.analysis.report import build_report

    paths = list(args.paths) or [latest_sweep(Path("outputs") / "sweeps")]
    out = build_report(paths, out=args.out, hue=args.hue, col=args.col, row=args.row,
                       query=args.query)
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


def _diagram(argv: Sequence[str]) -> int:
    args = _diagram_parser().parse_args(argv)
    _use_agg()
    from paxos_exp.analysis.diagram import select_trial, sequence_diagram
    from paxos_exp.analysis.files import save_figure_atomic
    from paxos_exp.analysis.job import Unreadable, read_config, read_rounds, read_table, read_trace
    from paxos_exp.results import TRIAL_COLUMNS, TRIALS_FILE

    job_dir: Path = args.job_dir
    if not job_dir.is_dir():
        raise ReportError(f"{job_dir}: no such directory")
    span = parse_rounds(args.rounds)
    trace = read_trace(job_dir)
    if trace.empty:
        raise ReportError(f"{job_dir}: trace.csv holds no message")
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
        targets = [job_dir / f"{stem}.png", job_dir / f"{stem}.svg"]
    for target in targets:
        save_figure_atomic(figure, target, dpi=150, bbox_inches="tight")
        print(f"diagram: {target}")
    return 0


def _export(argv: Sequence[str]) -> int:
    args = _export_parser().parse_args(argv)
    _use_agg()
    from paxos_exp.analysis.export import write_experiment_folder

    if len(args.sweep_dirs) < 2:
        raise ReportError("give a sweep directory and DEST (the experiment folder)")
    *sweeps, destination = args.sweep_dirs
    dest = write_experiment_folder(sweeps, destination, hue=args.hue, col=args.col, row=args.row)
    _announce_problems(sweeps[0] / "report")
    print(f"experiment folder: {dest}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``paxos-report``; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    commands = {"diagram": _diagram, "export": _export}
    try:
        if arguments and arguments[0] in commands:
            return commands[arguments[0]](arguments[1:])
        return _report(arguments)
    except ReportError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2)
        return exit_.code if isinstance(exit_.code, int) else 2


if __name__ == "__main__":
    sys.exit(main())
