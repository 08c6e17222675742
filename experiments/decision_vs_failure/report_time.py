"""Time two versions of ``paxos-report`` on the same sweep, alternating them (the machine is
shared, so each pair runs under about the same load), and print each run's wall and CPU time
and the median of the pairs' ratios.

    python experiments/decision_vs_failure/report_time.py \\
        --before /tmp/before/.venv/bin/paxos-report /tmp/dvf-before \\
        --after .venv/bin/paxos-report outputs/sweeps/decision_vs_failure --pairs 9

Each version reads its own copy of the sweep (an older version may not read today's tables).
The reports are written to a temporary directory, removed at the end. Python writes bytecode
as usual (PYTHONDONTWRITEBYTECODE is unset for the runs), as on a user's machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEADLINE = 600.0  # seconds for one report


def run(command: list[str], out: Path) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one report build."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([*command, "--out", str(out)], check=True, env=environment,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=DEADLINE)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", nargs=2, required=True, metavar=("PAXOS_REPORT", "SWEEP"))
    parser.add_argument("--after", nargs=2, required=True, metavar=("PAXOS_REPORT", "SWEEP"))
    parser.add_argument("--pairs", type=int, default=9)
    args = parser.parse_args()
    pairs = []
    with tempfile.TemporaryDirectory(prefix="report-time-") as scratch:
        for number in range(1, args.pairs + 1):
            old = run(list(args.before), Path(scratch) / "before")
            new = run(list(args.after), Path(scratch) / "after")
            pairs.append((old, new))
            print(f"pair {number}: before {old[0]:.2f} s wall, {old[1]:.2f} s CPU; after "
                  f"{new[0]:.2f} s wall, {new[1]:.2f} s CPU; ratio {old[0] / new[0]:.2f} wall, "
                  f"{old[1] / new[1]:.2f} CPU; load {os.getloadavg()[0]:.2f}", flush=True)
    median = statistics.median
    print(f"medians: before {median(o[0] for o, _ in pairs):.2f} s wall, "
          f"{median(o[1] for o, _ in pairs):.2f} s CPU; after {median(n[0] for _, n in pairs):.2f} "
          f"s wall, {median(n[1] for _, n in pairs):.2f} s CPU")
    print(f"median of the ratios: {median(o[0] / n[0] for o, n in pairs):.2f}x wall, "
          f"{median(o[1] / n[1] for o, n in pairs):.2f}x CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
