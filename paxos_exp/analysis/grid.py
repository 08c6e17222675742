"""The sweep grid: what each sweep command run into a directory asked for, rebuilt from Hydra's
own files (``multirun.yaml``, each job's ``.hydra/overrides.yaml``) and ``sweep.json``. The only
analysis module that imports Hydra or OmegaConf."""

from __future__ import annotations

import json

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paxos_exp.analysis.discover import MULTIRUN_FILE, Sweep
from paxos_exp.analysis.job import column_for
from paxos_exp.core.config import canonical_fail_prob
from paxos_exp.results import SWEEP_MANIFEST


def normalise(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        if isinstance(value, float) and math.isnan(value):
            return None
        return canonical_fail_prob(value)
    if hasattr(value, "name") and not isinstance(value, str):  # enums
        return str(value.name)
    if isinstance(value, (list, tuple)):
        # faults=[omission,partition]: the column spells composed models sorted, joined by
        # "+"; a list setting (link=[0,1]) is spelled as JSON (analysis.job.flatten_config).
        if all(isinstance(item, str) for item in value):
            return "+".join(sorted(value))
        return json.dumps(list(value))
    return str(value)


def _override_values(arguments: Sequence[str], columns: Sequence[str]) -> dict[str, list[Any]]:
    """Configuration column -> the values Hydra overrides give it (a list for sweeps)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    values: dict[str, list[Any]] = {}
    for override in OverridesParser.create().parse_overrides(list(arguments)):
        column = column_for(override.get_key_element(), columns)
        if column is None:
            continue
        if override.is_sweep_override():
            values[column] = [normalise(v) for v in override.sweep_iterator()]
        else:
            values[column] = [normalise(override.value())]
    return values


@dataclass(frozen=True)
class Grid:
    """What one sweep command run into a directory asked for.

    ``keys`` are the configuration columns it varies and ``combos`` every combination of them;
    ``keys`` is None when the grid cannot be rebuilt (its sweep parameters came from a config
    file that sweep.json does not keep), and empty for a one-job command. ``fixed`` holds the
    columns it sets to one value (normalised), which tell its jobs from another grid's.
    """

    overrides: tuple[str, ...]
    total_jobs: int | None
    keys: tuple[str, ...] | None
    combos: tuple[tuple, ...] = ()
    sweeper_params: str = ""  # the latest grid's params from a config file, as key=values
    fixed: tuple[tuple[str, Any], ...] = ()

    @property
    def identity(self) -> tuple:
        """Equal for a resumed command (same overrides and job count): one grid, not two."""
        return self.overrides, self.total_jobs

    def describe(self) -> str:
        """The command's parameters in one short line."""
        text = " ".join(self.overrides) or "(no overrides)"
        if self.sweeper_params:
            text += f" [sweeper params: {self.sweeper_params}]"
        if len(text) > 120:
            text = text[:117] + "..."
        jobs = "?" if self.total_jobs is None else str(self.total_jobs)
        return f"`{text}` ({jobs} job{'' if self.total_jobs == 1 else 's'})"


def _combinations(values: dict[str, list[Any]]) -> tuple[tuple[str, ...], tuple[tuple, ...]]:
    """The swept columns (more than one value) and every combination of their values."""
    keys = tuple(key for key, options in values.items() if len(options) > 1)
    return keys, tuple(itertools.product(*(values[key] for key in keys)))


def _fixed(values: dict[str, list[Any]]) -> tuple[tuple[str, Any], ...]:
    """The columns given a single value."""
    return tuple((key, options[0]) for key, options in values.items() if len(options) == 1)


def _latest_grid(sweep: Sweep, columns: Sequence[str]) -> Grid:
    """The grid of the last command run into ``sweep``, read from Hydra's multirun.yaml (which
    every command overwrites); not rebuilt when that file is missing or unreadable."""
    manifest = sweep.manifest or {}
    total = manifest.get("total_jobs") if isinstance(manifest.get("total_jobs"), int) else None
    params = manifest.get("sweeper_params") or {}
    described = " ".join(f"{k}={v}" for k, v in params.items()) if isinstance(params, dict) \
        else ""
    overrides = tuple(map(str, manifest.get("overrides") or []))
    lost = Grid(overrides, total, None, sweeper_params=described)
    path = sweep.path / MULTIRUN_FILE
    if not path.is_file():
        return lost
    try:
        # Plain YAML is enough for the two entries read here (OmegaConf would build the whole
        # composed config first: Hydra's help texts, its logging settings...).
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, where built
        with open(path, encoding="utf-8") as handle:
            hydra = yaml.load(handle, Loader=loader)["hydra"]
        params = hydra["sweeper"].get("params") or {}
        task = [str(item) for item in hydra["overrides"]["task"]]
        arguments = [f"{key}={value}" for key, value in params.items()] + task
        values = _override_values(arguments, columns)
    except Exception:  # noqa: BLE001 - best effort: without the grid we still report the count
        return lost
    keys, combos = _combinations(values)
    return Grid(overrides or tuple(map(str, task)), total, keys, combos, described,
                _fixed(values))


def _earlier_grid(entry: dict[str, Any], columns: Sequence[str]) -> Grid:
    """An earlier command's grid from its ``history`` entry in sweep.json. The entry keeps the
    command-line overrides only, so the grid counts as rebuilt only when they give exactly the
    job count it recorded (sweep parameters from an experiment file would be lost)."""
    overrides = tuple(map(str, entry.get("overrides") or []))
    total = entry.get("total_jobs")
    total = total if isinstance(total, int) and not isinstance(total, bool) else None
    try:
        values = _override_values(overrides, columns)
        keys, combos = _combinations(values)
    except Exception:  # noqa: BLE001 - an unparsable record: the grid is just not rebuilt
        return Grid(overrides, total, None)
    if total is None or len(combos) != total:
        return Grid(overrides, total, None)
    return Grid(overrides, total, keys, combos, fixed=_fixed(values))


def sweep_grids(sweep: Sweep, columns: Sequence[str]) -> list[Grid]:
    """Every distinct grid run into ``sweep``, oldest first, the latest last; a command run
    again (a resumed sweep) is one grid. Empty for a directory that is not a sweep."""
    if not sweep.is_sweep:
        return []
    latest = _latest_grid(sweep, columns)
    history = (sweep.manifest or {}).get("history")
    entries = [entry for entry in history if isinstance(entry, dict)] \
        if isinstance(history, list) else []
    grids: dict[tuple, Grid] = {}
    for entry in entries:
        grid = _earlier_grid(entry, columns)
        if grid.identity != latest.identity:
            grids.setdefault(grid.identity, grid)
    return [*grids.values(), latest]


def grids_note(sweep: Sweep, grids: Sequence[Grid]) -> str | None:
    """``SWEEP: this directory holds N grids: ...`` when several commands wrote into it, and
    how far missing-job detection reaches there; None for one grid."""
    if len(grids) < 2:
        return None
    listed = "; ".join(
        f"({number}) {grid.describe()}{', latest' if number == len(grids) else ''}"
        for number, grid in enumerate(grids, 1)
    )
    note = (f"{sweep.path}: this directory holds {len(grids)} grids (the name or sweep directory "
            f"was reused): {listed}.")
    lost = [str(number) for number, grid in enumerate(grids, 1) if grid.keys is None]
    if not lost:
        return note + " Missing jobs are looked for in every grid."
    note += (f" Grid {', '.join(lost)} cannot be rebuilt from {SWEEP_MANIFEST} (it keeps the "
             "command-line overrides, not sweep parameters from a config file)")
    if grids[-1].keys is None:
        return note + ("; missing-job detection is limited to the job count of the latest "
                       "command.")
    others = [str(number) for number, grid in enumerate(grids[:-1], 1) if grid.keys is not None]
    return note + ("; missing-job detection is limited to the latest grid"
                   + (f" and grid {', '.join(others)}" if others else "") + ".")


def job_overrides(job_dir: Path) -> list[str]:
    """The overrides Hydra recorded for a job (``.hydra/overrides.yaml``), if readable."""
    path = job_dir / ".hydra" / "overrides.yaml"
    try:
        from omegaconf import OmegaConf

        overrides = OmegaConf.to_container(OmegaConf.load(path))
    except Exception:  # noqa: BLE001 - only used to describe a broken job
        return []
    return [str(item) for item in overrides] if isinstance(overrides, list) else []


def job_combo(job_dir: Path, keys: Sequence[str], columns: Sequence[str]) -> tuple | None:
    """The grid combination a broken job was running, from its recorded overrides."""
    try:
        values = _override_values(job_overrides(job_dir), columns)
    except Exception:  # noqa: BLE001 - an unparsable record just leaves the job unknown
        return None
    if not all(key in values and len(values[key]) == 1 for key in keys):
        return None
    return tuple(values[key][0] for key in keys)


def describe_combo(keys: Sequence[str], combo: Sequence[Any]) -> str:
    def text(value: Any) -> str:
        return f"{value:g}" if isinstance(value, float) else str(value)

    return " ".join(f"{key}={text(value)}" for key, value in zip(keys, combo))
