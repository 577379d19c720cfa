"""Power curves: power with its Clopper-Pearson interval against the design setting.

:func:`power_curve_data` computes the numbers (a tidy frame) and
:func:`plot_power_curve` draws them on one Axes (``ax=None``: the current
Axes), passing ``**kwargs`` to the line, as seaborn's axes-level functions do.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from simlab._checks import is_real
from simlab._vocabulary import LOWER, NSIM, UPPER

from ._common import axes_or_current, with_defaults

__all__ = ["POWER_CURVE_COLUMNS", "power_curve_data", "plot_power_curve"]

#: Columns of :func:`power_curve_data`.
POWER_CURVE_COLUMNS = ("size", "power", LOWER, UPPER, NSIM)
_LABELS = {"n_groups": "number of groups", "n_per_group": "rows per group"}


def power_curve_data(curve: Any) -> pd.DataFrame:
    """The numbers behind the figure: a row per break of a power curve.

    Parameters
    ----------
    curve : PowerCurve
        From :func:`simlab.power_curve`.

    Returns
    -------
    pandas.DataFrame
        :data:`POWER_CURVE_COLUMNS`; ``size`` is the value of ``curve.along``.
    """
    from simlab.planning.curve import PowerCurve

    if not isinstance(curve, PowerCurve):
        raise TypeError("plot a power curve from simlab.power_curve(...), got "
                        f"{type(curve).__name__}")
    table = curve.table
    return table.rename(columns={curve.along: "size"})[list(POWER_CURVE_COLUMNS)]


def plot_power_curve(curve: Any, *, target: float | None = None, ax=None, **kwargs):
    """Power against the number of groups (or rows per group), with 95% intervals.

    Parameters
    ----------
    curve : PowerCurve
        From :func:`simlab.power_curve`.
    target : float, optional
        Draw the target power as a dashed horizontal line (``gid`` ``"target"``).
    ax : matplotlib Axes, optional
        Default: the current Axes (``plt.gca()``).
    **kwargs
        Passed to the line (``Axes.errorbar``), e.g. ``color`` or ``label``.

    Returns
    -------
    matplotlib.axes.Axes
    """
    data = power_curve_data(curve)
    if target is not None and not (is_real(target) and 0 < target < 1):
        raise ValueError(f"target must be a power strictly between 0 and 1, got {target!r}")
    ax = axes_or_current(ax)
    ax.errorbar(data["size"], data["power"],
                yerr=[data["power"] - data[LOWER], data[UPPER] - data["power"]],
                **with_defaults(dict(marker="o", capsize=3), kwargs))
    if target is not None:
        ax.axhline(target, linestyle="--", color="grey", linewidth=1, gid="target")
    ax.set_xlabel(_LABELS[curve.along])
    ax.set_ylabel(f"power ({curve.points[0].test}, alpha = {curve.points[0].alpha:g})")
    ax.set_ylim(0, 1.02)
    return ax
