"""The look of a figure: a context (paper, talk, poster) fixes text sizes and widths.

Sizes are fixed, not fitted: a paper figure is exactly 3.4 in wide (one panel across: a LaTeX
column) or 6.9 in (several panels: the text width), with 8 pt text, so
``\\includegraphics[width=\\linewidth]`` shows it at its real size. PDF figures keep their text as
TrueType text (``pdf.fonttype 42``) and SVG figures as ``<text>`` (``svg.fonttype none``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import matplotlib as mpl

from paxos_exp.analysis import theme

# Dotted grid lines over seaborn's whitegrid (seaborn's own axes_style never let a grid.alpha
# through: the grid was always opaque).
GRID_STYLE = {"axes.grid": True, "grid.linestyle": ":"}


@dataclass(frozen=True)
class Context:
    """What a context fixes: text sizes (points), figure widths (inches), defaults."""

    font: float  # axis labels, tick labels, legend, annotations
    title_font: float  # the figure title
    single_width: float  # one panel across
    full_width: float  # several panels across
    dpi: int  # PNG resolution
    title: bool  # figure titles by default
    marker_size: float
    line_width: float


CONTEXTS = {
    # LaTeX: \columnwidth of two-column classes is 3.3-3.5 in, \textwidth 6.5-7 in.
    "paper": Context(font=8, title_font=9, single_width=3.4, full_width=6.9, dpi=200,
                     title=False, marker_size=3.5, line_width=1.0),
    # A 16:9 slide is 13.3 in wide; leave margins.
    "talk": Context(font=14, title_font=16, single_width=6.0, full_width=11.5, dpi=150,
                    title=True, marker_size=6.5, line_width=1.8),
    "poster": Context(font=20, title_font=24, single_width=9.0, full_width=16.0, dpi=150,
                      title=True, marker_size=9, line_width=2.5),
}
DEFAULT_CONTEXT = "paper"


@dataclass(frozen=True)
class FigureStyle:
    """How figures look: the context (``paper``, ``talk``, ``poster``) and whether they carry
    a title (``None``: the context's default; off for paper, where the caption says it)."""

    context: str = DEFAULT_CONTEXT
    title: bool | None = None

    def __post_init__(self) -> None:
        if self.context not in CONTEXTS:
            raise ValueError(f"context {self.context!r}: choose from {', '.join(CONTEXTS)}")

    @property
    def sizes(self) -> Context:
        return CONTEXTS[self.context]

    @property
    def font(self) -> float:
        return self.sizes.font

    @property
    def show_title(self) -> bool:
        return self.sizes.title if self.title is None else self.title

    def width(self, panels_across: int) -> float:
        return self.sizes.single_width if panels_across <= 1 else self.sizes.full_width

    def rc(self) -> dict[str, Any]:
        """rcParams: seaborn's context (line widths, tick sizes), this context's text sizes,
        and text kept as text in PDF (TrueType, fonttype 42) and SVG (``<text>`` elements)."""
        sizes = self.sizes
        params = theme.plotting_context(self.context)
        font = sizes.font
        params.update({
            "font.size": font, "axes.labelsize": font, "axes.titlesize": font,
            "xtick.labelsize": font, "ytick.labelsize": font, "legend.fontsize": font,
            "legend.title_fontsize": font, "figure.titlesize": sizes.title_font,
            "lines.linewidth": sizes.line_width, "lines.markersize": sizes.marker_size,
            "pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "none",
            "svg.hashsalt": "paxos-exp",  # fixed SVG ids: the same data gives the same file
            "figure.constrained_layout.h_pad": 0.03, "figure.constrained_layout.w_pad": 0.03,
            "figure.dpi": 100,
        })
        return params

    @contextlib.contextmanager
    def applied(self, axes_style: str = "whitegrid") -> Iterator[None]:
        """The style's rcParams (over a seaborn axes style) for drawing and saving."""
        extra = GRID_STYLE if axes_style == "whitegrid" else {}
        with mpl.rc_context({**theme.axes_style(axes_style, extra), **self.rc()}):
            yield


def as_style(style: FigureStyle | str | None) -> FigureStyle:
    """A FigureStyle from a style, a context name, or None (the default: paper)."""
    if style is None:
        return FigureStyle()
    if isinstance(style, str):
        return FigureStyle(context=style)
    return style
