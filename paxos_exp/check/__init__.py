"""Checking PA3 runs against PROTOCOL.md, independently of the code that produced them.

``check_text``/``check_lines``/``check_file`` read a transcript (any PA3 program's, in the
handout's spelling variants), rebuild every node's state from its lines and report each
broken rule as a :class:`Problem` (line, rule, explanation); :data:`RULES` names them all.
Pure: the standard library and this package only (no zmq, multiprocessing or Hydra), and no
code shared with ``paxos_exp.core``, so a bug there is not repeated here.

Modules: ``transcript`` (lines into typed events), ``rounds`` (events into rounds, with the
ordering the protocol guarantees), ``state`` (every node's state, rebuilt), ``rules`` (one
small function per rule of a round), ``checker`` (a file's runs), ``output`` (text, JSON),
``cli`` (``paxos-check``).
"""

from paxos_exp.check.checker import (
    FileResult,
    Options,
    RunSummary,
    UsageError,
    check_file,
    check_lines,
    check_text,
)
from paxos_exp.check.problems import RULES, Problem

__all__ = ["FileResult", "Options", "Problem", "RULES", "RunSummary", "UsageError", "check_file",
           "check_lines", "check_text"]
