"""Batch engine: simulate and fit every replicate of one chunk of a cell at once.

Each replicate ``rep`` of cell ``c`` is simulated from
``numpy.random.SeedSequence([seed, c, rep])``, so its data do not depend on
which chunk, process or machine runs it. The sweep draws them as arrays
(:func:`draw_rep`, :func:`rep_columns`), the numbers of
:func:`simulate_rep`'s data frame without building one.

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

from simlab._vocabulary import interval_columns
from simlab.model import relcov
from simlab.model.ddf import normal_quantile
from simlab.model.engine import variance_parameters
from simlab.model.intercept_profile import profile_bounds
from simlab.model.intercept import GroupSums, fit_theta
from simlab.model.relcov_profile import profile_bounds as relcov_profile_bounds
from simlab.simulate import Settings, _slope_deviations, check_settings, simulate

from .grid import Cell, Grid

__all__ = ["CI_METHODS", "ENVIRONMENT_ERRORS", "Chunk", "draw_rep", "fit_cross_products",
           "fit_reps", "fit_sums", "rep_columns", "rep_cross_products", "rep_seed", "rep_sums",
           "run_chunk", "simulate_rep"]

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


def draw_rep(spec: Settings, seed: int, cell: int, rep: int) -> tuple[np.ndarray, np.ndarray]:
    """The group sizes and standard normals of one replicate, as :func:`simulate_rep` draws them.

    From ``numpy.random.default_rng(rep_seed(seed, cell, rep))``: the sizes
    first when ``spec`` has a ``(min, max)`` range, then in one call every
    normal :func:`simlab.simulate` draws (``u``, with ``tau_slope`` the
    slope draws, ``e``, ``x``, with ``cluster_effect`` ``z``). A Generator's
    normals do not depend on how a run of them is split into calls, and
    ``normal(0, sd)`` is ``sd`` times the standard normal, so
    :func:`rep_columns` rebuilds ``simulate``'s data exactly.

    Returns
    -------
    sizes : ndarray of int64, shape (n_groups,)
    normals : ndarray, shape (m,)
    """
    gen = np.random.default_rng(rep_seed(seed, cell, rep))
    sizes = spec.sizes
    if isinstance(sizes, tuple):
        sizes = gen.integers(sizes[0], sizes[1], size=spec.n_groups, endpoint=True,
                             dtype=np.int64)
        return sizes, gen.standard_normal(_normal_count(spec, sizes))
    return sizes, gen.standard_normal(_fixed_normal_count(spec))


def _normal_count(spec: Settings, sizes: np.ndarray) -> int:
    """How many normals :func:`simlab.simulate` draws for groups of ``sizes``."""
    per_group = 1 + (spec.tau_slope is not None) + (spec.cluster_effect is not None)
    return per_group * spec.n_groups + 2 * int(sizes.sum())


#: ``(spec, count)`` of the last fixed design counted. One tuple, read and replaced whole,
#: so threads drawing chunks of different cells (dask's threaded workers) never pair one
#: spec with another's count.
_last_count: tuple = (None, 0)


def _fixed_normal_count(spec: Settings) -> int:
    """:func:`_normal_count` of fixed sizes, remembered for the last ``spec``.

    A chunk draws hundreds of replicates of one ``spec``; summing its sizes
    each time costs a twentieth of the draw.
    """
    global _last_count
    last = _last_count
    if last[0] is not spec:
        last = _last_count = (spec, _normal_count(spec, spec.sizes))
    return last[1]


def rep_columns(spec: Settings, sizes: np.ndarray,
                normals: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """``y`` and the covariates ``[x]`` (``[x, z]``) from :func:`draw_rep`'s normals.

    ``normals`` may be (m,) or (R, m) for replicates sharing ``sizes``; the
    arithmetic is :func:`simlab.simulate`'s, term by term, so the values
    are the same to the last bit.
    """
    n_groups, n_rows = spec.n_groups, int(sizes.sum())
    group = np.repeat(np.arange(n_groups), sizes)
    u = spec.tau * normals[..., :n_groups]
    start = n_groups
    if spec.tau_slope is not None:
        u1 = _slope_deviations(u, spec.tau_slope * normals[..., start:start + n_groups], spec)
        start += n_groups
    e = spec.sigma * normals[..., start:start + n_rows]
    x = normals[..., start + n_rows:start + 2 * n_rows]
    if spec.tau_slope is None:
        # simulate's intercept + slope * x + u[group] + e, summed in place (addition
        # commutes exactly, so the bits are the same) to spare a chunk's temporaries
        y = spec.slope * x
        y += spec.intercept
        y += u[..., group]
        y += e
    else:
        y = (spec.intercept + u[..., group]) + (spec.slope + u1[..., group]) * x + e
    if spec.cluster_effect is None:
        return y, [x]
    z = normals[..., start + 2 * n_rows:][..., group]
    return y + spec.cluster_effect * z, [x, z]


def _design(y: np.ndarray, covariates: list[np.ndarray],
            counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(y, X, group codes 0..)`` of rows in blocks of ``counts``; X is ``1, x`` (and ``z``).

    y and the covariates may have a leading replicate axis; X is then
    (R, n, p), held as (R, p, n) in memory, the layout of :class:`GroupSums`' sums.
    """
    if counts.max() < 2:
        raise ValueError("every group has a single observation, so tau and sigma "
                         "cannot be told apart")
    X = np.empty((*y.shape[:-1], 1 + len(covariates), y.shape[-1]))
    X[..., 0, :] = 1.0
    for k, column in enumerate(covariates, start=1):
        X[..., k, :] = column
    return y, np.swapaxes(X, -1, -2), np.repeat(np.arange(counts.size), counts)


def _rep_arrays(data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(y, X, group codes 0.., rows per group)`` of one simulated data set.

    X is ``1, x`` (and ``z``).
    """
    # One conversion of the whole frame: pandas' per-column access costs more than the sums.
    table = dict(zip(data.columns, data.to_numpy(dtype=float).T))
    groups = table["group"].astype(np.intp) - 1
    counts = np.bincount(groups)
    covariates = [table[name] for name in ("x", "z") if name in table]
    y, X, _ = _design(table["y"], covariates, counts)
    return y, X, groups, counts


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
    return _cross_products(*_rep_arrays(data))


def _cross_products(y: np.ndarray, X: np.ndarray, groups: np.ndarray,
                    counts: np.ndarray) -> relcov.CrossProducts:
    """:func:`rep_cross_products` of one replicate's arrays."""
    if groups.size <= 2 * counts.size:
        raise ValueError(f"number of observations ({groups.size}) <= number of random effects "
                         f"({2 * counts.size}): a random intercept and slope per group leave "
                         "no residual to estimate sigma")
    X = np.ascontiguousarray(X)     # the layout of a data frame's design, as lmer fits it
    return relcov.CrossProducts.from_arrays(y, X, X[:, :2], groups, counts.size)


def _estimates(variance: np.ndarray, beta: np.ndarray, se: np.ndarray, ci: Sequence[str],
               level: float) -> dict[str, np.ndarray]:
    """``estimate``, ``se`` and Wald bounds (R, P) in lme4's order: variance parameters
    (``sigma`` last), then the fixed effects; se and Wald bounds NaN for the variances."""
    no_se = np.full(variance.shape, np.nan)
    out = {"estimate": np.hstack([variance, beta]), "se": np.hstack([no_se, se])}
    if "wald" in ci:
        half = normal_quantile(level) * se
        lower, upper = interval_columns("wald")
        out[lower], out[upper] = np.hstack([no_se, beta - half]), np.hstack([no_se, beta + half])
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
            out.update(zip(interval_columns("profile"), (bounds.lower, bounds.upper)))
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
            out.update(zip(interval_columns("profile"), (bounds.lower, bounds.upper)))
    out.update(singular=fit.singular, converged=fit.converged)
    return out


def _empty(n_reps: int, n_params: int, ci: Sequence[str]) -> dict[str, np.ndarray]:
    """Results of ``n_reps`` replicates that all failed: NaN everywhere."""
    names = ["estimate", "se", *(name for m in ci for name in interval_columns(m))]
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


def _one_sums(spec: Settings, sizes: np.ndarray, normals: np.ndarray) -> GroupSums:
    """Per-group sums of one or more replicates sharing ``sizes``, from their normals."""
    y, X, groups = _design(*rep_columns(spec, sizes, normals), sizes)
    return GroupSums.from_arrays(y, X, groups, spec.n_groups)


def _one_cross_products(spec: Settings, sizes: np.ndarray,
                        normals: np.ndarray) -> relcov.CrossProducts:
    y, X, groups = _design(*rep_columns(spec, sizes, normals), sizes)
    return _cross_products(y, X, groups, sizes)


def _replicate(sums: GroupSums, i: int) -> GroupSums:
    """Replicate ``i`` of stacked sums (fields of length 1 are shared by all replicates)."""
    return sums.take(np.array([i]))


@dataclass(frozen=True)
class _Engine:
    """How one kind of cell is prepared, stacked, split and fitted.

    ``prepare(spec, sizes, normals)`` builds one replicate's item, or with
    ``batched`` a whole chunk's from normals (R, m) sharing ``sizes``;
    ``take(batch, i)`` is replicate ``i`` of a stacked batch. The functions
    are looked up at call time, so tests can replace them.
    """

    prepare: Callable[[Settings, np.ndarray, np.ndarray], Any]
    stack: Callable[[list], Any]
    take: Callable[[Any, int], Any]
    fit: Callable[[Any, Sequence[str], float], dict]
    batched: bool


_INTERCEPT = _Engine(prepare=lambda spec, sizes, normals: _one_sums(spec, sizes, normals),
                     stack=lambda items: GroupSums.stack(items),
                     take=lambda batch, i: _replicate(batch, i),
                     fit=lambda batch, ci, level: fit_sums(batch, ci, level), batched=True)
_SLOPE = _Engine(prepare=lambda spec, sizes, normals: _one_cross_products(spec, sizes, normals),
                 stack=list, take=lambda batch, i: [batch[i]],
                 fit=lambda batch, ci, level: fit_cross_products(batch, ci, level),
                 batched=False)


def _engine(cell: Cell) -> _Engine:
    return _SLOPE if cell.random_slope else _INTERCEPT


def fit_reps(batch: Any, n_reps: int, n_params: int, ci: Sequence[str], level: float,
             engine: _Engine = _INTERCEPT) -> tuple[dict[str, np.ndarray], list[str]]:
    """Fit replicates in one batch; if the batch fails, one by one to isolate failures.

    Parameters
    ----------
    batch : GroupSums or list
        ``n_reps`` replicates' :class:`~simlab.model.intercept.GroupSums`,
        stacked (the default engine), or a list of one
        :class:`~simlab.model.relcov.CrossProducts` each for random slopes.

    Returns
    -------
    results : dict of str to ndarray
        As :func:`fit_sums`, with NaN rows for replicates that failed.
    errors : list of str
        ``""`` for each fitted replicate, else the reason.
    """
    out, errors = _empty(n_reps, n_params, ci), [""] * n_reps
    if not n_reps:
        return out, errors
    try:
        _assign(out, slice(None), engine.fit(batch, ci, level))
        return out, errors
    except ENVIRONMENT_ERRORS:
        raise
    except Exception:  # noqa: BLE001 - refit one by one below to find the culprits
        pass
    for i in range(n_reps):
        try:
            _assign(out, slice(i, i + 1), engine.fit(engine.take(batch, i), ci, level))
        except ENVIRONMENT_ERRORS:
            raise
        except Exception as err:  # noqa: BLE001 - a failed fit is an outcome
            errors[i] = _describe("fit", err)
    return out, errors


def _draw_chunk(chunk: Chunk, spec: Settings, errors: list[str]) -> dict[int, tuple]:
    """:func:`draw_rep` of every replicate of ``chunk`` (by position); failures go to ``errors``."""
    draws = {}
    for i, rep in enumerate(chunk.reps):
        try:
            draws[i] = draw_rep(spec, chunk.seed, chunk.cell.index, rep)
        except ENVIRONMENT_ERRORS:
            raise
        except Exception as err:  # noqa: BLE001 - a failed simulation is an outcome
            errors[i] = _describe("simulate", err)
    return draws


#: Normals per block of replicates prepared together. The temporaries of a block (a few
#: hundred KiB each) are then reused from the heap; those of a whole chunk of 250 100 x 3
#: replicates are returned to the system when freed, and touching fresh pages again cost
#: more (2,000 page faults a chunk, about 10 us a replicate) than the calls of 5 blocks.
PREPARE_BLOCK_VALUES = 35_000


def _prepare_chunk(engine: _Engine, spec: Settings, draws: dict[int, tuple],
                   errors: list[str]) -> tuple[list[int], Any]:
    """The positions of the prepared replicates and their stacked batch.

    Replicates sharing their sizes (not drawn from a range) are prepared a
    block at a time (:data:`PREPARE_BLOCK_VALUES`); if that fails, or sizes
    differ, one by one, each failure recorded in ``errors`` as a failed
    simulation.
    """
    if engine.batched and not isinstance(spec.sizes, tuple) and draws:
        try:
            arrays = [normals for _, normals in draws.values()]
            block = max(1, PREPARE_BLOCK_VALUES // arrays[0].size)
            items = [engine.prepare(spec, spec.sizes, np.stack(arrays[start:start + block]))
                     for start in range(0, len(arrays), block)]
            return list(draws), items[0] if len(items) == 1 else engine.stack(items)
        except ENVIRONMENT_ERRORS:
            raise
        except Exception:  # noqa: BLE001 - one by one below, to record each failure
            pass
    kept, items = [], []
    for i, (sizes, normals) in draws.items():
        try:
            items.append(engine.prepare(spec, sizes, normals))
            kept.append(i)
        except ENVIRONMENT_ERRORS:
            raise
        except Exception as err:  # noqa: BLE001 - a failed simulation is an outcome
            errors[i] = _describe("simulate", err)
    return kept, engine.stack(items) if items else None


def run_chunk(chunk: Chunk) -> pd.DataFrame:
    """Simulate and fit every replicate of ``chunk``; one row per rep and parameter.

    Each replicate's data are :func:`simulate_rep`'s, drawn as arrays
    (:func:`draw_rep`, :func:`rep_columns`) rather than a data frame.

    Returns
    -------
    pandas.DataFrame
        The sweep's long format (see :func:`simlab.study.sweep`), sorted by
        rep, then parameter.
    """
    cell = chunk.cell
    engine = _engine(cell)
    spec = check_settings(**cell.params)
    n_params = len(cell.parameters)
    results = _empty(len(chunk.reps), n_params, chunk.ci)
    errors = [""] * len(chunk.reps)
    kept, batch = _prepare_chunk(engine, spec, _draw_chunk(chunk, spec, errors), errors)
    fitted, fit_errors = fit_reps(batch, len(kept), n_params, chunk.ci, chunk.level, engine)
    _assign(results, kept, fitted)
    # A correlation is undefined (NaN) where an sd is 0; everything else must be finite.
    needed = np.array([not name.startswith("cor_") for name in cell.parameters])
    finite = np.isfinite(results["estimate"][:, needed]).all(axis=1)
    for i, error in zip(kept, fit_errors):
        errors[i] = "fit: non-finite estimate" if not error and not finite[i] else error
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
    return pd.DataFrame(columns, copy=False)   # every column is a fresh array already
