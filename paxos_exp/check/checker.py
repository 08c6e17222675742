"""Checking a transcript: lines in, problems and what each run showed out.

The file is read line by line and each round is checked as soon as the next one begins, so
memory does not grow with the transcript. A file may hold several runs, each opening with its
header line.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from paxos_exp.check.problems import Problem, rounds_text
from paxos_exp.check.rounds import RoundBlock, RoundGrouper
from paxos_exp.check.rules import ROUND_RULES
from paxos_exp.check.state import Decision, NodeView, Params, RoundView, advance
from paxos_exp.check.transcript import Header, Unrecognised, parse_line

# More nodes than this is a wrong header, not a run (and would cost memory per node).
MAX_NODES = 100_000


class UsageError(ValueError):
    """Options that do not fit the transcript (a quorum size larger than N)."""


@dataclass(frozen=True)
class Options:
    """``nodes``: N for a transcript without a header; ``join_quorum``/``vote_quorum``: the
    quorum sizes of a flexible-quorum run (default: strict majorities); ``faults``: what may
    have happened besides CRASH (:data:`FAULTS`)."""

    nodes: int | None = None
    join_quorum: int | None = None
    vote_quorum: int | None = None
    faults: str = "omission"


# What ``--faults`` allows besides PROTOCOL.md's CRASH markers:
#   omission: nothing (every message arrives, as itself or as CRASH);
#   silent: messages silenced and nodes down (crash_stop, crash_recovery, partition,
#     link_loss): a leader may print fewer than N receipts, an acceptor nothing in a phase,
#     and a round whose leader is down has no line at all;
#   amnesia: silent, and a node may come back with its votes forgotten: a JOIN may report
#     -1 None, and a leader's own state may be reset.
FAULTS = ("omission", "silent", "amnesia")


@dataclass
class RunSummary:
    """What one run (a header and its rounds) showed."""

    line: int | None  # its header's line, None without a header
    nodes: int | None
    fail_prob: float | None
    rounds: int | None
    rounds_seen: int = 0
    initial_values: list[int | None] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)


@dataclass
class FileResult:
    """The problems of one file, in line order, and the runs it holds."""

    name: str
    lines: int = 0
    problems: list[Problem] = field(default_factory=list)
    runs: list[RunSummary] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class RunChecker:
    """One run: rounds grouped, each checked by every round rule, states advanced."""

    def __init__(self, summary: RunSummary, params: Params | None, problems: list[Problem]) -> None:
        self.summary, self.params, self.problems = summary, params, problems
        self.last_line = summary.line or 0
        self.states: list[NodeView] = []
        self.grouper: RoundGrouper | None = None
        self.first_decision: Decision | None = None
        if params is not None:
            self.states = [NodeView() for _ in range(params.nodes)]
            self.grouper = RoundGrouper(params.nodes, params.rounds, problems.append,
                                        gaps=params.silent)

    def feed(self, event) -> None:
        self.last_line = event.line
        if event.error is not None:
            self.problems.append(Problem(event.line, "syntax", event.error,
                                         getattr(event, "round", None)))
        if self.grouper is not None:
            self._check(self.grouper.feed(event))

    def unreadable(self, event: Unrecognised) -> None:
        self.last_line = event.line
        if self.grouper is not None:
            self.grouper.unreadable()

    def _check(self, block: RoundBlock | None) -> None:
        if block is None:
            return
        assert self.params is not None
        view = RoundView(block, self.params, self.states, self.first_decision)
        for rule in ROUND_RULES:
            self.problems.extend(rule(view))
        decided = advance(view)
        if decided is not None:
            self.summary.decisions.append(decided)
            if self.first_decision is None:
                self.first_decision = decided

    def finish(self) -> RunSummary:
        summary = self.summary
        if self.grouper is None or self.params is None:
            return summary
        for block in self.grouper.finish():
            self._check(block)
        summary.rounds_seen = self.grouper.rounds_seen
        summary.initial_values = [state.val for state in self.states]
        rounds, highest = self.params.rounds, self.grouper.highest
        if rounds is not None and highest < rounds - 1 and not self.params.silent:
            after = "before round 0" if highest < 0 else f"after round {highest}"
            missing = rounds_text(highest + 1, rounds - 1)
            self.problems.append(Problem(self.last_line, "round-order",
                                         f"the run ends {after}, but NUM_ROUNDS is {rounds}: "
                                         f"{missing} missing"))
        self._validity()
        return summary

    def _validity(self) -> None:
        values = self.summary.initial_values
        if not values or any(value is None for value in values):
            return  # a node that never led never printed its initial value
        for decided in self.summary.decisions:
            if decided.value not in values:
                inputs = "".join(str(value) for value in values)
                self.problems.append(Problem(
                    decided.line, "validity",
                    f"round {decided.round} decides {decided.value}, but no node starts with "
                    f"{decided.value} (initial values of nodes 0..{len(values) - 1}: {inputs})",
                    decided.round))


def _params(nodes: int, fail_prob: float | None, rounds: int | None, options: Options) -> Params:
    sizes = []
    for flag, size in (("--join-quorum", options.join_quorum), ("--vote-quorum", options.vote_quorum)):
        if size is not None and not 1 <= size <= nodes:
            raise UsageError(f"{flag} {size} does not fit a run of {nodes} nodes: give a size "
                             f"from 1 to {nodes}")
        sizes.append(nodes // 2 + 1 if size is None else size)
    if options.faults not in FAULTS:
        raise UsageError(f"--faults {options.faults}: choose one of {', '.join(FAULTS)}")
    return Params(nodes, fail_prob, rounds, sizes[0], sizes[1],
                  silent=options.faults != "omission", amnesia=options.faults == "amnesia")


def _open_run(header: Header, options: Options, problems: list[Problem]) -> RunChecker:
    summary = RunSummary(header.line, header.nodes, header.fail_prob, header.rounds)
    if header.error is not None:
        problems.append(Problem(header.line, "header", header.error))
    nodes = header.nodes
    if nodes is not None and nodes > MAX_NODES:
        problems.append(Problem(header.line, "header", f"NUM_NODES {nodes} is more than this "
                                f"checker handles ({MAX_NODES}); the run is not checked"))
        nodes = None
    if nodes is not None and options.nodes is not None and options.nodes != nodes:
        problems.append(Problem(header.line, "header", f"NUM_NODES is {nodes} but --nodes says "
                                f"{options.nodes}; checked with NUM_NODES {nodes}"))
    params = None if nodes is None else _params(nodes, header.fail_prob, header.rounds, options)
    return RunChecker(summary, params, problems)


def _headerless_run(line: int, options: Options, problems: list[Problem]) -> RunChecker:
    expected = "'NUM_NODES: N, CRASH PROB: p, NUM_ROUNDS: R'"
    if options.nodes is None:
        problems.append(Problem(line, "header", f"no header line {expected} before the first "
                                "round: add it, or pass --nodes N to check the lines anyway"))
        return RunChecker(RunSummary(None, None, None, None), None, problems)
    problems.append(Problem(line, "header", f"no header line {expected} before the first round "
                            f"(checked with --nodes {options.nodes})"))
    params = _params(options.nodes, None, None, options)
    return RunChecker(RunSummary(None, options.nodes, None, None), params, problems)


def check_lines(lines: Iterable[str], name: str = "<transcript>",
                options: Options = Options()) -> FileResult:
    """Check a transcript given as lines (with or without their line ends)."""
    result = FileResult(name)
    problems = result.problems
    before_first: list[Problem] = []  # syntax problems while no line looked like a transcript
    recognised = False
    run: RunChecker | None = None
    first_text = 0
    for number, text in enumerate(lines, 1):
        result.lines = number
        if "\x00" in text:
            if not recognised:
                result.problems[:] = [Problem(number, "not-a-transcript",
                                              "a binary file, not a PA3 transcript")]
                return result
            problems.append(Problem(number, "syntax", "a NUL byte: the line is not text"))
            continue
        event = parse_line(number, text)
        if event is None:
            continue
        first_text = first_text or number
        if isinstance(event, Unrecognised):
            (problems if recognised else before_first).append(Problem(number, "syntax", event.error))
            if run is not None:
                run.unreadable(event)
            continue
        if not recognised:
            recognised = True
            problems.extend(before_first)
            before_first.clear()
        if isinstance(event, Header):
            if run is not None:
                result.runs.append(run.finish())
            run = _open_run(event, options, problems)
            continue
        if run is None:
            run = _headerless_run(number, options, problems)
        run.feed(event)
    if not recognised:
        where = f"{result.lines} lines" if result.lines else "an empty file"
        problems[:] = [Problem(first_text, "not-a-transcript",
                               f"not a PA3 transcript: no line of it ({where}) is a transcript "
                               "line; a transcript starts 'NUM_NODES: 4, CRASH PROB: 0.1, "
                               "NUM_ROUNDS: 3'")]
        return result
    if run is not None:
        result.runs.append(run.finish())
    problems.sort(key=lambda problem: problem.line)
    return result


def check_text(text: str, name: str = "<transcript>", options: Options = Options()) -> FileResult:
    """Check a transcript given as one string."""
    return check_lines(io.StringIO(text, newline=None), name, options)


def check_file(path: str | Path, options: Options = Options()) -> FileResult:
    """Check a transcript file (UTF-8; undecodable bytes are replaced). Raises OSError when
    the file cannot be read."""
    with open(path, encoding="utf-8", errors="replace", newline=None) as file:
        return check_lines(file, str(path), options)
