"""Writing report files atomically: to a temporary name in the same directory, then a rename.

A reader (a browser showing report.md, a notebook reading summary.csv, a second
``paxos-report``) never sees half a file, and a write that fails leaves the old file and no
temporary behind. Text goes through :func:`paxos_exp.results.write_atomic`; figures and copies
through :func:`replace_atomic`, whose temporary file is created with a plain ``open(..., "xb")``
so that it gets ``0666 & ~umask`` like any file the user creates (``mkstemp`` would give 0600),
without touching the process-wide umask.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from paxos_exp.results import write_atomic

__all__ = ["copy_atomic", "replace_atomic", "save_figure_atomic", "write_text_atomic"]


def write_text_atomic(path: Path, text: str) -> None:
    """``text`` into ``path`` (UTF-8), renamed into place."""
    write_atomic(Path(path), text)


def _open_temporary(path: Path) -> tuple[Path, IO[bytes]]:
    """A new, hidden file beside ``path`` with the same suffix (matplotlib and viewers go by
    it), opened for binary writing. ``"x"`` refuses an existing name, so two writers never
    share a temporary file; a clash just draws another name."""
    while True:
        temporary = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.tmp{path.suffix}")
        try:
            return temporary, open(temporary, "xb")  # noqa: SIM115 - closed by the caller
        except FileExistsError:
            continue


def replace_atomic(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Call ``write(handle)`` on a temporary file beside ``path``, then rename it over ``path``.

    If ``write`` (or the rename) fails the temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary, handle = _open_temporary(path)
    try:
        with handle:
            write(handle)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def save_figure_atomic(figure: Any, path: Path, **options: Any) -> None:
    """``figure.savefig`` into ``path``, the format taken from its suffix (``.png``, ``.svg``,
    ``.pdf``): matplotlib cannot guess it from a file handle."""
    path = Path(path)
    options.setdefault("format", path.suffix.lstrip(".").lower() or None)
    replace_atomic(path, lambda handle: figure.savefig(handle, **options))


def copy_atomic(source: Path, dest: Path) -> None:
    """Copy the content of ``source`` to ``dest``; ``dest`` gets the umask's mode."""
    with open(source, "rb") as reader:
        replace_atomic(Path(dest), lambda handle: shutil.copyfileobj(reader, handle))
