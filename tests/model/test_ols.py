"""simlab.lm: R's summary(lm(...)) table through statsmodels OLS."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import simlab
from simlab.model.ols import FStatistic, LmResult
from series_checks import check_series_indexed_like_rows


@pytest.fixture(scope="session")
def gpa_lm(gpa_data):
    return simlab.lm("gpa ~ occasion", gpa_data, data_name="gpa")


@pytest.fixture(scope="session")
def sleep_lm(sleepstudy_data):
    return simlab.lm("Reaction ~ Days", sleepstudy_data, data_name="sleepstudy")


@pytest.fixture()
def small() -> pd.DataFrame:
    return simlab.simulate(10, 4, 0.5, 0.25, seed=3)


def _closed_form(X: np.ndarray, y: np.ndarray) -> dict:
    """R's summary.lm quantities from the normal equations, independently of statsmodels."""
    n, p = X.shape
    xtx_inv = np.linalg.inv(X.T @ X)
    beta = xtx_inv @ X.T @ y
    resid = y - X @ beta
    rss, tss = resid @ resid, ((y - y.mean()) ** 2).sum()
    sigma2 = rss / (n - p)
    se = np.sqrt(sigma2 * np.diag(xtx_inv))
    fvalue = (tss - rss) / (p - 1) / sigma2
    return {"beta": beta, "se": se, "t": beta / se, "p": 2 * stats.t.sf(np.abs(beta / se), n - p),
            "sigma": np.sqrt(sigma2), "r2": 1 - rss / tss,
            "adj_r2": 1 - rss / tss * (n - 1) / (n - p),
            "f": fvalue, "f_p": stats.f.sf(fvalue, p - 1, n - p), "fitted": X @ beta}


# ----- against R -------------------------------------------------------------------

def test_gpa_matches_closed_form(gpa_lm, gpa_data):
    """R's lm(gpa ~ occasion, gpa), computed here from the normal equations."""
    X = np.column_stack([np.ones(len(gpa_data)), gpa_data["occasion"]])
    ref = _closed_form(X, gpa_data["gpa"].to_numpy(dtype=float))
    assert list(gpa_lm.fixef.index) == ["(Intercept)", "occasion"]
    assert list(gpa_lm.fixef.columns) == ["estimate", "se", "df", "t", "p", "lower", "upper"]
    assert (gpa_lm.fixef["df"] == 1198).all()
    for column, key in [("estimate", "beta"), ("se", "se"), ("t", "t"), ("p", "p")]:
        np.testing.assert_allclose(gpa_lm.fixef[column], ref[key], rtol=1e-9)
    assert gpa_lm.sigma == pytest.approx(ref["sigma"], rel=1e-12)
    assert (gpa_lm.nobs, gpa_lm.df_resid, gpa_lm.n_dropped) == (1200, 1198, 0)
    assert gpa_lm.r_squared == pytest.approx(ref["r2"], rel=1e-10)
    assert gpa_lm.adj_r_squared == pytest.approx(ref["adj_r2"], rel=1e-10)
    assert gpa_lm.fstatistic.value == pytest.approx(ref["f"], rel=1e-9)
    assert (gpa_lm.fstatistic.numdf, gpa_lm.fstatistic.dendf) == (1, 1198)
    assert gpa_lm.fstatistic.p == pytest.approx(ref["f_p"], rel=1e-6)
    np.testing.assert_allclose(gpa_lm.predict(), ref["fitted"], rtol=1e-12)


def test_sleepstudy_matches_r(sleep_lm):
    """summary(lm(Reaction ~ Days, sleepstudy)) in R 4.2.

    (These are R's numbers, recomputed here too: se 6.610 / 1.238, R^2 0.2865.
    The values 9.7459 / 1.8102 / 0.1658 sometimes quoted for this model are
    not what R prints for it.)
    """
    coef = sleep_lm.fixef
    np.testing.assert_allclose(coef["estimate"], [251.4051, 10.4673], rtol=5e-6)
    np.testing.assert_allclose(coef["se"], [6.6102, 1.2382], rtol=1e-4)
    np.testing.assert_allclose(coef["t"], [38.033, 8.454], rtol=1e-4)
    assert coef.loc["Days", "p"] == pytest.approx(9.894e-15, rel=1e-3)
    assert sleep_lm.sigma == pytest.approx(47.71, rel=1e-4)
    assert sleep_lm.df_resid == 178
    assert sleep_lm.r_squared == pytest.approx(0.2865, abs=5e-5)
    assert sleep_lm.adj_r_squared == pytest.approx(0.2825, abs=5e-5)
    assert sleep_lm.fstatistic.value == pytest.approx(71.46, rel=1e-4)


def test_sleepstudy_confint_is_t_based(sleep_lm):
    """R: confint(lm(Reaction ~ Days, sleepstudy))."""
    ci = sleep_lm.confint()
    np.testing.assert_allclose(ci.to_numpy(), [[238.360753, 264.449457], [8.023855, 12.910717]],
                               rtol=1e-8)
    q = stats.t.ppf(0.95, 178)
    np.testing.assert_allclose(sleep_lm.confint(level=0.9)["upper"],
                               sleep_lm.fixef["estimate"] + q * sleep_lm.fixef["se"])
    pd.testing.assert_frame_equal(sleep_lm.fixef[["lower", "upper"]], ci)
    pd.testing.assert_frame_equal(sleep_lm.fixed_tests(level=0.9)[["lower", "upper"]],
                                  sleep_lm.confint(level=0.9))
    pd.testing.assert_frame_equal(sleep_lm.fixed_tests(), sleep_lm.fixef)


def test_summary_printout_like_r(sleep_lm):
    lines = str(sleep_lm).splitlines()
    assert lines[:2] == ["Call:", "lm(formula = Reaction ~ Days, data = sleepstudy)"]
    assert "-110.85  -27.48    1.55   26.14  139.95" in lines
    assert "            Estimate Std. Error t value Pr(>|t|)" in lines
    assert "(Intercept)  251.405      6.610  38.033  < 2e-16 ***" in lines
    assert "Days          10.467      1.238   8.454 9.89e-15 ***" in lines
    assert "Residual standard error: 47.71 on 178 degrees of freedom" in lines
    assert "Multiple R-squared:  0.2865,\tAdjusted R-squared:  0.2825 " in lines
    assert "F-statistic: 71.46 on 1 and 178 DF,  p-value: 9.894e-15" in lines
    assert str(sleep_lm.summary()) == str(sleep_lm)


def test_factor_terms_named_as_lmer(gpa_data):
    fit = simlab.lm("gpa ~ occasion + sex + highgpa", gpa_data)
    mixed = simlab.lmer("gpa ~ occasion + sex + highgpa + (1 | student)", gpa_data)
    assert list(fit.fixef.index) == list(mixed.fixef.index)
    assert "F-statistic:" in str(fit) and "p-value: < 2.2e-16" in str(fit)


def test_intercept_only_has_no_f_statistic(gpa_data):
    fit = simlab.lm("gpa ~ 1", gpa_data)
    assert fit.fstatistic is None and fit.r_squared == pytest.approx(0.0, abs=1e-12)
    assert fit.fixef.loc["(Intercept)", "estimate"] == pytest.approx(gpa_data["gpa"].mean())
    assert "F-statistic" not in str(fit) and "<2e-16" in str(fit)


def test_no_intercept_uses_uncentred_r_squared(gpa_data):
    """R: without (Intercept) R^2 compares with 0, even when the columns span a constant."""
    fit = simlab.lm("gpa ~ 0 + sex", gpa_data)
    y = gpa_data["gpa"].to_numpy()
    resid = fit.residuals
    assert fit.r_squared == pytest.approx(1 - resid @ resid / (y @ y), rel=1e-12)
    assert (fit.fstatistic.numdf, fit.fstatistic.dendf) == (2, 1198)


def test_missing_rows_dropped_and_reported(sleepstudy_data):
    data = sleepstudy_data.copy()
    data.loc[[0, 5], "Reaction"] = np.nan
    fit = simlab.lm("Reaction ~ Days", data)
    assert (fit.nobs, fit.n_dropped, fit.df_resid) == (178, 2, 176)
    assert "  (2 observations deleted due to missingness)" in str(fit).splitlines()


def test_predict_newdata(sleep_lm, sleepstudy_data):
    np.testing.assert_allclose(sleep_lm.predict(sleepstudy_data), sleep_lm.predict())
    new = pd.DataFrame({"Days": [0, 10]})
    np.testing.assert_allclose(sleep_lm.predict(new), [251.405105, 356.077965], rtol=1e-8)


def test_perfect_fit_warns(small):
    with pytest.warns(UserWarning, match="essentially perfect fit"):
        simlab.lm("y ~ x", small.assign(y=2 * small["x"] + 1))


# ----- bad input -----------------------------------------------------------------------

def test_missing_column(small):
    with pytest.raises(ValueError, match=r"column\(s\) \['z'\] not found in data.*Check the spelling"):
        simlab.lm("y ~ x + z", small)


def test_non_numeric_response(small):
    with pytest.raises(TypeError, match="response 'y' must be numeric.*pd.to_numeric"):
        simlab.lm("y ~ x", small.assign(y=small["y"].astype(str)))


def test_random_term_points_to_lmer(small):
    with pytest.raises(ValueError, match=r"random term \(1 \| group\).*simlab.lmer"):
        simlab.lm("y ~ x + (1 | group)", small)


def test_empty_data(small):
    with pytest.raises(ValueError, match="no rows left to fit: the data is empty"):
        simlab.lm("y ~ x", small.iloc[:0])


def test_every_row_missing(small):
    with pytest.raises(ValueError, match="every one of the 40 rows has a missing value"):
        simlab.lm("y ~ x", small.assign(x=np.nan))


def test_not_a_dataframe(small):
    with pytest.raises(TypeError, match="data must be a pandas DataFrame"):
        simlab.lm("y ~ x", small.to_dict())


def test_rank_deficient(small):
    with pytest.raises(ValueError, match=r"rank deficient.*\['x2'\]"):
        simlab.lm("y ~ x + x2", small.assign(x2=2 * small["x"]))


def test_no_residual_degrees_of_freedom(small):
    with pytest.raises(ValueError, match="no residual degrees of freedom"):
        simlab.lm("y ~ x", small.head(2))


def test_no_coefficient(small):
    with pytest.raises(ValueError, match="no coefficient to estimate"):
        simlab.lm("y ~ 0", small)


@pytest.mark.parametrize("level, error", [(0, ValueError), (1, ValueError), (1.5, ValueError),
                                          ("0.95", TypeError)])
def test_bad_confint_level(sleep_lm, level, error):
    with pytest.raises(error, match="level must be .*strictly between 0 and 1"):
        sleep_lm.confint(level=level)
    with pytest.raises(error, match="level must be .*strictly between 0 and 1"):
        sleep_lm.fixed_tests(level=level)


def test_level_is_keyword_only(sleep_lm):
    with pytest.raises(TypeError, match="positional argument"):
        sleep_lm.confint(0.9)


def test_predict_bad_newdata(sleep_lm):
    with pytest.raises(TypeError, match="newdata must be a pandas DataFrame"):
        sleep_lm.predict({"Days": [1]})
    with pytest.raises(ValueError, match=r"\['Days'\] not found in newdata"):
        sleep_lm.predict(pd.DataFrame({"days": [1]}))


def test_predict_unseen_level(gpa_data):
    fit = simlab.lm("gpa ~ sex", gpa_data)
    with pytest.raises(ValueError, match="could not build the fixed effects for newdata"):
        fit.predict(pd.DataFrame({"sex": ["other"]}))


# ----- the result object ---------------------------------------------------------------

def _public_names(result) -> list[str]:
    return sorted(name for name in dir(result) if not name.startswith("_"))


def test_every_public_attribute(sleep_lm):
    """Smoke test: every public attribute and method of LmResult works."""
    names = _public_names(sleep_lm)
    assert {"fixef", "fixed_tests", "vcov", "nobs", "sigma", "df_resid", "r_squared", "adj_r_squared",
            "fstatistic", "n_dropped", "fitted", "residuals", "formula", "data_name",
            "predict", "confint", "summary"} <= set(names)
    for name in names:
        value = getattr(sleep_lm, name)
        if callable(value):
            value = value()
        assert value is not None, name
    assert isinstance(sleep_lm.fstatistic, FStatistic)
    assert list(sleep_lm.confint().columns) == ["lower", "upper"]
    assert sleep_lm.vcov.shape == (2, 2)
    np.testing.assert_allclose(sleep_lm.fitted + sleep_lm.residuals,
                               sleep_lm.predict() + sleep_lm.residuals)
    assert repr(sleep_lm).startswith("<LmResult 'Reaction ~ Days'")


def test_fixef_lines_up_with_lmer(gpa_data):
    mixed = simlab.lmer("gpa ~ occasion + (1 | student)", gpa_data)
    assert list(simlab.lm("gpa ~ occasion", gpa_data).fixef.columns) == list(mixed.fixef.columns)


def test_fitted_residuals_predictions_are_series_indexed_like_their_rows(gpa_data):
    data = gpa_data.set_axis(gpa_data.index + 500).copy()
    data.loc[502, "occasion"] = np.nan
    check_series_indexed_like_rows(simlab.lm("gpa ~ occasion", data), data, 502, [510, 503])


def test_html_is_the_summary(sleep_lm):
    for shown in (sleep_lm, sleep_lm.summary()):
        html = shown._repr_html_()
        assert html.startswith("<pre>") and "Residual standard error: 47.71" in html


def test_result_is_frozen(sleep_lm):
    assert isinstance(sleep_lm, LmResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sleep_lm.sigma = 1.0


def test_exported():
    assert simlab.lm is simlab.model.lm and simlab.LmResult is LmResult
    assert {"lm", "LmResult"} <= set(simlab.__all__)
