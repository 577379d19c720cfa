from __future__ import annotations

import pytest

from simlab.model.design import r_term_name
from simlab.model.formula import RandomTerm, parse_formula


@pytest.mark.parametrize("text, fixed, random, printed", [
    ("y ~ x + (1|g)", "x", (RandomTerm("1", "g"),), "y ~ x + (1 | g)"),
    ("y~x+z+(1 | g)", "x + z", (RandomTerm("1", "g"),), "y ~ x + z + (1 | g)"),
    ("y ~ (1 | g)", "1", (RandomTerm("1", "g"),), "y ~ (1 | g)"),
    ("y ~ 1 + (1 | g)", "1", (RandomTerm("1", "g"),), "y ~ 1 + (1 | g)"),
    ("y ~ (1 | g) + x", "x", (RandomTerm("1", "g"),), "y ~ x + (1 | g)"),
    ("y ~ x + (1 + x | g)", "x", (RandomTerm("1 + x", "g"),), "y ~ x + (1 + x | g)"),
    ("y ~ I(x + 1) + (1 | g)", "I(x + 1)", (RandomTerm("1", "g"),), "y ~ I(x + 1) + (1 | g)"),
    ("y ~ x", "x", (), "y ~ x"),
])
def test_parse(text, fixed, random, printed):
    parsed = parse_formula(text)
    assert (parsed.response, parsed.fixed, parsed.random, parsed.text) == ("y", fixed, random, printed)


def test_intercept_only_detection():
    assert RandomTerm("1", "g").is_intercept_only
    assert not RandomTerm("x", "g").is_intercept_only
    assert not RandomTerm("1 + x", "g").is_intercept_only


@pytest.mark.parametrize("column, name", [
    ("Intercept", "(Intercept)"), ("occasion", "occasion"), ("sex[T.female]", "sexfemale"),
    ("occasion:sex[T.female]", "occasion:sexfemale"), ("sex[male]", "sexmale"),
])
def test_r_term_names(column, name):
    assert r_term_name(column) == name
