"""The disk cache of a report's exact values: one JSON file beside the report, keyed by
configuration, valid for one version of the sources that decide the values (paxos-exp's
version and a digest of core, the explorer and the analysis's theory modules), read once and
written back atomically when something new was computed."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from paxos_exp.analysis.files import write_text_atomic


# The sources that decide an exact value: the core (protocols, fault models, driver), the
# explorer, and how a row becomes a configuration and a value.
_SOURCES = ("core", "explore/explorer.py", "explore/draws.py", "analysis/theory.py",
            "analysis/row_config.py")


@functools.cache
def cache_version() -> str:
    """paxos-exp's version and a digest of the sources that decide an exact value, so that a
    disk cache never outlives a change to them (an editable install keeps its version)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("paxos-exp")
    except PackageNotFoundError:
        release = "unknown"
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.blake2b(digest_size=8)
    for source in _SOURCES:
        for path in sorted((package / source).rglob("*.py")) if (package / source).is_dir() \
                else [package / source]:
            digest.update(str(path.relative_to(package)).encode())
            digest.update(path.read_bytes())
    return f"{release}+{digest.hexdigest()}"


class DiskCache:
    """Entries per configuration key in one JSON file, for :func:`cache_version` only (an
    entry of another version, or a file that cannot be read, is ignored)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.version = cache_version()
        self.entries: dict[str, dict[str, Any]] = {}
        self.dirty = False
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            if document.get("version") == self.version:
                self.entries = dict(document.get("entries", {}))
        except (OSError, ValueError, AttributeError):
            pass  # no cache yet, or one that cannot be used: explore again

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    def put(self, key: str, entry: dict[str, Any]) -> None:
        self.entries[key] = entry
        self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        write_text_atomic(self.path, json.dumps(
            _strict({"version": self.version, "entries": self.entries}), sort_keys=True,
            allow_nan=False))  # strict JSON, which any reader takes
        self.dirty = False


def _strict(value: Any) -> Any:
    """``value`` with every NaN as None (JSON's null; an entry reads a missing value back)."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {key: _strict(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(item) for item in value]
    return value
