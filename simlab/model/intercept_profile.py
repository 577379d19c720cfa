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
interval of ``theta`` where the profiled deviance stays below the cut-off:
a grid over that interval brackets it, and the root of the function's
analytic derivative (:func:`_objectives`, :func:`_derivatives`) in the
bracket gives it, a few secant steps for all bounds of all replicates at once.
Everything is vectorised over replicates, so sweeps profile thousands of
fits at once. lme4 interpolates a spline through a sampled profile instead,
so its bounds differ from these exact ones by about 1e-6 relative.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ddf import normal_quantile
from .intercept import (GroupSums, Pieces, _flat, bracketed_root, criterion, fit_theta, matvec,
                        narrow_bracket, working_pieces)

__all__ = ["ProfileBounds", "profile_bounds"]

#: Points (ends included) sampled over the admissible theta range before each bound's search.
_GRID_POINTS = 17
#: The search for a bound's theta stops within this fraction of the admissible range: the
#: objective is flat at its maximum, so the bound is then exact to about its square.
_UNIT_RTOL = 1e-7
#: The ends of the admissible theta range are found to this relative precision: a bound
#: moves with them only where its maximum sits at an end, and there (theta = 0) exactly.
_RANGE_RTOL = 1e-10
#: Deviances at this many points inside each end's first bracket narrow it before the search.
_RANGE_POINTS = 7
#: Above this fraction of bounds still searching, a step evaluates every objective at every
#: searched theta of a replicate at once; below it, each bound alone at its own theta.
_DENSE_FRACTION = 0.5


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
    """Profile-likelihood intervals of (tau, sigma, beta) for every replicate.

    Each bound is the maximum of its objective (:func:`_objectives`) over
    the admissible theta range: a grid brackets the maximum, and the root
    of the objective's analytic derivative inside that bracket is found by
    :func:`~simlab.model.intercept.bracketed_root`.
    """
    ml = fit_theta(sums, reml=False)
    cutoff = ml.value + normal_quantile(level) ** 2  # chi-square(1) quantile
    # Degenerate brackets (a singular fit's [0, 0]) and the range's ends, where the
    # admissible set is a point, give 0/0 in places whose values are never used.
    with np.errstate(divide="ignore", invalid="ignore"):
        theta_lo, theta_hi = _admissible_theta(sums, ml.theta, cutoff)
        extreme = _maximise(sums, theta_lo, theta_hi, cutoff)
    lower, upper = -extreme[:, 0::2], extreme[:, 1::2]
    lower[:, 0] = np.where(theta_lo == 0.0, 0.0, lower[:, 0])
    return ProfileBounds(lower=lower, upper=upper,
                         theta_range=np.column_stack([theta_lo, theta_hi]),
                         ml_deviance=ml.value)


def _maximise(sums: GroupSums, theta_lo: np.ndarray, theta_hi: np.ndarray,
              cutoff: np.ndarray) -> np.ndarray:
    """The maximum of every objective over ``[theta_lo, theta_hi]``, shape (R, n_obj).

    The admissible set of each parameter widens from a point at an end of
    the range where the deviance meets the cut-off, so there every slope
    points inwards; only ``theta_lo = 0`` (the deviance is below the cut-off
    at 0) can hold a maximum at an end.
    """
    width = (theta_hi - theta_lo)[:, None]
    # The search runs on u = 1 + (theta - theta_lo) / width in [1, 2], so its relative
    # tolerance is one of the range's width however close to 0 the bound's theta is.
    unit = 1.0 + np.linspace(0, 1, _GRID_POINTS)

    theta = theta_lo[:, None] + (unit[None] - 1.0) * width
    values, slopes = _objectives(sums, theta, cutoff, slopes=True)      # (R, grid, n_obj)
    best = values.argmax(axis=1)                                         # (R, n_obj)
    rows, cols = np.arange(len(width))[:, None], np.arange(values.shape[-1])
    left = np.clip(np.where(slopes[rows, best, cols] > 0, best, best - 1), 0, _GRID_POINTS - 2)

    # Each bound's objective where its search last evaluated it: that is the root found.
    last = np.full(left.shape, -np.inf)

    def slope(u: np.ndarray, active: np.ndarray) -> np.ndarray:
        values, slopes = _objectives_at(sums, theta_lo, width[:, 0], cutoff, u, active)
        last[active] = values[active]
        return slopes

    bracketed_root(slope, unit[left], unit[left + 1], slopes[rows, left, cols],
                   slopes[rows, left + 1, cols], np.ones(left.shape, dtype=bool),
                   tol=_UNIT_RTOL, max_iter=60, sparse=True)
    return np.fmax(values[rows, best, cols], last)


def _objectives_at(sums: GroupSums, theta_lo: np.ndarray, width: np.ndarray, cutoff: np.ndarray,
                   u: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Objective ``j`` and its slope at ``theta_lo + (u[:, j] - 1) width`` for the active (R, j).

    While most bounds are searching, every objective of a replicate is
    evaluated at each of its bounds' points at once; once few are, each
    alone at its own point (inactive entries are then 0).
    """
    if active.mean() > _DENSE_FRACTION:
        theta = theta_lo[:, None] + (u - 1.0) * width[:, None]
        values, slopes = _objectives(sums, theta, cutoff, slopes=True)
        return _diagonal(values), _diagonal(slopes)
    reps, objs = np.nonzero(active)
    theta = theta_lo[reps] + (u[reps, objs] - 1.0) * width[reps]
    values, slopes = _objectives(sums.take(reps), theta[:, None], cutoff[reps], slopes=True)
    out = np.zeros((2, *u.shape))
    out[0][reps, objs] = values[np.arange(reps.size), 0, objs]
    out[1][reps, objs] = slopes[np.arange(reps.size), 0, objs]
    return out[0], out[1]


def _admissible_theta(sums: GroupSums, theta_ml: np.ndarray,
                      cutoff: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both ends of ``{theta : min deviance at theta <= cutoff}``, searched together."""
    # The deviance in working units is off by n log(y_scale^2): move the cut-off instead.
    limit = cutoff - sums.nobs * np.log(sums.y_scale ** 2)

    def excess(theta: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        if active is None or active.mean() > _DENSE_FRACTION:
            work = working_pieces(sums, theta ** 2, logdet_a=False)
            return criterion(work, reml=False) - limit[:, None]
        reps, ends = np.nonzero(active)     # the few ends still searching, one row each
        out = np.zeros_like(theta)
        work = working_pieces(sums.take(reps), theta[reps, ends, None] ** 2, logdet_a=False)
        out[reps, ends] = criterion(work, reml=False)[:, 0] - limit[reps]
        return out

    at_zero, at_ml = excess(np.column_stack([np.zeros_like(theta_ml), theta_ml])).T
    top = np.maximum(2 * theta_ml, 1e-2)
    for _ in range(60):     # the deviance grows like G log(theta^2) for large theta
        at_top = excess(top[:, None])[:, 0]
        if (at_top > 0).all():
            break
        top = np.where(at_top > 0, top, 2 * top)
    def excess_at(theta: np.ndarray) -> np.ndarray:     # (R, 2, points): both ends at once
        return excess(theta.reshape(len(theta), -1)).reshape(theta.shape)

    bracket = narrow_bracket(excess_at, np.column_stack([np.zeros_like(theta_ml), theta_ml]),
                             np.column_stack([theta_ml, top]), np.column_stack([at_zero, at_ml]),
                             np.column_stack([at_ml, at_top]), _RANGE_POINTS)
    ends, _, _ = bracketed_root(excess, *bracket, np.column_stack([at_zero > 0, at_top > 0]),
                                tol=_RANGE_RTOL, sparse=True)
    return np.where(at_zero > 0, ends[:, 0], 0.0), ends[:, 1]


def _objectives(sums: GroupSums, theta: np.ndarray, cutoff: np.ndarray,
                slopes: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Every bound's objective (to maximise) at ``theta`` of shape (R, m).

    Returns shape (R, m, 2 * (2 + p)): for each parameter, minus its lowest
    and its highest admissible value at that ``theta``; with ``slopes``
    also their derivatives with respect to ``s = theta^2``, each times a
    weight positive inside the admissible range, which keeps them finite
    where the admissible set shrinks to a point (there the derivatives
    themselves are infinite): ``|z - 1|`` for sigma, that times ``theta``
    for tau, the half-width for a fixed effect. The weights keep the signs
    and roots, which is all :func:`_maximise` needs.
    """
    p = working_pieces(sums, theta ** 2, logdet_a=False)    # the ML deviance does without
    # Only diag(A^-1), beta and r2 in the data's units: M A_w^-1 M' in full costs more.
    x_map = sums.x_map[:, None]
    mapped = x_map @ p.a_inv_work                                        # M A_w^-1
    a_diag = (mapped * x_map).sum(axis=-1)
    beta = sums.y_scale[:, None, None] * matvec(x_map, p.beta_work) + sums.beta_offset[:, None]
    p = p._replace(r2=sums.y_scale[:, None] ** 2 * p.r2_work, beta=beta)
    n = p.nobs
    k = (cutoff[:, None] - n * np.log(2 * np.pi) - p.logdet_v) / n - np.log(p.r2 / n)
    z_small, z_large = _z_roots(k)
    sigma_lo, sigma_hi = np.sqrt(p.r2 / (n * z_large)), np.sqrt(p.r2 / (n * z_small))
    q_max = n / (2 * np.pi) * np.exp((cutoff[:, None] - p.logdet_v) / n - 1.0)
    room = np.clip(q_max - p.r2, 0.0, None)
    half = np.sqrt(room[..., None] * a_diag)
    values = _columns(theta, sigma_lo, sigma_hi, p.beta, half)
    values = np.where(np.isnan(values), -np.inf, values)
    if not slopes:
        return values
    logdet_s, r2_s, beta_s, a_diag_s = _derivatives(sums, p, mapped)
    k_s = -logdet_s / n - r2_s / p.r2
    # sigma^2 = r2 / (n z) with z - log z = k, dz / dk = z / (z - 1): d sigma / ds times
    # |z - 1|, finite where z = 1, at the ends of the range.
    lo_s = 0.5 * sigma_lo * ((z_large - 1.0) * r2_s / p.r2 - k_s)
    hi_s = 0.5 * sigma_hi * ((1.0 - z_small) * r2_s / p.r2 + k_s)
    room_s = -q_max * logdet_s / n - r2_s
    half_s = 0.5 * (room_s[..., None] * a_diag + room[..., None] * a_diag_s)    # times half
    theta2 = theta ** 2
    columns = [-(0.5 * (z_large - 1.0) * sigma_lo + theta2 * lo_s),     # times theta too
               0.5 * (1.0 - z_small) * sigma_hi + theta2 * hi_s, -lo_s, hi_s]
    for j in range(p.beta.shape[-1]):
        columns += [half_s[..., j] - beta_s[..., j] * half[..., j],
                    half_s[..., j] + beta_s[..., j] * half[..., j]]
    return values, np.stack(columns, axis=-1)


def _columns(theta: np.ndarray, sigma_lo: np.ndarray, sigma_hi: np.ndarray, beta: np.ndarray,
             half: np.ndarray) -> np.ndarray:
    """The objectives in lme4's order, each parameter's (minus lowest, highest) value."""
    columns = [-theta * sigma_lo, theta * sigma_hi, -sigma_lo, sigma_hi]
    for j in range(beta.shape[-1]):
        columns += [-(beta[..., j] - half[..., j]), beta[..., j] + half[..., j]]
    return np.stack(columns, axis=-1)


def _derivatives(sums: GroupSums, p: Pieces, mapped: np.ndarray) -> tuple[np.ndarray, ...]:
    """Derivatives in ``s`` of ``log det V``, ``r2``, ``beta`` and ``diag A^-1``, data units.

    With ``w_k = 1 / (1 + n_k s)^2`` (minus the derivative of a class's
    weight), ``dA / ds = -B`` with ``B = sum_k w_k S_k``, so
    ``d A^-1 / ds = A^-1 B A^-1`` and ``d beta / ds = A^-1 sum_k w_k (S_k beta - s_k)``;
    ``d r2 / ds`` is the envelope theorem's (as in
    :func:`~simlab.model.intercept.criterion_slope`). ``p`` holds the working
    pieces, ``mapped`` is ``M A_w^-1`` (``x_map`` times the working inverse).
    """
    sizes = sums.sizes[:, None, :]
    inv_v = 1.0 / (1.0 + sizes * p.s[..., None])
    w = inv_v * inv_v                                                   # (R, m, K)
    logdet_s = (sums.multiplicity[:, None, :] * sizes * inv_v).sum(-1)
    beta = p.beta_work
    # Matrix products rather than einsum: einsum's loops over these tiny axes cost more.
    sxx_beta = np.swapaxes(beta[:, None] @ sums.sxx, 1, 2)              # (R, m, K, p), S_k sym.
    gap = sxx_beta - sums.sxy[:, None]                                   # S_k beta - s_k
    quad = sums.syy[:, None] + matvec(2 * gap - sxx_beta, beta)             # |sy - sx'b|^2
    r2_s = -(w * quad).sum(-1) * sums.y_scale[:, None] ** 2
    beta_w_s = matvec(p.a_inv_work, (w[..., None, :] @ gap)[..., 0, :])
    p_dim = beta.shape[-1]
    b = (w @ _flat(sums.sxx)).reshape(*w.shape[:2], p_dim, p_dim)
    x_map = sums.x_map[:, None]
    beta_s = sums.y_scale[:, None, None] * matvec(x_map, beta_w_s)
    a_diag_s = _sandwich_diagonal(mapped, b)
    return logdet_s, r2_s, beta_s, a_diag_s


def _sandwich_diagonal(left: np.ndarray, middle: np.ndarray) -> np.ndarray:
    """``diag(L M L')`` of stacks of p x p matrices, as p^2 vectorised multiply-adds.

    For the few fixed effects of a model this costs less than half the
    stacked matrix product and the sum over its last (tiny) axis.
    """
    p = left.shape[-1]
    out = np.zeros(np.broadcast_shapes(left.shape, middle.shape)[:-1])
    for k in range(p):
        for j in range(p):
            out += left[..., k] * (left[..., j] * middle[..., k, j, None])
    return out


def _z_roots(k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both roots of ``z - log z = k``, ``z <= 1 <= z`` (``z = -W(-exp(-k))`` on W's two branches).

    Halley steps from W's series at its branch point (``k`` near 1, where
    profiles live: ``k - 1`` is about ``chi2 / n``) or its asymptotic forms;
    a vectorised iteration costs a fraction of ``scipy.special.lambertw``,
    which works in complex arithmetic. At the ends of the admissible theta
    range k reaches 1, the branch point, where rounding can step below it;
    both roots are then z = 1.
    """
    k = np.maximum(k, 1.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        p = np.sqrt(-2.0 * np.expm1(1.0 - k))       # W's branch-point series variable
        p2 = p * p                                  # six terms: one Halley step is then enough
        odd = p * (1.0 + p2 * (11.0 / 72.0 + p2 * (769.0 / 17280.0)))
        even = p2 * (1.0 / 3.0 + p2 * (43.0 / 540.0 + p2 * (221.0 / 8505.0)))
        z = np.stack([1.0 - odd + even, 1.0 + odd + even])
        far = ~(p < 1.0)                            # k > 1.69, and NaN
        if far.any():                               # asymptotic forms, W0(x) ~ x - x^2 ...
            x, log_k = np.exp(-k), np.log(k)
            z = np.where(far, np.stack([x * (1.0 + x * (1.0 + 1.5 * x)), k + log_k + log_k / k]), z)
            z[0] = np.where(np.isposinf(k), 0.0, z[0])  # k = inf (r2 = 0): z = 0 and inf, as W
            z[1] = np.where(np.isposinf(k), np.inf, z[1])
        z = _halley(z, k)                           # one iteration for both branches
    return z[0], z[1]


def _halley(z: np.ndarray, k: np.ndarray, max_steps: int = 8) -> np.ndarray:
    """Refine ``z`` to a root of ``f(z) = z - log z - k`` by Halley's method.

    Halley's error cubes each step on the scale ``min(|z - 1|, z)`` (the
    distance to the branch point, or z itself near 0), so once every step
    is below 1e-6 of that scale the last one left an error below rounding:
    a start within 1e-2 needs two steps. Where ``z`` is 1 (``k = 1``, a
    double root) it stays there; where it is 0 or infinite (``k`` beyond
    ``exp``'s range, or infinite: no residual) it is left as it is.
    """
    for _ in range(max_steps):
        f = z - np.log(z) - k
        gap = z - 1.0                               # f' = gap / z, f'' = 1 / z^2
        step = f * z / (gap - 0.5 * f / gap)       # 0/0 at z = 1: no step
        step = np.where(np.isfinite(step), step, 0.0)
        z = z - step
        if not (np.abs(step) > 1e-6 * np.minimum(np.abs(gap), z)).any():
            break
    return z


def _diagonal(values: np.ndarray) -> np.ndarray:
    """Objective ``k`` evaluated at column ``k``: (R, m, m) -> (R, m)."""
    return np.diagonal(values, axis1=1, axis2=2)
