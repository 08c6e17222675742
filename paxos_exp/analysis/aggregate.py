"""One row per configuration: rates with Wilson intervals, the exact theory, and deviations.

Jobs are grouped by every configuration column that varies (plus nodes, fail_prob and rounds
always), so a sweep mixing, say, two engines or two quorum variants is never averaged across
them. Only replicates are pooled: jobs that differ in nothing but ``seed`` or ``trials`` are
independent samples of the same configuration, so their counts are added up (``jobs`` and
``seeds`` say how many went into a row).

Exact values come from :mod:`paxos_exp.analysis.theory` (``theory_source``: the closed form,
else the exhaustive explorer within a budget, else ``simulation only`` and NaN); the closed
form (PROTOCOL.md, "Exact decision probability"), with ``f`` the probability that one phase
gathers its quorum and ``s = f_join * f_vote`` (``f^2`` for majorities):
- ``theory``: at least one decision within ``R`` rounds, ``1 - (1 - s)^R``;
- ``round_theory``: one round decides, ``s``; ``roundchange_theory``: ``1 - f_join``;
- ``first_round_theory``: mean first deciding round among trials that decide (a geometric law
  cut at ``R``);
- ``messages_theory``: expected messages per decision. Every failure draw still puts a message
  on the wire (the real one or a CRASH), so a round sends ``2N - 1`` messages in the join
  phase, then ``2N - 1`` more when the leader proposes (probability ``f_join``) or ``N - 1``
  ROUNDCHANGEs when it does not; per decision that is the expected count per round over ``s``;
- ``violation_theory``: a trial breaks safety within ``R`` rounds (0 where the configuration
  claims safety, else the explorer's), beside ``violation_rate`` (``violation_z``).
Explored rows: ``round_theory`` and ``join_theory`` (``roundchange_theory``) are averaged over
the ``R`` rounds (what ``round_rate`` and ``roundchange_rate`` measure); ``messages_theory`` is
the closed form's only (the explorer counts no messages). ``round_z`` only where rounds are
independent (closed form, per-round law, or one round).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from paxos_exp.analysis.missing import RECORD_NEUTRAL_KEYS
from paxos_exp.analysis.row_config import (  # noqa: F401 - row_law: re-exported
    row_law,
    setting_columns,
)
from paxos_exp.analysis.stats import (
    acceptance_interval,
    outside_acceptance,
    wilson_interval,
    z_score,
)
from paxos_exp.analysis.theory import CLOSED_FORM, PER_ROUND, row_exact

CORE_KEYS = ("nodes", "fail_prob", "rounds")
# Pooled, never grouped on (unless asked): independent replicates of the same configuration.
REPLICATE_KEYS = ("seed", "trials")
# Every configuration column paxos-exp writes, for frames that do not say which theirs are.
DEFAULT_CONFIG_COLUMNS = (
    "nodes", "fail_prob", "rounds", "trials", "seed", "initial_values", "engine", "trace",
    "protocol", "faults", "safety", "allow_unsafe", "join_quorum", "vote_quorum", "start_method", "startup_timeout", "receive_timeout",
    "barrier_timeout",
)
# Deadlines decide whether a job finishes, never what it records (they are not in the job key
# either): never a reason to split a configuration, unless asked for on an axis.
NEVER_GROUPED = RECORD_NEUTRAL_KEYS
NO_DECISION = -1  # the first_round value of trials that never decided

# Counts summed over the jobs of a configuration (the ones a frame has).
_SUMMED = (
    "trials", "decided", "rounds_total", "deciding_rounds", "roundchanges", "leader_down_rounds",
    "sent_start",
    "sent_join", "sent_propose", "sent_vote", "sent_roundchange", "sent_crash", "sent_total",
    "crashed", "silenced", "unsafe_count", "wall_seconds", "wall_simulation",
)


# ----------------------------------------------------------------------------- theory


_LAW_COLUMNS = ("protocol", "faults", "join_quorum", "vote_quorum", "initial_values")
_THEORY_COLUMNS = ["theory", "round_theory", "join_theory", "roundchange_theory",
                   "first_round_theory", "messages_theory", "violation_theory"]


def theory_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The exact columns for every row of a frame with nodes, fail_prob, rounds (and the
    protocol, fault model with its settings, and quorums), from
    :func:`paxos_exp.analysis.theory.row_exact`: the closed form, else the explorer within
    the budget; NaN where there is none, and ``theory_source`` says which it was."""
    records = []
    for _, row in frame.iterrows():
        exact = row_exact(row, violations=True)
        rounds = exact.rounds
        if not exact.exact:
            records.append({**dict.fromkeys(_THEORY_COLUMNS, math.nan),
                            "theory_source": exact.source})
            continue
        records.append({
            "theory": exact.decision_within(rounds),
            "round_theory": exact.decides,
            "join_theory": exact.proposes,
            "roundchange_theory": 1.0 - exact.proposes,
            "first_round_theory": exact.first_round_mean(rounds),
            "messages_theory": exact.messages_per_decision(int(row["nodes"])),
            "violation_theory": exact.violation,
            "theory_source": exact.source,
        })
    out = pd.DataFrame(records, index=frame.index, columns=[*_THEORY_COLUMNS, "theory_source"])
    out[_THEORY_COLUMNS] = out[_THEORY_COLUMNS].astype(float)
    out["theory_source"] = out["theory_source"].astype(object)
    return out


# ----------------------------------------------------------------------------- grouping


def varies(frame: pd.DataFrame, column: str) -> bool:
    """Whether a column holds more than one distinct value (a missing value counts as one)."""
    return column in frame.columns and frame[column].astype(str).nunique(dropna=False) > 1


def group_keys(
    jobs: pd.DataFrame,
    config_columns: Sequence[str] | None = None,
    extra: Iterable[str | None] = (),
    pool: Sequence[str] = REPLICATE_KEYS,
) -> list[str]:
    """nodes, fail_prob, rounds, every other configuration column that varies (except the
    pooled replicate keys), and any ``extra`` key asked for (a figure's hue, say)."""
    columns = list(config_columns) if config_columns is not None else [
        c for c in DEFAULT_CONFIG_COLUMNS if c in jobs.columns]
    keys = [key for key in CORE_KEYS if key in jobs.columns]
    for column in columns:
        if column not in keys and column not in pool and column not in NEVER_GROUPED and varies(
            jobs, column
        ):
            keys.append(column)
    for column in extra:
        if column and column not in keys:
            if column not in jobs.columns:
                raise KeyError(column)
            keys.append(column)
    return keys


def _sortable(frame: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Object columns mixing None with numbers or text sort badly: make them text."""
    frame = frame.copy()
    for key in keys:
        if frame[key].dtype == object:
            values = frame[key].dropna()
            kinds = {type(v) for v in values}
            if len(kinds) > 1 or (len(values) < len(frame) and kinds - {int, float, str}):
                frame[key] = frame[key].map(lambda v: None if v is None else str(v))
    return frame


def summarize(
    jobs: pd.DataFrame,
    keys: Sequence[str] | None = None,
    config_columns: Sequence[str] | None = None,
    extra: Iterable[str | None] = (),
    pool: Sequence[str] = REPLICATE_KEYS,
) -> pd.DataFrame:
    """One row per configuration (see the module docstring for every column).

    ``jobs`` is the jobs frame of :func:`paxos_exp.analysis.load.load` (only ``status == ok``
    rows are used) or any frame with at least nodes, fail_prob, rounds, trials and decided.
    ``keys`` overrides the grouping; otherwise it is :func:`group_keys` (``pool=()`` keeps
    replicates with different seeds or trial counts apart).
    """
    if "status" in jobs.columns:
        jobs = jobs[jobs["status"] == "ok"]
    if keys is None:
        keys = group_keys(jobs, config_columns, extra, pool)
    keys = list(keys)
    columns = [*keys, "jobs", "seeds", *_OUTPUT_COLUMNS]
    if jobs.empty:
        return pd.DataFrame(columns=columns)
    work = _sortable(jobs, keys)
    work["_first_sum"] = work.get("first_round_mean", pd.Series(np.nan, index=work.index)).fillna(
        0.0) * work["decided"]
    work["_jobs"] = 1
    summed = [c for c in _SUMMED if c in work.columns and c not in keys] + ["_first_sum", "_jobs"]
    # observed=True: categorical keys give the groups that exist, not every combination.
    grouped = work.groupby(keys, dropna=False, sort=True, observed=True)
    out = grouped[summed].sum(min_count=1)
    if "leader_down_rounds" in summed:
        # Jobs written before it was counted have none: a sum over the others would
        # understate the group's rate, so the group has none either.
        counted = grouped["leader_down_rounds"].count() == grouped.size()
        out["leader_down_rounds"] = out["leader_down_rounds"].where(counted)
    out["seeds"] = (grouped["seed"].agg(lambda s: ",".join(str(v) for v in sorted(set(s))))
                    if "seed" in work.columns and "seed" not in keys else "")
    if "safe" in work.columns:
        out["safe"] = grouped["safe"].all()
    # What the exact law depends on, when it is the same in every row of a group (not a
    # grouping key); missing (so no theory) where it differs within the group.
    for column in (*CORE_KEYS, *_LAW_COLUMNS):
        if column in work.columns and column not in keys:
            single = grouped[column].nunique(dropna=False) <= 1
            out[column] = grouped[column].first().astype(object).where(single)
    # The plug-ins' settings too (they rebuild a configuration for the explorer; dropped from
    # the summary's columns); a setting that differs within a group leaves it no theory.
    settings = [c for c in setting_columns() if c in work.columns and c not in keys]
    if settings:
        single = grouped[settings].nunique(dropna=False) <= 1
        for column in settings:
            out[column] = grouped[column].first().astype(object).where(single[column])
        out["_settings_vary"] = ~single.all(axis=1)
    out = out.reset_index().rename(columns={"_jobs": "jobs"})
    if "trials" in keys:  # asked to group on it: the per-job count is also the total per job
        out["trials"] = out["trials"] * out["jobs"]
    derived = _derive(out)
    return derived[[column for column in columns if column in derived.columns]]


_OUTPUT_COLUMNS = [
    "trials", "decided", "decision_rate", "ci_low", "ci_high", "theory", "theory_source", "z",
    "accept_low", "accept_high", "outside_99",
    "rounds_total", "deciding_rounds", "round_rate", "round_ci_low", "round_ci_high",
    "round_theory", "round_z", "round_outside_99",
    "roundchange_rate", "roundchange_theory", "join_theory", "leader_down_rate",
    "first_round_mean", "first_round_theory",
    "sent_total", "messages_per_round", "messages_per_decision",
    "messages_per_decision_low", "messages_per_decision_high", "messages_theory",
    "crashed", "silenced", "safe", "violations", "violation_rate", "violation_ci_low",
    "violation_ci_high", "violation_theory", "violation_z", "wall_seconds", "wall_per_trial_ms",
]


def _derive(out: pd.DataFrame) -> pd.DataFrame:
    out = out.copy()
    for column in ("rounds_total", "deciding_rounds", "roundchanges", "leader_down_rounds",
                   "sent_total",
                   "crashed", "silenced", "wall_seconds"):
        if column not in out.columns:
            out[column] = np.nan
    if "safe" not in out.columns:
        out["safe"] = True
    trials = out["trials"].to_numpy(dtype=float)
    decided = out["decided"].to_numpy(dtype=float)
    rounds_total = out["rounds_total"].to_numpy(dtype=float)
    deciding = out["deciding_rounds"].to_numpy(dtype=float)
    exact = theory_columns(out)
    out = pd.concat([out, exact], axis=1)

    out["decision_rate"] = decided / trials
    out["ci_low"], out["ci_high"] = wilson_interval(decided, trials)
    # Trials that broke agreement, validity or proposal consistency (a protocol that does
    # not claim safety records them as an outcome).
    violations = (out["unsafe_count"].fillna(0).to_numpy(dtype=float)
                  if "unsafe_count" in out.columns else np.zeros(len(out)))
    out["violations"] = violations.astype(int)
    out["violation_rate"] = violations / trials
    out["violation_ci_low"], out["violation_ci_high"] = wilson_interval(violations, trials)
    out["violation_z"] = z_score(violations, trials, out["violation_theory"])
    out["z"] = z_score(decided, trials, out["theory"])
    low, high = acceptance_interval(trials, out["theory"])
    out["accept_low"], out["accept_high"] = low / trials, high / trials
    out["outside_99"] = outside_acceptance(decided, trials, out["theory"])

    with np.errstate(divide="ignore", invalid="ignore"):
        has_rounds = rounds_total > 0
        out["round_rate"] = np.where(has_rounds, deciding / rounds_total, np.nan)
        out["round_ci_low"], out["round_ci_high"] = wilson_interval(
            np.nan_to_num(deciding), np.nan_to_num(rounds_total))
        # Rounds are independent draws only under a per-round law (or one round a trial):
        # elsewhere (crash_stop...) a trial's rounds are correlated, and a binomial z over
        # them would overstate its precision, so none is given.
        independent = (out["theory_source"].isin([CLOSED_FORM, PER_ROUND])
                       | (out["rounds"].astype(float) == 1)).to_numpy()
        round_theory = out["round_theory"].where(independent)
        out["round_z"] = z_score(deciding, rounds_total, round_theory)
        out["round_outside_99"] = outside_acceptance(
            np.nan_to_num(deciding), np.nan_to_num(rounds_total), round_theory)
        roundchanges = out["roundchanges"].to_numpy(dtype=float)
        out["roundchange_rate"] = np.where(has_rounds, roundchanges / rounds_total, np.nan)
        # Rounds whose leader was down (counted among the round changes: no proposal); NaN
        # for results written before it was counted.
        leader_down = out["leader_down_rounds"].to_numpy(dtype=float)
        out["leader_down_rate"] = np.where(has_rounds, leader_down / rounds_total, np.nan)
        first_sum = out["_first_sum"].to_numpy(dtype=float)
        out["first_round_mean"] = np.where(decided > 0, first_sum / decided, np.nan)
        messages = out["sent_total"].to_numpy(dtype=float)
        per_round = np.where(has_rounds, messages / rounds_total, np.nan)
        out["messages_per_round"] = per_round
        out["messages_per_decision"] = np.where(deciding > 0, messages / deciding, np.nan)
        # The interval comes from the per-round decision rate's Wilson interval: the message
        # count per round varies little, the number of decisions carries the uncertainty.
        round_low = out["round_ci_low"].to_numpy(dtype=float)
        round_high = out["round_ci_high"].to_numpy(dtype=float)
        out["messages_per_decision_low"] = np.where(deciding > 0, per_round / round_high, np.nan)
        out["messages_per_decision_high"] = np.where(
            (deciding > 0) & (round_low > 0), per_round / round_low, np.inf)
        out.loc[~(deciding > 0), "messages_per_decision_high"] = np.nan
        out["wall_per_trial_ms"] = 1000.0 * out["wall_seconds"].to_numpy(dtype=float) / trials
    return out.drop(columns=["_first_sum", "_settings_vary"], errors="ignore")


def outliers(summary: pd.DataFrame) -> pd.DataFrame:
    """Configurations whose decision count, or per-round decision count, falls outside the
    99% interval around theory."""
    if summary.empty:
        return summary
    mask = summary["outside_99"].astype(bool) | summary["round_outside_99"].astype(bool)
    return summary[mask]


# ----------------------------------------------------------------------------- first round


FIRST_ROUND_COLUMNS = ("first_round", "count", "trials", "fraction", "theory")


def first_round_distribution(trials: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """How often the first decision came in round ``k`` (``first_round = -1``: never), per
    configuration, with the exact probability beside it (``theory``). Every round ``0..R-1``
    gets a row, with a zero count when no trial decided first there."""
    keys = list(keys)
    columns = [*keys, *FIRST_ROUND_COLUMNS]
    if trials.empty:
        return pd.DataFrame(columns=columns)
    work = _sortable(trials, keys)
    work = work.assign(first_round=work["first_decision_round"].fillna(NO_DECISION).astype(int))
    grouped = work.groupby(keys, dropna=False, sort=True, observed=True)
    # Counted for every group at once (one bincount over group x first round), not group by
    # group: a sweep has hundreds of groups.
    group = grouped.ngroup().to_numpy()
    configs = grouped.size().index  # the groups' key values, in the order ngroup numbers them
    first = work["first_round"].to_numpy()  # NO_DECISION (-1), 0, 1, ...
    width = int(first.max()) + 2
    counts = np.bincount(group * width + first + 1, minlength=len(configs) * width
                         ).reshape(len(configs), width)
    totals = counts.sum(axis=1)
    first_rows = np.unique(group, return_index=True)[1]  # each group's first row
    rows = []
    for number, values in enumerate(configs):
        values = values if isinstance(values, tuple) else (values,)
        rounds = int(dict(zip(keys, values))["rounds"])
        # The law's other columns (protocol, quorums, settings) are the same in every row of
        # a group.
        exact = row_exact(work.iloc[first_rows[number]])
        probabilities = (exact.first_round(rounds) if exact.exact
                         else [math.nan] * (rounds + 1))
        total = int(totals[number])
        for k, probability in zip([*range(rounds), NO_DECISION], probabilities):
            count = int(counts[number, k + 1]) if k + 1 < width else 0
            rows.append((*values, k, count, total, count / total, probability))
    out = pd.DataFrame(rows, columns=columns)
    for key in keys:
        out[key] = out[key].astype(work[key].dtype)
    return out
