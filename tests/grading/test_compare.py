"""Comparing answers with the key (simlab.grading.compare): verdicts and their wording."""
from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import simlab  # noqa: E402
from simlab.grading.answers import encode  # noqa: E402
from simlab.grading.compare import (Verdict, compare, describe, looks_rounded,  # noqa: E402
                                    normalize_choice)

CHOICES = ("a", "b", "c", "d")


def check(expected, got, *, rtol=1e-6, atol=0.0, choices=None, via_json=True) -> Verdict:
    """Encode both values (through JSON, as the grader receives them) and compare."""
    want, have = encode(expected), encode(got)
    if via_json:
        want, have = json.loads(json.dumps(want)), json.loads(json.dumps(have))
    return compare(want, have, rtol=rtol, atol=atol, choices=choices)


@pytest.fixture(scope="module")
def sleep_data():
    return simlab.datasets.sleepstudy()


@pytest.fixture(scope="module")
def reml_fit(sleep_fit):
    return sleep_fit


@pytest.fixture(scope="module")
def ml_fit(sleep_data):
    return simlab.lmer("Reaction ~ Days + (1 | Subject)", sleep_data, reml=False)


@pytest.fixture(scope="module")
def lm_fit(sleep_data):
    return simlab.lm("Reaction ~ Days", sleep_data)


@pytest.fixture
def new_axes():
    figures = []

    def make(xlim=(-3, 3), plot=True):
        fig, ax = plt.subplots()
        figures.append(fig)
        if plot:
            ax.plot([xlim[0], xlim[1]], [0, 1])
        ax.set_xlim(*xlim)
        return ax

    yield make
    for fig in figures:
        plt.close(fig)


# ---------------------------------------------------------------- missing and None

def test_missing_answer_is_not_answered_yet():
    verdict = check(0.5, ...)
    assert not verdict.ok
    assert "not answered yet" in verdict.problem


def test_missing_answer_wins_over_choices():
    verdict = check("a", ..., choices=CHOICES)
    assert not verdict.ok and "not answered yet" in verdict.problem


@pytest.mark.parametrize("expected, form", [
    (0.5, "Expected a number"),
    (pd.DataFrame({"a": [1.0]}), "Expected a pandas DataFrame with 1 rows"),
])
def test_missing_answer_states_the_expected_form_once(expected, form):
    problem = check(expected, ...).problem
    assert form in problem
    assert problem.lower().count("expected") == 1


def test_missing_multiple_choice_names_the_options():
    problem = check("a", ..., choices=CHOICES).problem
    assert "'a', 'b', 'c', 'd', as a string" in problem
    assert problem.lower().count("expected") == 1


@pytest.mark.parametrize("expected", [0.5, pd.Series([1.0], index=["a"]), "text",
                                      pd.DataFrame({"a": [1.0]})])
def test_none_answer_mentions_return(expected):
    verdict = check(expected, None)
    assert not verdict.ok
    assert "`return`" in verdict.problem


def test_none_answer_to_multiple_choice_mentions_return():
    verdict = check("a", None, choices=CHOICES)
    assert not verdict.ok
    assert "`return`" in verdict.problem


def test_pass_verdict_has_no_problem():
    verdict = check(0.5, 0.5)
    assert verdict == Verdict(True, "")


# ---------------------------------------------------------------- numbers

@pytest.mark.parametrize("got, rtol, atol, ok", [
    (1.0, 1e-6, 0.0, True),
    (1.0 + 5e-7, 1e-6, 0.0, True),
    (1.0 + 2e-6, 1e-6, 0.0, False),
    (1.04, 0.0, 0.05, True),
    (1.06, 0.0, 0.05, False),
    (1.09, 0.05, 0.05, True),   # atol + rtol * |expected| = 0.1
    (1.11, 0.05, 0.05, False),
    (-1.0, 1e-6, 0.0, False),
])
def test_number_tolerance(got, rtol, atol, ok):
    assert check(1.0, got, rtol=rtol, atol=atol).ok is ok


def test_number_mismatch_reports_student_value_and_tolerance():
    verdict = check(1.0, 2.5, rtol=1e-3, atol=0.01)
    assert not verdict.ok
    assert "2.5" in verdict.problem
    assert "rtol=0.001" in verdict.problem and "atol=0.01" in verdict.problem


ROUNDED = "looks rounded"


@pytest.mark.parametrize("got", [0.12, 0.123, 0.1235, 0.1, 1.235e-1])
def test_a_number_rounded_to_decimals_gets_the_rounding_hint(got):
    verdict = check(0.123456789, got, rtol=1e-6)
    assert not verdict.ok
    assert ROUNDED in verdict.problem and "full-precision" in verdict.problem
    assert "0.123456" not in verdict.problem and "0.12346" not in verdict.problem


@pytest.mark.parametrize("expected, got", [(1234.5678, 1230.0), (1234.5678, 1234.6),
                                           (1234.5678, 1000.0), (-0.000123456, -0.00012),
                                           (-0.000123456, -0.0001235)])
def test_a_number_rounded_to_significant_digits_gets_the_rounding_hint(expected, got):
    verdict = check(expected, got, rtol=1e-6)
    assert not verdict.ok and ROUNDED in verdict.problem


@pytest.mark.parametrize("got", [0.5, 0.13, 0.124, 0.0, -0.12, 0.1234, float("nan")])
def test_a_wrong_number_gets_no_rounding_hint(got):
    verdict = check(0.123456789, got, rtol=1e-6)
    assert not verdict.ok and ROUNDED not in verdict.problem


def test_a_rounded_number_within_tolerance_passes():
    assert check(0.123456789, 0.1235, rtol=0.0, atol=1e-3).ok


def test_rounded_values_of_a_series_and_a_table_get_the_rounding_hint():
    expected = pd.Series([0.123456789, 7.654321], index=["a", "b"])
    verdict = check(expected, expected.round(2))
    assert not verdict.ok and ROUNDED in verdict.problem
    verdict = check(expected.to_frame("x"), expected.round(3).to_frame("x"))
    assert verdict.problem.startswith("column 'x'") and ROUNDED in verdict.problem
    half = pd.Series([0.12, 9.0], index=["a", "b"])  # one rounded, one plainly wrong
    assert ROUNDED not in check(expected, half).problem


def test_rounded_model_estimates_get_the_rounding_hint():
    model = {"kind": "model", "type": "lmer", "formula": "y ~ x + (1 | g)", "reml": True,
             "terms": ["(Intercept)", "x"], "estimate": [1.23456, 2.34567], "se": [0.1, 0.2],
             "sigma": 1.0, "tau": 0.5, "nobs": 100}
    verdict = compare(model, dict(model, estimate=[1.23, 2.35]), rtol=1e-6, atol=0)
    assert verdict.problem.startswith("fixed-effect estimate") and ROUNDED in verdict.problem


@pytest.mark.parametrize("want, have, rounded", [
    ([0.123456], [0.12], True), ([0.123456], [0.1235], True), ([123.456], [120.0], True),
    ([0.123456], [0.0], False), ([0.123456], [0.2], False), ([0.123456], [np.inf], False),
    ([0.5, 0.123456], [0.5, 0.12], True), ([0.2, 0.123456], [0.3, 0.12], False), ([], [], False),
])
def test_looks_rounded(want, have, rounded):
    assert looks_rounded(np.array(want), np.array(have)) is rounded


def test_integers_and_numpy_scalars_compare_as_numbers():
    assert check(3, np.int64(3)).ok
    assert check(np.float32(0.5), 0.5).ok


@pytest.mark.parametrize("got", [pd.Series([0.25], index=["icc"]), np.array([0.25]),
                                 [0.25], np.array(0.25)])
def test_one_element_series_or_array_accepted_for_a_number(got):
    assert check(0.25, got).ok


def test_one_element_series_with_wrong_value_fails():
    assert not check(0.25, pd.Series([0.3])).ok


def test_several_values_for_a_number_fails():
    verdict = check(0.25, [0.25, 0.25])
    assert not verdict.ok
    assert "a number" in verdict.problem and "2 value(s)" in verdict.problem


@pytest.mark.parametrize("got, shown", [("0.5", "a string"), (True, "True or False"),
                                        ({"a"}, "a set of strings")])
def test_number_against_other_kinds(got, shown):
    verdict = check(0.5, got)
    assert not verdict.ok
    assert verdict.problem.startswith("expected a number")
    assert shown in verdict.problem


def test_unsupported_object_names_its_type():
    class Widget:
        pass

    verdict = check(0.5, Widget())
    assert not verdict.ok
    assert "Widget" in verdict.problem


# ---------------------------------------------------------------- series and arrays

def test_series_compared_by_label_regardless_of_order():
    expected = pd.Series([1.0, 2.0, 3.0], index=["a", "b", "c"])
    got = pd.Series([3.0, 1.0, 2.0], index=["c", "a", "b"])
    assert check(expected, got).ok


def test_series_reordered_with_wrong_value_fails_at_that_label():
    expected = pd.Series([1.0, 2.0, 3.0], index=["a", "b", "c"])
    got = pd.Series([3.0, 1.0, 9.0], index=["c", "a", "b"])
    verdict = check(expected, got)
    assert not verdict.ok
    assert "1 of 3" in verdict.problem
    assert "['b']" in verdict.problem


def test_series_wrong_labels_are_reported():
    expected = pd.Series([1.0, 2.0], index=["sigma", "tau"])
    got = pd.Series([1.0, 2.0], index=["sigma", "sd"])
    verdict = check(expected, got)
    assert not verdict.ok
    assert "labels differ" in verdict.problem
    assert "sd" in verdict.problem


def test_series_wrong_length():
    verdict = check(pd.Series([1.0, 2.0], index=["a", "b"]), pd.Series([1.0], index=["a"]))
    assert not verdict.ok
    assert "1 value(s)" in verdict.problem
    assert "Series" in verdict.problem


def test_series_accepts_plain_array_in_key_order():
    expected = pd.Series([1.0, 2.0], index=["a", "b"])
    assert check(expected, np.array([1.0, 2.0])).ok
    assert not check(expected, np.array([2.0, 1.0])).ok


def test_series_of_strings_compares_entries():
    expected = pd.Series(["higher", "lower"], index=["x", "y"])
    assert check(expected, pd.Series(["Higher ", "lower"], index=["x", "y"])).ok
    assert check(expected, pd.Series(["lower", "higher"], index=["y", "x"])).ok
    verdict = check(expected, pd.Series(["lower", "higher"], index=["x", "y"]))
    assert not verdict.ok
    assert "higher" not in verdict.problem


def test_series_of_bools_compares_entries():
    expected = pd.Series([True, False], index=["a", "b"])
    assert check(expected, pd.Series([True, False], index=["a", "b"])).ok
    assert not check(expected, pd.Series([False, True], index=["a", "b"])).ok


def test_series_of_numbers_against_series_of_text_fails():
    expected = pd.Series([1.0, 2.0], index=["a", "b"])
    assert not check(expected, pd.Series(["x", "y"], index=["a", "b"])).ok


def test_nan_matches_nan():
    assert check(pd.Series([np.nan, 1.0], index=["a", "b"]),
                 pd.Series([np.nan, 1.0], index=["a", "b"])).ok
    assert not check(pd.Series([np.nan, 1.0], index=["a", "b"]),
                     pd.Series([0.0, 1.0], index=["a", "b"])).ok


def test_array_equal_within_tolerance():
    assert check(np.array([1.0, 2.0, 3.0]), [1.0, 2.0, 3.0 + 1e-9]).ok


def test_array_of_wrong_size():
    verdict = check(np.zeros((2, 3)), np.zeros(5))
    assert not verdict.ok
    assert "shape (2, 3)" in verdict.problem
    assert "5 value(s)" in verdict.problem


def test_array_mismatch_names_positions():
    verdict = check(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 0.0, 3.0, 0.0]))
    assert not verdict.ok
    assert "2 of 4" in verdict.problem
    assert "[1, 3]" in verdict.problem


# ---------------------------------------------------------------- frames

@pytest.fixture
def table():
    return pd.DataFrame({"term": ["(Intercept)", "Days"], "estimate": [251.4051, 10.4673],
                         "se": [6.6102, 1.2382]})


def test_frame_equal(table):
    assert check(table, table.copy()).ok


def test_frame_missing_columns_are_named(table):
    verdict = check(table, table.drop(columns=["se"]))
    assert not verdict.ok
    assert "'se'" in verdict.problem
    assert "lacks" in verdict.problem


def test_frame_wrong_row_count(table):
    verdict = check(table, table.iloc[:1])
    assert not verdict.ok
    assert "expected 2 rows, got 1" in verdict.problem


def test_frame_numeric_mismatch_names_the_column(table):
    got = table.copy()
    got.loc[1, "se"] = 99.0
    verdict = check(table, got)
    assert not verdict.ok
    assert "column 'se'" in verdict.problem


def test_frame_numeric_within_tolerance(table):
    got = table.copy()
    got["estimate"] = got["estimate"] * (1 + 1e-5)
    assert check(table, got, rtol=1e-4).ok
    assert not check(table, got, rtol=1e-7).ok


def test_frame_string_columns_compared_case_insensitively(table):
    got = table.copy()
    got["term"] = ["(intercept) ", "DAYS"]
    assert check(table, got).ok


def test_frame_string_column_mismatch(table):
    got = table.copy()
    got["term"] = ["Days", "(Intercept)"]
    verdict = check(table, got)
    assert not verdict.ok
    assert "column 'term'" in verdict.problem


def test_frame_extra_student_columns_allowed(table):
    got = table.assign(t=[1.0, 2.0], note=["x", "y"])
    assert check(table, got).ok


def test_frame_column_order_does_not_matter(table):
    assert check(table, table[["se", "term", "estimate"]]).ok


def test_frame_categorical_against_strings(table):
    got = table.copy()
    got["term"] = pd.Categorical(got["term"])
    assert check(table, got).ok


def test_frame_numeric_column_of_text_fails(table):
    got = table.copy()
    got["se"] = ["x", "y"]
    verdict = check(table, got)
    assert not verdict.ok and "column 'se'" in verdict.problem


def test_frame_against_series_is_a_kind_mismatch(table):
    verdict = check(table, table["se"])
    assert not verdict.ok
    assert "DataFrame" in verdict.problem


# ---------------------------------------------------------------- models

def test_same_model_passes(reml_fit):
    assert check(reml_fit, reml_fit).ok


def test_lm_where_lmer_expected(reml_fit, lm_fit):
    verdict = check(reml_fit, lm_fit)
    assert not verdict.ok
    assert "simlab.lmer" in verdict.problem and "simlab.lm" in verdict.problem


def test_lmer_where_lm_expected(reml_fit, lm_fit):
    verdict = check(lm_fit, reml_fit)
    assert not verdict.ok
    assert "simlab.lmer" in verdict.problem


def test_lm_against_itself_passes(lm_fit):
    assert check(lm_fit, lm_fit).ok


def test_different_terms(reml_fit, sleep_data):
    other = simlab.lmer("Reaction ~ 1 + (1 | Subject)", sleep_data)
    verdict = check(reml_fit, other)
    assert not verdict.ok
    assert "terms differ" in verdict.problem
    assert "formula" in verdict.problem


def test_ml_where_reml_expected_mentions_reml(reml_fit, ml_fit):
    verdict = check(reml_fit, ml_fit)
    assert not verdict.ok
    assert "REML" in verdict.problem


def test_reml_where_ml_expected(reml_fit, ml_fit):
    verdict = check(ml_fit, reml_fit)
    assert not verdict.ok
    assert "ML (reml=False)" in verdict.problem


def test_different_nobs(reml_fit, sleep_data):
    fewer = simlab.lmer("Reaction ~ Days + (1 | Subject)", sleep_data.iloc[:-10])
    verdict = check(reml_fit, fewer)
    assert not verdict.ok
    assert "170 rows" in verdict.problem


def test_model_estimate_difference_names_the_part():
    model = {"kind": "model", "type": "lmer", "formula": "y ~ x + (1 | g)", "reml": True,
             "terms": ["(Intercept)", "x"], "estimate": [1.0, 2.0], "se": [0.1, 0.2],
             "sigma": 1.0, "tau": 0.5, "nobs": 100}
    got = dict(model, estimate=[1.0, 2.5])
    verdict = compare(model, got, rtol=1e-6, atol=0)
    assert not verdict.ok
    assert verdict.problem.startswith("fixed-effect estimate")
    assert "'x'" in verdict.problem
    got = dict(model, se=[0.1, 0.3])
    assert compare(model, got, rtol=1e-6, atol=0).problem.startswith("fixed-effect se")
    got = dict(model, tau=0.7)
    verdict = compare(model, got, rtol=1e-6, atol=0)
    assert not verdict.ok and "tau" in verdict.problem


def test_model_terms_in_another_order_pass():
    model = {"kind": "model", "type": "lmer", "formula": "y ~ x + z + (1 | g)", "reml": True,
             "terms": ["(Intercept)", "x", "z"], "estimate": [1.0, 2.0, 3.0],
             "se": [0.1, 0.2, 0.3], "sigma": 1.0, "tau": 0.5, "nobs": 100}
    got = dict(model, terms=["(Intercept)", "z", "x"], estimate=[1.0, 3.0, 2.0],
               se=[0.1, 0.3, 0.2])
    assert compare(model, got, rtol=1e-6, atol=0).ok


# ---------------------------------------------------------------- axes

def test_axes_same_limits_pass(new_axes):
    assert check(new_axes((-3, 3)), new_axes((-3, 3))).ok


def test_axes_limits_within_five_percent_pass(new_axes):
    assert check(new_axes((-3, 3)), new_axes((-3.2, 3.2))).ok


def test_empty_plot(new_axes):
    verdict = check(new_axes((-3, 3)), new_axes((-3, 3), plot=False))
    assert not verdict.ok
    assert "empty" in verdict.problem


def test_wrong_xlim(new_axes):
    verdict = check(new_axes((-3, 3)), new_axes((0, 10)))
    assert not verdict.ok
    assert "x-limits" in verdict.problem
    assert "(0.0, 10.0)" in verdict.problem
    assert "-3" not in verdict.problem


def test_number_where_axes_expected(new_axes):
    verdict = check(new_axes(), 1.0)
    assert not verdict.ok
    assert "matplotlib Axes" in verdict.problem


# ---------------------------------------------------------------- dicts

def test_dict_equal():
    assert check({"a": 1.0, "b": "x"}, {"b": "X", "a": 1.0}).ok


def test_dict_wrong_keys():
    verdict = check({"a": 1.0, "b": 2.0}, {"a": 1.0, "c": 2.0})
    assert not verdict.ok
    assert "['a', 'b']" in verdict.problem and "['a', 'c']" in verdict.problem


def test_dict_wrong_value_names_the_key():
    verdict = check({"a": 1.0, "b": 2.0}, {"a": 1.0, "b": 3.0})
    assert not verdict.ok
    assert verdict.problem.startswith("['b']")


def test_dict_value_uses_tolerance():
    assert check({"a": 1.0}, {"a": 1.04}, atol=0.05).ok
    assert not check({"a": 1.0}, {"a": 1.06}, atol=0.05).ok


def test_nested_dict_missing_inner_answer():
    verdict = check({"a": {"b": 1.0}}, {"a": {"b": ...}})
    assert not verdict.ok
    assert "not answered yet" in verdict.problem


# ---------------------------------------------------------------- multiple choice

@pytest.mark.parametrize("expected, got, ok", [
    ("b", "b", True),
    ("b", "B ", True),
    ("b", " b\n", True),
    ("b", ["b"], True),
    ("b", {"B"}, True),
    ("a, c", "a, c", True),
    ("a, c", "c,a", True),
    ("a, c", "a c", True),
    ("a, c", "a; c", True),
    ("a, c", ["a", "c"], True),
    ("a, c", ["c", "a"], True),
    ("a, c", {"a", "c"}, True),
    (["a", "c"], "a, c", True),
    ({"a", "c"}, "C A", True),
    ("a, c", "a", False),
    ("a, c", "a, b, c", False),
    ("b", "c", False),
    ("b", "", False),
])
def test_multiple_choice_forms(expected, got, ok):
    assert check(expected, got, choices=CHOICES).ok is ok


@pytest.mark.parametrize("got", ["b", "(b)", "b)", "B", " b ", '"b."', "b.", "(B).", "'b'",
                                 "[b]", "b:", ["(b)"], {"B."}, ("b)",)])
def test_decorated_single_choice_is_accepted(got):
    assert check("b", got, choices=CHOICES).ok


@pytest.mark.parametrize("got", ["(a), (c)", "(a) (c)", "a) c)", "A. C.", '"a.", "c."',
                                 "(c); a", ["(a)", "c)"], {'"A."', " c "}, ("C", "(a)")])
def test_decorated_choices_in_a_collection_are_accepted(got):
    assert check("a, c", got, choices=CHOICES).ok


@pytest.mark.parametrize("got", ["(b)", "a)", "(a) (b) (c)", ["(a)"], "(e)"])
def test_decorated_wrong_choices_still_fail(got):
    assert not check("a, c", got, choices=CHOICES).ok


def test_decorated_unknown_option_is_reported_without_echoing_it():
    verdict = check("b", "(e)", choices=CHOICES)
    assert "(e)" not in verdict.problem and "1 option(s) that are not among the choices" in \
        verdict.problem


def test_a_choice_with_parentheses_keeps_them():
    params = ("sd_(Intercept)|group", "sigma", "(Intercept)", "x")
    assert check("(Intercept)", "(intercept)", choices=params).ok
    assert check("(Intercept)", "'(Intercept)'", choices=params).ok
    assert not check("(Intercept)", "intercept", choices=params).ok
    assert check("x", "(x)", choices=params).ok
    assert check(["(Intercept)", "x"], "(Intercept), x)", choices=params).ok


def test_option_not_among_choices():
    verdict = check("b", "e", choices=CHOICES)
    assert not verdict.ok
    assert "not among the choices" in verdict.problem


def test_the_text_of_an_unknown_option_is_never_echoed():
    """A student's code could return a file it read; the feedback must not carry it back."""
    verdict = check("b", "root:x:0:0:root:/root:/bin/bash", choices=CHOICES)
    assert not verdict.ok and "root" not in verdict.problem


def test_unknown_word_choice_reported():
    verdict = check("higher", "up", choices=("higher", "lower", "unchanged"))
    assert not verdict.ok
    assert "not among the choices ['higher', 'lower', 'unchanged']" in verdict.problem


def test_word_choices_case_insensitive():
    assert check("higher", "Higher", choices=("higher", "lower")).ok


def test_choices_with_punctuation():
    params = ("sd_(Intercept)|group", "sigma", "(Intercept)", "x")
    assert check("sd_(Intercept)|group", "SD_(intercept)|group", choices=params).ok
    assert not check("sd_(Intercept)|group", "(Intercept)", choices=params).ok


def test_wrong_choice_does_not_reveal_the_answer():
    verdict = check("a", "b", choices=CHOICES)
    assert not verdict.ok
    assert verdict.problem == "not the right choice(s)"
    assert "'a'" not in verdict.problem
    assert "expected 'a'" not in verdict.problem


def test_number_for_multiple_choice_is_rejected():
    verdict = check("a", 1.0, choices=CHOICES)
    assert not verdict.ok
    assert "as a string" in verdict.problem
    assert "a number" in verdict.problem


@pytest.mark.parametrize("value, expected", [
    ("b", {"b"}), ("B ", {"b"}), ("a, c", {"a", "c"}), ("a c", {"a", "c"}),
    ("a;c", {"a", "c"}), (["A", " c"], {"a", "c"}), ({"a", "c"}, {"a", "c"}),
    ("higher", {"higher"}), ("", set()),
])
def test_normalize_choice(value, expected):
    assert normalize_choice(encode(value)) == frozenset(expected)
    assert normalize_choice(encode(value), CHOICES + ("higher",)) == frozenset(expected)


@pytest.mark.parametrize("value, expected", [
    ("(b)", {"b"}), ("b)", {"b"}), ('"B."', {"b"}), ("(a) (c)", {"a", "c"}),
    (["(A)", "c."], {"a", "c"}), ("(e)", {"(e)"}), ("(not sure)", {"(not sure)"}),
])
def test_normalize_choice_strips_decoration_only_for_known_choices(value, expected):
    assert normalize_choice(encode(value), CHOICES) == frozenset(expected)


def test_normalize_choice_of_a_number_is_none():
    assert normalize_choice(encode(1.0)) is None


def test_multi_letter_words_are_not_split_on_spaces():
    assert normalize_choice(encode("not sure")) == frozenset({"not sure"})


# ---------------------------------------------------------------- text, bool, sets, lists

@pytest.mark.parametrize("got, ok", [("wider", True), (" Wider ", True), ("WIDER", True),
                                     ("narrower", False), ("wide", False)])
def test_text_comparison(got, ok):
    assert check("wider", got).ok is ok


def test_text_mismatch_message():
    verdict = check("secretword", "other")
    assert verdict.problem == "not the expected answer"


@pytest.mark.parametrize("got, ok", [(True, True), (np.bool_(True), True), (False, False)])
def test_bool_comparison(got, ok):
    assert check(True, got).ok is ok


def test_set_comparison_ignores_case_order_and_spaces():
    assert check({"a", "b"}, {"B", "a"}).ok
    assert check({"a", "b"}, {" b", "a "}).ok
    assert not check({"a", "b"}, {"a"}).ok


def test_list_comparison_keeps_order_but_ignores_case_and_spaces():
    assert check(["x", "y"], ["X", " y "]).ok
    assert not check(["x", "y"], ["y", "x"]).ok


def test_list_where_set_expected_is_a_kind_mismatch():
    verdict = check({"a", "b"}, ["a", "b"])
    assert not verdict.ok
    assert "set of strings" in verdict.problem


# ---------------------------------------------------------------- never the expected values

def test_number_problem_never_shows_expected_value():
    verdict = check(0.123456789, 0.5)
    assert not verdict.ok
    assert "0.123456" not in verdict.problem
    assert "0.12345" not in verdict.problem


def test_series_problem_never_shows_expected_values():
    expected = pd.Series([0.123456789, 7.654321], index=["a", "b"])
    for got in (pd.Series([0.5, 7.654321], index=["a", "b"]), pd.Series([0.5], index=["a"]),
                pd.Series([0.5, 0.6], index=["a", "c"]), np.array([1.0, 2.0])):
        verdict = check(expected, got)
        assert not verdict.ok
        assert "0.123456" not in verdict.problem
        assert "7.654321" not in verdict.problem and "7.65432" not in verdict.problem


def test_frame_problem_never_shows_expected_values():
    expected = pd.DataFrame({"est": [0.123456789, 7.654321], "term": ["secretA", "secretB"]})
    for got in (pd.DataFrame({"est": [0.5, 7.654321], "term": ["secretA", "secretB"]}),
                pd.DataFrame({"est": [0.123456789, 7.654321], "term": ["x", "y"]}),
                pd.DataFrame({"est": [0.5], "term": ["x"]}),
                pd.DataFrame({"other": [0.5, 0.6]})):
        verdict = check(expected, got)
        assert not verdict.ok
        for secret in ("0.123456", "7.65432", "secretA", "secretB"):
            assert secret not in verdict.problem


def test_model_problem_never_shows_expected_estimates(reml_fit, ml_fit, sleep_data):
    expected = encode(reml_fit)
    secrets = [f"{v:.4f}" for v in expected["estimate"] + expected["se"]]
    secrets += [f"{expected['sigma']:.4f}", f"{expected['tau']:.4f}"]
    fits = [ml_fit, simlab.lmer("Reaction ~ Days + (1 | Subject)", sleep_data.iloc[:-10])]
    for got in fits:
        verdict = compare(expected, encode(got), rtol=1e-6, atol=0)
        assert not verdict.ok
        for secret in secrets:
            assert secret not in verdict.problem


def test_dict_problem_never_shows_expected_values():
    verdict = check({"icc": 0.123456789}, {"icc": 0.5})
    assert not verdict.ok
    assert "0.123456" not in verdict.problem


def test_text_problem_never_shows_expected_text():
    verdict = check("the secret phrase", "something else")
    assert "secret" not in verdict.problem


# ---------------------------------------------------------------- describe

@pytest.mark.parametrize("value, words", [
    (0.5, "a number"),
    (True, "True or False"),
    ("x", "a string"),
    ({"a"}, "a set of strings"),
    (["a"], "a list of strings"),
    (np.zeros((2, 3)), "an array of shape (2, 3)"),
    (pd.Series([1.0, 2.0], index=["a", "b"]), "a pandas Series with the labels ['a', 'b']"),
    (pd.DataFrame({"x": [1.0, 2.0], "y": ["a", "b"]}),
     "a pandas DataFrame with 2 rows and the columns ['x', 'y']"),
    ({"b": 1, "a": 2}, "a dict with the keys ['a', 'b']"),
])
def test_describe_wording(value, words):
    assert describe(encode(value)) == words


def test_describe_series_lists_at_most_eight_labels():
    labels = [f"l{i}" for i in range(12)]
    text = describe(encode(pd.Series(np.zeros(12), index=labels)))
    assert "l7" in text and "l8" not in text


def test_describe_models(reml_fit, lm_fit):
    assert describe(encode(reml_fit)) == "a fitted model from simlab.lmer"
    assert describe(encode(lm_fit)) == "a fitted model from simlab.lm"


def test_describe_axes(new_axes):
    assert describe(encode(new_axes())) == "a matplotlib Axes (the plot)"


def test_describe_choices_lists_the_options():
    assert describe(encode("a"), ("a", "b")) == ("the option(s) you choose among 'a', 'b', "
                                                 "as a string")


def test_describe_never_shows_values():
    for value in (0.123456789, pd.Series([0.123456789], index=["a"]),
                  pd.DataFrame({"x": [0.123456789]}), np.array([0.123456789])):
        assert "0.123456" not in describe(encode(value))
