"""Batch engine: simulate and fit every replicate of one chunk of a cell at once.

Each replicate ``rep`` of cell ``c`` is simulated from
``numpy.random.SeedSequence([seed, c, rep])``, so its data do not depend on
which chunk, process or machine runs it. The replicates' per-group sums are
stacked along :class:`~simlab.model.profiled.GroupSums`' replicate axis and
``y ~ x (+ z) + (1 | group)`` is fitted by REML for all of them in one call
of :func:`~simlab.model.profiled.fit_theta`, the same exact engine as
:func:`simlab.lmer`; profile intervals come from the vectorised
:func:`~simlab.model.profile.profile_bounds`.

A replicate whose simulation or fit fails keeps its rows, with NaN values and
the reason in ``error``: failures are outcomes, never dropped or redrawn. A failure
of the machine (:data:`ENVIRONMENT_ERRORS`, e.g. MemoryError) is not an outcome: it
aborts the chunk, which is then recomputed when the sweep resumes.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from simlab.model.profile import profile_bounds
from simlab.model.profiled import GroupSums, fit_theta
from simlab.simulate import simulate

from .grid import Cell

__all__ = ["CI_METHODS", "ENVIRONMENT_ERRORS", "Chunk", "fit_reps", "fit_sums", "rep_seed", "rep_sums",
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


def rep_sums(data: pd.DataFrame) -> GroupSums:
    """Per-group sums of ``y ~ x (+ z) + (1 | group)`` for one simulated data set.

    Raises
    ------
    ValueError
        If every group has a single observation (as :func:`simlab.lmer` does).
    """
    # One conversion of the whole frame: pandas' per-column access costs more than the sums.
    table = dict(zip(data.columns, data.to_numpy(dtype=float).T))
    groups = table["group"].astype(np.intp) - 1
    counts = np.bincount(groups)
    if counts.max() < 2:
        raise ValueError("every group has a single observation, so tau and sigma "
                         "cannot be told apart")
    covariates = [table[name] for name in ("x", "z") if name in table]
    X = np.column_stack([np.ones(groups.size), *covariates])
    return GroupSums.from_arrays(table["y"], X, groups, counts.size)


def fit_sums(sums: GroupSums, ci: Sequence[str], level: float) -> dict[str, np.ndarray]:
    """REML fit and intervals of every replicate in ``sums``.

    Returns
    -------
    dict of str to ndarray
        ``estimate`` and ``se`` of shape (R, P), with columns the fixed
        effects, then ``sd_(Intercept)`` and ``sigma`` (se NaN for those two);
        ``lower_<m>`` and ``upper_<m>`` (R, P) for each method ``m`` in
        ``ci``; ``singular`` and ``converged`` (R,).
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        fit = fit_theta(sums, reml=True)
        se = fit.sigma[:, None] * np.sqrt(np.diagonal(fit.a_inv, axis1=1, axis2=2))
        no_se = np.full((se.shape[0], 2), np.nan)
        out = {"estimate": np.column_stack([fit.beta, fit.tau, fit.sigma]),
               "se": np.hstack([se, no_se]),
               "singular": fit.singular, "converged": fit.converged}
        if "wald" in ci:
            half = special.ndtri(0.5 + level / 2) * se
            out["lower_wald"] = np.hstack([fit.beta - half, no_se])
            out["upper_wald"] = np.hstack([fit.beta + half, no_se])
        if "profile" in ci:
            bounds = profile_bounds(sums, level)
            # profile_bounds orders (sd, sigma, fixed...); the sweep puts fixed effects first.
            out["lower_profile"] = np.roll(bounds.lower, -2, axis=1)
            out["upper_profile"] = np.roll(bounds.upper, -2, axis=1)
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


def fit_reps(sums: Sequence[GroupSums], n_params: int, ci: Sequence[str],
             level: float) -> tuple[dict[str, np.ndarray], list[str]]:
    """Fit replicates in one batch; if the batch fails, one by one to isolate failures.

    Returns
    -------
    results : dict of str to ndarray
        As :func:`fit_sums`, with NaN rows for replicates that failed.
    errors : list of str
        ``""`` for each fitted replicate, else the reason.
    """
    out, errors = _empty(len(sums), n_params, ci), [""] * len(sums)
    if not sums:
        return out, errors
    try:
        _assign(out, slice(None), fit_sums(GroupSums.stack(list(sums)), ci, level))
        return out, errors
    except ENVIRONMENT_ERRORS:
        raise
    except Exception:  # noqa: BLE001 - refit one by one below to find the culprits
        pass
    for i, one in enumerate(sums):
        try:
            _assign(out, slice(i, i + 1), fit_sums(one, ci, level))
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
    n_params = len(chunk.cell.parameters)
    results = _empty(len(chunk.reps), n_params, chunk.ci)
    errors = [""] * len(chunk.reps)
    sums = {}
    for i, rep in enumerate(chunk.reps):
        try:
            sums[i] = rep_sums(simulate_rep(chunk.cell, chunk.seed, rep))
        except ENVIRONMENT_ERRORS:
            raise
        except Exception as err:  # noqa: BLE001 - a failed simulation is an outcome
            errors[i] = _describe("simulate", err)
    fitted, fit_errors = fit_reps(list(sums.values()), n_params, chunk.ci, chunk.level)
    _assign(results, list(sums), fitted)
    for i, error in zip(sums, fit_errors):
        bad = not error and not np.isfinite(results["estimate"][i]).all()
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
