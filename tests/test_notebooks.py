"""The demo notebooks run top to bottom, headless and offline (outputs are not kept)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ALL_NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
NOT_EXECUTED = {
    "04_benchmarks": "plots the JSON that `make bench` writes to benchmarks/results/ (git-ignored, minutes "
    "to make): a fresh clone has none, so the notebook would only print that the files are missing",
}
NOTEBOOKS = [path for path in ALL_NOTEBOOKS if path.stem not in NOT_EXECUTED]


def test_notebooks_exist() -> None:
    assert [p.stem[:2] for p in NOTEBOOKS] == ["01", "02", "03"]
    assert set(NOT_EXECUTED) <= {p.stem for p in ALL_NOTEBOOKS}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    outputs = [output for cell in notebook.cells for output in cell.get("outputs", [])]
    assert [o for o in outputs if o.get("output_type") == "error"] == []
