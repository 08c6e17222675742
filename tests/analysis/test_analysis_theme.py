"""The library values the report writes without importing the library: seaborn's theme
(analysis/theme.py) and the intervals of analysis/stats.py (statsmodels' Wilson interval,
scipy.stats' binomial quantile), compared here with the libraries themselves, so the figures
and the tables stay what those libraries would give."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import seaborn as sns
from scipy.stats import binom
from statsmodels.stats.proportion import proportion_confint

from paxos_exp.analysis import stats, theme
from paxos_exp.analysis.style import GRID_STYLE, FigureStyle


@pytest.mark.parametrize("name", ["whitegrid", "white"])
def test_axes_styles_are_seaborns(name: str) -> None:
    expected = dict(sns.axes_style(name, GRID_STYLE if name == "whitegrid" else None))
    expected.pop("image.cmap")  # seaborn's own colormap: left out on purpose
    assert theme.axes_style(name, GRID_STYLE if name == "whitegrid" else None) == expected


@pytest.mark.parametrize("name", ["paper", "talk", "poster"])
def test_plotting_contexts_are_seaborns(name: str) -> None:
    assert theme.plotting_context(name) == dict(sns.plotting_context(name))


@pytest.mark.parametrize("colours", [1, 5, 10, 11, 17])
def test_palettes_are_seaborns(colours: int) -> None:
    expected = sns.color_palette("colorblind" if colours <= 10 else "husl", colours)
    assert theme.palette(colours) == [tuple(colour) for colour in expected]


def test_a_report_imports_neither_seaborn_nor_scipy_stats_nor_statsmodels() -> None:
    # They took about a second of every paxos-report run, for values written out here.
    code = ("import sys, matplotlib; matplotlib.use('Agg');"
            "from paxos_exp.analysis import report, plots, load, export;"
            "from paxos_exp.analysis.style import FigureStyle;"
            "from paxos_exp.analysis.layout import layout_for;"
            "import pandas as pd;"
            "layout_for(pd.DataFrame({'fail_prob': [0.1, 0.2], 'nodes': [3, 5]}), 'fail_prob',"
            " 'nodes', None, None, fold='series');"
            "FigureStyle().rc();"
            "heavy = sorted(m for m in sys.modules if m in ('seaborn', 'scipy.stats',"
            " 'statsmodels', 'matplotlib.pyplot') or m.startswith('statsmodels.'));"
            "print(heavy); sys.exit(1 if set(heavy) - {'matplotlib.pyplot'} else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_wilson_interval_is_statsmodels_to_the_bit() -> None:
    rng = np.random.default_rng(0)
    trials = np.concatenate([np.arange(1, 300), rng.integers(1, 10**6, 2000)])
    successes = rng.integers(0, trials + 1)
    successes[:40], successes[40:80] = 0, trials[40:80]
    low, high = stats.wilson_interval(successes, trials)
    expected_low, expected_high = proportion_confint(successes, trials, alpha=1.0 - 0.95,
                                                     method="wilson")
    expected_low = np.where(successes == 0, 0.0, expected_low)  # exact at the edges
    expected_high = np.where(successes == trials, 1.0, expected_high)
    assert np.array_equal(low, expected_low) and np.array_equal(high, expected_high)


@pytest.mark.parametrize("q", [0.005, 0.995, 0.025, 0.975])
def test_binomial_quantile_is_scipy_stats(q: float) -> None:
    rng = np.random.default_rng(1)
    probabilities = np.concatenate([[0.0, 1.0, 1e-9, 1 - 1e-9], np.linspace(0, 1, 201),
                                    rng.random(300)])
    for trials in [*range(1, 41), 100, 200, 1500, 2000, 39_000, 10**6]:
        counts = stats.binomial_quantile(q, np.full(len(probabilities), float(trials)),
                                         probabilities)
        assert np.array_equal(counts, binom.ppf(q, trials, probabilities)), trials


def test_paper_style_still_holds_the_seaborn_sizes_it_overrides() -> None:
    rc = FigureStyle().rc()
    assert rc["axes.linewidth"] == sns.plotting_context("paper")["axes.linewidth"]
    assert rc["font.size"] == 8  # the context's own text size wins over seaborn's
