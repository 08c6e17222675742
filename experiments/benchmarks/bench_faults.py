"""The real runtime's per-round cost under each fault model against omission (issue 10).
Not a test: it prints a Markdown table.

    .venv/bin/python experiments/benchmarks/bench_faults.py --repeats 5

Every measurement runs in a fresh interpreter (so no model warms another's caches), the models
take turns within each repetition (so slow spells of a shared machine fall on all of them),
and each figure is the median over the repetitions: CPU time (user + system of the node
processes and the job) and wall time per round, on real processes, N=5 and N=9, R=10, 200
and 100 trials, seed 0. The ratio column is the median of the per-repetition ratios to
omission's figure of the same repetition.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

# Each model at a setting where it does something in most rounds; fail_prob=0.1 throughout
# (only omission reads it).
MODELS = {
    "omission": "omission",
    "crash_stop": {"name": "crash_stop", "crash_prob": 0.02},
    "crash_recovery": {"name": "crash_recovery", "crash_prob": 0.1},
    "partition": {"name": "partition", "partition_prob": 0.3},
    "link_loss": {"name": "link_loss", "prob": 0.1},
    "all five": ["omission", {"name": "crash_stop", "crash_prob": 0.02},
                 {"name": "crash_recovery", "crash_prob": 0.1},
                 {"name": "partition", "partition_prob": 0.3}, {"name": "link_loss", "prob": 0.1}],
}
SIZES = ((5, 200), (9, 100))
ROUNDS = 10

_MEASURE = r"""
import json, resource, sys, time
import paxos_exp

def cpu():
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)
    return children.ru_utime + children.ru_stime + own.ru_utime + own.ru_stime

nodes, trials, rounds, faults = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
before, began = cpu(), time.perf_counter()
result = paxos_exp.run(nodes, 0.1, rounds, trials=trials, seed=0, faults=faults, safety="record")
print(json.dumps({"cpu_ms": (cpu() - before) / (trials * rounds) * 1e3,
                  "wall_ms": result.timings.rounds / (trials * rounds) * 1e3,
                  "silenced": sum(r.silenced for r in result.rounds) / (trials * rounds)}))
"""


def measure(nodes: int, trials: int, faults: object) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(nodes), str(trials), str(ROUNDS),
                           json.dumps(faults)], capture_output=True, text=True, check=True,
                          timeout=600)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average at start {os.getloadavg()[0]:.1f}; {args.repeats} repetitions.\n")
    print("| N, trials | fault model | silenced per round | CPU ms per round | ratio to omission "
          "| wall ms per round | ratio to omission |")
    print("|---|---|---|---|---|---|---|")
    for nodes, trials in SIZES:
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in MODELS}
        for _ in range(args.repeats):
            for name, faults in MODELS.items():
                runs[name].append(measure(nodes, trials, faults))
        base = runs["omission"]
        for name, measured in runs.items():
            cells = [f"{statistics.median(m['silenced'] for m in measured):.2f}"]
            for key in ("cpu_ms", "wall_ms"):
                ratio = statistics.median(m[key] / b[key] for m, b in zip(measured, base))
                cells += [f"{statistics.median(m[key] for m in measured):.3f}", f"{ratio:.2f}"]
            print(f"| {nodes}, {trials} | {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
