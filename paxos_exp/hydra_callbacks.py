"""Hydra callbacks of paxos-exp sweeps.

``on_multirun_end`` builds the report, best effort: Hydra skips it when a job failed (and turns
a callback's exception into a warning), so ``paxos-report`` is always the way to rebuild it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from paxos_exp.results import check_writable, locked_elsewhere


log = logging.getLogger("paxos_exp")

# Where this paxos-exp command writes: {"run": job directory} or {"sweep": sweep directory},
# set as it starts, in the paxos-exp process whichever launcher runs the jobs, so its last
# line can say what a stopped command leaves behind and how to resume it.
current_output: dict[str, Path] = {}


class SweepCallback(Callback):
    # Hydra makes its output directories inside its own error handler, which prints a
    # traceback; checking first turns a read-only or full disk into one line.
    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        run_dir = Path(config.hydra.run.dir)
        current_output.clear()
        current_output["run"] = run_dir
        check_writable(run_dir.parent)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        current_output.clear()
        current_output["sweep"] = sweep_dir
        check_writable(sweep_dir)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if not config.get("report", True):
            log.info("results: %s (paxos-report %s builds the report)", sweep_dir, sweep_dir)
            return
        try:
            import matplotlib

            matplotlib.use("Agg")  # the paxos-exp command draws files, never windows
            from paxos_exp.analysis.report import build_report
        except ImportError:
            log.info("results: %s", sweep_dir)
            return
        try:
            out = build_report([sweep_dir])
            log.info("results: %s; report: %s", sweep_dir, out / "report.md")
        except Exception as error:  # noqa: BLE001 - the sweep's results matter more than its report
            log.warning(
                "results: %s; the report could not be built (%s: %s); run `paxos-report %s`",
                sweep_dir, type(error).__name__, error, sweep_dir,
            )


def warn_running_elsewhere(sweep_dir: Path) -> None:
    """Say which jobs of a sweep another paxos-exp is running right now: this run skipped
    them, and they are neither done nor failed (called by the sweeper as a sweep ends)."""
    elsewhere = running_elsewhere(sweep_dir)
    if elsewhere:
        log.warning(
            "%d jobs of this sweep are running elsewhere (another paxos-exp holds them), so "
            "this run did not do them: %s%s; rerun the same command once that one is done to "
            "check", len(elsewhere), ", ".join(path.name for path in elsewhere[:5]),
            ", ..." if len(elsewhere) > 5 else "",
        )


def running_elsewhere(sweep_dir: Path) -> list[Path]:
    """Job directories of a sweep whose lock another process holds right now."""
    try:
        return sorted(path for path in sweep_dir.iterdir()
                      if path.is_dir() and locked_elsewhere(path))
    except OSError:
        return []
