"""From result files to tables and figures: pandas frames, Wilson intervals, the exact theory.

Modules (import the one you need; this package imports nothing heavy on its own):
- :mod:`paxos_exp.analysis.load`: read sweep and job directories into tidy frames, and list
  every job that is missing, failed or unreadable;
- :mod:`paxos_exp.analysis.aggregate`: one row per configuration with intervals, theory and z;
- :mod:`paxos_exp.analysis.plots`: seaborn figures (DataFrame in, Figure out);
- :mod:`paxos_exp.analysis.diagram`: the message-sequence diagram of one traced trial;
- :mod:`paxos_exp.analysis.report`: ``build_report`` writes the tables, figures and report.md;
- :mod:`paxos_exp.analysis.files`: report files written to a temporary name and renamed;
- :mod:`paxos_exp.analysis.cli`: the ``paxos-report`` command.
"""

from __future__ import annotations
