"""Denominator degrees of freedom of fixed-effect tests: Satterthwaite and Kenward-Roger.

For the random-intercept model ``V = s_b Z Z' + s_e I`` (``s_b = tau^2``,
``s_e = sigma^2``), a contrast ``c`` of ``beta`` has ``v = c' Phi c`` with
``Phi = (X'V^-1 X)^-1`` and the gradient ``g_k = dv / d s_k = c' Phi P_k Phi c``,
``P_k = X'V^-1 V_k V^-1 X`` (``../shared/NOTES.md``, "Denominator df and power"):

* Satterthwaite (lmerTest): ``df = 2 v^2 / (g' W g)`` with ``W = 2 H^-1``,
  ``H`` the observed Hessian of the REML criterion (ML deviance for ML fits)
  in ``(s_b, s_e)``. lmerTest differentiates numerically in ``(theta, sigma)``;
  at the optimum the df does not depend on the parametrisation, so this
  exact value is lmerTest's to its numerical error (about 1e-6). At a
  singular fit lmerTest reports ``N - p`` for every coefficient; so does this.
* Kenward-Roger (pbkrtest): the expected Hessian ``tr(P V_k P V_l)``
  (``P`` the REML projection), ``W_E = 2 H_E^-1``, the adjusted covariance
  ``Phi_A = Phi + 2 Phi [sum_kl W_kl (Q_kl - P_k Phi P_l)] Phi`` with
  ``Q_kl = X'V^-1 V_k V^-1 V_l V^-1 X``, and for one contrast, where
  pbkrtest's general ``m`` and F scaling reduce to ``2 v^2 / (g' W_E g)``
  and 1 (its ``Theta`` is built from the unadjusted ``Phi``), that df; the
  test uses the adjusted SE ``sqrt(c' Phi_A c)``.

Every matrix here is a product of ``V^-1``, ``V_b = Z Z'`` and ``V_e = I``,
which commute within a group: on a group's mean direction they are the
numbers ``1 / lambda_i`` (``lambda_i = s_e + n_i s_b``), ``n_i`` and 1, and
on its within-group directions ``1 / s_e``, 0 and 1. So each quantity is a
sum over the size classes of :class:`~simlab.model.intercept.GroupSums`
plus a within-group part (:class:`_Spectral`), vectorised over replicates.

This module knows nothing about pandas or formulas: it sees arrays.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import special

from .intercept import GroupSums

__all__ = ["DenominatorDF", "DDF_METHODS", "Ingredients", "denominator_df", "intercept_ddf",
           "intercept_ingredients", "normal_quantile", "t_test_p"]

#: How a fixed effect's t test gets its df: lmerTest's default, pbkrtest's, or none (the normal).
DDF_METHODS = ("satterthwaite", "kenward-roger", "normal")


class DenominatorDF(NamedTuple):
    """Tests of every fixed effect, for every replicate.

    Attributes
    ----------
    df_satterthwaite, df_kr : ndarray, shape (R, p)
    vcov_kr : ndarray, shape (R, p, p)
        Kenward-Roger's adjusted covariance of ``beta`` (data units).
    """

    df_satterthwaite: np.ndarray
    df_kr: np.ndarray
    vcov_kr: np.ndarray


def normal_quantile(level: float) -> float:
    """``z`` with ``P(|Z| < z) = level`` for a standard normal ``Z`` (1.96 for 0.95).

    Every Wald interval, and the chi-square(1) cut ``z ** 2`` of the profiles, uses it.
    """
    return float(special.ndtri(0.5 + level / 2))


def t_test_p(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Two-sided p-value of ``t`` on ``df`` degrees of freedom (``inf``: the normal)."""
    return 2 * special.stdtr(df, -np.abs(t))


class _Spectral:
    """Sums over groups of a product ``F`` of ``V^-1``, ``V_b`` and ``V_e``.

    ``F`` is given by its value on the mean direction of a group of size
    ``n`` (``between``, shape (R, K)) and on the within-group directions
    (``within``, shape (R,)).
    """

    def __init__(self, sums: GroupSums, s_b: np.ndarray, s_e: np.ndarray, beta: np.ndarray):
        self.sums, self.n = sums, sums.sizes
        self.lam = s_e[:, None] + self.n * s_b[:, None]                    # (R, K)
        self.s_e = s_e
        # Residual cross products at beta (working units): class and within parts.
        sxx, sxy, syy = sums.sxx, sums.sxy, sums.syy
        sxx_b = np.einsum("rkpq,rq->rkp", sxx, beta)
        self.class_xr = sxy - sxx_b
        self.class_rr = syy - 2 * np.einsum("rkp,rp->rk", sxy, beta) + np.einsum("rkp,rp->rk", sxx_b, beta)
        wxx_b = np.einsum("rpq,rq->rp", np.broadcast_to(sums.wxx, sxx.shape[:1] + sxx.shape[2:]), beta)
        self.within_xr = sums.wxy - wxx_b
        self.within_rr = sums.wyy - 2 * np.einsum("rp,rp->r", sums.wxy, beta) + np.einsum("rp,rp->r", wxx_b, beta)

    def operator(self, powers_inv: int, effects: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """``(between, within)`` of ``V^-powers_inv`` times the ``V_k`` of ``effects`` ("b", "e")."""
        between = self.lam ** -float(powers_inv)
        within = self.s_e ** -float(powers_inv)
        for effect in effects:
            if effect == "b":
                between, within = between * self.n, within * 0.0
        return between, within

    def xfx(self, between: np.ndarray, within: np.ndarray) -> np.ndarray:
        """``X'F X`` (R, p, p)."""
        weight = between / self.n
        return np.einsum("rk,rkpq->rpq", weight, self.sums.sxx) + within[:, None, None] * self.sums.wxx

    def xfr(self, between: np.ndarray, within: np.ndarray) -> np.ndarray:
        """``X'F r`` (R, p) for the residual ``r = y - X beta``."""
        return np.einsum("rk,rkp->rp", between / self.n, self.class_xr) + within[:, None] * self.within_xr

    def rfr(self, between: np.ndarray, within: np.ndarray) -> np.ndarray:
        """``r'F r`` (R,)."""
        return (between / self.n * self.class_rr).sum(axis=-1) + within * self.within_rr

    def trace(self, between: np.ndarray, within: np.ndarray) -> np.ndarray:
        """``tr(F)`` (R,): one mean direction per group, ``n - 1`` within directions."""
        mult = self.sums.multiplicity
        return (mult * between).sum(axis=-1) + within * (mult * (self.n - 1)).sum(axis=-1)


def _gls(sums: GroupSums, s_b: np.ndarray, s_e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(Phi, beta)`` in working units: the GLS covariance factor and estimate."""
    lam = s_e[:, None] + sums.sizes * s_b[:, None]
    weight = 1.0 / (lam * sums.sizes)
    xvx = np.einsum("rk,rkpq->rpq", weight, sums.sxx) + sums.wxx / s_e[:, None, None]
    xvy = np.einsum("rk,rkp->rp", weight, sums.sxy) + sums.wxy / s_e[:, None]
    phi = np.linalg.inv(xvx)
    return phi, np.einsum("rpq,rq->rp", phi, xvy)


def _hessians(spec: _Spectral, phi: np.ndarray, reml: bool) -> tuple[np.ndarray, ...]:
    """``(H_observed, H_expected, P_k, Q_kl)`` of the criterion in ``(s_b, s_e)``."""
    effects = ("b", "e")
    p_k = [spec.xfx(*spec.operator(2, (k,))) for k in effects]
    xr_k = [spec.xfr(*spec.operator(2, (k,))) for k in effects]
    n_reps = phi.shape[0]
    observed, expected = np.empty((n_reps, 2, 2)), np.empty((n_reps, 2, 2))
    q_kl = np.empty((n_reps, 2, 2) + phi.shape[1:])
    for a, k in enumerate(effects):
        for b, l in enumerate(effects):
            q_kl[:, a, b] = spec.xfx(*spec.operator(3, (k, l)))
            trace_v = spec.trace(*spec.operator(2, (k, l)))
            trace_p = (trace_v - 2 * np.einsum("rpq,rqp->r", phi, q_kl[:, a, b])
                       + np.einsum("rpq,rqs,rst,rtp->r", phi, p_k[a], phi, p_k[b]))
            quad = (spec.rfr(*spec.operator(3, (k, l)))
                    - np.einsum("rp,rpq,rq->r", xr_k[a], phi, xr_k[b]))
            observed[:, a, b] = -(trace_p if reml else trace_v) + 2 * quad
            expected[:, a, b] = trace_p
    return observed, expected, np.stack(p_k, axis=1), q_kl


class Ingredients(NamedTuple):
    """What the df of any contrast of ``beta`` needs, for ``R`` replicates.

    The variance parameters ``phi`` (``k`` of them) may be in any
    parametrisation in which ``V`` is linear (variances and covariances,
    possibly rescaled), as long as the gradient and both Hessians use the
    same one: the df do not depend on it.

    Attributes
    ----------
    vcov : ndarray, shape (R, p, p)
        ``Phi``, the covariance of ``beta`` (data units).
    vcov_grad : ndarray, shape (R, k, p, p)
        ``d Phi / d phi_k`` (data units).
    hessian_observed : ndarray, shape (R, k, k)
        Observed Hessian of the fit's criterion (REML criterion, or ML
        deviance for ML fits) in ``phi``: Satterthwaite's.
    hessian_expected : ndarray, shape (R, k, k)
        Expected Hessian of the REML criterion: Kenward-Roger's.
    vcov_kr : ndarray, shape (R, p, p)
        Kenward-Roger's adjusted covariance ``Phi_A`` (data units).
    singular : ndarray of bool, shape (R,)
        Boundary fits, where lmerTest's Satterthwaite df is ``N - p``.
    nobs : ndarray, shape (R,)
    """

    vcov: np.ndarray
    vcov_grad: np.ndarray
    hessian_observed: np.ndarray
    hessian_expected: np.ndarray
    vcov_kr: np.ndarray
    singular: np.ndarray
    nobs: np.ndarray

    def contrast_df(self, contrasts: np.ndarray, method: str) -> np.ndarray:
        """Denominator df of one-row contrasts ``c`` (rows of ``contrasts``, (R, m, p) or (m, p)).

        ``method`` is ``"satterthwaite"`` (lmerTest: observed Hessian, ``N - p``
        at a singular fit) or ``"kenward-roger"`` (pbkrtest: expected Hessian;
        its ``m`` for one contrast is ``2 v^2 / (g' W_E g)``, with ``v`` from
        the unadjusted ``Phi``). Returns (R, m).
        """
        c = np.broadcast_to(contrasts, self.vcov.shape[:1] + np.shape(contrasts)[-2:])
        v = np.einsum("rjp,rpq,rjq->rj", c, self.vcov, c)
        grad = np.einsum("rjp,rkpq,rjq->rjk", c, self.vcov_grad, c)
        hessian = self.hessian_observed if method == "satterthwaite" else self.hessian_expected
        with np.errstate(divide="ignore", invalid="ignore"):
            df = _satterthwaite(v, grad, hessian)
        if method == "satterthwaite":
            p = self.vcov.shape[-1]
            df = np.where(self.singular[:, None], (self.nobs - p)[:, None], df)
        return df


def intercept_ingredients(sums: GroupSums, tau: np.ndarray, sigma: np.ndarray,
                          reml: bool = True) -> Ingredients:
    """:class:`Ingredients` of ``(1 | g)`` fits, exact, from per-group sums.

    Parameters
    ----------
    sums : GroupSums
        ``R`` replicates.
    tau, sigma : ndarray, shape (R,)
        The fitted sds (data units); ``tau = 0`` is a singular fit.
    reml : bool
        Whether the fits are REML (the observed Hessian is then the REML
        criterion's, else the ML deviance's).
    """
    scale = sums.y_scale
    s_b, s_e = (np.asarray(tau, float) / scale) ** 2, (np.asarray(sigma, float) / scale) ** 2
    phi, beta = _gls(sums, s_b, s_e)
    spec = _Spectral(sums, s_b, s_e, beta)
    observed, expected, p_k, q_kl = _hessians(spec, phi, reml)
    # Data-unit beta is y_scale M beta_w (plus a constant): C = y_scale M maps covariances.
    to_data = scale[:, None, None] * np.broadcast_to(sums.x_map, phi.shape)        # (R, p, p)
    to_data_t = np.swapaxes(to_data, -1, -2)
    grad = to_data[:, None] @ (phi[:, None] @ p_k @ phi[:, None]) @ to_data_t[:, None]
    phi_a = kr_covariance(phi, p_k, q_kl, expected)
    return Ingredients(vcov=to_data @ phi @ to_data_t, vcov_grad=grad,
                       hessian_observed=observed, hessian_expected=expected,
                       vcov_kr=to_data @ phi_a @ to_data_t, singular=s_b == 0,
                       nobs=np.broadcast_to(sums.nobs, s_b.shape))


def denominator_df(ingredients: Ingredients) -> DenominatorDF:
    """Satterthwaite and Kenward-Roger df of every coefficient of ``beta``."""
    identity = np.eye(ingredients.vcov.shape[-1])
    return DenominatorDF(ingredients.contrast_df(identity, "satterthwaite"),
                         ingredients.contrast_df(identity, "kenward-roger"),
                         ingredients.vcov_kr)


def intercept_ddf(sums: GroupSums, tau: np.ndarray, sigma: np.ndarray, reml: bool = True,
                  ) -> DenominatorDF:
    """Satterthwaite and Kenward-Roger df of every fixed effect of ``(1 | g)`` fits.

    See :func:`intercept_ingredients` for the parameters.
    """
    return denominator_df(intercept_ingredients(sums, tau, sigma, reml))


def _satterthwaite(v: np.ndarray, grad: np.ndarray, hessian: np.ndarray) -> np.ndarray:
    """``2 v^2 / (g' W g)`` with ``W = 2 H^-1``, for every contrast (R, m)."""
    weight = 2 * np.linalg.inv(hessian)
    return 2 * v ** 2 / np.einsum("rjk,rkl,rjl->rj", grad, weight, grad)


def kr_covariance(phi: np.ndarray, p_k: np.ndarray, q_kl: np.ndarray,
                  expected: np.ndarray) -> np.ndarray:
    """Kenward-Roger's ``Phi_A = Phi + 2 Phi [sum_kl W_kl (Q_kl - P_k Phi P_l)] Phi`` (working
    units), ``W = 2 H_E^-1``, for any number of variance parameters.

    Shapes: ``phi`` (R, p, p), ``p_k`` (R, k, p, p), ``q_kl`` (R, k, k, p, p), ``expected`` (R, k, k).
    """
    weight = 2 * np.linalg.inv(expected)
    products = p_k[:, :, None] @ phi[:, None, None] @ p_k[:, None]               # P_k Phi P_l
    inner = np.einsum("rkl,rklpq->rpq", weight, q_kl - products)
    return phi + 2 * phi @ inner @ phi
