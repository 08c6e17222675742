"""What a job returns to Hydra (``optimized_metric``), and the Optuna preset end to end."""

from __future__ import annotations

import math

import pytest
import yaml
from scipy.optimize import brentq

from app_helpers import run_paxos_exp
from paxos_exp import metrics
from paxos_exp.core.config import round_law
from paxos_exp.core.errors import ConfigError
from paxos_exp.core.quorum import Quorums
from paxos_exp.schema import FirstRounds, SafetyVerdicts, Summary, Theory

CONFIG = {"nodes": 5, "fail_prob": 0.2, "rounds": 3, "trials": 40}


def _summary(decided: int = 10, theory: Theory | None = None) -> Summary:
    return Summary(trials=40, decided_trials=decided, rounds_total=120, deciding_rounds=decided,
                   sent={"start": 100, "total": 400}, decision_rate=decided / 40,
                   round_decision_rate=decided / 120,
                   first_decision_round=FirstRounds(mean=1.5 if decided else None),
                   theory=theory, safety=SafetyVerdicts(violation_rate=0.0))


def test_a_metric_name_reads_its_field_and_an_expression_combines_them():
    summary = _summary(decided=10, theory=Theory(0.9, 0.8, 0.3))
    assert metrics.value("decision_rate", summary, CONFIG) == 0.25
    assert metrics.value("messages_per_trial", summary, CONFIG) == 10.0
    assert metrics.value("abs(decision_rate - 0.5)", summary, CONFIG) == 0.25
    assert metrics.value("decision_rate - exact_decision_rate", summary, CONFIG) == \
        pytest.approx(-0.05)
    assert metrics.value("decision_rate * nodes", summary, CONFIG) == 1.25


def test_a_metric_without_a_value_is_nan():
    assert math.isnan(metrics.value("exact_decision_rate", _summary(), CONFIG))
    assert math.isnan(metrics.value("first_decision_round_mean", _summary(decided=0), CONFIG))
    assert math.isnan(metrics.value("1 / (decision_rate - 0.25)", _summary(), CONFIG))


@pytest.mark.parametrize("metric, says", [
    ("decison_rate", "'decison_rate' is not defined"),
    ("max(decision_rate, 1)", "not a supported function"),
    ("", "give a metric name"),
])
def test_a_bad_metric_is_one_line_naming_the_choices(metric, says):
    with pytest.raises(ConfigError, match="optimized_metric") as caught:
        metrics.check(metric)
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_a_bad_metric_stops_a_run_before_any_process_starts(tmp_path):
    done = run_paxos_exp(["engine=inprocess", "optimized_metric=decison_rate"], tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("paxos-exp: error: optimized_metric=")
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("result.json"))


def test_the_optuna_preset_without_its_sweeper_says_to_choose_it(tmp_path):
    done = run_paxos_exp(["experiment=half_decision"], tmp_path)
    assert done.returncode != 0
    assert "hydra/sweeper=optuna" in done.stderr.strip().splitlines()[-1]


def _exact_rate(nodes: int, fail_prob: float, rounds: int) -> float:
    return round_law("classic", "omission", nodes, fail_prob,
                     Quorums.for_nodes(nodes)).decision_within(rounds)


@pytest.mark.slow
def test_optuna_finds_the_crash_probability_of_an_even_chance_of_deciding(tmp_path):
    """The study's best p must have an exact decision rate within its measured distance from
    one half plus four binomial standard errors of the measurement."""
    trials, nodes, rounds = 1000, 3, 5
    done = run_paxos_exp(["experiment=half_decision", "hydra/sweeper=optuna", f"nodes={nodes}",
                          f"trials={trials}", "hydra.sweeper.n_trials=12", "report=false",
                          "progress=false"], tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    found = yaml.safe_load((tmp_path / "outputs" / "sweeps" / f"half_decision_n{nodes}" /
                            "optimization_results.yaml").read_text())
    best_p, best_value = found["best_params"]["fail_prob"], found["best_value"]
    standard_error = math.sqrt(0.25 / trials)
    assert abs(_exact_rate(nodes, best_p, rounds) - 0.5) <= best_value + 4 * standard_error
    exact_p = brentq(lambda p: _exact_rate(nodes, p, rounds) - 0.5, 0.0, 1.0)
    assert 0.0 < exact_p < 1.0 and best_value < 0.1
