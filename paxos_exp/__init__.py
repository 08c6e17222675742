"""paxos-exp: a configuration-driven experiment runner for synchronous binary Paxos.

Importing the package is cheap on purpose (the classic CLI must start fast): the run
function is loaded on first use.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "run"]


def __getattr__(name: str) -> Any:
    if name == "run":
        from paxos_exp.runtime.api import run

        return run
    raise AttributeError(f"module 'paxos_exp' has no attribute {name!r}")
