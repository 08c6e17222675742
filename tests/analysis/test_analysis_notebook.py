"""examples/compare_configurations.ipynb, executed on a tiny sweep as a user would run it."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "compare_configurations.ipynb"


def test_the_notebook_is_committed_without_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)
    tagged = [cell for cell in code if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1 and "PAXOS_EXP_SWEEP" in tagged[0].source


@pytest.mark.timeout(300)
def test_the_notebook_runs_on_a_tiny_sweep(tiny_sweep: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAXOS_EXP_SWEEP", str(tiny_sweep))  # the kernel inherits it
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel chooses its inline backend
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    outputs = [output for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    text = "".join(output.get("text", "") for output in outputs)
    assert "Sweeps(jobs=8, trials=240, rounds=None, problems=0)" in text
    tables = [output for output in outputs if "text/html" in output.get("data", {})]
    assert any("decision_rate" in table["data"]["text/html"] for table in tables)
    # The figure was drawn inline as an image (the package left the kernel's backend alone).
    images = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(images) == 1
    assert not os.environ.get("MPLBACKEND")
