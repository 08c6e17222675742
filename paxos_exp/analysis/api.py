"""The public pandas API: sweeps as typed tidy frames, and the summary table.

``paxos_exp.load_sweeps`` and ``paxos_exp.summarize`` are these functions::

    import paxos_exp
    sweeps = paxos_exp.load_sweeps("outputs/sweeps/decision_vs_failure")
    table = paxos_exp.summarize(sweeps.jobs, by=["nodes", "fail_prob", "rounds"])

Column names keep one meaning across every frame:

- ``trials``: a number of trials (the jobs frame: the trials a job ran; a summary: the trials
  pooled into a row). It is never a column of the per-trial or per-round frames.
- ``trial``: a trial's index within its job; ``round``: a round's index within its trial
  (``rounds``, the configuration key, is how many rounds each trial runs).
- ``decided``: a boolean (this trial decided within its rounds; this round decided);
  ``decided_trials``: a count of trials that decided.
- ``first_decision_round``, ``decision`` and ``proposal``: nullable integers (``<NA>`` where
  there is none), never floats.

Configuration columns (``protocol``, ``faults``, ``nodes``, ``fail_prob``, ``rounds``, ...)
are ordered categoricals (they sort and compare as their values do; ``.astype(float)``
gives a numeric axis); booleans stay booleans.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from paxos_exp.analysis import aggregate
from paxos_exp.analysis.load import load

__all__ = ["Sweeps", "load_sweeps", "summarize"]

# Outcome counts of the jobs frame that a failed job lacks: nullable integers.
_JOB_COUNTS = (
    "decided_trials", "rounds_total", "deciding_rounds", "roundchanges", "first_round_min",
    "first_round_max", "decisions_0", "decisions_1", "sent_start", "sent_join",
    "sent_propose", "sent_vote", "sent_roundchange", "sent_crash", "sent_total", "crashed",
    "silenced", "unsafe_count", "first_unsafe_trial",
)
_JOB_FLAGS = ("safe", "claims_safety")  # booleans a failed job lacks: nullable booleans


@dataclass(frozen=True)
class Sweeps:
    """What :func:`load_sweeps` returns: tidy frames, one row per job, trial and round.

    - ``jobs``: every job found with a readable result.json (``status`` ok, failed or
      interrupted): its configuration columns, then its outcome counts (``trials``,
      ``decided_trials``, ``decision_rate``, ``rounds_total``, ``deciding_rounds``, message
      counts ``sent_<kind>``, ``crashed``, ``silenced``, ``safe``, wall times, ``job_dir``).
    - ``trials``: one row per trial of every completed job: ``job_key``, the configuration
      columns, ``trial``, ``trial_initial_values`` (the values drawn for it), ``decided``,
      ``first_decision_round``, ``deciding_rounds``, ``decision``, ``agreement_ok``,
      ``validity_ok``, ``proposals_ok``. None with ``trials=False``.
    - ``rounds``: one row per round: ``job_key``, the configuration columns, ``trial``,
      ``round``, ``leader``, ``joins``, ``proposal``, ``votes``, ``decided``, ``decision``,
      ``sent_<kind>``, ``crashed``, ``silenced``. None with ``rounds=False``.
    - ``problems``: every job missing, failed, interrupted, unreadable or set aside, with
      why (``kind``, ``path``, ``job_key``, ``detail``); nothing is dropped silently.
    - ``config_columns``: the configuration columns of the jobs frame, in order (all but
      ``trials`` are also in the per-trial and per-round frames).
    """

    jobs: pd.DataFrame
    trials: pd.DataFrame | None
    rounds: pd.DataFrame | None
    problems: pd.DataFrame
    config_columns: tuple[str, ...]

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={'None' if frame is None else len(frame)}"
                          for name, frame in (("jobs", self.jobs), ("trials", self.trials),
                                              ("rounds", self.rounds),
                                              ("problems", self.problems)))
        return f"Sweeps({sizes})"


def load_sweeps(
    paths: Path | str | Iterable[Path | str], *, trials: bool = True, rounds: bool = True
) -> Sweeps:
    """Read sweep directories (or job directories, or globs) into typed tidy frames.

    ``paths``: one path or several; their jobs are read together (a job found twice is
    counted once). ``rounds=False`` skips the per-round frame (the big one: R rows per trial);
    ``trials=False`` skips the per-trial frame too. Tables are read from Parquet, or from CSV
    for jobs written with ``tables=csv`` or before Parquet existed.

    Returns a :class:`Sweeps` (``jobs``, ``trials``, ``rounds``, ``problems``,
    ``config_columns``). Configuration columns are ordered categoricals, counts are small
    integers (nullable where a value may be missing), flags are booleans. Raises
    ``paxos_exp.analysis.discover.ReportError`` (a ``ValueError``) when a path does not exist
    or holds no results.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    results = load(paths, trials=trials, rounds=rounds, categorical=True)
    for frame in (results.trials, results.rounds):
        if frame is not None and "trials" in frame.columns:
            del frame["trials"]  # in place: a copy of the big frame would double its memory
    return Sweeps(
        jobs=_typed_jobs(results.jobs, results.config_columns),
        trials=results.trials if trials else None,
        rounds=results.rounds,
        problems=results.problems,
        config_columns=tuple(results.config_columns),
    )


def _typed_jobs(jobs: pd.DataFrame, config_columns: Sequence[str]) -> pd.DataFrame:
    """The jobs frame with its public types and names."""
    jobs = jobs.rename(columns={"decided": "decided_trials"})
    if jobs.empty:
        return jobs
    jobs = jobs.copy()
    for column in config_columns:
        values = jobs[column]
        present = values.dropna()
        if column == "trials" or (len(present) and all(
                isinstance(value, (bool, np.bool_)) for value in present)):
            continue  # a count, or a flag: kept as it is
        jobs[column] = _ordered_categorical(values)
    for column in ("sweep", "status"):
        jobs[column] = jobs[column].astype("category")
    for column in _JOB_COUNTS:
        if column in jobs.columns:
            jobs[column] = jobs[column].astype("Int64")
    for column in _JOB_FLAGS:
        if column in jobs.columns:
            jobs[column] = jobs[column].astype("boolean")
    return jobs


def _ordered_categorical(values: pd.Series) -> pd.Series:
    present = values.dropna()
    try:
        categories = sorted(set(present))
        return values.astype(pd.CategoricalDtype(categories, ordered=True))
    except TypeError:  # values that do not sort together (numbers and text): as found
        return values.astype("category")


def summarize(frame: pd.DataFrame, by: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per configuration: decision rates with 95% Wilson intervals beside the exact
    theory of PROTOCOL.md.

    ``frame``: the ``jobs`` or the ``trials`` frame of :func:`load_sweeps` (filtered as you
    like; only completed jobs count). ``by``: the columns to group on; by default every
    configuration column that varies, with replicates (jobs differing only in ``seed`` or
    ``trials``) pooled.

    Columns: the ``by`` columns; ``jobs`` and ``seeds`` (what was pooled); ``trials`` and
    ``decided_trials``; ``decision_rate`` with ``ci_low``/``ci_high``; ``theory`` (the exact
    probability of a decision within R rounds), ``z`` (the deviation in standard errors),
    ``accept_low``/``accept_high`` and ``outside_99`` (the 99% binomial interval around
    theory); per round: ``round_rate`` with its interval, ``round_theory``;
    ``first_round_mean`` and ``first_round_theory``; from the jobs frame also round changes,
    messages per decision (with theory), crashes, safety (``safe``, ``violations``,
    ``violation_rate``) and wall times. Theory is missing (``NaN``) where a group mixes
    node counts, crash probabilities or round limits, or has no exact law.
    """
    if "leader" in frame.columns and "round" in frame.columns:
        raise ValueError("summarize takes the jobs or the trials frame of load_sweeps, not the "
                         "rounds frame (group it with pandas: frame.groupby(...))")
    from_trials = "trial" in frame.columns and "decided_trials" not in frame.columns
    jobs = _jobs_of_trials(frame) if from_trials else _as_job_counts(frame)
    if by is not None:
        by = [by] if isinstance(by, str) else list(by)
        absent = [column for column in by if column not in jobs.columns]
        if absent:
            raise ValueError(f"summarize: no column {', '.join(absent)} to group by; "
                             f"choose from {', '.join(map(str, frame.columns))}")
    summary = aggregate.summarize(jobs, keys=by)
    summary = summary.rename(columns={"decided": "decided_trials"})
    if from_trials:  # what per-trial rows cannot tell (messages, round changes) is left out
        summary = summary.drop(columns=[column for column in _NOT_FROM_TRIALS
                                        if column in summary.columns])
    for column in _SUMMARY_COUNTS:
        values = summary.get(column)
        if values is not None and values.notna().all() and (values % 1 == 0).all():
            summary[column] = values.astype("Int64")
    # Inside or outside an interval around theory only where there is a theory.
    for flag, theory in (("outside_99", "theory"), ("round_outside_99", "round_theory")):
        if flag in summary.columns:
            summary[flag] = summary[flag].astype("boolean").mask(summary[theory].isna())
    return summary


# Summary columns that count something: integers.
_SUMMARY_COUNTS = ("jobs", "trials", "decided_trials", "rounds_total", "deciding_rounds",
                   "sent_total", "crashed", "silenced", "violations")
# Summary columns a per-trial frame cannot tell (they need every round's messages).
_NOT_FROM_TRIALS = ("roundchange_rate", "sent_total", "messages_per_round",
                    "messages_per_decision", "messages_per_decision_low",
                    "messages_per_decision_high", "crashed", "silenced", "wall_seconds",
                    "wall_per_trial_ms")


def _as_job_counts(jobs: pd.DataFrame) -> pd.DataFrame:
    """A jobs frame as :func:`aggregate.summarize` reads it (``decided``, plain numbers)."""
    jobs = jobs.rename(columns={"decided_trials": "decided"})
    if "status" in jobs.columns:
        jobs = jobs[jobs["status"] == "ok"]
    jobs = jobs.copy()
    for column in jobs.columns:
        if isinstance(jobs[column].dtype, pd.Int64Dtype):
            jobs[column] = jobs[column].astype("float64")
        elif isinstance(jobs[column].dtype, pd.BooleanDtype):
            jobs[column] = jobs[column].fillna(True).astype(bool)
    return jobs


def _jobs_of_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """Per-trial rows added up per job (``job_key``), as job rows with counts."""
    if trials.empty:
        return pd.DataFrame(columns=["nodes", "fail_prob", "rounds", "trials", "decided"])
    key = ["job_key"] if "job_key" in trials.columns else [
        column for column in aggregate.DEFAULT_CONFIG_COLUMNS if column in trials.columns]
    decided = trials["decided"].astype(bool)
    unsafe = ~(trials["agreement_ok"] & trials["validity_ok"] & trials["proposals_ok"]) \
        if {"agreement_ok", "validity_ok", "proposals_ok"} <= set(trials.columns) else None
    work = pd.DataFrame({
        **{column: trials[column] for column in key},
        "decided": decided,
        "deciding_rounds": trials["deciding_rounds"].astype(float),
        "first": trials["first_decision_round"].astype("Float64").astype(float),
        "unsafe": unsafe if unsafe is not None else False,
    })
    grouped = work.groupby(key, observed=True, sort=False, dropna=False)
    jobs = grouped.agg(trials=("decided", "size"), decided=("decided", "sum"),
                       deciding_rounds=("deciding_rounds", "sum"),
                       first_round_mean=("first", "mean"), unsafe_count=("unsafe", "sum"))
    jobs = jobs.reset_index()
    others = [column for column in trials.columns if column in aggregate.DEFAULT_CONFIG_COLUMNS
              and column not in key and column != "trials"]
    if others and key == ["job_key"]:
        first = trials.groupby("job_key", observed=True, sort=False)[others].first()
        jobs = jobs.join(first, on="job_key")
    if "rounds" in jobs.columns:
        jobs["rounds_total"] = jobs["trials"] * jobs["rounds"].astype(float)
    jobs["decided"] = jobs["decided"].astype(float)
    return jobs
