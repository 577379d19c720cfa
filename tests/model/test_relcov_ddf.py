"""Denominator df of random-slope models (relcov_ddf) against lmerTest/pbkrtest, the random
intercept's exact code (ddf.py), replicate batches, and dense finite differences.

lmerTest differentiates numerically in (theta, sigma) at lme4's optimum, which stops short of
the exact one; so the formulas are checked at lme4's own theta and sigma (to lmerTest's
numerical error, ~1e-8), and simlab's fits to lme4's optimiser error (~1e-5).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simlab
from test_relcov import slope_reference  # one loader of lme4's references
from simlab.model.ddf import denominator_df, intercept_ingredients, t_test_p
from simlab.model.intercept import GroupSums, fit_theta
from simlab.model.relcov import CrossProducts, ThetaLayout, fit
from simlab.model.relcov_ddf import (DECOUPLED, _criterion_derivatives, _derivatives, _gls, _parts,
                                     _residual, relcov_ingredients)

from reference_data import reference_data

REFERENCE = Path(__file__).parents[1] / "reference"
#: df_slopes.json's models: (data, response, group, slope, layout, simlab formula).
SLOPE_DF = {
    "sleepstudy_slopes": ("sleepstudy", "Reaction", "Subject", "Days", ThetaLayout.full(2),
                          "Reaction ~ Days + (Days | Subject)"),
    "sleepstudy_uncorrelated": ("sleepstudy", "Reaction", "Subject", "Days", ThetaLayout.diagonal(2),
                                "Reaction ~ Days + (Days || Subject)"),
    "sleepstudy_slopes_ml": ("sleepstudy", "Reaction", "Subject", "Days", ThetaLayout.full(2),
                             "Reaction ~ Days + (Days | Subject)"),
    "gpa_slopes": ("gpa", "gpa", "student", "occasion", ThetaLayout.full(2),
                   "gpa ~ occasion + (1 + occasion | student)"),
    "sim_slopes1234": ("sim_slopes1234", "y", "groups", "x", ThetaLayout.full(2),
                       "y ~ x + (1 + x | groups)"),
    "boundary_uncorrelated": ("boundary", "y", "g", "x", ThetaLayout.diagonal(2), "y ~ x + (1 + x || g)"),
    "boundary_slopes": ("boundary", "y", "g", "x", ThetaLayout.full(2), "y ~ x + (1 + x | g)"),
    "boundary_intercept": ("boundary", "y", "g", "x", ThetaLayout.full(1), "y ~ x + (1 | g)"),
}
MODELS = {m["name"]: m for m in json.loads((REFERENCE / "lmertest" / "df_slopes.json").read_text())["models"]}


def _case(name: str):
    kind, response, group, slope, layout, formula = SLOPE_DF[name]
    data = reference_data("slopes_boundary" if kind == "boundary" else kind)
    x = data[slope].to_numpy(float)
    X = np.column_stack([np.ones_like(x), x])
    cp = CrossProducts.from_arrays(data[response].to_numpy(float), X, X[:, :layout.q],
                                   pd.factorize(data[group])[0])
    return data, cp, layout, formula, MODELS[name]


def _relative(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) / np.asarray(b) - 1)))


@pytest.mark.parametrize("name", sorted(SLOPE_DF))
def test_at_lme4_theta_is_lmertest_and_pbkrtest(name):
    """At lme4's theta and sigma: lmerTest's df to its numerical error, pbkrtest's SE/df/p to 1e-9."""
    _, cp, layout, _, ref = _case(name)
    ing = relcov_ingredients(cp, layout, np.reshape(ref["theta"], (1, -1)), np.array([ref["sigma"]]),
                             ref["reml"])
    ddf = denominator_df(ing)
    se = np.sqrt(np.diag(ing.vcov[0]))
    assert _relative(se, ref["se"]) < 1e-9
    t = np.array(ref["estimate"]) / se
    assert _relative(ddf.df_satterthwaite[0], ref["df_satterthwaite"]) < 1e-6
    # p of a large t moves ~|t|^2 / df times faster than df: gpa's 6e-8 in df is 2e-5 in p.
    assert _relative(t_test_p(t, ddf.df_satterthwaite[0]), ref["p_satterthwaite"]) < 1e-4
    if ref["reml"]:
        se_kr = np.sqrt(np.diag(ddf.vcov_kr[0]))
        assert _relative(se_kr, ref["se_kr"]) < 1e-9
        assert _relative(ddf.df_kr[0], ref["df_kr"]) < 1e-9
        assert _relative(t_test_p(np.array(ref["estimate"]) / se_kr, ddf.df_kr[0]), ref["p_kr"]) < 1e-8


@pytest.mark.filterwarnings("ignore:boundary")
@pytest.mark.parametrize("name", sorted(SLOPE_DF))
def test_lmer_fixef_and_kenward_roger_against_r(name):
    """simlab.lmer's tables at its own (more exact) optimum: to lme4's optimiser error."""
    data, _, _, formula, ref = _case(name)
    result = simlab.lmer(formula, data, reml=ref["reml"])
    assert result.p_value_method == "satterthwaite"
    assert _relative(result.fixef["df"], ref["df_satterthwaite"]) < 1e-4
    assert _relative(result.fixef["p"], ref["p_satterthwaite"]) < 5e-3
    if ref["reml"]:
        kr = result.fixed_tests("kenward-roger")
        assert _relative(kr["se"], ref["se_kr"]) < 1e-5
        assert _relative(kr["df"], ref["df_kr"]) < 1e-5
        assert _relative(kr["p"], ref["p_kr"]) < 1e-3


def test_lme4_slope_reference_df(request):
    """The lme4 slope references' lmerTest df (sim_slopes1234: ``(1 | g) + (0 + x | g)``)."""
    for name in ["sim_slopes1234", "sleepstudy_uncorrelated"]:
        case = slope_reference(name, request)
        sigma = case.ref["vc"]["sdcor"][-1]
        ing = relcov_ingredients(case.cp, case.layout, np.array([case.ref["theta"]]), np.array([sigma]))
        assert _relative(denominator_df(ing).df_satterthwaite[0], case.ref["fixef"]["df_satterthwaite"]) < 1e-6


def test_boundary_is_the_df_without_the_zero_variance():
    """lmerTest at a singular (1 + x || g) fit: the (1 | g) model's df; with Sigma = 0, N - p."""
    _, cp, layout, _, ref = _case("boundary_uncorrelated")
    slope = denominator_df(relcov_ingredients(cp, layout, np.reshape(ref["theta"], (1, -1)),
                                              np.array([ref["sigma"]])))
    _, cp_int, layout_int, _, _ = _case("boundary_intercept")
    intercept = denominator_df(relcov_ingredients(cp_int, layout_int, np.array([[ref["theta"][0]]]),
                                                  np.array([ref["sigma"]])))
    np.testing.assert_allclose(slope.df_satterthwaite, intercept.df_satterthwaite, rtol=1e-10)
    assert not np.allclose(slope.df_kr, intercept.df_kr, rtol=1e-3)      # pbkrtest keeps it
    zero = relcov_ingredients(cp, layout, np.zeros((1, 2)), np.array([ref["sigma"]]))
    assert zero.singular[0]
    np.testing.assert_array_equal(denominator_df(zero).df_satterthwaite, [[cp.nobs - 2] * 2])


def _intercept_pair(data: pd.DataFrame, formula_x: list[str], response: str, group: str):
    X = np.column_stack([np.ones(len(data))] + [data[c].to_numpy(float) for c in formula_x])
    y, codes = data[response].to_numpy(float), pd.factorize(data[group])[0]
    sums = GroupSums.from_arrays(y, X, codes, codes.max() + 1)
    cp = CrossProducts.from_arrays(y, X, X[:, :1], codes)
    return sums, cp, fit_theta(sums, True)


@pytest.mark.parametrize("kind", ["sleepstudy", "boundary"])
def test_q1_is_the_random_intercept_code(kind):
    """(1 | g) through relcov_ddf: ddf.intercept_ingredients's numbers, to 1e-10 (a singular fit too)."""
    if kind == "sleepstudy":
        sums, cp, f = _intercept_pair(simlab.datasets.sleepstudy(), ["Days"], "Reaction", "Subject")
    else:
        sums, cp, f = _intercept_pair(pd.read_csv(REFERENCE / "power" / "boundary.csv"), ["x", "w"],
                                      "y", "g")
        assert f.tau[0] == 0
    one = intercept_ingredients(sums, f.tau, f.sigma)
    other = relcov_ingredients(cp, ThetaLayout.full(1), (f.tau / f.sigma)[:, None], f.sigma)
    # The hessians are in working units: the two sums standardise y alike.
    np.testing.assert_allclose(cp.y_scale, sums.y_scale, rtol=1e-12)
    for field in one._fields:
        expected = getattr(one, field)
        np.testing.assert_allclose(getattr(other, field), expected, rtol=1e-10,
                                   atol=1e-12 * np.abs(expected).max(), err_msg=field)


def _scale(values: np.ndarray) -> float:
    """Largest magnitude, leaving out the DECOUPLED Hessians of boundary directions."""
    values = np.abs(np.asarray(values, dtype=float))
    return float(values[values < DECOUPLED].max())


def _boundary_data(seed: int, n_groups: int, sizes: tuple[int, ...], slope_sd: float):
    rng = np.random.default_rng(seed)
    counts = rng.choice(sizes, n_groups)
    groups = np.repeat(np.arange(n_groups), counts)
    x = rng.normal(size=groups.size)
    b = rng.normal(size=(n_groups, 2)) * [0.8, slope_sd]
    y = 1 + 0.5 * x + b[groups, 0] + b[groups, 1] * x + rng.normal(size=groups.size)
    X = np.column_stack([np.ones_like(x), x])
    return y, X, X, groups


@pytest.mark.parametrize("layout", [ThetaLayout.full(2), ThetaLayout.diagonal(2)])
def test_stacked_batch_is_each_alone(layout):
    """Replicates with their own designs (CrossProducts.stack), singular fits among them, and
    several responses on one design: each replicate's ingredients as computed alone."""
    items = [CrossProducts.from_arrays(*_boundary_data(seed, 12, (1, 3, 6), sd), n_groups=12)
             for seed, sd in [(1, 0.5), (2, 0.0), (3, 0.3), (4, 0.0)]]
    fits = [fit(cp, layout) for cp in items]
    assert any(f.singular[0] for f in fits) and not all(f.singular[0] for f in fits)
    stack = CrossProducts.stack(items)
    batch = relcov_ingredients(stack, layout, np.concatenate([f.theta for f in fits]),
                               np.concatenate([f.sigma for f in fits]))
    for r, (cp, f) in enumerate(zip(items, fits)):
        alone = relcov_ingredients(cp, layout, f.theta, f.sigma)
        for field in alone._fields:
            np.testing.assert_allclose(getattr(batch, field)[r], getattr(alone, field)[0],
                                       rtol=1e-10, atol=1e-12 * _scale(getattr(alone, field)),
                                       err_msg=field)
    y, X, _, groups = _boundary_data(5, 10, (2, 4), 0.4)
    ys = y + np.random.default_rng(6).normal(size=(3, y.size))
    shared = CrossProducts.from_arrays(ys, X, X, groups)
    fits = fit(shared, layout)
    batch = denominator_df(relcov_ingredients(shared, layout, fits.theta, fits.sigma))
    for r in range(3):
        cp = CrossProducts.from_arrays(ys[r], X, X, groups)
        alone = denominator_df(relcov_ingredients(cp, layout, fits.theta[r:r + 1], fits.sigma[r:r + 1]))
        np.testing.assert_allclose(batch.df_satterthwaite[r], alone.df_satterthwaite[0], rtol=1e-10)
        np.testing.assert_allclose(batch.df_kr[r], alone.df_kr[0], rtol=1e-10)


# --- dense finite differences on a small data set -------------------------------------------------

class _Dense:
    """Dense V(phi) for phi = (Sigma's free entries, sigma^2), data units, and the criteria."""

    def __init__(self, layout: ThetaLayout, data: tuple | None = None):
        if data is not None:
            self._setup(layout, *data)
            return
        rng = np.random.default_rng(11)
        sizes = np.array([1, 2, 3, 4, 5, 3, 4])             # a group with fewer rows than q
        self.groups = np.repeat(np.arange(sizes.size), sizes)
        x = 3.0 * rng.normal(size=self.groups.size) + 2.0
        self.X = np.column_stack([np.ones_like(x), x, rng.normal(size=x.size)])
        self.Z = self.X[:, :2]
        b = rng.normal(size=(sizes.size, 2)) * [0.8, 0.2]
        self.y = 10 + self.X @ [1.0, 0.5, -0.3] + (self.Z * b[self.groups]).sum(1) + rng.normal(size=x.size)
        self._setup(layout, self.y, self.X, self.Z, self.groups)

    def _setup(self, layout, y, X, Z, groups):
        self.y, self.X, self.Z, self.groups = y, X, Z, groups
        self.layout, self.cp = layout, CrossProducts.from_arrays(self.y, self.X, self.Z, self.groups)
        rows, cols = layout.index
        self.units = [np.outer(np.eye(2)[i], np.eye(2)[j]) + np.outer(np.eye(2)[j], np.eye(2)[i])
                      - (i == j) * np.outer(np.eye(2)[i], np.eye(2)[i]) for i, j in zip(rows, cols)]
        same = self.groups[:, None] == self.groups[None, :]
        self.g = [same * (self.Z @ e @ self.Z.T) for e in self.units] + [np.eye(y.size)]

    def phi(self, theta: np.ndarray, sigma: float) -> np.ndarray:
        lam = self.layout.lam(theta)
        cov = sigma ** 2 * lam @ lam.T
        return np.append(cov[self.layout.index], sigma ** 2)

    def v(self, phi: np.ndarray) -> np.ndarray:
        return sum(p * g for p, g in zip(phi, self.g))

    def criterion(self, phi: np.ndarray, reml: bool) -> float:
        v_inv = np.linalg.inv(self.v(phi))
        xvx = self.X.T @ v_inv @ self.X
        r = self.y - self.X @ np.linalg.solve(xvx, self.X.T @ v_inv @ self.y)
        out = np.linalg.slogdet(self.v(phi))[1] + r @ v_inv @ r
        return out + np.linalg.slogdet(xvx)[1] if reml else out

    def work_scale(self) -> np.ndarray:
        """``c`` with ``phi_work = c phi`` (Sigma_w = diag(z) Sigma diag(z) / y_scale^2)."""
        z, ys = self.cp.z_scale, self.cp.y_scale[0]
        rows, cols = self.layout.index
        return np.append(z[rows] * z[cols], 1.0) / ys ** 2


def _fd_hessian(f, x: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Central-difference gradient and Hessian of ``f`` at ``x``."""
    n = x.size
    grad, hess = np.empty(n), np.empty((n, n))
    for a in range(n):
        ea = np.eye(n)[a] * steps[a]
        grad[a] = (f(x + ea) - f(x - ea)) / (2 * steps[a])
        for b in range(n):
            eb = np.eye(n)[b] * steps[b]
            hess[a, b] = (f(x + ea + eb) - f(x + ea - eb) - f(x - ea + eb) + f(x - ea - eb)) / (
                4 * steps[a] * steps[b])
    return grad, hess


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("layout", [ThetaLayout.full(2), ThetaLayout.diagonal(2)])
def test_hessians_against_dense_finite_differences(layout, reml):
    """Gradient and Hessians in phi, Phi, d Phi / d phi and KR's Phi_A against dense algebra,
    at a point that is no optimum."""
    dense = _Dense(layout)
    theta, sigma = np.array([0.7, -0.1, 0.15][:layout.size]), 1.3
    phi = dense.phi(theta, sigma)
    grad_fd, hess_fd = _fd_hessian(lambda p: dense.criterion(p, reml), phi, 1e-4 * np.abs(phi))
    cp, c = dense.cp, dense.work_scale()
    s_e = (sigma / cp.y_scale) ** 2
    lam = layout.lam(cp.to_work(theta[None], layout))
    parts = _parts(cp, layout, s_e[:, None, None] * lam @ np.swapaxes(lam, -1, -2), s_e)
    phi_w, beta = _gls(cp, parts)
    d = _derivatives(cp, parts, _residual(cp, beta, parts.mult))
    gradient, observed, expected = _criterion_derivatives(d, phi_w, reml)
    np.testing.assert_allclose(gradient[0] * c, grad_fd, rtol=1e-6, atol=1e-7 * np.abs(grad_fd).max())
    np.testing.assert_allclose(observed[0] * np.outer(c, c), hess_fd, rtol=1e-5,
                               atol=1e-6 * np.abs(hess_fd).max())
    # Dense expected Hessian, Phi, its gradient and Kenward-Roger's adjustment.
    v_inv = np.linalg.inv(dense.v(phi))
    cov = np.linalg.inv(dense.X.T @ v_inv @ dense.X)
    proj = v_inv - v_inv @ dense.X @ cov @ dense.X.T @ v_inv
    exp_dense = np.array([[np.trace(proj @ gk @ proj @ gl) for gl in dense.g] for gk in dense.g])
    np.testing.assert_allclose(expected[0] * np.outer(c, c), exp_dense, rtol=1e-10)
    p_k = np.array([dense.X.T @ v_inv @ gk @ v_inv @ dense.X for gk in dense.g])
    q_kl = np.array([[dense.X.T @ v_inv @ gk @ v_inv @ gl @ v_inv @ dense.X for gl in dense.g]
                     for gk in dense.g])
    weight = 2 * np.linalg.inv(exp_dense)
    inner = sum(weight[a, b] * (q_kl[a, b] - p_k[a] @ cov @ p_k[b])
                for a in range(len(phi)) for b in range(len(phi)))
    ing = relcov_ingredients(cp, layout, theta[None], np.array([sigma]), reml)
    np.testing.assert_allclose(ing.vcov[0], cov, rtol=1e-10)
    np.testing.assert_allclose(ing.vcov_grad[0] * c[:, None, None], cov @ p_k @ cov, rtol=1e-9,
                               atol=1e-12 * np.abs(cov @ p_k @ cov).max())
    np.testing.assert_allclose(ing.vcov_kr[0], cov + 2 * cov @ inner @ cov, rtol=1e-9)



@pytest.mark.parametrize("seed, shift", [(3, 1.02), (2, 1.0), (4, 1.0)])
@pytest.mark.parametrize("layout", [ThetaLayout.full(2), ThetaLayout.diagonal(2)])
def test_satterthwaite_is_lmertests_numerical_recipe(layout, seed, shift):
    """lmerTest's recipe done densely: Hessian of the REML criterion by finite differences in
    (theta, sigma), W = 2 J H^+ J', df = 2 v^2 / (g' W g); next to an interior optimum (no
    optimum itself) and at singular fits (a diagonal theta at 0: its Jacobian column vanishes)."""
    data = _boundary_data(seed, 12, (1, 3, 6), 0.3 if seed == 3 else 0.0)
    dense = _Dense(layout, data)
    result = fit(dense.cp, layout)
    assert (result.theta[0, layout.on_diagonal] == 0).any() == (seed != 3)
    theta, sigma = result.theta[0] * shift, float(result.sigma[0])
    t0 = np.append(theta, sigma)

    def phi_of(t):
        return dense.phi(t[:-1], t[-1])

    _, hess_t = _fd_hessian(lambda t: dense.criterion(phi_of(t), True), t0, np.full(t0.size, 1e-4))
    jac = np.column_stack([(phi_of(t0 + h) - phi_of(t0 - h)) / 2e-6 for h in np.eye(t0.size) * 1e-6])
    evals, evecs = np.linalg.eigh(hess_t)
    keep = evals > 1e-8
    weight = 2 * jac @ (evecs[:, keep] / evals[keep]) @ evecs[:, keep].T @ jac.T
    v_inv = np.linalg.inv(dense.v(phi_of(t0)))
    cov = np.linalg.inv(dense.X.T @ v_inv @ dense.X)
    grad = np.array([cov @ dense.X.T @ v_inv @ g @ v_inv @ dense.X @ cov for g in dense.g])
    v, g = np.diag(cov), np.einsum("kpp->pk", grad)
    expected = 2 * v ** 2 / np.einsum("pk,kl,pl->p", g, weight, g)
    ing = relcov_ingredients(dense.cp, layout, theta[None], np.array([sigma]))
    np.testing.assert_allclose(ing.contrast_df(np.eye(2), "satterthwaite")[0], expected, rtol=1e-5)
    # Kenward-Roger stays pbkrtest's, in phi, whatever the parametrisation of the boundary.
    exp_dense = np.array([[np.trace((v_inv - v_inv @ dense.X @ cov @ dense.X.T @ v_inv) @ gk
                                    @ (v_inv - v_inv @ dense.X @ cov @ dense.X.T @ v_inv) @ gl)
                           for gl in dense.g] for gk in dense.g])
    kr = 2 * v ** 2 / np.einsum("pk,kl,pl->p", g, 2 * np.linalg.inv(exp_dense), g)
    np.testing.assert_allclose(ing.contrast_df(np.eye(2), "kenward-roger")[0], kr, rtol=1e-9)
