"""A counterexample's faults read as what happened (each fault model describes its own draws),
in the text, the diagram, --json, JSONL and ShiViz; and paxos-check exhaustive's budget
(--max-states, --max-seconds) and Ctrl-C, each one line and its own exit status."""

from __future__ import annotations

import json
import re

import pytest

from paxos_exp.check.cli import main
from paxos_exp.core.config import RunConfig
from paxos_exp.core.faults import FAULTS, FaultModel
from paxos_exp.explore import cli as explore_cli
from paxos_exp.explore.cli import EXIT_INTERRUPTED, EXIT_TOO_LARGE
from paxos_exp.explore.explorer import Budget, TooLarge, explore
from paxos_exp.explore.fault_events import fault_events
from paxos_exp.explore.minimal import search


def _run(capsys, *argv):
    status = main(["exhaustive", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def _section(out: str, name: str) -> list[str]:
    """The indented lines under ``name:`` in the text output."""
    lines = out.splitlines()
    start = lines.index(f"{name}:") + 1
    section = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        section.append(line.strip())
    return section


# -- the text names faults as events ---------------------------------------------------------


def test_amnesia_reads_as_nodes_going_down_and_coming_back_wiped(capsys):
    status, out, err = _run(capsys, "protocol=classic", "faults=crash_recovery",
                            "faults.amnesia=true", "nodes=3", "rounds=3")
    assert status == 1 and not err
    assert _section(out, "faults") == [
        "round 1: node 1 went down (crash_recovery: down for 1 round, comes back in round 2 "
        "wiped, its votes forgotten: amnesia)",
        "round 1: node 2 went down (crash_recovery: down for 1 round, comes back in round 2 "
        "wiped, its votes forgotten: amnesia)",
        "round 2: node 0 went down (crash_recovery: down for 1 round, still down when the run "
        "ends)",
    ]
    assert "draw (phase" not in out
    # The diagram says why each message never arrived.
    assert "JOIN  2 -> 0  START          X silenced, never arrives: node 0 is down " \
           "(crash_recovery)" in out
    assert "  ! node 1 went down (crash_recovery" in out


def test_omission_reads_as_messages_that_became_crash(capsys):
    status, out, _ = _run(capsys, "protocol=half_quorum", "nodes=2", "rounds=2")
    assert status == 1
    assert _section(out, "faults") == [
        "round 0: the leader's PROPOSE to node 1 became CRASH",
        "round 1: node 0's JOIN to the leader became CRASH",
    ]
    assert "X fault: the PROPOSE became CRASH 0 (omission)" in out


def test_a_partition_reads_as_the_cut_and_its_sides(capsys):
    status, out, _ = _run(capsys, "protocol=half_quorum", "faults=partition",
                          "faults.shape=random_cut", "nodes=2", "rounds=2")
    assert status == 1
    assert _section(out, "faults") == [
        "round 0: partition (random cut): the nodes split into {0} (the leader 0's side) and "
        "{1}; every message between the sides is lost, both ways",
        "round 1: partition (random cut): the nodes split into {1} (the leader 1's side) and "
        "{0}; every message between the sides is lost, both ways",
    ]
    assert "X silenced, never arrives: across the cut (partition)" in out


def test_a_minority_partition_names_its_sides_from_the_models_own_draws():
    config = RunConfig(nodes=5, fail_prob=0.1, rounds=2,
                       faults={"name": "partition", "symmetric": False})
    # Round 1 (leader 1): a cut happens, the minority has size index 1 (two nodes), drawn as
    # rank 0 -> node 3 of [0..4], rank 1 -> node 0 of [0, 1, 2, 4].
    choices = [((1, 18, 0, 0), True), ((1, 19, 0, 0), 1), ((1, 20, 0, 0), 3),
               ((1, 20, 1, 0), 0), ((0, 18, 0, 0), False)]
    [event] = fault_events(config, choices)
    assert event.round == 1 and event.model == "partition"
    assert event.text == ("partition (minority, one way): the nodes split into {1, 2, 4} (the "
                          "leader 1's side) and {0, 3}; every message from {0, 3} to {1, 2, 4} "
                          "is lost, the other way arrives")
    assert event.messages == {(1, a, b) for a in (0, 3) for b in (1, 2, 4)}


@pytest.mark.parametrize("faults, choices, expected", [
    ({"name": "crash_stop"}, [((1, 16, 2, 0), True), ((1, 16, 0, 0), False)],
     ["round 1: node 2 crashed for good (crash_stop): it takes no part in round 1 or any "
      "later one"]),
    ({"name": "crash_recovery", "down_rounds": 2}, [((0, 17, 1, 0), True)],
     ["round 0: node 1 went down (crash_recovery: down for 2 rounds, comes back in round 2 "
      "with its state (durable))"]),
    ({"name": "link_loss", "rule": "random_subset"},
     [((0, 23, 0, 2), True), ((0, 23, 0, 1), False), ((0, 22, 2, 0), True)],
     ["round 0: the link 0-2 is bad for the whole run (link_loss, random_subset: each message "
      "on it is lost with probability 0.1)",
      "round 0: node 2's VOTE to the leader was lost (link_loss, random_subset: link 2->0)"]),
    (["omission", "crash_stop"], [((0, 16, 1, 0), True), ((0, 1, 0, 2), True)],
     ["round 0: node 1 crashed for good (crash_stop): it takes no part in round 0 or any "
      "later one", "round 0: the leader's START to node 2 became CRASH"]),
])
def test_every_model_describes_its_draws(faults, choices, expected):
    config = RunConfig(nodes=3, fail_prob=0.1, rounds=3, faults=faults)
    assert [f"round {e.round}: {e.text}" for e in fault_events(config, choices)] == expected


def test_every_registered_model_describes_itself():
    assert all(FAULTS.get(name).describe is not None for name in FAULTS.names())


def test_a_model_without_describe_still_has_its_draws_listed(monkeypatch):
    FAULTS.names()
    plain = FaultModel(name="test_plain", description="omission, undescribed (test)",
                       build=FAULTS.get("omission").build)
    monkeypatch.setitem(FAULTS._found, "test_plain", plain)
    config = RunConfig(nodes=3, fail_prob=0.1, rounds=1, faults="test_plain")
    [event] = fault_events(config, [((0, 2, 1, 0), True), ((0, 1, 1, 0), False)])
    assert event.text == "the draw (phase 2, 1, 0) hit" and event.draws == ((2, 1, 0),)


# -- the exports keep their fields and gain the description ----------------------------------


def test_jsonl_shiviz_and_json_carry_the_descriptions(capsys, tmp_path):
    jsonl, shiviz = tmp_path / "ce.jsonl", tmp_path / "ce.log"
    status, out, _ = _run(capsys, "protocol=classic", "faults=crash_recovery",
                          "faults.amnesia=true", "nodes=3", "rounds=3", "--json",
                          f"--jsonl={jsonl}", f"--shiviz={shiviz}")
    assert status == 1
    example = json.loads(out)["counterexample"]
    events = [json.loads(line) for line in jsonl.read_text().splitlines()]
    faults = [event for event in events if event["event"] == "fault"]
    assert [event["description"] for event in faults] == [
        event["description"] for event in example["fault_events"]]
    assert faults[0]["description"].startswith("round 1: node 1 went down (crash_recovery")
    assert faults[0]["model"] == "crash_recovery" and faults[0]["nodes"] == [1]
    # Each fault's draws are the counterexample's machine-readable choices, answers included.
    choices = {tuple(choice) for choice in example["choices"]}
    assert all(tuple(draw) in choices for event in faults for draw in event["draws"])
    assert {tuple(draw) for event in faults for draw in event["draws"]} == {
        choice for choice in choices if choice[-1] is True}
    sends = [event for event in events if event["event"] == "send"]
    assert all(set(event) >= {"round", "phase", "sender", "receiver", "message", "meant",
                              "fault"} for event in sends)
    silenced = [event for event in sends if event["fault"] == "silenced"]
    assert silenced and all(event["description"].endswith("node 0 is down (crash_recovery)")
                            for event in silenced)
    assert example["events"] == events
    lines = shiviz.read_text().splitlines()
    pattern = re.compile(lines[0].replace("(?<", "(?P<"))
    assert all(pattern.fullmatch(line) for line in lines[2:])
    assert sum("FAULT round 1: node 1 went down" in line for line in lines) == 1
    assert any("(FAULT: the leader's START to node 0 was silenced: node 0 is down" in line
               for line in lines)


# -- the budget ------------------------------------------------------------------------------


def test_too_many_states_is_one_line_and_exit_three(capsys):
    status, out, err = _run(capsys, "nodes=9", "rounds=5", "--max-states", "10")
    assert status == EXIT_TOO_LARGE == 3
    assert out == "" and len(err.splitlines()) == 1
    assert err.startswith("paxos-check exhaustive: too large: ")
    assert "nodes=9 rounds=5" in err and "lower nodes or rounds" in err
    assert "--max-states" in err
    status, out, err = _run(capsys, "nodes=9", "rounds=5", "--max-states", "10", "--json")
    assert status == 3 and len(err.splitlines()) == 1
    assert json.loads(out) == {"verdict": "too_large",
                               "error": err.removeprefix("paxos-check exhaustive: too large: ")
                               .rstrip("\n")}


def test_too_little_time_names_max_seconds(capsys, monkeypatch):
    def out_of_time(config, exact=False, budget=None):
        assert budget == Budget(states=None, seconds=120.0)  # the default
        raise TooLarge("exploration too large: the budget of 120 CPU seconds ran out")

    monkeypatch.setattr(explore_cli, "search", out_of_time)
    status, _, err = _run(capsys, "nodes=9", "rounds=5")
    assert status == 3 and len(err.splitlines()) == 1 and "raise --max-seconds" in err


@pytest.mark.parametrize("argv", [["--max-states", "0"], ["--max-seconds", "-1"],
                                  ["--max-seconds", "soon"]])
def test_a_bad_budget_is_a_usage_error(capsys, argv):
    with pytest.raises(SystemExit) as stopped:
        main(["exhaustive", "nodes=3", "rounds=1", *argv])
    assert stopped.value.code == 2
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_no_limit_with_inf(capsys):
    status, out, _ = _run(capsys, "nodes=2", "rounds=1", "--max-seconds", "inf")
    assert status == 0 and out.startswith("safe:")


def test_ctrl_c_is_one_line_and_exit_130(capsys, monkeypatch):
    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(explore_cli, "search", interrupted)
    status, out, err = _run(capsys, "nodes=3", "rounds=2")
    assert status == EXIT_INTERRUPTED == 130
    assert out == "" and err == "paxos-check exhaustive: interrupted\n"


def test_the_minimal_search_keeps_within_the_budget():
    config = RunConfig(nodes=3, fail_prob=0.1, rounds=2, protocol="half_quorum")
    full = search(config)
    assert full.incomplete is None and full.witness.nodes == 2  # found at a smaller N
    main_states = explore(config).configurations
    # Enough for N=3 itself and not for the smaller counts: the N=3 witness is kept.
    bounded = search(config, budget=Budget(states=main_states + 1))
    assert bounded.witness is not None and bounded.witness.nodes == 3
    assert bounded.incomplete is not None and "not searched" in bounded.incomplete
    assert search(config, budget=Budget(states=10**9)).witness == full.witness
    with pytest.raises(TooLarge):
        search(config, budget=Budget(states=main_states - 1))


_INTERRUPTED_CHILD = """
import signal
import sys
from paxos_exp.check.cli import main

# Ctrl-C as in a terminal, whoever started the tests: a shell's `&` without job control (a
# CI script run in the background) leaves SIGINT ignored in every process it starts.
signal.signal(signal.SIGINT, signal.default_int_handler)
from paxos_exp.explore import explorer

run = explorer.Explorer.run

def announced(self):
    print("exploring", flush=True)  # the parent's cue: the exploration has begun
    return run(self)

explorer.Explorer.run = announced
sys.exit(main(["exhaustive", "nodes=9", "rounds=5", "--max-seconds", "inf"]))
"""


def test_a_real_sigint_during_an_exploration_is_one_line_and_exit_130():
    import select
    import signal
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", _INTERRUPTED_CHILD], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([child.stdout], [], [], 60)  # the cue, with a deadline
        assert ready and child.stdout.readline() == "exploring\n"
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 130
    assert out == "" and err == "paxos-check exhaustive: interrupted\n"


@pytest.mark.slow
def test_the_counterexample_figure_names_the_faults(capsys, tmp_path):
    figure = tmp_path / "counterexample.svg"
    status, _, _ = _run(capsys, "protocol=classic", "faults=crash_recovery",
                        "faults.amnesia=true", "nodes=3", "rounds=3", f"--diagram={figure}")
    assert status == 1
    svg = figure.read_text()
    assert "round 2: node 0 went down (crash_recovery" in svg
