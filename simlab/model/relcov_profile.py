"""Exact profile-likelihood intervals for the relcov engine (``q`` random effects per group).

lme4's ``confint(method = "profile")`` profiles the ML deviance (even for a
REML fit) over each parameter, in the order of :mod:`.parameters` (the sd's
and correlations of the random effects, ``sigma``, the fixed effects), and
cuts it at ``qchisq(level, 1)``: a bound of ``psi`` is a value ``v`` where
``P(v)``, the minimum of the deviance over the other parameters with
``psi = v``, equals the minimum deviance plus that quantile. This module
finds those roots exactly (to rounding), for every replicate at once.

Each parameter gets coordinates in which it is one coordinate and the
deviance is smooth; ``beta`` is profiled out in closed form
(:func:`~simlab.model.relcov.evaluate`, ``../shared/NOTES.md``), and so is
``sigma`` for a fixed effect:

* ``sigma``: ``(theta, log sigma)``; the deviance is
  ``log det + n log(2 pi sigma^2) + r2(theta) / sigma^2``.
* ``beta_j``: ``(theta, (beta_j - bhat_j) / se_j)``; with the other fixed
  effects and ``sigma`` profiled the deviance is
  ``log det + n (1 + log(2 pi (r2 + (beta_j - b_j(theta))^2 / [A^-1]_jj) / n))``.
* ``sd_j = sigma ||row j of Lambda||``: the rows of ``Lambda`` permuted so
  that ``j`` comes first in its block, the same covariance has a
  lower-triangular factor whose first diagonal entry is ``||row j||``; that
  entry is replaced by ``sigma`` times it (the sd in working units,
  bounded below by 0) and ``log sigma`` is a coordinate.
* ``cor_ij``: with ``j, i`` first in the permuted factor, row ``i`` is
  ``r (cos phi, sin phi)`` and the correlation is ``cos phi``
  (``r >= 0``, ``phi`` in ``[0, pi]``).

The deviance depends on ``Lambda`` only through ``Lambda Lambda'``, which
is what makes these reparametrisations free: the relcov engine takes the
permuted factor as it is (its criterion and derivative hold for any square
factor). A lower sd bound is exactly 0, and a correlation bound exactly -1
or 1, where that end of the range stays under the cut (lme4 reports those
too).

``P`` is found by a projected Newton search over the other coordinates,
vectorised over the problems: the gradient is exact (relcov's derivative in
``Lambda``, by the envelope theorem for the profiled ``beta``, chained
through the coordinates), and the Hessian, which only steers the steps, is
a forward difference of gradients that is carried from point to point along
the profile and updated by BFGS, computed afresh only where its step fails
or near a zero column of ``Lambda`` (where a saddle can hide from it), so
an inner search near the trace costs a few gradients. The root of
``P = cut`` is found by Newton steps on lme4's ``zeta = sqrt(2 (P - min))``,
nearly linear in the parameter (``P``'s slope is the pinned coordinate's
partial derivative at the inner optimum, by the envelope theorem), inside a
shrinking bracket, each inner search starting from the last optimum moved
along the profile trace; far from the cut, the inner searches stop early
(their error a small fraction of ``P - cut``). At the cut, a fresh Hessian
checks that the optimum is a minimum and polishes it with one Newton step.
Where an inner search ends on a face of the bounds (a zero sd, ``r = 0``)
or does not converge, a second one starts from the ML point: the faces can
hold local minima of the inner problem. lme4 instead interpolates a spline
through a sampled profile, so its bounds differ from these exact ones by
about 1e-6 relative, and by up to 1e-3 of the width where its sampling is
coarse (GPA's sds).

This module knows nothing about pandas or formulas: it sees arrays.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

from .ddf import normal_quantile
from .relcov import CrossProducts, RelCovFit, ThetaLayout, _core, _core_gradient, fit

__all__ = ["RelCovProfile", "profile_bounds", "parameter_kinds"]

#: ``func(which, points, gradient=False)``: values (N, m), and gradients (N, m, d) if asked for.
Func = Callable[..., "np.ndarray | tuple[np.ndarray, np.ndarray]"]

#: Forward-difference step of the gradient for the Hessian, relative to ``max(1, |x|)``
#: (working units, where theta is O(1)).
HESSIAN_STEP = 1e-6
#: Step lengths tried at once along a Newton step (one vectorised evaluation).
STEP_FRACTIONS = 0.5 ** np.arange(16.0)
#: A Newton step is at most this many times ``max(1, |x|)`` long.
STEP_CAP = 4.0
#: An inner search is done when its Newton decrement (deviance units) is below this.
DECREMENT_TOL = 1e-12
#: ... or, during a root search, below this times the square of its value's distance from the cut.
INEXACT = 1e-4
#: A kept Hessian is renewed before a search ends this close (relative to ``max(1, |x|)``) to a
#: zero column of Lambda, where a saddle can sit (:func:`_minimise`).
NEAR_PLANE = 1e-2
#: A bound is found when the profiled deviance is this close to the cut.
ROOT_ATOL = 1e-9
#: A step of the root search along the profile trace longer than this fraction of its
#: first step is checked against merely pinning the new value (:meth:`_RootSearch._start`).
TRACE_CHECK = 0.05
MAX_NEWTON = 100
MAX_ROOT = 60

# Problem kinds.
_SD, _COR, _SIGMA, _BETA = 0, 1, 2, 3
_KINDS = {"sd": _SD, "cor": _COR, "sigma": _SIGMA, "beta": _BETA}


@dataclass(frozen=True)
class RelCovProfile:
    """Profile intervals and where they are attained, for every replicate.

    Parameters are in lme4's ``confint`` order (:mod:`.parameters`,
    :func:`parameter_kinds`): for each ``theta`` element in the layout's
    order an sd (diagonal) or a correlation (below it), then ``sigma``, then
    the fixed effects; ``n = k + 1 + p``.

    Attributes
    ----------
    lower, upper : ndarray, shape (R, n)
        The bounds (data units). NaN for replicates with nothing to fit.
    ml : RelCovFit
        The ML fit the deviance is profiled around.
    cutoff : ndarray, shape (R,)
        Minimum ML deviance plus ``qchisq(level, 1)``.
    re_cov : ndarray, shape (R, n, 2, q, q)
        Covariance of the random effects where each parameter's lower
        (``[:, :, 0]``) and upper bound is attained; with ``sigma`` and
        ``beta`` the point of the admissible region's edge at which the
        profile is minimised.
    sigma : ndarray, shape (R, n, 2)
    beta : ndarray, shape (R, n, 2, p)
    converged : ndarray of bool, shape (R, n, 2)
        The search for that bound converged (its profiled deviance is the
        cut to :data:`ROOT_ATOL`, or the bound is an end of the range).
    """

    lower: np.ndarray
    upper: np.ndarray
    ml: RelCovFit
    cutoff: np.ndarray
    re_cov: np.ndarray
    sigma: np.ndarray
    beta: np.ndarray
    converged: np.ndarray


def parameter_kinds(layout: ThetaLayout, n_fixed: int) -> list[tuple[str, int, int]]:
    """``(kind, a, b)`` of every parameter, in :mod:`.parameters` order.

    ``("sd", j, j)``, ``("cor", i, j)`` (random effects ``i > j``),
    ``("sigma", -1, -1)``, ``("beta", j, -1)``.

    >>> parameter_kinds(ThetaLayout.full(2), 2)
    [('sd', 0, 0), ('cor', 1, 0), ('sd', 1, 1), ('sigma', -1, -1), ('beta', 0, -1), ('beta', 1, -1)]
    """
    rows, cols = layout.index
    kinds = [("sd" if a == b else "cor", int(a), int(b)) for a, b in zip(rows, cols)]
    return kinds + [("sigma", -1, -1)] + [("beta", j, -1) for j in range(n_fixed)]


def profile_bounds(cp: CrossProducts, layout: ThetaLayout, level: float = 0.95,
                   ml: RelCovFit | None = None) -> RelCovProfile:
    """Profile-likelihood intervals of every parameter for every replicate.

    Parameters
    ----------
    cp : CrossProducts
        ``R`` replicates, sharing a design or each with its own
        (:meth:`~simlab.model.relcov.CrossProducts.stack`).
    layout : ThetaLayout
    level : float
        Confidence level; the cut is ``qchisq(level, 1)`` above the minimum.
    ml : RelCovFit, optional
        The ML fit of ``cp`` (``fit(cp, layout, reml=False)``), computed if
        not given.

    Returns
    -------
    RelCovProfile
    """
    if ml is None:
        ml = fit(cp, layout, reml=False)
    if ml.reml:
        raise ValueError("the profile is of the ML deviance: pass an ML fit (reml=False)")
    problems = _problems(layout, cp.n_fixed)
    n_prob = problems.kind.size
    cutoff = ml.value + normal_quantile(level) ** 2                   # chi-square(1) quantile
    reps = np.flatnonzero(np.isfinite(ml.value) & np.isfinite(ml.theta_work).all(axis=-1)
                          & (ml.sigma > 0))
    bound = np.full((cp.n_reps, n_prob), np.nan)
    converged = np.zeros((cp.n_reps, n_prob), dtype=bool)
    points = _Point.empty(cp.n_reps, n_prob, layout.q, cp.n_fixed)
    if reps.size:
        case = _Case.build(cp, layout, problems, ml, reps, cutoff)
        value, x, found = _profile_roots(case.func, case.x0, case.problems, case.cutoff)
        bound[reps] = case.bound(value).reshape(reps.size, n_prob)
        converged[reps] = found.reshape(reps.size, n_prob)
        for field, new in zip(points, case.point(x)):
            field[reps] = new.reshape((reps.size, n_prob) + new.shape[1:])
    shape = (cp.n_reps, n_prob // 2, 2)
    return RelCovProfile(
        lower=bound[:, 0::2], upper=bound[:, 1::2], ml=ml, cutoff=cutoff,
        re_cov=points.re_cov.reshape(shape + (layout.q, layout.q)),
        sigma=points.sigma.reshape(shape), beta=points.beta.reshape(shape + (cp.n_fixed,)),
        converged=converged.reshape(shape))


class _Problems(NamedTuple):
    """One row per (parameter, side), lower side first; ``d = k + 1`` coordinates each.

    The first ``k`` coordinates are lme4's ``theta`` layout of a factor
    ``L`` with ``Lambda = L[order]`` (rows), changed as the module
    docstring says for an sd (``pin`` holds ``sigma L_bb``) and a
    correlation (``radius`` holds ``r``, ``pin`` holds ``phi``); the last is
    ``log sigma`` (working units), or for a fixed effect its standardised
    value. ``pin`` is the parameter's coordinate, which moves from the ML
    value in ``direction`` towards ``end``. ``planes`` marks the
    coordinates that are 0 where a column of ``L`` is (its diagonal entry,
    or ``r``): the deviance is even across such a plane, which can hold
    saddles of the inner problem.
    """

    kind: np.ndarray        # (P,)
    side: np.ndarray        # (P,) 0 lower, 1 upper
    order: np.ndarray       # (P, q)
    pin: np.ndarray         # (P,)
    radius: np.ndarray      # (P,) -1 unless a correlation
    effect: np.ndarray      # (P,) random effect (sd) or fixed effect (beta) j, else 0
    lower: np.ndarray       # (P, d)
    direction: np.ndarray   # (P,) +-1
    end: np.ndarray         # (P,) end of the pinned coordinate's range (+-inf if none)
    planes: np.ndarray      # (P, d)


def _problems(layout: ThetaLayout, n_fixed: int) -> _Problems:
    """The problems of every parameter of :func:`parameter_kinds`, both sides."""
    rows, cols = layout.index
    k = layout.size
    sizes = np.repeat(layout.blocks, layout.blocks)
    starts = np.repeat(np.cumsum((0,) + layout.blocks[:-1]), layout.blocks)

    def slot(row: int, col: int) -> int:
        return int(np.flatnonzero((rows == row) & (cols == col))[0])

    table = []
    for kind, a, b in parameter_kinds(layout, n_fixed):
        order, pin, radius, effect = np.arange(layout.q), k, -1, max(a, 0)
        lower = np.full(k + 1, -np.inf)
        planes = np.append(layout.on_diagonal, False)
        if kind in ("sd", "cor"):
            # Effect b (then a, for a correlation) first in its block: Lambda = L[order].
            start = starts[b]
            block = list(range(start, start + sizes[b]))
            first = [b] if kind == "sd" else [b, a]
            perm = np.arange(layout.q)
            perm[block] = first + [v for v in block if v not in first]
            order, pin = np.argsort(perm), slot(start, start)
            lower[pin] = 0.0
        if kind == "cor":
            radius, pin, effect = slot(start + 1, start), slot(start + 1, start + 1), 0
            lower[radius] = 0.0
            planes[[pin, radius]] = False, True          # L's diagonal entry is r sin(phi)
        for side in (0, 1):
            direction = (1 if side else -1) * (-1 if kind == "cor" else 1)   # cos falls with phi
            end = {"sd": (0.0, np.inf), "cor": (np.pi, 0.0)}.get(kind, (-np.inf, np.inf))[side]
            table.append((_KINDS[kind], side, order, pin, radius, effect, lower, direction, end,
                          planes))
    return _Problems(*(np.array(column) for column in zip(*table)))


class _Point(NamedTuple):
    """Parameters (data units) where a bound is attained, per problem."""

    re_cov: np.ndarray      # (..., q, q)
    sigma: np.ndarray       # (...,)
    beta: np.ndarray        # (..., p)

    @classmethod
    def empty(cls, n_reps: int, n_prob: int, q: int, p: int) -> "_Point":
        return cls(np.full((n_reps, n_prob, q, q), np.nan), np.full((n_reps, n_prob), np.nan),
                   np.full((n_reps, n_prob, p), np.nan))


@dataclass(frozen=True)
class _Case:
    """Every problem of the replicates profiled, flattened (N = replicates x problems).

    ``rep`` (N,) is each problem's replicate in ``cp``; ``beta_ml`` and
    ``se`` (N,) are the ML fixed effect and its standard error that
    standardise a fixed effect's coordinate.
    """

    cp: CrossProducts
    rep: np.ndarray
    layout: ThetaLayout
    problems: _Problems
    cutoff: np.ndarray
    x0: np.ndarray
    beta_ml: np.ndarray
    se: np.ndarray

    @classmethod
    def build(cls, cp: CrossProducts, layout: ThetaLayout, problems: _Problems, ml: RelCovFit,
              reps: np.ndarray, cutoff: np.ndarray) -> "_Case":
        n_prob = problems.kind.size
        rep_of = np.repeat(reps, n_prob)
        flat = _Problems(*(np.tile(f, (reps.size,) + (1,) * (f.ndim - 1)) for f in problems))
        j = flat.effect
        se = np.sqrt(ml.vcov[rep_of, j, j])
        sigma_w = ml.sigma[reps] / cp.y_scale[reps]
        x0 = _coordinates(layout, problems, ml.theta_work[reps], sigma_w).reshape(rep_of.size, -1)
        return cls(cp, rep_of, layout, flat, cutoff[rep_of], x0, ml.beta[rep_of, j], se)

    def func(self, which: np.ndarray, points: np.ndarray,
             gradient: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """The deviance (len(which), m) of problems ``which`` at coordinates ``points``; NaN -> inf.

        With ``gradient``, also its exact derivative in the coordinates
        (len(which), m, d) (:meth:`_gradient`).
        """
        kern, k, rep = self.cp._kernel, self.layout.size, self.rep[which]
        lam = _lam(self.layout, self.problems, which, points)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # Straight from the kernel's coefficients of each problem's replicate: evaluate()
            # would also build H^-1 of every class, which the deviance does not need.
            core = _core(self.cp, kern, rep, lam, reml=False)
            scale = self.cp.y_scale[rep, None]
            r2, n = core.r2 * scale ** 2, self._nobs(which)[:, None]
            log_sigma = points[..., k] + np.log(scale)                   # data units
            value = core.logdet_h + n * (np.log(2 * np.pi) + 2 * log_sigma) + r2 * np.exp(-2 * log_sigma)
            # The weight of dr2 (working units) in the derivative, the beta where r2 is
            # minimised, and the derivative in the last coordinate.
            weight = np.exp(-2 * points[..., k])
            beta, last = core.beta, 2 * n - 2 * core.r2 * weight
            rows = np.flatnonzero(self.problems.kind[which] == _BETA)
            if rows.size:
                a_inv = core.a_inv[rows][..., kern.p_lookup]
                shift, a_jj, column = self._fixed_effect(which[rows], core.beta[rows], a_inv,
                                                         points[rows, :, -1])
                rss = r2[rows] + shift ** 2 / a_jj
                value[rows] = core.logdet_h[rows] + n[rows] * (1 + np.log(2 * np.pi * rss / n[rows]))
                # With beta_j fixed the others follow: beta + shift / a_jj A^-1 M'e_j (working).
                beta = beta.copy()
                beta[rows] += (shift / (a_jj * scale[rows]))[..., None] * column
                weight[rows] = n[rows] * scale[rows] ** 2 / rss
                last[rows] = n[rows] / rss * 2 * shift * self.se[which[rows], None] / a_jj
        value = np.where(np.isnan(value), np.inf, value)
        if not gradient:
            return value
        return value, self._gradient(which, points, lam, core, beta, weight, last)

    def _gradient(self, which: np.ndarray, points: np.ndarray, lam: np.ndarray, core,
                  beta: np.ndarray, weight: np.ndarray, last: np.ndarray) -> np.ndarray:
        """The derivative of :meth:`func` in the coordinates ``points`` (N, m, d).

        The deviance is ``log det + weight r2`` up to terms without
        ``Lambda``, ``r2`` the penalised residual sum of squares (working
        units) at ``beta``, where it is minimised over the free fixed
        effects: by the envelope theorem its derivative in ``Lambda`` is
        relcov's (:func:`~simlab.model.relcov._core_gradient`) with that
        weight and ``beta``. ``last`` is the derivative in the last
        coordinate with ``Lambda`` fixed; :func:`_chain` does the rest.
        """
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            g_lam = _core_gradient(self.cp._kernel, self.rep[which], lam, core.w, core.a_inv, beta,
                                   weight, reml=False)
            return _chain(self.layout, self.problems, which, points, g_lam, last)

    def _fixed_effect(self, which: np.ndarray, beta: np.ndarray, a_inv: np.ndarray,
                      standardised: np.ndarray) -> tuple[np.ndarray, ...]:
        """For fixed-effect problems ``which``: ``beta_j - bhat_j``, ``[A^-1]_jj``, ``A_w^-1 M' e_j``.

        ``beta`` (r, m, p) and ``a_inv`` (r, m, p, p) in working units at
        the problems' standardised values of ``beta_j``. In the data's units
        ``bhat = y_scale M b_w + beta0`` and ``A^-1 = M A_w^-1 M'`` (the
        scale cancels in the penalty ``(beta_j - bhat_j)^2 / [A^-1]_jj``).
        """
        cp, rep, effect = self.cp, self.rep[which], self.problems.effect[which]
        m_row = self._x_maps(which)[np.arange(which.size), effect]                # (r, p)
        b_hat = (cp.y_scale[rep, None] * np.einsum("rp,rmp->rm", m_row, beta)
                 + cp.beta_offset[rep, effect][:, None])
        column = np.einsum("rmpq,rq->rmp", a_inv, m_row)                           # A_w^-1 M' e_j
        a_jj = np.einsum("rmp,rp->rm", column, m_row)
        target = self.beta_ml[which, None] + self.se[which, None] * standardised
        return target - b_hat, a_jj, column

    def _nobs(self, which: np.ndarray) -> np.ndarray:
        """Rows of the replicate of each problem in ``which``."""
        return np.broadcast_to(self.cp.nobs, self.cp.n_reps)[self.rep[which]]

    def _x_maps(self, which: np.ndarray) -> np.ndarray:
        """``M`` (N, p, p) of the design of each problem in ``which`` (one per replicate when stacked)."""
        maps = self.cp.x_map
        if self.cp.stacked:
            return maps[self.rep[which]]
        return np.broadcast_to(maps[0], (which.size,) + maps.shape[1:])

    def _z_scales(self, which: np.ndarray) -> np.ndarray:
        """``z_scale`` (N, q) of the design of each problem in ``which``."""
        scales = self.cp.z_scale
        if self.cp.stacked:
            return scales[self.rep[which]]
        return np.broadcast_to(scales, (which.size, scales.size))

    def bound(self, value: np.ndarray) -> np.ndarray:
        """The parameter (data units) at its pinned coordinate ``value`` (N,)."""
        kind, scale = self.problems.kind, self.cp.y_scale[self.rep]
        z_scale = self._z_scales(np.arange(kind.size))[
            np.arange(kind.size), np.where(kind == _SD, self.problems.effect, 0)]
        return np.select(
            [kind == _SD, kind == _COR, kind == _SIGMA],
            [value * scale / z_scale, np.cos(value),
             scale * np.exp(value)], self.beta_ml + self.se * value)

    def point(self, x: np.ndarray) -> _Point:
        """Covariance, sigma and fixed effects at coordinates ``x`` (N, d)."""
        every = np.arange(x.shape[0])
        points = x[:, None]
        lam = _lam(self.layout, self.problems, every, points)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            core = _core(self.cp, self.cp._kernel, self.rep, lam, reml=False)
            a_inv = core.a_inv[..., self.cp._kernel.p_lookup]
            scale, n = self.cp.y_scale[self.rep], self._nobs(every)
            sigma = scale * np.exp(x[:, -1])
            beta = (scale[:, None] * (self._x_maps(every) @ core.beta[:, 0, :, None])[..., 0]
                    + self.cp.beta_offset[self.rep])
            rows = np.flatnonzero(self.problems.kind == _BETA)
            if rows.size:
                shift, a_jj, column = self._fixed_effect(rows, core.beta[rows], a_inv[rows],
                                                         x[rows, None, -1])
                rss = core.r2[rows, 0] * scale[rows] ** 2 + shift[:, 0] ** 2 / a_jj[:, 0]
                sigma[rows] = np.sqrt(rss / n[rows])
                column = (self._x_maps(rows) @ column[:, 0, :, None])[..., 0]     # M A_w^-1 M'e_j
                beta[rows] += (shift / a_jj)[:, 0, None] * column
            lam_data = lam[:, 0] / self._z_scales(every)[:, :, None]
            re_cov = sigma[:, None, None] ** 2 * (lam_data @ np.swapaxes(lam_data, -1, -2))
        return _Point(re_cov, sigma, beta)


def _coordinates(layout: ThetaLayout, problems: _Problems, theta_work: np.ndarray,
                 sigma_w: np.ndarray) -> np.ndarray:
    """Each problem's coordinates (R, P, d) at the ML working ``theta`` (R, k) and sigma (R,).

    The factor of the permuted covariance comes from a QR decomposition of
    the permuted ``Lambda`` (``Lambda_p' = Q R`` gives ``Lambda_p Lambda_p' = R'R``),
    which also works for a singular covariance; signs make its diagonal >= 0.
    """
    lam = layout.lam(theta_work)                                       # (R, q, q)
    permuted = lam[:, np.argsort(problems.order, axis=-1)]             # (R, P, q, q): rows permuted
    upper = np.linalg.qr(np.swapaxes(permuted, -1, -2), mode="r")
    signs = np.where(np.diagonal(upper, axis1=-2, axis2=-1) < 0, -1.0, 1.0)
    theta = layout.theta(np.swapaxes(upper * signs[..., :, None], -1, -2))   # (R, P, k)
    x = np.concatenate([theta, np.broadcast_to(np.log(sigma_w)[:, None, None],
                                               theta.shape[:2] + (1,))], axis=-1)
    kind, pin = problems.kind, problems.pin
    sd, cor = np.flatnonzero(kind == _SD), np.flatnonzero(kind == _COR)
    x[:, sd, pin[sd]] *= sigma_w[:, None]
    u, v = x[:, cor, problems.radius[cor]], x[:, cor, pin[cor]]
    x[:, cor, problems.radius[cor]], x[:, cor, pin[cor]] = np.hypot(u, v), np.arctan2(v, u)
    x[:, kind == _BETA, -1] = 0.0
    return x


def _lam(layout: ThetaLayout, problems: _Problems, which: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Working ``Lambda`` (N, m, q, q) at coordinates ``x`` (N, m, d) of problems ``which`` (N,)."""
    theta = x[..., :layout.size].copy()
    kind, pin = problems.kind[which], problems.pin[which]
    m = np.arange(x.shape[1])[None, :]
    sd = np.flatnonzero(kind == _SD)[:, None]
    if sd.size:          # the coordinate is sigma ||row||
        theta[sd, m, pin[sd]] = x[sd, m, pin[sd]] * np.exp(-x[sd, m, -1])
    cor = np.flatnonzero(kind == _COR)[:, None]
    if cor.size:
        radius = problems.radius[which][cor]
        r, phi = x[cor, m, radius], x[cor, m, pin[cor]]
        theta[cor, m, radius], theta[cor, m, pin[cor]] = r * np.cos(phi), r * np.sin(phi)
    lam = layout.lam(theta)
    order = problems.order[which]
    moved = np.flatnonzero((order != np.arange(layout.q)).any(axis=-1))
    if moved.size:       # Lambda = L[order]: relcov needs Lambda Lambda' only, any square factor
        rows = np.broadcast_to(order[moved][:, None, :, None], lam[moved].shape[:-1] + (1,))
        lam[moved] = np.take_along_axis(lam[moved], rows, axis=-2)
    return lam


def _chain(layout: ThetaLayout, problems: _Problems, which: np.ndarray, x: np.ndarray,
           g_lam: np.ndarray, last: np.ndarray) -> np.ndarray:
    """The gradient in the coordinates ``x`` (N, m, d) from that in ``Lambda`` (:func:`_lam`).

    ``g_lam`` (N, m, q, q) is the derivative in ``Lambda = L[order]``, so
    row ``order[i]`` of ``L`` gets row ``i``; ``theta`` holds ``L``'s free
    entries, changed for an sd (``sigma L_bb``, with ``log sigma``) and a
    correlation (polar ``r, phi``); ``last`` (N, m) is the derivative in the
    last coordinate at fixed ``Lambda``.
    """
    k = layout.size
    back = np.argsort(problems.order[which], axis=-1)                  # the inverse permutation
    g_l = np.take_along_axis(g_lam, back[:, None, :, None], axis=-2)
    grad = np.concatenate([layout.theta(g_l), last[..., None]], axis=-1)
    kind, pin = problems.kind[which], problems.pin[which]
    m = np.arange(x.shape[1])[None, :]
    sd = np.flatnonzero(kind == _SD)[:, None]
    if sd.size:          # theta_pin = x_pin exp(-x_k)
        g, factor = grad[sd, m, pin[sd]], np.exp(-x[sd, m, k])
        grad[sd, m, pin[sd]] = g * factor
        grad[sd, m, k] -= g * x[sd, m, pin[sd]] * factor
    cor = np.flatnonzero(kind == _COR)[:, None]
    if cor.size:         # (theta_radius, theta_pin) = r (cos phi, sin phi)
        radius = problems.radius[which][cor]
        g_r, g_p = grad[cor, m, radius], grad[cor, m, pin[cor]]
        r, phi = x[cor, m, radius], x[cor, m, pin[cor]]
        cos, sin = np.cos(phi), np.sin(phi)
        grad[cor, m, radius] = g_r * cos + g_p * sin
        grad[cor, m, pin[cor]] = r * (g_p * cos - g_r * sin)
    return grad


def _profile_roots(func: Func, x0: np.ndarray,
                   problems: _Problems, cutoff: np.ndarray) -> tuple[np.ndarray, ...]:
    """The pinned coordinate's value at each bound (N,), the coordinates there, convergence.

    ``P(v)``, the deviance minimised over the other coordinates with the
    pinned one at ``v``, rises from the minimum at the ML value ``v0``: a
    first step from its curvature at ``v0``, then Newton steps on ``zeta``
    (:meth:`_RootSearch._newton`) inside the bracket (bisection where they
    leave it; going outwards until there is one), the end of the range
    where a step would pass it. Where
    ``P`` at a finite end stays under the cut, that end is the bound; a
    search that ends there without meeting the cut checks the end once
    more from where it got to. The optima at the ends are then searched to
    the full tolerance, and polished (:func:`_polish`).
    """
    n = x0.shape[0]
    rows = np.arange(n)
    pin, end = problems.pin, problems.end
    pinned = np.zeros_like(x0, dtype=bool)
    pinned[rows, pin] = True
    inner = _Inner(func, problems.lower, cutoff, pinned, problems.planes)
    # At the ML point both sides of a parameter are one problem: one search serves both.
    lower = np.flatnonzero(problems.side == 0)
    at_ml = inner(lower, x0[lower], exact=True)
    twin = np.searchsorted(lower, rows - problems.side)
    search = _RootSearch.start(_Local(*(field[twin] for field in at_ml)), pin, problems.direction,
                               end, cutoff)
    value, state, converged = search.run(inner)
    missed = rows[~converged & np.isfinite(end)]
    at_end, res = _admissible_end(inner, missed, state.x[missed], pin, end, cutoff)
    value[at_end], converged[at_end] = end[at_end], True
    for field, new in zip(state, res):
        field[at_end] = new
    # The root search took these at its loose tolerance (INEXACT): their optima to the full one.
    ends = rows[converged & (value == end)]
    if ends.size:
        state.x[ends] = _polish(inner, ends, inner(ends, state.x[ends], exact=True))[1]
    return value, state.x, converged


def _polish(inner: _Inner, which: np.ndarray, state: _Local) -> tuple[np.ndarray, ...]:
    """Whether the inner optima ``state`` of problems ``which`` are minima, and their polished
    coordinates (N, d), values (N,) and a fresh Hessian (its pinned diagonal entry 0).

    The searches keep their Hessian from point to point and stop at a
    Newton decrement of about 1e-11 (their tolerance, or the value's
    rounding): a kept Hessian can miss a saddle's negative curvature, and
    the coordinates can be ``sqrt(decrement / curvature)``, 1e-7, off. A
    fresh Hessian checks the curvature, and its Newton step squares the
    error; the value, which cannot show that decrease through rounding,
    may only not rise.
    """
    x, value, grad = state.x, state.value, state.grad
    if not which.size:
        return np.zeros(0, dtype=bool), x, value, state.hess
    hess = _hessian(inner.func, which, x, grad, skip=np.argmax(inner.pinned[which], axis=-1))
    low = inner.lower[which]
    free = ~inner.pinned[which] & ~((x <= low) & (grad > 0))
    step, downward = _newton_step(grad, hess, free, x)
    trial = np.maximum(x + step, low)
    after = inner.func(which, trial[:, None])[:, 0]
    keep = ~downward & (after <= value + 1e-13 * np.abs(value))
    return ~downward, np.where(keep[:, None], trial, x), np.where(keep, after, value), hess


class _Inner(NamedTuple):
    """The inner search of problems ``which`` with their pinned coordinates fixed.

    ``hess``, Hessians of nearby points (the last on the profile's trace),
    spares the search computing its first (:func:`_minimise`).
    """

    func: Func
    lower: np.ndarray
    cutoff: np.ndarray
    pinned: np.ndarray
    planes: np.ndarray

    def __call__(self, which: np.ndarray, start: np.ndarray, hess: np.ndarray | None = None,
                 exact: bool = False) -> _Local:
        low, cut = self.lower[which], self.cutoff[which]

        def tol(w: np.ndarray, value: np.ndarray) -> np.ndarray:
            # Far from the cut the root search needs P only to a fraction of the distance
            # (the decrement bounds the error of P and, as its square root, of P's slope);
            # at the root, |P - cut| <= ROOT_ATOL, this is DECREMENT_TOL.
            if exact:
                return np.full(w.size, DECREMENT_TOL)
            return np.maximum(DECREMENT_TOL, INEXACT * (value - cut[w]) ** 2)

        return _minimise(lambda w, pts, gradient=False: self.func(which[w], pts, gradient),
                         np.maximum(start, low), low, tol, self.pinned[which], hess,
                         self.planes[which])


def _admissible_end(inner: _Inner, which: np.ndarray, start: np.ndarray, pin: np.ndarray,
                    end: np.ndarray, cutoff: np.ndarray) -> tuple[np.ndarray, _Local]:
    """``(problems, inner optima)``: those of ``which`` whose ``P(end)`` is under the cut.

    A point under the cut at the end proves the end admissible, whether or
    not its search converged.
    """
    res = inner(which, _pinned_at(start, pin[which], end[which]))
    under = res.value <= cutoff[which]
    return which[under], _Local(*(field[under] for field in res))


def _pinned_at(x: np.ndarray, pin: np.ndarray, value: np.ndarray) -> np.ndarray:
    out = x.copy()
    out[np.arange(x.shape[0]), pin] = value
    return out


@dataclass
class _RootSearch:
    """Bracketed Newton search for ``P(v) = cut`` of N problems (mutable state).

    ``state`` is the inner optimum at the last ``v`` of each problem
    (``origin`` its coordinates at the ML fit); the bracket is
    ``[v_in, v_out]`` with ``P(v_in) < cut`` (``v_out`` infinite until a
    value above the cut is found); ``end`` is the end of the pinned
    coordinate's range (infinite if none); ``reach`` is the first step, from
    the curvature of ``P`` at the ML value ``v0``, where ``P`` is ``minimum``.
    """

    state: _Local
    origin: np.ndarray
    pin: np.ndarray
    direction: np.ndarray
    cutoff: np.ndarray
    minimum: np.ndarray
    v0: np.ndarray
    v_in: np.ndarray
    v_out: np.ndarray
    end: np.ndarray
    reach: np.ndarray

    @classmethod
    def start(cls, state: _Local, pin: np.ndarray, direction: np.ndarray, end: np.ndarray,
              cutoff: np.ndarray) -> "_RootSearch":
        v0 = state.x[np.arange(pin.size), pin]
        _, curvature = _trace(state, pin)
        with np.errstate(divide="ignore", invalid="ignore"):
            reach = np.sqrt(2 * np.maximum(cutoff - state.value, 0.0) / np.abs(curvature))
        usable = np.isfinite(reach) & (reach > 0)
        reach = np.where(usable, reach, 0.1 * np.maximum(1.0, np.abs(v0)))
        if np.isfinite(end).any():     # not past a finite end
            reach = np.where(np.isfinite(end), np.minimum(reach, np.abs(end - v0)), reach)
        return cls(state, state.x.copy(), pin, direction, cutoff, state.value.copy(), v0,
                   v0.copy(), direction * np.inf, end.astype(float), reach)

    def run(self, inner: _Inner) -> tuple[np.ndarray, _Local, np.ndarray]:
        """Iterate until ``|P - cut| <= ROOT_ATOL``: ``(v, inner optimum there, converged)``."""
        n = self.v0.size
        candidate = self.v0 + self.direction * self.reach
        found = np.zeros(n, dtype=bool)
        active = np.arange(n)
        for _ in range(MAX_ROOT):
            v = self._next(candidate[active], active)
            pin = self.pin[active]
            du, _ = _trace(_Local(*(field[active] for field in self.state)), pin)
            x = self.state.x[active]
            ahead = _pinned_at(x + du * (v - x[np.arange(active.size), pin])[:, None], pin, v)
            res = self._inner(inner, active, self._start(inner, active, ahead, v), v)
            for field, new in zip(self.state, res):
                field[active] = new
            res = self._polish(inner, active, res)         # at the cut: a minimum, to rounding
            excess = res.value - self.cutoff[active]
            # A value under the cut proves P(v) < cut; over it, only a converged search does.
            below, above = excess < 0, (excess >= 0) & res.converged
            at_end = below & (v == self.end[active])         # the end is admissible: the bound
            self.v_in[active] = np.where(below, v, self.v_in[active])
            self.v_out[active] = np.where(above, v, self.v_out[active])
            newton = self._newton(v, res, active)
            candidate[active] = np.where(below | above, newton, 0.5 * (v + self.v_in[active]))
            hit = ((np.abs(excess) <= ROOT_ATOL) & res.converged) | at_end
            narrow = np.abs(self.v_out[active] - self.v_in[active]) <= 1e-13 * np.maximum(1, np.abs(v))
            found[active[hit]] = True
            active = active[~(hit | narrow)]
            if not active.size:
                break
        return self.state.x[np.arange(n), self.pin], self.state, found

    def _polish(self, inner: _Inner, active: np.ndarray, res: _Local) -> _Local:
        """``res`` with the optima at the cut (to :data:`ROOT_ATOL`) checked and polished.

        :func:`_polish`: a saddle is not converged; a polished optimum has
        its new value (and ``state`` too).
        """
        at_cut = np.abs(res.value - self.cutoff[active]) <= ROOT_ATOL
        close = np.flatnonzero(at_cut & res.converged)
        if not close.size:
            return res
        which = active[close]
        minimum, x, value, hess = _polish(inner, which, _Local(*(field[close] for field in res)))
        res = _Local(*(field.copy() for field in res))
        res.x[close], res.value[close], res.hess[close] = x, value, hess
        res.converged[close] = minimum
        for field, new in zip(self.state, res):
            field[active] = new
        return res

    def _newton(self, v: np.ndarray, res: _Local, active: np.ndarray) -> np.ndarray:
        """Newton's step for ``zeta(v) = zeta(cut)``, ``zeta = sqrt(2 (P - minimum))``.

        ``zeta`` (lme4's profile scale) is nearly linear in ``v`` where ``P``
        is far from quadratic, so its steps converge in fewer iterations;
        ``dzeta/dv = P' / zeta``. It is Newton's step for ``P`` times
        ``2 zeta / (zeta + zeta_cut)``, and that step where ``zeta`` is 0.
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = res.grad[np.arange(active.size), self.pin[active]]
            step = (res.value - self.cutoff[active]) / slope
            zeta = np.sqrt(2 * np.maximum(res.value - self.minimum[active], 0.0))
            zeta_cut = np.sqrt(2 * (self.cutoff[active] - self.minimum[active]))
            factor = np.where(zeta > 0, 2 * zeta / (zeta + zeta_cut), 1.0)
        return v - step * factor

    def _start(self, inner: _Inner, active: np.ndarray, ahead: np.ndarray,
               v: np.ndarray) -> np.ndarray:
        """The inner search's start: along the profile trace, unless merely pinning is better.

        A long step along the trace (its slope taken where the profile bends)
        can land far off; one evaluation of both candidates decides. A short
        one (under :data:`TRACE_CHECK` of the first step) is taken: its error
        is second order in the step, and the check would cost more than it
        saves.
        """
        low = inner.lower[active]
        start = np.maximum(ahead, low)
        step = np.abs(v - self.state.x[active, self.pin[active]])
        long = np.flatnonzero(step > TRACE_CHECK * self.reach[active])
        if long.size:
            stay = _pinned_at(self.state.x[active[long]], self.pin[active[long]], v[long])
            both = np.maximum(np.stack([start[long], stay], axis=1), low[long, None])
            values = inner.func(active[long], both)
            pick = np.argmin(np.nan_to_num(values, nan=np.inf), axis=1)
            start[long] = both[np.arange(long.size), pick]
        return start

    def _inner(self, inner: _Inner, active: np.ndarray, start: np.ndarray,
               v: np.ndarray) -> _Local:
        """``P(v)`` of problems ``active``: the inner search from ``start``, and again from the ML point.

        The second search runs only where the first ends on (or next to) a
        bound, a zero sd or ``r = 0``, or did not converge: such a face can
        hold a local minimum, or a place to get stuck, that a warm start
        slides into while the profile's minimum lies inside.
        """
        res = inner(active, start, self.state.hess[active])    # that of the last point: nearby
        low, pinned = inner.lower[active], inner.pinned[active]
        near = res.x <= low + 1e-8 * np.maximum(1.0, np.abs(res.x))
        on_face = np.flatnonzero((near & np.isfinite(low) & ~pinned).any(axis=-1) | ~res.converged)
        if on_face.size:
            again = inner(active[on_face], _pinned_at(self.origin[active[on_face]],
                                                       self.pin[active[on_face]], v[on_face]))
            better = again.value < res.value[on_face]
            for field, new in zip(res, again):
                field[on_face[better]] = new[better]
        return res

    def _next(self, candidate: np.ndarray, active: np.ndarray) -> np.ndarray:
        """The next ``v``: ``candidate`` if inside the bracket, else bisection or a step outwards."""
        v_in, v_out, direction = self.v_in[active], self.v_out[active], self.direction[active]
        bracketed = np.isfinite(v_out)
        inside = (np.isfinite(candidate) & (candidate > np.minimum(v_in, v_out))
                  & (candidate < np.maximum(v_in, v_out)))
        with np.errstate(invalid="ignore"):
            bisect = 0.5 * (v_in + v_out)
        # No value above the cut yet: go outwards, at most four times as far as so far,
        # and no further than a finite end (the end itself if the step would pass it).
        far = np.maximum(np.abs(v_in - self.v0[active]), self.reach[active])
        ahead = (candidate - v_in) * direction
        forward = np.isfinite(ahead) & (ahead > 0)
        outwards = v_in + direction * np.where(forward, np.minimum(ahead, 4 * far), 2 * far)
        end = self.end[active]
        outwards = np.where((outwards - end) * direction >= 0, end, outwards)
        return np.where(bracketed, np.where(inside, candidate, bisect), outwards)


def _trace(state: _Local, pin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(du/dv (N, d), d2P/dv2 (N,))`` along the profile trace, from the Hessian at ``state.x``.

    The other coordinates follow ``H_uu du = -H_uv dv`` (0 for those held by
    a bound); the curvature of ``P`` is the Schur complement
    ``H_vv - H_vu H_uu^-1 H_uv``.
    """
    n, d = state.x.shape
    rows = np.arange(n)
    hess = np.nan_to_num(state.hess, posinf=0.0, neginf=0.0)
    column = hess[rows, :, pin]                                      # (N, d)
    others = np.ones((n, d), dtype=bool)
    others[rows, pin] = False
    pair = others[:, :, None] & others[:, None, :]
    h_uu = np.where(pair, hess, np.broadcast_to(np.eye(d), hess.shape))
    rhs = np.where(others, column, 0.0)
    try:
        du = -np.linalg.solve(h_uu, rhs[..., None])[..., 0]
    except np.linalg.LinAlgError:
        du = np.zeros_like(rhs)
    du = np.where(np.isfinite(du), du, 0.0)
    return du, hess[rows, pin, pin] + (column * du).sum(axis=-1)


def _newton_step(grad: np.ndarray, hess: np.ndarray, free: np.ndarray,
                 x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Newton steps (N, d) on the free coordinates and whether the Hessian curves down (N,).

    Far from the optimum the objective need not be convex; absolute
    eigenvalues keep the step a descent direction (as ``relcov._descent``).
    A start on a symmetry plane (a singular fit's zero column of
    ``Lambda``, where the deviance is even) has no slope across it: along
    a direction of negative curvature the step then moves by a fixed
    amount, and the line search finds the descent on either side.
    Lengths are capped at :data:`STEP_CAP` ``max(1, |x|)``.
    """
    pair = free[:, :, None] & free[:, None, :]
    eye = np.broadcast_to(np.eye(x.shape[-1]), hess.shape)
    hess = np.where(pair, np.nan_to_num(hess, posinf=0.0, neginf=0.0), eye)
    grad = np.where(free, np.nan_to_num(grad, posinf=0.0, neginf=0.0), 0.0)
    evals, evecs = np.linalg.eigh(hess)
    size = np.abs(evals).max(axis=-1, keepdims=True)
    along = (np.swapaxes(evecs, -1, -2) @ grad[..., None])[..., 0]
    # A floor on the curvature (Levenberg's): a direction the value does not depend on (the
    # other rows of a zero sd's factor turn freely) gets no step from rounding in its slope.
    coef = -along / np.maximum(np.abs(evals), 1e-6 * size + 1e-300)
    reach = 0.1 * np.maximum(1.0, np.abs(x).max(axis=-1, keepdims=True))
    downward = evals < -1e-6 * size
    coef = np.where(downward & (np.abs(coef) < reach), np.where(along > 0, -reach, reach), coef)
    # Only free coordinates move (eigenvectors of equal eigenvalues may mix in the others).
    step = np.where(free, (evecs @ coef[..., None])[..., 0], 0.0)
    cap = STEP_CAP * np.maximum(1.0, np.abs(x).max(axis=-1))
    length = np.abs(step).max(axis=-1)
    return step * np.minimum(1.0, cap / np.maximum(length, 1e-300))[:, None], downward.any(axis=-1)


def _hessian(func: Func, which: np.ndarray, x: np.ndarray, grad: np.ndarray,
             skip: np.ndarray | None = None) -> np.ndarray:
    """The Hessian (N, d, d) at ``x`` (N, d), forward differences of the exact gradient ``grad``.

    One point per coordinate (differences of values need O(d^2)), the
    result symmetrised; ``skip`` (N,), a coordinate of each problem not to
    step in (its row comes from symmetry, its diagonal entry is 0). The
    O(step) error only slows Newton's steps: the optimum and the
    convergence test rest on the exact gradient. Near the edge of the
    admissible region a point can fall outside it (value ``+inf``); up to
    three retries with steps ten times smaller.
    """
    n, d = x.shape
    stepped = np.ones((n, d), dtype=bool)
    if skip is not None:
        stepped[np.arange(n), skip] = False
    basis = np.broadcast_to(np.eye(d), (n, d, d))[stepped].reshape(n, -1, d)   # (N, e, d)
    h = HESSIAN_STEP * np.maximum(1.0, np.abs(x))
    values, grads = func(which, x[:, None] + basis * h[:, None], True)
    for _ in range(3):
        bad = np.flatnonzero(~np.isfinite(values).all(axis=-1))
        if not bad.size:
            break
        h[bad] /= 10
        values[bad], grads[bad] = func(which[bad], x[bad, None] + basis[bad] * h[bad, None], True)
    rows = np.zeros((n, d, d))
    rows[stepped] = ((grads - grad[:, None]) / h[stepped].reshape(n, -1)[..., None]).reshape(-1, d)
    both = stepped[:, :, None] & stepped[:, None, :]
    return np.where(both, 0.5 * (rows + np.swapaxes(rows, -1, -2)),
                    np.where(stepped[:, :, None], rows, np.swapaxes(rows, -1, -2)))


class _Local(NamedTuple):
    """Result of :func:`_minimise` per problem; ``grad`` is at ``x``, ``hess`` at or near it."""

    x: np.ndarray
    value: np.ndarray
    grad: np.ndarray
    hess: np.ndarray
    converged: np.ndarray


def _minimise(func: Func, x0: np.ndarray, lower: np.ndarray,
              tol: Callable[[np.ndarray, np.ndarray], np.ndarray],
              pinned: np.ndarray | None = None, hess0: np.ndarray | None = None,
              planes: np.ndarray | None = None) -> _Local:
    """Projected Newton minimisation of N problems at once, ``x >= lower``.

    ``func(which, points, gradient)`` gives the values (len(which), m) of
    problems ``which`` at ``points`` (len(which), m, d), ``+inf`` outside
    the domain, and with ``gradient`` their exact gradients too. Each
    iteration takes Newton's step (:func:`_take_step`) with a Hessian that
    is kept from point to point (updated by BFGS, :func:`_bfgs`) while its
    steps decrease the value, and only then computed afresh (:func:`_hessian`,
    pinned coordinates too, so a caller gets the profile's trace):
    ``hess0``, that of a nearby point, can spare the first. A problem is
    done when its Newton decrement is below ``tol(which, value)`` (of
    problems ``which`` at their values), or no step decreases it any more
    (converged if the decrement is near that); near 0 in a coordinate of
    ``planes`` (N, d), where a saddle can sit, only with a fresh Hessian.
    """
    n, d = x0.shape
    pinned = np.zeros((n, d), dtype=bool) if pinned is None else pinned
    planes = np.zeros((n, d), dtype=bool) if planes is None else planes
    known = np.zeros(n, dtype=bool) if hess0 is None else np.isfinite(hess0).all(axis=(1, 2))
    hess = np.zeros((n, d, d)) if hess0 is None else np.where(known[:, None, None], hess0, 0.0)
    s = _Search(np.maximum(x0, lower), np.full(n, np.inf), np.zeros((n, d)), hess,
                np.zeros(n, dtype=bool), known, np.zeros(n, dtype=bool), np.zeros(n, dtype=bool),
                np.ones(n, dtype=bool))
    for _ in range(MAX_NEWTON):
        _model(func, s)
        which = np.flatnonzero(s.active)
        if not which.size:
            break
        xw, low, g = s.x[which], lower[which], s.grad[which]
        free = ~pinned[which] & ~((xw <= low) & (g > 0))
        step, downward = _newton_step(g, s.hess[which], free, xw)
        decrement = -(g * step).sum(axis=-1)
        # Below ~1e-13 of the value no decrease can show through rounding.
        limit = tol(which, s.value[which])
        done = (decrement <= limit + 1e-13 * np.abs(s.value[which])) & ~downward
        # A kept Hessian that curves down may only be out of date, and near a zero column of
        # Lambda (across which the deviance is even) it can miss a saddle: a fresh one decides.
        renew = ~s.fresh[which] & (downward | (done & _near_plane(xw, planes[which])))
        done &= ~renew
        s.converged[which[done]], s.active[which[done]] = True, False
        s.known[which[renew]] = False
        go = ~done & ~renew
        stuck = _take_step(func, s, which[go], step[go], low[go])
        # No decrease along a descent direction: the remaining decrease is rounding.
        ended = which[go][stuck]
        s.active[ended] = False
        s.converged[ended] = decrement[go][stuck] <= 1e6 * limit[go][stuck]
    return _Local(s.x, s.value, s.grad, s.hess, s.converged)


def _near_plane(x: np.ndarray, planes: np.ndarray) -> np.ndarray:
    """Whether a coordinate of ``planes`` is within :data:`NEAR_PLANE` of 0, relative to ``x`` (N, d)."""
    scale = NEAR_PLANE * np.maximum(1.0, np.abs(x).max(axis=-1, keepdims=True))
    return (planes & (np.abs(x) <= scale)).any(axis=-1)


@dataclass
class _Search:
    """The state of :func:`_minimise`.

    ``value, grad`` are at ``x`` where ``modelled``; ``hess`` is a Hessian
    where ``known``, computed at ``x`` where ``fresh``, else kept from
    earlier points.
    """

    x: np.ndarray
    value: np.ndarray
    grad: np.ndarray
    hess: np.ndarray
    modelled: np.ndarray
    known: np.ndarray
    fresh: np.ndarray
    converged: np.ndarray
    active: np.ndarray


def _model(func: Func, s: _Search) -> None:
    """Value and gradient of the active problems where not ``modelled``, then a Hessian where
    none is ``known``; problems whose value is not finite stop."""
    need = np.flatnonzero(s.active & ~s.modelled)
    if need.size:
        value, grad = func(need, s.x[need, None], True)
        s.value[need], s.grad[need], s.modelled[need] = value[:, 0], grad[:, 0], True
    s.active &= np.isfinite(s.value) & np.isfinite(s.grad).all(axis=-1)
    need = np.flatnonzero(s.active & ~s.known)
    if need.size:
        s.hess[need] = _hessian(func, need, s.x[need], s.grad[need])
        s.known[need], s.fresh[need] = True, True


def _take_step(func: Func, s: _Search, which: np.ndarray, step: np.ndarray,
               low: np.ndarray) -> np.ndarray:
    """Move problems ``which`` along their ``step``; returns where no step decreased the value.

    First Newton's full (projected) step, with its gradient, which is the
    next iteration's when the step decreases the value enough (Armijo), so
    a search near its optimum costs one point per iteration. Where it does
    not and the Hessian was kept from elsewhere, that Hessian is renewed
    before anything else; where it was fresh, the projected path
    ``max(x + t step, lower)`` at the other ``t`` of :data:`STEP_FRACTIONS`,
    keeping the longest with sufficient decrease.
    """
    if not which.size:
        return np.zeros(0, dtype=bool)
    x, f0, g = s.x[which], s.value[which], s.grad[which]
    floor = f0 - 4e-16 * np.abs(f0)                      # a decrease, not rounding
    trial = np.maximum(x + step, low)
    value, grad = (a[:, 0] for a in func(which, trial[:, None], True))
    accept = value <= np.minimum(f0 + 1e-4 * ((trial - x) * g).sum(axis=-1), floor)
    moved = which[accept]
    s.hess[moved] = _bfgs(s.hess[moved], trial[accept] - x[accept], grad[accept] - g[accept])
    s.x[moved], s.value[moved], s.grad[moved] = trial[accept], value[accept], grad[accept]
    s.fresh[moved] = False
    s.known[which[~accept & ~s.fresh[which]]] = False
    stuck = np.zeros(which.size, dtype=bool)
    rest = np.flatnonzero(~accept & s.fresh[which])
    if rest.size:
        path = np.maximum(x[rest, None] + STEP_FRACTIONS[1:, None] * step[rest, None], low[rest, None])
        sufficient = f0[rest, None] + 1e-4 * ((path - x[rest, None]) * g[rest, None]).sum(axis=-1)
        armijo = func(which[rest], path) <= np.minimum(sufficient, floor[rest, None])
        moved = armijo.any(axis=-1)
        s.x[which[rest[moved]]] = path[moved, np.argmax(armijo, axis=-1)[moved]]
        s.modelled[which[rest[moved]]], s.fresh[which[rest[moved]]] = False, False
        stuck[rest[~moved]] = True
    return stuck


def _bfgs(hess: np.ndarray, step: np.ndarray, change: np.ndarray) -> np.ndarray:
    """BFGS's update of Hessians (N, d, d) by a ``step`` (N, d) and the gradient's ``change``.

    It makes ``hess @ step = change`` (so the pinned coordinates' rows learn
    the trace too); skipped where the curvature along the step is not
    positive, as the update would then lose positive definiteness.
    """
    h_s = (hess @ step[..., None])[..., 0]
    s_h_s, y_s = (step * h_s).sum(axis=-1), (change * step).sum(axis=-1)
    ok = (y_s > 1e-300) & (s_h_s > 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        update = (change[:, :, None] * change[:, None, :] / y_s[:, None, None]
                  - h_s[:, :, None] * h_s[:, None, :] / s_h_s[:, None, None])
    return np.where(ok[:, None, None], hess + update, hess)
