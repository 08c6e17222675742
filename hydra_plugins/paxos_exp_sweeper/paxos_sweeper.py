"""Hydra plugin (plugins must live in the ``hydra_plugins`` namespace): paxos-exp's sweeper.

A basic sweeper that checks every job of the sweep before the first one starts.

Hydra's basic sweeper already composes each job of a batch to catch type errors; this one
also range-checks every job of every batch (``fail_prob=1.5``, ``trials=0``...), so a bad
sweep stops with one clear error and no job, and it records the job count in ``sweep.json``
so each job can log ``[k/n]`` with an estimate of the time left.
"""

# No `from __future__ import annotations`: Hydra's plugin scan executes this module before it
# is in sys.modules, and dataclasses would then fail to resolve string annotations.
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore

from paxos_exp.app_config import job_config, to_run_config
from paxos_exp.core.errors import ConfigError
from paxos_exp.results import SWEEP_MANIFEST, write_atomic



@dataclass
class PaxosSweeperConf:
    _target_: str = "hydra_plugins.paxos_exp_sweeper.paxos_sweeper.PaxosSweeper"
    max_batch_size: Optional[int] = None
    params: Optional[Dict[str, str]] = None


ConfigStore.instance().store(
    group="hydra/sweeper", name="paxos", node=PaxosSweeperConf, provider="paxos_exp"
)


def _forget_empty_sweep(sweep_dir: Path) -> None:
    """Remove a sweep directory holding nothing but the multirun.yaml just written."""
    try:
        if {path.name for path in sweep_dir.iterdir()} <= {"multirun.yaml"}:
            (sweep_dir / "multirun.yaml").unlink(missing_ok=True)
            sweep_dir.rmdir()
    except OSError:
        pass


def _earlier_runs(sweep_dir: Path) -> List[Dict[str, Any]]:
    """What earlier invocations wrote into this sweep directory, oldest first: a resumed or
    widened sweep keeps the record of every command that contributed jobs to it."""
    try:
        previous = json.loads((sweep_dir / SWEEP_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(previous, dict):
        return []
    history = [entry for entry in previous.get("history") or [] if isinstance(entry, dict)]
    history.append({key: previous.get(key) for key in ("command", "started_epoch", "total_jobs", "overrides")})
    return history


class PaxosSweeper(BasicSweeper):
    """BasicSweeper plus a whole-sweep range check and a manifest."""

    _checked = False

    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        if self._checked:
            return super().validate_batch_is_legal(batch)
        assert self.overrides is not None and self.hydra_context is not None and self.config is not None
        self._checked = True
        jobs = [job for each in self.overrides for job in each]
        loader = self.hydra_context.config_loader
        sweep_dir = Path(self.config.hydra.sweep.dir)
        for overrides in jobs:
            try:
                cfg = loader.load_sweep_config(self.config, list(overrides))
                to_run_config(job_config(cfg))
            except ConfigError as error:
                _forget_empty_sweep(sweep_dir)
                # One line and exit status 2, like any other bad value: not a traceback.
                print(
                    f"paxos-exp: error: sweep job {' '.join(overrides)}: {error}. "
                    "No job was started.",
                    file=sys.stderr,
                )
                sys.exit(2)
        manifest: Dict[str, Any] = {
            "name": self.config.get("name"),
            "total_jobs": len(jobs),
            "started_epoch": time.time(),
            "command": sys.argv,
            "overrides": list(self.config.hydra.overrides.task),
            "sweeper_params": dict(self.params),
            "history": _earlier_runs(sweep_dir),
        }
        write_atomic(sweep_dir / SWEEP_MANIFEST, json.dumps(manifest, indent=2, default=str) + "\n")
