"""Every stored lme4 fit is reproduced: 1e-6 for estimates, 1e-4 for interval bounds."""
from __future__ import annotations

import numpy as np
import pytest

from simlab.model.engine import ml_deviance_at

RTOL = 1e-6
CI_RTOL = 1e-4


def _numbers(values):
    return np.array([np.nan if v == "NA" else v for v in values], dtype=float)


def test_fixed_effects(reference_case):
    ref, fit, _ = reference_case
    fe = fit.fixef
    assert list(fe.index) == ref["fixef"]["term"]
    np.testing.assert_allclose(fe["estimate"], ref["fixef"]["estimate"], rtol=RTOL)
    np.testing.assert_allclose(fe["se"], ref["fixef"]["se"], rtol=RTOL)
    np.testing.assert_allclose(fe["t"], ref["fixef"]["t"], rtol=RTOL)


def test_variance_components(reference_case):
    ref, fit, _ = reference_case
    vc = fit.varcomp
    assert list(vc["group"]) == ref["vc"]["group"]
    np.testing.assert_allclose(vc["variance"], ref["vc"]["variance"], rtol=RTOL)
    np.testing.assert_allclose(vc["sd"], ref["vc"]["sd"], rtol=RTOL)


def test_criterion_and_loglik(reference_case):
    ref, fit, _ = reference_case
    assert fit.reml_criterion == pytest.approx(ref["reml_criterion"], rel=1e-9)
    assert fit.loglik == pytest.approx(ref["loglik_reml"], rel=1e-9)
    assert (fit.nobs, fit.ngroups, fit.singular) == (ref["nobs"], ref["ngroups"], ref["singular"])
    assert fit.converged


def test_ml_fit(reference_case):
    import simlab
    ref, fit, data = reference_case
    ml = simlab.lmer(fit.formula, data, reml=False)
    assert ml.loglik == pytest.approx(ref["loglik_ml"], rel=1e-9)
    np.testing.assert_allclose(ml.fixef["estimate"], ref["fixef_ml"]["estimate"], rtol=RTOL)
    np.testing.assert_allclose(ml.fixef["se"], ref["fixef_ml"]["se"], rtol=RTOL)
    np.testing.assert_allclose(ml.varcomp["variance"], ref["vc_ml"]["variance"], rtol=RTOL)
    assert np.isnan(ml.reml_criterion)
    assert ml.deviance == pytest.approx(-2 * ref["loglik_ml"], rel=1e-9)
    resid = ml.design.y - ml.design.X @ ml.estimates.beta
    assert ml_deviance_at(ml.design, resid, ml.tau, ml.sigma) == pytest.approx(ml.deviance, rel=1e-10)


def test_random_effects(reference_case):
    ref, fit, _ = reference_case
    re = fit.ranef()
    assert list(re["group"]) == ref["ranef"]["level"]
    np.testing.assert_allclose(re["value"], ref["ranef"]["value"], rtol=RTOL, atol=1e-10)
    np.testing.assert_allclose(re["se"], ref["ranef"]["se"], rtol=RTOL)
    np.testing.assert_allclose(fit.coef()["value"], ref["coef_intercept"], rtol=RTOL)


def test_predictions(reference_case):
    ref, fit, data = reference_case
    np.testing.assert_allclose(fit.predict(), ref["predict_re"], rtol=RTOL)
    np.testing.assert_allclose(fit.predict(random_effects=False), ref["predict_fixed"], rtol=RTOL)
    np.testing.assert_allclose(fit.predict(data), ref["predict_re"], rtol=RTOL)
    np.testing.assert_allclose(fit.predict(data, random_effects=False), ref["predict_fixed"], rtol=RTOL)


@pytest.mark.parametrize("method, key", [("profile", "confint_profile"), ("wald", "confint_wald")])
def test_confint(reference_case, method, key):
    ref, fit, _ = reference_case
    ci = fit.confint(method=method)
    assert list(ci.index) == ref[key]["param"]
    np.testing.assert_allclose(ci["lower"], _numbers(ref[key]["lower"]), rtol=CI_RTOL)
    np.testing.assert_allclose(ci["upper"], _numbers(ref[key]["upper"]), rtol=CI_RTOL)
