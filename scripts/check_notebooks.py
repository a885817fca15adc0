"""`make lint`: committed notebooks carry no outputs or execution counts (CI executes them fresh)."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat


def main() -> int:
    dirty = []
    for path in sorted(Path("notebooks").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
                dirty.append(str(path))
                break
    for path in dirty:
        sys.stderr.write(f"{path}: has outputs; strip them (clear all outputs) before committing\n")
    return 1 if dirty else 0


if __name__ == "__main__":
    sys.exit(main())
