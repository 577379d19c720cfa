"""Plots of a sweep's performance measures (the output of :func:`simlab.study.summarize`).

As in seaborn, the numbers behind a plot come from a pure function
(:func:`sweep_plot_data`) and the drawing function (:func:`plot_sweep`) takes
the data first, keyword-only options and ``ax=None``, and returns the Axes.
Error bars are +- 1.96 Monte Carlo SEs.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from simlab._checks import name_list

__all__ = ["Z_MCSE", "reference_value", "sweep_plot_data", "plot_sweep"]

#: Error bars and ``lower``/``upper`` span this many MCSEs either side.
Z_MCSE = 1.96
_ZERO_TARGET = ("bias", "relative_bias", "relative_error_model_se")


def _measures(summary: pd.DataFrame) -> list[str]:
    """Columns ``m`` that have an ``m_mcse`` partner."""
    return [c for c in summary.columns if f"{c}_mcse" in summary.columns]


def sweep_plot_data(summary: pd.DataFrame, measure: str, *, x: str, hue: str | None = None,
                    col: str | None = None) -> pd.DataFrame:
    """The numbers :func:`plot_sweep` draws, one row per summary row.

    Returns the columns ``x``, ``hue``, ``col`` (those given), ``parameter``,
    ``value`` (= ``summary[measure]``), ``mcse`` (= ``summary[measure + "_mcse"]``)
    and ``lower``/``upper`` = value -/+ 1.96 mcse.

    Raises
    ------
    ValueError
        If ``measure``, its ``_mcse`` column, or the ``x``/``hue``/``col``
        column is not in ``summary`` (the message lists the measures).
    """
    if not isinstance(summary, pd.DataFrame):
        raise TypeError(f"summary must be a pandas DataFrame, not {type(summary).__name__}")
    if measure not in summary.columns or f"{measure}_mcse" not in summary.columns:
        raise ValueError(f"measure {measure!r} (with {measure}_mcse) is not in the summary; "
                         f"available measures: {_measures(summary)}")
    keys = list(dict.fromkeys(k for k in (x, hue, col, "parameter") if k is not None))
    missing = [k for k in keys if k not in summary.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the summary; available columns: "
                         f"{name_list(map(str, summary.columns))}")
    out = summary[keys].reset_index(drop=True)
    out["value"] = summary[measure].to_numpy(dtype=float)
    out["mcse"] = summary[f"{measure}_mcse"].to_numpy(dtype=float)
    out["lower"] = out["value"] - Z_MCSE * out["mcse"]
    out["upper"] = out["value"] + Z_MCSE * out["mcse"]
    return out


def reference_value(measure: str, level: float = 0.95) -> float | None:
    """The target of ``measure``: 0 for bias-type measures, ``level`` for coverage."""
    if measure in _ZERO_TARGET:
        return 0.0
    if measure.startswith("coverage_"):
        return float(level)
    return None


def _draw(ax, data: pd.DataFrame, measure: str, x: str, hue: str | None,
          level: float, title: str) -> None:
    groups = data.groupby(hue, sort=False, dropna=False) if hue else [(None, data)]
    for name, rows in groups:
        rows = rows.sort_values(x, kind="stable")
        ax.errorbar(rows[x].to_numpy(), rows["value"].to_numpy(),
                    yerr=Z_MCSE * rows["mcse"].to_numpy(), marker="o", capsize=3,
                    label=None if hue is None else f"{hue} = {name}")
    target = reference_value(measure, level)
    if target is not None:
        ax.axhline(target, linestyle="--", color="grey", linewidth=1, gid="reference")
    ax.set_xlabel(x)
    ax.set_ylabel(f"{measure} (± {Z_MCSE} MCSE)")
    ax.set_title(title)
    if hue is not None:
        ax.legend(fontsize="small")


def plot_sweep(summary: pd.DataFrame, measure: str, *, x: str, hue: str | None = None,
               col: str | None = None, level: float = 0.95, ax=None):
    """Plot ``measure`` against ``x``: one line per ``hue`` level, MCSE error bars.

    A dashed line marks the target (0 for bias, relative bias and the
    relative error in model SE; ``level`` for coverage). Without ``col``,
    draws on ``ax`` (default: a new figure) and returns that Axes. With
    ``col``, draws one subplot per ``col`` level (``ax``, if given, must be a
    sequence of that many Axes) and returns the array of Axes.
    """
    import matplotlib.pyplot as plt

    data = sweep_plot_data(summary, measure, x=x, hue=hue, col=col)
    if col is None:
        ax = plt.subplots(figsize=(5, 3.5))[1] if ax is None else ax
        _draw(ax, data, measure, x, hue, level, measure)
        return ax
    levels = list(pd.unique(data[col]))
    if ax is None:
        ncols = min(len(levels), 4)
        nrows = -(-len(levels) // ncols)
        axes = plt.subplots(nrows, ncols, figsize=(4.5 * ncols, 3.5 * nrows), squeeze=False,
                            layout="constrained")[1].ravel()
        for extra in axes[len(levels):]:
            extra.set_visible(False)
    else:
        axes = np.asarray(ax, dtype=object).ravel()
        if len(axes) < len(levels):
            raise ValueError(f"ax holds {len(axes)} Axes but {col!r} has {len(levels)} levels")
    for axis, value in zip(axes, levels):
        _draw(axis, data[data[col] == value], measure, x, hue, level,
              f"{measure}: {col} = {value}")
    return axes[:len(levels)]
