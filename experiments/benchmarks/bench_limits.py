"""Resource limits of the real runtime. Not a test: prints Markdown tables on stdout.

    .venv/bin/python experiments/benchmarks/bench_limits.py [--max-nodes 300] [--skip-sweep]
    PYTHONPATH=/other/checkout .venv/bin/python experiments/benchmarks/bench_limits.py

Measures whatever ``paxos_exp`` is importable (section 1 names its file); Linux only (/proc).
Every run is a subprocess in its own session with a deadline; progress goes to stderr.

1. Memory: ``paxos_exp.run(N, 0.1, rounds=N, trials=1, seed=1)`` per N (--nodes) in a child;
   Pss (smaps_rollup, else VmRSS) summed over it and its descendants every 20 ms; peaks fitted as ``a + b*N + c*N^2``: c = bytes per node pair (one PUSH->PULL
   connection), b = per-node constant. Also fds per node process (min-max: later-forked nodes
   inherit more) and threads per node. Pss leaves out kernel socket memory (~10 kB a pair).
2. Largest N of ``python -m paxos_exp.classic N 0.1 3 --seed 1 > /dev/null`` (defaults):
   N = 100, 150, 200, 300, ... up to --max-nodes or the --mem-cap-gb estimate from 1, then
   bisection; per N exit status, wall, peak Pss of the tree, last stderr line. Load-dependent:
   the 10 s default deadlines fail sooner on a busy machine.
3. Sweep ``python -m paxos_exp.app -m 'seed=range(0,J)' trials=1 rounds=1 nodes=3
   engine=inprocess report=false`` in a scratch directory: seconds to the first output line and
   to the first ``[k/J]`` line, VmRSS at jobs 1, 100, 500, J, growth and seconds per job.
"""

import argparse
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

PY = sys.executable


def _read(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            return handle.read().decode(errors="replace")
    except OSError:  # the process is gone
        return ""


def _field(text: str, key: str) -> int | None:
    return next((int(l.split()[1]) for l in text.splitlines() if l.startswith(key + ":")), None)


def mem_kb(pid: int) -> int:
    pss = _field(_read(f"/proc/{pid}/smaps_rollup"), "Pss")
    return pss if pss is not None else (_field(_read(f"/proc/{pid}/status"), "VmRSS") or 0)


def descendants(root: int) -> list[int]:
    parents = {}
    for name in filter(str.isdigit, os.listdir("/proc")):
        stat = _read(f"/proc/{name}/stat")
        if stat:
            parents[int(name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        kids = [pid for pid, ppid in parents.items() if ppid == parent]
        found, frontier = found + kids, frontier + kids
    return found


def last_line(text: str) -> str:
    return next((l.strip() for l in reversed(text.splitlines()) if l.strip()), "")[:200]


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM the session (the CLIs clean up on it), wait, then SIGKILL whatever is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return  # nothing left in the group
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            pass


def run_watched(cmd, timeout, env=None, stdout=subprocess.DEVNULL, interval=0.1, watch_fds=False):
    """Run cmd in its own session, sampling its process tree every interval s. Returns exit status,
    wall s, peak Pss kB, stderr, a note if killed, and (watch_fds) peak fds and threads per descendant."""
    fds, threads = {}, {}
    with tempfile.TemporaryFile() as err:
        began, peak, note, count = time.monotonic(), 0, "", 0
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=err, env=env, start_new_session=True)
        try:
            while proc.poll() is None and not note:
                kids, count = descendants(proc.pid), count + 1
                peak = max(peak, sum(mem_kb(pid) for pid in [proc.pid, *kids]))
                for pid in kids if watch_fds and count % 2 == 1 else ():
                    try:
                        fds[pid] = max(fds.get(pid, 0), len(os.listdir(f"/proc/{pid}/fd")))
                    except OSError:
                        continue
                    threads[pid] = max(threads.get(pid, 0), _field(_read(f"/proc/{pid}/status"), "Threads") or 0)
                if time.monotonic() - began > timeout:
                    note = f"killed after {timeout:g} s"
                elif (_field(_read("/proc/meminfo"), "MemAvailable") or 0) < 4 * 2**20:
                    note = "killed: MemAvailable fell below 4 GB"
                time.sleep(interval)
        finally:
            stop_group(proc)
        err.seek(0)
        return (proc.wait(), time.monotonic() - began, peak, err.read().decode(errors="replace"), note,
                sorted(fds.values()), max(threads.values(), default=0))


def fit(points: list[tuple[float, float]]) -> tuple[float, ...] | None:
    """Least squares (a, b, c) of a + b*x + c*x^2, or None with fewer than 3 distinct x."""
    import numpy

    if len({x for x, _ in points}) < 3:
        return None
    c, b, a = numpy.polyfit([x for x, _ in points], [y for _, y in points], 2)
    return float(a), float(b), float(c)


_MEMORY_RUN = """
import signal, sys, paxos_exp
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind, so the run cleans up
print(paxos_exp.__file__, flush=True)
n = int(sys.argv[1])
try:
    paxos_exp.run(n, 0.1, rounds=n, trials=1, seed=1)
except Exception as error:
    print("ERROR", (str(error).strip().splitlines() or [type(error).__name__])[0][:200], flush=True)
    sys.exit(1)
"""


def bench_memory(node_counts: list[int], timeout: float, scratch: str) -> tuple[float, ...] | None:
    rows, points, code = [], [], "?"
    for nodes in node_counts:
        print(f"memory: N={nodes}", file=sys.stderr)
        with tempfile.TemporaryFile() as out:
            rc, wall, peak, err, note, fds, threads = run_watched(
                [PY, "-c", _MEMORY_RUN, str(nodes)], timeout, {**os.environ, "TMPDIR": scratch}, out, 0.02, True)
            out.seek(0)
            lines = out.read().decode(errors="replace").splitlines() or [code]
        code, failure = lines[0], next((l[6:] for l in lines if l.startswith("ERROR ")), "")
        error = note or failure or ("" if rc == 0 else last_line(err) or f"exit status {rc}")
        if not error:
            points.append((nodes, peak * 1024.0))
        fd_range = f"{fds[0]}-{fds[-1]}" if fds else ""
        rows.append(f"| {nodes} | {peak / 1024:.0f} | {wall:.1f} | {fd_range} | {threads} | {error.replace('|', '/')} |")
    print(f"\n## 1. Peak memory of `paxos_exp.run(N, 0.1, rounds=N)` (`{code}`)\n")
    print("| N | peak Pss (MB) | wall (s) | fds per node | threads per node | error |\n| ---: | ---: | ---: | ---: | ---: | --- |")
    print("\n".join(rows))
    coef = fit(points)
    if coef:
        print(f"\nfit: a = {coef[0] / 2**20:.0f} MB, b = {coef[1] / 1024:.0f} kB per node, "
              f"**c = {coef[2] / 1024:.1f} kB per node pair**")
    return coef


def bench_classic(max_nodes: int, coef, cap_gb: float, timeout: float, scratch: str) -> None:
    def estimate(n: int) -> float:
        return (coef[0] + coef[1] * n + coef[2] * n * n) / 2**30 if coef else 0.0

    env, results = {**os.environ, "TMPDIR": scratch}, {}  # socket directories land in scratch

    def attempt(n: int) -> bool:
        print(f"classic: N={n} (estimate {estimate(n):.1f} GB)", file=sys.stderr)
        cmd = [PY, "-m", "paxos_exp.classic", str(n), "0.1", "3", "--seed", "1"]
        rc, wall, peak, err, note, _, _ = run_watched(cmd, timeout, env=env)
        results[n] = (rc, wall, peak, note or last_line(err)[:160])
        return rc == 0 and not note

    ok, bad, n = 0, None, 100
    while n <= max_nodes and estimate(n) <= cap_gb:
        if not attempt(n):
            bad = n
            break
        ok, n = n, (n + 50 if n < 200 else n + 100)
    while bad is not None and bad - ok > max(10, ok // 10):
        mid = (ok + bad) // 2
        ok, bad = (mid, bad) if attempt(mid) else (ok, mid)
    print("\n## 2. Largest N of `paxos-classic N 0.1 3 --seed 1 > /dev/null`, default settings\n")
    print("| N | exit | wall (s) | peak Pss (MB) | estimate (GB) | last stderr line |\n| ---: | ---: | ---: | ---: | ---: | --- |")
    for n, (rc, wall, peak, last) in sorted(results.items()):
        print(f"| {n} | {rc} | {wall:.1f} | {peak / 1024:.0f} | {estimate(n):.1f} | {last.replace('|', '/')} |")
    tail = f", first failure at {bad}" if bad else f" (stopped at --max-nodes {max_nodes} / --mem-cap-gb {cap_gb:g})"
    print(f"\nlargest N that ran: **{ok}**{tail}")


def bench_sweep(jobs: int, limit: float, scratch: str) -> None:
    cwd = tempfile.mkdtemp(prefix="sweep-", dir=scratch)
    cmd = [PY, "-m", "paxos_exp.app", "-m", f"seed=range(0,{jobs})", "trials=1", "rounds=1", "nodes=3",
           "engine=inprocess", "report=false", f"name=m{jobs}"]
    print(f"sweep: {jobs} jobs in {cwd}", file=sys.stderr)
    state = {"first": None, "first_job": None, "job": 0}
    samples, pattern, began = [], re.compile(rf"\[(\d+)/{jobs}\]"), time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)

    def read() -> None:
        for raw in iter(proc.stdout.readline, b""):
            now, match = time.monotonic() - began, pattern.search(raw.decode(errors="replace"))
            state["first"] = state["first"] or now
            if match:  # sample right away: the last job's line comes just before the exit
                state["job"], state["first_job"] = int(match.group(1)), state["first_job"] or now
                rss = _field(_read(f"/proc/{proc.pid}/status"), "VmRSS")
                samples.append((state["job"], rss)) if rss else None

    reader, stopped = threading.Thread(target=read, daemon=True), ""
    reader.start()
    try:
        while proc.poll() is None and not stopped:
            rss = _field(_read(f"/proc/{proc.pid}/status"), "VmRSS")
            samples.append((state["job"], rss)) if rss else None
            if time.monotonic() - began > limit:
                stopped = f" (stopped after {limit:g} s at job {state['job']})"
            time.sleep(0.5)
    finally:
        stop_group(proc)
    rc, wall = proc.wait(), time.monotonic() - began
    reader.join(5)
    marks = [(k, next((kb for job, kb in samples if job >= k), None)) for k in sorted({1, 100, 500, jobs}) if k <= jobs]
    print(f"\n## 3. Sweep of {jobs} inprocess jobs (nodes=3, rounds=1, trials=1)\n\n| figure | value |\n| --- | ---: |")
    print(f"| exit status | {rc}{stopped} |\n| wall (s) | {wall:.1f} |")
    for label, value in (("first output line", state["first"]), ("first job line", state["first_job"])):
        print(f"| seconds to the {label} | {'-' if value is None else f'{value:.1f}'} |")
    for k, kb in marks:
        print(f"| VmRSS at job {k} (MB) | {'-' if kb is None else f'{kb / 1024:.1f}'} |")
    seen = [(k, kb) for k, kb in marks if kb]
    if len(seen) > 1 and seen[-1][0] > seen[0][0]:
        (k0, m0), (k1, m1) = seen[0], seen[-1]
        print(f"| VmRSS growth per job, job {k0} to {k1} (kB) | {(m1 - m0) / (k1 - k0):.1f} |")
    if state["job"] and state["first_job"] is not None:
        print(f"| seconds per job after the first | {(wall - state['first_job']) / state['job']:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="10,20,40,80,120", help="node counts for the memory fit")
    parser.add_argument("--max-nodes", type=int, default=300, help="cap of the largest-N search")
    parser.add_argument("--mem-cap-gb", type=float, default=14.0, help="never try an N estimated above this")
    parser.add_argument("--timeout", type=float, default=900.0, help="deadline of each run (s)")
    parser.add_argument("--sweep-jobs", type=int, default=1000)
    parser.add_argument("--sweep-limit", type=float, default=1200.0, help="stop the sweep after this (s)")
    for part in ("memory", "classic", "sweep"):
        parser.add_argument(f"--skip-{part}", action="store_true")
    args = parser.parse_args()
    total = (_field(_read("/proc/meminfo"), "MemTotal") or 0) / 2**20
    cgroup = _read("/sys/fs/cgroup/memory.max").strip() or _read("/sys/fs/cgroup/memory/memory.limit_in_bytes").strip()
    cgroup = "none" if not cgroup or cgroup == "max" or int(cgroup) >= 2**62 else f"{int(cgroup) / 2**30:.1f} GB"
    print(f"## Machine\n\ncores {os.cpu_count()}, MemTotal {total:.1f} GB, ulimit -n "
          f"{resource.getrlimit(resource.RLIMIT_NOFILE)[0]}, ulimit -u {resource.getrlimit(resource.RLIMIT_NPROC)[0]}, "
          f"pid_max {_read('/proc/sys/kernel/pid_max').strip()}, threads-max {_read('/proc/sys/kernel/threads-max').strip()}, "
          f"cgroup memory limit {cgroup}, load average {os.getloadavg()[0]:.1f} at the start")
    scratch = tempfile.mkdtemp(prefix="bl-", dir="/tmp")  # short: ipc paths must fit in 107 bytes
    try:
        coef = None if args.skip_memory else bench_memory([int(n) for n in args.nodes.split(",")], args.timeout, scratch)
        if not args.skip_classic:
            bench_classic(args.max_nodes, coef, args.mem_cap_gb, args.timeout, scratch)
        if not args.skip_sweep:
            bench_sweep(args.sweep_jobs, args.sweep_limit, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
