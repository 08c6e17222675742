"""The size and CPU time of ``paxos-check exhaustive``'s exploration. Not a test.

    .venv/bin/python experiments/benchmarks/bench_exhaustive.py [--nodes 3 5 7] [--rounds 1 2 3]
        [--protocol classic] [--faults omission] [--fail-prob 0.1]

One row per (N, R): the fault patterns covered (every initial vector), the distinct
configurations at the round starts, the driver steps run, the CPU seconds.
"""

from __future__ import annotations

import argparse

from paxos_exp.core.config import RunConfig
from paxos_exp.explore.explorer import explore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[3, 5, 7])
    parser.add_argument("--rounds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--protocol", default="classic")
    parser.add_argument("--faults", default="omission")
    parser.add_argument("--fail-prob", type=float, default=0.1)
    args = parser.parse_args()
    print(f"protocol={args.protocol} faults={args.faults} fail_prob={args.fail_prob}, all 2^N "
          "initial vectors\n")
    print("| N | R | fault patterns | distinct states (per round start) | steps run | CPU s | safe |")
    print("|---|---|---|---|---|---|---|")
    for nodes in args.nodes:
        for rounds in args.rounds:
            found = explore(RunConfig(nodes=nodes, fail_prob=args.fail_prob, rounds=rounds,
                                      protocol=args.protocol, faults=args.faults))
            print(f"| {nodes} | {rounds} | {found.patterns:.3e} | {found.distinct_states} "
                  f"({', '.join(map(str, found.states))}) | {found.configurations} | "
                  f"{found.seconds:.2f} | {found.safe} |", flush=True)


if __name__ == "__main__":
    main()
