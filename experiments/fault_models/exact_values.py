"""The exact value of every row of the study's summary.csv (experiments/fault_models).

paxos-report fills `theory` where its exploration budget allows; at the time of this run it
left 117 of the 139 rows "simulation only" (N = 7 beyond the default budget, and every
crash_recovery and partition row: see README, "Checks"). This script gives every row its exact
value and z, and draws them: exact_values.csv, exact_values.md, exact_values.{png,svg}.

Where the value comes from (`source`):

- `closed form`: omission, PROTOCOL.md's f^2 per round;
- `law`: a per-round law s of docs/FAULTS.md with rounds independent (R rounds: 1 - (1 - s)^R),
  checked against the exhaustive explorer's one round (`law = explorer`) wherever that is
  cheap:
  crash_recovery with down_rounds = 1, s = (1 - c) P(Bin(N-1, 1-c) >= M-1) (a node is down in a
  round with probability c, independently: back the next round, it draws again); partition,
  s = 1 - partition_prob E[k]/N (minority: the round fails iff the leader is on the minority
  side) or 1 - partition_prob (isolated_leader, N >= 3); link_loss leader_links,
  s = P(Bin(N-1, (1-prob)^2) >= M-1)^2 (the leader always counts itself);
- `explorer`: crash_stop (rounds depend on each other: crashes accumulate), every fault pattern
  of both rounds explored.

    .venv/bin/python experiments/fault_models/exact_values.py      # reads summary.csv beside it
"""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from paxos_exp.core.config import RunConfig  # noqa: E402
from paxos_exp.core.faults.partition import cut_sizes  # noqa: E402
from paxos_exp.core.quorum import majority  # noqa: E402
from paxos_exp.core.theory import binomial_tail, quorum_probability  # noqa: E402
from paxos_exp.explore.explorer import explore  # noqa: E402

HERE = Path(__file__).resolve().parent
# Explorer checks of a law: (model, N) pairs cheap enough (a few CPU seconds a point).
CHECK = {("crash_recovery", 3), ("crash_recovery", 5), ("partition", 3), ("partition", 5),
         ("partition", 7), ("link_loss", 3), ("link_loss", 5)}
PANELS = [("omission", None, "fail_prob", "crash probability p per message"),
          ("crash_stop", None, "crash_prob", "crash probability per node and round"),
          ("crash_recovery", None, "crash_prob", "crash probability per node and round"),
          ("link_loss", None, "prob", "loss probability per leader link message"),
          ("partition", "minority", "partition_prob",
           "partition probability per round (minority cut)"),
          ("partition", "isolated_leader", "partition_prob",
           "partition probability per round (isolated leader)")]


def intensity(row: pd.Series) -> tuple[str, float]:
    key = {"omission": "fail_prob", "crash_stop": "crash_prob", "crash_recovery": "crash_prob",
           "link_loss": "prob", "partition": "partition_prob"}[row.faults]
    return key, float(row[key])


def faults_of(row: pd.Series) -> dict | str:
    key, value = intensity(row)
    if row.faults == "omission":
        return "omission"
    if row.faults == "crash_stop":
        return {"name": "crash_stop", "crash_prob": value}
    if row.faults == "crash_recovery":
        return {"name": "crash_recovery", "crash_prob": value, "down_rounds": 1, "amnesia": False}
    if row.faults == "link_loss":
        return {"name": "link_loss", "rule": "leader_links", "prob": value}
    return {"name": "partition", "shape": row["shape"], "partition_prob": value}


def per_round(row: pd.Series) -> float:
    nodes, m = int(row.nodes), majority(int(row.nodes))
    _, x = intensity(row)
    if row.faults == "omission":
        return quorum_probability(nodes, x) ** 2
    if row.faults == "crash_recovery":
        return (1 - x) * binomial_tail(nodes - 1, 1 - x, m - 1)
    if row.faults == "link_loss":
        return binomial_tail(nodes - 1, (1 - x) ** 2, m - 1) ** 2
    if row["shape"] == "isolated_leader":
        return 1 - x
    return 1 - x * sum(w * k / nodes for k, w in cut_sizes("minority", nodes))


def exact_of(row: pd.Series) -> tuple[float, float | None, str]:
    """(P(decision within R), P(a round decides) where rounds are alike, source)."""
    rounds = int(row.rounds)
    config = RunConfig(nodes=int(row.nodes), rounds=rounds, faults=faults_of(row),
                       fail_prob=float(row.fail_prob))
    if row.faults == "crash_stop":
        return float(explore(config).decided_within), None, "explorer"
    s = per_round(row)
    within = 1 - (1 - s) ** rounds
    if row.faults == "omission":
        return within, s, "closed form"
    if (row.faults, int(row.nodes)) in CHECK:  # one round explored: the law's s
        found = explore(dataclasses.replace(config, rounds=1))
        assert abs(float(found.decides[0]) - s) < 1e-9, (dict(row), found.decides)
        return within, s, "law = explorer"
    return within, s, "law"


def draw(table: pd.DataFrame) -> None:
    fig, axes = plt.subplots(len(PANELS), 3, figsize=(6.9, 9.5), sharey=True,
                             constrained_layout=True)
    for (faults, shape, key, label), row_axes in zip(PANELS, axes):
        part = table[(table.faults == faults)
                     & ((table["shape"] == shape) if shape else True)]
        for ax, nodes in zip(row_axes, (3, 5, 7)):
            one = part[part.nodes == nodes].sort_values("x")
            ax.plot(one.x, one.exact, color="C0", lw=1)
            ax.errorbar(one.x, one.decision_rate,
                        yerr=[one.decision_rate - one.ci_low, one.ci_high - one.decision_rate],
                        fmt="o", ms=3, color="C0", mfc="white", capsize=1.5, lw=0.8)
            ax.set_title(f"{faults}{' ' + shape if shape else ''}, N = {nodes}", fontsize=7)
            ax.tick_params(labelsize=6)
            ax.grid(alpha=0.3)
            ax.set_xlabel(label, fontsize=6)
        row_axes[0].set_ylabel("decision within R = 2", fontsize=7)
    for suffix in ("png", "svg"):
        fig.savefig(HERE / f"exact_values.{suffix}", dpi=200)
    plt.close(fig)


def main() -> int:
    summary = pd.read_csv(HERE / "summary.csv")
    rows = []
    for _, row in summary.iterrows():
        within, s, source = exact_of(row)
        key, x = intensity(row)
        trials, rate = int(row.trials), float(row.decision_rate)
        se = math.sqrt(within * (1 - within) / trials)
        shape = row["shape"] if row.faults == "partition" else ""
        rows.append({"faults": row.faults, "shape": shape,
                     "nodes": int(row.nodes), "intensity": key, "x": x, "rounds": int(row.rounds),
                     "trials": trials, "decided": int(row.decided), "decision_rate": rate,
                     "ci_low": float(row.ci_low), "ci_high": float(row.ci_high),
                     "exact": within, "z": (rate - within) / se if se > 0 else 0.0,
                     "round_rate": float(row.round_rate), "round_exact": s, "source": source,
                     "report_theory": row.theory, "report_source": row.theory_source})
    table = pd.DataFrame(rows).sort_values(["faults", "shape", "nodes", "x"])
    agree = table.report_theory.notna()
    assert (table[agree].report_theory - table[agree].exact).abs().max() < 1e-9
    table.to_csv(HERE / "exact_values.csv", index=False, float_format="%.6g")
    shown = table.assign(
        setting=[f"{k}={x:g}" for k, x in zip(table.intensity, table.x)],
        measured=[f"{r:.3f} [{lo:.3f}, {hi:.3f}]" for r, lo, hi in
                  zip(table.decision_rate, table.ci_low, table.ci_high)],
        exact=table.exact.map("{:.4f}".format), z=table.z.map("{:+.2f}".format))
    (HERE / "exact_values.md").write_text(
        shown[["faults", "shape", "nodes", "setting", "measured", "exact", "z", "source",
               "report_source"]].to_markdown(index=False) + "\n")
    draw(table)
    beyond = (table.z.abs() > 2.576).sum()
    print(f"{len(table)} rows; largest |z| {table.z.abs().max():.2f}; |z| > 2.576: {beyond}; "
          f"sources {table.source.value_counts().to_dict()}; "
          f"report's theory equal where it has one: {int(agree.sum())} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
