"""Teaching figures of mixed models: trajectories, caterpillars, predictions.

As in seaborn, every figure has a pure function that computes its numbers
as tidy DataFrames (``*_data``) and a thin axes-level drawing function
(``plot_*``) that takes the data or the model first and keyword-only
options, draws on ``ax`` (default: the current Axes, ``plt.gca()``),
passes ``**kwargs`` on to its main matplotlib or seaborn call and returns
that one Axes. Scripts that write files pass an Axes of a
:class:`matplotlib.figure.Figure` (as :func:`simlab.figures.write_figures`
does). The one random choice (which groups :func:`plot_trajectories`
highlights) takes an explicit ``seed``.

No figure assumes a data set's column names: the columns come from the
fitted model's formula (its response, covariates and grouping column) or
must be given.

Figures that show one random term (:func:`plot_caterpillar`,
:func:`plot_re_density`, :func:`plot_re_sim`) show the first one unless told
otherwise (``effect=``); for a random-intercept model that is the only
one, ``(Intercept)``. :func:`caterpillar_figure` (figure-level: ``fig=None``
makes a new figure, and it returns the Figure) draws one caterpillar panel
per random term of a random-slope model. The random-slope figures comparing
each group's line with a separate regression are in :mod:`simlab.plots.slopes`.
"""
from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np
import pandas as pd

from simlab._checks import is_int
from simlab._vocabulary import DEFAULT_LEVEL, LOWER, RE_KEYS, UPPER
from simlab.model.ddf import normal_quantile
from simlab.model.design import fixed_variables
from simlab.model.formula import parse_formula
from simlab.model.posterior import RE_SIM_COLUMNS as _re_sim_columns
from simlab.model.result import LmerResult, require_lmer

from ._common import (axes_or_current, check_figure, check_frame, figure_or_new, level_codes,
                      palette, require_columns, require_given, require_numeric, with_defaults)

__all__ = ["Z_RE_SIM", "RE_SIM_COLUMNS", "TrajectoryData",
           "trajectory_data", "plot_trajectories",
           "caterpillar_data", "plot_caterpillar", "caterpillar_figure",
           "prediction_data", "plot_predictions",
           "re_density_data", "plot_re_density",
           "scatter_data", "plot_scatter",
           "re_sim_plot_data", "plot_re_sim"]

#: merTools' plotREsim draws median +- this many sds: the 97.5% normal quantile (1.96).
Z_RE_SIM = normal_quantile(0.95)
#: Columns of simulated random effects that :func:`re_sim_plot_data` needs: all of ``re_sim``'s.
RE_SIM_COLUMNS = tuple(_re_sim_columns)
#: Up to this many groups, the caterpillar's x axis names each group.
_MAX_NAMED_TICKS = 30
#: Up to this many hue levels, :func:`plot_scatter` draws a legend.
_MAX_LEGEND_LEVELS = 10


# ----- 1. trajectories ------------------------------------------------------------
class TrajectoryData(NamedTuple):
    """The numbers behind :func:`plot_trajectories`.

    Attributes
    ----------
    paths : DataFrame
        One row per observation, columns ``group, x, y, highlighted``, sorted
        by group (in the data's level order) and then by ``x``.
    trend : DataFrame
        The overall line, columns ``x, y``, at each distinct observed ``x``.
    """

    paths: pd.DataFrame
    trend: pd.DataFrame


def _group_levels(column: pd.Series) -> pd.Index:
    """Group labels in R's factor order: Categorical order, else sorted values."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return pd.Index(column.cat.remove_unused_categories().cat.categories)
    levels = pd.Index(pd.unique(column))
    try:
        return levels.sort_values()
    except TypeError:  # mixed label types cannot be sorted; keep first appearance
        return levels


def _highlighted(levels: pd.Index, n_highlight: object, seed) -> pd.Index:
    if not is_int(n_highlight):
        raise TypeError(f"n_highlight must be an int, got {n_highlight!r}")
    if not 0 <= n_highlight <= len(levels):
        raise ValueError(f"n_highlight must be between 0 and the number of groups "
                         f"({len(levels)}), got {n_highlight}")
    picks = np.random.default_rng(seed).choice(len(levels), size=int(n_highlight), replace=False)
    return levels[np.sort(picks)]


def _trajectory_columns(fit, x, y, group) -> tuple[str, str, str]:
    """``x``, ``y`` and ``group`` as given, else from ``fit``'s formula; required without a fit."""
    if fit is None:
        require_given("trajectory_data", "; or pass fit=, a fit of 'y ~ x + (1 | group)'",
                      x=x, y=y, group=group)
        return x, y, group
    require_lmer(fit, "trajectory_data(fit=...)")
    formula = parse_formula(fit.formula)
    if y is not None and y != formula.response:
        raise ValueError(f"fit models {formula.response!r} but y is {y!r}; pass a fit of {y!r}")
    if group is not None and group != fit.group_name:
        raise ValueError(f"fit's groups are {fit.group_name!r} but group is {group!r}")
    covariates = fixed_variables(formula)
    if x is None:
        if len(covariates) != 1:
            raise ValueError(f"the fit {fit.formula!r} has the fixed-effect covariates "
                             f"{covariates}, not one; pass x=, the column for the time axis")
        x = covariates[0]
    others = [v for v in covariates if v != x]
    if others:
        # A population line against x alone is undefined when other covariates move it.
        raise ValueError(f"the trend is drawn against {x!r} alone, but fit also uses {others}; "
                         f"pass a fit of '{formula.response} ~ {x} + (1 | {fit.group_name})', "
                         "or fit=None for an OLS line")
    return x, formula.response, fit.group_name


def _population_line(rows: pd.DataFrame, fit, x: str) -> pd.DataFrame:
    grid = np.unique(rows["x"].to_numpy())
    if fit is None:
        if len(grid) < 2:
            raise ValueError(f"an OLS trend needs at least two distinct values of {x!r}")
        slope, intercept = np.polyfit(rows["x"].to_numpy(float), rows["y"].to_numpy(float), 1)
        return pd.DataFrame({"x": grid, "y": intercept + slope * grid})
    line = fit.predict(pd.DataFrame({x: grid}), random_effects=False)
    return pd.DataFrame({"x": grid, "y": np.asarray(line, dtype=float)})


def trajectory_data(data: pd.DataFrame, *, x: str | None = None, y: str | None = None,
                    group: str | None = None, fit: LmerResult | None = None,
                    n_highlight: int = 10, seed=None) -> TrajectoryData:
    """Each group's path of ``y`` over ``x``, a random few highlighted, and the overall line.

    Parameters
    ----------
    data : DataFrame
        Long data, one row per observation; rows missing ``x``, ``y`` or
        ``group`` are dropped.
    x, y, group : str, optional
        Columns: the time axis, the outcome and the group (e.g. the
        student). Default: the fit's covariate, response and grouping
        column; without ``fit`` all three are required.
    fit : LmerResult, optional
        A fit of ``y ~ x + (1 | group)``; the trend is its population line
        (``fit.predict(..., random_effects=False)``). By default the trend is
        the OLS line through all observations.
    n_highlight : int
        How many groups to highlight, chosen without replacement by
        ``numpy.random.default_rng(seed)``; between 0 and the number of groups.
    seed : None, int, SeedSequence or Generator

    Returns
    -------
    TrajectoryData
        ``paths`` (``group, x, y, highlighted``) and ``trend`` (``x, y``).

    Raises
    ------
    TypeError
        If ``data`` is not a DataFrame, a column is neither given nor
        read from ``fit``, ``x``/``y`` are not numeric, ``fit`` is not an
        :class:`LmerResult` or ``n_highlight`` is not an int.
    ValueError
        For missing columns, an ``n_highlight`` out of range, or a ``fit``
        of another response or group, with covariates besides ``x``, or
        (without ``x``) not exactly one covariate.
    """
    check_frame(data)
    x, y, group = _trajectory_columns(fit, x, y, group)
    if len({x, y, group}) < 3:
        raise ValueError(f"x, y and group must be three different columns, got {x!r}, {y!r}, "
                         f"{group!r}")
    require_columns(data, [group, x, y])
    require_numeric(data, [x, y])
    frame = data[[group, x, y]].dropna()
    paths = pd.DataFrame({"group": frame[group], "x": frame[x], "y": frame[y]})
    paths = paths.reset_index(drop=True)
    levels = _group_levels(paths["group"])
    paths["highlighted"] = paths["group"].isin(_highlighted(levels, n_highlight, seed))
    order = np.lexsort((paths["x"].to_numpy(), levels.get_indexer(paths["group"])))
    paths = paths.iloc[order].reset_index(drop=True)
    return TrajectoryData(paths, _population_line(paths, fit, x))


def plot_trajectories(data: pd.DataFrame, *, x: str | None = None, y: str | None = None,
                      group: str | None = None, fit: LmerResult | None = None,
                      n_highlight: int = 10, seed=None, ax=None, **kwargs):
    """Spaghetti plot: every group's path faded, ``n_highlight`` of them bold, the trend red.

    Parameters
    ----------
    data, x, y, group, fit, n_highlight, seed
        As :func:`trajectory_data`.
    ax : matplotlib Axes, optional
        Default: the current Axes (``plt.gca()``).
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.plot` for every group's path
        (faded and bold), overriding the defaults (``color``,
        ``linewidth``, ``alpha``).

    Returns
    -------
    matplotlib Axes
        Lines carry ``gid`` ``"path"`` (faded), ``"highlight"`` (bold) and ``"trend"``.
    """
    from matplotlib.lines import Line2D

    paths, trend = trajectory_data(data, x=x, y=y, group=group, fit=fit,
                                   n_highlight=n_highlight, seed=seed)
    x, y, group = _trajectory_columns(fit, x, y, group)
    ax = axes_or_current(ax)
    for _, rows in paths[~paths["highlighted"]].groupby("group", sort=False, observed=True):
        ax.plot(rows["x"], rows["y"], **with_defaults(
            dict(color="grey", linewidth=0.6, alpha=0.3), kwargs, "path"))
    bold = paths[paths["highlighted"]].groupby("group", sort=False, observed=True)
    for color, (_, rows) in zip(palette(bold.ngroups), bold):
        ax.plot(rows["x"], rows["y"], **with_defaults(
            dict(color=color, linewidth=2.2, alpha=0.9), kwargs, "highlight"))
    source = "lmer population line (fixed effects)" if fit is not None else "OLS line"
    ax.plot(trend["x"], trend["y"], color="red", linewidth=3, gid="trend")
    n_groups = paths["group"].nunique()
    # Proxy handles: one legend entry per kind of line, not one per group.
    ax.legend(handles=[Line2D([], [], color="grey", alpha=0.5, linewidth=1, label=f"one {group}"),
                       Line2D([], [], color="C0", linewidth=2.2,
                              label=f"{bold.ngroups} randomly chosen (bold)"),
                       Line2D([], [], color="red", linewidth=3, label=source)],
              fontsize="small")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(f"{y} over {x}: one line per {group} ({n_groups} in all)")
    return ax


# ----- 2. caterpillar -------------------------------------------------------------
def _sorted_intervals(frame: pd.DataFrame, by: list[str], value: str) -> pd.DataFrame:
    """Sort by ``value`` within each ``by`` block (blocks keep their order), rank from 1
    and flag the ``lower``-``upper`` intervals that lie wholly on one side of 0."""
    block = frame.groupby(by, sort=False).ngroup()
    out = (frame.assign(_block=block.to_numpy())
           .sort_values(["_block", value], kind="stable").drop(columns="_block")
           .reset_index(drop=True))
    out["rank"] = out.groupby(by, sort=False).cumcount() + 1
    out["excludes_zero"] = (out[LOWER] > 0) | (out[UPPER] < 0)
    return out


def caterpillar_data(model: LmerResult, *, level: float = DEFAULT_LEVEL,
                     order_by: str | None = None) -> pd.DataFrame:
    """The random effects sorted by estimate, with intervals, for :func:`plot_caterpillar`.

    Parameters
    ----------
    model : LmerResult
    level : float
        Confidence level of the intervals.
    order_by : str, optional
        A random term (e.g. ``"(Intercept)"``): every effect's groups are
        ranked by that term's estimates, so a group has the same ``rank``
        in every effect. By default each effect is sorted by its own values.

    Returns
    -------
    DataFrame
        ``group_var, effect, group, value, se, lower, upper, rank,
        excludes_zero``: :meth:`LmerResult.ranef` at ``level`` (value +- z
        se), sorted by ``value`` within each effect (or by the ``order_by``
        term's value), ``rank`` counting from 1 and ``excludes_zero`` true
        where the interval lies wholly on one side of 0.

    Raises
    ------
    TypeError
        If ``model`` is not a fit of :func:`simlab.lmer`, or ``order_by`` not a string.
    ValueError
        If ``level`` is not strictly between 0 and 1, or ``order_by`` is not a random term.
    """
    require_lmer(model, "caterpillar_data")
    table = model.ranef(level=level)
    keys = [RE_KEYS[0], RE_KEYS[1]]  # one block per grouping factor and effect
    if order_by is None:
        return _sorted_intervals(table, keys, "value")
    if not isinstance(order_by, str):
        raise TypeError(f"order_by must be the name of a random term, got {order_by!r}")
    group_var, effect, group = RE_KEYS
    effects = list(pd.unique(table[effect]))
    if order_by not in effects:
        raise ValueError(f"order_by {order_by!r} is not a random term of the model; choose one "
                         f"of {effects}")
    key = table[table[effect] == order_by].set_index([group_var, group])["value"]
    position = key.rank(method="first")
    table["_key"] = position.reindex(pd.MultiIndex.from_frame(table[[group_var, group]])
                                     ).to_numpy()
    return _sorted_intervals(table, keys, "_key").drop(columns="_key")


def _one_block(data: pd.DataFrame, column: str, chosen: str | None, what: str):
    """The rows of one effect: ``chosen``, or the first one."""
    choices = list(pd.unique(data[column]))
    if not choices:
        raise ValueError(f"there are no {what}s to plot: the table is empty")
    if chosen is None:
        chosen = choices[0]
    elif chosen not in choices:
        raise ValueError(f"{what} {chosen!r} is not in the table; choose one of {choices}")
    return data[data[column] == chosen], chosen


def _draw_intervals(ax, rows: pd.DataFrame, center: str, kwargs: dict) -> None:
    """Points at ``center`` (styled by ``kwargs``) with vertical interval segments; bold
    where 0 is excluded."""
    from matplotlib.lines import Line2D

    bold = rows["excludes_zero"].to_numpy(bool)
    rank, lower, upper = (rows[c].to_numpy() for c in ("rank", LOWER, UPPER))
    # Thinner segments for many groups, so that 200 bold bars do not merge into a block.
    scale = min(1.0, 40 / max(len(rows), 1))
    bold_width, thin_width = max(0.8, 2.2 * scale), max(0.4, 0.9 * scale)
    ax.vlines(rank[~bold], lower[~bold], upper[~bold], color="0.65", linewidth=thin_width,
              gid="interval")
    ax.vlines(rank[bold], lower[bold], upper[bold], color="black", linewidth=bold_width,
              gid="interval_excludes_zero")
    ax.plot(rank, rows[center].to_numpy(), **with_defaults(
        dict(linestyle="none", marker="o", color="C0", markersize=max(1.5, 4 * scale)),
        kwargs, "estimate"))
    ax.axhline(0, color="red", linestyle="--", linewidth=1, gid="zero")
    if len(rows) <= _MAX_NAMED_TICKS:
        ax.set_xticks(rank, rows[RE_KEYS[2]].astype(str), rotation=90, fontsize="small")
    # Sorted ascending, the upper left corner is the emptiest.
    ax.legend(handles=[Line2D([], [], color="black", linewidth=2.2, label="interval excludes 0"),
                       Line2D([], [], color="0.65", linewidth=0.9, label="interval includes 0")],
              loc="upper left", fontsize="small")


def plot_caterpillar(model: LmerResult, *, level: float = DEFAULT_LEVEL,
                     effect: str | None = None, ax=None, **kwargs):
    """Caterpillar plot: each group's random effect with its interval, sorted.

    Intervals that exclude 0 are drawn bold and black (``gid``
    ``"interval_excludes_zero"``), the others thin and grey (``"interval"``);
    a dashed line marks 0.

    Parameters
    ----------
    model, level
        As :func:`caterpillar_data`.
    effect : str, optional
        The random term; default the first, ``(Intercept)`` in a random-intercept model.
    ax : matplotlib Axes, optional
        Default: the current Axes (``plt.gca()``).
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.plot` for the estimates
        (``gid`` ``"estimate"``), overriding the defaults (``color``,
        ``marker``, ``markersize``).

    Returns
    -------
    matplotlib Axes
    """
    data = caterpillar_data(model, level=level)
    rows, effect = _one_block(data, RE_KEYS[1], effect, "effect")
    ax = axes_or_current(ax)
    _draw_intervals(ax, rows, "value", kwargs)
    group_var = model.group_name
    ax.set_xlabel(f"{group_var}, ranked by estimated random effect")
    ax.set_ylabel(f"random effect {effect} ({100 * level:g}% interval)")
    ax.set_title(f"Caterpillar plot: {effect} deviation of each of the {len(rows)} {group_var}s")
    return ax


def caterpillar_figure(model: LmerResult, *, level: float = DEFAULT_LEVEL,
                       order_by: str | None = None, fig=None, **kwargs):
    """Caterpillar plot with one panel per random term (e.g. ``(Intercept)`` and ``Days``).

    Each panel is :func:`plot_caterpillar` of one term, stacked top to
    bottom in the model's order: groups sorted by their estimate within
    the panel or, with ``order_by`` (a term name), ranked by that term in
    every panel, so a group sits at the same place in each (the x axes are
    then shared). Intervals that exclude 0 are bold, as in
    :func:`plot_caterpillar`.

    Parameters
    ----------
    model : LmerResult
    level : float
        Confidence level of the intervals.
    order_by : str, optional
        The random term that orders the groups of every panel.
    fig : matplotlib Figure or SubFigure, optional
        Where to draw, e.g. a bare :class:`matplotlib.figure.Figure` when
        writing files; default a new pyplot figure.
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.plot` for the estimates of every panel.

    Returns
    -------
    matplotlib Figure
        One Axes per random term, titled with the term.

    Raises
    ------
    TypeError, ValueError
        As :func:`caterpillar_data`; TypeError if ``fig`` is not a Figure.
    """
    check_figure(fig)  # before any work
    data = caterpillar_data(model, level=level, order_by=order_by)
    group_var, effect_key, _ = RE_KEYS
    effects = list(pd.unique(data[effect_key]))
    group_var = ", ".join(map(str, pd.unique(data[group_var])))
    n_groups = int((data[effect_key] == effects[0]).sum())
    width = max(6.5, min(16.0, 0.25 * n_groups + 2))
    fig = figure_or_new(fig, (width, 2.9 * len(effects) + 0.6))
    axes = fig.subplots(len(effects), 1, sharex=order_by is not None, squeeze=False)[:, 0]
    for index, (ax, effect) in enumerate(zip(axes, effects)):
        _draw_intervals(ax, data[data[effect_key] == effect], "value", kwargs)
        if index > 0:
            ax.get_legend().remove()  # one legend says it for every panel
        if order_by is not None and index < len(effects) - 1:
            ax.tick_params(labelbottom=False)
        ax.set_ylabel(f"{effect}\n({100 * level:g}% interval)")
        ax.set_title(f"{effect}: deviation of each {group_var}", fontsize="medium")
    ranked_by = (f"ranked by estimated {order_by}" if order_by is not None
                 else "ranked by the estimate in each panel")
    axes[-1].set_xlabel(f"{group_var} ({n_groups}), {ranked_by}")
    return fig


# ----- 3. predictions with and without random effects ------------------------------
def _formula_order(variables: list[str], text: str) -> list[str]:
    def position(name: str) -> int:
        found = re.search(rf"(?<![\w.]){re.escape(name)}(?![\w.])", text)
        return found.start() if found else len(text)

    return sorted(variables, key=position)


def _x_column(formula, data: pd.DataFrame, x: str | None) -> str:
    """``x``, or the first numeric fixed-effect covariate of the parsed ``formula``."""
    if x is not None:
        if not isinstance(x, str):
            raise TypeError(f"x must be a column name, got {x!r}")
        return x
    for name in _formula_order(fixed_variables(formula), formula.fixed):
        column = data[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            return name
    raise ValueError(f"the model {formula.text!r} has no numeric fixed-effect covariate to put "
                     "on the x axis; pass x='column'")


def _group_codes(levels: pd.Index, group: str, groups) -> np.ndarray:
    """Codes of the chosen groups in the model's ``levels`` (default: the first two)."""
    if groups is None:
        return np.arange(min(2, len(levels)))
    if isinstance(groups, (str, bytes)) or np.ndim(groups) == 0:
        groups = [groups]
    groups = list(groups)
    if not groups:
        raise ValueError("groups is empty; pass at least one group id")
    codes = level_codes(levels, pd.Series(groups, dtype=object))
    unknown = [g for g, code in zip(groups, codes) if code < 0]
    if unknown:
        some = list(levels[:5].astype(str))
        raise ValueError(f"unknown {group} id(s) {unknown}; valid ids include "
                         f"{some}{' ...' if len(levels) > 5 else ''} ({len(levels)} in all)")
    return np.asarray(list(dict.fromkeys(codes.tolist())))


def _prediction_rows(model, data, groups, x) -> tuple[pd.DataFrame, str]:
    require_lmer(model, "prediction_data")
    check_frame(data)
    formula, group = parse_formula(model.formula), model.group_name
    covariates = fixed_variables(formula)
    require_columns(data, [formula.response, group, *covariates])
    x = _x_column(formula, data, x)
    require_columns(data, [x])
    require_numeric(data, [x])
    levels = pd.Index(model.group_factor().cat.categories)
    wanted = _group_codes(levels, group, groups)
    rows = data[np.isin(level_codes(levels, data[group]), wanted)].dropna(
        subset=list(dict.fromkeys([formula.response, group, x, *covariates])))
    row_codes = level_codes(levels, rows[group])
    absent = sorted(set(wanted) - set(row_codes))
    if absent:
        raise ValueError(f"data has no complete rows for {group} "
                         f"{list(levels[absent].astype(str))}")
    out = pd.DataFrame({
        "group": levels[row_codes].astype(str), "x": rows[x].to_numpy(),
        "y": rows[formula.response].to_numpy(dtype=float),
        "with_random": np.asarray(model.predict(rows), dtype=float),
        "fixed_only": np.asarray(model.predict(rows, random_effects=False), dtype=float)})
    position = pd.Index(wanted).get_indexer(row_codes)
    return out.iloc[np.lexsort((out["x"].to_numpy(), position))].reset_index(drop=True), x


def prediction_data(model: LmerResult, data: pd.DataFrame, *, groups=None,
                    x: str | None = None) -> pd.DataFrame:
    """Observed values and predictions with and without random effects for a few groups.

    Parameters
    ----------
    model : LmerResult
    data : DataFrame
        Data with the model's columns (usually the data it was fitted to).
    groups : group id or list of ids, optional
        Default: the first two groups in the model's level order. Ids also
        match by their text (``"308"`` finds ``308``).
    x : str, optional
        Column for the x axis; default the first numeric fixed-effect
        covariate of the formula.

    Returns
    -------
    DataFrame
        ``group`` (label text), ``x``, ``y`` (observed), ``with_random``
        (``model.predict(rows)``) and ``fixed_only`` (``model.predict(rows,
        random_effects=False)``), in the order of ``groups``, then by ``x``.

    Raises
    ------
    TypeError
        If ``model`` is not an lmer fit, ``data`` not a DataFrame or ``x`` not numeric.
    ValueError
        For missing columns, unknown group ids (listing valid ones) or no covariate.
    """
    return _prediction_rows(model, data, groups, x)[0]


def plot_predictions(model: LmerResult, data: pd.DataFrame, *, groups=None,
                     x: str | None = None, ax=None, **kwargs):
    """Observed points, the group's own line (solid) and the population line (dashed).

    One colour per group.

    Parameters
    ----------
    model, data, groups, x
        As :func:`prediction_data`.
    ax : matplotlib Axes, optional
        Default: the current Axes (``plt.gca()``).
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.plot` for both prediction
        lines of every group, overriding the defaults (``color``,
        ``linewidth``; the dashed line keeps its own ``linestyle`` unless given).

    Returns
    -------
    matplotlib Axes
        Artists carry ``gid`` ``"observed"``, ``"with_random"`` and ``"fixed_only"``.
    """
    from matplotlib.lines import Line2D

    rows, x = _prediction_rows(model, data, groups, x)
    ax = axes_or_current(ax)
    group, response = model.group_name, model.response
    per_group = rows.groupby("group", sort=False)
    handles = []
    for color, (name, part) in zip(palette(per_group.ngroups), per_group):
        ax.scatter(part["x"], part["y"], color=color, s=18, alpha=0.8, gid="observed")
        ax.plot(part["x"], part["with_random"], **with_defaults(
            dict(color=color, linewidth=2), kwargs, "with_random"))
        ax.plot(part["x"], part["fixed_only"], **with_defaults(
            dict(color=color, linewidth=1.5, linestyle="--"), kwargs, "fixed_only"))
        handles.append(Line2D([], [], color=color, marker="o", linestyle="",
                              label=f"{group} {name}"))
    handles += [Line2D([], [], color="0.3", linewidth=2, label=f"with the {group}'s random effect"),
                Line2D([], [], color="0.3", linestyle="--", linewidth=1.5,
                       label="population (fixed effects only)")]
    ax.legend(handles=handles, fontsize="small")
    ax.set_xlabel(x)
    ax.set_ylabel(response)
    ax.set_title(f"Predicted {response}: each {group}'s own line vs the population line")
    return ax


# ----- 4. density of the random effects --------------------------------------------
def re_density_data(model: LmerResult) -> pd.DataFrame:
    """The estimated random effects (conditional modes): ``group_var, effect, group, value``."""
    require_lmer(model, "re_density_data")
    return model.ranef()[[*RE_KEYS, "value"]]


def _check_xlim(xlim) -> tuple[float, float] | None:
    if xlim is None:
        return None
    try:
        low, high = (float(v) for v in xlim)
    except (TypeError, ValueError):
        raise ValueError(f"xlim must be two numbers (low, high) or None, got {xlim!r}") from None
    if not (np.isfinite([low, high]).all() and low < high):
        raise ValueError(f"xlim must be two finite numbers with low < high, got {xlim!r}")
    return low, high


def plot_re_density(model: LmerResult, *, effect: str | None = None,
                    xlim: tuple[float, float] | None = None, ax=None, **kwargs):
    """Kernel density (seaborn ``kdeplot``) of the estimated random effects, with a rug.

    Parameters
    ----------
    model : LmerResult
    effect : str, optional
        The random term; default the first.
    xlim : (float, float), optional
        Limits of the x axis; default matplotlib's choice, which suits any
        scale (the tutorial's GPA figure uses ``(-3, 3)``).
    ax : matplotlib Axes, optional
        Default: the current Axes (``plt.gca()``).
    **kwargs
        Passed to :func:`seaborn.kdeplot`, overriding ``fill=True``.

    Returns
    -------
    matplotlib Axes
        The density and the rug carry ``gid`` ``"density"`` and ``"rug"``.
    """
    import seaborn as sns

    xlim = _check_xlim(xlim)
    rows, effect = _one_block(re_density_data(model), RE_KEYS[1], effect, "effect")
    values = rows["value"].to_numpy()
    ax = axes_or_current(ax)
    if np.ptp(values) > 0:  # a singular fit has all modes 0: there is no density to estimate
        sns.kdeplot(x=values, ax=ax, **with_defaults(dict(fill=True), kwargs, "density"))
    sns.rugplot(x=values, height=0.04, color="black", ax=ax, gid="rug")
    ax.axvline(0, color="red", linestyle="--", linewidth=1, gid="zero")
    if xlim is not None:
        ax.set_xlim(xlim)
    group_var = model.group_name
    ax.set_xlabel(f"estimated random effect {effect} of each {group_var}")
    ax.set_ylabel("density")
    ax.set_title(f"Distribution of the {len(values)} estimated {group_var} effects")
    return ax


# ----- 5. scatter -------------------------------------------------------------------
def scatter_data(data: pd.DataFrame, *, x: str | None = None, y: str | None = None,
                 hue: str | None = None) -> pd.DataFrame:
    """The columns ``x``, ``y`` (and ``hue``) of ``data`` without incomplete rows.

    Raises
    ------
    TypeError
        If ``data`` is not a DataFrame, ``x`` or ``y`` is not given, or
        they are not numeric.
    ValueError
        If a column is missing.
    """
    check_frame(data)
    require_given("scatter_data", x=x, y=y)
    columns = list(dict.fromkeys(c for c in (x, y, hue) if c is not None))
    require_columns(data, columns)
    require_numeric(data, [x, y])
    return data[columns].dropna().reset_index(drop=True)


def plot_scatter(data: pd.DataFrame, *, x: str | None = None, y: str | None = None,
                 hue: str | None = None, ax=None, **kwargs):
    """Scatter of ``y`` against ``x`` (seaborn ``scatterplot``), coloured by ``hue``.

    A legend is drawn only for up to 10 ``hue`` levels (100 simulated groups
    would bury the plot).

    Parameters
    ----------
    data, x, y, hue
        As :func:`scatter_data`; ``x`` and ``y`` are required.
    ax : matplotlib Axes, optional
        Default: the current Axes (``plt.gca()``).
    **kwargs
        Passed to :func:`seaborn.scatterplot`, overriding ``s=18, alpha=0.75``.

    Returns
    -------
    matplotlib Axes
    """
    import seaborn as sns

    rows = scatter_data(data, x=x, y=y, hue=hue)
    ax = axes_or_current(ax)
    few = hue is not None and rows[hue].nunique() <= _MAX_LEGEND_LEVELS
    sns.scatterplot(data=rows, x=x, y=y, hue=hue, ax=ax, legend="auto" if few else False,
                    **with_defaults(dict(s=18, alpha=0.75), kwargs))
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(f"{y} against {x}" + (f", coloured by {hue}" if hue is not None else ""))
    return ax


# ----- 6. simulated random effects (merTools plotREsim) -----------------------------
def re_sim_plot_data(sims: pd.DataFrame) -> pd.DataFrame:
    """Intervals of simulated random effects, as merTools' ``plotREsim`` draws them.

    Parameters
    ----------
    sims : DataFrame
        Columns ``group_var, effect, group, mean, median, sd``
        (:data:`RE_SIM_COLUMNS`), e.g. from :meth:`LmerResult.re_sim`.

    Returns
    -------
    DataFrame
        Those columns plus ``lower``/``upper`` = median -/+ 1.96 sd
        (``normal_quantile(0.95)``), sorted by median within each effect,
        ``rank`` from 1 and ``excludes_zero``.

    Raises
    ------
    TypeError
        If ``sims`` is not a DataFrame or ``mean``/``median``/``sd`` are not numeric.
    ValueError
        If a column is missing.
    """
    check_frame(sims, "sims")
    require_columns(sims, RE_SIM_COLUMNS, "sims")
    require_numeric(sims, ["mean", "median", "sd"], "sims")
    out = sims[list(RE_SIM_COLUMNS)].reset_index(drop=True)
    out[LOWER] = out["median"] - Z_RE_SIM * out["sd"]
    out[UPPER] = out["median"] + Z_RE_SIM * out["sd"]
    return _sorted_intervals(out, [RE_KEYS[0], RE_KEYS[1]], "median")


def plot_re_sim(sims: pd.DataFrame, *, effect: str | None = None, ax=None, **kwargs):
    """merTools' ``plotREsim``: each group's median simulated effect +- 1.96 sd, sorted.

    Bold black intervals exclude 0; a dashed line marks 0.

    Parameters
    ----------
    sims : DataFrame
        As :func:`re_sim_plot_data`.
    effect : str, optional
        The random term; default the first.
    ax : matplotlib Axes, optional
        Default: the current Axes (``plt.gca()``).
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.plot` for the medians (``gid`` ``"estimate"``).

    Returns
    -------
    matplotlib Axes
    """
    data = re_sim_plot_data(sims)
    rows, effect = _one_block(data, RE_KEYS[1], effect, "effect")
    ax = axes_or_current(ax)
    _draw_intervals(ax, rows, "median", kwargs)
    factor = ", ".join(map(str, pd.unique(rows[RE_KEYS[0]])))
    ax.set_xlabel(f"{factor}, ranked by median simulated effect")
    ax.set_ylabel(f"{effect}: median ± {Z_RE_SIM:.2f} sd")
    ax.set_title(f"Simulated random effects {effect} of the {len(rows)} {factor}s")
    return ax
