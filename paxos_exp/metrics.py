"""The one number a job gives back to Hydra's sweepers, chosen by ``optimized_metric``.

Optimising sweepers (Optuna) need the task function to return a float. ``optimized_metric``
is one of :data:`METRICS` or an arithmetic expression of them, such as
``abs(decision_rate - 0.5)`` (evaluated by :func:`pandas.eval`: arithmetic and the math
functions ``abs``, ``sqrt``, ``log``, ``exp``..., nothing else). A metric without a value for
the job (an exact rate where the protocol has no law, the mean first round where no trial
decided) is NaN, which Optuna records as a failed trial.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from paxos_exp.core.errors import ConfigError
from paxos_exp.schema import Summary

DEFAULT_METRIC = "decision_rate"


def _or_nan(value: float | int | None) -> float:
    return math.nan if value is None else float(value)


def _exact(summary: Summary, field: str) -> float:
    return math.nan if summary.theory is None else float(getattr(summary.theory, field))


def _leader_down_rate(summary: Summary) -> float:
    if summary.leader_down_rounds is None or not summary.rounds_total:
        return math.nan  # a result.json written before the count, or no rounds
    return summary.leader_down_rounds / summary.rounds_total


# name -> (what it is, how to read it from a job's summary)
METRICS: dict[str, tuple[str, Callable[[Summary], float]]] = {
    "decision_rate": ("fraction of trials that decided within the R rounds",
                      lambda s: _or_nan(s.decision_rate)),
    "round_decision_rate": ("fraction of rounds that decided",
                            lambda s: _or_nan(s.round_decision_rate)),
    "roundchange_rate": ("fraction of rounds without a proposal (the leader changed round, "
                         "or was down)", lambda s: _or_nan(s.roundchange_rate)),
    "leader_down_rate": ("fraction of rounds whose leader was down (crash_stop, crash_recovery)",
                         _leader_down_rate),
    "deciding_rounds_per_trial": ("deciding rounds per trial",
                                  lambda s: _or_nan(s.deciding_rounds_per_trial)),
    "first_decision_round_mean": ("mean first deciding round of the decided trials",
                                  lambda s: _or_nan(s.first_decision_round.mean)),
    "violation_rate": ("fraction of trials that broke a safety property",
                       lambda s: _or_nan(s.safety.violation_rate)),
    "messages_per_trial": ("messages put on the wire per trial",
                           lambda s: s.sent["total"] / s.trials),
    "exact_decision_rate": ("the exact probability of a decision within R rounds",
                            lambda s: _exact(s, "decision_within_rounds")),
    "exact_round_decision_rate": ("the exact probability that a round decides",
                                  lambda s: _exact(s, "round_decision_probability")),
}
# The job's own settings may take part in an expression too.
SETTINGS = ("nodes", "fail_prob", "rounds", "trials")


def describe() -> str:
    """The metric names, one line each (for the README and error messages)."""
    return "\n".join(f"  {name:<27} {text}" for name, (text, _) in METRICS.items())


def _evaluate(metric: str, values: Mapping[str, float]) -> float:
    if metric in values:
        return float(values[metric])
    import pandas as pd  # only for expressions; a plain name needs nothing

    return float(pd.eval(metric, local_dict=dict(values), engine="python", parser="pandas"))


def check(metric: Any) -> str:
    """``metric`` if it can be evaluated for a job, else a ConfigError saying what to give
    (checked before the job runs, on made-up values)."""
    if not isinstance(metric, str) or not metric.strip():
        raise ConfigError(f"optimized_metric={metric!r}: give a metric name such as "
                          f"{DEFAULT_METRIC} or an expression such as 'abs(decision_rate - 0.5)'")
    probe = {name: 0.375 for name in (*METRICS, *SETTINGS)}
    try:
        _evaluate(metric, probe)
    except ArithmeticError:
        pass  # a division by zero on made-up values says nothing about the expression
    except Exception as error:  # pandas raises many kinds for a bad expression
        text = str(error).strip()
        reason = text.splitlines()[0] if text else type(error).__name__
        raise ConfigError(
            f"optimized_metric={metric!r}: {reason}; give one of {', '.join(METRICS)} or an "
            "arithmetic expression of them and of nodes, fail_prob, rounds, trials, such as "
            "'abs(decision_rate - 0.5)'"
        ) from None
    return metric


def value(metric: str, summary: Summary, config: Mapping[str, Any]) -> float:
    """The job's value of ``metric`` (NaN when a metric it uses has none)."""
    values = {name: read(summary) for name, (_, read) in METRICS.items()}
    for name in SETTINGS:
        values[name] = float(config[name])
    try:
        return _evaluate(metric, values)
    except ArithmeticError:
        return math.nan
