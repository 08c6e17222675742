"""seaborn's theme, as the figures use it: the axes styles ``whitegrid`` and ``white``, the
plotting contexts ``paper``, ``talk`` and ``poster``, and the ``colorblind`` palette.

They are seaborn 0.13's values written out, because importing seaborn (which imports
scipy.stats and pyplot) took about a second of every ``paxos-report`` run, and the figures use
nothing else of it. tests/analysis/test_analysis_theme.py checks every value against seaborn's
own, so a seaborn that changes its theme fails a test instead of changing the figures
unnoticed. seaborn itself is imported only for a palette of more than ten colours.
"""

from __future__ import annotations

from typing import Any

from matplotlib.colors import to_rgb

_FONTS = ["Arial", "DejaVu Sans", "Liberation Sans", "Bitstream Vera Sans", "sans-serif"]
# sns.axes_style(name), less "image.cmap" (seaborn's own "rocket", which only an import of
# seaborn registers; no figure here draws an image without naming its colormap).
_AXES_COMMON: dict[str, Any] = {
    "figure.facecolor": "white", "axes.labelcolor": ".15", "xtick.direction": "out",
    "ytick.direction": "out", "xtick.color": ".15", "ytick.color": ".15",
    "axes.axisbelow": True, "grid.linestyle": "-", "text.color": ".15",
    "font.family": ["sans-serif"], "font.sans-serif": _FONTS, "lines.solid_capstyle": "round",
    "patch.edgecolor": "w", "patch.force_edgecolor": True, "xtick.top": False,
    "ytick.right": False, "axes.facecolor": "white", "grid.color": ".8",
    "axes.spines.left": True, "axes.spines.bottom": True, "axes.spines.right": True,
    "axes.spines.top": True, "xtick.bottom": False, "ytick.left": False,
}
AXES_STYLES: dict[str, dict[str, Any]] = {
    "whitegrid": {**_AXES_COMMON, "axes.grid": True, "axes.edgecolor": ".8"},
    "white": {**_AXES_COMMON, "axes.grid": False, "axes.edgecolor": ".15"},
}

# sns.plotting_context(name): seaborn's "notebook" sizes scaled by 0.8 (paper), 1.5 (talk), 2
# (poster), as seaborn computes them (hence 1.2000000000000002).
PLOTTING_CONTEXTS: dict[str, dict[str, Any]] = {
    "paper": {
        "axes.linewidth": 1.0, "grid.linewidth": 0.8, "lines.linewidth": 1.2000000000000002,
        "lines.markersize": 4.800000000000001, "patch.linewidth": 0.8,
        "xtick.major.width": 1.0, "ytick.major.width": 1.0, "xtick.minor.width": 0.8,
        "ytick.minor.width": 0.8, "xtick.major.size": 4.800000000000001,
        "ytick.major.size": 4.800000000000001, "xtick.minor.size": 3.2,
        "ytick.minor.size": 3.2, "font.size": 9.600000000000001,
        "axes.labelsize": 9.600000000000001, "axes.titlesize": 9.600000000000001,
        "xtick.labelsize": 8.8, "ytick.labelsize": 8.8, "legend.fontsize": 8.8,
        "legend.title_fontsize": 9.600000000000001,
    },
    "talk": {
        "axes.linewidth": 1.875, "grid.linewidth": 1.5, "lines.linewidth": 2.25,
        "lines.markersize": 9.0, "patch.linewidth": 1.5, "xtick.major.width": 1.875,
        "ytick.major.width": 1.875, "xtick.minor.width": 1.5, "ytick.minor.width": 1.5,
        "xtick.major.size": 9.0, "ytick.major.size": 9.0, "xtick.minor.size": 6.0,
        "ytick.minor.size": 6.0, "font.size": 18.0, "axes.labelsize": 18.0,
        "axes.titlesize": 18.0, "xtick.labelsize": 16.5, "ytick.labelsize": 16.5,
        "legend.fontsize": 16.5, "legend.title_fontsize": 18.0,
    },
    "poster": {
        "axes.linewidth": 2.5, "grid.linewidth": 2, "lines.linewidth": 3.0,
        "lines.markersize": 12, "patch.linewidth": 2, "xtick.major.width": 2.5,
        "ytick.major.width": 2.5, "xtick.minor.width": 2, "ytick.minor.width": 2,
        "xtick.major.size": 12, "ytick.major.size": 12, "xtick.minor.size": 8,
        "ytick.minor.size": 8, "font.size": 24, "axes.labelsize": 24, "axes.titlesize": 24,
        "xtick.labelsize": 22, "ytick.labelsize": 22, "legend.fontsize": 22,
        "legend.title_fontsize": 24,
    },
}

# sns.color_palette("colorblind"): ten colours told apart with the common colour-vision
# deficiencies.
COLORBLIND = ("#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161", "#fbafe4",
              "#949494", "#ece133", "#56b4e9")


def axes_style(name: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The rcParams of ``sns.axes_style(name, extra)``: like seaborn, ``extra`` may only change
    the style's own keys (seaborn drops any other key silently, and so does this)."""
    style = dict(AXES_STYLES[name])
    style.update({key: value for key, value in (extra or {}).items() if key in style})
    return style


def plotting_context(name: str) -> dict[str, Any]:
    """The rcParams of ``sns.plotting_context(name)``."""
    return dict(PLOTTING_CONTEXTS[name])


def palette(colours: int) -> list[tuple[float, float, float]]:
    """``colours`` RGB colours: seaborn's colorblind palette, or, when more than its ten are
    needed, seaborn's ``husl`` palette (evenly spaced hues), as the figures always chose."""
    if colours <= len(COLORBLIND):
        return [to_rgb(colour) for colour in COLORBLIND[:max(colours, 0)]]
    import seaborn as sns  # a second's import, for a figure with more than ten hues only

    return [tuple(colour) for colour in sns.color_palette("husl", colours)]
