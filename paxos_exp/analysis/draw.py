"""Drawing a report's figures into files, one after another.

A figure that cannot be built is reported (the report goes on without it, and report.md says
why); one that cannot be written (a full disk) stops the report. Each figure is built, saved in
every format and let go before the next is built, so only one is in memory at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from paxos_exp.analysis.style import FigureStyle

class FigureLeftOut(ValueError):
    """A figure its data would make misleading (a heatmap mostly empty): left out, with the
    reason, which report.md lists under "Figures not drawn"."""


Saver = Callable[[Any, Path, str, Sequence[str], FigureStyle, "float | None"], Any]


def _draw_one(name: str, build: Callable[[], Any], directory: Path, formats: Sequence[str],
              style: FigureStyle, dpi: float | None, save: Saver) -> str | None:
    """Build and save one figure; the reason it was not drawn, or None."""
    try:
        with style.applied():
            figure = build()
    except FigureLeftOut as error:  # a figure that would mislead: the reason alone
        return str(error)
    except Exception as error:  # noqa: BLE001 - one bad figure must not stop the report
        return f"{type(error).__name__}: {error}"
    save(figure, directory, name, formats, style, dpi)
    return None


def draw_figures(
    builders: dict[str, Callable[[], Any]],
    directory: Path,
    formats: Sequence[str],
    style: FigureStyle,
    dpi: float | None,
    save: Saver,
) -> dict[str, str | None]:
    """Draw every figure of ``builders`` (name -> function returning a Figure) into
    ``directory`` with ``save``; returns, in the builders' order, each name with the reason it
    was not drawn (None when it was)."""
    return {name: _draw_one(name, build, directory, formats, style, dpi, save)
            for name, build in builders.items()}
