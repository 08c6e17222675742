"""The fault models of issue 10 (crash_stop, crash_recovery, partition, link_loss) and their
composition: their draws and state, golden cases, and measured rates against exact values
computed here independently (small enumerations and closed forms, not the modules' code)."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import pytest

import paxos_exp
from paxos_exp.core.config import Composition, RunConfig
from paxos_exp.core.draws import FIRST_FREE_PHASE, SeededDraws
from paxos_exp.core.errors import ConfigError
from paxos_exp.core.faults import DRAW_PHASES, FAULTS, Composite
from paxos_exp.core.messages import Phase
from paxos_exp.core.quorum import majority

Z = 4.0  # binomial standard errors allowed
NEW_MODELS = ("crash_stop", "crash_recovery", "partition", "link_loss")


def _run(nodes, fail_prob, rounds, faults, **kwargs):
    kwargs.setdefault("engine", "inprocess")
    return paxos_exp.run(nodes, fail_prob, rounds, faults=faults, **kwargs)


# == registry, draws and state ================================================================


def test_every_new_model_is_registered_with_a_one_line_description():
    for name in NEW_MODELS:
        model = FAULTS.get(name)
        assert model.description and "\n" not in model.description
        assert not model.keeps_theory  # the omission law does not hold under it


def test_draw_phases_are_free_and_never_shared():
    phases = [phase for model in DRAW_PHASES.values() for phase in model.values()]
    assert len(phases) == len(set(phases))
    assert min(phases) >= FIRST_FREE_PHASE
    assert set(DRAW_PHASES) == set(NEW_MODELS)


class Recording:
    """Seeded draws that note every call (position and whether it came from begin_round)."""

    def __init__(self, seed):
        self.seeded, self.calls, self.in_begin = SeededDraws(seed), [], False

    def hit(self, prob, trial, rnd, phase, a, b):
        self.calls.append((self.in_begin, phase))
        return self.seeded.hit(prob, trial, rnd, phase, a, b)

    def pick(self, weights, trial, rnd, phase, a, b):
        self.calls.append((self.in_begin, phase))
        return self.seeded.pick(weights, trial, rnd, phase, a, b)


SETTINGS = {
    "crash_stop": {"name": "crash_stop", "crash_prob": 0.2, "max_crashed": 3},
    "crash_recovery": {"name": "crash_recovery", "crash_prob": 0.3, "down_rounds": 2,
                       "amnesia": True},
    "partition": {"name": "partition", "partition_prob": 0.6, "shape": "random_cut",
                  "symmetric": False},
    "link_loss": {"name": "link_loss", "rule": "random_subset", "prob": 0.5, "fraction": 0.5},
}


def _observe(faults, nodes, trial, rnd):
    """Everything a round's engine asks a fault model, as plain data."""
    positions = [(phase, s, r) for phase in (Phase.JOIN, Phase.VOTE) for s in range(nodes)
                 for r in range(nodes)]
    return (tuple(faults.down(trial, rnd, n) for n in range(nodes)),
            tuple(faults.wiped(trial, rnd, n) for n in range(nodes)),
            tuple(faults.silenced(trial, rnd, *p) for p in positions),
            tuple(faults.crashes(trial, rnd, *p) for p in positions))


@pytest.mark.parametrize("name", NEW_MODELS)
def test_draws_come_from_the_models_phases_and_state_moves_only_in_begin_round(name):
    nodes, rounds = 5, 12
    config = RunConfig(nodes=nodes, fail_prob=0.0, rounds=rounds, faults=SETTINGS[name])
    draws = Recording(3)
    faults = config.build_faults(draws)
    for trial in range(3):
        for rnd in range(rounds):
            draws.in_begin = True
            faults.begin_round(trial, rnd)
            draws.in_begin = False
            _observe(faults, nodes, trial, rnd)
    phases = {phase for _, phase in draws.calls}
    assert phases and phases <= set(DRAW_PHASES[name].values())
    outside = {phase for in_begin, phase in draws.calls if not in_begin}
    if name == "link_loss":  # per-message loss is drawn when the message is asked about
        assert outside == {DRAW_PHASES[name]["join"], DRAW_PHASES[name]["vote"]}
    else:
        assert outside == set()


@pytest.mark.parametrize("name", [*NEW_MODELS, "composed"])
def test_state_and_restore_resume_a_trial_exactly(name):
    nodes, rounds, trial = 5, 14, 2
    faults_setting = list(SETTINGS.values()) + [{"name": "omission"}] if name == "composed" \
        else SETTINGS[name]
    config = RunConfig(nodes=nodes, fail_prob=0.3, rounds=rounds, seed=8, faults=faults_setting)
    whole = config.build_faults()
    seen, states = [], []
    for rnd in range(rounds):
        whole.begin_round(trial, rnd)
        seen.append(_observe(whole, nodes, trial, rnd))
        states.append(whole.state(trial))
    hash(tuple(states))  # hashable
    if name != "partition":  # a cut lasts one round; the others carry something over
        assert any(state not in (None, ()) for state in states)
    for resume in range(1, rounds):
        fresh = config.build_faults()
        fresh.restore(trial, states[resume - 1])
        for rnd in range(resume, rounds):
            fresh.begin_round(trial, rnd)
            assert _observe(fresh, nodes, trial, rnd) == seen[rnd], (resume, rnd)


def test_a_composite_is_any_of_its_models_and_its_state_is_the_tuple():
    config = RunConfig(nodes=4, fail_prob=0.5, rounds=6, seed=5,
                       faults=["omission", SETTINGS["crash_stop"], SETTINGS["partition"]])
    assert isinstance(config.faults, Composition)
    assert config.faults.name == "crash_stop+omission+partition"  # sorted: order is no matter
    composite = config.build_faults()
    parts = [RunConfig(nodes=4, fail_prob=0.5, rounds=6, seed=5, faults=f).build_faults()
             for f in ("omission", SETTINGS["crash_stop"], SETTINGS["partition"])]
    assert isinstance(composite, Composite) and composite.stateful and composite.stops
    for rnd in range(6):
        composite.begin_round(0, rnd)
        for part in parts:
            if part.stateful:
                part.begin_round(0, rnd)
        for position in itertools.product((Phase.JOIN, Phase.VOTE), range(4), range(4)):
            assert composite.silenced(0, rnd, *position) == any(
                p.silenced(0, rnd, *position) for p in parts)
            assert composite.crashes(0, rnd, *position) == any(
                p.crashes(0, rnd, *position) for p in parts)
        assert [composite.down(0, rnd, n) for n in range(4)] == [
            any(p.down(0, rnd, n) for p in parts) for n in range(4)]
        assert composite.state(0) == tuple(p.state(0) for p in
                                           (parts[1], parts[0], parts[2]))


def test_a_single_model_keeps_its_one_mapping_spec_and_a_list_round_trips():
    single = RunConfig(nodes=3, fail_prob=0.1, rounds=2, faults="omission")
    assert single.spec()["faults"] == {"name": "omission"}
    several = RunConfig(nodes=3, fail_prob=0.1, rounds=2,
                        faults=[SETTINGS["partition"], "omission"])
    assert [f["name"] for f in several.spec()["faults"]] == ["omission", "partition"]
    assert RunConfig.from_spec(several.spec()) == several
    assert RunConfig.from_spec(several.spec()).spec() == several.spec()


@pytest.mark.parametrize("faults, key", [
    ({"name": "crash_stop", "crash_prob": -0.1}, "faults.crash_stop.crash_prob"),
    ({"name": "crash_stop", "max_crashed": 4}, "faults.crash_stop.max_crashed"),
    ({"name": "crash_recovery", "down_rounds": 0}, "faults.crash_recovery.down_rounds"),
    ({"name": "crash_recovery", "amnesia": "yes"}, "faults.crash_recovery.amnesia"),
    ({"name": "partition", "shape": "half"}, "faults.partition.shape"),
    ({"name": "partition", "partition_prob": 2}, "faults.partition.partition_prob"),
    ({"name": "link_loss", "rule": "all"}, "faults.link_loss.rule"),
    ({"name": "link_loss", "rule": "one_link", "link": [1, 1]}, "faults.link_loss.link"),
    ({"name": "link_loss", "link": [0, 1]}, "faults.link_loss.link"),
    ({"name": "link_loss", "rule": "matrix", "matrix": [[0, 1], [1, 0]]},
     "faults.link_loss.matrix"),
    ({"name": "link_loss", "rule": "matrix", "matrix": [[0.5, 0, 0], [0, 0, 0], [0, 0, 0]]},
     "faults.link_loss.matrix"),
    ({"name": "link_loss", "rule": "matrix", "matrix": [[0, 3, 0], [0, 0, 0], [0, 0, 0]]},
     r"faults.link_loss.matrix\[0\]\[1\]"),
    (["omission", "omission"], "omission named twice"),
    ({"name": "partition", "cut": 1}, "faults.cut"),
])
def test_a_bad_setting_is_one_config_error_naming_the_key(faults, key):
    with pytest.raises(ConfigError, match=key) as error:
        RunConfig(nodes=3, fail_prob=0.1, rounds=2, faults=faults)
    assert "\n" not in str(error.value)


# == golden cases ===============================================================================


@pytest.mark.parametrize("nodes", [2, 3, 5])
def test_crash_stop_with_every_node_but_one_crashed_never_decides(nodes):
    # crash_prob=1 crashes nodes 0..N-2 before round 0 (id order, bound N-1): node N-1 is left
    # alone; it leads every N-th round and gets only its own START, and the other rounds have
    # no leader at all.
    result = _run(nodes, 0.0, 4 * nodes, {"name": "crash_stop", "crash_prob": 1.0}, trials=2)
    assert not any(r.decided for r in result.rounds)
    for record in result.rounds:
        if record.leader == nodes - 1:
            assert (record.joins, record.proposal, record.sent_start) == (1, None, 1)
            assert record.silenced == 2 * (nodes - 1)  # START and ROUNDCHANGE to each crashed
        else:
            assert record.messages == 0 and record.silenced == 0 and record.joins == 0
    # Restored to "all but the leader crashed" mid-run: the same.
    config = RunConfig(nodes=5, fail_prob=0.0, rounds=1, faults={"name": "crash_stop",
                                                                  "crash_prob": 0.0})
    faults = config.build_faults()
    faults.restore(0, (0, 1, 3, 4))
    faults.begin_round(0, 7)  # leader 2
    assert [faults.down(0, 7, n) for n in range(5)] == [True, True, False, True, True]
    assert faults.state(0) == (0, 1, 3, 4)


@pytest.mark.parametrize("nodes", [1, 3, 4])
def test_crash_stop_without_crashes_is_omission_at_p0(nodes):
    common = dict(trials=3, seed=4, trace=True)
    stop = _run(nodes, 0.0, 9, {"name": "crash_stop", "crash_prob": 0.0}, **common)
    omission = _run(nodes, 0.0, 9, "omission", **common)
    assert (stop.rounds, stop.trials, stop.trace) == (omission.rounds, omission.trials,
                                                      omission.trace)
    # And composed with omission at any p, crash_prob=0 changes nothing either.
    both = _run(nodes, 0.3, 9, ["omission", {"name": "crash_stop", "crash_prob": 0.0}], **common)
    assert both.rounds == _run(nodes, 0.3, 9, "omission", **common).rounds


@pytest.mark.parametrize("nodes", [3, 5, 7])
@pytest.mark.parametrize("symmetric", [True, False])
def test_a_minority_cut_never_blocks_a_majority_leader(nodes, symmetric):
    faults = {"name": "partition", "partition_prob": 1.0, "shape": "minority",
              "symmetric": symmetric}
    result = _run(nodes, 0.0, 60, faults, trials=2, seed=6)
    config = RunConfig(nodes=nodes, fail_prob=0.0, rounds=60, faults=faults, seed=6)
    model, cases = config.build_faults(), Counter()
    for record in result.rounds:
        model.begin_round(record.trial, record.round)
        away = [model.silenced(record.trial, record.round, Phase.JOIN, n, record.leader)
                for n in range(nodes)]
        with_leader = nodes - sum(away)
        assert 0 < sum(away) < nodes  # every round has a cut
        if with_leader > nodes / 2:  # the leader is on the majority's side
            assert record.decided and record.joins == record.votes == with_leader
            cases["majority"] += 1
        else:
            assert not record.decided and record.joins == with_leader
            cases["minority"] += 1
    assert cases["majority"] and cases["minority"]


def test_link_loss_of_1_on_one_link_is_that_acceptor_always_lost():
    # N=5, link {0, 3} always loses: in rounds led by 0 or 3 the other end never counts, and
    # the records equal those of a matrix with 1 on exactly that link, both directions.
    one = {"name": "link_loss", "rule": "one_link", "prob": 1.0, "link": [0, 3]}
    matrix = [[0.0] * 5 for _ in range(5)]
    matrix[0][3] = matrix[3][0] = 1.0
    common = dict(trials=2, seed=3, trace=True)
    result = _run(5, 0.0, 10, one, **common)
    same = _run(5, 0.0, 10, {"name": "link_loss", "rule": "matrix", "matrix": matrix}, **common)
    assert (result.rounds, result.trace) == (same.rounds, same.trace)
    for record in result.rounds:
        cut = record.leader in (0, 3)
        assert record.decided
        assert (record.joins, record.votes) == ((4, 4) if cut else (5, 5))
        assert record.silenced == (2 if cut else 0)  # START and PROPOSE to the other end
    assert not any(row.sender in (0, 3) and row.receiver in (0, 3) and row.sender != row.receiver
                   and not row.silenced for row in result.trace)


def test_crash_recovery_durable_never_breaks_classic_and_amnesia_does():
    # Seeded samples where nodes are down often: with durable state every trial is safe.
    for nodes, fail_prob in ((3, 0.0), (3, 0.2), (5, 0.2)):
        for seed in range(3):
            durable = _run(nodes, fail_prob, 12,
                           ["omission", {"name": "crash_recovery", "crash_prob": 0.3}],
                           trials=150, seed=seed)
            assert durable.safe and sum(r.decided for r in durable.rounds) > 0
    # Amnesia, pinned: N=3, values (1, 0, 0), trial 1 of seed 0. Rounds 0-2 decide 1. Node 0
    # is down in round 2 and back wiped in round 3, while nodes 1 and 2 are down; they come
    # back wiped in round 4: nobody remembers a vote, so leader 1 proposes its own 0 and
    # decides it. Durable, the same faults decide 1 every time.
    amnesia = {"name": "crash_recovery", "crash_prob": 0.3, "down_rounds": 1, "amnesia": True}
    broken = _run(3, 0.0, 8, amnesia, trials=2, seed=0, safety="record")
    trial = broken.trials[1]
    assert trial.initial_values == (1, 0, 0)
    assert not trial.agreement_ok and not trial.proposals_ok
    assert [r.decision for r in broken.rounds if r.trial == 1] == [1, 1, 1, None, 0, 0, 0, None]
    kept = _run(3, 0.0, 8, {**amnesia, "amnesia": False}, trials=2, seed=0)
    assert [r.decision for r in kept.rounds if r.trial == 1] == [1, 1, 1, None, 1, 1, 1, None]
    # Classic claims safety, but not under amnesia: its violations are recorded by default.
    assert RunConfig(nodes=3, fail_prob=0, rounds=1, faults=amnesia).safety.value == "record"
    assert RunConfig(nodes=3, fail_prob=0, rounds=1, faults={**amnesia, "amnesia": False},
                     ).safety.value == "fail"


# == measured rates against exact values ========================================================


def _quorum(leader_prob, acceptor_probs, quorum):
    """P(at least ``quorum`` counted): the leader counts with ``leader_prob``, acceptor j
    with ``acceptor_probs[j]``, all independent (a small convolution)."""
    dist = [1 - leader_prob, leader_prob]
    for prob in acceptor_probs:
        nxt = [0.0] * (len(dist) + 1)
        for count, weight in enumerate(dist):
            nxt[count] += weight * (1 - prob)
            nxt[count + 1] += weight * prob
        dist = nxt
    return sum(dist[quorum:])


def _decides(fail_prob, acceptor_reach, quorum):
    """P(a round decides) when acceptor j's request and reply both get through with
    ``acceptor_reach[j]`` besides omission: each phase f = P(quorum), and f^2 for both."""
    q = 1 - fail_prob
    f = _quorum(q, [q * q * reach for reach in acceptor_reach], quorum)
    return f * f


def _assert_close(observed, expected, variance):
    error = math.sqrt(variance)
    assert abs(observed - expected) <= Z * error, (observed, expected, error)


def _assert_rate(decided, rounds, prob):
    _assert_close(decided, rounds * prob, rounds * prob * (1 - prob))


def _crash_law(rounds, step):
    """The distribution of a stateful crash model's state in each round, by enumeration:
    ``step(state)`` -> [(next state, probability)] before each round (None: the start)."""
    states = {None: 1.0}
    law = []
    for rnd in range(rounds):
        nxt: dict = {}
        for state, weight in states.items():
            for new, prob in step(state):
                nxt[new] = nxt.get(new, 0.0) + weight * prob
        states = nxt
        law.append(states)
    return law


def _crash_stop_steps(nodes, crash_prob, bound):
    def step(state):
        outcomes = [(frozenset() if state is None else state, 1.0)]
        for node in range(nodes):
            grown = []
            for crashed, prob in outcomes:
                if node in crashed or len(crashed) >= bound:
                    grown.append((crashed, prob))
                else:
                    grown.append((crashed | {node}, prob * crash_prob))
                    grown.append((crashed, prob * (1 - crash_prob)))
            outcomes = grown
        return outcomes
    return step


def _crash_recovery_steps(nodes, crash_prob, down_rounds):
    def step(state):
        left = (0,) * nodes if state is None else state
        outcomes = [((), 1.0)]
        for node in range(nodes):
            grown = []
            for prefix, prob in outcomes:
                if left[node] > 1:
                    grown.append((prefix + (left[node] - 1,), prob))
                else:
                    grown.append((prefix + (down_rounds,), prob * crash_prob))
                    grown.append((prefix + (0,), prob * (1 - crash_prob)))
            outcomes = grown
        return outcomes
    return step


def _per_round_expected(nodes, fail_prob, law, is_up):
    """P(round r decides) for each r: the leader up, and the quorums among the nodes up."""
    quorum = majority(nodes)
    result = []
    for rnd, states in enumerate(law):
        leader = rnd % nodes
        total = 0.0
        for state, weight in states.items():
            if not is_up(state, leader):
                continue
            reach = [1.0 if is_up(state, n) else 0.0 for n in range(nodes) if n != leader]
            total += weight * _decides(fail_prob, reach, quorum)
        result.append(total)
    return result


def _per_round_observed(result, rounds):
    decided = [0] * rounds
    for record in result.rounds:
        decided[record.round] += record.decided
    return decided


@pytest.mark.parametrize("nodes, crash_prob, bound", [(5, 0.08, None), (4, 0.15, 1)])
def test_crash_stop_rates_match_the_enumerated_law(nodes, crash_prob, bound):
    rounds, trials, fail_prob = 8, 1500, 0.1
    faults = ["omission", {"name": "crash_stop", "crash_prob": crash_prob, "max_crashed": bound}]
    result = _run(nodes, fail_prob, rounds, faults, trials=trials, seed=11)
    limit = nodes - 1 if bound is None else bound
    law = _crash_law(rounds, _crash_stop_steps(nodes, crash_prob, limit))
    expected = _per_round_expected(nodes, fail_prob, law, lambda s, n: n not in s)
    for observed, prob in zip(_per_round_observed(result, rounds), expected):
        _assert_rate(observed, trials, prob)
    assert expected[0] > expected[-1]  # crashes accumulate: later rounds decide less


@pytest.mark.parametrize("amnesia", [False, True])
def test_crash_recovery_rates_match_the_enumerated_law(amnesia):
    nodes, rounds, trials, fail_prob, crash_prob, down_rounds = 5, 8, 1500, 0.1, 0.2, 2
    faults = ["omission", {"name": "crash_recovery", "crash_prob": crash_prob,
                           "down_rounds": down_rounds, "amnesia": amnesia}]
    result = _run(nodes, fail_prob, rounds, faults, trials=trials, seed=12, safety="record")
    law = _crash_law(rounds, _crash_recovery_steps(nodes, crash_prob, down_rounds))
    expected = _per_round_expected(nodes, fail_prob, law, lambda s, n: s[n] == 0)
    for observed, prob in zip(_per_round_observed(result, rounds), expected):
        _assert_rate(observed, trials, prob)


def _cut_law(nodes, shape, leader):
    """[(probability, acceptors on the leader's side)] over the cuts of ``shape``, by
    listing every cut with its probability (uniform over minorities / over all cuts)."""
    if shape == "isolated_leader":
        return [(1.0, 0)] if nodes > 1 else []
    if shape == "minority":
        sides = [set(c) for k in range(1, nodes) if 2 * k < nodes
                 for c in itertools.combinations(range(nodes), k)]
    else:  # every unordered cut: the side without node 0, non-empty
        sides = [set(c) for k in range(1, nodes)
                 for c in itertools.combinations(range(1, nodes), k)]
    return [(1 / len(sides), (len(s) if leader in s else nodes - len(s)) - 1) for s in sides]


@pytest.mark.parametrize("shape, symmetric", [("minority", True), ("minority", False),
                                              ("isolated_leader", True), ("random_cut", True)])
def test_partition_rates_match_the_listed_cuts(shape, symmetric):
    nodes, rounds, trials, fail_prob, partition_prob = 5, 500, 8, 0.1, 0.4
    faults = ["omission", {"name": "partition", "partition_prob": partition_prob,
                           "shape": shape, "symmetric": symmetric}]
    result = _run(nodes, fail_prob, rounds, faults, trials=trials, seed=13)
    quorum = majority(nodes)
    by_leader = []
    for leader in range(nodes):
        cut = sum(prob * _decides(fail_prob, [1.0] * side + [0.0] * (nodes - 1 - side), quorum)
                  for prob, side in _cut_law(nodes, shape, leader))
        whole = _decides(fail_prob, [1.0] * (nodes - 1), quorum)
        by_leader.append((1 - partition_prob) * whole + partition_prob * cut)
    expected = [by_leader[r.leader] for r in result.rounds]
    _assert_close(sum(r.decided for r in result.rounds), sum(expected),
                  sum(p * (1 - p) for p in expected))
    if shape == "isolated_leader":  # closed form: only the rounds without a cut decide
        assert by_leader[0] == pytest.approx((1 - partition_prob)
                                             * _decides(fail_prob, [1.0] * 4, quorum))


@pytest.mark.parametrize("rule", ["leader_links", "one_link", "matrix", "random_subset"])
def test_link_loss_rates_match_the_per_link_law(rule):
    nodes, rounds, fail_prob, prob = 5, 400, 0.1, 0.3
    trials = 8 if rule != "random_subset" else 80
    rounds = rounds if rule != "random_subset" else 40
    matrix = [[0.0 if i == j else round(0.05 * ((i + 2 * j) % 7), 2) for j in range(nodes)]
              for i in range(nodes)]
    settings = {"name": "link_loss", "rule": rule, "prob": prob}
    if rule == "matrix":
        settings["matrix"] = matrix
    if rule == "one_link":
        settings["link"] = [1, 2]
    if rule == "random_subset":
        settings["fraction"] = 0.5
    result = _run(nodes, fail_prob, rounds, ["omission", settings], trials=trials, seed=14)
    quorum = majority(nodes)

    def loss(i, j, bad_pairs=None):
        if i == j:
            return 0.0
        if rule == "matrix":
            return matrix[i][j]
        if rule == "one_link":
            return prob if {i, j} == {1, 2} else 0.0
        if rule == "leader_links":
            return prob
        return prob if (min(i, j), max(i, j)) in bad_pairs else 0.0

    def law(leader, bad_pairs=None):
        reach = [(1 - loss(leader, j, bad_pairs)) * (1 - loss(j, leader, bad_pairs))
                 for j in range(nodes) if j != leader]
        return _decides(fail_prob, reach, quorum)

    if rule == "random_subset":
        # Each of the 10 pairs is bad with probability 1/2 for a whole trial, so the rounds
        # of a trial are not independent: compare the trials' totals with their exact mean
        # and variance over every subset (E[Var | subset] + Var(E | subset)).
        pairs = list(itertools.combinations(range(nodes), 2))
        leaders = [r.leader for r in result.rounds if r.trial == 0]
        means, variances = [], []
        for chosen in itertools.product((False, True), repeat=len(pairs)):
            bad = {pair for pair, on in zip(pairs, chosen) if on}
            per_leader = [law(leader, bad) for leader in range(nodes)]
            means.append(sum(per_leader[leader] for leader in leaders))
            variances.append(sum(per_leader[leader] * (1 - per_leader[leader])
                                 for leader in leaders))
        mean = sum(means) / len(means)
        variance = sum(variances) / len(variances) + sum((m - mean) ** 2 for m in means) / len(means)
        _assert_close(sum(r.decided for r in result.rounds), trials * mean, trials * variance)
        return
    expected = [law(r.leader) for r in result.rounds]
    _assert_close(sum(r.decided for r in result.rounds), sum(expected),
                  sum(p * (1 - p) for p in expected))
    if rule == "leader_links":  # closed form: omission's f with q^2 (1-l)^2 per acceptor
        q = 1 - fail_prob
        reach = q * q * (1 - prob) ** 2
        f = q * _binomial_tail(nodes - 1, reach, quorum - 1) \
            + fail_prob * _binomial_tail(nodes - 1, reach, quorum)
        assert expected[0] == pytest.approx(f * f)


def _binomial_tail(n, p, k):
    return sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k, n + 1))


@pytest.mark.parametrize("shape, nodes", [("minority", 5), ("minority", 6), ("random_cut", 4),
                                          ("random_cut", 5), ("isolated_leader", 4)])
def test_each_cut_has_its_documented_probability(shape, nodes):
    # The cut of each of many rounds, from the model alone (no protocol): every cut of the
    # shape (listed here independently) occurs at its rate within Z standard errors.
    config = RunConfig(nodes=nodes, fail_prob=0.0, rounds=1, seed=15,
                       faults={"name": "partition", "partition_prob": 0.75, "shape": shape})
    faults, samples, seen = config.build_faults(), 8000, Counter()
    for index in range(samples):
        trial, rnd = divmod(index, 40)
        faults.begin_round(trial, rnd)
        leader = rnd % nodes
        away = frozenset(n for n in range(nodes)
                         if faults.silenced(trial, rnd, Phase.JOIN, leader, n))
        if away:  # as an unordered cut: the side without node 0
            seen[away if 0 not in away else frozenset(range(nodes)) - away] += 1
        else:
            seen["none"] += 1
    if shape == "minority":
        sides = [frozenset(c) for k in range(1, nodes) if 2 * k < nodes
                 for c in itertools.combinations(range(nodes), k)]
        cuts = Counter(s if 0 not in s else frozenset(range(nodes)) - s for s in sides)
        law = {cut: 0.75 * count / len(sides) for cut, count in cuts.items()}
    elif shape == "random_cut":
        sides = [frozenset(c) for k in range(1, nodes)
                 for c in itertools.combinations(range(1, nodes), k)]
        law = {side: 0.75 / len(sides) for side in sides}
    else:  # the leader alone: N leaders, a quarter of the rounds each
        law = {frozenset(range(nodes)) - {0} if leader == 0 else frozenset({leader}):
               0.75 / nodes for leader in range(nodes)}
    law["none"] = 0.25
    assert set(seen) <= set(law)
    for cut, prob in law.items():
        _assert_rate(seen[cut], samples, prob)


# == the exhaustive checker against the same laws, exactly =========================================
# The explorer runs each model with branching draws and resumes trials from state(): a model
# whose state forgets something (a cut drawn in begin_round) gives wrong exact values here.

EXACT = 1e-12


def _explored(nodes, fail_prob, rounds, faults):
    from paxos_exp.core.config import RunConfig
    from paxos_exp.explore.explorer import explore

    return explore(RunConfig(nodes=nodes, fail_prob=fail_prob, rounds=rounds, faults=faults))


@pytest.mark.slow
@pytest.mark.parametrize("shape, symmetric", [("minority", True), ("minority", False),
                                              ("isolated_leader", True), ("random_cut", True)])
def test_explored_partition_rates_equal_the_listed_cuts(shape, symmetric):
    nodes, rounds, fail_prob, partition_prob = 4, 1, 0.1, 0.4
    faults = ["omission", {"name": "partition", "partition_prob": partition_prob,
                           "shape": shape, "symmetric": symmetric}]
    found = _explored(nodes, fail_prob, rounds, faults)
    quorum = majority(nodes)
    for rnd, got in enumerate(found.decides):
        leader = rnd % nodes
        cut = sum(prob * _decides(fail_prob, [1.0] * side + [0.0] * (nodes - 1 - side), quorum)
                  for prob, side in _cut_law(nodes, shape, leader))
        whole = _decides(fail_prob, [1.0] * (nodes - 1), quorum)
        assert float(got) == pytest.approx((1 - partition_prob) * whole + partition_prob * cut,
                                           abs=EXACT)
    assert found.safe


def test_explored_partition_that_always_isolates_the_leader_never_decides():
    found = _explored(3, 0.0, 2, {"name": "partition", "partition_prob": 1.0,
                                  "shape": "isolated_leader"})
    assert [float(p) for p in found.decides] == [0.0, 0.0]


@pytest.mark.slow
@pytest.mark.parametrize("amnesia", [False, True])
def test_explored_crash_recovery_rates_equal_the_enumerated_law(amnesia):
    nodes, rounds, fail_prob, crash_prob, down_rounds = 3, 3, 0.1, 0.2, 2
    faults = ["omission", {"name": "crash_recovery", "crash_prob": crash_prob,
                           "down_rounds": down_rounds, "amnesia": amnesia}]
    found = _explored(nodes, fail_prob, rounds, faults)
    law = _crash_law(rounds, _crash_recovery_steps(nodes, crash_prob, down_rounds))
    expected = _per_round_expected(nodes, fail_prob, law, lambda s, n: s[n] == 0)
    assert [float(p) for p in found.decides] == pytest.approx(expected, abs=EXACT)
    if not amnesia:
        assert found.safe  # durable state keeps classic safe (amnesia needs longer runs)


def test_explored_crash_stop_rates_equal_the_enumerated_law(explored):
    # The configuration of tests/explore's safety proof under crash_stop at N=3: explored once
    # for both (tests/conftest.py).
    nodes, rounds, fail_prob, crash_prob = 3, 3, 0.3, 0.2
    faults = ["omission", {"name": "crash_stop", "crash_prob": crash_prob}]
    found = explored(nodes=nodes, fail_prob=fail_prob, rounds=rounds, faults=faults)
    law = _crash_law(rounds, _crash_stop_steps(nodes, crash_prob, nodes - 1))
    expected = _per_round_expected(nodes, fail_prob, law, lambda s, n: n not in s)
    assert [float(p) for p in found.decides] == pytest.approx(expected, abs=EXACT)
    assert found.safe


@pytest.mark.slow
@pytest.mark.parametrize("rule", ["leader_links", "one_link"])
def test_explored_link_loss_rates_equal_the_per_link_law(rule):
    nodes, rounds, fail_prob, prob = 3, 2, 0.1, 0.3
    settings = {"name": "link_loss", "rule": rule, "prob": prob}
    if rule == "one_link":
        settings["link"] = [1, 2]
    found = _explored(nodes, fail_prob, rounds, ["omission", settings])
    quorum = majority(nodes)

    def loss(i, j):
        if i == j:
            return 0.0
        return prob if rule == "leader_links" or {i, j} == {1, 2} else 0.0

    for rnd, got in enumerate(found.decides):
        leader = rnd % nodes
        reach = [(1 - loss(leader, j)) * (1 - loss(j, leader)) for j in range(nodes) if j != leader]
        assert float(got) == pytest.approx(_decides(fail_prob, reach, quorum), abs=EXACT)


def test_per_trial_state_forgets_trials_long_over():
    from paxos_exp.core.faults import TRIAL_WINDOW, PerTrial

    model = FAULTS.get("crash_stop").build(
        RunConfig(nodes=3, fail_prob=0.0, rounds=1,
                  faults={"name": "crash_stop", "crash_prob": 0.5}), SeededDraws(0))
    for trial in range(3 * TRIAL_WINDOW + 1):
        model.begin_round(trial, 0)
    kept = model._crashed
    assert isinstance(kept, PerTrial) and len(kept) <= 2 * TRIAL_WINDOW + 1
    assert 3 * TRIAL_WINDOW in kept and 0 not in kept
    # A trial within the window is still answered from its own state.
    assert model.state(2 * TRIAL_WINDOW + 5) == tuple(sorted(kept[2 * TRIAL_WINDOW + 5]))
