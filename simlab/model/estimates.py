"""Engine-neutral parameter estimates of a fitted mixed model.

Both engines (the exact profiled one and statsmodels) fill in a
:class:`FitEstimates`; :class:`simlab.model.result.LmerResult` builds every
table from it, so the tables cannot differ between engines by construction.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .design import Design
from .intercept import GroupSums, ThetaFit, fit_theta

__all__ = ["FitEstimates", "exact_estimates", "group_sums", "covariance_root", "SINGULAR_TOL"]

#: lme4's ``isSingular`` tolerance on the diagonal of the relative factor ``Lambda``.
SINGULAR_TOL = 1e-4


@dataclass(frozen=True)
class FitEstimates:
    """Everything an engine reports about one fit.

    Attributes
    ----------
    beta : ndarray, shape (p,)
    vcov : ndarray, shape (p, p)
        Covariance of ``beta``.
    re_cov : ndarray, shape (q, q)
        Covariance of the random effects (``tau^2`` for a random intercept).
    sigma : float
        Residual standard deviation.
    modes : ndarray, shape (G, q)
        Conditional modes of the random effects.
    mode_sd : ndarray, shape (G, q)
        Conditional standard deviations (lme4's ``condVar``).
    criterion : float
        REML criterion for REML fits, ML deviance for ML fits.
    reml : bool
    converged : bool
    singular : bool
    engine : str
    messages : tuple of str
        Convergence and boundary messages, like lme4's ``optinfo``.
    iterations : int
    theta : ndarray, shape (k,)
        lme4's ``theta``: the lower triangle, by columns, of the relative
        covariance factor ``Lambda`` with ``re_cov = sigma^2 Lambda Lambda'``
        (only its diagonal for independent effects); ``tau / sigma`` for a
        random intercept.
    """

    beta: np.ndarray
    vcov: np.ndarray
    re_cov: np.ndarray
    sigma: float
    modes: np.ndarray
    mode_sd: np.ndarray
    criterion: float
    reml: bool
    converged: bool
    singular: bool
    engine: str
    messages: tuple[str, ...]
    iterations: int
    theta: np.ndarray


def group_sums(design: Design) -> GroupSums:
    """Per-group sums of a random-intercept design."""
    return GroupSums.from_arrays(design.y, design.X, design.groups, design.n_groups)


def exact_estimates(design: Design, reml: bool = True) -> FitEstimates:
    """Fit a random-intercept model exactly through the profiled criterion."""
    fit = fit_theta(group_sums(design), reml)
    return estimates_from_theta(design, fit, 0)


def estimates_from_theta(design: Design, fit: ThetaFit, rep: int) -> FitEstimates:
    """Turn replicate ``rep`` of a :class:`ThetaFit` into :class:`FitEstimates`."""
    sigma, theta = float(fit.sigma[rep]), float(fit.theta[rep])
    beta = fit.beta[rep]
    modes, mode_sd = conditional_modes(design, beta, theta, sigma)
    messages = []
    if fit.singular[rep]:
        messages.append("boundary (singular) fit: see help('isSingular')")
    if fit.at_upper_bound[rep]:
        messages.append("theta ran into the top of its search range (residual variance near 0)")
    elif not fit.converged[rep]:
        messages.append("the theta search did not reach full precision")
    return FitEstimates(
        beta=beta, vcov=sigma ** 2 * fit.a_inv[rep], re_cov=np.array([[(theta * sigma) ** 2]]),
        sigma=sigma, modes=modes[:, None], mode_sd=mode_sd[:, None],
        criterion=float(fit.value[rep]), reml=fit.reml, converged=bool(fit.converged[rep]),
        singular=bool(fit.singular[rep]), engine="exact", messages=tuple(messages),
        iterations=int(fit.iterations[rep]), theta=np.array([theta]),
    )


def conditional_modes(design: Design, beta: np.ndarray, theta: float,
                      sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Random-intercept conditional modes and their conditional sds.

    ``b_i = n_i theta^2 / (1 + n_i theta^2) * (mean(y_i) - mean(x_i)' beta)``
    and ``sd_i = sigma theta / sqrt(1 + n_i theta^2)``.
    """
    counts = np.bincount(design.groups, minlength=design.n_groups).astype(float)
    resid_sum = np.bincount(design.groups, weights=design.y - design.X @ beta,
                            minlength=design.n_groups)
    shrink = theta ** 2 / (1.0 + counts * theta ** 2)
    return shrink * resid_sum, sigma * theta / np.sqrt(1.0 + counts * theta ** 2)


def covariance_root(covariance: np.ndarray) -> np.ndarray:
    """A root ``L`` with ``L L' = covariance`` (batched over leading axes).

    Cholesky where the matrix is positive definite, as merTools' ``rmvnorm``
    (``method = "chol"``); a symmetric eigen root otherwise, because a
    singular fit has a zero variance, which Cholesky rejects.
    """
    try:
        return np.linalg.cholesky(covariance)
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh(covariance)
        return vectors * np.sqrt(np.clip(values, 0.0, None))[..., None, :]
