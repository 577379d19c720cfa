"""Summarise a sweep's long results table into performance measures per cell.

The input is the sweep's tidy long table, one row per cell x rep x parameter,
with columns ``cell``, ``rep``, ``parameter``, ``truth``, ``estimate``,
``se``, ``singular``, ``converged``, ``error``, a ``lower_<m>``/``upper_<m>``
pair per interval method ``m`` (:func:`simlab._vocabulary.interval_columns`), and the grid keys (any further columns that
are constant within each cell, e.g. ``n_groups, n_per_group, tau, sigma``).

:func:`summarize` returns one row per cell x parameter with the measures of
Morris, White & Crowther (2019) from :mod:`simlab.study.measures`, each next
to its Monte Carlo SE (``<name>_mcse``), as a :class:`SweepSummary`: a
DataFrame that prints (and shows in a notebook) as a compact summary.

Fits with a non-empty ``error`` are counted (``n_failed``) and excluded from
every measure. Singular and non-converged fits are valid estimates: they are
kept in the measures and counted (``n_singular``, ``n_nonconverged``), never
redrawn, and failures never count as non-rejections in the power columns.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from simlab._checks import check_level
from simlab._display import SummaryHTML
from simlab._vocabulary import DEFAULT_LEVEL, LOWER, NSIM, UPPER, interval_columns
from simlab.model.ddf import normal_quantile

from simlab.study import measures as ms

__all__ = ["REQUIRED_COLUMNS", "SweepSummary", "interval_methods", "output_columns",
           "summarize"]

#: Columns every results table must have (besides the grid keys and bounds).
REQUIRED_COLUMNS = (
    "cell", "rep", "parameter", "truth", "estimate", "se", "singular", "converged", "error",
)

NAN = float("nan")
_COUNT_COLUMNS = (NSIM, "n_failed", "n_singular", "n_nonconverged")
#: The prefixes of the bound columns of several interval methods side by side.
_BOUND_PREFIXES = (f"{LOWER}_", f"{UPPER}_")
_POINT_MEASURES = (
    "mean_estimate", "bias", "relative_bias", "empirical_se", "model_se",
    "relative_error_model_se", "mse", "rmse",
)


def _with_mcse(*names: str) -> list[str]:
    return [col for name in names for col in (name, f"{name}_mcse")]


def interval_methods(columns: Sequence[str]) -> list[str]:
    """Return the interval methods ``m`` with ``lower_<m>`` and ``upper_<m>``.

    In the order the ``lower_`` columns appear. Raises ValueError naming the
    missing partner when a bound column has none, or an unknown method.
    """
    lower, upper = _BOUND_PREFIXES
    lowers = [c[len(lower):] for c in columns if c.startswith(lower)]
    uppers = [c[len(upper):] for c in columns if c.startswith(upper)]
    unpaired = [interval_columns(m)[1] for m in lowers if m not in uppers]
    unpaired += [interval_columns(m)[0] for m in uppers if m not in lowers]
    if unpaired:
        raise ValueError(f"interval bound columns without a partner: missing {unpaired}")
    return lowers


def output_columns(grid: Sequence[str], methods: Sequence[str]) -> list[str]:
    """The columns of :func:`summarize`'s output, in order."""
    cols = [*grid, "cell", "parameter", *_COUNT_COLUMNS]
    cols += _with_mcse("singular_rate", "nonconverged_rate", "failure_rate")
    cols += ["truth", *_with_mcse(*_POINT_MEASURES)]
    for m in methods:
        cols += _with_mcse(f"coverage_{m}", f"width_{m}", f"power_{m}")
    return cols + _with_mcse("power_z")


def _validate(results: pd.DataFrame, level: float) -> float:
    """Check the arguments of :func:`summarize`; return the checked level."""
    if not isinstance(results, pd.DataFrame):
        raise TypeError(f"results must be a pandas DataFrame, not {type(results).__name__}")
    level = check_level(level)
    missing = [c for c in REQUIRED_COLUMNS if c not in results.columns]
    if missing:
        raise ValueError(f"results is missing required columns: {missing}")
    dups = results.duplicated(["cell", "rep", "parameter"])
    if dups.any():
        raise ValueError(
            f"results has {int(dups.sum())} duplicated (cell, rep, parameter) rows"
        )
    return level


def _grid_columns(results: pd.DataFrame, grid: Sequence[str] | None) -> list[str]:
    """The grid keys: given, or every extra column constant within each cell.

    Extra columns that vary within a cell (per-replicate seeds, timings, ...)
    are not keys and are left out when ``grid`` is None; a given key that
    varies within a cell is an error.
    """
    known = set(REQUIRED_COLUMNS)
    extra = [c for c in results.columns
             if c not in known and not c.startswith(_BOUND_PREFIXES)]
    candidates = extra if grid is None else list(grid)
    absent = [c for c in candidates if c not in results.columns]
    if absent:
        raise ValueError(f"grid columns not in results: {absent}")
    if not candidates or results.empty:
        return candidates
    varies = results.groupby("cell", dropna=False)[candidates].nunique(dropna=False).max() > 1
    if grid is not None and varies.any():
        raise ValueError(f"grid columns vary within a cell: {list(varies[varies].index)}")
    return [c for c in candidates if not varies[c]]


def _is_error(value: object) -> bool:
    if isinstance(value, str):
        return value.strip() != ""
    return not bool(pd.isna(value))


def _as_flag(series: pd.Series) -> np.ndarray:
    """Booleans as 0/1 floats, missing values as NaN."""
    if pd.api.types.is_bool_dtype(series.dtype) and not series.hasnans:
        return series.to_numpy(dtype=float)
    return np.array([NAN if pd.isna(v) else float(bool(v)) for v in series], dtype=float)


def _prepare(results: pd.DataFrame) -> pd.DataFrame:
    """A copy with the private columns ``_failed``, ``_singular``, ``_nonconverged``."""
    out = results.copy()
    out["_failed"] = np.fromiter(map(_is_error, out["error"]), dtype=bool, count=len(out))
    out["_singular"] = _as_flag(out["singular"])
    out["_nonconverged"] = 1.0 - _as_flag(out["converged"])
    return out


def _put(out: dict, name: str, measure: ms.Measure) -> None:
    out[name], out[f"{name}_mcse"] = measure


def _truth(rows: pd.DataFrame) -> float:
    values = pd.unique(rows["truth"].dropna())
    if len(values) > 1:
        cell, parameter = rows["cell"].iloc[0], rows["parameter"].iloc[0]
        raise ValueError(f"truth varies within cell {cell!r}, parameter {parameter!r}")
    return float(values[0]) if len(values) else NAN


def _counts(rows: pd.DataFrame, ok: pd.DataFrame) -> dict:
    out = {
        NSIM: len(ok),
        "n_failed": int(rows["_failed"].sum()),
        "n_singular": int(np.nansum(ok["_singular"])),
        "n_nonconverged": int(np.nansum(ok["_nonconverged"])),
    }
    _put(out, "singular_rate", ms.proportion(ok["_singular"]))
    _put(out, "nonconverged_rate", ms.proportion(ok["_nonconverged"]))
    _put(out, "failure_rate", ms.proportion(rows["_failed"]))
    return out


def _point_measures(est: np.ndarray, se: np.ndarray, truth: float) -> dict:
    out: dict = {"truth": truth}
    _put(out, "mean_estimate", ms.mean_estimate(est))
    _put(out, "bias", ms.bias(est, truth))
    _put(out, "relative_bias", ms.relative_bias(est, truth))
    _put(out, "empirical_se", ms.empirical_se(est))
    _put(out, "model_se", ms.model_se(se))
    _put(out, "relative_error_model_se", ms.relative_error_model_se(est, se))
    _put(out, "mse", ms.mse(est, truth))
    _put(out, "rmse", ms.rmse(est, truth))
    return out


def _interval_measures(ok: pd.DataFrame, truth: float, methods: Sequence[str],
                       z: float) -> dict:
    """Coverage and width per method; power (rejecting 0) for fixed effects only."""
    est = ok["estimate"].to_numpy(dtype=float)
    se = ok["se"].to_numpy(dtype=float)
    fixed = bool(np.isfinite(se).any())
    out: dict = {}
    for m in methods:
        lower_column, upper_column = interval_columns(m)
        lower = ok[lower_column].to_numpy(dtype=float)
        upper = ok[upper_column].to_numpy(dtype=float)
        _put(out, f"coverage_{m}", ms.coverage(lower, upper, truth))
        _put(out, f"width_{m}", ms.mean_width(lower, upper))
        power = ms.rejection_rate(lower, upper, 0.0) if fixed else ms.Measure(NAN, NAN)
        _put(out, f"power_{m}", power)
    # |estimate / se| > z  <=>  the Wald interval estimate +- z se excludes 0.
    power_z = ms.rejection_rate(est - z * se, est + z * se, 0.0) if fixed else ms.Measure(NAN, NAN)
    _put(out, "power_z", power_z)
    return out


def _summarize_group(rows: pd.DataFrame, methods: Sequence[str], z: float) -> dict:
    ok = rows.loc[~rows["_failed"]]
    truth = _truth(rows)
    est = ok["estimate"].to_numpy(dtype=float)
    se = ok["se"].to_numpy(dtype=float)
    return {
        **_counts(rows, ok),
        **_point_measures(est, se, truth),
        **_interval_measures(ok, truth, methods, z),
    }


def summarize(results: pd.DataFrame, *, level: float = DEFAULT_LEVEL,
              grid_columns: Sequence[str] | None = None) -> SweepSummary:
    """Performance measures per cell x parameter of a sweep's long results.

    Parameters
    ----------
    results : DataFrame
        The long table described in the module docstring.
    level : float, default 0.95
        Confidence level of the Wald interval behind ``power_z``: the
        proportion of fits with ``|estimate / se| > z``, ``z`` the normal
        quantile of ``(1 + level) / 2`` (1.96 for 0.95). It is the same
        ``level`` as everywhere in simlab; the test's size is ``1 - level``.
        The stored intervals are used as they are. Keyword-only.
    grid_columns : sequence of str, optional
        The grid keys. By default every column other than the required ones
        and the bounds that is constant within each cell.

    Returns
    -------
    SweepSummary
        A DataFrame with one row per cell x parameter (cells in ascending
        order, parameters in order of appearance: for a sweep, lme4's
        ``confint`` rows ``sd_(Intercept)|group``, ..., ``sigma``, the fixed
        effects) and the columns of :func:`output_columns`. A
        cell whose fits all failed has ``nsim == 0`` and NaN measures.
        ``power_<m>`` and ``power_z`` are NaN for parameters without a finite
        ``se`` (the variance parameters). ``str()`` of it (and its display in
        a notebook) is a compact summary: bias and coverage with their MCSE.

    Raises
    ------
    TypeError
        ``results`` is not a DataFrame, or ``level`` is not a number.
    ValueError
        Missing required columns, unpaired bound columns, duplicated
        (cell, rep, parameter) rows, a truth that varies within a
        cell x parameter, or ``level`` not strictly between 0 and 1.
    """
    z = normal_quantile(_validate(results, level))
    methods = interval_methods(list(results.columns))
    grid = _grid_columns(results, grid_columns)
    keys = [*grid, "cell", "parameter"]
    rows = []
    for key, group in _prepare(results).groupby(keys, sort=False, dropna=False):
        rows.append({**dict(zip(keys, key)), **_summarize_group(group, methods, z)})
    out = pd.DataFrame(rows, columns=output_columns(grid, methods))
    out = out.sort_values("cell", kind="stable", ignore_index=True)
    return SweepSummary(out.astype({c: "int64" for c in _COUNT_COLUMNS}))


class SweepSummary(SummaryHTML, pd.DataFrame):
    """The table of :func:`summarize`: a DataFrame that reads as a summary.

    Everything a DataFrame does works on it, and what it derives (a
    selection, a copy) is a plain DataFrame. ``str()`` of it, ``print`` and
    its display in a notebook (:class:`simlab._display.SummaryHTML`) show
    the compact summary :func:`summary_text` writes; ``repr`` stays pandas'
    full table.
    """

    # A subclass rather than a wrapper: every caller indexes the table as a DataFrame.
    _metadata: list[str] = []

    @property
    def _constructor(self):
        return pd.DataFrame

    def __str__(self) -> str:
        return summary_text(self)


def summary_text(summary: pd.DataFrame) -> str:
    """A compact text table of a summary: per cell x parameter, ``nsim``, bias and the
    coverage of each interval method, each ``+-`` its Monte Carlo SE."""
    methods = [c[len("coverage_"):] for c in summary.columns
               if c.startswith("coverage_") and not c.endswith("_mcse")]
    first = list(summary.columns).index("cell")
    table = pd.DataFrame(summary.iloc[:, :first]).copy()
    table["parameter"] = summary["parameter"]
    table[NSIM] = summary[NSIM]
    table["bias"] = [_pm(b, s) for b, s in zip(summary["bias"], summary["bias_mcse"])]
    for m in methods:
        table[f"coverage_{m}"] = [_pm(c, s) for c, s in
                                  zip(summary[f"coverage_{m}"], summary[f"coverage_{m}_mcse"])]
    with pd.option_context("display.max_rows", None, "display.width", 200):
        return "Summary (bias and coverage, each +- Monte Carlo SE)\n" + table.to_string(
            index=False, na_rep="NA", float_format=lambda v: f"{v:.6g}")


def _pm(value: float, mcse: float) -> str:
    """``value +- mcse`` to 4 decimals; ``NA`` for a missing value."""
    if value is None or not math.isfinite(value):
        return "NA"
    return f"{value:.4f} +- {mcse:.4f}" if math.isfinite(mcse) else f"{value:.4f}"
