"""Data sets of the df and F-test references, by the name the reference files use."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

import simlab

REFERENCE = Path(__file__).parents[1] / "reference"
#: Names -> CSV files under tests/reference (gpa.csv is never committed; sleepstudy is bundled).
FILES = {"sim1234": "sim1234.csv", "sim_slopes1234": "sim_slopes1234.csv",
         "boundary": "power/boundary.csv", "slopes_boundary": "lmertest/df_slopes_boundary.csv"}


def reference_data(name: str) -> pd.DataFrame:
    """The data of a reference case: ``gpa*`` (skips without gpa.csv, except on CI),
    ``sleepstudy*``, or one of :data:`FILES`."""
    if name.startswith("gpa"):
        try:
            return simlab.datasets.gpa()
        except FileNotFoundError:
            if os.environ.get("CI"):
                raise
            pytest.skip("gpa.csv not available: set SIMLAB_DATA_DIR to the folder holding it")
    if name.startswith("sleepstudy"):
        return simlab.datasets.sleepstudy()
    return pd.read_csv(REFERENCE / FILES[name])
