"""``paxos-check``: checks of PA3 runs. ``transcript`` checks transcripts (``rules`` lists
what it checks); ``exhaustive`` explores every fault pattern of a configuration
(:mod:`paxos_exp.explore`, imported only for it). Thin: argument parsing and printing around :mod:`paxos_exp.check.checker`."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Sequence

from paxos_exp.check.checker import (
    FAULTS,
    FileResult,
    Options,
    UsageError,
    check_file,
    check_lines,
)
from paxos_exp.check.output import as_json, problem_line, summary_line
from paxos_exp.check.problems import RULES

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
STDIN = "-"
# paxos-check exhaustive's default budget: CPU seconds for the whole search, and each
# exploration's memory growth at most half the memory available as it begins (the exit
# statuses are paxos_exp.explore.cli's: EXIT_SAFE 0, EXIT_COUNTEREXAMPLE 1, EXIT_USAGE 2,
# EXIT_TOO_LARGE 3, EXIT_INTERRUPTED 130).
DEFAULT_MAX_SECONDS = 120.0


def _count(label: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{label} must be a whole number, not {text!r}") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"{label} must be at least 1, not {value}")
        return value

    return parse


def _positive(label: str, unit: str):
    """A parser of ``label``'s value: a number more than 0 (of ``unit``), or inf."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{label} must be a number of {unit} (or inf), "
                                             f"not {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{label} must be more than 0, not {text}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paxos-check",
        description="Check runs of synchronous binary Paxos (CS403/534 PA3) against PROTOCOL.md.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    transcript = commands.add_parser(
        "transcript", help="check transcripts (paxos-classic's output, or any PA3 program's)",
        description=(
            "Check PA3 transcripts: rebuild every node's state from the lines and check the "
            "header, quorum arithmetic, the value rule, agreement, validity, round order and "
            "line counts. Prints one line per problem (FILE:LINE: RULE: explanation) and exits "
            "1 if there is any, 0 if none, 2 on bad arguments or an unreadable file. "
            "'paxos-check rules' lists the rules."
        ),
        epilog=("examples: paxos-check transcript run.txt;  "
                "paxos-classic 4 0.1 3 | paxos-check transcript"),
    )
    transcript.add_argument("files", nargs="*", metavar="FILE",
                            help="transcript files; '-' or none: standard input")
    transcript.add_argument("--json", action="store_true",
                            help="print the results as one JSON object (problems, runs, decisions)")
    transcript.add_argument("--nodes", type=_count("--nodes"), metavar="N",
                            help="N for a transcript without a header line (the header's wins)")
    transcript.add_argument("--join-quorum", type=_count("--join-quorum"), metavar="Q1",
                            help="joins needed to propose (default: a strict majority; "
                                 "for flexible quorums)")
    transcript.add_argument("--vote-quorum", type=_count("--vote-quorum"), metavar="Q2",
                            help="votes needed to decide (default: a strict majority)")
    transcript.add_argument("--faults", choices=FAULTS, default="omission",
                            help="what may have happened besides CRASH: omission (nothing, the "
                                 "default); silent (messages silenced and nodes down, as "
                                 "paxos-exp's crash_stop, crash_recovery, partition and "
                                 "link_loss do: fewer receipts, missing lines and rounds); "
                                 "amnesia (silent, and nodes that forget their votes)")
    exhaustive = commands.add_parser(
        "exhaustive", help="explore every fault pattern of a small configuration",
        description=(
            "Explore every fault pattern of a configuration through the real protocol steps "
            "and fault model: prove agreement and validity for all of them, or print a "
            "minimal counterexample (the fewest faults, then the smallest N and R) as a "
            "transcript and a message-sequence diagram, replayed through the engine. Prints "
            "the exact probabilities at fail_prob. A budget bounds the search: "
            f"--max-seconds (default {DEFAULT_MAX_SECONDS:g} CPU seconds), --max-memory "
            "(default half the memory available) and --max-states. "
            "Exit 0 safe, 1 counterexample, 2 usage, 3 too large for the budget, "
            "130 interrupted."),
        epilog=("examples: paxos-check exhaustive protocol=classic nodes=3 rounds=3;  "
                "paxos-check exhaustive protocol=own_value nodes=3 rounds=2 --json"),
    )
    exhaustive.add_argument("settings", nargs="*", metavar="KEY=VALUE",
                            help="protocol=NAME faults=NAME nodes=N rounds=R [fail_prob=P] "
                                 "[initial_values=0101] [protocol.KEY=V] [faults.KEY=V]")
    exhaustive.add_argument("--json", action="store_true", help="print one JSON object")
    exhaustive.add_argument("--exact", action="store_true",
                            help="exact fractions (fail_prob as its decimal) besides floats")
    exhaustive.add_argument("--jsonl", metavar="FILE", help="the counterexample, one event a line")
    exhaustive.add_argument("--shiviz", metavar="FILE", help="the counterexample for ShiViz")
    exhaustive.add_argument("--diagram", metavar="FILE",
                            help="the counterexample's message-sequence figure (png, svg, pdf)")
    exhaustive.add_argument("--replay-processes", action="store_true",
                            help="replay the counterexample on real processes too")
    exhaustive.add_argument("--max-states", type=_count("--max-states"), metavar="N",
                            help="stop (exit 3) after N configurations run through a step "
                                 "(default: no limit)")
    exhaustive.add_argument("--max-seconds", type=_positive("--max-seconds", "CPU seconds"),
                            metavar="S", default=DEFAULT_MAX_SECONDS,
                            help="stop (exit 3) after S CPU seconds (default "
                                 f"{DEFAULT_MAX_SECONDS:g}; inf: no limit)")
    exhaustive.add_argument("--max-memory", type=_positive("--max-memory", "MB"), metavar="MB",
                            help="stop (exit 3) when an exploration has grown the process's "
                                 "resident memory by MB (default: half the memory available "
                                 "to the process as it begins; inf: no limit)")
    exhaustive.error = _one_line_error  # type: ignore[method-assign]
    commands.add_parser("rules", help="list the rules the transcript check applies",
                        description="List the rules 'paxos-check transcript' reports, by name.")
    return parser


def _one_line_error(message: str) -> None:
    print(f"paxos-check exhaustive: error: {message}", file=sys.stderr)
    sys.exit(EXIT_USAGE)


def _exhaustive(args: argparse.Namespace) -> int:
    # The explorer runs the implementation (core): imported only for this subcommand, so
    # the transcript checker stays independent of the code it checks.
    from paxos_exp.explore.cli import run

    return run(args.settings, as_json=args.json, exact=args.exact, jsonl=args.jsonl,
               shiviz=args.shiviz, diagram=args.diagram,
               replay_processes=args.replay_processes, max_states=args.max_states,
               max_seconds=args.max_seconds, max_memory=args.max_memory)


def _stdin() -> io.TextIOWrapper:
    return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline=None)


def _check_transcripts(args: argparse.Namespace) -> int:
    options = Options(nodes=args.nodes, join_quorum=args.join_quorum, vote_quorum=args.vote_quorum,
                      faults=args.faults)
    names = args.files or [STDIN]
    results: list[FileResult] = []
    errors: list[tuple[str, str]] = []
    for name in names:
        try:
            if name == STDIN:
                result = check_lines(_stdin(), "<stdin>", options)
            else:
                result = check_file(name, options)
        except UsageError as error:  # an option that does not fit this file: the others go on
            errors.append((name, str(error)))
            print(f"paxos-check: error: {name}: {error}", file=sys.stderr)
            continue
        except OSError as error:
            reason = error.strerror or str(error)
            errors.append((name, reason))
            print(f"paxos-check: error: cannot read {name}: {reason}", file=sys.stderr)
            continue
        results.append(result)
        if not args.json:
            for problem in result.problems:
                print(problem_line(result.name, problem))
    if args.json:
        print(json.dumps(as_json(results, errors), indent=2))
    elif len(names) > 1 or results and not results[0].ok:
        print(summary_line(results), file=sys.stderr)
    if errors:
        return EXIT_USAGE
    return EXIT_OK if all(result.ok for result in results) else EXIT_PROBLEMS


def _list_rules() -> int:
    width = max(len(name) for name in RULES)
    for name, text in RULES.items():
        print(f"{name:<{width}}  {text}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        if args.command == "exhaustive":
            print(f"paxos-check exhaustive: error: unrecognized arguments: {' '.join(extra)}",
                  file=sys.stderr)
            return EXIT_USAGE
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        if args.command == "rules":
            return _list_rules()
        if args.command == "exhaustive":
            status = _exhaustive(args)
            from paxos_exp.explore.cli import ABANDONED  # loaded by _exhaustive

            if ABANDONED and argv is None:
                # Run as the command, interrupted: exit now rather than free a large
                # exploration object by object (seconds after a long one); the line is out.
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(status)
            ABANDONED.clear()
            return status
        return _check_transcripts(args)
    except BrokenPipeError:
        # The reader went away (`| head`): say nothing more, not even at the exit's flush.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_PROBLEMS


if __name__ == "__main__":
    sys.exit(main())
