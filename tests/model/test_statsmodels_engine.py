"""The statsmodels engine: agrees with the exact engine, fits random slopes like lme4.

Tolerance. statsmodels' L-BFGS alone leaves the variance parameters about
5e-5 (relative) from the optimum (its gradient tolerance is fixed at 1e-5
on the per-observation log-likelihood); the engine's Powell restart brings
them to at most 2e-7 from the exact engine's on gpa, sleepstudy and sim1234,
REML and ML (measured: fixed effects 2e-10, se 7e-8, variances 1.8e-7,
conditional modes 1.4e-8 of the largest, predictions 1.7e-8). ``RTOL = 1e-6``
keeps a margin of 5 over the worst of those. The criterion is flat at the
optimum, so it agrees far closer (7e-13): ``CRIT_RTOL = 1e-10``.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import simlab
from simlab.model import statsmodels_engine
from simlab.model.engine import ml_deviance_at, ml_deviance_general

RTOL = 1e-6
CRIT_RTOL = 1e-10

CASES = {
    "gpa": ("gpa ~ occasion + (1 | student)", "gpa"),
    "sleepstudy": ("Reaction ~ Days + (1 | Subject)", "sleepstudy"),
    "sim1234": ("y ~ x + (1 | groups)", "sim1234"),
}
EXACT_REML_FIT = {"gpa": "gpa_fit", "sleepstudy": "sleep_fit", "sim1234": "sim_fit"}

SLOPE = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="session", params=[(name, reml) for name in CASES for reml in (True, False)],
                ids=lambda p: f"{p[0]}-{'REML' if p[1] else 'ML'}")
def engine_pair(request):
    """(exact fit, statsmodels fit, data) of one data set, REML or ML."""
    name, reml = request.param
    formula, kind = CASES[name]
    data = request.getfixturevalue(f"{kind}_data")
    exact = (request.getfixturevalue(EXACT_REML_FIT[name]) if reml
             else simlab.lmer(formula, data, reml=False))
    return exact, simlab.lmer(formula, data, reml=reml, engine="statsmodels"), data


@pytest.fixture(scope="session")
def slope_fit(sleepstudy_data):
    return simlab.lmer(SLOPE, sleepstudy_data, engine="statsmodels")


@pytest.fixture(scope="session")
def slope_ml_fit(sleepstudy_data):
    return simlab.lmer(SLOPE, sleepstudy_data, engine="statsmodels", reml=False)


@pytest.fixture(scope="session")
def singular_data() -> pd.DataFrame:
    """Every group has the same mean response and covariate, so the group variance is 0."""
    rng = np.random.default_rng(1)
    group = np.repeat(np.arange(20), 8)
    x = rng.normal(size=group.size)
    data = pd.DataFrame({"g": group, "x": x, "y": 3 + 2 * x + rng.normal(size=group.size)})
    for column in ("x", "y"):
        data[column] -= data.groupby("g")[column].transform("mean")
    return data


# ----- agreement with the exact engine -------------------------------------------

def test_returns_lmer_result(engine_pair):
    exact, sm, _ = engine_pair
    assert isinstance(sm, simlab.LmerResult)
    assert sm.estimates.engine == "statsmodels" and "statsmodels engine" in repr(sm)
    assert sm.reml == exact.reml
    assert sm.converged and not sm.singular and sm.estimates.iterations > 0
    assert (sm.nobs, sm.ngroups) == (exact.nobs, exact.ngroups)


def test_fixed_effects_agree(engine_pair):
    exact, sm, _ = engine_pair
    assert list(sm.fixef.index) == list(exact.fixef.index)
    for column in ("estimate", "se", "t"):
        np.testing.assert_allclose(sm.fixef[column], exact.fixef[column], rtol=RTOL)
    np.testing.assert_allclose(sm.vcov, exact.vcov, rtol=2 * RTOL)


def test_variance_components_agree(engine_pair):
    exact, sm, _ = engine_pair
    assert list(sm.varcomp["group"]) == list(exact.varcomp["group"])
    np.testing.assert_allclose(sm.varcomp["variance"], exact.varcomp["variance"], rtol=RTOL)
    np.testing.assert_allclose([sm.sigma, sm.tau, sm.theta[0], sm.icc],
                               [exact.sigma, exact.tau, exact.theta[0], exact.icc], rtol=RTOL)


def test_random_effects_agree(engine_pair):
    exact, sm, _ = engine_pair
    for table in ("ranef", "coef"):
        ours, theirs = getattr(sm, table)(), getattr(exact, table)()
        assert list(ours["group"]) == list(theirs["group"])
        scale = np.abs(theirs["value"]).max()
        np.testing.assert_allclose(ours["value"], theirs["value"], rtol=RTOL, atol=RTOL * scale)
        np.testing.assert_allclose(ours["se"], theirs["se"], rtol=RTOL)


def test_predictions_agree(engine_pair):
    exact, sm, data = engine_pair
    np.testing.assert_allclose(sm.predict(), exact.predict(), rtol=RTOL)
    np.testing.assert_allclose(sm.predict(random_effects=False), exact.predict(random_effects=False),
                               rtol=RTOL)
    np.testing.assert_allclose(sm.predict(data.head(30)), exact.predict(data.head(30)), rtol=RTOL)


def test_criterion_agrees(engine_pair):
    """statsmodels' -2 llf is lme4's REML criterion (or ML deviance) with no constant."""
    exact, sm, _ = engine_pair
    assert sm.estimates.criterion == pytest.approx(exact.estimates.criterion, rel=CRIT_RTOL)
    assert sm.loglik == pytest.approx(exact.loglik, rel=CRIT_RTOL)
    assert sm.deviance == pytest.approx(exact.deviance, rel=100 * CRIT_RTOL)
    assert np.isnan(sm.reml_criterion) == np.isnan(exact.reml_criterion)


def test_summary_prints(engine_pair):
    _, sm, _ = engine_pair
    text = str(sm)
    assert "Fixed effects:" in text and "Random effects:" in text


# ----- random slopes ---------------------------------------------------------------

def test_random_slope_matches_lme4(slope_fit):
    """lme4 1.1: fm1 <- lmer(Reaction ~ Days + (Days | Subject), sleepstudy).

    lme4 prints the variances to 5 significant digits and its own optimum is
    only good to about 1e-5, hence 1e-4 for the variances.
    """
    fe = slope_fit.fixef
    np.testing.assert_allclose(fe["estimate"], [251.405105, 10.467286], rtol=1e-6)
    np.testing.assert_allclose(fe["se"], [6.824597, 1.545790], rtol=2e-5)
    np.testing.assert_allclose(slope_fit.varcomp["variance"], [612.10, 35.07, 654.94], rtol=1e-4)
    assert list(slope_fit.varcomp["effect"]) == ["(Intercept)", "Days", ""]
    re_cov = slope_fit.estimates.re_cov
    assert re_cov[0, 1] / np.sqrt(re_cov[0, 0] * re_cov[1, 1]) == pytest.approx(0.066, abs=5e-3)
    assert slope_fit.reml_criterion == pytest.approx(1743.6, abs=0.05)
    assert slope_fit.converged and not slope_fit.singular


def test_random_slope_ml_matches_lme4(slope_ml_fit):
    """lme4: the same model with REML = FALSE has deviance 1751.9 and these variances."""
    assert slope_ml_fit.deviance == pytest.approx(1751.94, abs=0.01)
    np.testing.assert_allclose(slope_ml_fit.varcomp["variance"], [565.52, 32.68, 654.94], rtol=1e-4)


def test_random_slope_tables(slope_fit, sleepstudy_data):
    fit, n_groups = slope_fit, slope_fit.ngroups
    ranef = fit.ranef()
    assert len(ranef) == 2 * n_groups
    assert list(ranef["effect"][:4]) == ["(Intercept)", "Days", "(Intercept)", "Days"]
    assert list(ranef["group"][::2]) == list(fit.design.levels.astype(str))
    modes = ranef["value"].to_numpy().reshape(n_groups, 2)
    np.testing.assert_allclose(modes, fit.estimates.modes)
    coef = fit.coef()
    np.testing.assert_allclose(coef["value"].to_numpy().reshape(n_groups, 2),
                               modes + fit.fixef["estimate"].to_numpy())
    expected = fit.design.X @ fit.estimates.beta + (fit.design.Z * modes[fit.design.groups]).sum(axis=1)
    np.testing.assert_allclose(fit.predict(), expected)
    np.testing.assert_allclose(fit.predict(sleepstudy_data), expected)
    assert "Days" in str(fit)


def test_random_slope_deviance(slope_fit, slope_ml_fit, sleep_fit):
    """deviance of a REML random-slope fit is the ML deviance at the REML estimates."""
    ml = slope_ml_fit
    resid = ml.design.y - ml.design.X @ ml.estimates.beta
    assert ml_deviance_general(ml.design, resid, ml.estimates.re_cov, ml.sigma) == pytest.approx(
        ml.estimates.criterion, rel=1e-12)
    assert slope_fit.deviance > ml.deviance  # the ML fit minimises it
    resid = sleep_fit.design.y - sleep_fit.design.X @ sleep_fit.estimates.beta
    assert ml_deviance_general(sleep_fit.design, resid, sleep_fit.estimates.re_cov,
                               sleep_fit.sigma) == pytest.approx(
        ml_deviance_at(sleep_fit.design, resid, sleep_fit.tau, sleep_fit.sigma), rel=1e-12)


def test_random_slope_bootstrap_of_a_statsmodels_fit(slope_fit):
    """Replicates are drawn from statsmodels' estimates and refitted by the exact engine."""
    ci = slope_fit.confint(method="boot", nsim=20, seed=1)
    assert list(ci.index) == ["sd_(Intercept)|Subject", "cor_Days.(Intercept)|Subject",
                              "sd_Days|Subject", "sigma", "(Intercept)", "Days"]
    assert (ci["lower"] < ci["upper"]).all() and (ci["lower"].iloc[[0, 2, 3]] > 0).all()


def test_random_slope_wald(slope_fit):
    ci = slope_fit.confint(method="wald")
    fe = slope_fit.fixef
    z = stats.norm.ppf(0.975)
    np.testing.assert_allclose(ci.loc[fe.index, "lower"], fe["estimate"] - z * fe["se"])
    np.testing.assert_allclose(ci.loc[fe.index, "upper"], fe["estimate"] + z * fe["se"])
    assert list(ci.index[-2:]) == list(fe.index)
    assert ci.drop(index=fe.index).isna().all().all()


def test_random_term_without_fixed_counterpart(sleepstudy_data):
    """lme4's coef adds 0 for a random slope that has no fixed slope."""
    fit = simlab.lmer("Reaction ~ 1 + (Days | Subject)", sleepstudy_data, engine="statsmodels")
    ranef, coef = fit.ranef(), fit.coef()
    days = ranef["effect"] == "Days"
    np.testing.assert_allclose(coef.loc[days, "value"], ranef.loc[days, "value"])
    np.testing.assert_allclose(coef.loc[days, "se"], ranef.loc[days, "se"])


def test_fixed_vcov_matches_dense_formula(slope_fit):
    """sigma^2 (X' V^-1 X)^-1 with V built densely, as lme4's vcov."""
    d, est = slope_fit.design, slope_fit.estimates
    V = np.eye(d.nobs) * est.sigma ** 2
    for code in range(d.n_groups):
        rows = np.flatnonzero(d.groups == code)
        V[np.ix_(rows, rows)] += d.Z[rows] @ est.re_cov @ d.Z[rows].T
    dense = np.linalg.inv(d.X.T @ np.linalg.solve(V, d.X))
    np.testing.assert_allclose(est.vcov, dense, rtol=1e-10)


# ----- singular fits --------------------------------------------------------------

@pytest.mark.parametrize("reml", [True, False])
def test_singular_fit_both_engines(singular_data, reml):
    fits = {}
    for engine in ("exact", "statsmodels"):
        with pytest.warns(simlab.SingularFitWarning) as record:
            fits[engine] = simlab.lmer("y ~ x + (1 | g)", singular_data, reml=reml, engine=engine)
        # statsmodels' own convergence warnings are stored, not shown
        assert all(issubclass(w.category, simlab.SingularFitWarning) for w in record)
    exact, sm = fits["exact"], fits["statsmodels"]
    assert exact.singular and sm.singular
    assert sm.theta[0] < statsmodels_engine.SINGULAR_TOL
    assert any("singular" in message for message in sm.messages)
    assert sm.estimates.criterion == pytest.approx(exact.estimates.criterion, rel=1e-9)
    np.testing.assert_allclose(sm.fixef["estimate"], exact.fixef["estimate"], rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(sm.fixef["se"], exact.fixef["se"], rtol=RTOL)
    np.testing.assert_allclose(sm.sigma, exact.sigma, rtol=RTOL)


def test_singular_random_slope(singular_data):
    """The intercept variance is 0: lme4's relative test flags it, whatever the units."""
    with pytest.warns(simlab.SingularFitWarning):
        fit = simlab.lmer("y ~ x + (x | g)", singular_data, engine="statsmodels")
    assert fit.singular
    diagonal = statsmodels_engine.relative_cholesky_diagonal(fit.estimates.re_cov, fit.sigma)
    assert diagonal[0] < statsmodels_engine.SINGULAR_TOL < diagonal[1]


# ----- optimiser fallback and helpers ------------------------------------------------

def _failing_fit(monkeypatch, failing):
    from statsmodels.regression.mixed_linear_model import MixedLM
    original = MixedLM.fit

    def fit(self, *args, method=None, **kwargs):
        if method[0] in failing:
            raise np.linalg.LinAlgError("Singular matrix")
        return original(self, *args, method=method, **kwargs)

    monkeypatch.setattr(MixedLM, "fit", fit)


def test_falls_back_when_lbfgs_fails(monkeypatch, sleepstudy_data, sleep_fit):
    _failing_fit(monkeypatch, {"lbfgs"})
    fit = simlab.lmer("Reaction ~ Days + (1 | Subject)", sleepstudy_data, engine="statsmodels")
    assert fit.converged
    assert any("'lbfgs' failed (LinAlgError" in message for message in fit.messages)
    np.testing.assert_allclose(fit.varcomp["variance"], sleep_fit.varcomp["variance"], rtol=RTOL)


def test_every_optimizer_failing_is_a_clear_error(monkeypatch, sleepstudy_data):
    _failing_fit(monkeypatch, set(statsmodels_engine.METHODS))
    with pytest.raises(RuntimeError, match="failed with every optimizer.*engine='exact'"):
        simlab.lmer("Reaction ~ Days + (1 | Subject)", sleepstudy_data, engine="statsmodels")


def test_unrelated_warnings_still_reach_the_user():
    with warnings.catch_warnings(record=True) as outer:
        warnings.simplefilter("always")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.warn("from pandas", FutureWarning)
            warnings.warn("overflow", RuntimeWarning)
        texts = statsmodels_engine._warning_texts(caught)
    assert texts == ["RuntimeWarning: overflow"]
    assert [str(w.message) for w in outer] == ["from pandas"]


@pytest.mark.parametrize("matrix, expected", [
    (np.array([[4.0, 2.0], [2.0, 5.0]]), np.diag(np.linalg.cholesky([[4.0, 2.0], [2.0, 5.0]]))),
    (np.array([[1.0, 1.0], [1.0, 1.0]]), [1.0, 0.0]),
    (np.zeros((2, 2)), [0.0, 0.0]),
    (np.array([[0.0, 0.0], [0.0, 9.0]]), [0.0, 3.0]),
])
def test_relative_cholesky_diagonal(matrix, expected):
    np.testing.assert_allclose(statsmodels_engine.relative_cholesky_diagonal(matrix, 1.0), expected,
                               atol=1e-12)
    np.testing.assert_allclose(statsmodels_engine.relative_cholesky_diagonal(4 * matrix, 2.0),
                               expected, atol=1e-12)


@pytest.mark.parametrize("formula, kind", [
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy"),
    ("gpa ~ occasion + (1 + occasion | student)", "gpa"),
])
def test_slope_models_agree_with_the_exact_engine(request, formula, kind):
    """Issue 11: the cross-check engine agrees to 1e-5 on the slope models it can fit."""
    data = request.getfixturevalue(f"{kind}_data")
    exact = simlab.lmer(formula, data)
    sm = simlab.lmer(formula, data, engine="statsmodels")
    assert sm.reml_criterion == pytest.approx(exact.reml_criterion, rel=1e-8)
    np.testing.assert_allclose(sm.fixef["estimate"], exact.fixef["estimate"], rtol=1e-5)
    np.testing.assert_allclose(sm.fixef["se"], exact.fixef["se"], rtol=1e-5)
    np.testing.assert_allclose(sm.varcorr()["sdcor"], exact.varcorr()["sdcor"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(sm.theta, exact.theta, rtol=1e-4, atol=1e-5)
