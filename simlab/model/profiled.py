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

    The weight of group ``i`` in the criterion, ``w_i = s / (1 + n_i s)``,
    depends on its size only, so groups are pooled into *size classes*: every
    sum over groups becomes a sum over the ``K`` distinct sizes. A balanced
    design has ``K = 1``, and evaluating the criterion no longer grows with
    the number of groups.

    Every array has a leading replicate axis, which may have length 1 to be
    broadcast (for example the design of a parametric bootstrap, where only
    ``y`` changes between replicates).

    Attributes
    ----------
    sizes : ndarray, shape (R, K)
        Group size ``n_k`` of each class.
    multiplicity : ndarray, shape (R, K)
        Number of groups of that size (0 pads a replicate with fewer classes).
    sxx : ndarray, shape (R, K, p, p)
        ``sum_{i in k} sx_i sx_i'``, with ``sx_i`` group ``i``'s column sums of X.
    sxy : ndarray, shape (R, K, p)
        ``sum_{i in k} sx_i sy_i``, with ``sy_i`` group ``i``'s sum of y.
    syy : ndarray, shape (R, K)
        ``sum_{i in k} sy_i^2``.
    xtx : ndarray, shape (R, p, p)
    xty : ndarray, shape (R, p)
    yty : ndarray, shape (R,)
    """

    sizes: np.ndarray
    multiplicity: np.ndarray
    sxx: np.ndarray
    sxy: np.ndarray
    syy: np.ndarray
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
        return cls.from_group_sums(counts, sx, sy, xtx, xty, yty)

    @classmethod
    def from_group_sums(cls, counts: np.ndarray, sx: np.ndarray, sy: np.ndarray,
                        xtx: np.ndarray, xty: np.ndarray, yty: np.ndarray) -> "GroupSums":
        """Pool per-group sums (``counts`` (G,), ``sx`` (R, G, p), ``sy`` (R, G)) by size."""
        sizes = np.unique(counts)
        member = (counts[:, None] == sizes).astype(float).T        # (K, G)
        outer = sx[..., :, None] * sx[..., None, :]                 # (R, G, p, p)
        p = sx.shape[-1]
        sxx = (member @ outer.reshape(outer.shape[0], -1, p * p)).reshape(-1, sizes.size, p, p)
        return cls(sizes=sizes[None], multiplicity=member.sum(axis=1)[None], sxx=sxx,
                   sxy=member @ (sx * sy[..., None]), syy=sy ** 2 @ member.T,
                   xtx=xtx, xty=xty, yty=yty)

    @classmethod
    def stack(cls, items: "list[GroupSums]") -> "GroupSums":
        """Stack one-replicate sums along the replicate axis, padding size classes."""
        width = max(item.sizes.shape[-1] for item in items)

        def padded(name: str, item: "GroupSums", fill: float) -> np.ndarray:
            value = getattr(item, name)
            extra = width - item.sizes.shape[-1]
            pad = [(0, 0), (0, extra)] + [(0, 0)] * (value.ndim - 2)
            return np.pad(value, pad, constant_values=fill)

        fields = {"sizes": 1.0, "multiplicity": 0.0, "sxx": 0.0, "sxy": 0.0, "syy": 0.0}
        pooled = {name: np.concatenate([padded(name, item, fill) for item in items])
                  for name, fill in fields.items()}
        rest = {name: np.concatenate([getattr(item, name) for item in items])
                for name in ("xtx", "xty", "yty")}
        return cls(**pooled, **rest)

    @property
    def n_reps(self) -> int:
        return max(a.shape[0] for a in (self.sizes, self.sxx, self.syy, self.yty))

    @property
    def n_fixed(self) -> int:
        return self.sxy.shape[-1]

    @property
    def nobs(self) -> np.ndarray:
        return (self.sizes * self.multiplicity).sum(axis=-1)

    def with_response_column(self, j: int, value: np.ndarray) -> "GroupSums":
        """Sums for ``y - value * X[:, j]`` on the design without column ``j``."""
        value = np.asarray(value, dtype=float).reshape(-1)
        keep = [k for k in range(self.n_fixed) if k != j]
        v = value[:, None]
        syy = self.syy - 2 * v * self.sxy[..., j] + v ** 2 * self.sxx[..., j, j]
        sxy = self.sxy[..., keep] - v[..., None] * self.sxx[..., keep, j]
        xty = self.xty[:, keep] - v * self.xtx[:, keep, j]
        yty = self.yty - 2 * value * self.xty[:, j] + value ** 2 * self.xtx[:, j, j]
        return GroupSums(self.sizes, self.multiplicity, self.sxx[..., keep, :][..., keep], sxy,
                         syy, self.xtx[:, keep][:, :, keep], xty, yty)


class Pieces(NamedTuple):
    """The profiled quantities at ``s = theta^2``; leading axes (R, m)."""

    s: np.ndarray
    logdet_v: np.ndarray     # sum_i log(1 + n_i s)
    logdet_a: np.ndarray     # log det A
    beta: np.ndarray         # (R, m, p)
    r2: np.ndarray           # penalised residual sum of squares
    a_inv: np.ndarray        # (R, m, p, p)
    nobs: np.ndarray


def _flat(matrices: np.ndarray) -> np.ndarray:
    """(..., K, p, p) -> (..., K, p*p), for sums over classes by matrix products."""
    return matrices.reshape(*matrices.shape[:-2], -1)


def pieces(sums: GroupSums, s: np.ndarray) -> Pieces:
    """Evaluate the profiled building blocks at ``s = theta^2``.

    Parameters
    ----------
    sums : GroupSums
    s : ndarray, shape (R, m)
        ``m`` values of ``theta^2`` for each replicate.
    """
    s = np.asarray(s, dtype=float)
    p = sums.n_fixed
    sizes = sums.sizes[:, None, :]
    w = s[..., None] / (1.0 + sizes * s[..., None])                  # (R, m, K)
    a = sums.xtx[:, None] - (w @ _flat(sums.sxx)).reshape(*w.shape[:2], p, p)
    c = sums.xty[:, None] - w @ sums.sxy
    a_inv = np.linalg.inv(a)
    beta = (a_inv @ c[..., None])[..., 0]
    r2 = sums.yty[:, None] - (w @ sums.syy[..., None])[..., 0] - (c * beta).sum(axis=-1)
    logdet_v = (np.log1p(sizes * s[..., None]) * sums.multiplicity[:, None, :]).sum(axis=-1)
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
    with ``w_i' = 1 / (1 + n_i s)^2``, summed here by size class.
    """
    sizes = sums.sizes[:, None, :]
    dw = 1.0 / (1.0 + sizes * p.s[..., None]) ** 2                              # (R, m, K)
    cross = p.beta @ np.swapaxes(sums.sxy, -1, -2)
    beta_outer = _flat(p.beta[..., :, None] * p.beta[..., None, :])[..., None, :]
    quad_beta = (beta_outer @ np.swapaxes(_flat(sums.sxx), -1, -2)[:, None])[..., 0, :]
    dr2 = -(dw * (sums.syy[:, None] - 2 * cross + quad_beta)).sum(axis=-1)
    dlogdet_v = (sums.multiplicity[:, None, :] * sizes / (1.0 + sizes * p.s[..., None])).sum(axis=-1)
    if not reml:
        return dlogdet_v + p.nobs * dr2 / p.r2
    trace = _flat(np.swapaxes(p.a_inv, -1, -2)) @ np.swapaxes(_flat(sums.sxx), -1, -2)
    dof = p.nobs - p.beta.shape[-1]
    return dlogdet_v - (dw * trace).sum(axis=-1) + dof * dr2 / p.r2


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
