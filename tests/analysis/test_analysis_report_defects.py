"""Three defects of the report seen in experiments/protocol_variants (a directory holding the
classic protocols and flexible quorums, written by two presets), each pinned here:

- the configuration table repeated ``null`` once per job for a setting (join/vote quorum,
  allow_unsafe) that most protocols do not have;
- figure legends read "allow unsafe = nan" for the protocols without that setting;
- report.md said "84 job directories of 14 in the sweep" for a directory holding two grids
  (14 was the latest command's job count).
"""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import matplotlib.figure
import numpy as np
import pandas as pd
from analysis_helpers import run_sweep

from paxos_exp.analysis import aggregate, plots
from paxos_exp.analysis.report import build_report
from paxos_exp.core import theory
from paxos_exp.core.quorum import Quorums


def _job_dirs(sweep: Path) -> list[Path]:
    return sorted(path for path in sweep.iterdir() if (path / "result.json").is_file())


def _make_flexible(sweep: Path) -> None:
    """Rewrite every job of ``sweep`` as a flexible-quorum job (its own job key)."""
    for job in _job_dirs(sweep):
        document = json.loads((job / "result.json").read_text())
        document["config"]["protocol"] = {"name": "flexible", "join_quorum": 2,
                                          "vote_quorum": 3, "allow_unsafe": True}
        document["job_key"] += "_flexible"
        (job / "result.json").write_text(json.dumps(document))


def _config_line(report: str, key: str) -> str:
    (line,) = [line for line in report.splitlines() if line.startswith(f"| `{key}` |")]
    return line


def test_a_setting_some_protocols_lack_is_named_once_in_the_configuration_table(
    tiny_sweep: Path,
) -> None:
    flexible = tiny_sweep.parent / "tiny_flexible"
    shutil.copytree(tiny_sweep, flexible)
    _make_flexible(flexible)
    out = build_report([tiny_sweep, flexible])
    report = (out / "report.md").read_text()
    for key, value in (("join_quorum", "2"), ("vote_quorum", "3"), ("allow_unsafe", "True")):
        line = _config_line(report, key)
        assert line == f"| `{key}` | varies: {value}, not set (protocol classic) |", line
        assert "null" not in line
    assert _config_line(report, "protocol") == "| `protocol` | varies: classic, flexible |"


def _jobs_with_a_flexible_pair(trials: int = 400) -> pd.DataFrame:
    """Classic jobs and flexible ones (2+3, allow_unsafe), counts on the exact values; the
    flexible settings are missing (NaN) for classic, as the readers give them."""
    rows = []
    for fail_prob, protocol in itertools.product((0.0, 0.2, 0.4), ("classic", "flexible")):
        flexible = protocol == "flexible"
        quorums = Quorums.for_nodes(5, 2, 3) if flexible else Quorums.for_nodes(5)
        law = theory.quorum_law(5, fail_prob, quorums)
        rows.append({
            "status": "ok", "nodes": 5, "fail_prob": fail_prob, "rounds": 3, "trials": trials,
            "seed": 0, "protocol": protocol,
            "allow_unsafe": True if flexible else np.nan,
            "join_quorum": 2 if flexible else np.nan, "vote_quorum": 3 if flexible else np.nan,
            "decided": round(law.decision_within(3) * trials), "rounds_total": 3 * trials,
            "deciding_rounds": round(law.decides * 3 * trials), "sent_total": 100 * trials,
            "safe": True,
        })
    return pd.DataFrame(rows)


def _legend_texts(figure: matplotlib.figure.Figure) -> list[str]:
    return [text.get_text() for legend in figure.legends for text in legend.get_texts()]


def test_legends_leave_out_settings_a_protocol_does_not_have() -> None:
    summary = aggregate.summarize(_jobs_with_a_flexible_pair())
    assert {"allow_unsafe", "join_quorum", "vote_quorum"} <= set(summary.columns)
    # colour = N: the protocols and their settings are series
    texts = _legend_texts(plots.decision_rate_figure(summary, hue="nodes", col="rounds"))
    assert "protocol = classic" in texts
    flexible = [text for text in texts if text.startswith("protocol = flexible")]
    assert flexible == ["protocol = flexible, allow unsafe = true, join quorum = 2, "
                        "vote quorum = 3"]
    # colour = protocol: only the flexible series names its settings
    texts = _legend_texts(plots.decision_rate_figure(summary, hue="protocol", col="rounds"))
    assert texts[:2] == ["classic", "flexible"]
    assert "allow unsafe = true, join quorum = 2, vote quorum = 3" in texts
    for text in texts:
        assert "nan" not in text.lower() and "none" not in text.lower(), text


def test_a_directory_holding_two_grids_is_not_counted_against_the_latest(
    tmp_path: Path,
) -> None:
    first = ("nodes=3,5", "fail_prob=0.1", "rounds=1", "trials=5", "engine=inprocess",
             "report=false")
    second = ("nodes=3", "fail_prob=0.1,0.4", "rounds=1", "trials=5", "engine=inprocess",
              "report=false")
    sweep = run_sweep(tmp_path, "two", *first)
    run_sweep(tmp_path, "two", *second)  # shares the job nodes=3 fail_prob=0.1
    assert len(_job_dirs(sweep)) == 3
    report = (build_report([sweep], out=tmp_path / "r") / "report.md").read_text()
    (line,) = [line for line in report.splitlines() if line.startswith(f"- `{sweep}`")]
    assert "of 2 in the sweep" not in line, line
    assert line.endswith("3 job directories, written by 2 different sweep commands asking "
                         "for 2 + 2 jobs (the latest last; they may share jobs)"), line
    # a resumed command is one grid: the same command again (as sweep.json records a rerun)
    # adds nothing
    manifest = json.loads((sweep / "sweep.json").read_text())
    manifest["history"].append({key: manifest[key] for key in ("command", "overrides",
                                                                 "total_jobs")})
    (sweep / "sweep.json").write_text(json.dumps(manifest))
    report = (build_report([sweep], out=tmp_path / "r") / "report.md").read_text()
    assert "2 different sweep commands asking for 2 + 2 jobs" in report


def test_a_figure_not_drawn_this_time_leaves_no_file_of_an_earlier_build(tmp_path):
    """A stale figure beside the new ones would be copied by export as if it were current."""
    # own_value at N=3, p=0.3 breaks agreement in most of 40 trials (seeded: always the same).
    sweep = run_sweep(tmp_path, "stale", "protocol=classic,own_value", "nodes=3",
                      "fail_prob=0.3", "rounds=10", "trials=40", "engine=inprocess",
                      "report=false")
    out = build_report([sweep], out=tmp_path / "report", formats="png")
    assert (out / "violation_rate.png").is_file()
    # The same sweep filtered to the safe protocol: no violations, so no violation figure.
    build_report([sweep], out=out, query="protocol == 'classic'", formats="png")
    assert not list(out.glob("violation_rate.*"))
