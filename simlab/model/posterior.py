"""Simulation from the approximate posterior of a fit: merTools' ``REsim`` and ``predictInterval``.

:meth:`LmerResult.re_sim <simlab.model.result.LmerResult.re_sim>` and
:meth:`LmerResult.predict_interval <simlab.model.result.LmerResult.predict_interval>`
(and their functional forms :func:`re_sim` and :func:`predict_interval`)
reproduce the R package merTools (``REsim`` and ``predictInterval`` with
``stat = "median"``, ``type = "linear.prediction"``,
``include.resid.var = TRUE``) for an :class:`~simlab.model.result.LmerResult`:

* random effects: ``b_g ~ N(b-hat_g, condVar_g)`` per group, as arm's ``sim``
  and merTools draw them (lme4's ``condVar`` is conditional on ``beta-hat``);
* fixed effects: ``beta ~ MVN(beta-hat, vcov)``, independently of ``b``;
* residual sd: ``sigma = sqrt(1 / Gamma(shape = df / 2, rate = pwrss / 2))``
  with ``df = nobs - p`` (merTools' ``residDF.merMod``) and lme4's penalised
  weighted residual sum of squares ``pwrss``; with unit weights lme4 defines
  ``sigmaREML^2 = pwrss / (n - p)`` and ``sigmaML^2 = pwrss / n``, so
  ``pwrss = sigma^2 (n - p)`` for REML fits and ``sigma^2 n`` for ML fits
  (:func:`penalized_rss`);
* ``theta`` (the variance components) is held at its estimate;
* ``N(0, sigma)`` residual noise is added to every draw; ``fit`` is the
  median of the draws and ``lower``/``upper`` are R's (type 7) quantiles at
  ``(1 - level) / 2`` and ``(1 + level) / 2``.

Draws come from ``numpy.random.default_rng(seed)``, so the numbers are not
R's, only their distribution is. Where this module differs from merTools:

* a group level not seen at fit time raises, as in
  :meth:`~simlab.model.result.LmerResult.predict`, unless
  ``allow_new_levels=True``; then it gets ``b ~ N(0, re_cov)``, a draw from
  the population of groups. merTools sets such a random effect to 0 (with a
  warning), which leaves out the between-group variance and gives a new
  group the interval of a known one minus its ``condVar``;
* ``random_effects=False`` is merTools' ``which = "fixed"``: the random
  effect is left out entirely (population prediction), residual noise kept;
* with random slopes each group's effects are drawn jointly from their full
  ``q x q`` conditional covariance (merTools' ``postVar``), recomputed here
  because :class:`~simlab.model.estimates.FitEstimates` stores only the
  conditional sds;
* the defaults are ``nsim=1000`` for both and ``level=0.95`` (simlab's level
  everywhere; merTools' ``REsim`` defaults to ``n.sims = 200`` and
  ``predictInterval`` to ``level = 0.8``); ``re_sim`` has no ``oddsRatio``
  and ``predict_interval`` no ``returnSims`` or ``.parallel``;
* the tables use simlab's names: ``group_var, effect, group`` for merTools'
  ``groupFctr, term, groupID`` and ``lower, upper`` for ``lwr, upr``.

Results are plain :class:`pandas.DataFrame` s.
"""
from __future__ import annotations

from typing import NamedTuple, Union

import numpy as np
import pandas as pd

from simlab._checks import check_bool, check_level, is_int, numpy_generator
from simlab._vocabulary import DEFAULT_LEVEL, LOWER, NSIM, RE_KEYS, UPPER

from .estimates import covariance_root
from .result import LmerResult, require_lmer

__all__ = ["re_sim", "predict_interval", "penalized_rss", "conditional_covariance"]

SeedLike = Union[None, int, np.random.SeedSequence, np.random.Generator]

#: Floats per simulated block (nsim x rows or groups); bounds the memory of
#: one block to a few tens of MB whatever the size of ``newdata``.
BLOCK_ELEMENTS = 2 ** 21

RE_SIM_COLUMNS = [*RE_KEYS, "mean", "median", "sd"]
INTERVAL_COLUMNS = ["fit", LOWER, UPPER]


# ----- public functions ------------------------------------------------------

def re_sim(model: LmerResult, *, nsim: int = 1000, seed: SeedLike = None) -> pd.DataFrame:
    """``model.re_sim(...)`` as a function: see :meth:`LmerResult.re_sim`.

    Parameters
    ----------
    model : LmerResult
        A mixed model fitted with :func:`simlab.lmer`.
    nsim : int, default 1000
        Draws per group and effect, at least 1.
    seed : None, int, numpy.random.SeedSequence or numpy.random.Generator
        Passed to :func:`numpy.random.default_rng`; a Generator is used (and
        advanced) as it is.

    Returns
    -------
    pandas.DataFrame
        ``group_var, effect, group, mean, median, sd``.

    Raises
    ------
    TypeError, ValueError
        For a model that is not an ``LmerResult``, a bad ``nsim`` or ``seed``.
    """
    require_lmer(model, "re_sim")
    nsim = _check_nsim(nsim)
    rng = numpy_generator(seed)
    roots = covariance_root(conditional_covariance(model))
    n_groups, q = model.estimates.modes.shape
    stats = np.empty((3, n_groups, q))
    # Groups are drawn in blocks so memory stays bounded for many groups.
    for block in _blocks(n_groups, nsim * q):
        draws = _normal_draws(model.estimates.modes[block], roots[block], nsim, rng)
        stats[:, block] = [draws.mean(axis=0), np.median(draws, axis=0), draws.std(axis=0, ddof=1)]
    return _re_sim_table(model, stats)


def predict_interval(model: LmerResult, newdata: pd.DataFrame | None = None, *,
                     level: float = DEFAULT_LEVEL, nsim: int = 1000,
                     random_effects: bool = True, allow_new_levels: bool = False,
                     seed: SeedLike = None) -> pd.DataFrame:
    """``model.predict_interval(...)`` as a function: see :meth:`LmerResult.predict_interval`.

    Parameters
    ----------
    model : LmerResult
        A mixed model fitted with :func:`simlab.lmer`.
    newdata, level, nsim, random_effects, allow_new_levels, seed
        As in :meth:`LmerResult.predict_interval`.

    Returns
    -------
    pandas.DataFrame
        ``fit, lower, upper``, indexed like ``newdata`` (or the rows fitted).

    Raises
    ------
    TypeError, ValueError
        For a bad argument, or a new group without ``allow_new_levels``.

    Notes
    -----
    Draw order from the one stream: ``sigma`` (nsim), ``beta``, the known
    groups' effects, the new levels' effects, then the residual noise block
    by block of rows (:data:`BLOCK_ELEMENTS`), so a seed fixes the result.
    """
    require_lmer(model, "predict_interval")
    level, nsim = check_level(level), _check_nsim(nsim)
    rng = numpy_generator(seed)
    random_effects = check_bool("random_effects", random_effects)
    allow_new_levels = check_bool("allow_new_levels", allow_new_levels)
    rows = _prediction_rows(model, newdata, random_effects, allow_new_levels)
    sigma = _draw_sigma(model, nsim, rng)
    beta = _normal_draws(model.estimates.beta[None], covariance_root(model.estimates.vcov)[None],
                         nsim, rng)[:, 0]
    effects = _draw_slot_effects(model, rows, nsim, rng) if random_effects else None
    probabilities = [0.5, (1 - level) / 2, (1 + level) / 2]
    bounds = _simulated_quantiles(rows, beta, effects, sigma, probabilities, rng)
    return pd.DataFrame(dict(zip(INTERVAL_COLUMNS, bounds)), index=rows.index)


# ----- posterior pieces ------------------------------------------------------

def penalized_rss(model: LmerResult) -> float:
    """lme4's ``pwrss``: ``|y - X beta - Z b|^2 + |u|^2`` at the optimum, ``u = Lambda^-1 b``.

    lme4 defines ``sigmaREML^2 = pwrss / (n - p)`` and ``sigmaML^2 = pwrss / n``
    (unit weights), and ``sigma()`` reports the one matching the fit, so
    ``pwrss`` follows from ``sigma`` for both engines and for random slopes.
    """
    n, p = model.design.X.shape
    return float(model.sigma ** 2 * (n - p if model.reml else n))


def conditional_covariance(model: LmerResult) -> np.ndarray:
    """lme4's ``condVar``: covariance of each group's random effects given the data.

    Returns an array of shape ``(G, q, q)``. For a random intercept it is
    ``mode_sd^2`` from the fit. With random slopes it is recomputed as
    ``(Z_g' Z_g / sigma^2 + Sigma^-1)^-1 = Sigma (I + Z_g' Z_g Sigma / sigma^2)^-1``
    (conditional on ``beta-hat``, as lme4's); the second form needs no
    inverse of ``Sigma = re_cov``, so a singular fit is fine.
    """
    estimates, design = model.estimates, model.design
    n_groups, q = estimates.mode_sd.shape
    if q == 1:
        return estimates.mode_sd[:, :, None] ** 2
    outer = (design.Z[:, :, None] * design.Z[:, None, :]).reshape(len(design.Z), -1)
    ztz = np.stack([np.bincount(design.groups, weights=column, minlength=n_groups)
                    for column in outer.T], axis=1).reshape(n_groups, q, q)
    re_cov = np.asarray(estimates.re_cov, dtype=float)
    inner = np.eye(q) + ztz @ re_cov / estimates.sigma ** 2
    # Sigma M^-1 = (M'^-1 Sigma)' with M' = I + Sigma Z'Z / sigma^2 (Sigma symmetric).
    covariance = np.swapaxes(np.linalg.solve(np.swapaxes(inner, 1, 2), re_cov), 1, 2)
    return (covariance + np.swapaxes(covariance, 1, 2)) / 2


def _draw_sigma(model: LmerResult, nsim: int, rng: np.random.Generator) -> np.ndarray:
    """``sqrt(1 / Gamma(shape = (n - p) / 2, rate = pwrss / 2))``, merTools' draw of sigma."""
    n, p = model.design.X.shape
    precision = rng.gamma(shape=(n - p) / 2, scale=2 / penalized_rss(model), size=nsim)
    return 1 / np.sqrt(precision)


def _draw_slot_effects(model: LmerResult, rows: "_Rows", nsim: int,
                       rng: np.random.Generator) -> np.ndarray:
    """Random effects of every group ``newdata`` uses, shape ``(nsim, slots, q)``.

    Known groups come first (``N(b-hat, condVar)``), then one slot per new
    level (``N(0, re_cov)``), so rows of one new group share their draws.
    """
    known = rows.known_codes
    roots = covariance_root(conditional_covariance(model))[known]
    effects = [_normal_draws(model.estimates.modes[known], roots, nsim, rng)]
    if rows.n_new:
        q = model.estimates.modes.shape[1]
        population_root = covariance_root(np.asarray(model.estimates.re_cov, dtype=float))
        effects.append(_normal_draws(np.zeros((rows.n_new, q)),
                                     np.broadcast_to(population_root, (rows.n_new, q, q)),
                                     nsim, rng))
    return np.concatenate(effects, axis=1)


def _simulated_quantiles(rows: "_Rows", beta: np.ndarray, effects: np.ndarray | None,
                         sigma: np.ndarray, probabilities: list[float],
                         rng: np.random.Generator) -> np.ndarray:
    """Quantiles over draws of ``x'beta + z'b + N(0, sigma)`` per row, shape ``(3, rows)``.

    Rows are simulated in blocks so memory is bounded whatever ``len(newdata)``;
    the parameter draws are shared by all blocks, the residual noise is drawn
    per block.
    """
    bounds = np.empty((len(probabilities), len(rows.X)))
    for block in _blocks(len(rows.X), len(sigma)):
        draws = beta @ rows.X[block].T
        if effects is not None:
            draws += np.einsum("sri,ri->sr", effects[:, rows.slots[block]], rows.Z[block])
        draws += sigma[:, None] * rng.standard_normal(draws.shape)
        bounds[:, block] = np.quantile(draws, probabilities, axis=0)
    return bounds


def _normal_draws(means: np.ndarray, roots: np.ndarray, nsim: int,
                  rng: np.random.Generator) -> np.ndarray:
    """``nsim`` draws of ``N(means[k], roots[k] roots[k]')``, shape ``(nsim, K, q)``."""
    z = rng.standard_normal((nsim, *means.shape))
    return means + np.einsum("kij,skj->ski", roots, z)


# ----- rows to predict ---------------------------------------------------------

class _Rows(NamedTuple):
    """Matrices of the rows to predict and each row's random-effect slot."""

    X: np.ndarray
    Z: np.ndarray | None
    slots: np.ndarray | None
    known_codes: np.ndarray | None
    n_new: int
    index: pd.Index


def _prediction_rows(model: LmerResult, newdata, random_effects: bool,
                     allow_new_levels: bool) -> _Rows:
    """Fixed and random matrices of ``newdata`` (or the model's rows), checked.

    New levels are checked by the model, as for :meth:`LmerResult.predict`.
    """
    design = model.design
    if newdata is None:
        X, index = design.X, design.row_index
    else:
        if isinstance(newdata, pd.DataFrame) and newdata.empty:
            raise ValueError("newdata has no rows; pass at least one row to predict")
        X, index = model._new_fixed_matrix(newdata), newdata.index
    if not random_effects:
        return _Rows(X, None, None, None, 0, index)
    if newdata is None:
        return _Rows(X, design.Z, *_group_slots(design.groups, pd.Series([], dtype=str)), index)
    codes = model._new_group_codes(newdata, allow_new_levels=allow_new_levels)
    new_labels = newdata[design.group_name][codes < 0].astype(str)
    return _Rows(X, design.random_matrix(newdata), *_group_slots(codes, new_labels), index)


def _group_slots(codes: np.ndarray, new_labels: pd.Series) -> tuple[np.ndarray, np.ndarray, int]:
    """Each row's slot in the drawn effects: known groups first, then new levels.

    Returns the slots, the model codes of the known groups used, and the
    number of new levels.
    """
    known_codes, known_slots = np.unique(codes[codes >= 0], return_inverse=True)
    new_slots, new_levels = pd.factorize(new_labels)
    slots = np.empty(len(codes), dtype=np.intp)
    slots[codes >= 0] = known_slots
    slots[codes < 0] = len(known_codes) + new_slots
    return slots, known_codes, len(new_levels)


# ----- checks and tables -------------------------------------------------------

def _check_nsim(nsim) -> int:
    if not is_int(nsim):
        raise TypeError(f"{NSIM} must be a whole number of draws such as 1000, got {nsim!r} "
                        f"({type(nsim).__name__})")
    if nsim < 1:
        raise ValueError(f"{NSIM} must be at least 1 (1000 is usual), got {nsim}")
    return int(nsim)


def _blocks(n_items: int, per_item: int) -> list[slice]:
    """Slices of ``range(n_items)`` holding about :data:`BLOCK_ELEMENTS` floats each."""
    size = max(1, BLOCK_ELEMENTS // max(1, per_item))
    return [slice(start, min(start + size, n_items)) for start in range(0, n_items, size)]


def _re_sim_table(model: LmerResult, stats: np.ndarray) -> pd.DataFrame:
    """The ``REsim`` table from ``stats`` (mean, median, sd) of shape ``(3, G, q)``."""
    design = model.design
    n_groups, q = stats.shape[1:]
    # merTools' order: all levels of the first term, then of the next.
    group_var, effect, group = RE_KEYS
    table = pd.DataFrame({
        group_var: design.group_name,
        group: np.tile(design.levels.astype(str).to_numpy(dtype=object), q),
        effect: np.repeat(np.array(design.random_terms, dtype=object), n_groups),
        "mean": stats[0].T.ravel(), "median": stats[1].T.ravel(), "sd": stats[2].T.ravel(),
    })
    return table[RE_SIM_COLUMNS]
