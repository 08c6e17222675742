"""The size and CPU time of ``paxos-check exhaustive``'s exploration, per fault model. Not a test.

    .venv/bin/python experiments/benchmarks/bench_exhaustive.py [--nodes 3 5 7] [--rounds 1 2 3]
        [--protocol classic] [--faults omission crash_stop ...] [--intensity 0.1]
        [--budget 60]

For each fault model (alone, with its own defaults but its intensity, the setting it declares
in ``FaultModel.intensity``, set to ``--intensity``: omission's fail_prob, crash_stop's and
crash_recovery's crash_prob, partition's partition_prob, link_loss's prob) one row per
(N, R): the fault patterns covered (every initial vector), the distinct configurations at
the round starts, the driver steps run, the CPU seconds. Each cell explores within a budget
of ``--budget`` CPU seconds (``explore(..., budget=Budget(seconds=...))``): a cell that runs
out is written ``> budget`` (``> memory`` when it ran out of the explorer's default memory
bound first, half the memory available to the process), and the cells that are larger still
(more rounds at the same N, more nodes at the same R) are not run and written ``> budget``
too, marked as skipped. The total adds up the CPU seconds each cell took.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from paxos_exp.core.config import RunConfig
from paxos_exp.core.faults import FAULTS
from paxos_exp.explore.explorer import Budget, TooLarge, explore

MODELS = ("omission", "crash_stop", "crash_recovery", "partition", "link_loss")


def model_config(name: str, nodes: int, rounds: int, protocol: str, intensity: float
                 ) -> RunConfig:
    """``name`` alone at ``intensity`` (its declared intensity setting), else its defaults."""
    declared = FAULTS.get(name).intensity
    setting = declared.setting if declared is not None else "fail_prob"
    if setting == "fail_prob":
        return RunConfig(nodes=nodes, fail_prob=intensity, rounds=rounds, protocol=protocol,
                         faults=name)
    return RunConfig(nodes=nodes, fail_prob=intensity, rounds=rounds, protocol=protocol,
                     faults={"name": name, setting: intensity})


def settings(config: RunConfig) -> str:
    faults: Any = config.faults.as_dict()  # type: ignore[union-attr]
    if faults == {"name": "omission"}:
        return f"faults=omission fail_prob={config.fail_prob}"
    return "faults=" + faults["name"] + "".join(
        f" faults.{key}={value}" for key, value in faults.items()
        if key != "name" and value is not None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[3, 5, 7])
    parser.add_argument("--rounds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--protocol", default="classic")
    parser.add_argument("--faults", nargs="+", default=list(MODELS))
    parser.add_argument("--intensity", type=float, default=0.1)
    parser.add_argument("--budget", type=float, default=60.0,
                        help="CPU seconds per cell (default 60)")
    args = parser.parse_args()
    budget = Budget(seconds=args.budget)
    total = 0.0
    for name in args.faults:
        example = model_config(name, args.nodes[0], args.rounds[0], args.protocol, args.intensity)
        print(f"\n### {name}\n\nprotocol={args.protocol} {settings(example)}, all 2^N initial "
              f"vectors, budget {args.budget:g} CPU s per cell\n")
        print("| N | R | fault patterns | distinct states (per round start) | steps run | CPU s "
              "| safe |")
        print("|---|---|---|---|---|---|---|")
        over: set[tuple[int, int]] = set()
        for nodes in args.nodes:
            for rounds in args.rounds:
                if any(n <= nodes and r <= rounds for n, r in over):
                    print(f"| {nodes} | {rounds} | | | | > budget (skipped: a smaller cell "
                          "was over) | |", flush=True)
                    continue
                config = model_config(name, nodes, rounds, args.protocol, args.intensity)
                began = time.process_time()
                try:
                    found = explore(config, budget=budget)
                except TooLarge as error:
                    over.add((nodes, rounds))
                    spent = time.process_time() - began
                    total += spent
                    # What ran out: the CPU budget, or the memory bound (the explorer's
                    # default, half the memory available to the process) after fewer seconds.
                    what = ("memory (half the memory available to the process), after "
                            f"{spent:.1f} CPU s" if error.resource == "memory"
                            else f"budget ({args.budget:g})")
                    print(f"| {nodes} | {rounds} | | | | > {what} | |", flush=True)
                    continue
                total += found.seconds
                print(f"| {nodes} | {rounds} | {found.patterns:.3e} | {found.distinct_states} "
                      f"({', '.join(map(str, found.states))}) | {found.configurations} | "
                      f"{found.seconds:.2f} | {found.safe} |", flush=True)
    print(f"\nabout {total:.0f} CPU s in all")


if __name__ == "__main__":
    main()
