"""The project's exception family: every message tells the user what to change."""

from __future__ import annotations


class PaxosExpError(Exception):
    """Base class of every error paxos-exp raises on purpose."""


class ConfigError(PaxosExpError, ValueError):
    """A configuration value is invalid; raised before any process starts."""


class RunError(PaxosExpError, RuntimeError):
    """A run could not complete (a node died, stalled, or broke the protocol)."""


class ProtocolError(PaxosExpError, RuntimeError):
    """A node received a message the protocol does not allow at that point."""


class OutputClosedError(RunError):
    """The transcript's reader went away (``paxos-classic ... | head``): the run was stopped."""


class StopSweep(BaseException):
    """A failure that no later job can escape (the disk is full, the directory read-only).

    A BaseException, so that Hydra's launcher does not record it as one failed job and go on
    to the next one; the entry point turns it into one line and a non-zero exit status."""
