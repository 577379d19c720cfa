"""What every plot module shares: argument checks, where to draw, colours, styles.

seaborn's conventions, in one place: an axes-level function draws on ``ax``
or, without one, on the current Axes (:func:`axes_or_current`); a
figure-level function fills ``fig`` or a new pyplot figure
(:func:`figure_or_new`); the user's ``**kwargs`` override a call's defaults
(:func:`with_defaults`). matplotlib and seaborn are imported inside the
functions, so ``import simlab.plots`` stays cheap.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from simlab._checks import is_int, name_list


def check_frame(data: object, what: str = "data") -> None:
    """Raise a TypeError unless ``data`` is a DataFrame."""
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(data).__name__}")


def require_columns(data: pd.DataFrame, columns: Sequence[str], what: str = "data") -> None:
    """Raise a ValueError naming the ``columns`` missing from ``data`` and listing its columns."""
    missing = [c for c in dict.fromkeys(columns) if c not in data.columns]
    if missing:
        raise ValueError(f"column(s) {missing} not found in {what}; available columns: "
                         f"{name_list(map(str, data.columns))}")


def require_numeric(data: pd.DataFrame, columns: Sequence[str], what: str = "data") -> None:
    """Raise a TypeError for a column of ``data`` that is not numeric (booleans are not)."""
    for column in columns:
        values = data[column]
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            raise TypeError(f"column {column!r} of {what} must be numeric to be plotted, but has "
                            f"dtype {values.dtype}")


def require_given(caller: str, hint: str = "", **names: object) -> None:
    """Raise a TypeError naming each of ``names`` that is None: a column the user must give.

    No plot guesses a column from a tutorial's names; ``hint`` says where else
    the columns can come from (e.g. ``"or pass fit="``).
    """
    missing = [name for name, value in names.items() if value is None]
    if missing:
        given = ", ".join(f"{name}=" for name in missing)
        raise TypeError(f"{caller} needs the column name(s) {given} (no default){hint}")


def axes_or_current(ax):
    """``ax``, or the current Axes (``plt.gca()``) as seaborn's axes-level functions do.

    Raises
    ------
    TypeError
        If ``ax`` is not one matplotlib Axes (e.g. an array of them).
    """
    from matplotlib.axes import Axes

    if ax is None:
        import matplotlib.pyplot as plt

        return plt.gca()
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be one matplotlib Axes, got {type(ax).__name__}; "
                        "several panels are drawn by the *_figure functions")
    return ax


def check_figure(fig) -> None:
    """Raise a TypeError unless ``fig`` is None, a matplotlib Figure or a SubFigure."""
    from matplotlib.figure import FigureBase

    if fig is not None and not isinstance(fig, FigureBase):
        raise TypeError(f"fig must be a matplotlib Figure (or SubFigure), got {type(fig).__name__}")


def figure_or_new(fig, figsize: tuple[float, float]):
    """``fig`` (checked by :func:`check_figure`), or a new pyplot figure of ``figsize``."""
    check_figure(fig)
    if fig is None:
        import matplotlib.pyplot as plt

        return plt.figure(figsize=figsize, layout="constrained")
    return fig


def check_col_wrap(col_wrap: object) -> int:
    """``col_wrap`` as an int; a ValueError unless it is a positive int."""
    if not is_int(col_wrap) or col_wrap < 1:
        raise ValueError(f"col_wrap must be a positive int, got {col_wrap!r}")
    return int(col_wrap)


def facet_axes(fig, n_panels: int, col_wrap: int, panel: tuple[float, float],
               margin: tuple[float, float] = (0.0, 0.0), **subplot_kw):
    """``n_panels`` Axes in rows of ``col_wrap``, as seaborn's ``FacetGrid(col_wrap=)`` lays them.

    Parameters
    ----------
    fig : matplotlib Figure or SubFigure, or None
        Where to draw; None makes a new pyplot figure of ``panel`` (width,
        height) per panel plus ``margin``.
    n_panels, col_wrap : int
    **subplot_kw
        Passed to :meth:`matplotlib.figure.Figure.subplots` (``sharex``, ``sharey``).

    Returns
    -------
    (Figure, ndarray of Axes)
        The figure and its first ``n_panels`` Axes; the rest of the last row is hidden.
    """
    ncols = min(check_col_wrap(col_wrap), n_panels)
    nrows = math.ceil(n_panels / ncols)
    fig = figure_or_new(fig, (panel[0] * ncols + margin[0], panel[1] * nrows + margin[1]))
    axes = fig.subplots(nrows, ncols, squeeze=False, **subplot_kw).ravel()
    for extra in axes[n_panels:]:
        extra.set_visible(False)
    return fig, axes[:n_panels]


def with_defaults(defaults: dict, kwargs: dict, gid: str | None = None) -> dict:
    """The call's ``defaults`` overridden by the user's ``kwargs``; ``gid`` tags the artist."""
    options = {**defaults, **kwargs}
    if gid is not None:
        options["gid"] = gid  # tests and figures find artists by gid; the user cannot unset it
    return options


def palette(n: int) -> list:
    """``n`` colours: tab10 up to 10 (neighbouring groups clearly apart), else husl."""
    import seaborn as sns

    return sns.color_palette("tab10" if n <= 10 else "husl", n_colors=max(n, 1))


def level_codes(levels: pd.Index, labels) -> np.ndarray:
    """Positions of ``labels`` in ``levels``, -1 where absent; labels also match by text.

    A group ``308`` is found as ``"308"`` too, as in the model's ``predict``.
    """
    labels = pd.Index(labels)
    codes = np.asarray(levels.get_indexer(labels))
    unmatched = codes < 0
    if unmatched.any():
        as_text = pd.Index(levels.astype(str))
        codes[unmatched] = as_text.get_indexer(labels[unmatched].astype(str))
    return codes
