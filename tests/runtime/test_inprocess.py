"""What only the in-process engine has: ``emit`` for the transcript, and ``run_trial`` with an
explicit round driver. Its golden behaviours, rules and records are checked, like every
engine's, by the conformance suite (tests/conformance/test_engines.py)."""

from __future__ import annotations

import paxos_exp
from paxos_exp.core.config import RunConfig
from paxos_exp.core.records import ROUND_CHUNK, CollectingSink
from paxos_exp.runtime.inprocess import memory_driver, run_trial


def test_emit_receives_exactly_the_lines_the_transcript_prints(capfd):
    lines: list[str] = []
    result = paxos_exp.run(5, 0.3, 25, seed=4, engine="inprocess", emit=lines.append)
    capfd.readouterr()
    printed = paxos_exp.run(5, 0.3, 25, seed=4, engine="inprocess", transcript=True)
    assert capfd.readouterr().out.splitlines() == lines
    assert printed.rounds == result.rounds
    # Whole lines, one per call, each round opening with its ROUND line.
    assert all("\n" not in line for line in lines)
    opened = [line for line in lines if line.startswith("ROUND ")]
    assert opened == [f"ROUND {r} STARTED WITH INITIAL VALUE: {result.trials[0].initial_values[r % 5]}"
                      for r in range(25)]
    # Without emit and without transcript=True nothing is printed.
    paxos_exp.run(5, 0.3, 25, seed=4, engine="inprocess")
    assert capfd.readouterr().out == ""


def test_run_trial_with_an_explicit_driver_matches_the_run_across_round_chunks():
    config = RunConfig(nodes=3, fail_prob=0.3, rounds=ROUND_CHUNK + 250, trials=2, seed=5)
    sink = CollectingSink()
    driver = memory_driver(config)  # one driver for both trials, as run_inprocess does
    for trial in range(config.trials):
        run_trial(config, trial, sink, driver)
    reference = paxos_exp.run(3, 0.3, ROUND_CHUNK + 250, trials=2, seed=5, engine="inprocess")
    assert [(r.trial, r.round) for r in sink.rounds] == [
        (t, rnd) for t in range(2) for rnd in range(ROUND_CHUNK + 250)]
    assert tuple(sink.rounds) == reference.rounds and tuple(sink.trials) == reference.trials
