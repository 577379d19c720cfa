"""Figures of random-slope models: each group's line against a separate regression per group.

The second chapter of the tutorial ("More Random Effects") compares a
random-slope fit such as ``Reaction ~ Days + (Days | Subject)`` with "many
regressions": one ordinary least-squares line per group, fitted to that
group alone. The mixed model's line of a group (``coef()``: fixed effect
plus the group's random effect) is pulled toward the population line, most
of all for groups whose own data say little; the separate regressions are
not. This module draws that comparison:

- :func:`many_regressions_coef`: intercept and slope of every group's line
  from both sources (and of the population line);
- :func:`many_regressions_data`: those lines on a grid of ``x`` over each
  group's range (a tidy frame ``group, x, fit, source``);
- :func:`plot_many_regressions`: all groups on one Axes (axes-level);
- :func:`many_regressions_figure`: one small panel per group with the data
  points (figure-level, returns the Figure).

As in seaborn, the axes-level function draws on ``ax`` (default: the
current Axes, ``plt.gca()``), passes ``**kwargs`` on to matplotlib and
returns the Axes; the figure-level function draws into ``fig`` (default: a
new pyplot figure) and returns it.

Only the model's public methods are read (``ranef``, ``coef``, ``fixef``,
``formula``): the slope variable is the model's one random term besides
``(Intercept)``, and must be a column of the data.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from simlab._checks import is_int, name_list
from simlab.model.formula import parse_formula
from simlab.model.result import LmerResult, require_lmer

from ._common import (axes_or_current, check_col_wrap, check_figure, check_frame, facet_axes,
                      palette, require_columns, require_numeric, with_defaults)

__all__ = ["MIXED", "SEPARATE", "POPULATION", "MAX_PANELS",
           "many_regressions_coef", "many_regressions_data", "plot_many_regressions",
           "many_regressions_figure"]

#: ``source`` of the mixed model's line of a group (``coef()``).
MIXED = "mixed model"
#: ``source`` of a group's own OLS line, fitted to that group alone.
SEPARATE = "separate regression"
#: ``source`` of the population line (fixed effects only); its ``group`` is missing.
POPULATION = "population"
#: :func:`many_regressions_figure` draws at most this many panels unless ``groups`` is given.
MAX_PANELS = 30
_INTERCEPT = "(Intercept)"


class _Lines:
    """The checked model and data: column names and the complete rows, by group."""

    def __init__(self, model: LmerResult, data: pd.DataFrame, x, group, caller: str):
        require_lmer(model, caller)
        check_frame(data)
        self.model = model
        ranef = model.ranef()
        effects = list(pd.unique(ranef["effect"]))
        self.group_var = str(ranef["group_var"].iloc[0])
        self.response = parse_formula(model.formula).response
        self.x = _slope_variable(model, effects, x)
        self.random_intercept = _INTERCEPT in effects
        if group is not None and group != self.group_var:
            raise ValueError(f"the model's groups are {self.group_var!r}, not {group!r}; "
                             f"pass group={self.group_var!r} or leave it out")
        if self.x in (self.response, self.group_var):
            raise ValueError(f"the slope variable {self.x!r} is also the model's response or group")
        require_columns(data, [self.group_var, self.x, self.response])
        require_numeric(data, [self.x, self.response])
        rows = data[[self.group_var, self.x, self.response]].dropna()
        if rows.empty:
            raise ValueError(f"data has no complete rows of {self.group_var!r}, {self.x!r} and "
                             f"{self.response!r}")
        # Groups are matched by their text, as in ranef()/coef() ("308" is 308).
        levels = pd.Index(pd.unique(ranef["group"]))
        labels = rows[self.group_var].astype(str).to_numpy()
        unknown = pd.unique(labels[levels.get_indexer(labels) < 0])
        if len(unknown):
            raise ValueError(f"data has {self.group_var} id(s) {name_list(unknown)} that the model "
                             f"was not fitted to; pass the data the model was fitted to")
        present = np.isin(levels, labels)
        #: The groups of the data, in the model's level order.
        self.levels = levels[present]
        self.codes = self.levels.get_indexer(labels)
        self.xs = rows[self.x].to_numpy(dtype=float)
        self.ys = rows[self.response].to_numpy(dtype=float)
        self.all_levels = levels

    def coefficients(self) -> pd.DataFrame:
        """The table of :func:`many_regressions_coef`."""
        model = self.model
        fixed = model.fixef["estimate"]
        b0, b1 = float(fixed.get(_INTERCEPT, 0.0)), float(fixed.get(self.x, 0.0))
        coef = (model.coef().pivot(index="group", columns="effect", values="value")
                .reindex(self.levels))
        n_groups = len(self.levels)
        n = np.bincount(self.codes, minlength=n_groups)
        mixed_intercept = (coef[_INTERCEPT].to_numpy() if self.random_intercept
                           else np.full(n_groups, b0))
        intercept, slope = _separate_ols(self.codes, self.xs, self.ys, n_groups)
        labels = self.levels.to_numpy(dtype=object)
        return pd.DataFrame({
            "group": pd.Series(np.concatenate([labels, labels, [None]]), dtype=object),
            "source": [MIXED] * n_groups + [SEPARATE] * n_groups + [POPULATION],
            "intercept": np.concatenate([mixed_intercept, intercept, [b0]]),
            "slope": np.concatenate([coef[self.x].to_numpy(), slope, [b1]]),
            "n": np.concatenate([n, n, [len(self.codes)]]),
        })

    def choose(self, groups) -> list[str]:
        """The chosen groups' labels in the order given (default: every group of the data)."""
        if groups is None:
            return list(self.levels)
        if isinstance(groups, (str, bytes)) or np.ndim(groups) == 0:
            groups = [groups]
        wanted = list(dict.fromkeys(str(g) for g in groups))
        if not wanted:
            raise ValueError("groups is empty; pass at least one group id")
        unknown = [g for g in wanted if g not in self.all_levels]
        if unknown:
            raise ValueError(f"unknown {self.group_var} id(s) {name_list(unknown)}; valid ids "
                             f"include {name_list(self.all_levels, shown=5)}")
        absent = [g for g in wanted if g not in self.levels]
        if absent:
            raise ValueError(f"data has no complete rows for {self.group_var} {name_list(absent)}")
        return wanted


def _slope_variable(model: LmerResult, effects: list[str], x) -> str:
    """The random slope's variable: ``x`` if the model has one on it, else the only one."""
    slopes = [e for e in effects if e != _INTERCEPT]
    if x is not None and not isinstance(x, str):
        raise TypeError(f"x must be a column name, got {x!r}")
    if not slopes:
        raise ValueError(f"the model {model.formula!r} has no random slope (its random effects are "
                         f"{effects}): the mixed model's lines would all be parallel. Fit a random "
                         f"slope, e.g. 'y ~ x + (x | group)'")
    if x is None and len(slopes) > 1:
        raise ValueError(f"the model {model.formula!r} has random slopes on {slopes}; a line per "
                         f"group needs one")
    if x is not None and x not in slopes:
        raise ValueError(f"the model {model.formula!r} has no random slope on {x!r}; its random "
                         f"effects are {effects}")
    x = x if x is not None else slopes[0]
    others = [t for t in (*model.fixef.index, *effects) if t not in (_INTERCEPT, x)]
    if others:
        # With another covariate, a group's prediction is not one line in x.
        raise ValueError(f"a line per group against {x!r} alone is undefined when the model also "
                         f"uses {list(dict.fromkeys(others))}; fit 'y ~ {x} + ({x} | group)'")
    return x


def _separate_ols(codes: np.ndarray, x: np.ndarray, y: np.ndarray, n_groups: int):
    """Intercept and slope of OLS ``y ~ x`` within each group (NaN below two distinct x)."""
    n = np.bincount(codes, minlength=n_groups).astype(float)
    x_mean = np.bincount(codes, x, n_groups) / n
    y_mean = np.bincount(codes, y, n_groups) / n
    dx = x - x_mean[codes]  # centred first: sums of squares without cancellation
    sxx = np.bincount(codes, dx * dx, n_groups)
    sxy = np.bincount(codes, dx * (y - y_mean[codes]), n_groups)
    distinct = pd.Series(x).groupby(codes).nunique().reindex(range(n_groups), fill_value=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where(distinct.to_numpy() >= 2, sxy / sxx, np.nan)
    return y_mean - slope * x_mean, slope


def many_regressions_coef(model: LmerResult, data: pd.DataFrame, *, x: str | None = None,
                          group: str | None = None) -> pd.DataFrame:
    """Every group's intercept and slope from the mixed model and from its own regression.

    Parameters
    ----------
    model : LmerResult
        A random-slope fit of ``y ~ x + (x | group)`` (or ``(1 | group) +
        (0 + x | group)``, ``(x || group)``, ``(0 + x | group)``); no other
        covariates, since then a group's prediction is not one line in ``x``.
    data : DataFrame
        Data with the response, ``x`` and the group column, usually the
        data the model was fitted to; incomplete rows are dropped. Group
        ids match the model's by their text.
    x : str, optional
        The slope variable; default the model's one random slope. Given,
        the model must have a random slope on it.
    group : str, optional
        The grouping column; default (and the only choice) the model's.

    Returns
    -------
    DataFrame
        ``group, source, intercept, slope, n``: one row per group of the
        data (in the model's level order) and source ``"mixed model"``
        (``coef()``: fixed effect plus random effect; a term without a
        random effect takes the fixed effect), then the same for
        ``"separate regression"`` (OLS of that group's rows alone; NaN for
        a group with fewer than two distinct ``x``), then one
        ``"population"`` row (the fixed effects, ``group`` missing). ``n``
        counts the group's complete rows (all rows for the population).

    Raises
    ------
    TypeError
        If ``model`` is not an lmer fit, ``data`` not a DataFrame, or the
        response or ``x`` not numeric.
    ValueError
        For a model without a random slope (or not on ``x``), with other
        covariates, another ``group``, missing columns, or groups the model
        was not fitted to.
    """
    return _Lines(model, data, x, group, "many_regressions_coef").coefficients()


def _check_n_points(n_points: object) -> int:
    if not is_int(n_points) or n_points < 2:
        raise ValueError(f"n_points must be an int >= 2, got {n_points!r}")
    return int(n_points)


def _grid_lines(lines: _Lines, coef: pd.DataFrame, n_points: int) -> pd.DataFrame:
    n_groups = len(lines.levels)
    low = np.full(n_groups, np.inf)
    high = np.full(n_groups, -np.inf)
    np.minimum.at(low, lines.codes, lines.xs)
    np.maximum.at(high, lines.codes, lines.xs)
    steps = np.linspace(0.0, 1.0, n_points)
    group_grid = low[:, None] + (high - low)[:, None] * steps  # (groups, points)
    frames = []
    for source in (MIXED, SEPARATE):
        part = coef[coef["source"] == source]
        keep = np.isfinite(part["slope"].to_numpy())  # no separate line without a slope
        grid = group_grid[keep]
        fit = part["intercept"].to_numpy()[keep, None] + part["slope"].to_numpy()[keep, None] * grid
        frames.append(pd.DataFrame({"group": np.repeat(part["group"].to_numpy()[keep], n_points),
                                    "x": grid.ravel(), "fit": fit.ravel(), "source": source}))
    population = coef[coef["source"] == POPULATION].iloc[0]
    grid = np.linspace(lines.xs.min(), lines.xs.max(), n_points)
    frames.append(pd.DataFrame({"group": None, "x": grid,
                                "fit": population["intercept"] + population["slope"] * grid,
                                "source": POPULATION}))
    out = pd.concat(frames, ignore_index=True)
    out["group"] = out["group"].astype(object)
    return out


def many_regressions_data(model: LmerResult, data: pd.DataFrame, *, x: str | None = None,
                          group: str | None = None, n_points: int = 10) -> pd.DataFrame:
    """Each group's mixed-model line and separate-regression line, and the population line.

    Takes the arguments of :func:`many_regressions_coef` and ``n_points``,
    the number of ``x`` values per line (evenly spaced over the group's
    observed range; over all the data for the population line).

    Returns
    -------
    DataFrame
        ``group, x, fit, source``: the lines of :func:`many_regressions_coef`
        evaluated on the grid, source ``"mixed model"`` (all groups, in the
        model's level order), then ``"separate regression"`` (groups with a
        slope), then ``"population"`` (``group`` missing).

    Raises
    ------
    TypeError, ValueError
        As :func:`many_regressions_coef`; ValueError for ``n_points`` below 2.
    """
    n_points = _check_n_points(n_points)
    lines = _Lines(model, data, x, group, "many_regressions_data")
    return _grid_lines(lines, lines.coefficients(), n_points)


def _slope_sds(coef: pd.DataFrame, chosen: list[str]) -> str:
    part = coef[coef["group"].isin(chosen)]
    sd = part.groupby("source")["slope"].std()
    return f"sd of the slopes: separate regressions {sd[SEPARATE]:.3g}, mixed model {sd[MIXED]:.3g}"


def plot_many_regressions(model: LmerResult, data: pd.DataFrame, *, groups=None,
                          x: str | None = None, group: str | None = None, ax=None, **kwargs):
    """Every group's mixed-model line (solid) and separate-regression line (dashed), one Axes.

    One colour per group; the population line (fixed effects) is thick and
    black. The mixed-model lines fan out less than the separate ones: the
    shrinkage toward the population line. The title gives the sd of the
    slopes from both sources.

    Parameters
    ----------
    model, data, x, group
        As :func:`many_regressions_data`.
    groups : group id or list of ids, optional
        The groups to draw (ids match by their text); default every group of ``data``.
    ax : matplotlib Axes, optional
        Default: the current Axes (``plt.gca()``).
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.plot` for every group's line
        (both sources), overriding the defaults (``color``, ``linewidth``,
        ``linestyle``, ``alpha``).

    Returns
    -------
    matplotlib Axes
        Lines carry ``gid`` ``"mixed model"``, ``"separate regression"`` and ``"population"``.
    """
    from matplotlib.lines import Line2D

    lines = _Lines(model, data, x, group, "plot_many_regressions")
    chosen = lines.choose(groups)
    coef = lines.coefficients()
    frame = _grid_lines(lines, coef, 2)  # straight lines: two points each
    ax = axes_or_current(ax)
    for color, label in zip(palette(len(chosen)), chosen):
        rows = frame[frame["group"] == label]
        separate = rows[rows["source"] == SEPARATE]
        if len(separate):  # a group with a single distinct x has no line of its own
            ax.plot(separate["x"], separate["fit"], **with_defaults(
                dict(color=color, linewidth=1.0, linestyle="--", alpha=0.8), kwargs, SEPARATE))
        mixed = rows[rows["source"] == MIXED]
        ax.plot(mixed["x"], mixed["fit"], **with_defaults(
            dict(color=color, linewidth=2.0, alpha=0.9), kwargs, MIXED))
    population = frame[frame["source"] == POPULATION]
    ax.plot(population["x"], population["fit"], color="black", linewidth=3.0, gid=POPULATION)
    ax.legend(handles=[
        Line2D([], [], color="0.3", linewidth=2.0,
               label=f"mixed model: coef() of each {lines.group_var}"),
        Line2D([], [], color="0.3", linewidth=1.0, linestyle="--",
               label=f"separate regression of each {lines.group_var}"),
        Line2D([], [], color="black", linewidth=3.0, label="population (fixed effects)")],
        fontsize="small")
    ax.set_xlabel(lines.x)
    ax.set_ylabel(lines.response)
    ax.set_title(f"{len(chosen)} {lines.group_var}s: the mixed model pulls each line toward the "
                 f"population\n{_slope_sds(coef, chosen)}", fontsize="medium")
    return ax


def many_regressions_figure(model: LmerResult, data: pd.DataFrame, *, groups=None,
                            x: str | None = None, group: str | None = None, col_wrap: int = 6,
                            points: bool = True, fig=None, **kwargs):
    """One small panel per group: its data, its separate regression, its mixed-model line.

    The chapter's facet figure. Each panel shows the group's observations
    (``points``), its own OLS line (dashed, ``gid`` ``"separate
    regression"``), its mixed-model line (solid, ``"mixed model"``) and the
    population line (thin, dotted, ``"population"``); axes are shared, so
    the panels compare directly.

    Parameters
    ----------
    model, data, x, group
        As :func:`many_regressions_data`.
    groups : group id or list of ids, optional
        The groups (ids match by their text), one panel each in this order;
        default every group of ``data`` in the model's order, when there
        are at most :data:`MAX_PANELS` of them.
    col_wrap : int
        Panels per row.
    points : bool
        Draw the observations.
    fig : matplotlib Figure or SubFigure, optional
        Where to draw, e.g. a bare :class:`matplotlib.figure.Figure` when
        writing files; default a new pyplot figure sized for the panels.
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.plot` for both lines of every panel.

    Returns
    -------
    matplotlib Figure
        One visible Axes per group, titled with its id (``fig.axes`` may
        hold hidden ones that fill the last row).

    Raises
    ------
    TypeError, ValueError
        As :func:`many_regressions_data`; ValueError for a bad ``col_wrap``,
        unknown groups, or more than :data:`MAX_PANELS` groups by default.
    """
    check_col_wrap(col_wrap)
    if not isinstance(points, (bool, np.bool_)):
        raise TypeError(f"points must be True or False, got {points!r}")
    check_figure(fig)  # before any work
    lines = _Lines(model, data, x, group, "many_regressions_figure")
    chosen = lines.choose(groups)
    if groups is None and len(chosen) > MAX_PANELS:
        raise ValueError(f"data has {len(chosen)} groups of {lines.group_var!r}, too many for one "
                         f"panel each (at most {MAX_PANELS}); choose some, e.g. groups="
                         f"{list(chosen[:12])}")
    frame = _grid_lines(lines, lines.coefficients(), 2)
    fig, axes = facet_axes(fig, len(chosen), col_wrap, panel=(1.9, 1.8), margin=(0.8, 1.2),
                           sharex=True, sharey=True)
    for ax, label in zip(axes, chosen):
        _group_panel(ax, lines, frame, label, points, kwargs)
    ncols = min(int(col_wrap), len(chosen))
    for index, ax in enumerate(axes):
        # Labels on the outer panels only: the bottom one of each column, the first of each row.
        if index + ncols >= len(chosen):
            ax.set_xlabel(lines.x)
            ax.xaxis.set_tick_params(labelbottom=True)
        if index % ncols == 0:
            ax.set_ylabel(lines.response)
    _panels_legend(fig, lines.group_var, points)
    return fig


def _group_panel(ax, lines: _Lines, frame: pd.DataFrame, label: str, points: bool,
                 kwargs: dict) -> None:
    """One group's panel: its points, the population line, its two lines (styled by kwargs)."""
    if points:
        mine = lines.codes == lines.levels.get_loc(label)
        ax.scatter(lines.xs[mine], lines.ys[mine], s=10, color="0.35", alpha=0.8, gid="observed")
    population = frame[frame["source"] == POPULATION]
    ax.plot(population["x"], population["fit"], color="0.5", linewidth=1.0, linestyle=":",
            gid=POPULATION)
    rows = frame[frame["group"] == label]
    separate = rows[rows["source"] == SEPARATE]
    if len(separate):
        ax.plot(separate["x"], separate["fit"], **with_defaults(
            dict(color="C1", linewidth=1.3, linestyle="--"), kwargs, SEPARATE))
    mixed = rows[rows["source"] == MIXED]
    ax.plot(mixed["x"], mixed["fit"], **with_defaults(dict(color="C0", linewidth=1.8), kwargs,
                                                      MIXED))
    ax.set_title(f"{label}", fontsize="small")
    ax.tick_params(labelsize="small")


def _panels_legend(fig, group_var: str, points: bool) -> None:
    """One legend below the panels, for every kind of line (and the points)."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color="C0", linewidth=1.8, label="mixed model (coef)"),
               Line2D([], [], color="C1", linewidth=1.3, linestyle="--",
                      label=f"separate regression per {group_var}"),
               Line2D([], [], color="0.5", linestyle=":", label="population (fixed effects)")]
    if points:
        handles.insert(0, Line2D([], [], color="0.35", marker="o", linestyle="", markersize=4,
                                 label="observed"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles),
               fontsize="small")
