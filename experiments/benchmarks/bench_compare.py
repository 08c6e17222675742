"""Two source trees of paxos-exp measured against each other in one sitting. Not a test.

    git worktree add /tmp/base <commit>        # the "before" tree
    .venv/bin/python experiments/benchmarks/bench_compare.py /tmp/base . --pairs 8

Each measurement runs in a fresh interpreter with ``PYTHONPATH`` set to one tree (this
interpreter's environment supplies the dependencies), and the two trees alternate, so slow
spells of a noisy machine fall on both. It reports the CPU time (user + system, of the node
processes and the job's own) per round as well as the wall time: on a shared 2-core machine,
CPU time moves far less than wall time. Compare the median of the per-pair ratios, not single
times.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

# What one fresh interpreter measures: real processes at N=5 and N=17, then the in-process
# engine, all R=10 and p=0.1, seed 0.
_MEASURE = r"""
import json, resource, sys, time
import paxos_exp
assert paxos_exp.__file__.startswith(sys.argv[1]), (paxos_exp.__file__, sys.argv[1])

def cpu():
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)
    return children.ru_utime + children.ru_stime + own.ru_utime + own.ru_stime

out = {}
for nodes, trials, engine in ((5, 200, "processes"), (17, 60, "processes"), (5, 2000, "inprocess")):
    label = f"{engine}_n{nodes}"
    before, began = cpu(), time.perf_counter()
    paxos_exp.run(nodes, 0.1, 10, trials=trials, seed=0, engine=engine)
    out[f"{label}_cpu_ms_per_round"] = (cpu() - before) / (trials * 10) * 1e3
    out[f"{label}_wall_ms_per_round"] = (time.perf_counter() - began) / (trials * 10) * 1e3
print(json.dumps(out))
"""


def measure(tree: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(tree)], env=env, cwd="/",
                          capture_output=True, text=True, check=True, timeout=600)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--pairs", type=int, default=8)
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for pair in range(args.pairs):
        for name, tree in trees.items():
            runs[name].append(measure(tree))
        print(f"pair {pair + 1}/{args.pairs} done", file=sys.stderr)
    print(f"before: `{trees['before']}`, after: `{trees['after']}`, {args.pairs} alternating "
          f"pairs, Python {sys.version.split()[0]}, {os.cpu_count()} cores.\n")
    print("| figure (R=10, p=0.1) | before (median) | after (median) | after/before, median of "
          "pairs | range of pair ratios |")
    print("|---|---|---|---|---|")
    for key in runs["before"][0]:
        before = [run[key] for run in runs["before"]]
        after = [run[key] for run in runs["after"]]
        ratios = [b / a for a, b in zip(before, after)]
        print(f"| {key} | {statistics.median(before):.3f} | {statistics.median(after):.3f} | "
              f"{statistics.median(ratios):.3f} | {min(ratios):.2f} to {max(ratios):.2f} |")


if __name__ == "__main__":
    main()
