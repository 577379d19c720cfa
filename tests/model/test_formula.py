from __future__ import annotations

import pytest

from simlab.model.design import r_term_name
from simlab.model.formula import FormulaError, RandomTerm, parse_formula


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


def test_backticked_response_and_group_are_column_names():
    parsed = parse_formula("`reaction time` ~ Days + (1 | `subject id`)")
    assert (parsed.response, parsed.fixed) == ("reaction time", "Days")
    assert parsed.random == (RandomTerm("1", "subject id"),)
    assert parsed.text == "`reaction time` ~ Days + (1 | `subject id`)"


@pytest.mark.parametrize("text, message", [
    ("log(y) ~ x", "response 'log\\(y\\)'.*single column name"),
    ("y ~ x + (1 | f(g))", "grouping factor 'f\\(g\\)'.*single column name"),
    ("y ~ x + I(x + )", "could not read the formula terms"),
    ("y ~ x | g", "'\\|' outside a random term"),
    ("y ~ x + I(x.values)", "attribute access '.values'"),
])
def test_refused_formulas(text, message):
    with pytest.raises(FormulaError, match=message):
        parse_formula(text)


def test_non_ascii_names_need_no_backticks():
    parsed = parse_formula("größe ~ gewicht + (1 | grüppe)")
    assert (parsed.response, parsed.fixed) == ("größe", "gewicht")
    assert parsed.random == (RandomTerm("1", "grüppe"),)
    assert parsed.text == "größe ~ gewicht + (1 | grüppe)"
    assert str(RandomTerm("1", "my.group")) == "(1 | my.group)"
    assert str(RandomTerm("1", "grüppe id")) == "(1 | `grüppe id`)"


def test_terms_split_at_top_level_plus_signs_only():
    parsed = parse_formula("y ~ `a+b` + I(x+1) + (1 + x | g)")
    assert parsed.fixed == "`a+b` + I(x+1)"
    assert parsed.random == (RandomTerm("1 + x", "g"),)


@pytest.mark.parametrize("text, message", [
    ("y ~ x +", "'\\+' with no term on one side"),
    ("y ~ x + + z", "'\\+' with no term on one side"),
    ("y ~ (1 | g) + + x", "'\\+' with no term on one side"),
    ("y ~", "nothing on the right of '~'"),
    ("y ~ `a b + x", "unmatched '`'"),
    ("y ~ x:(1 | g)", "'\\|' outside a random term"),
])
def test_dangling_operators_are_refused(text, message):
    with pytest.raises(FormulaError, match=message):
        parse_formula(text)
