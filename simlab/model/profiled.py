"""Exact profiled likelihood of the random-intercept model, vectorised over replicates.

For ``y = X beta + u[g] + e`` with ``u ~ N(0, tau^2)`` and ``e ~ N(0, sigma^2)``
the REML criterion and the ML deviance, profiled over ``beta`` and ``sigma``,
depend on the single ratio ``theta = tau / sigma`` and on per-group sums only
(``../shared/NOTES.md``). Everything here works on a leading *replicate* axis
``R`` so that one call fits one model or thousands of simulated replicates.

This module knows nothing about pandas or formulas: it sees arrays.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

__all__ = [
    "GroupSums",
    "Pieces",
    "ThetaFit",
    "pieces",
    "criterion",
    "fit_theta",
]

#: Grid of theta values that brackets the optimum before exact refinement.
THETA_GRID = np.concatenate([[0.0], np.logspace(-4.0, 4.0, 33)])


@dataclass(frozen=True)
class GroupSums:
    """Sufficient statistics of a random-intercept model for ``R`` replicates.

    Every array has a leading replicate axis, which may have length 1 to be
    broadcast (for example the design of a parametric bootstrap, where only
    ``y`` changes between replicates).

    Attributes
    ----------
    counts : ndarray, shape (R, G)
        Group sizes ``n_i``.
    sx : ndarray, shape (R, G, p)
        Group sums of the fixed-effects columns.
    sy : ndarray, shape (R, G)
        Group sums of the response.
    xtx : ndarray, shape (R, p, p)
    xty : ndarray, shape (R, p)
    yty : ndarray, shape (R,)
    """

    counts: np.ndarray
    sx: np.ndarray
    sy: np.ndarray
    xtx: np.ndarray
    xty: np.ndarray
    yty: np.ndarray

    @classmethod
    def from_arrays(cls, y: np.ndarray, X: np.ndarray, groups: np.ndarray,
                    n_groups: int) -> "GroupSums":
        """Build the sums from data sharing one grouping.

        Parameters
        ----------
        y : ndarray, shape (n,) or (R, n)
            Response, one row per replicate.
        X : ndarray, shape (n, p) or (R, n, p)
            Fixed-effects design.
        groups : ndarray of int, shape (n,)
            Group code ``0 .. n_groups - 1`` of every observation.
        n_groups : int
        """
        y = np.atleast_2d(np.asarray(y, dtype=float))
        X = np.asarray(X, dtype=float)
        if X.ndim == 2:
            X = X[None]
        groups = np.asarray(groups)
        counts = np.bincount(groups, minlength=n_groups).astype(float)
        if (counts == 0).any():
            raise ValueError("every group code 0 .. n_groups - 1 needs at least one observation")
        order = np.argsort(groups, kind="stable")
        starts = np.concatenate([[0], np.cumsum(counts[:-1])]).astype(np.intp)
        sy = np.add.reduceat(y[:, order], starts, axis=1)
        sx = np.add.reduceat(X[:, order], starts, axis=1)
        xtx = np.swapaxes(X, -1, -2) @ X
        xty = (np.swapaxes(X, -1, -2) @ y[..., None])[..., 0]
        yty = np.einsum("rn,rn->r", y, y)
        counts = counts[None]
        return cls(counts, sx, sy, xtx, xty, yty)

    @property
    def n_reps(self) -> int:
        return max(a.shape[0] for a in (self.counts, self.sx, self.sy, self.yty))

    @property
    def n_fixed(self) -> int:
        return self.sx.shape[-1]

    @property
    def nobs(self) -> np.ndarray:
        return self.counts.sum(axis=-1)

    def with_response_column(self, j: int, value: np.ndarray) -> "GroupSums":
        """Sums for ``y - value * X[:, j]`` on the design without column ``j``."""
        value = np.asarray(value, dtype=float).reshape(-1)
        keep = [k for k in range(self.n_fixed) if k != j]
        sy = self.sy - value[:, None] * self.sx[..., j]
        xty = self.xty[:, keep] - value[:, None] * self.xtx[:, keep, j]
        yty = self.yty - 2 * value * self.xty[:, j] + value ** 2 * self.xtx[:, j, j]
        return GroupSums(self.counts, self.sx[..., keep], sy,
                         self.xtx[:, keep][:, :, keep], xty, yty)


class Pieces(NamedTuple):
    """The profiled quantities at ``s = theta^2``; leading axes (R, m)."""

    s: np.ndarray
    logdet_v: np.ndarray     # sum_i log(1 + n_i s)
    logdet_a: np.ndarray     # log det A
    beta: np.ndarray         # (R, m, p)
    r2: np.ndarray           # penalised residual sum of squares
    a_inv: np.ndarray        # (R, m, p, p)
    nobs: np.ndarray


def pieces(sums: GroupSums, s: np.ndarray) -> Pieces:
    """Evaluate the profiled building blocks at ``s = theta^2``.

    Parameters
    ----------
    sums : GroupSums
    s : ndarray, shape (R, m)
        ``m`` values of ``theta^2`` for each replicate.
    """
    s = np.asarray(s, dtype=float)
    counts = sums.counts[:, None, :]
    w = s[..., None] / (1.0 + counts * s[..., None])           # (R, m, G)
    swx = w[..., None] * sums.sx[:, None]                        # (R, m, G, p)
    a = sums.xtx[:, None] - np.swapaxes(swx, -1, -2) @ sums.sx[:, None]
    c = sums.xty[:, None] - np.einsum("rmgp,rg->rmp", swx, sums.sy)
    a_inv = np.linalg.inv(a)
    beta = np.einsum("rmpq,rmq->rmp", a_inv, c)
    r2 = (sums.yty[:, None] - np.einsum("rmg,rg->rm", w, sums.sy ** 2)
          - np.einsum("rmp,rmp->rm", c, beta))
    logdet_v = np.log1p(counts * s[..., None]).sum(axis=-1)
    logdet_a = np.linalg.slogdet(a)[1]
    nobs = np.broadcast_to(sums.nobs[:, None], s.shape)
    return Pieces(s, logdet_v, logdet_a, beta, r2, a_inv, nobs)


def criterion(p: Pieces, reml: bool) -> np.ndarray:
    """REML criterion or ML deviance (-2 log-likelihood) from :func:`pieces`."""
    n = p.nobs
    if reml:
        dof = n - p.beta.shape[-1]
        return p.logdet_v + p.logdet_a + dof * (1.0 + np.log(2 * np.pi * p.r2 / dof))
    return p.logdet_v + n * (1.0 + np.log(2 * np.pi * p.r2 / n))


def criterion_slope(sums: GroupSums, p: Pieces, reml: bool) -> np.ndarray:
    """Derivative of :func:`criterion` with respect to ``s = theta^2``.

    Uses the envelope theorem: ``d r2 / ds = -sum_i w_i' (sy_i - sx_i' beta)^2``
    with ``w_i' = 1 / (1 + n_i s)^2``.
    """
    counts = sums.counts[:, None, :]
    dw = 1.0 / (1.0 + counts * p.s[..., None]) ** 2
    resid = sums.sy[:, None] - np.einsum("rgp,rmp->rmg", sums.sx, p.beta)
    dr2 = -(dw * resid ** 2).sum(axis=-1)
    dlogdet_v = (counts / (1.0 + counts * p.s[..., None])).sum(axis=-1)
    if not reml:
        return dlogdet_v + p.nobs * dr2 / p.r2
    quad = np.einsum("rgp,rmpq,rgq->rmg", sums.sx, p.a_inv, sums.sx)
    dof = p.nobs - p.beta.shape[-1]
    return dlogdet_v - (dw * quad).sum(axis=-1) + dof * dr2 / p.r2


@dataclass(frozen=True)
class ThetaFit:
    """Optimum of the profiled criterion for every replicate.

    Attributes
    ----------
    theta : ndarray, shape (R,)
        ``tau / sigma`` at the optimum (0 for a singular fit).
    sigma, tau : ndarray, shape (R,)
    beta : ndarray, shape (R, p)
    a_inv : ndarray, shape (R, p, p)
        ``A^-1``; ``vcov(beta) = sigma^2 A^-1``.
    value : ndarray, shape (R,)
        Minimum of the criterion (REML criterion or ML deviance).
    converged : ndarray of bool, shape (R,)
    at_upper_bound : ndarray of bool, shape (R,)
        The optimum ran into the top of the theta search range.
    iterations : ndarray of int, shape (R,)
    reml : bool
    """

    theta: np.ndarray
    sigma: np.ndarray
    tau: np.ndarray
    beta: np.ndarray
    a_inv: np.ndarray
    value: np.ndarray
    converged: np.ndarray
    at_upper_bound: np.ndarray
    iterations: np.ndarray
    reml: bool

    @property
    def singular(self) -> np.ndarray:
        return self.theta == 0.0


def fit_theta(sums: GroupSums, reml: bool = True, *, tol: float = 1e-13,
              max_iter: int = 200) -> ThetaFit:
    """Minimise the profiled criterion over ``theta >= 0`` for every replicate.

    A grid over ``theta`` picks the basin of the global minimum; inside it the
    root of the analytic derivative is found by safeguarded regula falsi, so
    the optimum is exact to rounding error rather than to an optimiser's
    tolerance. The fit is singular (``theta = 0``) when the criterion rises
    from ``theta = 0``.
    """
    n_reps = sums.n_reps
    grid_s = np.broadcast_to(THETA_GRID ** 2, (n_reps, THETA_GRID.size))
    values = criterion(pieces(sums, grid_s), reml)
    best = np.nanargmin(np.where(np.isfinite(values), values, np.inf), axis=1)
    rows = np.arange(n_reps)
    lo = grid_s[rows, np.maximum(best - 1, 0)].copy()
    hi = grid_s[rows, np.minimum(best + 1, THETA_GRID.size - 1)].copy()

    def slope(s: np.ndarray) -> np.ndarray:
        return criterion_slope(sums, pieces(sums, s[:, None]), reml)[:, 0]

    slope_lo, slope_hi = slope(lo), slope(hi)
    boundary = (best == 0) & (slope_lo >= 0)
    at_upper = best == THETA_GRID.size - 1
    solve = ~boundary & ~at_upper
    s_opt = np.where(boundary, 0.0, hi)
    iterations = np.zeros(n_reps, dtype=int)
    converged = np.ones(n_reps, dtype=bool)
    if n_reps == 1 and solve[0]:
        root, its, ok = _scalar_root(slope, lo, hi, tol, max_iter)
        s_opt, iterations, converged = root, its, ok
    elif solve.any():
        root, its, ok = bracketed_root(slope, lo, hi, slope_lo, slope_hi, solve,
                                       tol=tol, max_iter=max_iter)
        s_opt = np.where(solve, root, s_opt)
        iterations, converged = its, np.where(solve, ok, True)
    converged &= ~at_upper
    return _theta_fit(sums, s_opt, reml, converged, at_upper, iterations)


def _scalar_root(slope: Callable[[np.ndarray], np.ndarray], lo: np.ndarray, hi: np.ndarray,
                 tol: float, max_iter: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One replicate: scipy's Brent root search, free of the vectorised bookkeeping."""
    from scipy.optimize import brentq

    root, info = brentq(lambda s: float(slope(np.array([s]))[0]), float(lo[0]), float(hi[0]),
                        xtol=1e-300, rtol=max(tol, 4 * np.finfo(float).eps), maxiter=max_iter,
                        full_output=True, disp=False)
    return np.array([root]), np.array([info.iterations]), np.array([info.converged])


def _theta_fit(sums: GroupSums, s_opt: np.ndarray, reml: bool, converged: np.ndarray,
               at_upper: np.ndarray, iterations: np.ndarray) -> ThetaFit:
    p = pieces(sums, s_opt[:, None])
    dof = sums.nobs - (sums.n_fixed if reml else 0)
    sigma = np.sqrt(p.r2[:, 0] / dof)
    theta = np.sqrt(s_opt)
    return ThetaFit(theta=theta, sigma=sigma, tau=theta * sigma, beta=p.beta[:, 0],
                    a_inv=p.a_inv[:, 0], value=criterion(p, reml)[:, 0],
                    converged=converged, at_upper_bound=at_upper,
                    iterations=iterations, reml=reml)


def bracketed_root(func: Callable[[np.ndarray], np.ndarray], a: np.ndarray,
                   b: np.ndarray, f_a: np.ndarray, f_b: np.ndarray,
                   active: np.ndarray, *, tol: float = 1e-13,
                   max_iter: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised Illinois (modified regula falsi) root search.

    Each active element needs ``f_a`` and ``f_b`` of opposite sign. The
    search stops when the bracket is narrower than ``tol`` relative to its
    end. Returns the roots, iteration counts and a convergence flag (bracket
    below ``sqrt(tol)`` relative; rounding noise can stall the last digits).
    """
    a, b, f_a, f_b = (np.array(v, dtype=float) for v in (a, b, f_a, f_b))
    active = np.asarray(active, dtype=bool) & (np.sign(f_a) != np.sign(f_b))
    root = np.where(np.abs(f_a) < np.abs(f_b), a, b)
    iterations = np.zeros(a.shape, dtype=int)
    kept_a = np.zeros(a.shape, dtype=bool)   # was ``a`` retained last step?
    kept_b = np.zeros(a.shape, dtype=bool)
    for _ in range(max_iter):
        active &= np.abs(b - a) > tol * np.maximum(np.abs(a), np.abs(b))
        if not active.any():
            break
        x = b - f_b * (b - a) / (f_b - f_a)
        inside = np.isfinite(x) & (x > np.minimum(a, b)) & (x < np.maximum(a, b))
        x = np.where(inside, x, 0.5 * (a + b))
        f_x = np.where(active, func(np.where(active, x, root)), 0.0)
        iterations += active
        root = np.where(active, x, root)
        like_b = np.sign(f_x) == np.sign(f_b)
        # Illinois: halve the value at an end retained twice, so it is not left stale.
        f_a = np.where(active & like_b & kept_a, 0.5 * f_a, f_a)
        f_b = np.where(active & ~like_b & kept_b, 0.5 * f_b, f_b)
        a = np.where(active & ~like_b, x, a)
        f_a = np.where(active & ~like_b, f_x, f_a)
        b = np.where(active & like_b, x, b)
        f_b = np.where(active & like_b, f_x, f_b)
        kept_a = np.where(active, like_b, kept_a)
        kept_b = np.where(active, ~like_b, kept_b)
        active &= f_x != 0
    scale = np.maximum(np.abs(a), np.abs(b))
    converged = np.abs(b - a) <= np.sqrt(tol) * np.maximum(scale, 1e-300)
    return root, iterations, converged | (f_a == 0) | (f_b == 0)
