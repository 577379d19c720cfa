"""F tests of ``L beta = rhs`` with Satterthwaite (lmerTest) or Kenward-Roger (pbkrtest) df.

From :class:`~simlab.model.ddf.Ingredients` and ``beta`` alone, vectorised
over replicates (``R`` fits of one design):

* Satterthwaite, lmerTest's ``contestMD``: eigen-decompose
  ``L Phi L' = P D P'``; the rows of ``P'L`` are independent contrasts with
  ``t_m^2 = (P'L beta)_m^2 / d_m`` and Satterthwaite df ``nu_m``; ``F`` is
  the mean of the ``t_m^2`` and, with ``E = sum nu_m / (nu_m - 2)``, the
  denominator df is ``2 E / (E - q)``: ``nu`` itself for ``q = 1``, the
  mean when all ``nu_m`` agree to 1e-8 (lmerTest's guard against the
  formula's rounding), and 2 when any ``nu_m <= 2``. The ``nu_m`` depend on
  the basis of ``L``'s rows only through ``L Phi L'``: an orthogonal change
  of rows (or a rescaling of them all) changes nothing, another basis can
  change the df (``F`` never changes).
* Kenward-Roger, pbkrtest's ``.KR_adjust``: with ``Theta = L'(L Phi L')^-1 L``,
  ``u_k = Theta dPhi/dphi_k`` and ``W = 2 H_E^-1`` (``H_E`` the expected
  Hessian of the REML criterion), ``A1 = sum_kl W_kl tr(u_k) tr(u_l)`` and
  ``A2 = sum_kl W_kl tr(u_k u_l)`` give the df ``m`` and the F scaling
  ``lambda``; the statistic is ``lambda`` times the Wald ``F`` of the
  adjusted covariance ``Phi_A``. Both depend on the row space of ``L`` only.

This module knows nothing about pandas or formulas: it sees arrays.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import special

from .ddf import Ingredients

__all__ = ["FTest", "F_METHODS", "check_contrast", "f_test", "satterthwaite_f", "kenward_roger_f"]

#: The df methods of an F test (lmerTest's ``ddf``): the t tests' methods but the normal.
F_METHODS = ("satterthwaite", "kenward-roger")
#: lmerTest's ``get_Fstat_ddf``: df closer than this are taken as equal (their mean is returned).
_EQUAL_DF = 1e-8


class FTest(NamedTuple):
    """F tests of one hypothesis ``L beta = rhs``, for ``R`` replicates.

    Attributes
    ----------
    f_value : ndarray, shape (R,)
        The test statistic (Kenward-Roger's scaled by ``scaling``).
    num_df : int
        ``q``, the rank of ``L``.
    den_df : ndarray, shape (R,)
    p : ndarray, shape (R,)
        ``P(F(q, den_df) > f_value)``.
    wald_f : ndarray, shape (R,)
        The unscaled Wald statistic over ``q`` (with ``Phi_A`` for
        Kenward-Roger): lmerTest's ``Mean Sq`` is ``wald_f * sigma^2``.
    scaling : ndarray, shape (R,)
        Kenward-Roger's F scaling ``lambda``; 1 for Satterthwaite.
    """

    f_value: np.ndarray
    num_df: int
    den_df: np.ndarray
    p: np.ndarray
    wald_f: np.ndarray
    scaling: np.ndarray


def check_contrast(L, n_coef: int) -> np.ndarray:
    """``L`` as a float (q, p) matrix of full row rank, or an error saying what is wrong.

    A vector is one row. ``n_coef`` is ``p``, the number of fixed effects.

    Raises
    ------
    ValueError
        If ``L`` is not numeric, not 1-D or 2-D, has no row, not ``p``
        columns, a non-finite entry, or rows that are linearly dependent
        (a zero row included).
    """
    try:
        matrix = np.array(L, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"L must be a numeric matrix with {n_coef} columns (one per fixed "
                         f"effect), got {type(L).__name__}") from None
    if matrix.ndim == 1:
        matrix = matrix[None]
    if matrix.ndim != 2 or matrix.shape[0] == 0 or matrix.shape[1] != n_coef:
        raise ValueError(f"L must have one or more rows and {n_coef} columns (one per fixed "
                         f"effect); got shape {np.shape(L)}")
    if not np.isfinite(matrix).all():
        raise ValueError("L has missing or infinite entries; every entry must be a finite number")
    rank = np.linalg.matrix_rank(matrix)
    if rank < matrix.shape[0]:
        raise ValueError(f"the {matrix.shape[0]} rows of L are linearly dependent (rank {rank}): "
                         "the hypothesis has fewer than one df per row; drop the redundant rows")
    return matrix


def f_test(ingredients: Ingredients, beta: np.ndarray, L: np.ndarray, method: str,
           rhs: np.ndarray | float = 0.0) -> FTest:
    """F test of ``L beta = rhs`` with the df of ``method`` (one of :data:`F_METHODS`).

    Parameters
    ----------
    ingredients : Ingredients
        Of ``R`` fits.
    beta : ndarray, shape (R, p)
        The fixed effects of the fits.
    L : ndarray, shape (q, p)
        A contrast matrix of full row rank (:func:`check_contrast`).
    method : {"satterthwaite", "kenward-roger"}
    rhs : float or ndarray, shape (q,)
    """
    if method not in F_METHODS:
        raise ValueError(f"ddf must be one of {F_METHODS}, got {method!r}")
    L = np.asarray(L, dtype=float)
    estimate = np.einsum("qp,rp->rq", L, np.atleast_2d(beta)) - np.asarray(rhs, dtype=float)
    run = satterthwaite_f if method == "satterthwaite" else kenward_roger_f
    return run(ingredients, estimate, L)


def satterthwaite_f(ingredients: Ingredients, estimate: np.ndarray, L: np.ndarray) -> FTest:
    """lmerTest's ``contestMD`` for the contrast estimates ``estimate = L beta - rhs`` (R, q)."""
    q = L.shape[0]
    d, P = np.linalg.eigh(L @ ingredients.vcov @ L.T)                   # (R, q), (R, q, q)
    rows = np.einsum("rkm,kp->rmp", P, L)                               # P'L: one contrast a row
    t2 = np.einsum("rkm,rk->rm", P, estimate) ** 2 / d
    nu = ingredients.contrast_df(rows, "satterthwaite")
    f_value = t2.mean(axis=-1)
    den_df = _combined_df(nu[:, ::-1])                                  # lmerTest's descending order
    ones = np.ones_like(f_value)
    return FTest(f_value, q, den_df, special.fdtrc(q, den_df, f_value), f_value, ones)


def _combined_df(nu: np.ndarray) -> np.ndarray:
    """lmerTest's ``get_Fstat_ddf``: the df of the mean of ``q`` squared t's with df ``nu`` (R, q)."""
    q = nu.shape[-1]
    if q == 1:
        return nu[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        e = (nu / (nu - 2)).sum(axis=-1)
        df = 2 * e / (e - q)
    df = np.where((nu <= 2).any(axis=-1), 2.0, df)
    equal = (np.abs(np.diff(nu, axis=-1)) < _EQUAL_DF).all(axis=-1)
    return np.where(equal, nu.mean(axis=-1), df)


def kenward_roger_f(ingredients: Ingredients, estimate: np.ndarray, L: np.ndarray) -> FTest:
    """pbkrtest's ``.KR_adjust`` for the contrast estimates ``estimate = L beta - rhs`` (R, q)."""
    q = L.shape[0]
    phi = ingredients.vcov
    theta = L.T @ np.linalg.solve(L @ phi @ L.T, np.broadcast_to(L, phi.shape[:1] + L.shape))
    u = theta[:, None] @ ingredients.vcov_grad                          # (R, k, p, p)
    weight = 2 * np.linalg.inv(ingredients.hessian_expected)
    trace = np.einsum("rkpp->rk", u)
    a1 = np.einsum("rk,rkl,rl->r", trace, weight, trace)
    a2 = np.einsum("rkl,rkpq,rlqp->r", weight, u, u)
    den_df, scaling = _kr_df_scaling(a1, a2, q)
    wald_f = np.einsum("rq,rq->r", estimate,
                       np.linalg.solve(L @ ingredients.vcov_kr @ L.T, estimate[..., None])[..., 0]) / q
    f_value = scaling * wald_f
    return FTest(f_value, q, den_df, special.fdtrc(q, den_df, f_value), wald_f, scaling)


def _kr_df_scaling(a1: np.ndarray, a2: np.ndarray, q: int) -> tuple[np.ndarray, np.ndarray]:
    """Kenward and Roger's df ``m`` and F scaling ``lambda`` from ``A1``, ``A2`` (pbkrtest's rules)."""
    b = (a1 + 6 * a2) / (2 * q)
    g = ((q + 1) * a1 - (q + 4) * a2) / ((q + 2) * a2)
    denominator = 3 * q + 2 * (1 - g)
    c1, c2, c3 = g / denominator, (q - g) / denominator, (q + 2 - g) / denominator
    v0 = 1 + c1 * b
    v0 = np.where(np.abs(v0) < 1e-10, 0.0, v0)
    v1, v2 = 1 - c2 * b, 1 - c3 * b
    shrink = 1 - a2 / q
    # pbkrtest's .divZero: 0/0 (to 1e-14) is taken as 1.
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where((np.abs(shrink) < 1e-14) & (np.abs(v1) < 1e-14), 1.0, shrink / v1)
        rho = ratio ** 2 * v0 / v2 / q
        den_df = 4 + (q + 2) / (q * rho - 1)
        # Near df = 2 the scaling is unstable; pbkrtest then leaves F unscaled.
        scaling = np.where(np.abs(den_df - 2) < 1e-2, 1.0, den_df * shrink / (den_df - 2))
    return den_df, scaling
