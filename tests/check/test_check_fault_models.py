"""paxos-check on the transcripts of paxos-exp's fault models: with --faults silent (or
amnesia) it accepts what a valid run under crash_stop, crash_recovery, partition and
link_loss prints (a down leader's round has no line; a silenced message leaves a leader with
fewer than N receipts and an acceptor with no line), and it still finds real mistakes."""

from __future__ import annotations

import random
import subprocess
import sys
from collections import Counter

import pytest
from check_helpers import interleave, problems_of

import paxos_exp
from paxos_exp.check import Options, check_lines, check_text
from paxos_exp.core import transcript

SILENT_MODELS = {
    "crash_stop": {"name": "crash_stop", "crash_prob": 0.15},
    "crash_recovery": {"name": "crash_recovery", "crash_prob": 0.2, "down_rounds": 2},
    "partition": {"name": "partition", "partition_prob": 0.4, "shape": "random_cut"},
    "partition-oneway": {"name": "partition", "partition_prob": 0.4, "symmetric": False},
    "link_loss": {"name": "link_loss", "prob": 0.2},
    "composed": ["omission", {"name": "crash_stop", "crash_prob": 0.05},
                 {"name": "partition", "partition_prob": 0.2},
                 {"name": "link_loss", "rule": "random_subset", "prob": 0.5}],
}
AMNESIA = ["omission", {"name": "crash_recovery", "crash_prob": 0.2, "amnesia": True}]


def _transcript(faults, nodes=5, fail_prob=0.1, rounds=30, seed=3):
    lines = [transcript.header(nodes, fail_prob, rounds)]
    result = paxos_exp.run(nodes, fail_prob, rounds, seed=seed, engine="inprocess",
                           transcript=True, emit=lines.append, faults=faults, safety="record")
    return lines, result


def _rules(lines, faults="omission"):
    return Counter(rule for rule, _ in problems_of(check_lines(lines, options=Options(
        faults=faults))))


@pytest.mark.parametrize("name", SILENT_MODELS)
@pytest.mark.parametrize("seed", [3, 4])
def test_silent_models_pass_with_faults_silent_and_only_then(name, seed):
    lines, result = _transcript(SILENT_MODELS[name], seed=seed)
    assert sum(r.silenced for r in result.rounds) > 0
    assert _rules(lines, "silent") == Counter()
    assert _rules(lines, "amnesia") == Counter()  # amnesia allows more, never less
    # Without the option, the missing lines are problems: the relaxation is what lets it pass.
    assert set(_rules(lines)) <= {"line-count", "round-order"} and _rules(lines)
    # Any order of a round's lines after its ROUND line passes too (the order paxos-exp's
    # engines guarantee: a leader writes its ROUND line before it sends START).
    shuffled = interleave(lines, 5, random.Random(seed), round_line_first=True)
    assert shuffled != lines
    assert _rules(shuffled, "silent") == Counter()


def test_a_down_leader_writes_no_line_and_its_round_is_simply_absent():
    lines, result = _transcript({"name": "crash_stop", "crash_prob": 1.0}, nodes=3, rounds=6)
    # Nodes 0 and 1 crash before round 0: only rounds 2 and 5 (led by node 2) have lines.
    started = [line for line in lines if line.startswith("ROUND ")]
    assert started == [f"ROUND {r} STARTED WITH INITIAL VALUE: {result.trials[0].initial_values[2]}"
                       for r in (2, 5)]
    assert _rules(lines, "silent") == Counter()
    assert _rules(lines)["round-order"] > 0


def test_amnesia_transcripts_need_faults_amnesia():
    unsafe = 0
    for seed in range(6):
        lines, result = _transcript(AMNESIA, seed=seed)
        found = _rules(lines, "amnesia")
        # What remains is exactly what amnesia really breaks, as the run's records say too.
        assert set(found) <= {"agreement", "proposal-consistency"}, (seed, found)
        assert bool(found) == (not result.safe), seed
        unsafe += not result.safe
    assert unsafe  # a seed where it broke: the checker saw that, and nothing else
    # N=3, seed 7: a leader wiped of its own vote proposes by the rule without it; amnesia
    # accepts that (value-rule), and still reports the agreement it breaks.
    lines, result = _transcript(AMNESIA, nodes=3, seed=7)
    found = _rules(lines, "amnesia")
    assert "value-rule" in _rules(lines, "silent") and "value-rule" not in found
    assert found["agreement"] > 0 and not result.safe
    # Some seed shows a forgotten vote: silent alone reports it as a JOIN no state explains.
    assert any(_rules(_transcript(AMNESIA, seed=seed)[0], "silent")["join-state"]
               for seed in range(6))


def test_faults_silent_still_finds_real_mistakes():
    lines, result = _transcript(SILENT_MODELS["composed"])
    decided = next(i for i, line in enumerate(lines) if "DECIDED ON VALUE" in line)
    value = lines[decided][-1]
    wrong = [*lines[:decided], lines[decided][:-1] + ("1" if value == "0" else "0"),
             *lines[decided + 1:]]
    assert _rules(wrong, "silent")["decision"] == 1
    # A leader with more than N receipts, a round out of order, a round beyond R: still found.
    receipt = next(line for line in lines if "RECEIVED IN JOIN PHASE: START" in line
                   and line.startswith("LEADER"))
    at = lines.index(receipt)
    doubled = [*lines[:at], *[receipt] * 6, *lines[at + 1:]]
    assert _rules(doubled, "silent")["line-count"] >= 1
    rounds = [i for i, line in enumerate(lines) if line.startswith("ROUND ")]
    swapped = lines[:rounds[1]] + lines[rounds[2]:rounds[3]] + lines[rounds[1]:rounds[2]] \
        + lines[rounds[3]:]
    assert _rules(swapped, "silent")["round-order"] >= 1
    beyond = [lines[0].replace("NUM_ROUNDS: 30", "NUM_ROUNDS: 3"), *lines[1:]]
    assert _rules(beyond, "silent")["round-order"] >= 1


def test_the_cli_takes_faults_and_refuses_an_unknown_one(tmp_path):
    lines, _ = _transcript(SILENT_MODELS["crash_stop"])
    path = tmp_path / "run.txt"
    path.write_text("\n".join(lines) + "\n")
    command = [sys.executable, "-m", "paxos_exp.check", "transcript"]
    plain = subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=60)
    silent = subprocess.run([*command, "--faults", "silent", str(path)], capture_output=True,
                            text=True, timeout=60)
    bad = subprocess.run([*command, "--faults", "loud", str(path)], capture_output=True,
                         text=True, timeout=60)
    assert plain.returncode == 1 and silent.returncode == 0, silent.stdout
    assert bad.returncode == 2 and "--faults" in bad.stderr
    assert check_text("\n".join(lines), options=Options(faults="silent")).ok
