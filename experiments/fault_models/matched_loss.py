"""Partitions against independent loss at the same message-loss rate (experiments/fault_models).

Reads the study's sweeps, puts the four models on one axis, the message-loss rate lam (the
probability that a given message between the round's leader and an acceptor is lost, over the
model's draws), and writes matched_loss.csv, matched_loss.md and matched_loss.{png,svg} beside
this file:

- omission, fail_prob = lam (the message becomes CRASH; the leader's messages to itself too);
- link_loss, rule leader_links, prob = lam (silent, independent per message);
- partition, isolated_leader, partition_prob = lam (all of a round's leader-acceptor
  messages lost together);
- partition, minority, partition_prob = lam / c(N), c(N) = E[2k(N-k)/N] / (N-1) the
  probability that a given acceptor is across a cut from the leader (fault_models_partition
  _matched_nN; lam = 0 from fault_models_partition).

Exact values: decision within R rounds is 1 - (1 - s)^R with s the per-round law (all four
models draw each round afresh: FaultModel.rounds_iid), s from docs/FAULTS.md's laws and checked
against the exhaustive explorer's one-round exploration wherever that takes under a few CPU
seconds (every point but link_loss at N = 7).

    .venv/bin/python experiments/fault_models/matched_loss.py /tmp/D/sweeps
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

import paxos_exp  # noqa: E402
from paxos_exp.analysis.stats import wilson_interval  # noqa: E402
from paxos_exp.core.config import RunConfig  # noqa: E402
from paxos_exp.core.faults.partition import cut_sizes  # noqa: E402
from paxos_exp.core.quorum import majority  # noqa: E402
from paxos_exp.core.theory import binomial_tail, quorum_probability  # noqa: E402
from paxos_exp.explore.explorer import explore  # noqa: E402

HERE = Path(__file__).resolve().parent
LOSS = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
NODES = [3, 5, 7]
MODELS = ["omission", "link_loss leader_links", "partition isolated_leader",
          "partition minority"]


def cut_fraction(nodes: int) -> float:
    return sum(w * 2 * k * (nodes - k) / nodes
               for k, w in cut_sizes("minority", nodes)) / (nodes - 1)


def per_round(model: str, nodes: int, lam: float) -> float:
    """The exact probability that a round decides (docs/FAULTS.md's laws)."""
    m = majority(nodes)
    if model == "omission":
        return quorum_probability(nodes, lam) ** 2
    if model == "link_loss leader_links":  # the leader always counts itself
        return binomial_tail(nodes - 1, (1 - lam) ** 2, m - 1) ** 2
    if model == "partition isolated_leader":  # the leader alone is no majority for N >= 3
        return 1 - lam
    prob = lam / cut_fraction(nodes)  # minority: the leader's side decides iff it is the majority
    return 1 - prob * sum(w * k / nodes for k, w in cut_sizes("minority", nodes))


def explored(model: str, nodes: int, lam: float) -> float | None:
    """The explorer's one round, where it is cheap; None where it is not."""
    if model == "link_loss leader_links" and nodes > 5:
        return None
    faults = {"omission": "omission",
              "link_loss leader_links": {"name": "link_loss", "rule": "leader_links", "prob": lam},
              "partition isolated_leader": {"name": "partition", "shape": "isolated_leader",
                                            "partition_prob": lam},
              "partition minority": {"name": "partition", "shape": "minority",
                                     "partition_prob": lam / cut_fraction(nodes)}}[model]
    config = RunConfig(nodes=nodes, fail_prob=lam if model == "omission" else 0.0, rounds=1,
                       faults=faults)
    return float(explore(config).decides[0])


def rows(sweeps: Path) -> pd.DataFrame:
    def table(*names: str) -> pd.DataFrame:
        # The jobs frame itself: one job per configuration (a job in two sweeps, the same
        # key, is kept once), so no summary (and none of its exact values) is needed here.
        jobs = paxos_exp.load_sweeps([sweeps / name for name in names], rounds=False,
                                     trials=False).jobs
        jobs = jobs[jobs.status == "ok"].drop_duplicates("job_key")
        low, high = wilson_interval(jobs.decided_trials.astype(float), jobs.trials.astype(float))
        return jobs.assign(ci_low=low, ci_high=high,
                           round_rate=jobs.deciding_rounds.astype(float)
                           / jobs.rounds_total.astype(float))

    def pick(frame: pd.DataFrame, **where) -> pd.Series:
        mask = pd.Series(True, index=frame.index)
        for key, value in where.items():
            if isinstance(value, float):
                mask &= (frame[key].astype(float) - value).abs() < 1e-9
            else:
                mask &= frame[key].astype(str) == str(value)
        found = frame[mask]
        assert len(found) == 1, (where, len(found))
        return found.iloc[0]

    omission = table("fault_models_omission")
    link = table("fault_models_link_loss")
    partition = table("fault_models_partition")
    matched = table(*(f"fault_models_partition_matched_n{n}" for n in NODES))
    out = []
    for nodes in NODES:
        for lam in LOSS:
            for model in MODELS:
                if model == "omission":
                    row = pick(omission, nodes=nodes, fail_prob=lam)
                    intensity = f"fail_prob={lam:g}"
                elif model == "link_loss leader_links":
                    row = pick(link, nodes=nodes, prob=lam)
                    intensity = f"prob={lam:g}"
                elif model == "partition isolated_leader":
                    row = pick(partition, nodes=nodes, shape="isolated_leader", partition_prob=lam)
                    intensity = f"partition_prob={lam:g}"
                else:
                    prob = lam / cut_fraction(nodes)
                    row = (pick(partition, nodes=nodes, shape="minority", partition_prob=0.0)
                           if lam == 0 else pick(matched, nodes=nodes, partition_prob=prob))
                    intensity = f"partition_prob={prob:.6g}"
                s = per_round(model, nodes, lam)
                check = explored(model, nodes, lam)
                if check is not None:
                    assert abs(check - s) < 1e-9, (model, nodes, lam, check, s)
                rounds, trials = int(row["rounds"]), int(row["trials"])
                exact = 1 - (1 - s) ** rounds
                se = math.sqrt(exact * (1 - exact) / trials)
                rate = float(row["decision_rate"])
                out.append({
                    "nodes": nodes, "loss_rate": lam, "model": model, "intensity": intensity,
                    "rounds": rounds, "trials": trials,
                    "decided_trials": int(row["decided_trials"]),
                    "decision_rate": rate, "ci_low": float(row["ci_low"]),
                    "ci_high": float(row["ci_high"]), "exact": exact,
                    "z": (rate - exact) / se if se > 0 else 0.0,
                    "round_rate": float(row["round_rate"]), "round_exact": s,
                    "explorer_checked": check is not None,
                })
    return pd.DataFrame(out)


def draw(table: pd.DataFrame) -> None:
    styles = {"omission": ("C0", "o"), "link_loss leader_links": ("C1", "s"),
              "partition isolated_leader": ("C2", "^"), "partition minority": ("C3", "D")}
    fig, axes = plt.subplots(1, len(NODES), figsize=(6.9, 2.5), sharey=True,
                             constrained_layout=True)
    with plt.rc_context({"font.size": 8}):
        for ax, nodes in zip(axes, NODES):
            for model in MODELS:
                colour, marker = styles[model]
                part = table[(table.nodes == nodes) & (table.model == model)]
                ax.plot(part.loss_rate, part.exact, color=colour, lw=1)
                ax.errorbar(part.loss_rate, part.decision_rate,
                            yerr=[part.decision_rate - part.ci_low,
                                  part.ci_high - part.decision_rate],
                            fmt=marker, ms=3.5, color=colour, mfc="white", capsize=1.5, lw=0.8,
                            label=model)
            ax.set_title(f"N = {nodes}", fontsize=8)
            ax.set_xlabel("message-loss rate", fontsize=7)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
        axes[0].set_ylabel("decision within R = 2 rounds", fontsize=8)
        axes[-1].legend(fontsize=6, loc="lower left")
    for suffix in ("png", "svg"):
        fig.savefig(HERE / f"matched_loss.{suffix}", dpi=200)
    plt.close(fig)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: matched_loss.py SWEEPS_DIR (holding the fault_models_* sweeps)",
              file=sys.stderr)
        return 2
    table = rows(Path(argv[0]))
    table.to_csv(HERE / "matched_loss.csv", index=False, float_format="%.6g")
    shown = table.assign(
        measured=[f"{r:.3f} [{lo:.3f}, {hi:.3f}]" for r, lo, hi in
                  zip(table.decision_rate, table.ci_low, table.ci_high)],
        exact=table.exact.map("{:.4f}".format), z=table.z.map("{:+.2f}".format),
        per_round=[f"{m:.3f} / {e:.4f}" for m, e in zip(table.round_rate, table.round_exact)])
    (HERE / "matched_loss.md").write_text(
        shown[["nodes", "loss_rate", "model", "intensity", "measured", "exact", "z", "per_round"]]
        .to_markdown(index=False) + "\n")
    draw(table)
    print(f"{len(table)} rows; largest |z| {table.z.abs().max():.2f}; "
          f"explorer-checked {int(table.explorer_checked.sum())}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
