"""Exact profile-likelihood intervals, as lme4's ``confint(method = "profile")``.

lme4 profiles the ML deviance (even for a REML fit) over each parameter and
cuts it at ``qchisq(level, 1)``. With one random intercept the deviance,
minimised over ``beta`` and ``sigma`` for fixed ``theta = tau / sigma``, is
available in closed form, which turns every bound into a one-dimensional
optimisation over ``theta``:

* For fixed ``theta`` the admissible ``sigma^2 = v`` solve
  ``n log v + r2 / v <= K(theta)``, an interval whose ends are given by the
  two branches of the Lambert W function.
* The admissible ``beta_j`` satisfy
  ``(beta_j - bhat_j)^2 <= [A^-1]_jj (Qmax(theta) - r2(theta))``.
* ``tau = theta * sigma``.

Each bound is then the extreme of a smooth function of ``theta`` over the
interval of ``theta`` where the profiled deviance stays below the cut-off.
Everything is vectorised over replicates, so sweeps profile thousands of
fits at once. lme4 interpolates a spline through a sampled profile instead,
so its bounds differ from these exact ones by about 1e-6 relative.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from .ddf import normal_quantile
from .intercept import GroupSums, Pieces, bracketed_root, criterion, fit_theta, pieces

__all__ = ["ProfileBounds", "profile_bounds"]

_GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0
_GRID_POINTS = 17
_GOLDEN_STEPS = 48


@dataclass(frozen=True)
class ProfileBounds:
    """Profile intervals for every replicate.

    Attributes
    ----------
    lower, upper : ndarray, shape (R, 2 + p)
        Bounds in lme4's order: sd of the intercept, sigma, then each fixed effect.
    theta_range : ndarray, shape (R, 2)
        ``theta`` values where the profiled ML deviance meets the cut-off.
    ml_deviance : ndarray, shape (R,)
        Minimum ML deviance.
    """

    lower: np.ndarray
    upper: np.ndarray
    theta_range: np.ndarray
    ml_deviance: np.ndarray


def profile_bounds(sums: GroupSums, level: float = 0.95) -> ProfileBounds:
    """Profile-likelihood intervals of (tau, sigma, beta) for every replicate."""
    ml = fit_theta(sums, reml=False)
    cutoff = ml.value + normal_quantile(level) ** 2  # chi-square(1) quantile
    theta_lo, theta_hi = _admissible_theta(sums, ml.theta, cutoff)
    grid = theta_lo[:, None] + (theta_hi - theta_lo)[:, None] * np.linspace(0, 1, _GRID_POINTS)
    on_grid = _objectives(sums, grid, cutoff)                  # (R, grid, n_obj)
    best = on_grid.argmax(axis=1)                               # (R, n_obj)
    step = ((theta_hi - theta_lo) / (_GRID_POINTS - 1))[:, None]
    a = np.clip(grid[np.arange(len(grid))[:, None], best] - step, theta_lo[:, None], None)
    b = np.clip(a + 2 * step, None, theta_hi[:, None])
    extreme = _golden_max(lambda t: _diagonal(_objectives(sums, t, cutoff)), a, b)
    lower, upper = -extreme[:, 0::2], extreme[:, 1::2]
    lower[:, 0] = np.where(theta_lo == 0.0, 0.0, lower[:, 0])
    return ProfileBounds(lower=lower, upper=upper,
                         theta_range=np.column_stack([theta_lo, theta_hi]),
                         ml_deviance=ml.value)


def _profiled_ml(sums: GroupSums, theta: np.ndarray) -> np.ndarray:
    return criterion(pieces(sums, theta[:, None] ** 2), reml=False)[:, 0]


def _admissible_theta(sums: GroupSums, theta_ml: np.ndarray,
                      cutoff: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both ends of ``{theta : min deviance at theta <= cutoff}``."""
    def excess(theta: np.ndarray) -> np.ndarray:
        return _profiled_ml(sums, theta) - cutoff

    zero = np.zeros_like(theta_ml)
    at_zero = excess(zero)
    at_ml = excess(theta_ml)
    lower, _, _ = bracketed_root(excess, zero, theta_ml, at_zero, at_ml, at_zero > 0)
    lower = np.where(at_zero > 0, lower, 0.0)
    top = np.maximum(2 * theta_ml, 1e-2)
    for _ in range(60):     # the deviance grows like G log(theta^2) for large theta
        at_top = excess(top)
        if (at_top > 0).all():
            break
        top = np.where(at_top > 0, top, 2 * top)
    upper, _, _ = bracketed_root(excess, theta_ml, top, at_ml, at_top, at_top > 0)
    return lower, upper


def _objectives(sums: GroupSums, theta: np.ndarray, cutoff: np.ndarray) -> np.ndarray:
    """Every bound's objective (to maximise) at ``theta`` of shape (R, m).

    Returns shape (R, m, 2 * (2 + p)): for each parameter, minus its lowest
    and its highest admissible value at that ``theta``.
    """
    p = pieces(sums, theta ** 2)
    sigma_lo, sigma_hi = _sigma_range(p, cutoff)
    n = p.nobs
    q_max = n / (2 * np.pi) * np.exp((cutoff[:, None] - p.logdet_v) / n - 1.0)
    half = np.sqrt(np.clip(q_max - p.r2, 0.0, None)[..., None]
                   * np.diagonal(p.a_inv, axis1=-2, axis2=-1))
    columns = [-theta * sigma_lo, theta * sigma_hi, -sigma_lo, sigma_hi]
    for j in range(p.beta.shape[-1]):
        columns += [-(p.beta[..., j] - half[..., j]), p.beta[..., j] + half[..., j]]
    values = np.stack(columns, axis=-1)
    return np.where(np.isnan(values), -np.inf, values)


def _sigma_range(p: Pieces, cutoff: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Admissible sigma at each theta: ``n log v + r2 / v <= K`` solved by Lambert W.

    With ``v = r2 / (n z)`` the condition is ``z - log z <= k``; its ends are
    ``z = -W(-exp(-k))`` on the principal and the -1 branch.
    """
    n = p.nobs
    k = (cutoff[:, None] - n * np.log(2 * np.pi) - p.logdet_v) / n - np.log(p.r2 / n)
    # At the ends of the admissible theta range k reaches 1, the branch point
    # of W, where rounding can step past -1/e; both roots are then z = 1.
    arg = np.maximum(-np.exp(-np.maximum(k, 1.0)), -1.0 / np.e + 1e-15)
    z_small = np.where(k > 1.0, -special.lambertw(arg, 0).real, 1.0)
    z_large = np.where(k > 1.0, -special.lambertw(arg, -1).real, 1.0)
    return np.sqrt(p.r2 / (n * z_large)), np.sqrt(p.r2 / (n * z_small))


def _diagonal(values: np.ndarray) -> np.ndarray:
    """Objective ``k`` evaluated at column ``k``: (R, m, m) -> (R, m)."""
    return np.diagonal(values, axis1=1, axis2=2)


def _golden_max(func, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Vectorised golden-section search for the maximum of ``func`` on [a, b]."""
    c = b - _GOLDEN * (b - a)
    d = a + _GOLDEN * (b - a)
    f_c, f_d = func(c), func(d)
    for _ in range(_GOLDEN_STEPS):
        left = f_c >= f_d
        b = np.where(left, d, b)
        a = np.where(left, a, c)
        c, d = np.where(left, b - _GOLDEN * (b - a), d), np.where(left, c, a + _GOLDEN * (b - a))
        f_new = func(np.where(left, c, d))
        f_c, f_d = np.where(left, f_new, f_d), np.where(left, f_c, f_new)
    ends = np.stack([f_c, f_d, func(a), func(b)])
    return ends.max(axis=0)
