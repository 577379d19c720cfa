"""Simulate responses from a :class:`~.design.PowerDesign` and test one fixed effect.

Every simulation ``rep`` of design point ``point`` draws its group effects and
residuals from ``numpy.random.SeedSequence([seed, point, rep])`` (the sweep's
:func:`~simlab.study.batch.rep_seed`), so a result does not depend on how the
simulations are split into blocks, processes or rounds of adaptive precision.

A block of simulations shares the design, so its per-group sums are built in
one :meth:`~simlab.model.intercept.GroupSums.from_arrays` call and fitted by
REML in one :func:`~simlab.model.intercept.fit_theta` call, the engine of
:func:`simlab.lmer`. The tests, as simr's ``fixed(x, method)``:

- ``"kr"``: Kenward-Roger (pbkrtest), simr's default: the t test with the
  adjusted SE and Kenward-Roger's df (its F test for one df);
- ``"satterthwaite"``: lmerTest's t test (simr's ``"t"``/``"sa"``);
- ``"lrt"``: likelihood ratio of ML fits with and without the effect (simr's ``"lr"``);
- ``"z"``: the t statistic referred to the normal (simr's ``"z"``).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import special

from simlab.model.ddf import intercept_ingredients, t_test_p
from simlab.model.intercept import GroupSums, fit_theta
from simlab.study.batch import rep_seed

from .design import PowerDesign

__all__ = ["TESTS", "Block", "block_size", "draw_responses", "run_block", "fit_and_test"]

#: The tests of a fixed effect, simr's ``fixed(x, method)``; the first is the default.
TESTS = ("kr", "satterthwaite", "lrt", "z")
#: Simulations fitted in one batch at most: large enough to amortise the batch fit, small
#: enough that a round of adaptive precision does not overshoot by much.
MAX_BLOCK = 500
#: Simulated values held at once at most (64 MiB of float64), so memory does not grow
#: with the design: a block of a large design has fewer simulations.
MAX_BLOCK_VALUES = 8 * 2 ** 20


def block_size(design: PowerDesign) -> int:
    """Simulations per block for ``design``: :data:`MAX_BLOCK`, fewer for large designs."""
    return max(1, min(MAX_BLOCK, MAX_BLOCK_VALUES // (design.n_groups + design.nobs)))


class Block(NamedTuple):
    """Outcomes of a block of simulations (one entry per simulation).

    Attributes
    ----------
    p : ndarray
        p-value (NaN for a failed fit).
    estimate : ndarray
        The REML estimate of the effect.
    singular : ndarray of bool
        The REML fit is singular (tau-hat = 0).
    failed : ndarray of bool
        The fit did not converge or gave no p-value.
    """

    p: np.ndarray
    estimate: np.ndarray
    singular: np.ndarray
    failed: np.ndarray


def draw_responses(design: PowerDesign, seed: int, point: int, reps: range) -> np.ndarray:
    """Responses ``y = X beta + u[group] + e`` of simulations ``reps``, shape (R, n).

    Each simulation draws ``n_groups`` group effects, then ``n`` residuals,
    from its own stream ``SeedSequence([seed, point, rep])``.
    """
    n_groups, nobs = design.n_groups, design.nobs
    normals = np.empty((len(reps), n_groups + nobs))
    for i, rep in enumerate(reps):
        np.random.default_rng(rep_seed(seed, point, rep)).standard_normal(out=normals[i])
    mean = design.X @ design.beta
    return (mean + design.tau * normals[:, :n_groups][:, design.groups]
            + design.sigma * normals[:, n_groups:])


def fit_and_test(sums: GroupSums, column: int, test: str) -> Block:
    """Fit every replicate of ``sums`` by REML and test ``beta[column] = 0`` with ``test``."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        fit = fit_theta(sums, reml=True)
        estimate = fit.beta[:, column]
        if test == "lrt":
            p = _likelihood_ratio_p(sums, column)
        else:
            p = _t_test_p(sums, fit, column, test)
    failed = ~fit.converged | ~np.isfinite(p)
    return Block(np.where(failed, np.nan, p), estimate, fit.singular, failed)


def _t_test_p(sums: GroupSums, fit, column: int, test: str) -> np.ndarray:
    ingredients = intercept_ingredients(sums, fit.tau, fit.sigma, reml=True)
    unit = np.eye(sums.n_fixed)[column][None]
    if test == "kr":
        se = np.sqrt(ingredients.vcov_kr[:, column, column])
        df = ingredients.contrast_df(unit, "kenward-roger")[:, 0]
    else:
        se = np.sqrt(ingredients.vcov[:, column, column])
        df = (ingredients.contrast_df(unit, "satterthwaite")[:, 0] if test == "satterthwaite"
              else np.inf)
    return t_test_p(fit.beta[:, column] / se, df)


def _likelihood_ratio_p(sums: GroupSums, column: int) -> np.ndarray:
    """p of the likelihood-ratio test: ML deviances without and with the effect, chi-square(1)."""
    full = fit_theta(sums, reml=False).value
    reduced = fit_theta(sums.with_response_column(column, np.zeros(sums.n_reps)),
                        reml=False).value
    return special.chdtrc(1, np.maximum(reduced - full, 0.0))


def run_block(design: PowerDesign, column: int, test: str, seed: int, point: int,
              reps: range) -> Block:
    """Simulate and test simulations ``reps`` of design point ``point``."""
    y = draw_responses(design, seed, point, reps)
    sums = GroupSums.from_arrays(y, design.X, design.groups, design.n_groups)
    return fit_and_test(sums, column, test)
