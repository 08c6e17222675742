"""paxos-exp: a configuration-driven experiment runner for synchronous binary Paxos.

Importing the package is cheap on purpose (the classic CLI must start fast): everything below
is loaded on first use.

- :func:`run`: run one configuration in this process and get its records;
- :func:`load_sweeps`: sweep directories as typed tidy pandas frames (jobs, trials, rounds);
- :func:`summarize`: one row per configuration, with Wilson intervals and the exact theory;
- :class:`Sweeps`: what :func:`load_sweeps` returns.

Importing anything from paxos_exp never chooses a matplotlib backend (a notebook keeps its
own); the command-line tools choose a file backend when they run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Sweeps", "__version__", "load_sweeps", "run", "summarize"]

if TYPE_CHECKING:  # for type checkers and editors; at run time they load on first use
    from paxos_exp.analysis.api import Sweeps, load_sweeps, summarize
    from paxos_exp.runtime.api import run

_LAZY = {
    "run": "paxos_exp.runtime.api",
    "load_sweeps": "paxos_exp.analysis.api",
    "summarize": "paxos_exp.analysis.api",
    "Sweeps": "paxos_exp.analysis.api",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'paxos_exp' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
