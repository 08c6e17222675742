"""The crash probability at which the decision rate within R rounds is one half: what each
Optuna study found (experiment=half_decision) against the exact value from the theory.

    .venv/bin/python experiments/half_decision/compare.py [outputs/sweeps] > experiments/half_decision/results.md
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import yaml
from scipy.optimize import brentq

from paxos_exp.core.config import round_law
from paxos_exp.core.quorum import Quorums


def exact_rate(nodes: int, fail_prob: float, rounds: int) -> float:
    law = round_law("classic", "omission", nodes, fail_prob, Quorums.for_nodes(nodes))
    return law.decision_within(rounds)


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "outputs/sweeps")
    print("| N | R | trials per job | study trials | found p | measured distance from 1/2 | "
          "exact rate at found p | exact p* | found - exact | 4 SE in p |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for study in sorted(root.glob("half_decision_n*")):
        found = yaml.safe_load((study / "optimization_results.yaml").read_text())
        # Every job of a study shares N, R and the trial count: read them from one result.
        first = json.loads(next(study.glob("*/result.json")).read_text())["config"]
        nodes, rounds, trials = int(first["nodes"]), int(first["rounds"]), int(first["trials"])
        best_p, best_value = found["best_params"]["fail_prob"], found["best_value"]
        exact_p = brentq(lambda p: exact_rate(nodes, p, rounds) - 0.5, 0.0, 1.0, xtol=1e-12)
        # One binomial standard error of a rate near 1/2, turned into p through the slope.
        slope = (exact_rate(nodes, exact_p + 1e-6, rounds)
                 - exact_rate(nodes, exact_p - 1e-6, rounds)) / 2e-6
        se_in_p = math.sqrt(0.25 / trials) / abs(slope)
        jobs = len(list(study.glob("*/result.json")))
        print(f"| {nodes} | {rounds} | {trials} | {jobs} | {best_p:.4f} | {best_value:.4f} | "
              f"{exact_rate(nodes, best_p, rounds):.4f} | {exact_p:.4f} | "
              f"{best_p - exact_p:+.4f} | {4 * se_in_p:.4f} |")


if __name__ == "__main__":
    main()
