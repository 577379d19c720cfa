"""The exact engine for q random effects per group (relcov) against lme4, dense algebra and profiled.py.

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

from simlab.model.profiled import GroupSums, fit_theta
from simlab.model.relcov import (CrossProducts, ThetaLayout, criterion, criterion_and_gradient, fit,
                                 local_fit, varcorr)

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


@pytest.fixture(scope="session", params=sorted(SLOPE_MODELS))
def slope_case(request):
    """A random-slope reference with simlab's REML and ML fits."""
    kind, response, group, slope, layout = SLOPE_MODELS[request.param]
    ref = _reference(request.param)
    data = _data(kind, request)
    x = data[slope].to_numpy(float)
    X = np.column_stack([np.ones_like(x), x])
    codes = _codes(data, group, ref["coef"]["level"])
    cp = CrossProducts.from_arrays(data[response].to_numpy(float), X, X, codes)
    return SimpleNamespace(name=request.param, ref=ref, layout=layout, cp=cp, X=X, codes=codes,
                           y=data[response].to_numpy(float), reml=fit(cp, layout, reml=True),
                           ml=fit(cp, layout, reml=False))


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


def _check_varcorr(rows, vc: dict, rtol: float, corr_atol: float) -> None:
    """Rows in lme4's order and names; sds to ``rtol``, correlations to ``corr_atol``."""
    def effect(name: str) -> int:
        return -1 if name == "NA" else int(name != "(Intercept)")

    def block(grp: str) -> int:          # "Subject", "Subject.1", "Residual"
        return -1 if grp == "Residual" else int(grp.split(".")[1]) if "." in grp else 0

    expected = [(block(g), effect(a), effect(b)) for g, a, b in zip(vc["grp"], vc["var1"], vc["var2"])]
    assert list(zip(rows.block, rows.var1, rows.var2)) == expected
    is_corr = rows.var2 >= 0
    np.testing.assert_allclose(rows.sdcor[~is_corr], np.array(vc["sdcor"])[~is_corr], rtol=rtol)
    np.testing.assert_allclose(rows.sdcor[is_corr], np.array(vc["sdcor"])[is_corr], atol=corr_atol)
    np.testing.assert_allclose(rows.vcov[~is_corr], np.array(vc["vcov"])[~is_corr], rtol=2 * rtol)


def test_varcorr(slope_case):
    _check_varcorr(varcorr(slope_case.reml), slope_case.ref["vc"], 1e-4, 1e-5)


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
    _check_varcorr(varcorr(fitted), ref["vc_ml"], 1e-4, 1e-4)
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
    step = 1e-6 * np.abs(theta)
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


#: Four groups of four with x in the hundreds (numpy default_rng(23), rounded): a
#: local search from lme4's start (Lambda = I in the data's units) ends at a corner
#: of the bounds, both diagonal elements 0 - the engine's Newton search and scipy's
#: L-BFGS-B alike - 2.3 above the global minimum.
RESTART_X = [-30.0, -57.5, -283.6, -8.6, -264.4, 39.3, 8.9, 31.3,
             31.0, -21.9, -105.2, -82.4, 99.1, -109.9, -74.5, -124.2]
RESTART_Y = [-14.3, -27.3, -136.7, -3.9, -132.9, 19.8, 6.9, 18.3,
             15.0, -9.9, -52.6, -41.7, 49.2, -55.2, -38.9, -63.3]


def test_restarts_find_the_global_minimum():
    x, y = np.array(RESTART_X), np.array(RESTART_Y)
    X = np.column_stack([np.ones_like(x), x])
    cp = CrossProducts.from_arrays(y, X, X, np.repeat(np.arange(4), 4))
    layout = ThetaLayout.full(2)
    single = local_fit(cp, layout, cp.to_work(layout.start, layout), reml=True)
    assert (single.x[layout.on_diagonal] == 0).all()          # a corner of the bounds
    fitted = fit(cp, layout)
    assert fitted.converged[0] and not fitted.singular[0]
    assert fitted.value[0] < single.fun - 2.0
    # A dense grid (working units, 41^3 points around the optimum) finds nothing lower.
    axes = [np.linspace(0, 4, 41), np.linspace(-2, 2, 41), np.linspace(0, 4, 41)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(1, -1, 3)
    values = criterion(cp, layout, cp.to_data(grid, layout), reml=True)
    assert fitted.value[0] <= values.min()


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


# --- q = 1 is profiled.py ---------------------------------------------------------------------

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
