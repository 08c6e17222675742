"""From result files to tables and figures: pandas frames, Wilson intervals, the exact theory.

Modules, one job each (import the one you need; this package imports nothing heavy on its own):
- :mod:`.discover`: find sweep and job directories (globs, markers, the latest sweep);
- :mod:`.job`: read and validate one job (result.json through :mod:`paxos_exp.schema`, tables);
- :mod:`.grid`: what each sweep command asked for (the only module that imports Hydra/OmegaConf);
- :mod:`.missing`: the jobs a sweep asked for and lacks; :mod:`.problems`: the problem kinds;
- :mod:`.load`: ``load`` reads directories into tidy frames and lists every problem found;
- :mod:`.api`: the public pandas API, ``paxos_exp.load_sweeps`` (typed tidy frames) and
  ``paxos_exp.summarize`` (one row per configuration, intervals and theory);
- :mod:`.stats`: Wilson intervals, z, acceptance intervals;
- :mod:`.aggregate`: one row per configuration with intervals, exact theory and z;
- :mod:`.theory`: a row's exact values (core's closed form, else the exhaustive explorer within
  a budget), cached (:mod:`.theory_cache` beside a report); :mod:`.row_config`: a row's
  configuration rebuilt from its columns; :mod:`.exact`: the figures' exact curves;
- :mod:`.style` and :mod:`.theme`: figure sizes per context, over seaborn's theme (its values,
  checked against seaborn by a test; seaborn itself is not imported);
- :mod:`.layout` and :mod:`.plots`: figure layout helpers, and the figures (DataFrame in,
  Figure out); :mod:`.diagram`: the message-sequence diagram of one traced trial;
- :mod:`.report_text` and :mod:`.report`: report.md's text, and ``build_report``;
  :mod:`.draw`: its figures drawn into files, one after another;
- :mod:`.export`: a study folder under ``experiments/``; :mod:`.files`: atomic writes;
- :mod:`.cli`: the ``paxos-report`` command.
"""

from __future__ import annotations
