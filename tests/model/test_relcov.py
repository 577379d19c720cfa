"""The exact engine for q random effects per group (relcov) against lme4, dense algebra and intercept.py.

lme4's optimiser stops short of the optimum by up to ~1e-8 in the REML
criterion (~2e-7 in the ML deviance): the tests show that the criterion at
lme4's own theta reproduces lme4's value to 1e-9, and that simlab's optimum
is lower, before comparing estimates.
"""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from simlab.model.intercept import GroupSums, fit_theta
from simlab.model.relcov import (CrossProducts, ThetaLayout, canonical, criterion,
                                 criterion_and_gradient, fit, local_fit)

REFERENCE = Path(__file__).parents[1] / "reference"

#: lme4 slope references: (data, response, group, slope variable, layout).
SLOPE_MODELS = {
    "sleepstudy_slopes": ("sleepstudy", "Reaction", "Subject", "Days", ThetaLayout.full(2)),
    "sleepstudy_uncorrelated": ("sleepstudy", "Reaction", "Subject", "Days", ThetaLayout.diagonal(2)),
    "gpa_slopes": ("gpa", "gpa", "student", "occasion", ThetaLayout.full(2)),
    "sim_slopes1234": ("sim_slopes1234", "y", "groups", "x", ThetaLayout.diagonal(2)),
}

#: lme4 random-intercept references (those of test_lme4_reference.py):
#: (data, response, group, X columns besides the intercept).
INTERCEPT_MODELS = {
    "gpa_occasion": ("gpa", "gpa", "student", ["occasion"]),
    "gpa_sex": ("gpa", "gpa", "student", ["occasion", "female"]),
    "gpa_highgpa": ("gpa", "gpa", "student", ["occasion", "highgpa"]),
    "gpa_sex_highgpa": ("gpa", "gpa", "student", ["occasion", "female", "highgpa"]),
    "sleepstudy": ("sleepstudy", "Reaction", "Subject", ["Days"]),
    "sim1234": ("sim1234", "y", "groups", ["x"]),
}


def _reference(name: str) -> dict:
    with open(REFERENCE / "lme4" / f"{name}.json") as handle:
        return json.load(handle)


def _data(kind: str, request) -> pd.DataFrame:
    if kind in ("sim1234", "sim_slopes1234"):
        return pd.read_csv(REFERENCE / f"{kind}.csv")
    data = request.getfixturevalue(f"{kind}_data").copy()
    if kind == "gpa":
        data["female"] = (data["sex"] == "female").astype(float)
    return data


def _codes(data: pd.DataFrame, group: str, levels: list[str]) -> np.ndarray:
    """Group codes in the reference's level order."""
    codes = pd.Index(levels).get_indexer(data[group].astype(str))
    assert (codes >= 0).all()
    return codes


def slope_reference(name: str, request) -> SimpleNamespace:
    """A random-slope lme4 reference with its data's arrays (also test_relcov_profile's).

    ``y``, ``X = [1, slope]`` (fixed and random columns alike), group
    ``codes`` in the reference's level order, the ``cp`` cross products and
    the ``layout``, ``slope`` and ``group`` names.
    """
    kind, response, group, slope, layout = SLOPE_MODELS[name]
    ref = _reference(name)
    data = _data(kind, request)
    x = data[slope].to_numpy(float)
    X = np.column_stack([np.ones_like(x), x])
    codes = _codes(data, group, ref["coef"]["level"])
    y = data[response].to_numpy(float)
    return SimpleNamespace(name=name, ref=ref, layout=layout, slope=slope, group=group, y=y, X=X,
                           codes=codes, cp=CrossProducts.from_arrays(y, X, X, codes))


@pytest.fixture(scope="session", params=sorted(SLOPE_MODELS))
def slope_case(request):
    """A random-slope reference with simlab's REML and ML fits."""
    case = slope_reference(request.param, request)
    case.reml = fit(case.cp, case.layout, reml=True)
    case.ml = fit(case.cp, case.layout, reml=False)
    return case


def _ml_theta(ref: dict, layout: ThetaLayout) -> np.ndarray:
    """lme4's ML theta, recovered from its ML VarCorr."""
    v = np.array(ref["vc_ml"]["vcov"])
    if layout.blocks == (2,):
        cov = np.array([[v[0], v[2]], [v[2], v[1]]]) / v[-1]
        return layout.theta(np.linalg.cholesky(cov))
    return np.sqrt(v[:2] / v[-1])


# --- against lme4 -----------------------------------------------------------------------------

def test_criterion_at_lme4_theta_is_lme4s(slope_case):
    """Same function as lme4: its theta gives its REML criterion and ML deviance to 1e-9."""
    c, ref = slope_case, slope_case.ref
    reml = criterion(c.cp, c.layout, np.array([ref["theta"]]), reml=True)[0]
    ml = criterion(c.cp, c.layout, _ml_theta(ref, c.layout)[None], reml=False)[0]
    assert reml == pytest.approx(ref["reml_criterion"], abs=1e-9)
    assert ml == pytest.approx(ref["deviance_ml"], abs=1e-9)


def test_theta_and_reml_criterion(slope_case):
    fitted, ref = slope_case.reml, slope_case.ref
    np.testing.assert_allclose(fitted.theta[0], ref["theta"], rtol=1e-4)
    # At least as low as lme4's (it stops short by up to 1e-8), never higher.
    assert ref["reml_criterion"] - 1e-7 < fitted.value[0] <= ref["reml_criterion"] + 1e-10
    assert fitted.loglik[0] == pytest.approx(ref["loglik_reml"], abs=1e-7)
    assert fitted.converged[0] and not fitted.singular[0] and not ref["singular"]


def test_fixed_effects(slope_case):
    fitted, fe = slope_case.reml, slope_case.ref["fixef"]
    se = np.array(fe["se"])
    np.testing.assert_allclose((fitted.beta[0] - fe["estimate"]) / se, 0.0, atol=1e-4)
    np.testing.assert_allclose(np.sqrt(np.diag(fitted.vcov[0])), se, rtol=1e-4)


def _check_sds(fitted, vc: dict, rtol: float) -> None:
    """The random effects' sds and sigma against lme4's VarCorr rows (the full table,
    correlations and lme4's row order, is LmerResult.varcorr's test in test_lme4_slopes)."""
    sds = [sd for grp, b, sd in zip(vc["grp"], vc["var2"], vc["sdcor"]) if b == "NA" and grp != "Residual"]
    np.testing.assert_allclose(fitted.sd[0], sds, rtol=rtol)
    assert fitted.sigma[0] == pytest.approx(vc["sdcor"][-1], rel=rtol)


def test_sds(slope_case):
    _check_sds(slope_case.reml, slope_case.ref["vc"], 1e-4)


def test_ranef_condvar_and_coef(slope_case):
    c, re = slope_case, slope_case.ref["ranef"]
    fitted = c.reml
    n_groups = c.cp.n_groups
    value = np.array(re["value"]).reshape(c.layout.q, n_groups).T          # (G, q): terms in blocks
    se = np.array(re["se"]).reshape(c.layout.q, n_groups).T
    np.testing.assert_allclose((fitted.modes[0] - value) / se, 0.0, atol=1e-4)
    np.testing.assert_allclose(fitted.mode_sd[0], se, rtol=1e-4)
    coef = np.array(c.ref["coef"]["value"])
    np.testing.assert_allclose((fitted.beta[0] + fitted.modes[0] - coef) / se, 0.0, atol=1e-4)


def test_predictions(slope_case):
    """With and without random effects, to 1e-4 of the residual sd (lme4's theta stops short)."""
    c, fitted = slope_case, slope_case.reml
    fixed = c.X @ fitted.beta[0]
    tol = 1e-4 * c.ref["vc"]["sdcor"][-1]
    np.testing.assert_allclose(fixed, c.ref["predict_fixed"], rtol=0, atol=tol)
    with_re = fixed + (c.X * fitted.modes[0][c.codes]).sum(axis=1)
    np.testing.assert_allclose(with_re, c.ref["predict_re"], rtol=0, atol=tol)


def test_ml_fit(slope_case):
    """lme4's ML fits stop 5e-9 to 2e-7 above the optimum, so sds agree to 1e-4, not better."""
    fitted, ref = slope_case.ml, slope_case.ref
    assert ref["deviance_ml"] - 1e-6 < fitted.value[0] <= ref["deviance_ml"] + 1e-10
    assert fitted.loglik[0] == pytest.approx(ref["loglik_ml"], abs=1e-6)
    fe = ref["fixef_ml"]
    se = np.array(fe["se"])
    np.testing.assert_allclose((fitted.beta[0] - fe["estimate"]) / se, 0.0, atol=1e-4)
    np.testing.assert_allclose(np.sqrt(np.diag(fitted.vcov[0])), se, rtol=1e-4)
    _check_sds(fitted, ref["vc_ml"], 1e-4)
    assert fitted.converged[0]


def test_polished_optimum(slope_case):
    """The gradient vanishes at the optimum to rounding, not to an optimiser's tolerance."""
    c = slope_case
    for fitted in (c.reml, c.ml):
        _, grad = criterion_and_gradient(c.cp, c.layout, fitted.theta, reml=fitted.reml)
        assert np.abs(grad).max() < 1e-9


# --- the criterion itself ---------------------------------------------------------------------

def _small_data(seed: int, q: int):
    """Unbalanced data with a one-row group (fewer rows than random effects) and x on a large scale."""
    rng = np.random.default_rng(seed)
    sizes = np.array([1, 2, 3, 5, 4, 6, 2])
    groups = np.repeat(np.arange(sizes.size), sizes)
    x = 50 + 20 * rng.normal(size=groups.size)
    Z = np.column_stack([x ** k for k in range(q)])
    X = np.column_stack([np.ones_like(x), x, rng.normal(size=groups.size)])
    u = 2 * rng.normal(size=sizes.size)
    y = X @ [1.0, 0.3, -0.5] + u[groups] + rng.normal(size=groups.size)
    return y, X, Z, groups


def _dense(y, X, Z, groups, lam, reml):
    """-2 log-likelihood (ML) or REML criterion by dense algebra on V = I + Z Lambda Lambda' Z'."""
    n, p = X.shape
    zl = Z @ lam
    V = np.eye(n) + (groups[:, None] == groups[None, :]) * (zl @ zl.T)
    Vi = np.linalg.inv(V)
    A = X.T @ Vi @ X
    beta = np.linalg.solve(A, X.T @ Vi @ y)
    r2 = (y - X @ beta) @ Vi @ (y - X @ beta)
    dof = n - p if reml else n
    extra = np.linalg.slogdet(A)[1] if reml else 0.0
    return np.linalg.slogdet(V)[1] + extra + dof * (1 + np.log(2 * np.pi * r2 / dof))


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("layout", [ThetaLayout.full(1), ThetaLayout.full(2), ThetaLayout.diagonal(2),
                                    ThetaLayout.full(3), ThetaLayout((1, 2))], ids=str)
def test_criterion_equals_dense_likelihood(layout, reml):
    y, X, Z, groups = _small_data(3, layout.q)
    cp = CrossProducts.from_arrays(y, X, Z, groups)
    rng = np.random.default_rng(0)
    for _ in range(3):
        theta = np.abs(rng.normal(size=layout.size)) / np.abs(Z).max(axis=0)[layout.index[0]]
        value = criterion(cp, layout, theta[None], reml=reml)[0]
        assert value == pytest.approx(_dense(y, X, Z, groups, layout.lam(theta), reml), rel=1e-10)


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("layout", [ThetaLayout.full(2), ThetaLayout.diagonal(2), ThetaLayout.full(3)],
                         ids=str)
def test_gradient_is_the_derivative(layout, reml):
    y, X, Z, groups = _small_data(4, layout.q)
    cp = CrossProducts.from_arrays(y, X, Z, groups)
    theta = (0.3 + np.arange(layout.size) * 0.2) / np.abs(Z).max(axis=0)[layout.index[0]]
    _, grad = criterion_and_gradient(cp, layout, theta[None], reml=reml)
    # Central differences err by ~step^2 (1e-8 relative) from truncation and by ~1e-16 / step
    # (criterion ~ 100, theta ~ 1e-4 here) from rounding: 1e-6 made that 1e-5 for small slopes.
    step = 1e-4 * np.abs(theta)
    points = theta + np.diag(step)[:, None] * np.array([1.0, -1.0])[None, :, None]   # (k, 2, k)
    values = criterion(cp, layout, points.reshape(1, -1, layout.size), reml=reml).reshape(-1, 2)
    np.testing.assert_allclose(grad[0], (values[:, 0] - values[:, 1]) / (2 * step), rtol=1e-5)


def test_cross_products_are_the_notes_sums():
    """``ztz``, ``ztx``, ``zty``, ``xtx``, ``xty``, ``yty`` are the plain sums of the working data."""
    y, X, Z, groups = _small_data(5, 2)
    cp = CrossProducts.from_arrays(y, X, Z, groups)
    X_w = X @ cp.x_map[0]
    Z_w = Z / cp.z_scale
    y_w = (y - X @ cp.beta_offset[0]) / cp.y_scale[0]
    for g in range(cp.n_groups):
        rows = groups == g
        np.testing.assert_allclose(cp.ztz[0, g], Z_w[rows].T @ Z_w[rows], atol=1e-12)
        np.testing.assert_allclose(cp.ztx[0, g], Z_w[rows].T @ X_w[rows], atol=1e-12)
        np.testing.assert_allclose(cp.zty[0, g], Z_w[rows].T @ y_w[rows], atol=1e-12)
    np.testing.assert_allclose(cp.xtx[0], X_w.T @ X_w, atol=1e-11)
    np.testing.assert_allclose(cp.xty[0], X_w.T @ y_w, atol=1e-11)
    assert cp.yty[0] == pytest.approx(y_w @ y_w, rel=1e-13)


def test_layout_follows_lme4():
    rows, cols = ThetaLayout.full(3).index
    assert list(zip(rows, cols)) == [(0, 0), (1, 0), (2, 0), (1, 1), (2, 1), (2, 2)]
    assert list(zip(*ThetaLayout((1, 2)).index)) == [(0, 0), (1, 1), (2, 1), (2, 2)]
    np.testing.assert_array_equal(ThetaLayout.full(2).lower, [0.0, -np.inf, 0.0])
    np.testing.assert_array_equal(ThetaLayout.full(2).start, [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(ThetaLayout.diagonal(2).lam([2.0, 3.0]), np.diag([2.0, 3.0]))
    with pytest.raises(ValueError):
        ThetaLayout((0,))


# --- invariance, replicates, restarts ---------------------------------------------------------

@pytest.fixture(scope="session")
def sleep_arrays(sleepstudy_data):
    codes = sleepstudy_data["Subject"].cat.codes.to_numpy()
    return (sleepstudy_data["Reaction"].to_numpy(float), sleepstudy_data["Days"].to_numpy(float), codes)


def _sleep_fit(y, x, codes, layout=ThetaLayout.full(2)):
    X = np.column_stack([np.ones_like(x), x])
    return fit(CrossProducts.from_arrays(y, X, X, codes), layout)


def test_shift_and_scale_change_nothing(sleep_arrays):
    """y + 1e7 or a rescaled y keep theta (1e7 has an ulp of 2e-9: the data's own rounding);
    x * 1e-5 multiplies the slope row of Lambda by 1e5 and the REML criterion by its Jacobian."""
    y, x, codes = sleep_arrays
    base = _sleep_fit(y, x, codes)
    shifted = _sleep_fit(y + 1e7, x, codes)
    np.testing.assert_allclose(shifted.theta, base.theta, rtol=1e-9)
    assert shifted.value[0] == pytest.approx(base.value[0], abs=1e-8)
    np.testing.assert_allclose(shifted.beta[0] - [1e7, 0.0], base.beta[0], rtol=1e-9, atol=1e-6)
    scaled = _sleep_fit(1e-5 * y, x, codes)
    np.testing.assert_allclose(scaled.theta, base.theta, rtol=1e-12)
    np.testing.assert_allclose(scaled.sigma, 1e-5 * base.sigma, rtol=1e-12)
    tiny_x = _sleep_fit(y, 1e-5 * x, codes)
    np.testing.assert_allclose(tiny_x.theta, base.theta * [1.0, 1e5, 1e5], rtol=1e-12)
    assert tiny_x.value[0] == pytest.approx(base.value[0] + 2 * np.log(1e-5), abs=1e-9)
    np.testing.assert_allclose(tiny_x.corr, base.corr, rtol=1e-12)


def test_row_order_changes_nothing(sleep_arrays):
    y, x, codes = sleep_arrays
    order = np.random.default_rng(1).permutation(y.size)
    base, shuffled = _sleep_fit(y, x, codes), _sleep_fit(y[order], x[order], codes[order])
    np.testing.assert_allclose(shuffled.theta, base.theta, rtol=1e-10)
    np.testing.assert_allclose(shuffled.modes, base.modes, rtol=1e-8)


def test_replicates_fit_as_single_fits(sleep_arrays):
    """A leading replicate axis: R responses through one set of design sums."""
    y, x, codes = sleep_arrays
    rng = np.random.default_rng(2)
    ys = np.stack([y, y[rng.permutation(y.size)], 3 * y - 0.1 * x ** 2])
    X = np.column_stack([np.ones_like(x), x])
    batch = fit(CrossProducts.from_arrays(ys, X, X, codes), ThetaLayout.full(2))
    for r in range(3):
        single = _sleep_fit(ys[r], x, codes)
        np.testing.assert_allclose(batch.theta[r], single.theta[0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(batch.modes[r], single.modes[0], rtol=1e-10, atol=1e-10)
        assert batch.value[r] == pytest.approx(single.value[0], rel=1e-14)


@pytest.mark.parametrize("layout, reml", [(ThetaLayout.full(2), True), (ThetaLayout.diagonal(2), False)],
                         ids=["full-REML", "diagonal-ML"])
def test_a_batch_fits_as_its_replicates_one_at_a_time(layout, reml):
    """50 simulated replicates (50 groups of 3, about one in ten singular) fitted at once
    give each replicate's fit alone: the same searches, to rounding."""
    rng = np.random.default_rng(11)
    n_reps, groups = 50, np.repeat(np.arange(50), 3)
    x = rng.normal(size=groups.size)
    X = np.column_stack([np.ones_like(x), x])
    u = rng.normal(size=(n_reps, 50, 2)) * [0.5, 0.25]
    y = 1 + 0.5 * x + u[:, groups, 0] + u[:, groups, 1] * x + 0.5 * rng.normal(size=(n_reps, x.size))
    batch = fit(CrossProducts.from_arrays(y, X, X, groups), layout, reml)
    assert batch.converged.all() and 0 < batch.singular.sum() < n_reps
    for r in range(n_reps):
        single = fit(CrossProducts.from_arrays(y[r], X, X, groups), layout, reml)
        for name in ("theta", "theta_work", "beta", "sigma", "vcov", "re_cov", "modes", "mode_cov",
                     "value"):
            expected = getattr(single, name)[0]
            np.testing.assert_allclose(getattr(batch, name)[r], expected, rtol=1e-10,
                                       atol=1e-10 * np.abs(expected).max(), err_msg=name)
        for name in ("converged", "evaluations", "iterations"):
            assert getattr(batch, name)[r] == getattr(single, name)[0], name
        assert batch.messages[r] == single.messages[0]


def test_a_stack_of_designs_fits_as_its_items():
    """Replicates with their own x (a sweep draws x per replicate), some with unequal group
    sizes and some with two responses on one design, stacked and fitted at once, give each
    item's fit alone; the criterion and sub-batches of the stack too."""
    rng = np.random.default_rng(12)
    layout, items = ThetaLayout.full(2), []
    for number in range(24):
        sizes = rng.integers(2, 6, size=15) if number % 3 == 0 else np.full(15, 3)
        groups = np.repeat(np.arange(15), sizes)
        x = rng.normal(size=groups.size) * (1 + number % 4)
        X = np.column_stack([np.ones_like(x), x])
        u = rng.normal(size=(15, 2)) * [0.5, 0.25]
        y = 1 + 0.5 * x + u[groups, 0] + u[groups, 1] * x + 0.5 * rng.normal(size=(1 + number % 2, x.size))
        items.append(CrossProducts.from_arrays(y, X, X, groups))
    stacked = CrossProducts.stack(items)
    assert stacked.stacked and stacked.n_reps == sum(item.n_reps for item in items)
    batch = fit(stacked, layout)
    assert batch.converged.all() and batch.singular.any()
    start = 0
    for item in items:
        single = fit(item, layout)
        rows = slice(start, start + item.n_reps)
        for name in ("theta", "beta", "sigma", "vcov", "re_cov", "modes", "mode_cov", "value"):
            expected = getattr(single, name)
            np.testing.assert_allclose(getattr(batch, name)[rows], expected, rtol=1e-10,
                                       atol=1e-10 * np.abs(expected).max(), err_msg=name)
        np.testing.assert_array_equal(batch.iterations[rows], single.iterations)
        start += item.n_reps
    np.testing.assert_allclose(criterion(stacked, layout, batch.theta), batch.value, rtol=1e-13)
    part = stacked.replicates(slice(3, 7))
    np.testing.assert_allclose(fit(part, layout).theta, batch.theta[3:7], rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="differ"):
        CrossProducts.stack([items[0], CrossProducts.from_arrays(*_small_data(1, 2))])


def test_replicates_are_the_cross_products_of_those_replicates(sleep_arrays):
    """``replicates`` (also with repeated indices, as a profile asks) gives the sums of those
    responses; the coefficients of a criterion already evaluated carry over correctly."""
    y, x, codes = sleep_arrays
    X = np.column_stack([np.ones_like(x), x])
    ys = np.stack([y, y[::-1], 2 * y + x])
    layout = ThetaLayout.full(2)
    cp = CrossProducts.from_arrays(ys, X, X, codes)
    theta = np.array([[0.9, 0.1, 0.2], [1.1, -0.05, 0.25], [0.5, 0.0, 0.1], [1.0, 0.02, 0.2]])
    criterion(cp, layout, theta[:3], reml=False)               # the kernel is built
    index = np.array([2, 0, 2, 1])
    expected = [criterion(CrossProducts.from_arrays(ys[r], X, X, codes), layout, theta[[i]],
                          reml=False)[0] for i, r in enumerate(index)]
    for reml in (False, True):
        part = cp.replicates(index)
        got = criterion(part, layout, theta, reml=reml)
        np.testing.assert_allclose(got, criterion(CrossProducts.from_arrays(ys[index], X, X, codes),
                                                  layout, theta, reml=reml), rtol=1e-12)
        if not reml:
            np.testing.assert_allclose(got, expected, rtol=1e-12)


#: Five groups of four with x in the hundreds: searches from lme4's start (Lambda = I in
#: the data's units) end at a genuine local optimum on a face of the bounds (the slope's
#: diagonal element 0, correlation -1) 0.43 above the global minimum inside - the
#: engine's Newton search and scipy's L-BFGS-B alike.
RESTART_X = [-3.9, -21.2, 78.5, -53.7, 20.9, 12.3, -40.4, 34.7, 4.5, 3.4,
             -11.5, 19.3, 54.5, 5.8, 50.4, 38.7, 11.4, -57.9, -74.6, -105.4]
RESTART_Y = [-9.7, -16.8, 32.0, -32.0, 9.0, 4.0, -22.9, 16.5, 3.2, 2.8,
             -4.0, 10.8, 24.3, 1.8, 22.3, 16.9, 5.8, -28.5, -36.4, -53.3]

#: Four groups of four (numpy default_rng(23), rounded): a search that clips theta at
#: lme4's bounds (scipy's L-BFGS-B) from lme4's start ends at a corner, both diagonal
#: elements 0, 2.3 above the global minimum, where nothing holds a search that reflects
#: the columns of Lambda instead (relcov.canonical).
CORNER_X = [-30.0, -57.5, -283.6, -8.6, -264.4, 39.3, 8.9, 31.3,
            31.0, -21.9, -105.2, -82.4, 99.1, -109.9, -74.5, -124.2]
CORNER_Y = [-14.3, -27.3, -136.7, -3.9, -132.9, 19.8, 6.9, 18.3,
            15.0, -9.9, -52.6, -41.7, 49.2, -55.2, -38.9, -63.3]

#: Eight groups of three (numpy default_rng(99), rounded): the best point with the
#: slope's diagonal element at 0 has slope 0 in that element (the criterion depends on
#: it through its square) but the criterion falls off the face: a saddle, 0.11 above
#: the global minimum, that held the engine's searches before they stepped off saddles.
SADDLE_X = [0.08, -0.46, 0.05, 0.69, -1.76, 1.68, -0.46, -0.6, -1.05, 0.93, 0.67, 1.24,
            0.89, 0.26, 0.33, 0.94, -0.88, -0.05, 0.38, -0.45, 0.72, -0.35, 0.67, 0.14]
SADDLE_Y = [1.07, 1.74, 0.88, 1.08, -0.21, 1.66, -0.08, 0.32, -0.05, 2.14, 2.13, 2.3,
            1.42, 1.46, 0.98, 1.8, 0.04, 0.66, 0.78, 0.58, 1.64, 1.18, 2.61, 1.61]


def _slope_data(x, y, n_groups):
    x, y = np.array(x), np.array(y)
    X = np.column_stack([np.ones_like(x), x])
    return CrossProducts.from_arrays(y, X, X, np.repeat(np.arange(n_groups), x.size // n_groups))


def _bounded_lbfgsb(cp, layout, start):
    """scipy's L-BFGS-B on the REML criterion in lme4's theta, with lme4's bounds."""
    def value_and_gradient(theta):
        value, grad = criterion_and_gradient(cp, layout, theta[None])
        return value[0], grad[0]

    bounds = [(0.0, None) if diagonal else (None, None) for diagonal in layout.on_diagonal]
    return minimize(value_and_gradient, start, jac=True, method="L-BFGS-B", bounds=bounds)


def test_restarts_find_the_global_minimum():
    cp, layout = _slope_data(RESTART_X, RESTART_Y, 5), ThetaLayout.full(2)
    single = local_fit(cp, layout, cp.to_work(layout.start, layout), reml=True)
    assert single.x[2] < 1e-12                                 # on a face of the bounds
    lbfgsb = _bounded_lbfgsb(cp, layout, layout.start)
    assert lbfgsb.x[2] == 0 and lbfgsb.fun == pytest.approx(single.fun, abs=1e-8)
    # A local optimum: the criterion rises off the face before it falls.
    off_face = np.array([single.x] * 3)
    off_face[:, 2] = [1e-3, 1e-2, 0.1]
    assert (criterion(cp, layout, cp.to_data(off_face, layout)[None])[0] > single.fun).all()
    fitted = fit(cp, layout)
    assert fitted.converged[0] and not fitted.singular[0]
    assert fitted.value[0] < single.fun - 0.4
    # A dense grid (working units, 41^3 points around the optimum) finds nothing lower.
    axes = [np.linspace(3, 7, 41), np.linspace(-2, 2, 41), np.linspace(0, 4, 41)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(1, -1, 3)
    values = criterion(cp, layout, cp.to_data(grid, layout), reml=True)
    assert fitted.value[0] <= values.min()


def test_a_clipped_search_stops_at_a_corner_a_reflected_one_does_not():
    cp, layout = _slope_data(CORNER_X, CORNER_Y, 4), ThetaLayout.full(2)
    lbfgsb = _bounded_lbfgsb(cp, layout, layout.start)
    assert lbfgsb.x[2] == 0 and lbfgsb.x[0] < 0.01            # (next to) the corner
    fitted = fit(cp, layout)
    assert fitted.converged[0] and not fitted.singular[0]
    assert fitted.value[0] < lbfgsb.fun - 2.0
    single = local_fit(cp, layout, cp.to_work(layout.start, layout), reml=True)
    assert single.fun == pytest.approx(fitted.value[0], abs=1e-10)
    axes = [np.linspace(0, 4, 41), np.linspace(-2, 2, 41), np.linspace(0, 4, 41)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(1, -1, 3)
    assert fitted.value[0] <= criterion(cp, layout, cp.to_data(grid, layout), reml=True).min()


def test_no_search_stops_at_a_saddle_on_a_face():
    cp, layout = _slope_data(SADDLE_X, SADDLE_Y, 8), ThetaLayout.full(2)
    face = local_fit(cp, layout, cp.to_work(layout.start, layout), pinned=np.array([False, False, True]))
    _, grad = criterion_and_gradient(cp, layout, cp.to_data(face.x[None], layout))
    assert grad[0, 2] == 0.0 and np.abs(grad).max() < 1e-9      # stationary ...
    off_face = np.array([face.x] * 3)
    off_face[:, 2] = [1e-2, 0.1, 0.3]
    assert (criterion(cp, layout, cp.to_data(off_face, layout)[None])[0] < face.fun).all()   # ... a saddle
    assert _bounded_lbfgsb(cp, layout, cp.to_data(face.x, layout)).fun == pytest.approx(face.fun)
    fitted = fit(cp, layout)
    assert fitted.converged[0] and not fitted.singular[0]
    assert fitted.value[0] < face.fun - 0.1
    assert local_fit(cp, layout, face.x).fun == pytest.approx(fitted.value[0], abs=1e-10)


def test_reflected_columns_are_the_same_model():
    layout = ThetaLayout.full(3)
    theta = np.array([[-0.5, 0.2, -0.3, 0.7, -0.1, -0.4]])
    flipped = canonical(layout, theta)
    np.testing.assert_array_equal(flipped, [[0.5, -0.2, 0.3, 0.7, -0.1, 0.4]])
    lam, lam_flipped = layout.lam(theta), layout.lam(flipped)
    np.testing.assert_allclose(lam @ np.swapaxes(lam, -1, -2),
                               lam_flipped @ np.swapaxes(lam_flipped, -1, -2))
    assert (flipped[:, layout.on_diagonal] >= 0).all()


def test_groups_fitted_exactly_by_their_random_effects_do_not_converge():
    """Two rows per group and (1 + x | g): nothing is left for sigma (lme4 refuses such data)."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=12)
    X = np.column_stack([np.ones_like(x), x])
    cp = CrossProducts.from_arrays(rng.normal(size=12) + x, X, X, np.repeat(np.arange(6), 2))
    fitted = fit(cp, ThetaLayout.full(2))
    assert not fitted.converged[0]
    assert "residual variance" in fitted.messages[0]


def test_exact_fit_is_not_fitted():
    x = np.tile(np.arange(4.0), 3)
    X = np.column_stack([np.ones_like(x), x])
    cp = CrossProducts.from_arrays(2 + 3 * x, X, X, np.repeat(np.arange(3), 4))
    fitted = fit(cp, ThetaLayout.full(2))
    assert not fitted.converged[0] and fitted.sigma[0] == 0 and np.isneginf(fitted.value[0])


# --- q = 1 is intercept.py ---------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(INTERCEPT_MODELS))
@pytest.mark.parametrize("reml", [True, False])
def test_random_intercept_equals_profiled(name, reml, request):
    kind, response, group, columns = INTERCEPT_MODELS[name]
    ref = _reference(name)
    data = _data(kind, request)
    levels = list(dict.fromkeys(ref["ranef"]["level"]))
    codes = _codes(data, group, levels)
    y = data[response].to_numpy(float)
    X = np.column_stack([np.ones(len(data))] + [data[c].to_numpy(float) for c in columns])
    ours = fit(CrossProducts.from_arrays(y, X, np.ones((len(y), 1)), codes), ThetaLayout.full(1), reml)
    theirs = fit_theta(GroupSums.from_arrays(y, X, codes, len(levels)), reml)
    assert ours.theta[0, 0] == pytest.approx(theirs.theta[0], rel=1e-10)
    assert ours.value[0] == pytest.approx(theirs.value[0], abs=1e-9)
    np.testing.assert_allclose(ours.beta[0], theirs.beta[0], rtol=1e-10)
    assert ours.sigma[0] == pytest.approx(theirs.sigma[0], rel=1e-10)
    vcov = theirs.sigma[0] ** 2 * theirs.a_inv[0]
    np.testing.assert_allclose(ours.vcov[0], vcov, rtol=1e-9, atol=1e-14)
    if reml:
        assert ours.value[0] == pytest.approx(ref["reml_criterion"], abs=1e-8)
        np.testing.assert_allclose(ours.modes[0, :, 0], ref["ranef"]["value"], rtol=1e-6, atol=1e-10)
        np.testing.assert_allclose(ours.mode_sd[0, :, 0], ref["ranef"]["se"], rtol=1e-6)
    else:
        assert ours.loglik[0] == pytest.approx(ref["loglik_ml"], rel=1e-9)
