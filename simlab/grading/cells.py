"""Splitting an exercise file into the cells a notebook would run.

Exercise files use jupytext's percent format: a line starting with ``# %%``
opens a cell, and ``# %% [markdown]`` cells hold prose. An instructor's
source file may also hold ``# %% [key]`` cells: the answer key, which only
the grader runs (:mod:`simlab.grading.course`). The grader runs code cells
one at a time, as Jupyter would, so an error in one cell costs only the
answers that depend on it. A notebook (``.ipynb``) saved from the same file
is read too.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Cell", "read_cells", "key_cells", "cell_kind", "CELL_MARKER", "KEY_CELL"]

#: A line opening a percent-format cell; group 1 is the rest of the line.
CELL_MARKER = re.compile(r"^# ?%%(?!%)(.*)$")
#: The tag of an instructor-only cell holding the answer key.
KEY_CELL = "[key]"


def cell_kind(marker_rest: str) -> str:
    """``"markdown"``, ``"key"`` or ``"code"`` for the text after ``# %%``."""
    if "[markdown]" in marker_rest or "[md]" in marker_rest:
        return "markdown"
    return "key" if KEY_CELL in marker_rest else "code"


@dataclass(frozen=True)
class Cell:
    """A code cell.

    Attributes
    ----------
    source : str
    line : int
        The line of the file where the source starts (1-based), so that
        tracebacks point at the student's own line numbers.
    where : str
        How feedback names the cell: ``"cell 3 (line 40)"``.
    """

    source: str
    line: int
    where: str


def read_cells(path: str | Path) -> list[Cell]:
    """The code cells of a percent-format ``.py`` file or an ``.ipynb`` notebook.

    A ``.py`` file without any ``# %%`` marker is one cell.

    Raises
    ------
    ValueError
        If a notebook is not valid JSON or lacks its ``cells`` list.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".ipynb":
        return _notebook_cells(text, path)
    return _percent_cells(text)


def key_cells(text: str) -> list[Cell]:
    """The ``# %% [key]`` cells of a percent-format source text."""
    return _percent_cells(text, kind="key")


def _percent_cells(text: str, kind: str = "code") -> list[Cell]:
    cells, lines, start, current = [], [], 1, "code"

    def close_cell() -> None:
        if current == kind and "".join(lines).strip():
            cells.append(Cell("\n".join(lines), start, f"cell {len(cells) + 1} (line {start})"))

    for number, line in enumerate(text.splitlines(), start=1):
        marker = CELL_MARKER.match(line)
        if marker:
            close_cell()
            lines, start, current = [], number + 1, cell_kind(marker.group(1))
        else:
            lines.append(line)
    close_cell()
    return cells


def _notebook_cells(text: str, path: Path) -> list[Cell]:
    try:
        notebook = json.loads(text)
        raw_cells = notebook["cells"]
        if not isinstance(raw_cells, list) or not all(isinstance(c, dict) for c in raw_cells):
            raise TypeError("cells must be a list of objects")
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"{path.name} is not a readable Jupyter notebook; save it again from "
                         "Jupyter, or submit the .py file") from None
    cells = []
    for number, cell in enumerate(raw_cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(map(str, source)) if isinstance(source, list) else str(source)
        # IPython magics and shell escapes are not Python; a plain run skips them.
        source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                           for line in source.splitlines())
        if source.strip():
            cells.append(Cell(source, 1, f"notebook cell {number}"))
    return cells
