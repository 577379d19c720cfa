"""LmerResult: every public attribute works, tables have the promised shape, results are read-only."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

import simlab
from series_checks import check_series_indexed_like_rows

PUBLIC = sorted(name for name in dir(simlab.LmerResult) if not name.startswith("_"))


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_attribute(sim_fit, name):
    value = getattr(sim_fit, name)
    if callable(value):
        kwargs = {"nsim": 20, "seed": 1} if name in ("confint", "re_sim", "predict_interval") \
            else {"method": "wald"} if name == "to_dict" else {}
        value = value(**kwargs)
    assert value is not None


def test_result_is_frozen(sim_fit):
    with pytest.raises(dataclasses.FrozenInstanceError):
        sim_fit.design = None


def test_table_columns(sim_fit):
    assert list(sim_fit.fixef.columns) == ["estimate", "se", "df", "t", "p", "lower", "upper"]
    assert sim_fit.fixef.index.name == "term"
    assert list(sim_fit.varcomp.columns) == ["group", "effect", "variance", "sd", "var_prop"]
    expected = ["group_var", "effect", "group", "value", "se", "lower", "upper"]
    assert list(sim_fit.ranef().columns) == expected
    assert list(sim_fit.coef().columns) == expected
    assert list(sim_fit.confint(method="wald").columns) == ["lower", "upper"]


def test_satterthwaite_p_values_and_wald_intervals(sim_fit):
    """p from t on Satterthwaite's df (lmerTest's summary); the interval is Wald's (normal)."""
    fe = sim_fit.fixef
    from scipy import stats
    assert sim_fit.p_value_method == "satterthwaite"
    np.testing.assert_allclose(fe["p"], 2 * stats.t.sf(np.abs(fe["estimate"] / fe["se"]), fe["df"]))
    np.testing.assert_allclose(fe["upper"] - fe["estimate"], 1.959963984540054 * fe["se"])
    normal = sim_fit.fixed_tests("normal")
    np.testing.assert_allclose(normal["p"], 2 * stats.norm.sf(np.abs(fe["estimate"] / fe["se"])))


def test_every_table_honours_level_under_the_same_column_names(sim_fit):
    z90 = 1.6448536269514722
    for table in (sim_fit.ranef(level=0.9), sim_fit.coef(level=0.9)):
        np.testing.assert_allclose(table["upper"] - table["lower"], 2 * z90 * table["se"])
    fixed = sim_fit.fixed_tests(level=0.9)
    np.testing.assert_allclose(fixed["upper"] - fixed["lower"], 2 * z90 * fixed["se"])
    pd.testing.assert_frame_equal(sim_fit.fixed_tests(), sim_fit.fixef)
    pd.testing.assert_frame_equal(sim_fit.fixed_tests(level=0.9)[["lower", "upper"]],
                                  sim_fit.confint(method="wald", level=0.9).loc[fixed.index],
                                  check_names=False)


@pytest.mark.parametrize("call", [
    lambda fit: fit.confint(0.9), lambda fit: fit.confint("wald"), lambda fit: fit.ranef(0.9),
    lambda fit: fit.coef(0.9), lambda fit: fit.fixed_tests("normal", 0.9),
    lambda fit: fit.anova("kenward-roger"), lambda fit: fit.contest([0, 1], "kenward-roger"),
    lambda fit: fit.re_sim(10), lambda fit: fit.predict_interval(None, 0.9),
    lambda fit: fit.to_dict(0.9)])
def test_options_are_keyword_only(sim_fit, call):
    """``fit.confint(0.9)`` meant a level in lme4 and a method here: now it says so."""
    with pytest.raises(TypeError, match="positional argument"):
        call(sim_fit)


def test_a_bad_level_is_refused_by_every_table(sim_fit):
    for call in (sim_fit.ranef, sim_fit.coef, sim_fit.fixed_tests):
        with pytest.raises(ValueError, match="level must be strictly between 0 and 1"):
            call(level=1.5)


def test_icc_and_var_prop(gpa_fit):
    assert gpa_fit.icc == pytest.approx(0.0637189114220984 / (0.0637189114220984 + 0.0580885427949823),
                                        rel=1e-6)
    assert gpa_fit.varcomp["var_prop"].iloc[0] == pytest.approx(gpa_fit.icc, rel=1e-12)


def test_coef_se_combines_ranef_and_intercept_se(gpa_fit):
    re, co = gpa_fit.ranef(), gpa_fit.coef()
    se_int = gpa_fit.fixef.loc["(Intercept)", "se"]
    np.testing.assert_allclose(co["se"], np.sqrt(re["se"] ** 2 + se_int ** 2), rtol=1e-12)
    assert re["se"].iloc[0] == pytest.approx(0.0916758, abs=5e-8)   # lme4 condVar for GPA
    assert co["se"].iloc[0] == pytest.approx(0.0942, abs=5e-5)


def test_residuals_and_fitted(sim_fit):
    np.testing.assert_allclose(sim_fit.fitted + sim_fit.residuals, sim_fit.design.y, rtol=1e-12)


def test_fitted_residuals_and_predictions_are_series_indexed_like_their_rows():
    sleep = simlab.datasets.sleepstudy().copy()
    sleep.index = sleep.index + 1000
    sleep.loc[1003, "Days"] = np.nan
    fit = simlab.lmer("Reaction ~ Days + (1 | Subject)", sleep)
    rows = check_series_indexed_like_rows(fit, sleep, 1003, [1005, 1002])
    assert list(fit.predict(rows, random_effects=False).index) == ["a", "b"]


def test_to_dict_is_json_ready_with_every_table_at_level(sim_fit):
    record = sim_fit.to_dict(level=0.9, method="wald")
    text = json.dumps(record, allow_nan=False)  # Wald has NaN bounds for variances: None
    assert json.loads(text) == record
    assert record["level"] == 0.9 and record["confint_method"] == "wald"
    assert record["engine"] == "exact" and record["data"] == sim_fit.data_name
    fixef = pd.DataFrame(record["fixef"]).set_index("term")
    pd.testing.assert_frame_equal(fixef, sim_fit.fixed_tests(level=0.9), check_names=False)
    assert record["ranef"][0]["lower"] == pytest.approx(sim_fit.ranef(level=0.9)["lower"][0])
    assert record["confint"][0]["lower"] is None
    assert (record["tau"], record["icc"]) == (pytest.approx(sim_fit.tau), pytest.approx(sim_fit.icc))


def test_to_dict_of_random_slopes_has_no_tau_or_icc(sleepstudy_data):
    fit = simlab.lmer("Reaction ~ Days + (Days | Subject)", sleepstudy_data)
    record = fit.to_dict(method="wald")
    assert record["tau"] is None and record["icc"] is None
    assert {row["effect"] for row in record["coef"]} == {"(Intercept)", "Days"}
    json.dumps(record, allow_nan=False)


def test_summary_is_lme4_like(gpa_fit):
    text = str(gpa_fit)
    assert text == str(gpa_fit.summary()) == repr(gpa_fit.summary())
    for line in ["Linear mixed model fit by REML. t-tests use Satterthwaite's method ['lmerModLmerTest']",
                 "Formula: gpa ~ occasion + (1 | student)", "   Data: gpa",
                 "REML criterion at convergence: 408.9",
                 " student  (Intercept) 0.06372  0.2524",
                 " Residual             0.05809  0.2410",
                 "Number of obs: 1200, groups:  student, 200",
                 "(Intercept) 2.599214   0.021696 322.3   119.8   <2e-16 ***",
                 "occasion    0.106314   0.004074 999.0    26.1   <2e-16 ***"]:
        assert line in text, line


def test_html_is_the_summary(gpa_fit):
    for shown in (gpa_fit, gpa_fit.summary()):
        html = shown._repr_html_()
        assert html.startswith("<pre>") and "Satterthwaite&#x27;s method" in html
        assert "Number of obs: 1200, groups:  student, 200" in html


def test_repr_is_short(sim_fit):
    assert repr(sim_fit).startswith("<LmerResult 'y ~ x + (1 | groups)' (REML, exact engine)")


def test_boot_is_reproducible_and_near_profile(gpa_fit):
    first = gpa_fit.confint(method="boot", nsim=400, seed=7)
    np.testing.assert_array_equal(first, gpa_fit.confint(method="boot", nsim=400, seed=7))
    assert not first.equals(gpa_fit.confint(method="boot", nsim=400, seed=8))
    profile = gpa_fit.confint(method="profile")
    np.testing.assert_allclose(first, profile, rtol=0.05)


def test_model_columns_are_public(sleepstudy_data):
    fit = simlab.lmer("Reaction ~ Days + (Days | Subject)", sleepstudy_data)
    assert (fit.response, fit.group_name, fit.random_terms) == (
        "Reaction", "Subject", ("(Intercept)", "Days"))


def test_model_matrix_and_group_factor_are_the_fitted_rows():
    sleep = simlab.datasets.sleepstudy().copy()
    sleep.loc[3, "Days"] = np.nan
    fit = simlab.lmer("Reaction ~ Days + (1 | Subject)", sleep)
    X = fit.model_matrix()
    assert list(X.columns) == ["(Intercept)", "Days"]
    assert len(X) == 179 and 3 not in X.index
    np.testing.assert_array_equal(X["Days"], sleep["Days"].drop(index=3))
    groups = fit.group_factor()
    assert groups.name == "Subject" and list(groups.index) == list(X.index)
    assert groups.cat.categories.size == 18
    assert (groups.astype(str) == sleep["Subject"].drop(index=3).astype(str)).all()
