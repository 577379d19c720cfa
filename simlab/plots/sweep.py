"""Plots of a sweep's performance measures (the output of :func:`simlab.study.summarize`).

As in seaborn, the numbers behind a plot come from a pure function
(:func:`sweep_plot_data`); :func:`plot_sweep` is axes-level (one panel on
``ax``, default the current Axes, ``**kwargs`` to the error bars, returns
the Axes) and :func:`sweep_figure` is figure-level (one panel per level of
``col``, returns the Figure), as ``lineplot`` and ``relplot`` are. Error
bars are +- 1.96 Monte Carlo SEs.
"""
from __future__ import annotations

import pandas as pd

from simlab._checks import name_list
from simlab._vocabulary import DEFAULT_LEVEL, LOWER, UPPER

from ._common import (axes_or_current, check_col_wrap, check_figure, facet_axes,
                      with_defaults)

__all__ = ["Z_MCSE", "reference_value", "sweep_plot_data", "plot_sweep", "sweep_figure"]

#: Error bars and ``lower``/``upper`` span this many MCSEs either side.
Z_MCSE = 1.96
_ZERO_TARGET = ("bias", "relative_bias", "relative_error_model_se")


def _measures(summary: pd.DataFrame) -> list[str]:
    """Columns ``m`` that have an ``m_mcse`` partner."""
    return [c for c in summary.columns if f"{c}_mcse" in summary.columns]


def sweep_plot_data(summary: pd.DataFrame, measure: str, *, x: str, hue: str | None = None,
                    col: str | None = None) -> pd.DataFrame:
    """The numbers :func:`plot_sweep` and :func:`sweep_figure` draw, one row per summary row.

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
    out[LOWER] = out["value"] - Z_MCSE * out["mcse"]
    out[UPPER] = out["value"] + Z_MCSE * out["mcse"]
    return out


def reference_value(measure: str, level: float = DEFAULT_LEVEL) -> float | None:
    """The target of ``measure``: 0 for bias-type measures, ``level`` for coverage."""
    if measure in _ZERO_TARGET:
        return 0.0
    if measure.startswith("coverage_"):
        return float(level)
    return None


def _draw(ax, data: pd.DataFrame, measure: str, x: str, hue: str | None,
          level: float, title: str, kwargs: dict) -> None:
    groups = data.groupby(hue, sort=False, dropna=False) if hue else [(None, data)]
    for name, rows in groups:
        rows = rows.sort_values(x, kind="stable")
        label = None if hue is None else f"{hue} = {name}"
        ax.errorbar(rows[x].to_numpy(), rows["value"].to_numpy(),
                    yerr=Z_MCSE * rows["mcse"].to_numpy(),
                    **with_defaults(dict(marker="o", capsize=3, label=label), kwargs))
    target = reference_value(measure, level)
    if target is not None:
        ax.axhline(target, linestyle="--", color="grey", linewidth=1, gid="reference")
    ax.set_xlabel(x)
    ax.set_ylabel(f"{measure} (± {Z_MCSE} MCSE)")
    ax.set_title(title)
    if hue is not None:
        ax.legend(fontsize="small")


def plot_sweep(summary: pd.DataFrame, measure: str, *, x: str, hue: str | None = None,
               level: float = DEFAULT_LEVEL, ax=None, **kwargs):
    """Plot ``measure`` against ``x`` on one Axes: one line per ``hue`` level, MCSE error bars.

    A dashed line (``gid`` ``"reference"``) marks the target: 0 for bias,
    relative bias and the relative error in model SE, ``level`` for coverage.

    Parameters
    ----------
    summary, measure, x, hue
        As :func:`sweep_plot_data`. For one panel per level of a column
        (e.g. ``parameter``) use :func:`sweep_figure`.
    level : float
        The nominal coverage, the target of ``coverage_*`` measures.
    ax : matplotlib Axes, optional
        Default: the current Axes (``plt.gca()``).
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.errorbar` for every line,
        overriding ``marker="o", capsize=3`` and the ``hue`` label.

    Returns
    -------
    matplotlib Axes

    Raises
    ------
    TypeError
        If ``col`` is passed (that is :func:`sweep_figure`'s) or ``ax`` is not one Axes.
    ValueError
        As :func:`sweep_plot_data`.
    """
    if "col" in kwargs:  # else it would reach errorbar, whose error would not say what to do
        raise TypeError("plot_sweep draws one panel and takes no col=; for one panel per level "
                        "use sweep_figure(summary, measure, x=..., col=...)")
    data = sweep_plot_data(summary, measure, x=x, hue=hue)
    ax = axes_or_current(ax)
    _draw(ax, data, measure, x, hue, level, measure, kwargs)
    return ax


def sweep_figure(summary: pd.DataFrame, measure: str, *, x: str, hue: str | None = None,
                 col: str | None = None, col_wrap: int = 4, level: float = DEFAULT_LEVEL,
                 fig=None, **kwargs):
    """One :func:`plot_sweep` panel per level of ``col`` (in the summary's order).

    Parameters
    ----------
    summary, measure, x, hue, level
        As :func:`plot_sweep`.
    col : str, optional
        The column whose levels get a panel each, e.g. ``"parameter"``;
        without it, one panel.
    col_wrap : int
        Panels per row; unused panels of the last row are hidden.
    fig : matplotlib Figure or SubFigure, optional
        Where to draw, e.g. a bare :class:`matplotlib.figure.Figure` when
        writing files; default a new pyplot figure sized for the panels.
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.errorbar` for every line of every panel.

    Returns
    -------
    matplotlib Figure
        One visible Axes per level, titled ``"<measure>: <col> = <level>"``.

    Raises
    ------
    TypeError
        If ``fig`` is not a Figure.
    ValueError
        As :func:`sweep_plot_data`, or for a ``col_wrap`` that is not a positive int.
    """
    check_col_wrap(col_wrap)
    check_figure(fig)  # before any work
    data = sweep_plot_data(summary, measure, x=x, hue=hue, col=col)
    if data.empty:
        raise ValueError(f"the summary has no rows to plot for {measure!r}")
    levels = [None] if col is None else list(pd.unique(data[col]))
    fig, axes = facet_axes(fig, len(levels), col_wrap, panel=(4.5, 3.5))
    for ax, value in zip(axes, levels):
        rows, title = ((data, measure) if col is None
                       else (data[data[col] == value], f"{measure}: {col} = {value}"))
        _draw(ax, rows, measure, x, hue, level, title, kwargs)
    return fig
