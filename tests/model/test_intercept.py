"""The exact engine against independent dense computations and brute-force optimisation."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, stats

import simlab
from simlab.model.estimates import group_sums
from simlab.model.intercept_profile import _z_roots, profile_bounds
from simlab.model.intercept import (GroupSums, bracketed_root, criterion, criterion_slope,
                                    equilibrated_inverse, fit_theta, matvec, pieces)


@pytest.fixture(scope="module")
def design():
    data = simlab.simulate(15, (2, 6), 0.7, 1.0, seed=5)   # unbalanced groups
    return simlab.lmer("y ~ x + (1 | group)", data).design


def dense_ml_deviance(design, beta, tau, sigma):
    """-2 log N(y; X beta, sigma^2 I + tau^2 Z Z') by brute force."""
    Z = np.eye(design.n_groups)[design.groups]
    V = sigma ** 2 * np.eye(design.nobs) + tau ** 2 * Z @ Z.T
    return -2 * stats.multivariate_normal(design.X @ beta, V).logpdf(design.y)


def dense_reml_criterion(design, tau, sigma):
    Z = np.eye(design.n_groups)[design.groups]
    V = sigma ** 2 * np.eye(design.nobs) + tau ** 2 * Z @ Z.T
    Vi = np.linalg.inv(V)
    XtViX = design.X.T @ Vi @ design.X
    beta = np.linalg.solve(XtViX, design.X.T @ Vi @ design.y)
    r = design.y - design.X @ beta
    n, p = design.X.shape
    return ((n - p) * np.log(2 * np.pi) + np.linalg.slogdet(V)[1] + np.linalg.slogdet(XtViX)[1]
            + r @ Vi @ r)


@pytest.mark.parametrize("reml", [True, False])
def test_profiled_criterion_equals_dense_likelihood(design, reml):
    sums = group_sums(design)
    for theta in [0.0, 0.3, 1.0, 4.0]:
        p = pieces(sums, np.array([[theta ** 2]]))
        dof = design.nobs - (design.X.shape[1] if reml else 0)
        sigma = np.sqrt(p.r2[0, 0] / dof)
        dense = (dense_reml_criterion(design, theta * sigma, sigma) if reml
                 else dense_ml_deviance(design, p.beta[0, 0], theta * sigma, sigma))
        assert criterion(p, reml)[0, 0] == pytest.approx(dense, rel=1e-10)


@pytest.mark.parametrize("reml", [True, False])
def test_slope_is_the_derivative(design, reml):
    sums = group_sums(design)
    s, h = np.array([[0.6]]), 1e-6
    numeric = (criterion(pieces(sums, s + h), reml) - criterion(pieces(sums, s - h), reml)) / (2 * h)
    assert criterion_slope(sums, pieces(sums, s), reml)[0, 0] == pytest.approx(numeric[0, 0], rel=1e-6)


@pytest.mark.parametrize("reml", [True, False])
def test_optimum_beats_brute_force(design, reml):
    sums = group_sums(design)
    fit = fit_theta(sums, reml)
    brute = optimize.minimize_scalar(
        lambda t: criterion(pieces(sums, np.array([[t ** 2]])), reml)[0, 0],
        bounds=(0, 10), method="bounded", options={"xatol": 1e-10})
    assert fit.value[0] <= brute.fun + 1e-12
    assert fit.theta[0] == pytest.approx(brute.x, rel=1e-4)
    assert abs(criterion_slope(sums, pieces(sums, fit.theta[:, None] ** 2), reml)[0, 0]) < 1e-8


def test_batch_equals_one_at_a_time():
    reps = [simlab.simulate(20, 3, 0.5, 0.25, seed=s) for s in range(6)]
    one = [fit_theta(group_sums(simlab.lmer("y ~ x + (1 | group)", d).design)) for d in reps]
    design = simlab.lmer("y ~ x + (1 | group)", reps[0]).design
    X = np.stack([np.column_stack([np.ones(60), d["x"]]) for d in reps])
    batch = fit_theta(GroupSums.from_arrays(np.stack([d["y"] for d in reps]), X, design.groups, 20))
    np.testing.assert_allclose(batch.theta, [f.theta[0] for f in one], rtol=1e-12)
    np.testing.assert_allclose(batch.beta, np.vstack([f.beta for f in one]), rtol=1e-12)
    bounds = profile_bounds(GroupSums.from_arrays(np.stack([d["y"] for d in reps]), X, design.groups, 20))
    single = profile_bounds(group_sums(simlab.lmer("y ~ x + (1 | group)", reps[3]).design))
    np.testing.assert_allclose(bounds.lower[3], single.lower[0], rtol=1e-10)


def _dense_maxima(sums, bounds, cutoff, points=4001):
    """Each objective's largest value on a dense grid over the admissible theta range."""
    from simlab.model.intercept_profile import _objectives

    lo, hi = bounds.theta_range.T
    grid = lo[:, None] + (hi - lo)[:, None] * np.linspace(0, 1, points)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _objectives(sums, grid, cutoff).max(axis=1)


@pytest.mark.parametrize("tau, sizes", [(0.5, [3] * 40), (0.05, [2, 3, 5, 4] * 10),
                                        (2.0, [2, 6, 3, 4] * 10)])
def test_profile_bounds_are_the_maxima_over_theta(tau, sizes):
    """Against a dense grid: no grid value beyond a bound, none far inside (to the grid's step).

    Replicates of a stack with x and a cluster-level z; small tau gives the
    admissible range ending at theta = 0 (the tau bound is then 0).
    """
    rng = np.random.default_rng(5)
    groups = np.repeat(np.arange(len(sizes)), sizes)
    x = rng.standard_normal((30, groups.size))
    z = rng.standard_normal((30, len(sizes)))[:, groups]
    y = 1 + 0.3 * x + tau * rng.standard_normal((30, len(sizes)))[:, groups] + rng.standard_normal(x.shape)
    sums = GroupSums.from_arrays(y, np.stack([np.ones_like(x), x, z], axis=-1), groups, len(sizes))
    bounds = profile_bounds(sums)
    cutoff = fit_theta(sums, reml=False).value + stats.chi2.ppf(0.95, 1)
    dense = _dense_maxima(sums, bounds, cutoff)
    found = np.empty_like(dense)
    found[:, 0::2], found[:, 1::2] = -bounds.lower, bounds.upper
    at_zero = bounds.theta_range[:, 0] == 0
    found[at_zero, 0] = dense[at_zero, 0]          # set to 0 there, the grid says -theta sigma_lo
    width = bounds.upper - bounds.lower
    scale = np.repeat(width, 2, axis=1)
    assert (dense <= found + 1e-12 * scale).all()
    assert (found - dense <= 1e-4 * scale).all()   # maxima near an end vary like a sqrt
    if tau == 0.05:
        assert at_zero.any() and (bounds.lower[at_zero, 0] == 0).all()


def test_profile_bounds_sit_on_the_cutoff(design):
    """At each fixed-effect bound the constrained ML deviance equals min + chi2(0.95)."""
    sums = group_sums(design)
    bounds = profile_bounds(sums)
    ml = fit_theta(sums, reml=False)
    cutoff = ml.value[0] + stats.chi2.ppf(0.95, 1)
    for j in range(design.X.shape[1]):
        for bound in (bounds.lower[0, 2 + j], bounds.upper[0, 2 + j]):
            fixed = sums.with_response_column(j, np.array([bound]))
            assert fit_theta(fixed, reml=False).value[0] == pytest.approx(cutoff, abs=1e-7)


def test_sigma_bounds_sit_on_the_cutoff(design):
    sums = group_sums(design)
    bounds = profile_bounds(sums)
    cutoff = fit_theta(sums, reml=False).value[0] + stats.chi2.ppf(0.95, 1)

    def profiled(sigma):   # minimise over tau (theta) with sigma fixed
        def dev(theta):
            p = pieces(sums, np.array([[theta ** 2]]))
            return (design.nobs * np.log(2 * np.pi * sigma ** 2) + p.logdet_v[0, 0]
                    + p.r2[0, 0] / sigma ** 2)
        return optimize.minimize_scalar(dev, bounds=(0, 20), method="bounded",
                                        options={"xatol": 1e-12}).fun
    for sigma in (bounds.lower[0, 1], bounds.upper[0, 1]):
        assert profiled(sigma) == pytest.approx(cutoff, abs=1e-6)


def test_singular_when_groups_have_equal_means():
    d = simlab.simulate(10, 4, 0.5, 0.5, seed=2)
    d["y"] = d["y"] - d.groupby("group")["y"].transform("mean")
    with pytest.warns(simlab.SingularFitWarning):
        design = simlab.lmer("y ~ 1 + (1 | group)", d).design
    fit = fit_theta(group_sums(design))
    assert fit.singular[0] and fit.theta[0] == 0.0 and fit.converged[0]
    assert criterion_slope(group_sums(design), pieces(group_sums(design), np.zeros((1, 1))), True)[0, 0] >= 0


def test_stacking_pads_size_classes():
    """Replicates with different sets of group sizes stack and fit as if alone."""
    designs = [simlab.lmer("y ~ x + (1 | group)", simlab.simulate(12, sizes, 0.5, 0.5, seed=9)).design
               for sizes in (4, (2, 7))]
    alone = [group_sums(d) for d in designs]
    assert [a.sizes.shape[-1] for a in alone][0] == 1 and alone[1].sizes.shape[-1] > 1
    stacked = fit_theta(GroupSums.stack(alone))
    for i, sums in enumerate(alone):
        single = fit_theta(sums)
        assert stacked.theta[i] == pytest.approx(single.theta[0], rel=1e-10)
        np.testing.assert_allclose(stacked.beta[i], single.beta[0], rtol=1e-10)
    assert list(GroupSums.stack(alone).nobs) == [48, designs[1].nobs]


def test_profile_bounds_on_offset_data_sit_on_the_cutoff(design):
    """with_response_column works in the data's units even when y and x carry large offsets."""
    X = design.X + np.array([0.0, 1e6])
    sums = GroupSums.from_arrays(design.y + 1e7, X, design.groups, design.n_groups)
    bounds = profile_bounds(sums)
    cutoff = fit_theta(sums, reml=False).value[0] + stats.chi2.ppf(0.95, 1)
    for j in range(X.shape[1]):
        for bound in (bounds.lower[0, 2 + j], bounds.upper[0, 2 + j]):
            fixed = sums.with_response_column(j, np.array([bound]))
            assert fit_theta(fixed, reml=False).value[0] == pytest.approx(cutoff, abs=1e-6)
    plain = profile_bounds(group_sums(design))
    np.testing.assert_allclose(bounds.lower[0, [0, 1, 3]], plain.lower[0, [0, 1, 3]], rtol=1e-7)


def test_pieces_are_in_the_data_units(design):
    """Working units are internal: pieces() gives beta, A^-1 and r2 of the data as given."""
    sums = group_sums(design)
    p = pieces(sums, np.array([[0.5]]))
    V = np.eye(design.nobs) + 0.5 * np.eye(design.n_groups)[design.groups] @ np.eye(design.n_groups)[design.groups].T
    Vi = np.linalg.inv(V)
    a = design.X.T @ Vi @ design.X
    beta = np.linalg.solve(a, design.X.T @ Vi @ design.y)
    r = design.y - design.X @ beta
    np.testing.assert_allclose(p.beta[0, 0], beta, rtol=1e-10)
    np.testing.assert_allclose(p.a_inv[0, 0], np.linalg.inv(a), rtol=1e-10)
    assert p.r2[0, 0] == pytest.approx(r @ Vi @ r, rel=1e-10)
    assert p.logdet_a[0, 0] == pytest.approx(np.linalg.slogdet(a)[1], rel=1e-10)


def test_size_classes_pool_every_group_once():
    """Pooled sums equal the per-group sums added up by hand, class by class."""
    rng = np.random.default_rng(3)
    counts = rng.permutation(np.repeat([1, 2, 5, 9], [4, 3, 2, 1]))
    groups = np.repeat(np.arange(counts.size), counts)
    X = np.column_stack([np.ones(groups.size), rng.normal(size=groups.size)])
    sums = GroupSums.from_arrays(rng.normal(size=groups.size), X, groups, counts.size)
    X_w = X @ sums.x_map[0]
    sx = np.add.reduceat(X_w, np.r_[0, np.cumsum(counts)[:-1]])
    np.testing.assert_array_equal(sums.sizes[0], [1, 2, 5, 9])
    np.testing.assert_array_equal(sums.multiplicity[0], [4, 3, 2, 1])
    for k, size in enumerate([1, 2, 5, 9]):
        member = sx[counts == size]
        np.testing.assert_allclose(sums.sxx[0, k], member.T @ member, rtol=1e-13, atol=1e-13)


def test_pooling_memory_is_linear_in_groups():
    """Many distinct sizes must not cost groups x sizes memory (issue 10, item 4)."""
    import tracemalloc
    rng = np.random.default_rng(4)
    counts = np.minimum(rng.zipf(1.9, 40_000), 5_000)          # 353 distinct sizes
    groups = np.repeat(np.arange(counts.size), counts)
    X = np.column_stack([np.ones(groups.size), rng.normal(size=groups.size)])
    y = rng.normal(size=groups.size)
    tracemalloc.start()
    try:
        sums = GroupSums.from_arrays(y, X, groups, counts.size)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sums.sizes.shape[-1] > 300
    # a few copies of the n x p data bound it; a groups x sizes matrix alone is 113 MB
    assert peak < 8 * X.nbytes


@pytest.mark.parametrize("p", [1, 2, 3, 4])
def test_equilibrated_inverse_matches_lapack(p):
    """Cofactor inverses and log determinants equal LAPACK's to rounding; singular is not finite.

    The diagonals span 1e-8 to 1e8, as A's between- and within-group directions do.
    """
    rng = np.random.default_rng(p)
    root = rng.standard_normal((20, 3, p, p))
    scale = np.geomspace(1e-4, 1e4, p)
    a = (root @ np.swapaxes(root, -1, -2) + 0.1 * np.eye(p)) * np.outer(scale, scale)
    inverse, logdet = equilibrated_inverse(a)
    expected = np.linalg.inv(a)
    assert np.abs(inverse - expected).max() <= 1e-12 * np.abs(expected).max()
    assert np.abs(logdet - np.linalg.slogdet(a)[1]).max() <= 1e-12
    assert equilibrated_inverse(a, logdet=False)[1] is None
    if p > 3:       # LAPACK's
        with pytest.raises(np.linalg.LinAlgError):
            equilibrated_inverse(np.ones((1, p, p)))
        return
    with np.errstate(divide="ignore", invalid="ignore"):
        singular, logdet = equilibrated_inverse(np.ones((1, p, p)) - (p == 1))
    assert not np.isfinite(singular).all() and not np.isfinite(logdet[0])


def _bisect_z(k, lo, hi):
    """A root of z - log z = k in [lo, hi] by 200 bisections of log z (f falls then rises at 1)."""
    sign_lo = np.sign(lo - np.log(lo) - k)
    for _ in range(200):
        mid = np.sqrt(lo * hi)
        same = np.sign(mid - np.log(mid) - k) == sign_lo
        lo, hi = np.where(same, mid, lo), np.where(same, hi, mid)
    return np.sqrt(lo * hi)


def test_z_roots_solve_their_equation():
    """Both branches against bisection, next to the branch point k = 1 and far from it.

    Next to it the roots move like ``dk / (1 - 1 / z)``, so k's rounding
    alone moves them by ``eps k z / |z - 1|``: that is the tolerance there.
    """
    k = np.concatenate([1 + np.geomspace(1e-13, 1e-1, 40), np.geomspace(1.2, 300, 40)])
    z_small, z_large = _z_roots(k[None])
    for found, ref in [(z_small[0], _bisect_z(k, np.exp(-k - 1), np.ones_like(k))),
                       (z_large[0], _bisect_z(k, np.ones_like(k), k + 2 * np.log(k) + 1))]:
        tol = 1e-14 * ref + 4 * np.finfo(float).eps * k * ref / np.abs(ref - 1)
        assert (np.abs(found - ref) <= tol).all()
    # At the branch point the roots are 1; k = inf (no residual) gives 0 and inf; NaN stays NaN.
    small, large = _z_roots(np.array([1.0, 1 - 1e-15, np.inf, np.nan]))
    assert small[:3].tolist() == [1.0, 1.0, 0.0] and large[:3].tolist() == [1.0, 1.0, np.inf]
    assert np.isnan(small[3]) and np.isnan(large[3])


def test_tau_bound_next_to_the_end_of_the_theta_range():
    """A lower tau bound whose theta is 1e-5 from the range's end, against a dense search.

    There ``z - log z = k`` is solved 1e-10 from W's branch point, where
    ``scipy.special.lambertw`` (used before) lost half its digits and the
    bound was off by 6e-7 of the interval's width.
    """
    from simlab.study.batch import rep_sums, simulate_rep
    from simlab.study.grid import make_grid

    cell = make_grid({"n_groups": 40, "n_per_group": (2, 7), "tau": 0.3, "sigma": 0.5}).cells[0]
    sums = rep_sums(simulate_rep(cell, 1, 74))
    bounds = profile_bounds(sums)
    cutoff = fit_theta(sums, reml=False).value + stats.chi2.ppf(0.95, 1)
    theta_lo = bounds.theta_range[0, 0]
    theta = theta_lo + np.linspace(0.0, 4e-5, 8001)[1:]
    p = pieces(sums, theta[None] ** 2)
    n = p.nobs
    k = (cutoff[:, None] - n * np.log(2 * np.pi) - p.logdet_v) / n - np.log(p.r2 / n)
    z = _bisect_z(k, np.ones_like(k), np.full_like(k, 2.0))
    dense = (theta * np.sqrt(p.r2 / (n * z))).min()
    width = bounds.upper[0, 0] - bounds.lower[0, 0]
    assert theta_lo > 0 and abs(dense - bounds.lower[0, 0]) < 1e-10 * width


def test_matvec_is_matmul():
    rng = np.random.default_rng(3)
    a, v = rng.standard_normal((4, 5, 3, 2)), rng.standard_normal((4, 5, 2))
    assert np.allclose(matvec(a, v), (a @ v[..., None])[..., 0], rtol=1e-15, atol=1e-15)


def test_take_picks_replicates():
    """Sums of chosen replicates (with repeats) fit as those replicates do."""
    rng = np.random.default_rng(4)
    groups = np.repeat(np.arange(12), 3)
    y = rng.standard_normal((3, groups.size)) + rng.standard_normal((3, 12))[:, groups]
    sums = GroupSums.from_arrays(y, np.ones((groups.size, 1)), groups, 12)
    taken = sums.take(np.array([2, 0, 2]))
    assert taken.n_reps == 3 and taken.sizes.shape[0] == 1      # shared fields stay shared
    assert fit_theta(taken).theta.tolist() == fit_theta(sums).theta[[2, 0, 2]].tolist()


def test_sparse_root_search_evaluates_only_active_elements():
    """``sparse=True``: the same roots, and elements already found are not asked for again."""
    target = np.array([[2.0, 3.0], [5.0, 70.0]])
    asked = []

    def cube(x):
        return x ** 3 - target

    def sparse_cube(x, active):
        asked.append(int(active.sum()))
        return np.where(active, x ** 3 - target, np.nan)    # inactive values must not matter

    args = (np.zeros((2, 2)), np.full((2, 2), 5.0), -target, 125 - target, np.ones((2, 2), bool))
    dense = bracketed_root(cube, *args)
    sparse = bracketed_root(sparse_cube, *args, sparse=True)
    assert sparse[0].tolist() == dense[0].tolist() and sparse[1].tolist() == dense[1].tolist()
    assert np.allclose(sparse[0], np.cbrt(target), rtol=1e-12)
    assert asked[0] == 4 and asked[-1] < 4


@pytest.mark.parametrize("sizes", [[3] * 7, [20] * 4, [2, 5, 1, 3]])
def test_group_totals_and_deviations(sizes):
    """Equal sizes (summed as a reshaped view) and unequal (reduceat) against a loop."""
    from simlab.model.intercept import _group_totals

    counts = np.array(sizes, dtype=float)
    values = np.random.default_rng(6).standard_normal((2, 3, int(counts.sum())))
    totals, dev = _group_totals(values, counts)
    edges = np.concatenate([[0], np.cumsum(sizes)])
    for g, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        block = values[..., lo:hi]
        assert np.allclose(totals[..., g], block.sum(axis=-1), rtol=1e-14, atol=1e-14)
        assert np.allclose(dev[..., lo:hi], block - block.mean(axis=-1, keepdims=True),
                           rtol=1e-13, atol=1e-14)


def test_row_products_are_matmul():
    """Few columns (one dot product per entry, X shared by replicates) and many (matmul)."""
    from simlab.model.intercept import row_products

    rng = np.random.default_rng(8)
    for p, q in [(2, 2), (3, 1), (5, 5)]:
        u, v = rng.standard_normal((1, p, 50)), rng.standard_normal((4, q, 50))
        assert np.allclose(row_products(u, v), u @ np.swapaxes(v, -1, -2), rtol=1e-14, atol=1e-13)


def test_narrow_bracket_keeps_the_sign_change():
    """Brackets shrink 8-fold around the root; a NaN never counts as a sign change."""
    from simlab.model.intercept import narrow_bracket

    target = np.array([[0.3, 0.95], [0.05, 0.5]])
    lo, hi = np.zeros_like(target), np.ones_like(target)

    def func(x):
        return np.where(x > 0.9, np.nan, x - target[..., None])

    new = narrow_bracket(func, lo, hi, -target, 1 - target, 7)
    assert np.allclose(new[1] - new[0], 0.125)
    assert ((new[0] <= target) & (target <= new[1])).all()
    assert new[0][0, 0] == 0.25 and new[2][0, 0] == pytest.approx(-0.05)
    assert new[0][0, 1] == 0.875 and new[1][0, 1] == 1.0     # the NaNs past 0.9 are skipped
    assert new[3][0, 1] == 1 - 0.95
