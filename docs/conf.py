"""Sphinx configuration of simlab's documentation site.

Build it (from the repository root, with ``pip install -e ".[docs]"``)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The gallery scripts (``docs/gallery/plot_*.py``) run during the build and use
only bundled or simulated data, so the build needs no download and no
``SIMLAB_DATA_DIR``.
"""
from __future__ import annotations

import os
import warnings

os.environ.setdefault("MPLBACKEND", "Agg")

import simlab  # noqa: E402

# -- Project -------------------------------------------------------------------------
project = "simlab"
author = "the simlab authors"
copyright = "the simlab authors"
release = simlab.__version__
version = ".".join(release.split(".")[:2])

# -- Extensions ----------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
# gallery/ holds the scripts; sphinx-gallery turns them into auto_examples/.
exclude_patterns = ["_build", "gallery", "Thumbs.db", ".DS_Store"]

# -- API reference: autosummary + autodoc + numpydoc ---------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"member-order": "bysource"}
# Types are written in the numpydoc "Parameters" sections; signatures stay readable.
autodoc_typehints = "none"
# Methods and attributes are documented by the class template (autodoc :members:),
# not by numpydoc's member tables (which would list every one twice).
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
# No numpydoc_validation_checks: docstring style is checked by the code's owners, and
# the build stays warning-free (-W) whatever validation numpydoc would report.

# -- Markdown pages (docs/architecture.md, authoring.md, power.md) -------------------
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

# -- Gallery -------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": ["gallery"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib",),
    "download_all_examples": False,
    "remove_config_comments": True,
    "backreferences_dir": None,
    "show_memory": False,
    "plot_gallery": "True",
}
# The gallery scripts draw on the Agg backend; matplotlib's message that plt.show() does
# nothing there is expected.
warnings.filterwarnings("ignore", message=".*non-GUI backend.*")
warnings.filterwarnings("ignore", message=".*FigureCanvasAgg is non-interactive.*")

# -- HTML ----------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"simlab {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_sidebars = {"index": [], "lme4": []}
html_show_sourcelink = False
