"""RunConfig and RuntimeOptions: every range check, with messages that name the key."""

from __future__ import annotations

import math

import pytest

from paxos_exp.core.config import RunConfig, RuntimeOptions, Safety, parse_initial_values
from paxos_exp.core.errors import ConfigError, PaxosExpError
from paxos_exp.core.draws import MAX_SEED, initial_value
from paxos_exp.core.quorum import Quorums

GOOD = dict(nodes=3, fail_prob=0.1, rounds=2)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("nodes", 0),
        ("nodes", -1),
        ("nodes", 2.0),
        ("nodes", "3"),
        ("nodes", True),
        ("nodes", None),
        ("fail_prob", -0.01),
        ("fail_prob", 1.01),
        ("fail_prob", math.nan),
        ("fail_prob", math.inf),
        ("fail_prob", -math.inf),
        ("fail_prob", "0.1"),
        ("fail_prob", True),
        ("fail_prob", None),
        ("rounds", -1),
        ("rounds", 1.5),
        ("rounds", 2.0),
        ("rounds", "2"),
        ("rounds", False),
        ("trials", 0),
        ("trials", -3),
        ("trials", 1.0),
        ("seed", -1),
        ("seed", MAX_SEED + 1),
        ("seed", 1.0),
        ("seed", True),
        ("seed", "7"),
        ("initial_values", (0, 1)),
        ("initial_values", (0, 1, 1, 0)),
        ("initial_values", (0, 2, 1)),
        ("initial_values", (0, -1, 1)),
        ("initial_values", (True, False, True)),
        ("initial_values", ("0", "1", "0")),
        ("join_quorum", 0),
        ("join_quorum", 4),
        ("vote_quorum", 0),
        ("vote_quorum", 4),
        ("join_quorum", "2"),
        ("allow_unsafe", "yes"),
        ("no_such_setting", 1),
        ("protocol", "no_such_protocol"),
        ("faults", "no_such_model"),
        ("safety", "sometimes"),
    ],
)
def test_run_config_rejects_bad_values_naming_the_key(key, value):
    if key in ("join_quorum", "vote_quorum", "allow_unsafe", "no_such_setting"):
        given = {"protocol": {"name": "flexible", key: value}}
    else:
        given = {key: value}
    with pytest.raises(ConfigError) as error:
        RunConfig(**{**GOOD, **given})
    assert key in str(error.value)
    assert isinstance(error.value, ValueError) and isinstance(error.value, PaxosExpError)


def test_run_config_accepts_the_edges():
    assert RunConfig(nodes=1, fail_prob=0, rounds=0).fail_prob == 0.0
    config = RunConfig(nodes=1, fail_prob=1, rounds=0, seed=MAX_SEED)
    assert isinstance(config.fail_prob, float) and config.fail_prob == 1.0
    assert RunConfig(nodes=2, fail_prob=0.5, rounds=1, seed=0, trials=1).quorums == Quorums(2, 2)


def test_run_config_defaults():
    config = RunConfig(**GOOD)
    assert (config.trials, config.seed, config.initial_values, config.trace) == (1, 0, None, False)
    assert config.quorums == Quorums.for_nodes(3)
    assert (config.protocol.name, config.faults.name, config.safety.value) == (
        "classic", "omission", "fail")


def test_an_unsafe_quorum_pair_is_refused_unless_allowed_and_then_recorded_by_default():
    unsafe = {"name": "flexible", "join_quorum": 2, "vote_quorum": 3}  # 2 + 3 <= 5
    with pytest.raises(ConfigError, match=r"protocol\.join_quorum=2 and protocol\.vote_quorum=3"):
        RunConfig(nodes=5, fail_prob=0.1, rounds=1, protocol=unsafe)
    allowed = RunConfig(nodes=5, fail_prob=0.1, rounds=1, protocol={**unsafe, "allow_unsafe": True})
    assert allowed.quorums == Quorums(2, 3) and not allowed.claims_safety
    assert allowed.safety is Safety.record
    forced = RunConfig(nodes=5, fail_prob=0.1, rounds=1, protocol={**unsafe, "allow_unsafe": True},
                       safety="fail")
    assert forced.safety is Safety.fail
    safe = RunConfig(nodes=5, fail_prob=0.1, rounds=1,
                     protocol={"name": "flexible", "join_quorum": 2, "vote_quorum": 4})
    assert safe.claims_safety and safe.safety is Safety.fail and safe.quorums == Quorums(2, 4)


def test_the_spec_round_trips_and_pickles_without_its_plugins():
    import pickle

    config = RunConfig(nodes=5, fail_prob=0.25, rounds=4, trials=3, seed=9, initial_values=(0, 1, 1, 0, 1),
                       protocol={"name": "flexible", "join_quorum": 2, "vote_quorum": 4})
    assert RunConfig.from_spec(config.spec()) == config
    config.law  # noqa: B018 - caches the plug-ins on the instance
    copy = pickle.loads(pickle.dumps(config))
    assert copy == config and copy.quorums == Quorums(2, 4)


def test_initial_values_are_normalised_to_a_tuple_and_used_in_every_trial():
    config = RunConfig(nodes=4, fail_prob=0.1, rounds=1, trials=3, initial_values=[0, 1, 1, 0])
    assert config.initial_values == (0, 1, 1, 0)
    assert [config.initial_values_for(t) for t in range(3)] == [(0, 1, 1, 0)] * 3


def test_default_initial_values_are_fair_coins_from_the_seed_per_trial():
    config = RunConfig(nodes=9, fail_prob=0.1, rounds=1, trials=20, seed=42)
    values = [config.initial_values_for(t) for t in range(20)]
    assert values[3] == tuple(initial_value(42, 3, node) for node in range(9))
    assert values == [config.initial_values_for(t) for t in range(20)]
    assert len(set(values)) > 1  # trials differ
    other = RunConfig(nodes=9, fail_prob=0.1, rounds=1, trials=20, seed=43)
    assert values != [other.initial_values_for(t) for t in range(20)]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("engine", "threads"),
        ("engine", ""),
        ("start_method", "thread"),
        ("start_method", "Fork"),
        ("startup_timeout", 0),
        ("startup_timeout", -1.0),
        ("receive_timeout", 0.0),
        ("receive_timeout", math.nan),
        ("receive_timeout", "10"),
        ("barrier_timeout", -0.5),
        ("barrier_timeout", True),
        ("barrier_timeout", math.inf),  # None is valid: chosen for the run's size
    ],
)
def test_runtime_options_reject_bad_values_naming_the_key(key, value):
    with pytest.raises(ConfigError) as error:
        RuntimeOptions(**{key: value})
    assert key in str(error.value)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("receive_timeout", math.inf),
        ("barrier_timeout", math.inf),
        ("startup_timeout", math.inf),
        ("receive_timeout", 1e7),  # 10^10 ms does not fit ZeroMQ's int RCVTIMEO
    ],
)
def test_runtime_options_reject_timeouts_no_wait_can_honour(key, value):
    with pytest.raises(ConfigError, match=key):
        RuntimeOptions(**{key: value})


def test_runtime_options_defaults_and_valid_values():
    options = RuntimeOptions()
    assert (options.engine, options.start_method, options.transcript) == ("processes", "fork", False)
    for method in ("fork", "spawn", "forkserver"):
        assert RuntimeOptions(start_method=method, engine="inprocess").start_method == method
    assert RuntimeOptions(receive_timeout=0.001, barrier_timeout=1, startup_timeout=2.5).barrier_timeout == 1


@pytest.mark.parametrize(
    ("given", "parsed"),
    [
        (None, None),
        ("", None),
        ("random", None),
        ("None", None),
        ("null", None),
        ("0101", (0, 1, 0, 1)),
        ("0,1,0,1", (0, 1, 0, 1)),
        ("0, 1, 1", (0, 1, 1)),
        ([1, 0], (1, 0)),
        ((1,), (1,)),
    ],
)
def test_parse_initial_values(given, parsed):
    assert parse_initial_values(given) == parsed


@pytest.mark.parametrize("given", ["012", "abc", "0x1", "1;0"])
def test_parse_initial_values_rejects_other_text(given):
    with pytest.raises(ConfigError, match="initial_values"):
        parse_initial_values(given)
