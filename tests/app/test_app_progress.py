"""Progress output: the per-trial bar (tqdm) where someone watches, nothing elsewhere, and the
durations in job lines."""

from __future__ import annotations

import io

import pytest

from paxos_exp import app
from paxos_exp.app import _duration, _TrialProgress


@pytest.mark.parametrize(
    "seconds, text", [(0.2, "0 s"), (42, "42 s"), (100, "1 min 40 s"), (3725, "1 h 2 min")]
)
def test_duration(seconds, text):
    assert _duration(seconds) == text


def test_trial_progress_draws_a_throttled_bar_that_ends_complete():
    out = io.StringIO()
    progress = _TrialProgress("nodes=5 fail_prob=0.30 rounds=3", file=out)
    for done in range(1, 201):
        progress(done, 200)
    progress.close()
    text = out.getvalue()
    assert text.startswith("\rnodes=5 fail_prob=0.30 rounds=3:")
    assert "200/200" in text  # the last state is always drawn
    assert text.endswith("\n") and text.count("\n") == 1  # one line, ended once
    assert text.count("\r") < 50  # throttled, not one redraw per trial


def test_trial_progress_silent_when_never_called():
    out = io.StringIO()
    _TrialProgress("x", file=out).close()
    assert out.getvalue() == ""


def test_progress_only_where_someone_watches(monkeypatch):
    monkeypatch.setattr(app.sys.stderr, "isatty", lambda: False, raising=False)
    assert not app._watching()  # a log file, a launcher's captured output
    monkeypatch.setattr(app.sys.stderr, "isatty", lambda: True, raising=False)
    assert app._watching()


def test_progress_false_shows_nothing_on_a_terminal(tmp_path, monkeypatch, capsys):
    from hydra import compose, initialize_config_dir

    monkeypatch.setattr(app, "_watching", lambda: True)
    made = []
    monkeypatch.setattr(app, "_TrialProgress", lambda label: made.append(label) or None)
    with initialize_config_dir(config_dir=app.CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="config",
                      overrides=["nodes=2", "rounds=1", "trials=3", "engine=inprocess",
                                 "progress=false"])
    app.run_job(cfg, output_dir=tmp_path / "job")
    assert made == []
    with initialize_config_dir(config_dir=app.CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="config",
                      overrides=["nodes=2", "rounds=1", "trials=3", "engine=inprocess"])
    app.run_job(cfg, output_dir=tmp_path / "job2")
    assert len(made) == 1 and "nodes=2" in made[0]
