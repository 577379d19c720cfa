"""Parameter names against the row names of lme4's confint in the references."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from simlab.model.parameters import parameter_names, variance_names

REFERENCE = Path(__file__).parents[1] / "reference" / "lme4"


@pytest.mark.parametrize("name, fixed, random, group, correlated", [
    ("sleepstudy.json", ["(Intercept)", "Days"], ["(Intercept)"], "Subject", True),
    ("sleepstudy_slopes.json", ["(Intercept)", "Days"], ["(Intercept)", "Days"], "Subject", True),
    ("sleepstudy_uncorrelated.json", ["(Intercept)", "Days"], ["(Intercept)", "Days"], "Subject",
     False),
    ("sim_slopes1234.json", ["(Intercept)", "x"], ["(Intercept)", "x"], "groups", False),
])
def test_names_are_lme4s_confint_rows(name, fixed, random, group, correlated):
    reference = json.loads((REFERENCE / name).read_text())["confint_profile"]
    rows = reference["param"] if isinstance(reference, dict) else list(reference)
    assert parameter_names(fixed, random, group, correlated=correlated) == rows


def test_three_terms_list_the_lower_triangle_by_columns():
    assert variance_names(["a", "b", "c"], "g") == [
        "sd_a|g", "cor_b.a|g", "cor_c.a|g", "sd_b|g", "cor_c.b|g", "sd_c|g"]
