"""Denominator df of fixed-effect tests for models with random slopes (one grouping factor).

The :class:`~simlab.model.ddf.Ingredients` of :mod:`.ddf`, for fits of
:mod:`.relcov`: group ``i`` has ``V_i = Z_i Sigma Z_i' + sigma^2 I``, linear
in ``phi`` = (the free entries of the ``q x q`` covariance ``Sigma``, in the
layout's order, then ``sigma^2``), with ``G_k = dV / dphi_k``: ``Z_i E_k Z_i'``
(``E_k`` the symmetric unit matrix of entry ``k``) and ``I``. A diagonal
layout (``(1 + x || g)``) has variances only.

Each group's rows split as in :class:`~simlab.model.relcov.CrossProducts`:
on the ``q`` directions ``Q_i`` spanned by ``Z_i = Q_i root_i`` every product
of ``V^-1`` and the ``G_k`` is a ``q x q`` matrix (``V`` is
``C_i = root_i Sigma root_i' + sigma^2 I``, ``G_k`` is ``root_i E_k root_i'``
or ``I``); on the other ``n_i - q`` directions it is a number (``V^-1`` is
``1 / sigma^2``, ``G_k`` is 0 or 1). Directions a group does not identify
(``root_i`` has a zero row) behave as within-group ones, so counting ``q``
per group and ``n_i - q`` within stays right. Hence ``X'V^-1 G_k V^-1 X``,
``X'V^-1 G_k V^-1 G_l V^-1 X``, ``tr(V^-1 G_k V^-1 G_l)`` and the quadratic
forms of the residual are sums over classes of groups of ``q x q``,
``q x p`` and ``p x p`` products: exact, vectorised over replicates, with
the formulas of :mod:`.ddf` (``../shared/NOTES.md``, "Denominator df and power").

**lmerTest's observed Hessian.** lmerTest differentiates numerically in
lme4's ``t = (theta, sigma)``: its weight of the variance parameters is
``W = 2 H_t^+`` (``+``: inverse on the positive eigenvalues) and the
gradient of ``vcov`` is ``J' d Phi / d phi`` (``J = d phi / d t``). So
``g' W g`` is ``g_phi' (2 J H_t^+ J') g_phi``, computed here exactly, with
``H_t = J' H J + sum_k g_k d^2 phi_k / dt^2`` (``H``, ``g_k`` the
Hessian and gradient in ``phi``). At an interior optimum ``g = 0`` and
this is ``H`` itself; away from it (at lme4's ``theta``, which stops
short of the optimum) the curvature term is what lmerTest has. At a
boundary (a diagonal element of ``Lambda`` at 0) ``J`` is singular,
``d vcov / d theta_j = 0`` there and ``g`` is not 0: lmerTest's df is
that of the other parameters, with that curvature. The weight
``2 J H_t^+ J'`` is then singular; :class:`Ingredients` holds a Hessian,
so such replicates use ``psi = U' phi`` along ``W``'s eigenvectors ``U``
(a rotation: ``V`` stays linear and Kenward-Roger, which pbkrtest
computes in ``phi`` whatever the fit, is unchanged) with the Hessian
``diag(2 / w)`` and :data:`DECOUPLED` where ``w = 0``. With ``Sigma = 0``
(every ``theta`` 0) lmerTest's df is ``N - p`` (``Ingredients.singular``).

This module knows nothing about pandas or formulas: it sees arrays.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .ddf import Ingredients, kr_covariance
from .relcov import CrossProducts, ThetaLayout

__all__ = ["relcov_ingredients", "DECOUPLED"]

#: The Hessian of a direction in which lmerTest's ``(theta, sigma)`` cannot move ``phi``
#: (its ``W`` there is 0): large enough that ``2 / DECOUPLED`` adds nothing to any df.
DECOUPLED = 1e300
#: Eigenvalues of ``H_theta`` (``W``) up to this fraction of the largest count as 0, as
#: lmerTest's pseudo-inverse drops them.
EIGEN_RTOL = 1e-10


def _t(a: np.ndarray) -> np.ndarray:
    return np.swapaxes(a, -1, -2)


def _units(layout: ThetaLayout) -> np.ndarray:
    """``E_k``, shape (k, q, q): ``d Sigma / d phi_k`` for each free entry of ``Sigma``."""
    rows, cols = layout.index
    units = np.zeros((rows.size, layout.q, layout.q))
    units[np.arange(rows.size), rows, cols] = 1.0
    units[np.arange(rows.size), cols, rows] = 1.0
    return units


class _Parts(NamedTuple):
    """Per-class ``q x q`` blocks and within-group numbers of ``V^-1`` and the ``G_k``.

    ``n = k + 1`` parameters; the last is ``sigma^2``. Working units.
    """

    mult: np.ndarray       # (1 or R, K): groups per class
    qx: np.ndarray         # (1 or R, K, q, p)
    c_inv: np.ndarray      # (R, K, q, q): C_i^-1
    y_k: np.ndarray        # (R, K, n, q, q): C_i^-1 G_k
    s_e: np.ndarray        # (R,)
    n_within: np.ndarray   # (R,): rows minus q per group


def _parts(cp: CrossProducts, layout: ThetaLayout, sigma_cov: np.ndarray,
           s_e: np.ndarray) -> _Parts:
    """:class:`_Parts` at ``Sigma`` (R, q, q) and ``sigma^2`` (R,), working units."""
    root, q = cp.root, cp.q
    c = root @ sigma_cov[:, None] @ _t(root) + s_e[:, None, None, None] * np.eye(q)
    c_inv = np.linalg.inv(c)
    g_sigma = root[:, :, None] @ _units(layout) @ _t(root)[:, :, None]          # (1|R, K, k, q, q)
    g_all = np.concatenate([np.broadcast_to(g_sigma, c.shape[:2] + g_sigma.shape[2:]),
                            np.broadcast_to(np.eye(q), c.shape[:2] + (1, q, q))], axis=2)
    n_within = np.broadcast_to(cp.nobs - q * cp.n_groups, s_e.shape).astype(float)
    mult = np.reshape(cp.multiplicity, (-1, cp.multiplicity.shape[-1]))
    return _Parts(mult, cp.qx, c_inv, c_inv[:, :, None] @ g_all, s_e, n_within)


def _gls(cp: CrossProducts, parts: _Parts) -> tuple[np.ndarray, np.ndarray]:
    """``(Phi, beta)``: ``(X'V^-1 X)^-1`` and the GLS estimate, working units."""
    x_c = parts.c_inv @ parts.qx
    xvx = (parts.mult[..., None, None] * (_t(parts.qx) @ x_c)).sum(axis=1)
    xvx = xvx + cp.wxx / parts.s_e[:, None, None]
    xvy = np.einsum("rkqp,rkq->rp", np.broadcast_to(x_c, cp.sy.shape[:2] + x_c.shape[2:]), cp.sy)
    xvy = xvy + cp.wxy / parts.s_e[:, None]
    phi = np.linalg.inv(xvx)
    return phi, np.einsum("rpq,rq->rp", phi, xvy)


class _Residual(NamedTuple):
    """Class sums of the residual ``r = y - X beta`` on the ``Q_i`` directions; its within parts."""

    s_r: np.ndarray       # (R, K, q): sum of Q_i'r_i
    s_rr: np.ndarray      # (R, K, q, q): sum of Q_i'r_i r_i'Q_i
    w_xr: np.ndarray      # (R, p)
    w_rr: np.ndarray      # (R,)


def _residual(cp: CrossProducts, beta: np.ndarray, mult: np.ndarray) -> _Residual:
    """:class:`_Residual` at ``beta`` (R, p), working units."""
    fitted = (cp.qx @ beta[:, None, :, None])[..., 0]                           # (R, K, q)
    cross = cp.sy[..., :, None] * fitted[..., None, :]
    s_rr = (cp.syy - cross - _t(cross)
            + mult[..., None, None] * fitted[..., :, None] * fitted[..., None, :])
    w_xb = np.einsum("rpq,rq->rp", np.broadcast_to(cp.wxx, beta.shape + beta.shape[-1:]), beta)
    w_rr = cp.wyy - 2 * (cp.wxy * beta).sum(-1) + (w_xb * beta).sum(-1)
    return _Residual(cp.sy - mult[..., None] * fitted, s_rr, cp.wxy - w_xb, w_rr)


class _Derivatives(NamedTuple):
    """Products of ``V^-1`` and the ``G_k`` that the df need (working units, ``n`` parameters)."""

    p_k: np.ndarray        # (R, n, p, p): X'V^-1 G_k V^-1 X
    q_kl: np.ndarray       # (R, n, n, p, p): X'V^-1 G_k V^-1 G_l V^-1 X
    xr_k: np.ndarray       # (R, n, p): X'V^-1 G_k V^-1 r
    trace_k: np.ndarray    # (R, n): tr(V^-1 G_k)
    trace_kl: np.ndarray   # (R, n, n): tr(V^-1 G_k V^-1 G_l)
    quad_k: np.ndarray     # (R, n): r'V^-1 G_k V^-1 r
    quad_kl: np.ndarray    # (R, n, n): r'V^-1 G_k V^-1 G_l V^-1 r


def _derivatives(cp: CrossProducts, parts: _Parts, res: _Residual) -> _Derivatives:
    """:class:`_Derivatives`: the class sums plus the within part, where only ``sigma^2`` acts."""
    mult, y_k, c_inv, qx_t = parts.mult, parts.y_k, parts.c_inv, _t(parts.qx)
    y_kl = y_k[:, :, :, None] @ y_k[:, :, None, :]                              # (R, K, n, n, q, q)
    x_c = c_inv @ parts.qx
    r_c = (c_inv @ res.s_r[..., None])[..., 0]                                  # (R, K, q)
    c_rr = c_inv @ res.s_rr
    m = mult[..., None, None, None]
    p_k = (m * (qx_t[:, :, None] @ y_k @ x_c[:, :, None])).sum(axis=1)
    q_kl = (m[..., None] * (qx_t[:, :, None, None] @ y_kl @ x_c[:, :, None, None])).sum(axis=1)
    xr_k = (qx_t[:, :, None] @ y_k @ r_c[:, :, None, :, None])[..., 0].sum(axis=1)
    trace_k = (mult[..., None] * np.trace(y_k, axis1=-2, axis2=-1)).sum(axis=1)
    trace_kl = (mult[..., None, None] * np.trace(y_kl, axis1=-2, axis2=-1)).sum(axis=1)
    quad_k = np.einsum("rknab,rkba->rn", y_k, c_rr)
    quad_kl = np.einsum("rknlab,rkba->rnl", y_kl, c_rr)
    # Within groups V^-1 = 1 / s_e and only G_e = I is not 0.
    s_e, e = parts.s_e, -1
    p_k[:, e] += cp.wxx / s_e[:, None, None] ** 2
    q_kl[:, e, e] += cp.wxx / s_e[:, None, None] ** 3
    xr_k[:, e] += res.w_xr / s_e[:, None] ** 2
    trace_k[:, e] += parts.n_within / s_e
    trace_kl[:, e, e] += parts.n_within / s_e ** 2
    quad_k[:, e] += res.w_rr / s_e ** 2
    quad_kl[:, e, e] += res.w_rr / s_e ** 3
    return _Derivatives(p_k, q_kl, xr_k, trace_k, trace_kl, quad_k, quad_kl)


def _criterion_derivatives(d: _Derivatives, phi: np.ndarray,
                           reml: bool) -> tuple[np.ndarray, ...]:
    """``(gradient, H_observed, H_expected)`` of the criterion in ``phi``.

    REML criterion: gradient ``tr(P G_k) - y'P G_k P y``, Hessian
    ``-tr(P G_k P G_l) + 2 y'P G_k P G_l P y``; ML deviance (``beta``
    profiled, as lmerTest's): ``V^-1`` for ``P`` in the traces. Expected:
    ``tr(P G_k P G_l)``. With ``P = V^-1 - V^-1 X Phi X'V^-1`` and
    ``P y = V^-1 r``, as :func:`.ddf._hessians` for ``q = 1``.
    """
    trace_p1 = d.trace_k - np.einsum("rpq,rnqp->rn", phi, d.p_k)
    trace_p = (d.trace_kl - 2 * np.einsum("rpq,rnlqp->rnl", phi, d.q_kl)
               + np.einsum("rpq,rnqs,rst,rltp->rnl", phi, d.p_k, phi, d.p_k))
    quad = d.quad_kl - np.einsum("rnp,rpq,rlq->rnl", d.xr_k, phi, d.xr_k)
    gradient = (trace_p1 if reml else d.trace_k) - d.quad_k
    observed = -(trace_p if reml else d.trace_kl) + 2 * quad
    observed = (observed + _t(observed)) / 2          # Q_kl' = Q_lk: symmetric to rounding
    return gradient, observed, (trace_p + _t(trace_p)) / 2


def _chart(layout: ThetaLayout, theta: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, ...]:
    """First and second derivatives of ``phi`` in lme4's ``(theta, sigma)`` (working units).

    ``Sigma = sigma^2 Lambda Lambda'`` and ``sigma^2``. Returns ``J`` (R, n, n),
    ``J[:, k, a] = d phi_k / d t_a``, and ``D`` (R, n, n, n),
    ``D[:, k, a, b] = d^2 phi_k / d t_a d t_b``, for ``t = (theta, sigma)``.
    """
    k, rows, cols = layout.size, *layout.index
    lam = layout.lam(theta)
    unit = np.zeros((k, layout.q, layout.q))
    unit[np.arange(k), rows, cols] = 1.0                  # d Lambda / d theta_a
    s2 = sigma[:, None, None] ** 2
    d_lam = unit @ _t(lam)[:, None]                       # E_a Lambda' (R, k, q, q)
    d_sigma = np.concatenate([s2[:, None] * (d_lam + _t(d_lam)),
                              (2 * sigma[:, None, None] * lam @ _t(lam))[:, None]], axis=1)
    second = np.zeros(theta.shape[:1] + (k + 1, k + 1, layout.q, layout.q))
    pair = unit[:, None] @ _t(unit)[None]                 # E_a E_b'
    second[:, :k, :k] = s2[:, None, None] * (pair + _t(pair))
    second[:, :k, k] = second[:, k, :k] = 2 / sigma[:, None, None, None] * d_sigma[:, :k]
    second[:, k, k] = 2 * lam @ _t(lam)
    jac = np.zeros(theta.shape[:1] + (k + 1, k + 1))
    jac[:, :k] = np.moveaxis(d_sigma[..., rows, cols], -1, 1)
    jac[:, k, k] = 2 * sigma
    hess = np.zeros(theta.shape[:1] + (k + 1,) * 3)
    hess[:, :k] = np.moveaxis(second[..., rows, cols], -1, 1)
    hess[:, k, k, k] = 2.0
    return jac, hess


def _lmertest_observed(layout: ThetaLayout, theta: np.ndarray, sigma: np.ndarray,
                       gradient: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """lmerTest's observed Hessian, in ``phi`` or, at a boundary, ``psi = U' phi``: ``(H, U)``.

    ``H_theta = J' H J + sum_k g_k D_k`` is the exact Hessian of the criterion
    in ``t = (theta, sigma)`` (:func:`_chart`; ``g``, ``H`` its gradient and
    Hessian in ``phi``), and lmerTest's weight of the variance parameters is
    ``W = 2 J H_theta^+ J'`` in ``phi``, ``+`` keeping the eigenvalues above
    :data:`EIGEN_RTOL` of the largest. Inside the bounds ``J`` is invertible:
    ``H = J^-T H_theta J^-1`` (``H`` itself where ``g = 0``, at the optimum),
    ``U = I``. At a boundary ``U`` holds ``W``'s eigenvectors ``w`` and the
    Hessian is ``diag(2 / w)``, :data:`DECOUPLED` where ``w = 0``; with
    ``Sigma = 0`` (``Ingredients.singular``, ``N - p``) ``H`` is kept.
    """
    k = layout.size
    jac, second = _chart(layout, theta, sigma)
    hess = _t(jac) @ observed @ jac + np.einsum("rk,rkab->rab", gradient, second)
    basis = np.broadcast_to(np.eye(k + 1), observed.shape).copy()
    out = observed.copy()
    singular = (theta == 0).all(axis=-1)
    boundary = (theta[:, layout.on_diagonal] == 0).any(axis=-1) & ~singular
    inside = ~boundary & ~singular
    inv_jac = np.linalg.inv(jac[inside])
    out[inside] = _t(inv_jac) @ hess[inside] @ inv_jac
    if boundary.any():
        evals, evecs = np.linalg.eigh(hess[boundary])
        keep = evals > EIGEN_RTOL * np.abs(evals).max(axis=-1, keepdims=True)
        pinv = evecs @ (np.where(keep, 1 / np.where(keep, evals, 1.0), 0.0)[..., None] * _t(evecs))
        weight = 2 * jac[boundary] @ pinv @ _t(jac[boundary])
        w, basis[boundary] = np.linalg.eigh((weight + _t(weight)) / 2)
        zero = w <= EIGEN_RTOL * np.abs(w).max(axis=-1, keepdims=True)
        diagonal = np.where(zero, DECOUPLED, 2 / np.where(zero, 1.0, w))
        out[boundary] = diagonal[..., None] * np.eye(k + 1)
    return (out + _t(out)) / 2, basis


def relcov_ingredients(cp: CrossProducts, layout: ThetaLayout, theta: np.ndarray,
                       sigma: np.ndarray, reml: bool = True) -> Ingredients:
    """:class:`~simlab.model.ddf.Ingredients` of fits of :mod:`.relcov`, exact.

    Parameters
    ----------
    cp : CrossProducts
        ``R`` replicates (one design, or stacked).
    layout : ThetaLayout
    theta : ndarray, shape (R, k)
        lme4's ``theta`` (data units), as :attr:`.relcov.RelCovFit.theta`.
    sigma : ndarray, shape (R,)
        Residual sd (data units).
    reml : bool
        Whether the fits are REML (the observed Hessian is then the REML
        criterion's, else the ML deviance's).

    Returns
    -------
    Ingredients
        In ``phi`` = (free entries of ``Sigma``, ``sigma^2``), working units;
        at a boundary fit with ``Sigma != 0``, in the rotated ``psi`` of the
        module's notes, which carries lmerTest's Satterthwaite df.
    """
    theta_w = cp.to_work(np.asarray(theta, dtype=float), layout)
    sigma_w = np.asarray(sigma, dtype=float) / cp.y_scale
    s_e = sigma_w ** 2
    lam = layout.lam(theta_w)
    parts = _parts(cp, layout, s_e[:, None, None] * lam @ _t(lam), s_e)
    phi, beta = _gls(cp, parts)
    d = _derivatives(cp, parts, _residual(cp, beta, parts.mult))
    gradient, observed, expected = _criterion_derivatives(d, phi, reml)
    with np.errstate(divide="ignore", invalid="ignore"):
        observed, basis = _lmertest_observed(layout, theta_w, sigma_w, gradient, observed)
    grad_w = np.einsum("rkj,rkpq->rjpq", basis, phi[:, None] @ d.p_k @ phi[:, None])
    to_data = cp.y_scale[:, None, None] * np.broadcast_to(cp.x_map, phi.shape)
    to_data_t = _t(to_data)
    return Ingredients(vcov=to_data @ phi @ to_data_t,
                       vcov_grad=to_data[:, None] @ grad_w @ to_data_t[:, None],
                       hessian_observed=observed, hessian_expected=_t(basis) @ expected @ basis,
                       vcov_kr=to_data @ kr_covariance(phi, d.p_k, d.q_kl, expected) @ to_data_t,
                       singular=(theta_w == 0).all(axis=-1),
                       nobs=np.broadcast_to(cp.nobs, s_e.shape))
