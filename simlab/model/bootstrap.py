"""Parametric bootstrap of a random-intercept fit, like lme4's ``bootMer``.

New responses are drawn from the fitted model (new ``u`` and ``e``) and
refitted through the batch engine, a chunk of replicates at a time, so
memory stays bounded by about :data:`CHUNK_VALUES` simulated values however
large ``nsim`` x rows is. Replicate ``r`` draws from its own stream, spawned
from the seed, so the draws do not depend on the chunk size.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import is_int, numpy_generator
from .design import Design
from .estimates import FitEstimates
from .profiled import GroupSums, fit_theta

__all__ = ["BootstrapDraws", "parametric_bootstrap", "CHUNK_VALUES"]

#: Simulated responses held at once (8 Mi values, 64 MiB of float64).
CHUNK_VALUES = 2 ** 23


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
                         seed=None, *, chunk_values: int = CHUNK_VALUES) -> BootstrapDraws:
    """Simulate ``nsim`` responses from the fit and refit each one.

    Parameters
    ----------
    design : Design
    estimates : FitEstimates
        The fit to simulate from; its ``reml`` flag is used for the refits.
    nsim : int
    seed : None, int >= 0, SeedSequence or Generator
    chunk_values : int
        Simulated values held at once; replicates are refitted in chunks of
        ``max(1, chunk_values // nobs)``.
    """
    if not is_int(chunk_values) or chunk_values < 1:
        raise ValueError(f"chunk_values must be a positive int, got {chunk_values!r}")
    streams = numpy_generator(seed).spawn(nsim)
    tau = float(np.sqrt(estimates.re_cov[0, 0]))
    mean = design.X @ estimates.beta
    size = max(1, chunk_values // max(design.nobs, 1))
    parts = [_refit(design, mean, tau, estimates, streams[start:start + size])
             for start in range(0, nsim, size)]
    return BootstrapDraws(*(np.concatenate(column) for column in zip(*parts)))


def _refit(design: Design, mean: np.ndarray, tau: float, estimates: FitEstimates,
           streams: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw one chunk of responses (one stream per replicate) and refit them together."""
    y = np.empty((len(streams), design.nobs))
    for row, rng in zip(y, streams):
        u = rng.standard_normal(design.n_groups) * tau
        row[:] = mean + u[design.groups] + rng.standard_normal(design.nobs) * estimates.sigma
    fit = fit_theta(GroupSums.from_arrays(y, design.X, design.groups, design.n_groups),
                    reml=estimates.reml)
    return np.column_stack([fit.tau, fit.sigma, fit.beta]), fit.converged, fit.singular
