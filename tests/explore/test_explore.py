"""The exhaustive explorer: safety proofs, exact probabilities against PROTOCOL.md's closed
form, minimal counterexamples of every wrong variant replayed through both engines, and
``paxos-check exhaustive`` as a user calls it."""

from __future__ import annotations

import json
from fractions import Fraction
from math import comb
from typing import Any

import pytest

from paxos_exp.check.cli import main
from paxos_exp.core import theory
from paxos_exp.core.config import RunConfig
from paxos_exp.core.faults import FAULTS
from paxos_exp.explore.draws import BranchingDraws, ScriptedDraws
from paxos_exp.explore.explorer import explore
from paxos_exp.explore.minimal import search
from paxos_exp.explore.replay import replay, witness_config

TOLERANCE = 1e-12

# The fault models classic must be proven safe under, with the settings to explore them at.
# A model of issue 10 not registered yet is skipped: once it is (branch `faults`), its proof
# runs with no change here.
SAFE_UNDER = {
    "omission": {},
    "crash_stop": {"crash_prob": 0.2},
    "crash_recovery": {"crash_prob": 0.2, "amnesia": False},
}


def _faults(name: str, nodes: int = 0) -> Any:
    """The model with its settings; up to N=3 combined with omission too (the new models lose
    no message themselves, so alone they explore no CRASH; combined, N=5 R=3 takes minutes)."""
    if name not in FAULTS.names():
        pytest.skip(f"fault model {name} is not registered on this branch yet")
    model = {"name": name, **SAFE_UNDER[name]}
    return model if name == "omission" or nodes > 3 else ["omission", model]


# -- safety proofs ---------------------------------------------------------------------------


@pytest.mark.parametrize("faults", list(SAFE_UNDER))
@pytest.mark.parametrize("nodes", [1, 2, 3, 4, pytest.param(5, marks=pytest.mark.slow)])
def test_classic_is_safe_for_every_fault_pattern_up_to_three_rounds(explored, nodes, faults):
    # Three rounds cover one and two: a violation within fewer rounds is one within three.
    # Explored once per session (tests/conftest.py): the closed form below and the exact laws
    # of tests/core/test_fault_models.py ask for some of the same configurations.
    found = explored(nodes=nodes, fail_prob=0.3, rounds=3, faults=_faults(faults, nodes))
    assert found.safe, found.witness
    assert found.violation == 0
    assert found.patterns > 1 and found.vectors == 2**nodes


# -- exact probabilities ---------------------------------------------------------------------


def _check_closed_form(explored, nodes, fail_prob, rounds):
    found = explored(nodes=nodes, fail_prob=fail_prob, rounds=rounds)
    per_round = theory.round_decision_probability(nodes, fail_prob)
    for decides in found.decides:
        assert abs(decides - per_round) < TOLERANCE
    for k, first in enumerate(found.first):
        assert abs(first - (1 - per_round) ** k * per_round) < TOLERANCE
    for k in range(1, rounds + 1):
        within = sum(found.first[:k])
        assert abs(within - theory.decision_within_probability(nodes, fail_prob, k)) < TOLERANCE
    assert abs(found.undecided - (1 - per_round) ** rounds) < TOLERANCE


@pytest.mark.parametrize("fail_prob", [0.0, 0.1, 0.3, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("nodes", [1, 2, 3])
def test_exact_probabilities_equal_the_closed_form(explored, nodes, fail_prob):
    _check_closed_form(explored, nodes, fail_prob, 3)


@pytest.mark.slow
@pytest.mark.parametrize("nodes,fail_prob,rounds", [
    # N=4 and N=5 at p=0.3, R=3 are the safety proofs' explorations (shared, not redone).
    (4, 0.3, 3), (4, 0.5, 3), (5, 0.3, 3), (5, 0.1, 2), (6, 0.3, 2), (6, 0.1, 2), (6, 0.5, 1),
])
def test_exact_probabilities_equal_the_closed_form_for_five_and_six_nodes(explored, nodes,
                                                                           fail_prob, rounds):
    _check_closed_form(explored, nodes, fail_prob, rounds)


# PROTOCOL.md's reference values of f^2 (four decimals).
REFERENCE = {3: (0.8707, 0.6057, 0.3481, 0.0625), 4: (0.7535, 0.3795, 0.1405, 0.0074),
             5: (0.9259, 0.6401, 0.3135, 0.0244)}


@pytest.mark.parametrize("nodes", sorted(REFERENCE))
def test_the_published_reference_values(nodes):
    for fail_prob, published in zip((0.1, 0.2, 0.3, 0.5), REFERENCE[nodes]):
        found = explore(RunConfig(nodes=nodes, fail_prob=fail_prob, rounds=1))
        assert round(found.decides[0], 4) == published


def test_fractions_give_the_closed_form_exactly():
    nodes, p = 3, Fraction(1, 10)
    q = 1 - p
    tail = lambda n, s, k: sum(comb(n, i) * s**i * (1 - s) ** (n - i) for i in range(k, n + 1))  # noqa: E731
    f = q * tail(nodes - 1, q * q, 1) + p * tail(nodes - 1, q * q, 2)
    found = explore(RunConfig(nodes=nodes, fail_prob=0.1, rounds=2), exact=True)
    assert found.decides == [f * f, f * f]
    assert found.first == [f * f, (1 - f * f) * f * f]


def test_the_reductions_change_no_probability_and_no_minimum():
    for protocol, nodes, rounds in (("classic", 3, 1), ("classic", 2, 3),
                                    ("ignore_own_state", 2, 2), ("half_quorum", 2, 2),
                                    ("no_vote_without_join", 2, 2)):
        config = RunConfig(nodes=nodes, fail_prob=0.3, rounds=rounds, protocol=protocol)
        reduced, plain = explore(config), explore(config, symmetry=False)
        assert plain.patterns == reduced.patterns
        assert plain.distinct_states >= reduced.distinct_states
        for a, b in zip(reduced.decides + reduced.first, plain.decides + plain.first):
            assert abs(a - b) < TOLERANCE
        assert abs(reduced.violation - plain.violation) < TOLERANCE
        assert (reduced.witness is None) == (plain.witness is None)
        if reduced.witness is not None:
            assert reduced.witness.faults == plain.witness.faults


# -- minimal counterexamples -----------------------------------------------------------------

UNSAFE = [
    # protocol, nodes to search, the minimum (faults, N, R)
    ("own_value", 3, (0, 2, 2)),
    ("ignore_own_state", 3, (2, 3, 2)),
    ("no_vote_without_join", 3, (3, 3, 2)),
    ("half_quorum", 3, (2, 2, 2)),
    ({"name": "flexible", "join_quorum": 2, "vote_quorum": 3, "allow_unsafe": True}, 5,
     (5, 5, 2)),
]


def _ids(case):
    protocol = case[0]
    return protocol if isinstance(protocol, str) else "flexible-2+3"


@pytest.fixture(scope="module", params=UNSAFE, ids=_ids)
def unsafe(request):
    protocol, nodes, minimum = request.param
    config = RunConfig(nodes=nodes, fail_prob=0.1, rounds=2, protocol=protocol)
    return config, search(config), minimum


def test_every_wrong_variant_has_a_minimal_counterexample(unsafe):
    config, found, minimum = unsafe
    witness = found.witness
    assert witness is not None
    assert (witness.faults, witness.nodes, witness.rounds) == minimum
    assert "agreement" in witness.broken
    assert found.exploration.violation > 0


def test_a_counterexample_replays_in_process_with_its_faults(unsafe):
    config, found, _ = unsafe
    replayed = replay(config, found.witness, "inprocess")
    assert "agreement" in replayed.broken
    assert sum(record.crashed for record in replayed.result.rounds) == found.witness.faults
    decided = [line for line in replayed.lines if "DECIDED" in line]
    assert len({line.rsplit(" ", 1)[1] for line in decided}) == 2  # two different decisions


@pytest.mark.slow
def test_a_counterexample_replays_on_real_processes_with_identical_records(unsafe):
    config, found, _ = unsafe
    inprocess = replay(config, found.witness, "inprocess")
    processes = replay(config, found.witness, "processes")
    assert processes.broken == inprocess.broken
    assert processes.result.rounds == inprocess.result.rounds
    assert processes.result.trace == inprocess.result.trace


def test_a_replay_that_leaves_the_recorded_path_says_so():
    config = RunConfig(nodes=3, fail_prob=0.5, rounds=1, initial_values=(0, 1, 1),
                       draws=ScriptedDraws([]))
    with pytest.raises(Exception, match="recorded path does not have"):
        replay(config, type("W", (), {"nodes": 3, "rounds": 1, "values": (0, 1, 1),
                                      "choices": []})(), "inprocess")
    assert witness_config  # the witness's run config is the replay's


def test_a_draw_of_another_round_is_refused():
    draws = BranchingDraws()
    draws.round = 1
    with pytest.raises(Exception, match="carried-over faults must live in its state"):
        draws.hit(0.5, 0, 0, 1, 0, 1)


# -- the command -----------------------------------------------------------------------------


def _run(capsys, *argv):
    status = main(["exhaustive", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_a_safe_configuration_exits_zero_with_one_verdict_line(capsys):
    status, out, err = _run(capsys, "protocol=classic", "nodes=3", "rounds=2")
    assert status == 0 and not err
    first = out.splitlines()[0]
    assert first == ("safe: every one of 115200 fault patterns (131 distinct states) keeps "
                     "agreement and validity")
    assert "0.8707129344" in out  # f^2 at N=3, p=0.1


def test_a_counterexample_exits_one_with_transcript_diagram_and_files(capsys, tmp_path):
    jsonl, shiviz = tmp_path / "ce.jsonl", tmp_path / "ce.log"
    status, out, err = _run(capsys, "protocol=half_quorum", "nodes=2", "rounds=2",
                            f"--jsonl={jsonl}", f"--shiviz={shiviz}")
    assert status == 1 and not err
    assert out.startswith("counterexample: agreement, proposals broken with 2 faults at N=2, R=2")
    assert "  NUM_NODES: 2, CRASH PROB: 0.1, NUM_ROUNDS: 2" in out
    assert out.count("X fault: the ") == 2
    events = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert sum(event["fault"] == "crash" for event in events if event["event"] == "send") == 2
    assert sum(event["event"] == "decide" for event in events) == 2
    lines = shiviz.read_text().splitlines()
    assert lines[0].startswith("(?<host>") and lines[1] == ""
    assert all(line.startswith("node") and line.endswith("}") for line in lines[2:])


def test_json_shape(capsys):
    status, out, _ = _run(capsys, "protocol=own_value", "nodes=2", "rounds=2", "--json")
    data = json.loads(out)
    assert status == 1 and data["verdict"] == "counterexample"
    assert set(data) >= {"config", "patterns", "distinct_states", "probabilities",
                         "counterexample", "cpu_seconds", "initial_vectors"}
    assert set(data["probabilities"]) >= {"round_decides", "first_decision_round",
                                          "decided_within", "violation", "no_decision"}
    example = data["counterexample"]
    assert example["faults"] == 0 and example["nodes"] == 2 and example["rounds"] == 2
    assert example["replayed_on"] == {"inprocess": ["agreement", "proposals"]}
    assert example["transcript"][0] == "NUM_NODES: 2, CRASH PROB: 0.1, NUM_ROUNDS: 2"
    status, out, _ = _run(capsys, "nodes=2", "rounds=1", "--json", "--exact")
    data = json.loads(out)
    assert status == 0 and data["verdict"] == "safe" and data["counterexample"] is None
    assert data["probabilities"]["exact"]["violation"] == "0"


@pytest.mark.parametrize("argv", [
    ["nodes=3"], ["nodes=0", "rounds=1"], ["nodes=3", "rounds=1", "fail_prob=2"],
    ["nodes=3", "rounds=1", "protocol=nope"], ["nodes=3", "rounds=1", "protocol.x=1"],
    ["nodes=3", "rounds=1", "colour=red"], ["nodes"], ["nodes=3", "rounds=1", "--bogus"],
    ["nodes=5", "rounds=1", "protocol=flexible", "protocol.join_quorum=2",
     "protocol.vote_quorum=3"],
])
def test_usage_errors_are_one_line_and_exit_two(capsys, argv):
    status, out, err = _run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert len(err.splitlines()) == 1 and err.startswith("paxos-check exhaustive: error: ")


def test_composed_faults_and_their_settings_as_paxos_exp_spells_them(capsys):
    # faults.NAME.KEY, a list of models, and YAML values (a list) as in paxos-exp.
    status, out, err = _run(capsys, "nodes=2", "rounds=1", "fail_prob=0",
                            "faults=[omission,link_loss]", "faults.link_loss.rule=one_link",
                            "faults.link_loss.link=[0,1]", "faults.link_loss.prob=1", "--json")
    data = json.loads(out)
    assert status == 0 and not err
    assert sorted(f["name"] for f in data["config"]["faults"]) == ["link_loss", "omission"]
    assert data["probabilities"]["round_decides"] == [0.0]  # the one acceptor is cut off
    # One model: faults.KEY and faults.NAME.KEY mean the same.
    outs = [_run(capsys, "nodes=3", "rounds=1", "fail_prob=0", "faults=partition",
                 f"faults.{prefix}partition_prob=1", f"faults.{prefix}shape=isolated_leader",
                 "--json")
            for prefix in ("", "partition.")]
    assert [status for status, _, _ in outs] == [0, 0]
    assert [json.loads(out)["probabilities"]["round_decides"] for _, out, _ in outs] == [[0.0]] * 2
    status, _, err = _run(capsys, "nodes=3", "rounds=1", "faults=[omission,partition]",
                          "faults.shape=minority")
    assert status == 2 and "faults.NAME.KEY" in err and len(err.splitlines()) == 1


def test_usage_errors_exit_two_from_argparse(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["exhaustive", "--jsonl"])
    assert stopped.value.code == 2
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_the_independent_transcript_checker_finds_the_violation_in_the_transcript(unsafe):
    from paxos_exp.check import check_text

    config, found, _ = unsafe
    lines = replay(config, found.witness, "inprocess").lines
    problems = check_text("\n".join(lines) + "\n", "counterexample").problems
    assert "agreement" in {problem.rule for problem in problems}


@pytest.mark.slow
def test_the_counterexample_figure(capsys, tmp_path):
    figure = tmp_path / "counterexample.png"
    status, out, _ = _run(capsys, "protocol=half_quorum", "nodes=2", "rounds=2",
                          f"--diagram={figure}")
    assert status == 1
    assert figure.read_bytes().startswith(b"\x89PNG")


def test_scripted_draws_travel_to_spawned_nodes_and_stay_out_of_the_spec():
    import pickle

    draws = ScriptedDraws([((0, 1, 0, 2), True), ((0, 2, 0, 1), False)])
    again = pickle.loads(pickle.dumps(draws))
    assert again.hit(0.5, 0, 0, 1, 0, 2) is True and again.hit(0.5, 0, 0, 2, 0, 1) is False
    assert again.hit(1.0, 0, 5, 1, 0, 0) is True and again.hit(0.0, 0, 5, 1, 0, 0) is False
    config = RunConfig(nodes=3, fail_prob=0.5, rounds=1, draws=draws)
    assert "draws" not in config.spec()
    assert pickle.loads(pickle.dumps(config)).build_faults().draws.choices == draws.choices
