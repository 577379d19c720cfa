"""Exact profile intervals of the relcov engine against lme4, brute force and intercept_profile.py.

The independent check (:class:`Dense`, :func:`brute_profile`) evaluates the
ML deviance from dense per-group covariance matrices built from the natural
parameters (sds, correlation, sigma, fixed effects), with no ``Lambda`` and
no working units, and minimises it with scipy over the other parameters at
each bound's value: the minimum must be the cut (or under it, where a bound
is an end of the range: an sd of 0, a correlation of -1 or 1).
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from simlab.model.parameters import parameter_names
from simlab.model.intercept_profile import profile_bounds as intercept_bounds
from simlab.model.intercept import GroupSums
from simlab.model.relcov import CrossProducts, ThetaLayout, fit
from simlab.model.relcov_profile import _Case, _problems, parameter_kinds, profile_bounds
from test_relcov import SLOPE_MODELS, _reference, slope_reference  # one loader of lme4's references

REFERENCE = Path(__file__).parents[1] / "reference"

#: Bounds where lme4's spline through its sampled profile, not the exact
#: root, sets lme4's number: (reference, parameter, side) -> tolerance as a
#: fraction of the interval's width. test_lme4_spline_bounds_are_off_the_cut
#: shows that the ML deviance profiled at lme4's bound is not the cut there.
SPLINE_BOUNDS = {
    ("gpa_slopes", "sd_(Intercept)|student", "upper"): 1e-3,   # ours 0.245057, lme4 0.245006
    ("gpa_slopes", "sd_occasion|student", "lower"): 1e-3,      # ours 0.0570150, lme4 0.0570258
}
WIDTH_RTOL = 1e-4
#: The brute-force minimum is the cut to this (deviance units).
CUT_ATOL = 1e-6


class Dense:
    """ML deviance of ``y = X beta + Z b + e``, ``b ~ N(0, sigma^2 Psi)``, group by group.

    Per group ``V_i = I + Z_i Psi Z_i'`` enters through ``M_i = I + Z_i'Z_i Psi``:
    ``log det V_i = log det M_i`` (Sylvester) and
    ``u'V_i^-1 w = u'w - u'Z_i Psi M_i^-1 Z_i'w`` (Woodbury), from the group's
    cross products of the data (no ``Lambda``, no working units).
    """

    def __init__(self, y: np.ndarray, X: np.ndarray, Z: np.ndarray, groups: np.ndarray):
        self.n = y.size
        data = np.column_stack([X, y])                                   # (n, p + 1)
        n_groups = groups.max() + 1
        self.ztz = np.zeros((n_groups, Z.shape[1], Z.shape[1]))
        self.ztd = np.zeros((n_groups, Z.shape[1], data.shape[1]))
        np.add.at(self.ztz, groups, Z[:, :, None] * Z[:, None, :])
        np.add.at(self.ztd, groups, Z[:, :, None] * data[:, None, :])
        self.dtd = data.T @ data

    def quadratic(self, psi: np.ndarray) -> tuple[float, np.ndarray]:
        """``(sum_i log det V_i, [X y]' V^-1 [X y])``."""
        m = np.eye(psi.shape[0]) + self.ztz @ psi
        logdet = np.linalg.slogdet(m)[1].sum()
        solved = np.linalg.solve(m, self.ztd)                              # M^-1 Z'[X y]
        return logdet, self.dtd - np.einsum("gia,ij,gjb->ab", self.ztd, psi, solved)

    def deviance(self, psi: np.ndarray, sigma: float | None = None,
                 fixed: tuple[int, float] | None = None) -> float:
        """At relative covariance ``psi = cov / sigma^2``; beta profiled (but ``beta_j = v``
        if ``fixed = (j, v)``), sigma profiled unless given."""
        logdet, quad = self.quadratic(psi)
        p = quad.shape[0] - 1
        A, c, yy = quad[:p, :p], quad[:p, p], quad[p, p]
        if fixed is not None:
            j, v = fixed
            keep = np.arange(p) != j
            yy = yy - 2 * v * c[j] + v * v * A[j, j]
            c = c[keep] - A[keep, j] * v
            A = A[np.ix_(keep, keep)]
        rss = yy - c @ np.linalg.solve(A, c)
        if sigma is None:
            return logdet + self.n * (1 + np.log(2 * np.pi * rss / self.n))
        return logdet + self.n * np.log(2 * np.pi * sigma ** 2) + rss / sigma ** 2

    def at(self, cov: np.ndarray, sigma: float, beta: np.ndarray) -> float:
        """-2 log-likelihood at every parameter given (nothing profiled)."""
        logdet, quad = self.quadratic(cov / sigma ** 2)
        full = np.append(-beta, 1.0)                                      # y - X beta
        return self.n * np.log(2 * np.pi * sigma ** 2) + logdet + full @ quad @ full / sigma ** 2


def _cov(sd: list[float], w: float, correlated: bool) -> np.ndarray:
    """Covariance from sds (their sign ignored) and an angle ``w`` (correlation ``sin w``)."""
    sd = np.abs(sd)
    cov = np.diag(sd ** 2)
    if correlated:
        cov[0, 1] = cov[1, 0] = np.sin(w) * sd[0] * sd[1]
    return cov


def brute_profile(dense: Dense, kind: str, j: int, value: float, q: int, correlated: bool,
                  starts: list[dict]) -> float:
    """min over the other parameters of the ML deviance with one parameter at ``value``.

    ``starts``: natural parameters ``{"sd": (...), "cor": c, "sigma": s}``;
    Nelder-Mead then BFGS from each, the lowest minimum kept.
    """
    def unpack(z: np.ndarray, start: dict):
        free = list(z)
        w = np.arcsin(np.clip(start["cor"], -1, 1))
        if kind == "cor":
            w = np.arcsin(value)
        elif correlated:
            w = free.pop()
        if kind == "sd":
            log_sigma = free.pop(0)
            sd = [value if a == j else free.pop(0) * np.exp(log_sigma) for a in range(q)]
            return _cov(sd, w, correlated), np.exp(log_sigma)
        return _cov(free[:q], w, correlated), None

    def objective(z: np.ndarray, start: dict) -> float:
        cov, sigma = unpack(z, start)
        if kind == "sd":
            return dense.deviance(cov / sigma ** 2, sigma)
        if kind == "sigma":
            return dense.deviance(cov / value ** 2, value)
        return dense.deviance(cov, fixed=(j, value) if kind == "beta" else None)

    best = np.inf
    for start in starts:
        sd, sigma = np.asarray(start["sd"], dtype=float), start["sigma"]
        z0 = {"sd": [np.log(sigma)] + [s / sigma for a, s in enumerate(sd) if a != j],
              "sigma": list(sd)}.get(kind, list(sd / sigma))
        if correlated and kind != "cor":
            z0.append(np.arcsin(np.clip(start["cor"], -1, 1)))
        z = np.array(z0, dtype=float)
        # The deviance's rounding is ~1e-13 of its size: tighter tolerances only burn time.
        res = optimize.minimize(objective, z, args=(start,), method="Nelder-Mead",
                                options=dict(xatol=1e-7, fatol=1e-9, maxfev=4000))
        res2 = optimize.minimize(objective, res.x, args=(start,), method="BFGS",
                                 options=dict(gtol=1e-7, maxiter=200))
        best = min(best, res.fun, res2.fun)
    return best


def natural(re_cov: np.ndarray, sigma: float) -> dict:
    sd = np.sqrt(np.diag(re_cov))
    cor = re_cov[0, 1] / (sd[0] * sd[1]) if sd.size > 1 and sd[0] * sd[1] > 0 else 0.0
    return {"sd": tuple(sd), "cor": float(cor), "sigma": float(sigma)}


def brute_at_bounds(dense: Dense, result, layout: ThetaLayout, rep: int = 0) -> np.ndarray:
    """The brute-force profile minus the cut at every bound, shape (n, 2)."""
    q = layout.q
    correlated = layout.blocks == (q,) and q > 1
    ml = natural(result.ml.re_cov[rep], result.ml.sigma[rep])
    out = np.empty(result.lower.shape[1:] + (2,))
    for n, (kind, a, _) in enumerate(parameter_kinds(layout, result.beta.shape[-1])):
        for side, bound in enumerate((result.lower[rep, n], result.upper[rep, n])):
            at_bound = natural(result.re_cov[rep, n, side], result.sigma[rep, n, side])
            out[n, side] = brute_profile(dense, kind, a, bound, q, correlated,
                                         [ml, at_bound]) - result.cutoff[rep]
    return out


_CASES: dict[str, SimpleNamespace] = {}


def _case(name: str, request) -> SimpleNamespace:
    """A random-slope lme4 reference, its data and simlab's profile intervals (built once)."""
    if name not in _CASES:
        c = slope_reference(name, request)
        names = parameter_names(["(Intercept)", c.slope], ["(Intercept)", c.slope], c.group,
                                correlated=c.layout.blocks == (2,))
        _CASES[name] = SimpleNamespace(
            name=name, ref=c.ref["confint_profile"], layout=c.layout, names=names,
            result=profile_bounds(c.cp, c.layout), dense=Dense(c.y, c.X, c.X, c.codes),
            deviance_ml=c.ref["deviance_ml"])
    return _CASES[name]


@pytest.fixture(scope="module", params=sorted(SLOPE_MODELS))
def case(request):
    return _case(request.param, request)


@pytest.fixture(scope="module")
def brute(case):
    return brute_at_bounds(case.dense, case.result, case.layout)


# --- against lme4 -----------------------------------------------------------------------------

def test_names_and_order_are_lme4s(case):
    assert case.names == case.ref["param"]
    def kind(name: str) -> str:
        return name.split("_")[0] if "|" in name else "sigma" if name == "sigma" else "beta"

    assert [k for k, _, _ in parameter_kinds(case.layout, 2)] == [kind(n) for n in case.names]


def test_bounds_match_lme4(case):
    """To 1e-4 of the interval's width; looser only where lme4's spline is the cause."""
    result, ref = case.result, case.ref
    assert result.converged.all()
    width = np.array(ref["upper"]) - np.array(ref["lower"])
    for side, ours in (("lower", result.lower[0]), ("upper", result.upper[0])):
        for name, value, theirs, w in zip(case.names, ours, ref[side], width):
            tol = SPLINE_BOUNDS.get((case.name, name, side), WIDTH_RTOL)
            assert abs(value - theirs) <= tol * w, (name, side, value, theirs)


def test_cut_is_chisq_above_the_ml_minimum(case):
    """The minimum is simlab's ML fit, at most 1e-6 below lme4's (which stops short)."""
    ml = case.result.ml.value[0]
    assert case.deviance_ml - 1e-6 < ml <= case.deviance_ml + 1e-10
    assert case.result.cutoff[0] - ml == pytest.approx(stats.chi2.ppf(0.95, 1), rel=1e-12)


def test_bounds_sit_on_the_cut(case, brute):
    """Brute force over the other parameters at every bound gives the cut (no end bounds here)."""
    np.testing.assert_allclose(brute, 0.0, atol=CUT_ATOL)


@pytest.mark.parametrize("name, parameter, side", sorted(SPLINE_BOUNDS))
def test_lme4_spline_bounds_are_off_the_cut(name, parameter, side, request):
    """Where lme4 differs by more than 1e-4 of the width, its own bound is not on the cut
    (while ours is, test_bounds_sit_on_the_cut): its spline, not the profile, set it."""
    c = _case(name, request)
    n = c.names.index(parameter)
    kind, a, _ = parameter_kinds(c.layout, 2)[n]
    ml = natural(c.result.ml.re_cov[0], c.result.ml.sigma[0])
    theirs = c.ref[side][n]
    profiled = brute_profile(c.dense, kind, a, theirs, 2, c.layout.blocks == (2,), [ml])
    assert abs(profiled - c.result.cutoff[0]) > 1e-3
    ours = getattr(c.result, side)[0, n]
    width = c.ref["upper"][n] - c.ref["lower"][n]
    assert WIDTH_RTOL * width < abs(ours - theirs) <= SPLINE_BOUNDS[name, parameter, side] * width


def test_points_at_the_bounds(case):
    """The reported parameters at each bound give the cut and take the bound's value."""
    r = case.result
    kinds = parameter_kinds(case.layout, 2)
    for n, (kind, a, b) in enumerate(kinds):
        for side, bound in enumerate((r.lower[0, n], r.upper[0, n])):
            cov, sigma, beta = r.re_cov[0, n, side], r.sigma[0, n, side], r.beta[0, n, side]
            point = natural(cov, sigma)
            value = {"sd": point["sd"][a], "cor": point["cor"], "sigma": sigma}.get(kind, beta[a])
            assert value == pytest.approx(bound, rel=1e-9, abs=1e-12)
            # Nothing profiled: the deviance of that very point.
            deviance = case.dense.at(cov, sigma, beta)
            assert deviance == pytest.approx(r.cutoff[0], abs=1e-8), (kind, a, side)


# --- the random intercept: q = 1 of the same code ----------------------------------------------

@pytest.fixture(scope="module")
def intercept_case(sleepstudy_data):
    x = sleepstudy_data["Days"].to_numpy(float)
    X = np.column_stack([np.ones_like(x), x])
    codes, _ = pd.factorize(sleepstudy_data["Subject"])
    y = sleepstudy_data["Reaction"].to_numpy(float)
    layout = ThetaLayout.full(1)
    return SimpleNamespace(result=profile_bounds(CrossProducts.from_arrays(y, X, X[:, :1], codes), layout),
                           closed=intercept_bounds(GroupSums.from_arrays(y, X, codes, codes.max() + 1)),
                           ref=_reference("sleepstudy")["confint_profile"], layout=layout,
                           dense=Dense(y, X, X[:, :1], codes))


def test_random_intercept_matches_profile_py(intercept_case):
    """intercept_profile.py's closed-form bounds (its own order: sd, sigma, fixed effects) to 1e-9 of the width."""
    c = intercept_case
    width = c.closed.upper[0] - c.closed.lower[0]
    np.testing.assert_allclose((c.result.lower[0] - c.closed.lower[0]) / width, 0.0, atol=1e-9)
    np.testing.assert_allclose((c.result.upper[0] - c.closed.upper[0]) / width, 0.0, atol=1e-9)


def test_random_intercept_bounds_sit_on_the_cut(intercept_case):
    c = intercept_case
    np.testing.assert_allclose(brute_at_bounds(c.dense, c.result, c.layout), 0.0, atol=CUT_ATOL)


def test_random_intercept_matches_lme4(intercept_case):
    c = intercept_case
    width = np.array(c.ref["upper"]) - np.array(c.ref["lower"])
    np.testing.assert_allclose((c.result.lower[0] - c.ref["lower"]) / width, 0.0, atol=WIDTH_RTOL)
    np.testing.assert_allclose((c.result.upper[0] - c.ref["upper"]) / width, 0.0, atol=WIDTH_RTOL)


# --- ends of the range, replicates, singular fits ----------------------------------------------

def simulated(seed: int, n_groups: int = 10, size: int = 5, sd=(1.0, 0.3), cor: float = 0.9,
              n_reps: int = 1):
    """``y = 1 + x/2 + b0 + b1 x + e`` with correlated (b0, b1), x = 0 .. size - 1 in every group."""
    rng = np.random.default_rng(seed)
    x = np.tile(np.arange(size, dtype=float), n_groups)
    groups = np.repeat(np.arange(n_groups), size)
    cov = np.array([[sd[0] ** 2, cor * sd[0] * sd[1]], [cor * sd[0] * sd[1], sd[1] ** 2]])
    b = rng.multivariate_normal([0.0, 0.0], cov, size=(n_reps, n_groups))
    y = 1 + 0.5 * x + b[:, groups, 0] + b[:, groups, 1] * x + rng.normal(size=(n_reps, x.size))
    return y, np.column_stack([np.ones_like(x), x]), groups


@pytest.fixture(scope="module")
def ends_case():
    """A singular ML fit (the slope's row of Lambda is parallel to the intercept's) whose
    intervals reach a correlation of -1 and 1 and a slope sd of 0."""
    y, X, groups = simulated(1)
    layout = ThetaLayout.full(2)
    result = profile_bounds(CrossProducts.from_arrays(y[0], X, X, groups), layout)
    return SimpleNamespace(result=result, layout=layout, dense=Dense(y[0], X, X, groups))


def test_end_bounds_are_exact(ends_case):
    r = ends_case.result
    assert r.ml.singular[0]
    assert r.lower[0, 1] == -1.0 and r.upper[0, 1] == 1.0          # cor_x.(Intercept)
    assert r.lower[0, 2] == 0.0                                      # sd_x
    assert r.converged.all()


def test_end_bounds_are_admissible_and_the_rest_sit_on_the_cut(ends_case):
    r = ends_case.result
    brute = brute_at_bounds(ends_case.dense, r, ends_case.layout)
    ends = np.zeros(brute.shape, dtype=bool)
    ends[1, :] = ends[2, 0] = True
    assert (brute[ends] < -1e-3).all()                 # well inside: the range ends first
    np.testing.assert_allclose(brute[~ends], 0.0, atol=CUT_ATOL)


def test_an_sd_of_zero_in_the_uncorrelated_model():
    """(1 + x || g): the slope's sd interval starts at exactly 0, still under the cut there."""
    y, X, groups = simulated(5)
    layout = ThetaLayout.diagonal(2)
    r = profile_bounds(CrossProducts.from_arrays(y[0], X, X, groups), layout)
    assert r.lower[0, 1] == 0.0 and r.upper[0, 1] > 0 and r.converged.all()
    brute = brute_at_bounds(Dense(y[0], X, X, groups), r, layout)
    assert brute[1, 0] < -1e-3
    np.testing.assert_allclose(np.delete(brute.ravel(), 2), 0.0, atol=CUT_ATOL)


def test_three_correlated_random_effects():
    """q = 3 (no brute force here): converged, every bound's point on the cut, estimates inside."""
    rng = np.random.default_rng(4)
    groups = np.repeat(np.arange(25), 6)
    X = np.column_stack([np.ones(groups.size), rng.normal(size=(groups.size, 2))])
    b = rng.normal(size=(25, 3)) @ np.array([[1.0, 0, 0], [0.3, 0.5, 0], [-0.2, 0.1, 0.4]]).T
    y = X @ [1, 0.5, -0.3] + (X * b[groups]).sum(axis=1) + 0.5 * rng.normal(size=groups.size)
    layout = ThetaLayout.full(3)
    r = profile_bounds(CrossProducts.from_arrays(y, X, X, groups), layout)
    assert r.converged.all()
    dense = Dense(y, X, X, groups)
    for n in range(r.lower.shape[1]):
        for side in range(2):
            at = dense.at(r.re_cov[0, n, side], r.sigma[0, n, side], r.beta[0, n, side])
            assert at == pytest.approx(r.cutoff[0], abs=1e-8)
    ml = r.ml
    rows, cols = layout.index
    estimate = np.concatenate([np.where(rows == cols, ml.sd[0][rows], ml.corr[0][rows, cols]),
                               ml.sigma, ml.beta[0]])
    assert (r.lower[0] < estimate).all() and (estimate < r.upper[0]).all()


def test_replicates_equal_single_fits():
    """One vectorised call for R replicates gives each replicate's own intervals; a replicate
    the fixed effects fit exactly has NaN intervals."""
    y, X, groups = simulated(7, n_groups=8, size=4, sd=(0.6, 0.4), cor=-0.3, n_reps=6)
    y[3] = X @ [1.0, 2.0]
    layout = ThetaLayout.full(2)
    batch = profile_bounds(CrossProducts.from_arrays(y, X, X, groups), layout)
    assert np.isnan(batch.lower[3]).all() and np.isnan(batch.upper[3]).all()
    assert not batch.converged[3].any()
    for r in (0, 1, 2, 4, 5):
        one = profile_bounds(CrossProducts.from_arrays(y[r], X, X, groups), layout)
        np.testing.assert_allclose(batch.lower[r], one.lower[0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(batch.upper[r], one.upper[0], rtol=1e-10, atol=1e-12)
        assert batch.converged[r].all()


def test_stacked_designs_equal_single_fits():
    """Replicates with their own designs (CrossProducts.stack, as a sweep draws x per
    replicate, with unequal group sizes and scales) get each design's own intervals."""
    layout, items = ThetaLayout.full(2), []
    for seed, scale in zip(range(4), (1.0, 10.0, 0.1, 3.0)):
        rng = np.random.default_rng(seed)
        sizes = rng.integers(3, 6, size=9)
        groups = np.repeat(np.arange(sizes.size), sizes)
        x = scale * rng.normal(size=groups.size)
        X = np.column_stack([np.ones_like(x), x])
        b = rng.normal(size=(sizes.size, 2)) * [0.7, 0.3 / scale]
        y = X @ [1.0, 0.5 / scale] + b[groups, 0] + b[groups, 1] * x + 0.4 * rng.normal(size=x.size)
        items.append(CrossProducts.from_arrays(y, X, X, groups))
    batch = profile_bounds(CrossProducts.stack(items), layout)
    for r, item in enumerate(items):
        one = profile_bounds(item, layout)
        np.testing.assert_allclose(batch.lower[r], one.lower[0], rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(batch.upper[r], one.upper[0], rtol=1e-8, atol=1e-10)
        np.testing.assert_array_equal(batch.converged[r], one.converged[0])
        np.testing.assert_allclose(batch.sigma[r], one.sigma[0], rtol=1e-8)
        np.testing.assert_allclose(batch.re_cov[r], one.re_cov[0], rtol=1e-7, atol=1e-12)


def test_a_saddle_at_a_zero_column_is_left():
    """Near sigma's lower bound of this small data set the inner problem has a saddle where
    the slope's column of Lambda is 0 (the deviance is even across it), above the cut, next
    to the minimum under it: the search must leave the saddle, not stop there."""
    rng = np.random.default_rng(13)
    sizes = rng.integers(3, 6, size=9)
    groups = np.repeat(np.arange(sizes.size), sizes)
    x = 10.0 * rng.normal(size=groups.size)
    X = np.column_stack([np.ones_like(x), x])
    b = rng.normal(size=(sizes.size, 2)) * [0.7, 0.03]
    y = X @ [1.0, 0.05] + b[groups, 0] + b[groups, 1] * x + 0.4 * rng.normal(size=x.size)
    layout = ThetaLayout.full(2)
    r = profile_bounds(CrossProducts.from_arrays(y, X, X, groups), layout)
    assert r.converged.all()
    dense = Dense(y, X, X, groups)
    ml = natural(r.ml.re_cov[0], r.ml.sigma[0])
    at_bound = natural(r.re_cov[0, 3, 0], r.sigma[0, 3, 0])
    profiled = brute_profile(dense, "sigma", -1, r.lower[0, 3], 2, True, [ml, at_bound])
    assert profiled - r.cutoff[0] == pytest.approx(0.0, abs=CUT_ATOL)


@pytest.mark.parametrize("layout", [ThetaLayout.full(2), ThetaLayout.diagonal(2), ThetaLayout.full(3)],
                         ids=["full2", "diagonal2", "full3"])
def test_deviance_gradient_equals_finite_differences(layout):
    """The inner searches' exact gradient (every kind of problem, its coordinates, stacked
    designs of unequal scales) is the central difference of the deviance."""
    items = []
    for seed, scale in zip(range(3), (1.0, 10.0, 0.1)):
        rng = np.random.default_rng(seed)
        groups = np.repeat(np.arange(12), 5)
        X = np.column_stack([np.ones(groups.size), scale * rng.normal(size=(groups.size, 2))])
        b = rng.normal(size=(12, 3)) * [0.7, 0.3 / scale, 0.2 / scale]
        y = X @ [1.0, 0.5 / scale, -0.2 / scale] + (X * b[groups]).sum(axis=1) + 0.4 * rng.normal(size=groups.size)
        items.append(CrossProducts.from_arrays(y, X, X[:, :layout.q], groups))
    cp = CrossProducts.stack(items)
    ml = fit(cp, layout, reml=False)
    problems = _problems(layout, cp.n_fixed)
    case = _Case.build(cp, layout, problems, ml, np.arange(cp.n_reps), ml.value + 3.84)
    rng = np.random.default_rng(9)
    n, d = case.x0.shape
    points = np.maximum(case.x0[:, None] + rng.normal(scale=0.1, size=(n, 3, d)), case.problems.lower[:, None])
    which = np.arange(n)
    value, gradient = case.func(which, points, gradient=True)
    np.testing.assert_array_equal(value, case.func(which, points))
    h = 1e-5
    for i in range(d):
        step = h * np.eye(d)[i]
        central = (case.func(which, points + step) - case.func(which, points - step)) / (2 * h)
        np.testing.assert_allclose(gradient[..., i], central, rtol=1e-6, atol=1e-6)


def test_unbalanced_groups_and_three_fixed_effects():
    """Groups of 2 to 6 rows, a third fixed effect that varies within groups."""
    rng = np.random.default_rng(3)
    sizes = rng.integers(2, 7, size=12)
    groups = np.repeat(np.arange(sizes.size), sizes)
    x = rng.normal(size=groups.size)
    X = np.column_stack([np.ones_like(x), x, rng.normal(size=groups.size)])
    Z = X[:, :2]
    b = rng.normal(size=(sizes.size, 2)) * [0.8, 0.4]
    y = X @ [1.0, 0.5, -0.3] + b[groups, 0] + b[groups, 1] * x + 0.5 * rng.normal(size=groups.size)
    layout = ThetaLayout.full(2)
    result = profile_bounds(CrossProducts.from_arrays(y, X, Z, groups), layout)
    assert result.converged.all()
    assert (result.lower[0] < result.upper[0]).all()
    brute = brute_at_bounds(Dense(y, X, Z, groups), result, layout)
    interior = np.isin(np.stack([result.lower[0], result.upper[0]], axis=-1), (-1.0, 0.0, 1.0),
                       invert=True)
    np.testing.assert_allclose(brute[interior], 0.0, atol=CUT_ATOL)
    assert (brute[~interior] <= 1e-9).all()


# --- arguments --------------------------------------------------------------------------------

def test_level_sets_the_cut():
    y, X, groups = simulated(2)
    cp = CrossProducts.from_arrays(y[0], X, X, groups)
    layout = ThetaLayout.full(2)
    ml = fit(cp, layout, reml=False)
    wide, narrow = profile_bounds(cp, layout, 0.95, ml), profile_bounds(cp, layout, 0.8, ml)
    assert narrow.cutoff[0] - ml.value[0] == pytest.approx(stats.chi2.ppf(0.8, 1), rel=1e-12)
    assert (narrow.lower >= wide.lower).all() and (narrow.upper <= wide.upper).all()
    sigma_and_beta = slice(4, None)                     # never at an end of their range
    assert (narrow.lower[:, sigma_and_beta] > wide.lower[:, sigma_and_beta]).all()
    assert (narrow.upper[:, sigma_and_beta] < wide.upper[:, sigma_and_beta]).all()


def test_a_reml_fit_is_refused():
    y, X, groups = simulated(2)
    cp = CrossProducts.from_arrays(y[0], X, X, groups)
    layout = ThetaLayout.full(2)
    with pytest.raises(ValueError, match="ML deviance"):
        profile_bounds(cp, layout, ml=fit(cp, layout, reml=True))


def test_parameter_kinds_follow_the_layout():
    assert parameter_kinds(ThetaLayout.diagonal(2), 2) == [
        ("sd", 0, 0), ("sd", 1, 1), ("sigma", -1, -1), ("beta", 0, -1), ("beta", 1, -1)]
    kinds = parameter_kinds(ThetaLayout.full(3), 1)
    assert [k[:2] for k in kinds[:6]] == [("sd", 0), ("cor", 1), ("cor", 2), ("sd", 1), ("cor", 2),
                                          ("sd", 2)]
    assert len(kinds) == len(parameter_names(["a"], ["x", "y", "z"], "g"))
