"""Helpers of the cluster tests: paxos-exp run as a user runs it, the README's commands, and
what SLURM and the sweep directories say."""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
TIMEOUT = 600  # seconds: the deadline of any one paxos-exp command here


def paxos_exp(args: list[str], cwd: Path, env: dict[str, str] | None = None,
              timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    """The console script, as a user runs it (``args`` without the program name)."""
    return subprocess.run(["paxos-exp", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env, check=False)


def start_paxos_exp(args: list[str], cwd: Path, log: Path) -> subprocess.Popen[str]:
    """The console script started in the background, its output (both streams) to ``log``."""
    # The child gets its own copy of the descriptor; this process's is closed at once.
    with open(log, "w", encoding="utf-8") as handle:
        return subprocess.Popen(["paxos-exp", *args], cwd=cwd, stdout=handle,
                                stderr=subprocess.STDOUT, text=True)


def readme_command(launcher: str, cluster: dict[str, str]) -> list[str]:
    """The README's command for ``launcher``, with its placeholders filled in."""
    for line in README.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("paxos-exp ") and f"hydra/launcher={launcher}" in line:
            line = line.replace("=PART", f"={cluster['partition']}").replace(
                "=ACCT", f"={cluster['account']}")
            return shlex.split(line)[1:]
    raise AssertionError(f"README.md has no paxos-exp command for hydra/launcher={launcher}")


def outcome(sweep: Path) -> dict[str, Any]:
    """Every job of a sweep: its status, summary without wall times, and tables' checksums."""
    jobs = {}
    for path in sorted(sweep.glob("*/result.json")):
        result = json.loads(path.read_text())
        summary = dict(result["summary"] or {})
        summary.pop("wall", None)
        tables = {name: (table["rows"], table["sha256"])
                  for name, table in (result.get("tables") or {}).items()}
        jobs[path.parent.name] = (result["status"], summary, tables)
    return jobs


def wait_until(condition, seconds: float, what: str, interval: float = 0.5):
    """Poll an outside system (SLURM, files other processes write) until ``condition()`` is
    truthy; fail naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what} did not happen within {seconds:g} s")


def squeue() -> list[str]:
    return subprocess.run(["squeue", "--noheader", "--format=%i %T"], capture_output=True,
                          text=True, timeout=60, check=True).stdout.split("\n")[:-1]


def sacct(array: str, fields: str) -> list[list[str]]:
    """sacct's rows (one per array task, ``fields`` each) for ``array`` as the database has
    them now."""
    out = subprocess.run(["sacct", "--noheader", "--parsable2", "-X", f"--format={fields}",
                          f"--jobs={array}"], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    return [line.split("|") for line in out.splitlines() if line]


def sacct_until(array: str, fields: str, condition, what: str, seconds: float = 60):
    """sacct's rows for ``array`` once ``condition(rows)`` holds. slurmctld hands a finished
    task's record to the accounting daemon asynchronously, so a task that squeue no longer
    lists may be missing from sacct or still show its last state for a moment."""
    last: list[list[str]] = []

    def ready():
        last[:] = sacct(array, fields)
        return last if condition(last) else None

    try:
        return wait_until(ready, seconds, f"sacct showing {what} for array {array}")
    except AssertionError as error:
        raise AssertionError(f"{error}; its last rows: {last}") from None


def sacct_states(array: str, condition, what: str) -> dict[str, str]:
    """Each task's state in sacct, once ``condition(states)`` holds (see ``sacct_until``)."""
    rows = sacct_until(array, "JobID,State", lambda rows: condition(dict(rows)), what)
    return dict(rows)


def array_ids(sweep: Path) -> set[str]:
    """The SLURM array ids submitit used for a sweep (its .submitit/<array>_<task> folders)."""
    folder = sweep / ".submitit"
    if not folder.is_dir():
        return set()
    return {path.name.split("_")[0] for path in folder.iterdir()
            if re.fullmatch(r"\d+_\d+", path.name)}


def record_time(cluster: dict[str, str], label: str, seconds: float) -> None:
    """For the closing report (never asserted): run.sh prints these after the tests."""
    with open(Path(cluster["dir"]) / "times.txt", "a", encoding="utf-8") as handle:
        handle.write(f"{label}: {seconds:.1f} s\n")


def terminate(process: subprocess.Popen[str], sig: int = signal.SIGTERM, seconds: float = 120) -> int:
    process.send_signal(sig)
    return process.wait(timeout=seconds)
