"""One vocabulary: the names every table and option of simlab shares.

Everything that writes or reads an interval column, a simulation count, a
confidence level or a random-effects table's key columns imports its name from
here, so one convention holds across ``fixef``, ``ranef``, ``coef``,
``confint``, ``predict_interval``, sweeps and power analysis.
"""
from __future__ import annotations

__all__ = ["LOWER", "UPPER", "interval_columns", "NSIM", "LEVEL", "DEFAULT_LEVEL",
           "RE_KEYS", "INTERVAL_METHODS"]

#: The bounds of a two-sided interval. The level is an option of the call that made the
#: table (``level=``), never part of a column's name.
LOWER, UPPER = "lower", "upper"

#: The interval methods a table may carry side by side (sweeps); each adds its own pair
#: of bounds, ``lower_<method>`` and ``upper_<method>``.
INTERVAL_METHODS = ("wald", "profile", "boot")

#: The number of simulations, as an option and as a column.
NSIM = "nsim"

#: The confidence level, as an option and as a column; 0.95 unless the user says otherwise.
LEVEL = "level"
DEFAULT_LEVEL = 0.95

#: The key columns of every random-effects table (mixedup's names): the grouping factor,
#: the effect (``Intercept`` or a slope's term) and the group's level.
RE_KEYS = ("group_var", "effect", "group")


def interval_columns(method: str | None = None) -> tuple[str, str]:
    """The names of an interval's bounds.

    Parameters
    ----------
    method : str, optional
        One of :data:`INTERVAL_METHODS`, for a table that carries several methods
        side by side; omitted for a table with one interval.

    Returns
    -------
    tuple of str
        ``("lower", "upper")``, or ``("lower_<method>", "upper_<method>")``.
    """
    if method is None:
        return LOWER, UPPER
    if method not in INTERVAL_METHODS:
        raise ValueError(f"interval method must be one of {', '.join(INTERVAL_METHODS)}; "
                         f"got {method!r}")
    return f"{LOWER}_{method}", f"{UPPER}_{method}"
