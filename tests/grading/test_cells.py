"""Splitting exercise files into cells (simlab.grading.cells)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from simlab.grading.cells import Cell, read_cells


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def notebook(cells: list[dict]) -> str:
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def code(source) -> dict:
    return {"cell_type": "code", "source": source, "metadata": {}, "outputs": [],
            "execution_count": None}


def markdown(source) -> dict:
    return {"cell_type": "markdown", "source": source, "metadata": {}}


# ---------------------------------------------------------------- percent format

PERCENT = """\
\"\"\"Header docstring.\"\"\"
import math

# %% [markdown]
# # Q1
# Some prose with code-like text: x = 1

# %%
def q1():
    return 1

# %% Q2 [markdown]
# more prose

# %%
x = 2
y = 3
"""


def test_percent_code_cells_and_markdown_skipped(tmp_path):
    cells = read_cells(write(tmp_path, "ex.py", PERCENT))
    assert [c.source.strip() for c in cells] == [
        '"""Header docstring."""\nimport math',
        "def q1():\n    return 1",
        "x = 2\ny = 3",
    ]
    assert all(isinstance(c, Cell) for c in cells)
    assert not any("prose" in c.source for c in cells)


def test_percent_line_numbers_and_where(tmp_path):
    cells = read_cells(write(tmp_path, "ex.py", PERCENT))
    assert [c.line for c in cells] == [1, 9, 16]
    assert [c.where for c in cells] == ["cell 1 (line 1)", "cell 2 (line 9)",
                                        "cell 3 (line 16)"]


def test_cell_line_is_first_source_line_so_tracebacks_match(tmp_path):
    path = write(tmp_path, "ex.py", PERCENT)
    lines = path.read_text().splitlines()
    for cell in read_cells(path):
        first = cell.source.splitlines()[0]
        assert lines[cell.line - 1] == first


def test_line_counts_blank_lines_after_marker(tmp_path):
    text = "# %%\n\n\nvalue = 1\n"
    (cell,) = read_cells(write(tmp_path, "ex.py", text))
    assert cell.line == 2
    # padding the source to its line keeps `value = 1` on line 4
    assert ("\n" * (cell.line - 1) + cell.source).splitlines()[3] == "value = 1"


def test_header_before_first_marker_is_a_cell(tmp_path):
    cells = read_cells(write(tmp_path, "ex.py", "import numpy as np\n# %%\nx = 1\n"))
    assert [(c.source, c.line) for c in cells] == [("import numpy as np", 1), ("x = 1", 3)]


def test_blank_header_is_skipped(tmp_path):
    cells = read_cells(write(tmp_path, "ex.py", "\n\n# %%\nx = 1\n"))
    assert len(cells) == 1
    assert cells[0].where == "cell 1 (line 4)"


def test_file_without_markers_is_one_cell(tmp_path):
    text = "import math\n\n\ndef q1():\n    return math.pi\n"
    cells = read_cells(write(tmp_path, "ex.py", text))
    assert len(cells) == 1
    assert cells[0].line == 1
    assert cells[0].where == "cell 1 (line 1)"
    assert cells[0].source == text.rstrip("\n")


def test_empty_file_has_no_cells(tmp_path):
    assert read_cells(write(tmp_path, "ex.py", "")) == []


def test_empty_cells_are_skipped(tmp_path):
    text = "# %%\n\n   \n# %%\n# %%\nx = 1\n# %%\n"
    cells = read_cells(write(tmp_path, "ex.py", text))
    assert [(c.source, c.where) for c in cells] == [("x = 1", "cell 1 (line 6)")]


def test_comment_only_cell_is_kept(tmp_path):
    cells = read_cells(write(tmp_path, "ex.py", "# %%\n# just a comment\n"))
    assert [c.source for c in cells] == ["# just a comment"]


def test_triple_percent_is_not_a_marker(tmp_path):
    text = "# %%\nx = 1\n# %%% not a cell\ny = 2\n"
    cells = read_cells(write(tmp_path, "ex.py", text))
    assert len(cells) == 1
    assert cells[0].source == "x = 1\n# %%% not a cell\ny = 2"


@pytest.mark.parametrize("marker", ["# %%", "#%%", "# %% Q1 title", "# %% tags=[\"x\"]"])
def test_marker_variants_open_a_code_cell(tmp_path, marker):
    cells = read_cells(write(tmp_path, "ex.py", f"a = 1\n{marker}\nb = 2\n"))
    assert [c.source for c in cells] == ["a = 1", "b = 2"]


def test_indented_marker_is_not_a_marker(tmp_path):
    text = "def f():\n    # %%\n    return 1\n"
    assert len(read_cells(write(tmp_path, "ex.py", text))) == 1


@pytest.mark.parametrize("marker", ["# %% [markdown]", "# %% [md]", "#%% [markdown]"])
def test_markdown_markers(tmp_path, marker):
    cells = read_cells(write(tmp_path, "ex.py", f"# %%\nx = 1\n{marker}\n# prose\n"))
    assert [c.source for c in cells] == ["x = 1"]


def test_markdown_cell_closed_by_next_code_marker(tmp_path):
    text = "# %% [markdown]\n# prose\n# %%\nz = 3\n"
    assert [c.source for c in read_cells(write(tmp_path, "ex.py", text))] == ["z = 3"]


def test_cell_numbers_count_code_cells_only(tmp_path):
    text = "# %% [markdown]\n# a\n# %%\nx = 1\n# %% [markdown]\n# b\n# %%\ny = 2\n"
    cells = read_cells(write(tmp_path, "ex.py", text))
    assert [c.where for c in cells] == ["cell 1 (line 4)", "cell 2 (line 8)"]


def test_windows_line_endings(tmp_path):
    path = tmp_path / "ex.py"
    path.write_bytes(b"# %%\r\nx = 1\r\n# %%\r\ny = 2\r\n")
    cells = read_cells(path)
    assert [(c.source, c.line) for c in cells] == [("x = 1", 2), ("y = 2", 4)]


def test_undecodable_bytes_do_not_raise(tmp_path):
    path = tmp_path / "ex.py"
    path.write_bytes(b"# %%\nx = 1  # caf\xe9\n")
    (cell,) = read_cells(path)
    assert cell.source.startswith("x = 1")


def test_accepts_str_path(tmp_path):
    path = write(tmp_path, "ex.py", "x = 1\n")
    assert read_cells(str(path)) == read_cells(path)


# ---------------------------------------------------------------- notebooks

def test_notebook_code_cells(tmp_path):
    nb = notebook([markdown("# Title"), code(["import math\n", "x = 1\n"]),
                   code("def q1():\n    return 2"), markdown(["prose"])])
    cells = read_cells(write(tmp_path, "ex.ipynb", nb))
    assert [c.source for c in cells] == ["import math\nx = 1", "def q1():\n    return 2"]
    assert all(c.line == 1 for c in cells)


def test_notebook_where_uses_position_in_notebook(tmp_path):
    nb = notebook([markdown("# Title"), code("x = 1"), markdown("text"), code("y = 2")])
    cells = read_cells(write(tmp_path, "ex.ipynb", nb))
    assert [c.where for c in cells] == ["notebook cell 2", "notebook cell 4"]


def test_notebook_list_and_string_sources_are_equal(tmp_path):
    as_list = read_cells(write(tmp_path, "a.ipynb", notebook([code(["a = 1\n", "b = 2"])])))
    as_text = read_cells(write(tmp_path, "b.ipynb", notebook([code("a = 1\nb = 2")])))
    assert [c.source for c in as_list] == [c.source for c in as_text] == ["a = 1\nb = 2"]


def test_notebook_magics_and_shell_escapes_dropped(tmp_path):
    nb = notebook([code(["%matplotlib inline\n", "import math\n", "!pip install seaborn\n",
                         "  %time x = 1\n", "y = 2\n"])])
    (cell,) = read_cells(write(tmp_path, "ex.ipynb", nb))
    assert "%" not in cell.source and "!" not in cell.source
    assert "import math" in cell.source and "y = 2" in cell.source
    # dropped lines stay as blank lines, so line numbers within the cell are kept
    assert cell.source.splitlines().index("y = 2") == 4
    compile(cell.source, "ex.ipynb", "exec")


def test_notebook_magic_only_cell_is_skipped(tmp_path):
    nb = notebook([code("%matplotlib inline"), code("!pip install x"), code("x = 1")])
    cells = read_cells(write(tmp_path, "ex.ipynb", nb))
    assert [(c.source, c.where) for c in cells] == [("x = 1", "notebook cell 3")]


def test_notebook_empty_and_raw_cells_skipped(tmp_path):
    nb = notebook([code(""), code([]), {"cell_type": "raw", "source": "x = 1"},
                   code("   \n"), code("z = 1")])
    cells = read_cells(write(tmp_path, "ex.ipynb", nb))
    assert [c.source for c in cells] == ["z = 1"]


def test_notebook_without_cells_is_empty(tmp_path):
    assert read_cells(write(tmp_path, "ex.ipynb", notebook([]))) == []


@pytest.mark.parametrize("text", [
    "{not json",
    "",
    json.dumps({"metadata": {}}),
    json.dumps([1, 2]),
    json.dumps({"cells": None}),
    json.dumps({"cells": 5}),
    json.dumps({"cells": ["x = 1"]}),
])
def test_invalid_notebook_raises_clear_value_error(tmp_path, text):
    path = write(tmp_path, "broken.ipynb", text)
    with pytest.raises(ValueError, match="broken.ipynb is not a readable Jupyter notebook"):
        read_cells(path)


def test_invalid_notebook_message_suggests_a_fix(tmp_path):
    with pytest.raises(ValueError, match=r"save it again from Jupyter, or submit the \.py file"):
        read_cells(write(tmp_path, "broken.ipynb", "{"))
