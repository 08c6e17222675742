"""Benchmarks of the runtime (issue 2 targets). Not a test: it prints a Markdown table.

    .venv/bin/python experiments/benchmarks/bench_runtime.py > experiments/benchmarks/runtime.md

Run it on a quiet machine; every figure is the median of several repetitions.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time

import paxos_exp


def classic_wall(repeats: int = 15) -> float:
    script = os.path.join(os.path.dirname(sys.executable), "paxos-classic")
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        subprocess.run([script, "4", "0.1", "3", "--seed", "1"], check=True, capture_output=True)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def per_round_ms(nodes: int, trials: int, rounds: int = 10, repeats: int = 3) -> tuple[float, float, float]:
    """Steady-state milliseconds per round, start-up seconds, and trials per second (whole call)."""
    per_round, startup, rate = [], [], []
    for seed in range(repeats):
        result = paxos_exp.run(nodes, 0.1, rounds, trials=trials, seed=seed)
        per_round.append(result.timings.rounds / (trials * rounds) * 1e3)
        startup.append(result.timings.startup)
        rate.append(trials / result.timings.total)
    return statistics.median(per_round), statistics.median(startup), statistics.median(rate)


def single_run_seconds(nodes: int = 5, rounds: int = 10, repeats: int = 10) -> float:
    times = []
    for seed in range(repeats):
        began = time.perf_counter()
        paxos_exp.run(nodes, 0.1, rounds, trials=1, seed=seed)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def inprocess_per_trial_ms(nodes: int = 5, rounds: int = 10, trials: int = 2000) -> float:
    result = paxos_exp.run(nodes, 0.1, rounds, trials=trials, seed=1, engine="inprocess")
    return result.timings.total / trials * 1e3


def main() -> None:
    print(f"# Runtime benchmarks\n\nMachine: {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{platform.platform()}.\nCommand: `.venv/bin/python experiments/benchmarks/bench_runtime.py`\n")
    print(f"- `paxos-classic 4 0.1 3` wall time, interpreter start included (median of 15): "
          f"**{classic_wall():.3f} s** (target <= 0.35 s)")
    print(f"- one whole N=5, R=10 run in one call, process start-up included (median of 10): "
          f"**{single_run_seconds() * 1e3:.1f} ms**")
    ms5, _, rate5 = per_round_ms(5, 200)
    print(f"- N=5, R=10, 200 trials in one call: **{ms5:.3f} ms per round** in steady state "
          f"(target <= 1.5 ms), **{rate5:.0f} trials/s** over the whole call (target >= 60)")
    inproc = inprocess_per_trial_ms()
    processes = 1e3 / rate5
    print(f"- in-process engine, N=5, R=10: **{inproc:.2f} ms per trial** against "
          f"{processes:.2f} ms on processes: **{processes / inproc:.0f}x** faster (target >= 10x)\n")
    print("| N | ms per round (steady state) | start-up (s) | trials/s (R=10) |")
    print("|---|---|---|---|")
    for nodes, trials in ((5, 200), (9, 100), (17, 40), (33, 15), (65, 6)):
        ms, startup, rate = per_round_ms(nodes, trials)
        print(f"| {nodes} | {ms:.2f} | {startup:.3f} | {rate:.1f} |")


if __name__ == "__main__":
    main()
