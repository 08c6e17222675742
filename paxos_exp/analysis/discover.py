"""Finding result directories: expand globs, tell sweep, job and report directories apart, and
list a sweep's job directories."""

from __future__ import annotations

import glob
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paxos_exp.core.errors import PaxosExpError
from paxos_exp.results import LOCK_FILE, RESULT_FILE, SWEEP_MANIFEST, TABLE_FILES

MULTIRUN_FILE = "multirun.yaml"
REPORT_MARKER = "report.md"
# A subdirectory is taken for a job's directory when it holds any of these (Hydra writes
# .hydra/ as soon as a job starts, so a job killed before writing result.json still shows).
JOB_MARKERS = (RESULT_FILE, ".hydra", *TABLE_FILES, "paxos.log", LOCK_FILE)


class ReportError(PaxosExpError, ValueError):
    """Bad input to the report builder (a path, a key, a query); the message says what to fix."""


@dataclass
class Sweep:
    """One directory of jobs (a Hydra sweep, or a directory of single runs)."""

    path: Path
    manifest: dict[str, Any] | None = None  # sweep.json, when present and readable
    job_dirs: list[Path] = field(default_factory=list)

    @property
    def name(self) -> str:
        if self.manifest and self.manifest.get("name"):
            return str(self.manifest["name"])
        return self.path.name

    @property
    def is_sweep(self) -> bool:
        """Whether a sweep command wrote this directory (so it has a grid to check against)."""
        return self.manifest is not None or (self.path / MULTIRUN_FILE).is_file()


def _has_glob(text: str) -> bool:
    return any(char in text for char in "*?[")


def expand_paths(paths: Iterable[Path | str]) -> list[Path]:
    """Expand globs, check every path exists; raises ReportError naming the bad one.

    A glob keeps the sweep and job directories it matches (and skips report directories);
    a plain path must exist (``result.json`` itself stands for its job directory).
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists() and _has_glob(str(raw)):
            matches = [Path(m) for m in sorted(glob.glob(str(path)))]
            candidates = [m for m in matches if m.is_dir() and not _is_report_dir(m)
                          and (is_sweep_dir(m) or _looks_like_job_dir(m))]
            if not candidates:
                raise ReportError(f"{raw}: the pattern matches no sweep or job directory")
        else:
            if path.is_file() and path.name == RESULT_FILE:
                path = path.parent
            if not path.exists():
                raise ReportError(f"{raw}: no such directory")
            if not path.is_dir():
                raise ReportError(f"{raw}: not a directory (give a sweep or job directory)")
            candidates = [path]
        for candidate in candidates:
            if all(candidate.resolve() != seen.resolve() for seen in found):
                found.append(candidate)
    if not found:
        raise ReportError("no directory given")
    return found


def _is_report_dir(path: Path) -> bool:
    return path.name == "report" or (path / REPORT_MARKER).exists()


def is_job_dir(path: Path) -> bool:
    return (path / RESULT_FILE).is_file()


def _looks_like_job_dir(path: Path) -> bool:
    return any((path / marker).exists() for marker in JOB_MARKERS)


def is_sweep_dir(path: Path) -> bool:
    return (path / SWEEP_MANIFEST).is_file() or (path / MULTIRUN_FILE).is_file()


def latest_sweep(root: Path | str = Path("outputs") / "sweeps") -> Path:
    """The most recently started sweep under ``root``; raises ReportError when there is none."""
    root = Path(root)
    # Ad-hoc sweeps live one level further down, one directory per start time
    # (outputs/sweeps/adhoc/<start time>/).
    candidates = [*root.glob("*"), *root.glob("*/*")] if root.is_dir() else []
    sweeps = [p for p in candidates if p.is_dir() and is_sweep_dir(p)]
    if not sweeps:
        raise ReportError(
            f"no sweep found under {root}/ (run `paxos-exp -m ...` first, or give a directory)"
        )

    def started(path: Path) -> float:
        stamps = [(path / name).stat().st_mtime for name in (SWEEP_MANIFEST, MULTIRUN_FILE)
                  if (path / name).is_file()]
        return max(stamps)

    return max(sweeps, key=started)


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads((path / SWEEP_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def find_sweep(path: Path) -> Sweep:
    """The job directories under ``path`` (or ``path`` itself when it is a job directory)."""
    if is_job_dir(path):
        return Sweep(path=path, manifest=None, job_dirs=[path])
    children = sorted(
        child for child in path.iterdir()
        if child.is_dir() and not child.name.startswith(".") and not _is_report_dir(child)
    )
    job_dirs = [child for child in children if _looks_like_job_dir(child)]
    if not job_dirs:
        if _looks_like_job_dir(path):  # a single run killed before it wrote result.json
            return Sweep(path=path, manifest=None, job_dirs=[path])
        if not is_sweep_dir(path):
            raise ReportError(
                f"{path}: no paxos-exp results here (expected a sweep directory with sweep.json "
                f"and one subdirectory per job, or a job directory with {RESULT_FILE})"
            )
    return Sweep(path=path, manifest=_read_manifest(path), job_dirs=job_dirs)
