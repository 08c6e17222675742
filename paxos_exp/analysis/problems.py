"""What can be wrong with a job found (or not found) in a directory: the problem kinds, in the
order report.md lists them, and the frame they are listed in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

MISSING = "missing"  # counted in sweep.json (or expected from the sweep grid) but no directory
# Another paxos-exp holds the job's lock: whatever its files say now may change any moment.
RUNNING = "running elsewhere"
NO_RESULT = "no result"  # a job directory without result.json (killed or still running)
# Stopped by Ctrl-C or SIGTERM: its tables hold whole trials but not all of them; a rerun of
# the same command redoes it, so its partial counts are never pooled.
INTERRUPTED = "interrupted"
FAILED = "failed"  # result.json says the job failed
CORRUPT = "corrupt"  # result.json unreadable or incomplete: the job cannot be used
# A table missing, truncated, changed or inconsistent with result.json (resume would redo the
# job); result.json's counts are still used, the table's rows are not.
BAD_TABLE = "bad table"
DUPLICATE = "duplicate"  # the same job (same job key) found twice; the first one is used
# Two jobs with the same seed and everything else equal but their trial counts: trial t depends
# only on (seed, t), so the smaller job's trials are the first ones of the larger; counting both
# would count those trials twice. The larger job is used.
OVERLAP = "overlap"
PROBLEM_KINDS = (MISSING, RUNNING, NO_RESULT, INTERRUPTED, FAILED, CORRUPT, BAD_TABLE,
                 DUPLICATE, OVERLAP)
PROBLEM_COLUMNS = ["kind", "path", "job_key", "detail"]


def problem_row(kind: str, path: Path | str, key: str | None, detail: str) -> dict[str, Any]:
    """One row of the problems frame."""
    return {"kind": kind, "path": str(path), "job_key": key, "detail": detail}
