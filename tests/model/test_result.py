"""LmerResult: every public attribute works, tables have the promised shape, results are read-only."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import simlab
from simlab.model.result import interval_columns

PUBLIC = sorted(name for name in dir(simlab.LmerResult) if not name.startswith("_"))


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_attribute(sim_fit, name):
    value = getattr(sim_fit, name)
    if callable(value):
        kwargs = {"nsim": 20, "seed": 1} if name == "confint" else {}
        value = value(**kwargs)
    assert value is not None


def test_result_is_frozen(sim_fit):
    with pytest.raises(dataclasses.FrozenInstanceError):
        sim_fit.design = None


def test_table_columns(sim_fit):
    assert list(sim_fit.fixef.columns) == ["estimate", "se", "df", "t", "p", "lower_2.5", "upper_97.5"]
    assert sim_fit.fixef.index.name == "term"
    assert list(sim_fit.varcomp.columns) == ["group", "effect", "variance", "sd", "var_prop"]
    expected = ["group_var", "effect", "group", "value", "se", "lower_2.5", "upper_97.5"]
    assert list(sim_fit.ranef().columns) == expected
    assert list(sim_fit.coef().columns) == expected
    assert list(sim_fit.confint("wald").columns) == ["lower", "upper"]


def test_satterthwaite_p_values_and_wald_intervals(sim_fit):
    """p from t on Satterthwaite's df (lmerTest's summary); the interval is Wald's (normal)."""
    fe = sim_fit.fixef
    from scipy import stats
    assert sim_fit.p_value_method == "satterthwaite"
    np.testing.assert_allclose(fe["p"], 2 * stats.t.sf(np.abs(fe["estimate"] / fe["se"]), fe["df"]))
    np.testing.assert_allclose(fe["upper_97.5"] - fe["estimate"], 1.959963984540054 * fe["se"])
    normal = sim_fit.fixed_tests("normal")
    np.testing.assert_allclose(normal["p"], 2 * stats.norm.sf(np.abs(fe["estimate"] / fe["se"])))


def test_interval_column_names_follow_level(sim_fit):
    assert interval_columns(0.9) == ("lower_5", "upper_95")
    lower, upper = sim_fit.ranef(level=0.9)[["lower_5", "upper_95"]].to_numpy().T
    np.testing.assert_allclose(upper - lower, 2 * 1.6448536269514722 * sim_fit.ranef()["se"])


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


def test_repr_is_short(sim_fit):
    assert repr(sim_fit).startswith("<LmerResult 'y ~ x + (1 | groups)' (REML, exact engine)")


def test_boot_is_reproducible_and_near_profile(gpa_fit):
    first = gpa_fit.confint("boot", nsim=400, seed=7)
    np.testing.assert_array_equal(first, gpa_fit.confint("boot", nsim=400, seed=7))
    assert not first.equals(gpa_fit.confint("boot", nsim=400, seed=8))
    profile = gpa_fit.confint("profile")
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
