"""Every bad input of the core issue gets a clear error naming the problem and the fix."""
from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import simlab


@pytest.fixture()
def data() -> pd.DataFrame:
    return simlab.simulate(20, 4, 0.5, 0.25, seed=3)


def test_missing_column(data):
    with pytest.raises(ValueError, match=r"column\(s\) \['z'\] not found in data.*Check the spelling"):
        simlab.lmer("y ~ x + z + (1 | group)", data)


def test_missing_group_column(data):
    with pytest.raises(ValueError, match=r"\['school'\] not found"):
        simlab.lmer("y ~ x + (1 | school)", data)


def test_non_numeric_response(data):
    data = data.assign(y=data["y"].map(lambda v: f"{v:.2f} points"))
    with pytest.raises(TypeError, match="response 'y' must be numeric.*pd.to_numeric"):
        simlab.lmer("y ~ x + (1 | group)", data)


@pytest.mark.parametrize("column", ["y", "x"])
def test_infinite_values(data, column):
    data = data.copy()
    data.loc[3, column] = np.inf
    with pytest.raises(ValueError, match=rf"1 infinite value\(s\) in \['{column}'\]"):
        simlab.lmer("y ~ x + (1 | group)", data)


def test_only_one_group(data):
    with pytest.raises(ValueError, match="only 1 level.*at least two groups"):
        simlab.lmer("y ~ x + (1 | group)", data.assign(group=1))


def test_every_group_of_size_one(data):
    with pytest.raises(ValueError, match="single observation.*cannot be told apart"):
        simlab.lmer("y ~ x + (1 | group)", data.assign(group=np.arange(len(data))))


def test_formula_without_random_effect(data):
    with pytest.raises(ValueError, match=r"no random effect.*\(1 \| group\).*simlab.lm"):
        simlab.lmer("y ~ x", data)


def test_no_more_observations_than_random_effects(data):
    """lme4: 'number of observations (=40) <= number of random effects (=40)'."""
    two_each = data.groupby("group").head(2)
    with pytest.raises(ValueError, match=r"number of observations \(40\) <= number of random "
                                         r"effects \(40 = 2 per group x 20 groups\)"):
        simlab.lmer("y ~ x + (1 + x | group)", two_each)


def test_a_slope_constant_within_every_group(data):
    level = data["group"].astype(float) / 7
    with pytest.raises(ValueError, match=r"random slope\(s\) \['w'\] are constant within every "
                                         r"level of 'group'.*fixed part only"):
        simlab.lmer("y ~ x + w + (1 + w | group)", data.assign(w=level))


def test_a_factor_in_the_random_part(data):
    kind = np.where(data["x"] > 0, "high", "low")
    with pytest.raises(ValueError, match=r"random part uses the factor column\(s\) \['f'\].*numeric"):
        simlab.lmer("y ~ x + (1 + f | group)", data.assign(f=kind))


@pytest.mark.parametrize("random", ["(1 | group) + (1 | other)", "(1 | other) + (x | group)"])
def test_two_grouping_factors(data, random):
    other = np.arange(len(data)) % 3
    with pytest.raises(ValueError, match=r"grouping factors \[.*\]; simlab fits one grouping "
                                         r"factor, so crossed or nested"):
        simlab.lmer(f"y ~ x + {random}", data.assign(other=other))


@pytest.mark.parametrize("group", ["group/other", "group:other"])
def test_nested_grouping_is_named(data, group):
    with pytest.raises(ValueError, match="nested or crossed grouping"):
        simlab.lmer(f"y ~ x + (1 | {group})", data.assign(other=np.arange(len(data)) % 3))


def test_several_terms_each_need_one_column(data):
    with pytest.raises(ValueError, match=r"each must have one column; write one term with a full "
                                         r"covariance, \(1 \+ x \| group\), or independent"):
        simlab.lmer("y ~ x + z + (1 + x | group) + (0 + z | group)", data.assign(z=data["x"] ** 2))


def test_a_random_term_twice(data):
    with pytest.raises(ValueError, match=r"name the effect\(s\) \['\(Intercept\)'\] twice"):
        simlab.lmer("y ~ x + (1 | group) + (1 | group)", data)


def test_statsmodels_refuses_independent_slopes(data):
    """statsmodels fitted (x || g) as the correlated (x | g): a different model, silently."""
    for random in ["(1 + x || group)", "(1 | group) + (0 + x | group)"]:
        with pytest.raises(ValueError, match="engine='statsmodels' fits a full covariance"):
            simlab.lmer(f"y ~ x + {random}", data, engine="statsmodels")


def test_rank_deficient_fixed_effects(data):
    data = data.assign(x2=2 * data["x"])
    with pytest.raises(ValueError, match=r"rank deficient.*\['x2'\].*drop it"):
        simlab.lmer("y ~ x + x2 + (1 | group)", data)


def test_constant_response(data):
    with pytest.raises(ValueError, match="constant.*nothing to model"):
        simlab.lmer("y ~ x + (1 | group)", data.assign(y=1.0))


def test_empty_data(data):
    with pytest.raises(ValueError, match="data is empty"):
        simlab.lmer("y ~ x + (1 | group)", data.iloc[:0])


def test_all_rows_missing(data):
    with pytest.raises(ValueError, match="every one of the 80 rows has a missing value"):
        simlab.lmer("y ~ x + (1 | group)", data.assign(x=np.nan))


def test_zero_between_group_variance_gives_singular_fit(data):
    flat = data.assign(y=data["y"] - data.groupby("group")["y"].transform("mean"))
    with pytest.warns(simlab.SingularFitWarning, match="boundary \\(singular\\) fit"):
        fit = simlab.lmer("y ~ 1 + (1 | group)", flat)
    assert fit.singular and fit.tau == 0.0 and fit.converged
    assert fit.varcomp["variance"].iloc[0] == 0.0
    assert fit.confint().loc["sd_(Intercept)|group", "lower"] == 0.0
    assert "boundary (singular) fit" in str(fit)


@pytest.mark.parametrize("formula, message", [
    ("y x + (1 | group)", "exactly one '~'"),
    (" ~ x + (1 | group)", "no response"),
    ("y ~ x + (1 | group", "unmatched '\\('"),
    ("y ~ x + (1 | a/b)", "single column name"),
    ("y ~ x + ( | group)", "must look like"),
])
def test_malformed_formula(data, formula, message):
    with pytest.raises(ValueError, match=message):
        simlab.lmer(formula, data)


def test_formula_must_be_text(data):
    with pytest.raises(TypeError, match="formula must be a string"):
        simlab.lmer(None, data)


def test_data_must_be_a_dataframe(data):
    with pytest.raises(TypeError, match="data must be a pandas DataFrame, got dict"):
        simlab.lmer("y ~ x + (1 | group)", data.to_dict())


def test_unknown_engine(data):
    with pytest.raises(ValueError, match="engine must be one of"):
        simlab.lmer("y ~ x + (1 | group)", data, engine="lme4")


def test_input_data_is_not_modified(data):
    before = data.copy()
    simlab.lmer("y ~ x + (1 | group)", data)
    pd.testing.assert_frame_equal(data, before)


def test_missing_values_are_dropped_and_counted(data):
    holes = data.copy()
    holes.loc[[0, 5, 9], "x"] = np.nan
    fit = simlab.lmer("y ~ x + (1 | group)", holes)
    reference = simlab.lmer("y ~ x + (1 | group)", data.drop(index=[0, 5, 9]))
    assert fit.n_dropped == 3 and fit.nobs == len(data) - 3
    np.testing.assert_allclose(fit.fixef["estimate"], reference.fixef["estimate"], rtol=1e-12)
    assert "3 observation(s) deleted due to missingness" in str(fit)


@pytest.mark.parametrize("kwargs, message", [
    ({"method": "bayes"}, "method must be one of"),
    ({"level": 1.5}, "level must be strictly between 0 and 1"),
    ({"method": "boot", "nsim": 1}, "nsim must be an integer of at least 2"),
])
def test_confint_bad_arguments(data, kwargs, message):
    fit = simlab.lmer("y ~ x + (1 | group)", data)
    with pytest.raises(ValueError, match=message):
        fit.confint(**kwargs)


def test_predict_new_level_needs_permission(data):
    fit = simlab.lmer("y ~ x + (1 | group)", data)
    new = pd.DataFrame({"x": [0.0, 1.0], "group": [1, 999]})
    with pytest.raises(ValueError, match=r"levels not in the fitted model: \['999'\].*allow_new_levels=True"):
        fit.predict(new)
    both = fit.predict(new, allow_new_levels=True)
    population = fit.predict(new, random_effects=False)
    assert both[1] == population[1]
    assert both[0] == pytest.approx(population[0] + fit.ranef()["value"].iloc[0])


def test_predict_missing_group_value_is_named_not_taken_for_a_new_level(data):
    """As ``predict_interval``: a missing group is an error, even with new levels allowed."""
    fit = simlab.lmer("y ~ x + (1 | group)", data)
    new = pd.DataFrame({"x": [0.0, 1.0], "group": [1.0, np.nan]})
    for allow in (False, True):
        with pytest.raises(ValueError, match="missing values in the grouping column 'group'.*"
                                             "random_effects=False"):
            fit.predict(new, allow_new_levels=allow)
    assert len(fit.predict(new, random_effects=False)) == 2


def test_predict_newdata_missing_column(data):
    fit = simlab.lmer("y ~ x + (1 | group)", data)
    with pytest.raises(ValueError, match=r"\['x'\] not found in newdata"):
        fit.predict(pd.DataFrame({"group": [1]}))
    with pytest.raises(ValueError, match="needs the grouping column 'group'"):
        fit.predict(pd.DataFrame({"x": [1.0]}))


def test_predict_unknown_factor_level():
    fit = simlab.lmer("y ~ x + f + (1 | group)",
                      simlab.simulate(10, 4, 1, 1, seed=1).assign(f=lambda d: np.where(d.x > 0, "a", "b")))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="same columns and factor levels"):
            fit.predict(pd.DataFrame({"x": [0.0], "f": ["zzz"], "group": [1]}))


@pytest.mark.parametrize("formula", ["y ~ x * * z + (1 | group)", "y ~ x + I(x + ) + (1 | group)",
                                     "y ~ x + I(x +* 2) + (1 | group)", "y ~ x $ z + (1 | group)",
                                     "y ~ x + I((x) + (1 | group)"])
def test_syntax_errors_are_clear_value_errors(data, formula):
    with pytest.raises(ValueError) as caught:
        simlab.lmer(formula, data)
    assert not type(caught.value).__module__.startswith("formulaic"), type(caught.value)
    assert "\x1b" not in str(caught.value)
    lm_formula = formula.replace(" + (1 | group)", "")
    with pytest.raises(ValueError):
        simlab.lm(lm_formula, data)


def test_cli_syntax_error_has_no_traceback(data, tmp_path, capsys):
    from simlab.cli import main

    path = tmp_path / "d.csv"
    data.to_csv(path, index=False)
    assert main(["fit", str(path), "y ~ x + I(x + ) + (1 | group)"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("simlab: error: could not read the formula terms") and "Traceback" not in err


def test_backticked_response_and_group(data):
    spaced = data.rename(columns={"y": "reaction time", "group": "subject id", "x": "x value"})
    fit = simlab.lmer("`reaction time` ~ `x value` + (1 | `subject id`)", spaced)
    reference = simlab.lmer("y ~ x + (1 | group)", data)
    np.testing.assert_allclose(fit.fixef["estimate"], reference.fixef["estimate"], rtol=1e-10)
    assert list(fit.fixef.index) == ["(Intercept)", "x value"]
    np.testing.assert_allclose(fit.predict(spaced.head(3)), reference.predict(data.head(3)), rtol=1e-10)
    ols = simlab.lm("`reaction time` ~ `x value`", spaced)
    assert list(ols.fixef.index) == ["(Intercept)", "x value"]


def test_transformed_response_is_refused_clearly(data):
    with pytest.raises(ValueError, match=r"response 'log\(y\)'.*single column name.*pandas first"):
        simlab.lmer("log(y) ~ x + (1 | group)", data)


def test_no_fixed_effect_is_refused_clearly(data):
    with pytest.raises(ValueError, match=r"no coefficient to estimate.*y ~ 1 \+ \(1 \| group\)"):
        simlab.lmer("y ~ 0 + (1 | group)", data)


def test_integer_arithmetic_does_not_wrap(data):
    big = data.assign(xi=np.arange(len(data), dtype=np.int64) * 10**9 + 4 * 10**9)
    fit = simlab.lm("y ~ I(xi * xi / 1e18)", big)
    as_float = simlab.lm("y ~ I(xf * xf / 1e18)", big.assign(xf=big["xi"].astype(float)))
    np.testing.assert_allclose(fit.fixef["estimate"], as_float.fixef["estimate"], rtol=1e-12)
    np.testing.assert_allclose(fit.predict(big.head(4)), as_float.fitted[:4], rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the predictor's scale
        mixed = simlab.lmer("y ~ I(xi * xi / 1e18) + (1 | group)", big)
    assert mixed.fixef.index[1].startswith("I(xi * xi / 1e")
    product = simlab.lm("y ~ 0 + xi:xj", big.assign(xj=big["xi"]))   # no int64 product
    floats = big.assign(xf=big["xi"] * 1.0, xg=big["xi"] * 1.0)
    np.testing.assert_allclose(product.fixef["estimate"],
                               simlab.lm("y ~ 0 + xf:xg", floats).fixef["estimate"], rtol=1e-10)


def test_integer_factor_keeps_its_level_names(data):
    fit = simlab.lm("y ~ C(k)", data.assign(k=np.arange(len(data)) % 3))
    assert list(fit.fixef.index) == ["(Intercept)", "C(k)1", "C(k)2"]


@pytest.mark.parametrize("column", ["y", "x"])
def test_complex_values_are_refused(data, column):
    data = data.assign(**{column: data[column] + 1j})
    with pytest.raises(ValueError, match=rf"\['{column}'\] hold complex numbers"):
        simlab.lmer("y ~ x + (1 | group)", data)


# ----- issue 10, items 9 and 10: the Python API's own messages ----------------

@pytest.mark.parametrize("values, kind", [
    (lambda g: [g], "list"), (lambda g: {"g": g}, "dict"), (lambda g: {g}, "set"),
])
def test_unhashable_group_values_are_refused_clearly(data, values, kind):
    bad = data.assign(group=[values(g) for g in data["group"]])
    with pytest.raises(ValueError, match=rf"grouping column 'group' of data holds {kind} values "
                                         r"such as .* \(row 0\); group values must be hashable "
                                         r"scalars.*astype\(str\)"):
        simlab.lmer("y ~ x + (1 | group)", bad)
    fit = simlab.lmer("y ~ x + (1 | group)", data)
    with pytest.raises(ValueError, match=rf"'group' of newdata holds {kind} values"):
        fit.predict(bad.head(3))


@pytest.mark.parametrize("column", ["x", "y", "group"])
def test_duplicated_column_names_are_refused_clearly(data, column):
    doubled = pd.concat([data, data[[column]]], axis=1)
    message = (rf"data has several columns named \['{column}'\].*rename or drop the duplicates"
               r".*columns.duplicated\(\)")
    with pytest.raises(ValueError, match=message):
        simlab.lmer("y ~ x + (1 | group)", doubled)
    if column != "group":
        with pytest.raises(ValueError, match=message):
            simlab.lm("y ~ x", doubled)
    if column != "y":   # predict reads x and group only
        fit = simlab.lmer("y ~ x + (1 | group)", data)
        with pytest.raises(ValueError, match=rf"newdata has several columns named \['{column}'\]"):
            fit.predict(doubled.head(3))
    # A duplicated column that the model does not read is no obstacle.
    others = [name for name in ("x", "y") if name != column]
    if column != "group":
        np.testing.assert_allclose(
            simlab.lmer(f"{others[0]} ~ 1 + (1 | group)", doubled).fixef["estimate"],
            simlab.lmer(f"{others[0]} ~ 1 + (1 | group)", data).fixef["estimate"])


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_predict_refuses_infinite_newdata(data, value):
    fit = simlab.lmer("y ~ x + (1 | group)", data)
    new = data.head(4).copy()
    new.loc[2, "x"] = value
    message = r"1 infinite value\(s\) in \['x'\] \(rows \[2\]\); replace or drop those rows"
    for options in ({}, {"random_effects": False}):
        with pytest.raises(ValueError, match=message):
            fit.predict(new, **options)
    with pytest.raises(ValueError, match=message):
        simlab.lm("y ~ x", data).predict(new)


def test_predict_names_missing_newdata_values(data):
    fit = simlab.lm("y ~ x", data)
    with pytest.raises(ValueError, match=r"newdata has missing values in \['x'\] \(rows \[1\]\); "
                                         "a prediction needs every model column"):
        fit.predict(data.head(3).assign(x=[0.0, np.nan, 1.0]))


@pytest.mark.parametrize("option", ["random_effects", "allow_new_levels"])
@pytest.mark.parametrize("value", ["no", "False", 0, 1, None])
def test_predict_flags_must_be_booleans(data, option, value):
    fit = simlab.lmer("y ~ x + (1 | group)", data)
    message = rf"{option} must be True or False, got {re.escape(repr(value))}"
    with pytest.raises(TypeError, match=message):
        fit.predict(data.head(3), **{option: value})
    np.testing.assert_array_equal(fit.predict(data.head(3), **{option: np.False_}),
                                  fit.predict(data.head(3), **{option: False}))


def test_reml_flag_uses_the_same_check(data):
    with pytest.raises(TypeError, match="reml must be True or False, got 'no'"):
        simlab.lmer("y ~ x + (1 | group)", data, reml="no")
    assert simlab.lmer("y ~ x + (1 | group)", data, reml=np.False_).reml is False


def test_levels_too_close_to_one_are_refused_without_warnings(data):
    fit = simlab.lmer("y ~ x + (1 | group)", data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for level in (1 - 1e-16, 1 - 1e-13, np.nextafter(1.0, 0.0)):
            for call in (lambda: fit.confint(level=level),
                         lambda: fit.confint(method="wald", level=level),
                         lambda: fit.ranef(level=level),
                         lambda: fit.fixed_tests(level=level),
                         lambda: simlab.lm("y ~ x", data).confint(level=level)):
                with pytest.raises(ValueError, match=r"too close to 1.*at most 1 - 1e-12"):
                    call()
        # The largest level accepted gives finite bounds, without a warning.
        for method in ("profile", "wald"):
            table = fit.confint(method=method, level=1 - 1e-12)
            assert np.isfinite(table.dropna().to_numpy()).all()
        assert np.isfinite(fit.ranef(level=1 - 1e-12).iloc[:, -2:].to_numpy()).all()


@pytest.fixture()
def german(data) -> pd.DataFrame:
    return data.rename(columns={"y": "gewicht", "x": "größe", "group": "grüppe"})


def test_non_ascii_column_names_work_like_ascii_ones(data, german):
    reference = simlab.lmer("y ~ x + (1 | group)", data)
    for formula in ("gewicht ~ größe + (1 | grüppe)", "gewicht ~ größe + (1|grüppe)",
                    "`gewicht` ~ `größe` + (1 | `grüppe`)"):
        fit = simlab.lmer(formula, german)
        np.testing.assert_allclose(fit.fixef["estimate"], reference.fixef["estimate"], rtol=1e-12)
        assert fit.design.group_name == "grüppe" and fit.fixef.index[1] == "größe"
        np.testing.assert_allclose(fit.predict(german.head(5)), reference.predict(data.head(5)),
                                   rtol=1e-12)
        ols = simlab.lm(formula.split(" + (")[0], german)
        np.testing.assert_allclose(ols.predict(german.head(5)), simlab.lm("y ~ x", data).fitted[:5])


def test_non_ascii_names_inside_terms_and_other_scripts(data, german):
    squared = simlab.lmer("gewicht ~ I(größe**2) + (1 | grüppe)", german)
    reference = simlab.lmer("y ~ I(x**2) + (1 | group)", data)
    np.testing.assert_allclose(squared.fixef["estimate"], reference.fixef["estimate"], rtol=1e-12)
    np.testing.assert_allclose(squared.predict(german.head(3)), reference.predict(data.head(3)))
    japanese = data.rename(columns={"y": "体重", "x": "身長", "group": "班"})
    assert simlab.lmer("体重 ~ 身長 + (1 | 班)", japanese).fixef.index[1] == "身長"


def test_a_name_in_another_unicode_form_is_refused_for_the_right_reason(data):
    import unicodedata

    decomposed = unicodedata.normalize("NFD", "größe")   # o + combining diaeresis
    spelled = data.rename(columns={"x": decomposed})
    with pytest.raises(ValueError, match=r"differ from it only in their Unicode form.*NFKC"):
        simlab.lm(f"y ~ I({decomposed}**2)", spelled)
    with pytest.raises(ValueError, match=r"Unicode normalisation changes.*NFKC"):
        simlab.lm(f"y ~ {decomposed}", spelled)
    assert simlab.lm(f"y ~ `{decomposed}`", spelled).fixef.index[1] == decomposed


@pytest.mark.parametrize("formula, message", [
    ("y ~ x +", "'\\+' with no term on one side"),
    ("y ~ x + + x", "'\\+' with no term on one side"),
    ("y ~ + x", "'\\+' with no term on one side"),
    ("y ~ x + (1 | group) +", "'\\+' with no term on one side"),
    ("y ~ x + (1 + + x | group)", "'\\+' with no term on one side"),
    ("y ~ ~ x", "exactly one '~'"),
    ("~ x", "no response"),
    ("y ~", "nothing on the right of '~'.*'y ~ 1'"),
    ("y ~ ", "nothing on the right of '~'"),
    ("y ~ (x", "unmatched '\\('"),
    ("y ~ x)", "unmatched '\\)'"),
    ("y ~ `x + (1 | group)", "unmatched '`'"),
    ("", "exactly one '~'"),
    ("y ~ x -", "could not read the formula terms"),
    ("y ~ x *", "could not read the formula terms"),
])
def test_malformed_formulas_are_formula_errors(data, formula, message):
    from simlab.model import FormulaError

    for fit in (simlab.lmer, simlab.lm):
        with pytest.raises(FormulaError, match=message):
            fit(formula, data)
