"""Batch engine: simulate and fit every replicate of one chunk of a cell at once.

Each replicate ``rep`` of cell ``c`` is simulated from
``numpy.random.SeedSequence([seed, c, rep])``, so its data do not depend on
which chunk, process or machine runs it.

- A random-intercept cell: the replicates' per-group sums are stacked along
  :class:`~simlab.model.intercept.GroupSums`' replicate axis and
  ``y ~ x (+ z) + (1 | group)`` is fitted by REML for all of them in one
  call of :func:`~simlab.model.intercept.fit_theta`, the same exact engine as
  :func:`simlab.lmer`; profile intervals come from the vectorised
  :func:`~simlab.model.intercept_profile.profile_bounds`.
- A random-slope cell (``tau_slope``): ``y ~ x (+ z) + (1 + x | group)`` is
  fitted by REML with :func:`simlab.model.relcov.fit`, the engine of
  :func:`simlab.lmer`, all replicates (each with its own design) in one
  call (see :func:`fit_cross_products`); Wald intervals for the fixed
  effects and profile intervals from :mod:`simlab.model.relcov_profile`.

Columns follow :func:`simlab.model.parameters.parameter_names` (lme4's
``confint`` rows): the variance parameters, ``sigma``, the fixed effects.

A replicate whose simulation or fit fails keeps its rows, with NaN values and
the reason in ``error``: failures are outcomes, never dropped or redrawn. A failure
of the machine (:data:`ENVIRONMENT_ERRORS`, e.g. MemoryError) is not an outcome: it
aborts the chunk, which is then recomputed when the sweep resumes.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from simlab.model import relcov
from simlab.model.ddf import normal_quantile
from simlab.model.engine import variance_parameters
from simlab.model.intercept_profile import profile_bounds
from simlab.model.intercept import GroupSums, fit_theta
from simlab.model.relcov_profile import profile_bounds as relcov_profile_bounds
from simlab.simulate import simulate

from .grid import Cell, Grid

__all__ = ["CI_METHODS", "ENVIRONMENT_ERRORS", "Chunk", "fit_cross_products",
           "fit_reps", "fit_sums", "rep_cross_products", "rep_seed", "rep_sums", "run_chunk",
           "simulate_rep"]

#: Interval methods a sweep can compute, in column order.
CI_METHODS = ("wald", "profile")
_FLAGS = ("singular", "converged")


@dataclass(frozen=True)
class Chunk:
    """A unit of work: replicates ``start .. stop - 1`` of one cell.

    Attributes
    ----------
    cell : Cell
    start, stop : int
        Replicate range, ``stop`` excluded.
    seed : int
        Root seed of the sweep.
    ci : tuple of str
        Interval methods, a subset of :data:`CI_METHODS`.
    level : float
        Confidence level of the intervals.
    """

    cell: Cell
    start: int
    stop: int
    seed: int
    ci: tuple[str, ...]
    level: float

    @property
    def reps(self) -> range:
        return range(self.start, self.stop)


def rep_seed(seed: int, cell: int, rep: int) -> np.random.SeedSequence:
    """The seed of replicate ``rep`` of cell ``cell``: ``SeedSequence([seed, cell, rep])``."""
    return np.random.SeedSequence([seed, cell, rep])


def simulate_rep(cell: Cell, seed: int, rep: int) -> pd.DataFrame:
    """Simulate the data of one replicate, exactly as the sweep does."""
    return simulate(**cell.params, seed=rep_seed(seed, cell.index, rep))


def _rep_arrays(data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(y, X, group codes 0.., rows per group)`` of one simulated data set.

    X is ``1, x`` (and ``z``).
    """
    # One conversion of the whole frame: pandas' per-column access costs more than the sums.
    table = dict(zip(data.columns, data.to_numpy(dtype=float).T))
    groups = table["group"].astype(np.intp) - 1
    counts = np.bincount(groups)
    if counts.max() < 2:
        raise ValueError("every group has a single observation, so tau and sigma "
                         "cannot be told apart")
    covariates = [table[name] for name in ("x", "z") if name in table]
    return table["y"], np.column_stack([np.ones(groups.size), *covariates]), groups, counts


def rep_sums(data: pd.DataFrame) -> GroupSums:
    """Per-group sums of ``y ~ x (+ z) + (1 | group)`` for one simulated data set.

    Raises
    ------
    ValueError
        If every group has a single observation (as :func:`simlab.lmer` does).
    """
    y, X, groups, counts = _rep_arrays(data)
    return GroupSums.from_arrays(y, X, groups, counts.size)


def rep_cross_products(data: pd.DataFrame) -> relcov.CrossProducts:
    """Cross products of ``y ~ x (+ z) + (1 + x | group)`` for one simulated data set.

    Raises
    ------
    ValueError
        If every group has a single observation, or there are no more rows
        than random effects (lme4: "number of observations <= number of
        random effects").
    """
    y, X, groups, counts = _rep_arrays(data)
    if groups.size <= 2 * counts.size:
        raise ValueError(f"number of observations ({groups.size}) <= number of random effects "
                         f"({2 * counts.size}): a random intercept and slope per group leave "
                         "no residual to estimate sigma")
    return relcov.CrossProducts.from_arrays(y, X, X[:, :2], groups, counts.size)


def _estimates(variance: np.ndarray, beta: np.ndarray, se: np.ndarray, ci: Sequence[str],
               level: float) -> dict[str, np.ndarray]:
    """``estimate``, ``se`` and Wald bounds (R, P) in lme4's order: variance parameters
    (``sigma`` last), then the fixed effects; se and Wald bounds NaN for the variances."""
    no_se = np.full(variance.shape, np.nan)
    out = {"estimate": np.hstack([variance, beta]), "se": np.hstack([no_se, se])}
    if "wald" in ci:
        half = normal_quantile(level) * se
        out["lower_wald"] = np.hstack([no_se, beta - half])
        out["upper_wald"] = np.hstack([no_se, beta + half])
    return out


def fit_sums(sums: GroupSums, ci: Sequence[str], level: float) -> dict[str, np.ndarray]:
    """REML fit of ``(1 | group)`` and intervals of every replicate in ``sums``.

    Returns
    -------
    dict of str to ndarray
        ``estimate`` and ``se`` of shape (R, P), with columns in lme4's
        ``confint`` order: ``sd_(Intercept)|group``, ``sigma`` (se NaN for
        those two), then the fixed effects; ``lower_<m>`` and ``upper_<m>``
        (R, P) for each method ``m`` in ``ci``; ``singular`` and
        ``converged`` (R,).
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        fit = fit_theta(sums, reml=True)
        se = fit.sigma[:, None] * np.sqrt(np.diagonal(fit.a_inv, axis1=1, axis2=2))
        out = _estimates(np.column_stack([fit.tau, fit.sigma]), fit.beta, se, ci, level)
        out.update(singular=fit.singular, converged=fit.converged)
        if "profile" in ci:
            bounds = profile_bounds(sums, level)   # lme4's order, as the columns
            out["lower_profile"], out["upper_profile"] = bounds.lower, bounds.upper
    return out


#: The relative covariance factor of ``(1 + x | group)``: one correlated 2 x 2 block.
SLOPE_LAYOUT = relcov.ThetaLayout.full(2)


def fit_cross_products(items: Sequence[relcov.CrossProducts], ci: Sequence[str],
                       level: float) -> dict[str, np.ndarray]:
    """REML fit of ``(1 + x | group)`` and intervals of every replicate in ``items``.

    Every replicate of a sweep draws its own ``x``, so each has its own
    design; :meth:`~simlab.model.relcov.CrossProducts.stack` makes them one
    batch, which :func:`simlab.model.relcov.fit` (the engine of
    :func:`simlab.lmer`) fits in one vectorised search, as each alone.

    Returns
    -------
    dict of str to ndarray
        As :func:`fit_sums`, with the columns ``sd_(Intercept)|group``,
        ``cor_x.(Intercept)|group`` (NaN where an sd is 0), ``sd_x|group``,
        ``sigma``, then the fixed effects.

    Profile intervals (lme4's, on the ML deviance) come from
    :func:`simlab.model.relcov_profile.profile_bounds`, as in
    :meth:`simlab.LmerResult.confint`.
    """
    stacked = relcov.CrossProducts.stack(items)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        fit = relcov.fit(stacked, SLOPE_LAYOUT, reml=True)
        se = np.sqrt(np.diagonal(fit.vcov, axis1=1, axis2=2))
        out = _estimates(variance_parameters(fit), fit.beta, se, ci, level)
        if "profile" in ci:
            bounds = relcov_profile_bounds(stacked, SLOPE_LAYOUT, level)
            out["lower_profile"], out["upper_profile"] = bounds.lower, bounds.upper
    out.update(singular=fit.singular, converged=fit.converged)
    return out


def _empty(n_reps: int, n_params: int, ci: Sequence[str]) -> dict[str, np.ndarray]:
    """Results of ``n_reps`` replicates that all failed: NaN everywhere."""
    names = ["estimate", "se", *(f"{side}_{m}" for m in ci for side in ("lower", "upper"))]
    out = {name: np.full((n_reps, n_params), np.nan) for name in names}
    out.update({flag: np.full(n_reps, np.nan) for flag in _FLAGS})
    return out


def _assign(out: dict, where, new: dict) -> None:
    for name, values in new.items():
        out[name][where] = values


#: Failures of the machine, not of the statistics: they abort the chunk, which is then not
#: stored and is computed again when the sweep resumes.
ENVIRONMENT_ERRORS = (MemoryError, OSError)


def _describe(stage: str, err: Exception) -> str:
    return f"{stage}: {type(err).__name__}: {err}"


@dataclass(frozen=True)
class _Engine:
    """How one kind of cell is prepared, stacked and fitted (functions looked up at call time)."""

    prepare: Callable[[pd.DataFrame], Any]
    stack: Callable[[list], Any]
    fit: Callable[[Any, Sequence[str], float], dict]


_INTERCEPT = _Engine(prepare=lambda data: rep_sums(data),
                     stack=lambda items: GroupSums.stack(items),
                     fit=lambda items, ci, level: fit_sums(items, ci, level))
_SLOPE = _Engine(prepare=lambda data: rep_cross_products(data), stack=list,
                 fit=lambda items, ci, level: fit_cross_products(items, ci, level))


def _engine(cell: Cell) -> _Engine:
    return _SLOPE if cell.random_slope else _INTERCEPT


def fit_reps(items: Sequence[Any], n_params: int, ci: Sequence[str], level: float,
             engine: _Engine = _INTERCEPT) -> tuple[dict[str, np.ndarray], list[str]]:
    """Fit replicates in one batch; if the batch fails, one by one to isolate failures.

    Parameters
    ----------
    items : sequence
        One replicate's :class:`~simlab.model.intercept.GroupSums` each (the
        default engine), or :class:`~simlab.model.relcov.CrossProducts` for
        random slopes.

    Returns
    -------
    results : dict of str to ndarray
        As :func:`fit_sums`, with NaN rows for replicates that failed.
    errors : list of str
        ``""`` for each fitted replicate, else the reason.
    """
    out, errors = _empty(len(items), n_params, ci), [""] * len(items)
    if not items:
        return out, errors
    try:
        _assign(out, slice(None), engine.fit(engine.stack(list(items)), ci, level))
        return out, errors
    except ENVIRONMENT_ERRORS:
        raise
    except Exception:  # noqa: BLE001 - refit one by one below to find the culprits
        pass
    for i, one in enumerate(items):
        try:
            _assign(out, slice(i, i + 1), engine.fit(engine.stack([one]), ci, level))
        except ENVIRONMENT_ERRORS:
            raise
        except Exception as err:  # noqa: BLE001 - a failed fit is an outcome
            errors[i] = _describe("fit", err)
    return out, errors


def run_chunk(chunk: Chunk) -> pd.DataFrame:
    """Simulate and fit every replicate of ``chunk``; one row per rep and parameter.

    Returns
    -------
    pandas.DataFrame
        The sweep's long format (see :func:`simlab.study.sweep`), sorted by
        rep, then parameter.
    """
    cell = chunk.cell
    engine = _engine(cell)
    n_params = len(cell.parameters)
    results = _empty(len(chunk.reps), n_params, chunk.ci)
    errors = [""] * len(chunk.reps)
    prepared = {}
    for i, rep in enumerate(chunk.reps):
        try:
            prepared[i] = engine.prepare(simulate_rep(cell, chunk.seed, rep))
        except ENVIRONMENT_ERRORS:
            raise
        except Exception as err:  # noqa: BLE001 - a failed simulation is an outcome
            errors[i] = _describe("simulate", err)
    fitted, fit_errors = fit_reps(list(prepared.values()), n_params, chunk.ci, chunk.level,
                                  engine)
    _assign(results, list(prepared), fitted)
    # A correlation is undefined (NaN) where an sd is 0; everything else must be finite.
    needed = np.array([not name.startswith("cor_") for name in cell.parameters])
    for i, error in zip(prepared, fit_errors):
        bad = not error and not np.isfinite(results["estimate"][i, needed]).all()
        errors[i] = "fit: non-finite estimate" if bad else error
    return chunk_frame(chunk, results, errors)


def chunk_frame(chunk: Chunk, results: dict[str, np.ndarray], errors: list[str]) -> pd.DataFrame:
    """Lay the results of a chunk out in the sweep's long format."""
    cell, n_reps = chunk.cell, len(chunk.reps)
    n_params = len(cell.parameters)
    size = n_reps * n_params
    columns = {key: np.full(size, label, dtype=object if isinstance(label, str) else None)
               for key, label in cell.labels.items()}
    columns["cell"] = np.full(size, cell.index, dtype=np.int64)
    columns["rep"] = np.repeat(np.arange(chunk.start, chunk.stop, dtype=np.int64), n_params)
    columns["parameter"] = np.tile(np.array(cell.parameters, dtype=object), n_reps)
    columns["truth"] = np.tile(np.asarray(cell.truth, dtype=float), n_reps)
    for name, values in results.items():
        if name not in _FLAGS:
            columns[name] = values.reshape(-1)
    for flag in _FLAGS:
        columns[flag] = pd.array(np.repeat(results[flag].astype(float), n_params),
                                 dtype="boolean")
    columns["error"] = np.repeat(np.array(errors, dtype=object), n_params)
    return pd.DataFrame(columns)
