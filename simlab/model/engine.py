"""The exact engine, seen from a fitted design: fit, ML deviance, profile, bootstrap.

Results and ``confint`` ask this module, never the engines' files, so no
caller needs to know which of the two exact engines a model uses:

* :mod:`.intercept` (with :mod:`.intercept_profile`), the closed-form fast path of the
  random intercept ``(1 | g)``: one parameter ``theta = tau / sigma``;
* :mod:`.relcov`, lme4's relative covariance factor for ``q`` random
  effects per group (``(1 + x | g)``, ``(1 + x || g)``, ...), of which the
  random intercept is the case ``q = 1`` (same numbers, slower).
"""
from __future__ import annotations

import numpy as np

from typing import NamedTuple

from .design import Design
from .estimates import SINGULAR_TOL, FitEstimates, exact_estimates, group_sums
from .ddf import Ingredients, intercept_ingredients
from .intercept import GroupSums, fit_theta
from .relcov import CrossProducts, RelCovFit, ThetaLayout
from .relcov import fit as relcov_fit
from .relcov_ddf import relcov_ingredients

__all__ = ["fit", "layout", "cross_products", "relcov_estimates", "refit_replicates", "profile",
           "ReplicateFits", "variance_parameters", "test_ingredients", "ml_deviance", "ml_deviance_at", "ml_deviance_general", "SINGULAR_TOL"]


def layout(design: Design) -> ThetaLayout:
    """The free entries of ``Lambda``: a full lower triangle, or its diagonal."""
    q = len(design.random_terms)
    return ThetaLayout.full(q) if design.correlated else ThetaLayout.diagonal(q)


def cross_products(design: Design, y: np.ndarray | None = None) -> CrossProducts:
    """Per-group cross products of ``design`` (or of responses ``y``, shape (R, n), on it)."""
    return CrossProducts.from_arrays(design.y if y is None else y, design.X, design.Z,
                                     design.groups, design.n_groups)


def fit(design: Design, reml: bool) -> FitEstimates:
    """The exact fit of ``design``: the fast path for ``(1 | g)``, else :mod:`.relcov`."""
    if design.random_intercept_only:
        return exact_estimates(design, reml)
    return relcov_estimates(relcov_fit(cross_products(design), layout(design), reml), 0)


class ReplicateFits(NamedTuple):
    """Refits of many responses on one design, in lme4's ``confint`` parameter order.

    ``values`` (R, P): the random effects' sds and correlations, ``sigma``,
    then the fixed effects (the rows of :func:`.parameters.parameter_names`).
    """

    values: np.ndarray
    converged: np.ndarray
    singular: np.ndarray


def refit_replicates(design: Design, y: np.ndarray, reml: bool) -> ReplicateFits:
    """Fit every response ``y`` (R, n) on ``design``'s X, Z and groups, all at once."""
    if design.random_intercept_only:
        fit = fit_theta(GroupSums.from_arrays(y, design.X, design.groups, design.n_groups), reml)
        return ReplicateFits(np.column_stack([fit.tau, fit.sigma, fit.beta]), fit.converged,
                             fit.singular)
    model = layout(design)
    result = relcov_fit(cross_products(design, y), model, reml)
    values = np.column_stack([variance_parameters(result), result.beta])
    singular = (result.theta[:, model.on_diagonal] < SINGULAR_TOL).any(axis=-1)
    return ReplicateFits(values, result.converged, singular)


def variance_parameters(result: RelCovFit) -> np.ndarray:
    """The random effects' sds and correlations, then ``sigma``: (R, P) in lme4's order.

    Within each block of the layout, effect ``j``'s sd is followed by its
    correlations with the block's later effects, as :func:`.parameters.variance_names`.
    """
    columns, start = [], 0
    for size in result.layout.blocks:
        for j in range(start, start + size):
            columns.append(result.sd[:, j])
            columns += [result.corr[:, k, j] for k in range(j + 1, start + size)]
        start += size
    return np.column_stack([*columns, result.sigma])


def profile(design: Design, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact profile-likelihood bounds (lower, upper), in lme4's ``confint`` order.

    The ML deviance is profiled (also for REML fits) and cut at
    ``qchisq(level, 1)``, as lme4's ``confint(method = "profile")``.
    """
    if design.random_intercept_only:
        from .intercept_profile import profile_bounds
        bounds = profile_bounds(group_sums(design), level)
    else:
        from .relcov_profile import profile_bounds as relcov_profile_bounds
        bounds = relcov_profile_bounds(cross_products(design), layout(design), level)
    return bounds.lower[0], bounds.upper[0]


def test_ingredients(design: Design, estimates: FitEstimates) -> Ingredients:
    """What the df of the fixed-effect tests need (:class:`.ddf.Ingredients`), exact.

    ``(1 | g)`` from its per-group sums (:mod:`.ddf`); models with random
    slopes from their cross products (:mod:`.relcov_ddf`), at lme4's
    ``theta`` and ``sigma`` of ``estimates``.
    """
    if design.random_intercept_only:
        tau = np.sqrt(estimates.re_cov[0, 0])
        return intercept_ingredients(group_sums(design), np.array([tau]),
                                     np.array([estimates.sigma]), estimates.reml)
    return relcov_ingredients(cross_products(design), layout(design), estimates.theta[None],
                              np.array([estimates.sigma]), estimates.reml)


def relcov_estimates(result: RelCovFit, rep: int) -> FitEstimates:
    """Replicate ``rep`` of a :class:`~simlab.model.relcov.RelCovFit` as :class:`FitEstimates`."""
    diagonal = result.theta[rep, result.layout.on_diagonal]
    singular = bool((diagonal < SINGULAR_TOL).any())
    messages = [] if result.converged[rep] else [result.messages[rep]]
    if singular:
        messages.insert(0, "boundary (singular) fit: see help('isSingular')")
    return FitEstimates(
        beta=result.beta[rep], vcov=result.vcov[rep], re_cov=result.re_cov[rep],
        sigma=float(result.sigma[rep]), modes=result.modes[rep], mode_sd=result.mode_sd[rep],
        criterion=float(result.value[rep]), reml=result.reml,
        converged=bool(result.converged[rep]), singular=singular, engine="exact",
        messages=tuple(messages), iterations=int(result.iterations[rep]),
        theta=result.theta[rep])


def ml_deviance(design: Design, beta: np.ndarray, re_cov: np.ndarray, sigma: float) -> float:
    """-2 ML log-likelihood of ``design`` at given parameters (lme4's ``deviance(REML = FALSE)``)."""
    resid = design.y - design.X @ beta
    if design.random_intercept_only:
        return ml_deviance_at(design, resid, float(np.sqrt(re_cov[0, 0])), sigma)
    return ml_deviance_general(design, resid, re_cov, sigma)


def ml_deviance_at(design: Design, resid: np.ndarray, tau: float, sigma: float) -> float:
    """-2 ML log-likelihood of a random-intercept model at given parameters."""
    counts = np.bincount(design.groups, minlength=design.n_groups).astype(float)
    sums = np.bincount(design.groups, weights=resid, minlength=design.n_groups)
    s = (tau / sigma) ** 2
    quad = (resid @ resid - (s / (1.0 + counts * s) * sums ** 2).sum()) / sigma ** 2
    return float(design.nobs * np.log(2 * np.pi * sigma ** 2) + np.log1p(counts * s).sum() + quad)


def ml_deviance_general(design: Design, resid: np.ndarray, re_cov: np.ndarray,
                        sigma: float) -> float:
    """-2 ML log-likelihood of a model with random columns ``design.Z`` (slopes too).

    Per group, with ``Psi = re_cov / sigma^2`` and ``M = I + Z'Z Psi``:
    ``log det V = log det M`` (Sylvester) and
    ``r' V^-1 r = r'r - (Z'r)' Psi M^-1 Z'r`` (Woodbury), so only q x q
    matrices are factorised and a singular ``Psi`` is fine.
    """
    Z, n_groups, q = design.Z, design.n_groups, design.Z.shape[1]

    def group_sum(values: np.ndarray) -> np.ndarray:
        return np.stack([np.bincount(design.groups, weights=column, minlength=n_groups)
                         for column in values.T], axis=1)

    ztr = group_sum(Z * resid[:, None])
    ztz = group_sum((Z[:, :, None] * Z[:, None, :]).reshape(len(resid), -1)).reshape(-1, q, q)
    psi = np.asarray(re_cov, dtype=float) / sigma ** 2
    inner = np.eye(q) + ztz @ psi
    logdet = np.linalg.slogdet(inner)[1].sum()
    solved = np.linalg.solve(inner, ztr[:, :, None])[:, :, 0]
    quad = resid @ resid - np.einsum("gi,ij,gj->", ztr, psi, solved)
    return float(design.nobs * np.log(2 * np.pi * sigma ** 2) + logdet + quad / sigma ** 2)
