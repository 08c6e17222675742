"""Every transcript a protocol that claims safety writes passes the checker: the in-process
engine over many seeds, N, p and R (re-interleaved the ways the real runtime may print them),
and paxos-classic itself on real processes, piped into paxos-check."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from collections import Counter

import pytest
from check_helpers import inprocess_transcript, interleave, problems_of, split_rounds

from paxos_exp.check import Options, check_lines, check_text
from paxos_exp.core.config import RunConfig
from paxos_exp.core.protocols import PROTOCOLS

NODES = (1, 2, 3, 4, 5, 7)
FAIL_PROBS = (0.0, 0.1, 0.3, 0.5, 1.0)
ROUNDS = (0, 1, 3, 9)
SEEDS = range(8)
REPORTED_VOTE = re.compile(r"LEADER OF \d+ RECEIVED IN JOIN PHASE: JOIN \d+ [01]")
OWN_START = re.compile(r"LEADER OF \d+ RECEIVED IN JOIN PHASE: START")


def _safe_cases() -> list[tuple[str, object, Options]]:
    """(id, protocol, checker options) for every registered protocol that claims safety with
    its defaults, and flexible quorums that claim it with sizes of their own."""
    cases = []
    for protocol in PROTOCOLS:
        if all(RunConfig(nodes, 0.1, 1, protocol=protocol.name).claims_safety for nodes in NODES):
            cases.append((protocol.name, protocol.name, Options()))
    for join, vote in ((2, 4), (4, 2), (1, 5), (5, 1), (3, 3)):
        spec = {"name": "flexible", "join_quorum": join, "vote_quorum": vote}
        assert RunConfig(5, 0.1, 1, protocol=spec).claims_safety
        cases.append((f"flexible-{join}-{vote}", spec, Options(join_quorum=join, vote_quorum=vote)))
    return cases


SAFE = _safe_cases()


def test_the_safe_cases_cover_every_protocol_that_claims_safety():
    names = {case[0] for case in SAFE}
    assert {"classic", "flexible"} <= names
    for protocol in PROTOCOLS:
        if RunConfig(5, 0.1, 1, protocol=protocol.name).claims_safety:
            assert protocol.name in names


@pytest.mark.parametrize("name, protocol, options", SAFE, ids=[case[0] for case in SAFE])
def test_every_inprocess_transcript_of_a_safe_protocol_passes_in_any_allowed_order(name, protocol, options):
    rng = random.Random(name)
    seen: Counter = Counter()
    nodes_list = (5,) if name.startswith("flexible-") else NODES
    for nodes in nodes_list:
        for fail_prob in FAIL_PROBS:
            for rounds in ROUNDS:
                for seed in SEEDS:
                    lines, _ = inprocess_transcript(nodes, fail_prob, rounds, seed, protocol)
                    for order in (lines, interleave(lines, nodes, rng)):
                        result = check_lines(order, "t.txt", options)
                        assert problems_of(result) == [], (
                            f"N={nodes} p={fail_prob} R={rounds} seed={seed}:\n"
                            + "\n".join(p.message for p in result.problems))
                    for round_lines in split_rounds(lines):
                        text = "\n".join(round_lines)
                        seen["a reported vote"] += bool(REPORTED_VOTE.search(text))
                        seen["a change of round"] += "CHANGED ROUND" in text
                        seen["a decision"] += "DECIDED" in text
                        seen["a lost own START"] += not OWN_START.search(text)
    # The sample exercised the rules it passes: votes reported, both outcomes, crashes.
    assert min(seen.values()) > 0 and len(seen) == 4, seen


def _classic(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "paxos_exp.classic", *args],
                          capture_output=True, text=True, timeout=120)


REAL_RUNS = [
    ("3", "0.3", "12", "--seed", "3"),
    ("5", "0.4", "10", "--seed", "8"),
    ("5", "0.3", "8", "--seed", "2", "--protocol", "flexible", "--setting", "join_quorum=2",
     "--setting", "vote_quorum=4"),
]
MORE_REAL_RUNS = [
    ("1", "0.3", "4", "--seed", "1"),
    ("2", "0.2", "6", "--seed", "4"),
    ("4", "0", "3", "--seed", "5"),
    ("4", "1", "3", "--seed", "5"),
    ("7", "0.25", "9", "--seed", "6"),
    ("4", "0.2", "8", "--seed", "9", "--start-method", "spawn"),
]


def _quorum_options(args: tuple[str, ...]) -> list[str]:
    options = []
    for key, flag in (("join_quorum=", "--join-quorum"), ("vote_quorum=", "--vote-quorum")):
        options += [f"{flag}={arg.split('=')[1]}" for arg in args if arg.startswith(key)]
    return options


@pytest.mark.parametrize("args", REAL_RUNS, ids=" ".join)
def test_paxos_classic_on_real_processes_piped_into_paxos_check_passes(args):
    classic = subprocess.Popen([sys.executable, "-m", "paxos_exp.classic", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        check = subprocess.run(
            [sys.executable, "-m", "paxos_exp.check", "transcript", *_quorum_options(args)],
            stdin=classic.stdout, capture_output=True, text=True, timeout=120)
    finally:
        classic.stdout.close()  # type: ignore[union-attr]
        assert classic.wait(timeout=120) == 0, classic.stderr.read()  # type: ignore[union-attr]
        classic.stderr.close()  # type: ignore[union-attr]
    assert (check.returncode, check.stdout, check.stderr) == (0, "", "")


@pytest.mark.slow
@pytest.mark.parametrize("args", MORE_REAL_RUNS, ids=" ".join)
def test_more_paxos_classic_runs_pass(args):
    done = _classic(*args)
    assert done.returncode == 0, done.stderr
    result = check_text(done.stdout, "t.txt")
    assert problems_of(result) == []
    nodes, _, rounds = (int(float(arg)) for arg in args[:3])
    assert result.runs[0].nodes == nodes and result.runs[0].rounds_seen == rounds
