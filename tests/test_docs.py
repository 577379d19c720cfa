"""The documentation's sources agree with the code (fast; the Sphinx build itself runs in .ci/run).

- every name the API reference lists (``docs/api/index.rst``) exists;
- every gallery script compiles and draws only from bundled or simulated data;
- the simlab calls of "Coming from lme4" (``docs/lme4.rst``) use simlab's one vocabulary:
  no retired names for interval columns, simulation counts, levels or switches.
"""
from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
pytestmark = pytest.mark.skipif(not (DOCS / "conf.py").is_file(), reason="no docs/ folder")


def _api_names() -> list[str]:
    """The fully qualified names of docs/api/index.rst's autosummary entries."""
    names, module, in_summary = [], None, False
    for line in (DOCS / "api" / "index.rst").read_text().splitlines():
        if line.startswith(".. currentmodule::"):
            module = line.split("::", 1)[1].strip()
        elif line.startswith(".. autosummary::"):
            in_summary = True
        elif in_summary and line.strip() and not line.startswith("   "):
            in_summary = False
        elif in_summary and line.startswith("   ") and not line.strip().startswith(":"):
            names.append(f"{module}.{line.strip()}")
    return names


def _resolve(name: str):
    """The object a dotted name means, as autosummary finds it: the longest importable
    module prefix, then attributes (``simlab.study.summarize`` is a function in the
    package's namespace but a module to an import)."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            obj = getattr(obj, part)
        return obj
    raise ImportError(name)


@pytest.mark.parametrize("name", _api_names())
def test_api_reference_names_exist(name):
    assert _resolve(name) is not None


def test_api_reference_lists_the_top_level():
    listed = set(_api_names())
    import simlab

    public = {f"simlab.{n}" for n in simlab.__all__
              if n not in ("datasets", "__version__") and not n.startswith("_")}
    assert public <= listed, f"not in docs/api/index.rst: {sorted(public - listed)}"


GALLERY = sorted((DOCS / "gallery").glob("plot_*.py"))


@pytest.mark.parametrize("script", GALLERY, ids=lambda p: p.name)
def test_gallery_script_is_self_contained(script):
    source = script.read_text()
    tree = ast.parse(source, filename=str(script))
    assert ast.get_docstring(tree), "sphinx-gallery needs a docstring with a title"
    # The build must work on a machine without the GPA data.
    assert "gpa" not in source.lower()


def _simlab_cells() -> list[str]:
    """The simlab column (the second item of each row) of every list-table in lme4.rst."""
    cells, row = [], None
    for line in (DOCS / "lme4.rst").read_text().splitlines():
        if line.startswith("   * - "):
            row = 0
        elif row is not None and line.startswith("     - "):
            row += 1
            if row == 1:
                cells.append(line[len("     - "):])
    return cells


RETIRED = ["n_sims", "n_sim=", "reps=", 'rng="R"', "include_random", "lower_2.5", "upper_97.5",
           "lwr", "upr", "groupFctr", "groupID", "alpha="]


def test_lme4_page_uses_one_vocabulary():
    cells = _simlab_cells()
    assert len(cells) > 50
    offending = [(word, cell) for cell in cells for word in RETIRED
                 if re.search(re.escape(word), cell)]
    assert not offending, offending
