"""Transcripts for the checker's tests: written by the in-process engine (the same driver and
lines as paxos-classic), and re-interleaved the way the real runtime may print them."""

from __future__ import annotations

import random
import re

import paxos_exp
from paxos_exp.core import transcript

_ROUND = re.compile(r"ROUND (\d+) STARTED")
_ACCEPTOR = re.compile(r"ACCEPTOR (\d+) ")


def inprocess_transcript(nodes: int, fail_prob: float, rounds: int, seed: int,
                         protocol: object = "classic", trace: bool = False):
    """(lines with the header, the run's records) of one trial, as paxos-classic prints it."""
    lines = [transcript.header(nodes, fail_prob, rounds)]
    result = paxos_exp.run(nodes, fail_prob, rounds, seed=seed, engine="inprocess",
                           transcript=True, emit=lines.append, protocol=protocol, trace=trace)
    return lines, result


def split_rounds(lines: list[str]) -> list[list[str]]:
    """The lines of each round (the in-process engine opens every round with its ROUND line)."""
    rounds: list[list[str]] = []
    for line in lines[1:]:
        if _ROUND.match(line):
            rounds.append([])
        rounds[-1].append(line)
    return rounds


def interleave(lines: list[str], nodes: int, rng: random.Random,
               round_line_first: bool = False) -> list[str]:
    """Another order the protocol allows: every round's lines stay together (the barrier) and
    each node's lines keep their order, but nodes' lines mix at random (the leader's ROUND line
    included: nothing orders an acceptor's print after it)."""
    out = [lines[0]]
    for round_lines in split_rounds(lines):
        # The round's own number (a round whose leader was down has no line at all).
        number = int(round_lines[0].split()[1])
        by_node: dict[int, list[str]] = {}
        for line in round_lines:
            acceptor = _ACCEPTOR.match(line)
            node = int(acceptor.group(1)) if acceptor else number % nodes
            by_node.setdefault(node, []).append(line)
        if round_line_first:  # the ROUND line first, the rest mixed (paxos-exp's engines)
            out.append(by_node[number % nodes].pop(0))
            by_node = {node: queue for node, queue in by_node.items() if queue}
        queues = [list(reversed(queue)) for queue in by_node.values()]
        while queues:
            queue = rng.choice(queues)
            out.append(queue.pop())
            if not queue:
                queues.remove(queue)
    return out


def problems_of(result) -> list[tuple[str, int]]:
    return [(problem.rule, problem.line) for problem in result.problems]


def inprocess_trials(nodes: int, fail_prob: float, rounds: int, trials: int, seed: int,
                     protocol: object = "classic"):
    """(lines with the header, TrialRecord) of every trial of one in-process run: one run
    of many trials costs far less than many runs (each trial is a whole protocol run)."""
    from paxos_exp.core.config import RunConfig, RuntimeOptions
    from paxos_exp.runtime.api import run_config

    header = transcript.header(nodes, fail_prob, rounds)
    cuts: list[int] = []
    lines: list[str] = []
    config = RunConfig(nodes=nodes, fail_prob=fail_prob, rounds=rounds, trials=trials, seed=seed,
                       protocol=protocol)
    result = run_config(config, RuntimeOptions(engine="inprocess", transcript=True), lines.append,
                        lambda done, _total: cuts.append(len(lines)))
    starts = [0, *cuts[:-1]]
    return [([header, *lines[start:end]], trial)
            for start, end, trial in zip(starts, cuts, result.trials)]
