"""Fixtures of the power-analysis tests: the fitted reference designs."""
from __future__ import annotations

import pandas as pd
import pytest

import simlab

from power_cases import POWER_REFERENCE


@pytest.fixture(scope="session")
def balanced_fit():
    return simlab.lmer("y ~ xw + w + (1 | g)", pd.read_csv(POWER_REFERENCE / "balanced.csv"))


@pytest.fixture(scope="session")
def unbalanced_fit():
    return simlab.lmer("y ~ x + w + (1 | g)", pd.read_csv(POWER_REFERENCE / "unbalanced.csv"))
