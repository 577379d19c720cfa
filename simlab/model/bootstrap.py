"""Parametric bootstrap of a fitted mixed model, like lme4's ``bootMer``.

New responses are drawn from the fitted model (new random effects
``b_i ~ N(0, re_cov)`` and residuals ``e``) and
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
from .engine import refit_replicates
from .estimates import FitEstimates, covariance_root

__all__ = ["BootstrapDraws", "parametric_bootstrap", "CHUNK_VALUES"]

#: Simulated responses held at once (8 Mi values, 64 MiB of float64).
CHUNK_VALUES = 2 ** 23


@dataclass(frozen=True)
class BootstrapDraws:
    """Refitted parameters of every bootstrap replicate.

    Attributes
    ----------
    values : ndarray, shape (nsim, P)
        The random effects' sds and correlations, sigma, then the fixed
        effects (lme4's ``confint`` order, :mod:`.parameters`).
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
    root = covariance_root(np.asarray(estimates.re_cov, dtype=float))
    mean = design.X @ estimates.beta
    size = max(1, chunk_values // max(design.nobs, 1))
    parts = [_refit(design, mean, root, estimates, streams[start:start + size])
             for start in range(0, nsim, size)]
    return BootstrapDraws(*(np.concatenate(column) for column in zip(*parts)))


def _refit(design: Design, mean: np.ndarray, root: np.ndarray, estimates: FitEstimates,
           streams: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw one chunk of responses (one stream per replicate) and refit them together.

    With one random effect, ``standard_normal((G, 1)) @ root.T`` draws the
    same numbers as ``standard_normal(G) * tau``.
    """
    y = np.empty((len(streams), design.nobs))
    for row, rng in zip(y, streams):
        b = rng.standard_normal((design.n_groups, root.shape[0])) @ root.T
        row[:] = (mean + (design.Z * b[design.groups]).sum(axis=1)
                  + rng.standard_normal(design.nobs) * estimates.sigma)
    return refit_replicates(design, y, estimates.reml)
