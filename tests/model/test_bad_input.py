"""Every bad input of the core issue gets a clear error naming the problem and the fix."""
from __future__ import annotations

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


def test_random_slope_not_supported_by_exact_engine(data):
    with pytest.raises(ValueError, match=r"\(x \| group\) is not supported yet.*engine='statsmodels'"):
        simlab.lmer("y ~ x + (x | group)", data)


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


def test_two_grouping_factors(data):
    with pytest.raises(ValueError, match="only one grouping factor"):
        simlab.lmer("y ~ x + (1 | group) + (1 | x)", data)


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
    assert list(ols.coef.index) == ["(Intercept)", "x value"]


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
    np.testing.assert_allclose(fit.coef["estimate"], as_float.coef["estimate"], rtol=1e-12)
    np.testing.assert_allclose(fit.predict(big.head(4)), as_float.fitted[:4], rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the predictor's scale
        mixed = simlab.lmer("y ~ I(xi * xi / 1e18) + (1 | group)", big)
    assert mixed.fixef.index[1].startswith("I(xi * xi / 1e")
    product = simlab.lm("y ~ 0 + xi:xj", big.assign(xj=big["xi"]))   # no int64 product
    floats = big.assign(xf=big["xi"] * 1.0, xg=big["xi"] * 1.0)
    np.testing.assert_allclose(product.coef["estimate"],
                               simlab.lm("y ~ 0 + xf:xg", floats).coef["estimate"], rtol=1e-10)


def test_integer_factor_keeps_its_level_names(data):
    fit = simlab.lm("y ~ C(k)", data.assign(k=np.arange(len(data)) % 3))
    assert list(fit.coef.index) == ["(Intercept)", "C(k)1", "C(k)2"]


@pytest.mark.parametrize("column", ["y", "x"])
def test_complex_values_are_refused(data, column):
    data = data.assign(**{column: data[column] + 1j})
    with pytest.raises(ValueError, match=rf"\['{column}'\] hold complex numbers"):
        simlab.lmer("y ~ x + (1 | group)", data)
