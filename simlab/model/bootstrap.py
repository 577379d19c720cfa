"""Parametric bootstrap of a random-intercept fit, like lme4's ``bootMer``.

New responses are drawn from the fitted model (new ``u`` and ``e``), and
every replicate is refitted at once through the batch engine.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .design import Design
from .estimates import FitEstimates
from .profiled import GroupSums, fit_theta

__all__ = ["BootstrapDraws", "parametric_bootstrap"]


@dataclass(frozen=True)
class BootstrapDraws:
    """Refitted parameters of every bootstrap replicate.

    Attributes
    ----------
    values : ndarray, shape (nsim, 2 + p)
        sd of the intercept, sigma, then the fixed effects (lme4's order).
    converged : ndarray of bool, shape (nsim,)
    singular : ndarray of bool, shape (nsim,)
    """

    values: np.ndarray
    converged: np.ndarray
    singular: np.ndarray


def parametric_bootstrap(design: Design, estimates: FitEstimates, nsim: int,
                         seed=None) -> BootstrapDraws:
    """Simulate ``nsim`` responses from the fit and refit each one.

    Parameters
    ----------
    design : Design
    estimates : FitEstimates
        The fit to simulate from; its ``reml`` flag is used for the refits.
    nsim : int
    seed : None, int, SeedSequence or Generator
    """
    rng = np.random.default_rng(seed)
    tau = float(np.sqrt(estimates.re_cov[0, 0]))
    u = rng.standard_normal((nsim, design.n_groups)) * tau
    e = rng.standard_normal((nsim, design.nobs)) * estimates.sigma
    y = design.X @ estimates.beta + u[:, design.groups] + e
    sums = GroupSums.from_arrays(y, design.X, design.groups, design.n_groups)
    fit = fit_theta(sums, reml=estimates.reml)
    values = np.column_stack([fit.tau, fit.sigma, fit.beta])
    return BootstrapDraws(values=values, converged=fit.converged, singular=fit.singular)
