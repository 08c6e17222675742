"""Progress output: the per-trial line on a terminal and the durations in job lines."""

from __future__ import annotations

import pytest

from paxos_exp.app import _duration, _TrialProgress


@pytest.mark.parametrize(
    "seconds, text", [(0.2, "0 s"), (42, "42 s"), (100, "1 min 40 s"), (3725, "1 h 2 min")]
)
def test_duration(seconds, text):
    assert _duration(seconds) == text


def test_trial_progress_rewrites_one_line_and_ends_it(capsys):
    progress = _TrialProgress("nodes=5 fail_prob=0.30 rounds=3")
    for done in range(1, 201):
        progress(done, 200)
    progress.close()
    err = capsys.readouterr().err
    assert err.startswith("\rnodes=5 fail_prob=0.30 rounds=3: trial ")
    assert "trial 200/200" in err  # the last update is always shown
    assert err.endswith("\n") and err.count("\n") == 1
    assert err.count("\r") < 200  # throttled, not one write per trial


def test_trial_progress_silent_when_never_called(capsys):
    _TrialProgress("x").close()
    assert capsys.readouterr().err == ""
