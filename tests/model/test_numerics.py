"""Numerical robustness of the exact engine (issue 10, items 2 and 3).

The reference is the profiled criterion of ``../shared/NOTES.md`` evaluated
in 50-digit decimal arithmetic from the raw data, so cancellation cannot
touch it, and minimised over ``log theta``.
"""
from __future__ import annotations

import decimal
import warnings
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import optimize

import simlab
from simlab.model import ConvergenceWarning
from simlab.model.intercept_profile import profile_bounds
from simlab.model.intercept import GroupSums, fit_theta

FORMULA = "y ~ x + (1 | group)"


def quantized(data: pd.DataFrame, bits: int = 20) -> pd.DataFrame:
    """``y`` and ``x`` rounded to multiples of ``2**-bits``, so shifts below ``2**(52 - 30)`` are exact."""
    data = data.copy()
    for name in ("x", "y"):
        data[name] = np.round(data[name] * 2.0 ** bits) / 2.0 ** bits
    return data


def _solve(a: list[list[Decimal]], b: list[Decimal]) -> tuple[list[Decimal], Decimal]:
    """Gaussian elimination in decimals: ``(a^-1 b, det a)``."""
    p = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    det = Decimal(1)
    for k in range(p):
        det *= m[k][k]
        for i in range(k + 1, p):
            f = m[i][k] / m[k][k]
            m[i] = [m[i][j] - f * m[k][j] for j in range(p + 1)]
    x = [Decimal(0)] * p
    for i in reversed(range(p)):
        x[i] = (m[i][p] - sum(m[i][j] * x[j] for j in range(i + 1, p))) / m[i][i]
    return x, det


def decimal_criterion(y, X, groups, theta: float, reml: bool = True) -> float:
    """The profiled REML criterion (or ML deviance) at ``theta`` in 50-digit decimals."""
    with decimal.localcontext() as ctx:
        ctx.prec = 50
        n, p = X.shape
        yd = [Decimal(float(v)) for v in y]
        Xd = [[Decimal(float(v)) for v in row] for row in X]
        s = Decimal(float(theta)) ** 2
        xtx = [[sum(Xd[r][i] * Xd[r][j] for r in range(n)) for j in range(p)] for i in range(p)]
        xty = [sum(Xd[r][i] * yd[r] for r in range(n)) for i in range(p)]
        yty = sum(v * v for v in yd)
        logdet_v = Decimal(0)
        for g in np.unique(groups):
            rows = np.flatnonzero(groups == g)
            w = s / (1 + len(rows) * s)
            sx = [sum(Xd[r][i] for r in rows) for i in range(p)]
            sy = sum(yd[r] for r in rows)
            xtx = [[xtx[i][j] - w * sx[i] * sx[j] for j in range(p)] for i in range(p)]
            xty = [xty[i] - w * sx[i] * sy for i in range(p)]
            yty -= w * sy * sy
            logdet_v += (1 + len(rows) * s).ln()
        beta, det_a = _solve(xtx, xty)
        r2 = yty - sum(c * b for c, b in zip(xty, beta))
        two_pi = 2 * Decimal("3.14159265358979323846264338327950288419716939937510")
        dof = n - p if reml else n
        value = logdet_v + dof * (1 + (two_pi * r2 / dof).ln()) + (det_a.ln() if reml else 0)
        return float(value)


def decimal_optimum(y, X, groups, lo: float, hi: float, reml: bool = True) -> tuple[float, float]:
    """``(theta, criterion)`` minimising :func:`decimal_criterion` over ``[lo, hi]``."""
    found = optimize.minimize_scalar(
        lambda t: decimal_criterion(y, X, groups, np.exp(t), reml),
        bounds=(np.log(lo), np.log(hi)), method="bounded", options={"xatol": 1e-9})
    return float(np.exp(found.x)), float(found.fun)


def arrays(data: pd.DataFrame):
    groups = pd.factorize(data["group"])[0]
    X = np.column_stack([np.ones(len(data)), data["x"].to_numpy(float)])
    return data["y"].to_numpy(float), X, groups


def fit_arrays(y, X, groups) -> "tuple":
    return fit_theta(GroupSums.from_arrays(y, X, groups, groups.max() + 1))


@pytest.fixture(scope="module")
def base():
    return quantized(simlab.simulate(60, 4, 0.5, 1.0, seed=3))


# ----- item 2: shifts ------------------------------------------------------
@pytest.mark.parametrize("offset", [1e5, 1e6, 1e7, 3e7, 1e8])
def test_offset_in_y_leaves_the_fit_unchanged(base, offset):
    ref = simlab.lmer(FORMULA, base)
    shifted = base.assign(y=base["y"] + offset)
    fit = simlab.lmer(FORMULA, shifted)
    assert fit.converged
    assert fit.theta[0] == pytest.approx(ref.theta[0], rel=1e-9)
    assert fit.reml_criterion == pytest.approx(ref.reml_criterion, abs=1e-8)
    assert fit.fixef["estimate"]["x"] == pytest.approx(ref.fixef["estimate"]["x"], rel=1e-9)
    assert fit.fixef["estimate"]["(Intercept)"] == pytest.approx(
        ref.fixef["estimate"]["(Intercept)"] + offset, rel=1e-12)
    np.testing.assert_allclose(fit.fixef["se"], ref.fixef["se"], rtol=1e-8)


@pytest.mark.parametrize("offset", [1e6, 1e7, 1e9])
def test_offset_in_x_leaves_the_engine_unchanged(base, offset):
    y, X, groups = arrays(base)
    ref = fit_arrays(y, X, groups)
    X_shifted = X + np.array([0.0, offset])
    fit = fit_arrays(y, X_shifted, groups)
    assert fit.converged[0]
    assert fit.theta[0] == pytest.approx(ref.theta[0], rel=1e-9)
    assert fit.value[0] == pytest.approx(ref.value[0], abs=1e-8)
    assert fit.beta[0, 1] == pytest.approx(ref.beta[0, 1], rel=1e-9)
    assert fit.beta[0, 0] == pytest.approx(ref.beta[0, 0] - offset * ref.beta[0, 1], rel=1e-9)


def test_offset_in_x_through_lmer(base):
    ref = simlab.lmer(FORMULA, base)
    fit = simlab.lmer(FORMULA, base.assign(x=base["x"] + 1e6))
    assert fit.theta[0] == pytest.approx(ref.theta[0], rel=1e-9)
    assert fit.reml_criterion == pytest.approx(ref.reml_criterion, abs=1e-8)


def test_simulated_intercept_does_not_bias_tau():
    low = simlab.lmer(FORMULA, simlab.simulate(60, 4, 0.5, 1.0, seed=11, intercept=2.0))
    high = simlab.lmer(FORMULA, simlab.simulate(60, 4, 0.5, 1.0, seed=11, intercept=1e6))
    assert high.tau == pytest.approx(low.tau, rel=1e-6)


@pytest.mark.parametrize("case", ["y+1e6", "x+1e6"])
def test_criterion_at_least_as_low_as_the_exact_optimum(base, case):
    data = base.assign(y=base["y"] + 1e6) if case == "y+1e6" else base.assign(x=base["x"] + 1e6)
    fit = simlab.lmer(FORMULA, data)
    y, X, groups = arrays(data)
    _, best = decimal_optimum(y, X, groups, fit.theta[0] / 2, fit.theta[0] * 2)
    assert fit.reml_criterion <= best + 1e-8
    assert decimal_criterion(y, X, groups, fit.theta[0]) == pytest.approx(fit.reml_criterion, abs=1e-8)


# ----- item 3: large and tiny theta -----------------------------------------
@pytest.mark.parametrize("sigma, seed", [(1 / 8000, 5), (1e-4, 1), (1e-6, 1)])
def test_large_theta_is_found_beyond_any_cap(sigma, seed):
    data = simlab.simulate(60, 4, 1.0, sigma, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = simlab.lmer(FORMULA, data)
    assert fit.converged and not fit.messages
    y, X, groups = arrays(data)
    theta, best = decimal_optimum(y, X, groups, fit.theta[0] / 3, fit.theta[0] * 3)
    assert fit.theta[0] == pytest.approx(theta, rel=1e-5)
    assert fit.reml_criterion <= best + 1e-7
    assert fit.tau == pytest.approx(1.0, rel=0.3) and fit.sigma == pytest.approx(sigma, rel=0.3)


@pytest.mark.parametrize("tau", [1e-2, 1e-3])
def test_small_theta_is_found(tau):
    data = simlab.simulate(200, 6, tau, 1.0, seed=6)
    fit = simlab.lmer(FORMULA, data)
    assert fit.converged and 0 < fit.theta[0] < 0.1
    assert_exact_optimum(fit, data, rel=1e-5, slack=1e-8)


def assert_exact_optimum(fit, data: pd.DataFrame, *, rel: float, slack: float) -> None:
    """The fit's theta is the decimal reference's optimum near it, and its criterion is at
    least as low (up to ``slack``)."""
    y, X, groups = arrays(data)
    theta, best = decimal_optimum(y, X, groups, fit.theta[0] / 3, fit.theta[0] * 3)
    assert fit.theta[0] == pytest.approx(theta, rel=rel)
    assert fit.reml_criterion <= best + slack


def test_near_exact_data_is_fitted():
    """y = 1 + 2x + a tiny group shift + N(0, 1e-9): lme4 fits it (theta about 81)."""
    rng = np.random.default_rng(12)
    groups = np.repeat(np.arange(30), 5)
    x = rng.normal(size=groups.size)
    y = 1 + 2 * x + 8e-8 * rng.normal(size=30)[groups] + 1e-9 * rng.normal(size=groups.size)
    data = pd.DataFrame({"group": groups, "x": x, "y": y})
    fit = simlab.lmer(FORMULA, data)
    assert fit.converged
    assert_exact_optimum(fit, data, rel=1e-4, slack=1e-6)


def test_exact_data_is_refused_with_a_reason():
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(20), 4)
    x = rng.normal(size=groups.size)
    data = pd.DataFrame({"group": groups, "x": x, "y": 1 + 2 * x})
    with pytest.raises(ValueError, match="exact"):
        simlab.lmer(FORMULA, data)


def test_exact_within_groups_warns_and_reports_not_converged():
    """Residual variance 0: y is a group constant plus the fixed effects exactly."""
    rng = np.random.default_rng(2)
    groups = np.repeat(np.arange(20), 4)
    x = rng.normal(size=groups.size)
    data = pd.DataFrame({"group": groups, "x": x, "y": 1 + 2 * x + rng.normal(size=20)[groups]})
    with pytest.warns(ConvergenceWarning, match="residual variance"):
        fit = simlab.lmer(FORMULA, data)
    assert not fit.converged and fit.messages


def test_convergence_warning_is_exported():
    assert issubclass(simlab.model.ConvergenceWarning, UserWarning)
    assert "ConvergenceWarning" in simlab.model.__all__


def test_predictors_on_very_different_scales_warn_like_lme4(base):
    data = base.assign(x=base["x"] * 1e5)
    with pytest.warns(UserWarning, match="very different scales"):
        simlab.lmer(FORMULA, data)


# ----- the property test -----------------------------------------------------
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(y_shift=st.integers(-2 ** 20, 2 ** 20), y_log_scale=st.floats(-12, 12),
       x_shift=st.integers(-2 ** 20, 2 ** 20), x_log_scale=st.floats(-12, 12),
       shift_exponent=st.integers(-10, 10))
def test_fits_are_invariant_to_shifts_and_rescalings(base, y_shift, y_log_scale, x_shift,
                                                      x_log_scale, shift_exponent):
    """y -> a y + c, x -> b x + d: theta, REML (up to the Jacobian), beta and CIs map exactly."""
    y, X, groups = arrays(base)
    c, d = y_shift * 2.0 ** shift_exponent, x_shift * 2.0 ** shift_exponent
    a, b = 10.0 ** y_log_scale, 10.0 ** x_log_scale
    ref_sums = GroupSums.from_arrays(y, X, groups, 60)
    new_sums = GroupSums.from_arrays(a * (y + c), np.column_stack([X[:, 0], b * (X[:, 1] + d)]),
                                     groups, 60)
    ref, new = fit_theta(ref_sums), fit_theta(new_sums)
    n, p = X.shape
    assert new.converged[0]
    assert new.theta[0] == pytest.approx(ref.theta[0], rel=1e-6)
    jacobian = 2 * (n - p) * np.log(a) + 2 * np.log(b)
    assert new.value[0] == pytest.approx(ref.value[0] + jacobian, abs=1e-6 * abs(ref.value[0]))
    slope = ref.beta[0, 1]
    np.testing.assert_allclose(new.beta[0, 1], a * slope / b, rtol=1e-6)
    np.testing.assert_allclose(new.beta[0, 0], a * (ref.beta[0, 0] + c - slope * d),
                               rtol=1e-6, atol=1e-6 * a * (abs(ref.beta[0, 0]) + abs(c) + abs(slope * d)))
    ref_ci, new_ci = profile_bounds(ref_sums), profile_bounds(new_sums)
    for bounds_ref, bounds_new in ((ref_ci.lower, new_ci.lower), (ref_ci.upper, new_ci.upper)):
        np.testing.assert_allclose(bounds_new[0, :2], a * bounds_ref[0, :2], rtol=1e-6)
        np.testing.assert_allclose(bounds_new[0, 3], a * bounds_ref[0, 3] / b, rtol=1e-6)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(y_shift=st.integers(-2 ** 20, 2 ** 20), y_log_scale=st.floats(-8, 8),
       x_shift=st.integers(-2 ** 10, 2 ** 10), x_log_scale=st.floats(-2.5, 2.5))
def test_lmer_tables_are_invariant(base, y_shift, y_log_scale, x_shift, x_log_scale):
    """Through lmer: fixef, varcomp and profile CIs of the slope and the sds map exactly.

    x stays within lme4's scale-warning range and below the shifts that
    design.py's absolute rank check still refuses (issue 10).
    """
    a, b = 10.0 ** y_log_scale, 10.0 ** x_log_scale
    ref = simlab.lmer(FORMULA, base)
    new = simlab.lmer(FORMULA, base.assign(y=a * (base["y"] + y_shift), x=b * (base["x"] + x_shift)))
    assert new.theta[0] == pytest.approx(ref.theta[0], rel=1e-6)
    n, p = 240, 2
    assert new.reml_criterion == pytest.approx(
        ref.reml_criterion + 2 * (n - p) * np.log(a) + 2 * np.log(b), abs=1e-6 * abs(ref.reml_criterion))
    assert new.fixef["estimate"]["x"] == pytest.approx(a / b * ref.fixef["estimate"]["x"], rel=1e-6)
    assert new.fixef["se"]["x"] == pytest.approx(a / b * ref.fixef["se"]["x"], rel=1e-6)
    np.testing.assert_allclose(new.varcomp["sd"], a * ref.varcomp["sd"], rtol=1e-6)
    ci_ref, ci_new = ref.confint(), new.confint()
    scale = np.array([a, a, np.nan, a / b])
    for row in (0, 1, 3):
        np.testing.assert_allclose(ci_new.iloc[row], scale[row] * ci_ref.iloc[row], rtol=1e-6)


@pytest.mark.parametrize("offset", [1e6, 1e7])
def test_statsmodels_engine_agrees_on_offset_data(base, offset):
    """The cross-check engine is right on these data (issue 10); so is the exact engine."""
    shifted = base.assign(y=base["y"] + offset)
    exact = simlab.lmer(FORMULA, shifted)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other = simlab.lmer(FORMULA, shifted, engine="statsmodels")
    assert exact.theta[0] == pytest.approx(other.theta[0], rel=1e-4)
    # statsmodels works on the raw data, so its criterion carries ~1e-8 of rounding
    assert exact.reml_criterion == pytest.approx(other.reml_criterion, abs=1e-6)
    y, X, groups = arrays(shifted)
    assert exact.reml_criterion == pytest.approx(decimal_criterion(y, X, groups, exact.theta[0]), abs=1e-9)
