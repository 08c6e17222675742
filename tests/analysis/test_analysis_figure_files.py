"""Figure files at each format and context: PDF and SVG keep their text as text, sizes fit a
LaTeX page, the same options on ``paxos-report export``, and bad formats are one line."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pypdf
import pytest

from paxos_exp.analysis.cli import main
from paxos_exp.analysis.discover import ReportError
from paxos_exp.analysis.report import FIGURES, build_report, parse_formats
from paxos_exp.analysis.style import CONTEXTS

AXIS_LABEL = "crash probability p"  # on every figure but the heatmap's panels too


def png_size(path: Path) -> tuple[int, int]:
    """Width and height in pixels, from the PNG header."""
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n"), path
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def pdf_text_and_fonts(path: Path) -> tuple[str, set[str], float]:
    """The text of a one-page PDF, the subtypes of its fonts, and its width in inches."""
    page = pypdf.PdfReader(path).pages[0]
    fonts = page["/Resources"]["/Font"]
    subtypes = {str(fonts[name].get_object()["/Subtype"]) for name in fonts}
    return page.extract_text(), subtypes, float(page.mediabox.width) / 72


def test_png_pdf_svg_in_paper_context(tiny_sweep: Path, tmp_path: Path) -> None:
    out = build_report([tiny_sweep], out=tmp_path / "r", formats="png,pdf,svg")
    for name in FIGURES:
        for fmt in ("png", "pdf", "svg"):
            assert (out / f"{name}.{fmt}").stat().st_size > 1_000, (name, fmt)
        # The tiny sweep has two round limits: two panels across, the full text width.
        width, _ = png_size(out / f"{name}.png")
        assert width == round(CONTEXTS["paper"].full_width * CONTEXTS["paper"].dpi), name
        text, fonts, inches = pdf_text_and_fonts(out / f"{name}.pdf")
        assert inches == pytest.approx(CONTEXTS["paper"].full_width, abs=0.01), name
        assert AXIS_LABEL in text, name  # text is text: searchable
        assert "/Type3" not in fonts and fonts, (name, fonts)  # TrueType (fonttype 42)
        svg = (out / f"{name}.svg").read_text(encoding="utf-8")
        assert re.search(r"<text[^>]*>[^<]*crash probability p", svg), name  # <text>, not paths
        assert 'width="496.8pt"' in svg  # 6.9 in, no cropping
    report = (out / "report.md").read_text()
    assert "![Decision rate](decision_rate.png)" in report
    assert "[decision_rate.pdf](decision_rate.pdf)" in report
    assert "--format png,pdf,svg" in report  # the rebuild command keeps the formats
    assert not (out / "trials.csv").exists()  # only with --trials-table


def test_the_same_data_gives_the_same_figure_files(tmp_path: Path) -> None:
    """No dates, versions or random ids in the files: committed figures change only when the
    results do."""
    from test_analysis_plots import summary_frame

    from paxos_exp.analysis import plots
    from paxos_exp.analysis.report import save_figure

    for name in ("a", "b"):
        save_figure(plots.decision_rate_figure(summary_frame()), tmp_path, name,
                    formats=("pdf", "svg", "png"), dpi=30)
    for fmt in ("pdf", "svg", "png"):
        assert (tmp_path / f"a.{fmt}").read_bytes() == (tmp_path / f"b.{fmt}").read_bytes(), fmt


@pytest.mark.parametrize("context", ["talk", "poster"])
def test_talk_and_poster_figures(tmp_path: Path, context: str) -> None:
    from test_analysis_plots import summary_frame

    from paxos_exp.analysis import plots
    from paxos_exp.analysis.report import save_figure

    figure = plots.decision_rate_figure(summary_frame(), style=context)
    save_figure(figure, tmp_path, "rate", formats=("pdf", "png"), style=context, dpi=20)
    sizes = CONTEXTS[context]
    text, fonts, inches = pdf_text_and_fonts(tmp_path / "rate.pdf")
    assert inches == pytest.approx(sizes.full_width, abs=0.01)
    assert AXIS_LABEL in text and "/Type3" not in fonts
    assert "Decision within the round limit" in text  # titled by default
    assert png_size(tmp_path / "rate.png")[0] == round(sizes.full_width * 20)


def test_cli_options_reach_the_files(tiny_sweep: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli"
    assert main([str(tiny_sweep), "--out", str(out), "--format", "svg,pdf", "--context",
                 "talk", "--no-title", "--trials-table"]) == 0
    assert not list(out.glob("*.png"))
    assert (out / "trials.csv").is_file()
    text, _, inches = pdf_text_and_fonts(out / "decision_rate.pdf")
    assert inches == pytest.approx(CONTEXTS["talk"].full_width, abs=0.01)
    assert "Decision within the round limit" not in text  # --no-title
    report = (out / "report.md").read_text()
    assert "![Decision rate](decision_rate.svg)" in report  # no PNG: the SVG is shown


def test_export_takes_the_same_options(tiny_sweep: Path, tmp_path: Path) -> None:
    dest = tmp_path / "experiments" / "tiny"
    assert main(["export", str(tiny_sweep), str(dest), "--format", "pdf,png", "--dpi",
                 "50"]) == 0
    for name in FIGURES:
        assert (dest / f"{name}.pdf").is_file() and (dest / f"{name}.png").is_file()
        assert not (dest / f"{name}.svg").exists()
        assert png_size(dest / f"{name}.png")[0] == round(CONTEXTS["paper"].full_width * 50)
    readme = (dest / "README.md").read_text()
    assert "(decision_rate.png)" in readme and "--format pdf,png" in readme


def test_bad_formats_are_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_formats(None) == ("png", "svg")
    assert parse_formats("PDF, .svg,pdf") == ("pdf", "svg")
    with pytest.raises(ReportError, match="tiff: not a figure format"):
        parse_formats("png,tiff")
    # PGF needs LaTeX to measure its text: without it, one line says what to do.
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ReportError, match="pgf needs LaTeX"):
        parse_formats("pdf,pgf")


@pytest.mark.skipif(shutil.which("xelatex") is None, reason="PGF needs xelatex")
def test_pgf_with_latex(tiny_sweep: Path, tmp_path: Path) -> None:
    out = build_report([tiny_sweep], out=tmp_path / "pgf", formats="pgf")
    assert AXIS_LABEL in (out / "decision_rate.pgf").read_text(encoding="utf-8")


def test_diagram_formats_keep_text(traced_job: Path, tmp_path: Path) -> None:
    job = tmp_path / traced_job.name
    shutil.copytree(traced_job, job)
    assert main(["diagram", str(job), "--trial", "0", "--rounds", "0:2", "--format",
                 "pdf,svg"]) == 0
    text, fonts, _ = pdf_text_and_fonts(job / "diagram_trial0_rounds0-2.pdf")
    assert "START" in text and "/Type3" not in fonts
    assert "START</text>" in (job / "diagram_trial0_rounds0-2.svg").read_text(encoding="utf-8")
    assert not (job / "diagram_trial0_rounds0-2.png").exists()

