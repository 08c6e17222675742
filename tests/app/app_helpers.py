from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any



def run_paxos_exp(args: list[str], cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """Run the Hydra app in a subprocess, as a user would, with its outputs under ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "paxos_exp.app", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def job_results(sweep_dir: Path) -> dict[str, dict[str, Any]]:
    """job directory name -> parsed result.json, for every job directory of a sweep."""
    return {
        path.parent.name: json.loads(path.read_text())
        for path in sorted(sweep_dir.glob("*/result.json"))
    }
