"""The assignment-compatible CLI, run as a user would: in a subprocess, on real processes."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter

import pytest

import paxos_exp

pytestmark = pytest.mark.timeout(120)

CLI = [sys.executable, "-m", "paxos_exp.classic"]

HEADER = re.compile(r"NUM_NODES: (\d+), CRASH PROB: (\S+), NUM_ROUNDS: (\d+)")
ROUND = re.compile(r"ROUND (\d+) STARTED WITH INITIAL VALUE: ([01])")
LEADER_JOIN = re.compile(r"LEADER OF (\d+) RECEIVED IN JOIN PHASE: (START|JOIN -1 None|JOIN \d+ [01]|CRASH \d+)")
LEADER_VOTE = re.compile(r"LEADER OF (\d+) RECEIVED IN VOTE PHASE: (PROPOSE [01]|VOTE|CRASH \d+)")
ACCEPTOR_JOIN = re.compile(r"ACCEPTOR (\d+) RECEIVED IN JOIN PHASE: (START|CRASH \d+)")
ACCEPTOR_VOTE = re.compile(r"ACCEPTOR (\d+) RECEIVED IN VOTE PHASE: (PROPOSE [01]|CRASH \d+|ROUNDCHANGE)")
DECIDED = re.compile(r"LEADER OF (\d+) DECIDED ON VALUE: ([01])")
CHANGED = re.compile(r"LEADER OF ROUND (\d+) CHANGED ROUND")
BODY_PATTERNS = (ROUND, LEADER_JOIN, LEADER_VOTE, ACCEPTOR_JOIN, ACCEPTOR_VOTE, DECIDED, CHANGED)
SEED_NOTE = re.compile(r"paxos-classic: seed (\d+) \(replay with --seed \1\)")


def classic(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def body_lines(output: str) -> list[str]:
    lines = output.splitlines()
    assert lines, "no output at all"
    assert HEADER.fullmatch(lines[0]), lines[0]
    return lines[1:]


def by_round(lines: list[str]) -> list[Counter]:
    """The lines of each round as a multiset; every round opens with its ROUND line."""
    rounds: list[Counter] = []
    for line in lines:
        opened = ROUND.fullmatch(line)
        if opened:
            assert int(opened.group(1)) == len(rounds), f"round {opened.group(1)} out of order"
            rounds.append(Counter())
        assert rounds, f"line before the first ROUND line: {line!r}"
        rounds[-1][line] += 1
    return rounds


def reference_rounds(nodes: int, p: float, rounds: int, seed: int, initial_values=None) -> list[Counter]:
    lines: list[str] = []
    paxos_exp.run(nodes, p, rounds, seed=seed, engine="inprocess", emit=lines.append, initial_values=initial_values)
    return by_round(lines)


def round_of(line: str) -> int | None:
    for pattern in (ROUND, LEADER_JOIN, LEADER_VOTE, DECIDED, CHANGED):
        found = pattern.fullmatch(line)
        if found:
            return int(found.group(1))
    return None


# -- golden runs -------------------------------------------------------------------------------


def test_p0_every_round_decides_on_round_0_leaders_value():
    nodes, rounds = 4, 3
    done = classic("4", "0", "3", "--seed", "5")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "NUM_NODES: 4, CRASH PROB: 0.0, NUM_ROUNDS: 3"
    assert len(lines) == 1 + 4 * nodes * rounds
    starts = [ROUND.fullmatch(line) for line in lines if ROUND.fullmatch(line)]
    first_value = starts[0].group(2)
    decided = [DECIDED.fullmatch(line) for line in lines if DECIDED.fullmatch(line)]
    assert [(int(d.group(1)), d.group(2)) for d in decided] == [(r, first_value) for r in range(rounds)]
    assert not any("CRASH" in line or "ROUNDCHANGE" in line or "CHANGED ROUND" in line for line in lines[1:])
    for rnd, counter in enumerate(by_round(lines[1:])):
        assert counter[f"LEADER OF {rnd} RECEIVED IN VOTE PHASE: VOTE"] == nodes - 1
        assert counter[f"LEADER OF {rnd} RECEIVED IN JOIN PHASE: START"] == 1
        assert counter[f"LEADER OF {rnd} RECEIVED IN VOTE PHASE: PROPOSE {first_value}"] == 1
        acceptors = [a for a in range(nodes) if a != rnd % nodes]
        for a in acceptors:
            assert counter[f"ACCEPTOR {a} RECEIVED IN JOIN PHASE: START"] == 1
            assert counter[f"ACCEPTOR {a} RECEIVED IN VOTE PHASE: PROPOSE {first_value}"] == 1
        assert not any(line.startswith(f"ACCEPTOR {rnd % nodes} ") for line in counter)


def test_p1_nothing_decides_every_round_changes():
    nodes, rounds = 3, 4
    done = classic(str(nodes), "1", str(rounds), "--seed", "2")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "NUM_NODES: 3, CRASH PROB: 1.0, NUM_ROUNDS: 4"
    assert len(lines) == 1 + 3 * nodes * rounds
    per_round = by_round(lines[1:])
    assert len(per_round) == rounds
    for rnd, counter in enumerate(per_round):
        leader = rnd % nodes
        expected = Counter({f"LEADER OF {rnd} RECEIVED IN JOIN PHASE: CRASH {leader}": nodes,
                            f"LEADER OF ROUND {rnd} CHANGED ROUND": 1})
        for a in range(nodes):
            if a != leader:
                expected[f"ACCEPTOR {a} RECEIVED IN JOIN PHASE: CRASH {leader}"] = 1
                expected[f"ACCEPTOR {a} RECEIVED IN VOTE PHASE: ROUNDCHANGE"] = 1
        started = [line for line in counter if ROUND.fullmatch(line)]
        assert len(started) == 1
        del counter[started[0]]
        assert counter == expected
    assert not any("DECIDED" in line for line in lines)


def test_r0_prints_only_the_header():
    done = classic("3", "0.1", "0", "--seed", "1")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "NUM_NODES: 3, CRASH PROB: 0.1, NUM_ROUNDS: 0\n"


def test_single_node():
    done = classic("1", "0", "3", "--initial-values", "1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["NUM_NODES: 1, CRASH PROB: 0.0, NUM_ROUNDS: 3"] + [
        line
        for r in range(3)
        for line in (
            f"ROUND {r} STARTED WITH INITIAL VALUE: 1",
            f"LEADER OF {r} RECEIVED IN JOIN PHASE: START",
            f"LEADER OF {r} RECEIVED IN VOTE PHASE: PROPOSE 1",
            f"LEADER OF {r} DECIDED ON VALUE: 1",
        )
    ]


def test_two_nodes_need_both():
    done = classic("2", "0.3", "60", "--seed", "8")
    assert done.returncode == 0, done.stderr
    per_round = by_round(body_lines(done.stdout))
    assert len(per_round) == 60
    outcomes = set()
    for rnd, counter in enumerate(per_round):
        joins = sum(n for line, n in counter.items()
                    if line.startswith(f"LEADER OF {rnd} RECEIVED IN JOIN PHASE: ")
                    and not line.endswith(f"CRASH {rnd % 2}"))
        votes = sum(n for line, n in counter.items()
                    if line.startswith(f"LEADER OF {rnd} RECEIVED IN VOTE PHASE: ")
                    and not line.endswith(f"CRASH {rnd % 2}"))
        changed = counter[f"LEADER OF ROUND {rnd} CHANGED ROUND"] == 1
        decided = any(DECIDED.fullmatch(line) for line in counter)
        assert changed == (joins < 2)
        assert decided == (joins == 2 and votes == 2)
        outcomes.add((changed, decided))
    assert outcomes == {(True, False), (False, False), (False, True)}
    assert per_round == reference_rounds(2, 0.3, 60, 8)


# -- seeds ---------------------------------------------------------------------------------------


# The transcript of `paxos-classic 5 0.3 15 --seed 123`, computed once and written down: each
# round's lines sorted (lines of different nodes interleave within a round), the rounds joined
# in order, hashed. A change to the draws, the protocol or the lines moves it.
PINNED_SEED_123_DIGEST = "c457d40cdb4e5d05c934c3fd9c14448654ffadac30d1a57b6456a8533ec00c1b"
PINNED_SEED_123_OUTCOMES = [
    "LEADER OF ROUND 0 CHANGED ROUND", "LEADER OF ROUND 1 CHANGED ROUND",
    "LEADER OF ROUND 4 CHANGED ROUND", "LEADER OF ROUND 5 CHANGED ROUND",
    "LEADER OF ROUND 9 CHANGED ROUND", "LEADER OF 12 DECIDED ON VALUE: 0",
    "LEADER OF ROUND 14 CHANGED ROUND",
]


def _round_digest(rounds: list[Counter]) -> str:
    import hashlib

    text = "\n".join("\n".join(sorted(counter.elements())) for counter in rounds)
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_seed_gives_the_pinned_lines_per_round_equal_to_the_reference_engine():
    # The CLI runs real processes in a fresh interpreter; it must print what was pinned, and
    # what the in-process engine computes here; another seed prints something else.
    first = classic("5", "0.3", "15", "--seed", "123")
    assert first.returncode == 0, first.stderr
    rounds = by_round(body_lines(first.stdout))
    assert _round_digest(rounds) == PINNED_SEED_123_DIGEST
    assert [line for line in body_lines(first.stdout)
            if DECIDED.fullmatch(line) or CHANGED.fullmatch(line)] == PINNED_SEED_123_OUTCOMES
    assert rounds == reference_rounds(5, 0.3, 15, 123)
    other = classic("5", "0.3", "15", "--seed", "124")
    assert by_round(body_lines(other.stdout)) != rounds


def test_without_seed_the_seed_is_printed_and_replays_the_run():
    first = classic("4", "0.3", "10")
    assert first.returncode == 0, first.stderr
    note = SEED_NOTE.search(first.stderr)
    assert note, first.stderr
    seed = note.group(1)
    replay = classic("4", "0.3", "10", "--seed", seed)
    assert replay.returncode == 0
    assert "replay with" not in replay.stderr  # a given seed is not announced
    assert by_round(body_lines(replay.stdout)) == by_round(body_lines(first.stdout))


def test_initial_values_option():
    done = classic("3", "0", "3", "--initial-values", "011", "--seed", "4")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line for line in lines if ROUND.fullmatch(line)] == [
        "ROUND 0 STARTED WITH INITIAL VALUE: 0",
        "ROUND 1 STARTED WITH INITIAL VALUE: 1",
        "ROUND 2 STARTED WITH INITIAL VALUE: 1",
    ]
    assert [line for line in lines if DECIDED.fullmatch(line)] == [
        f"LEADER OF {r} DECIDED ON VALUE: 0" for r in range(3)
    ]


def test_no_torn_lines_with_many_nodes():
    nodes, rounds = 9, 20
    done = classic(str(nodes), "0.2", str(rounds), "--seed", "99")
    assert done.returncode == 0, done.stderr
    lines = body_lines(done.stdout)
    torn = [line for line in lines if not any(p.fullmatch(line) for p in BODY_PATTERNS)]
    assert torn == []
    assert done.stdout.endswith("\n")
    # Round numbers never go backwards, and ROUND r opens round r.
    current = -1
    for line in lines:
        rnd = round_of(line)
        if ROUND.fullmatch(line):
            assert rnd == current + 1
            current = rnd
        elif rnd is not None:
            assert rnd == current
    assert current == rounds - 1
    assert by_round(lines) == reference_rounds(nodes, 0.2, rounds, 99)


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_other_start_methods(method):
    done = classic("3", "0.2", "6", "--seed", "3", "--start-method", method)
    assert done.returncode == 0, done.stderr
    assert by_round(body_lines(done.stdout)) == reference_rounds(3, 0.2, 6, 3)


# -- bad arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["3"],
        ["3", "0.1"],
        ["3", "0.1", "2", "4"],
        ["0", "0.1", "2"],
        ["-1", "0.1", "2"],
        ["3", "-0.1", "2"],
        ["3", "1.5", "2"],
        ["3", "nan", "2"],
        ["3", "inf", "2"],
        ["3", "0.1", "-1"],
        ["x", "0.1", "2"],
        ["3", "p", "2"],
        ["3", "0.1", "two"],
        ["3.5", "0.1", "2"],
        ["3", "0.1", "2.0"],
        ["3", "0.1", "2", "--seed", "-1"],
        ["3", "0.1", "2", "--seed", "abc"],
        ["3", "0.1", "2", "--seed", str(2**64)],
        ["3", "0.1", "2", "--initial-values", "01"],
        ["3", "0.1", "2", "--initial-values", "012"],
        ["3", "0.1", "2", "--start-method", "threads"],
        ["3", "0.1", "2", "--timeout", "0"],
        ["3", "0.1", "2", "--timeout", "nan"],
        ["3", "0.1", "2", "--bogus"],
    ],
    ids=lambda args: " ".join(args) or "no-args",
)
def test_bad_arguments_give_usage_on_stderr_nothing_on_stdout_and_status_2(args):
    done = classic(*args, timeout=30)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "usage: paxos-classic" in done.stderr
    assert "error:" in done.stderr


def test_timeout_too_large_for_zeromq_is_a_usage_error():
    done = classic("3", "0.1", "2", "--seed", "1", "--timeout", "1e7", timeout=60)
    assert done.returncode == 2
    assert done.stdout == ""


def test_help_exits_0():
    done = classic("--help", timeout=30)
    assert done.returncode == 0
    assert "NUM_NODES" in done.stdout and "CRASH_PROB" in done.stdout and "NUM_ROUNDS" in done.stdout


def test_importing_the_cli_stays_cheap():
    code = (
        "import paxos_exp.classic, sys; "
        "assert not any(m.split('.')[0] in ('pandas','seaborn','hydra','matplotlib') for m in sys.modules), "
        "sorted(m for m in sys.modules if m.split('.')[0] in ('pandas','seaborn','hydra','matplotlib'))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
