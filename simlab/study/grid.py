"""The full-factorial grid of a simulation sweep.

A grid maps :func:`simlab.simulate` parameters to the levels to cross, for
example ``{"n_groups": [50, 100], "n_per_group": [3, 10], "tau": [.5],
"sigma": [.25]}``; ``tau_slope`` (and ``rho``) add random slopes, so those
cells are analysed with ``y ~ x + (1 + x | group)``. Cells are numbered ``0 .. n_cells - 1`` in
:func:`itertools.product` order over the keys taken in ``simulate``'s
signature order (so the order of the dict does not matter); the cell number
is part of every replicate's seed.

This module only checks and expands grids; it simulates and fits nothing.
"""
from __future__ import annotations

import inspect
import itertools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np

from simlab._checks import is_int
from simlab.model.parameters import parameter_names
from simlab.simulate import Settings, check_settings, simulate

__all__ = ["Cell", "Grid", "GRID_KEYS", "GROUP", "check_results_memory", "make_grid"]

_SIGNATURE = inspect.signature(simulate).parameters
#: The simulate parameters a grid may vary (the sweep sets the stream and its seed itself).
GRID_KEYS = tuple(name for name in _SIGNATURE if name not in ("stream", "seed", "rng"))
_REQUIRED = ("n_groups", "n_per_group")
#: The grouping column of simulated data, as it appears in the parameter names.
GROUP = "group"


@dataclass(frozen=True)
class Cell:
    """One combination of grid levels.

    Attributes
    ----------
    index : int
        Cell number, part of each replicate's seed.
    params : dict
        Keyword arguments for :func:`simlab.simulate` (without ``seed``).
    parameters : tuple of str
        Names of the estimated parameters in lme4's ``confint`` order
        (:func:`simlab.model.parameters.parameter_names`):
        ``sd_(Intercept)|group``, with random slopes
        ``cor_x.(Intercept)|group`` and ``sd_x|group``, then ``sigma`` and
        the fixed effects ``(Intercept)``, ``x`` (and ``z``).
    truth : tuple of float
        True value of each parameter, in the same order: ``tau``, ``rho``
        (NaN when ``tau`` or ``tau_slope`` is 0: no correlation is defined),
        ``tau_slope``, ``sigma``, ``intercept``, ``slope``, ``cluster_effect``.
    labels : dict
        The value of every grid column for this cell, as stored in results.
    fixed_terms, random_terms : tuple of str
        R's names of the fixed-effect columns and of the random effects per
        group: ``("(Intercept)",)``, or ``("(Intercept)", "x")`` for a cell
        with ``tau_slope``.
    """

    index: int
    params: dict
    parameters: tuple[str, ...]
    truth: tuple[float, ...]
    labels: dict
    fixed_terms: tuple[str, ...] = ("(Intercept)", "x")
    random_terms: tuple[str, ...] = ("(Intercept)",)

    @property
    def random_slope(self) -> bool:
        """Whether the cell simulates (and fits) a random slope for ``x``."""
        return len(self.random_terms) > 1


@dataclass(frozen=True)
class Grid:
    """A checked full-factorial grid.

    Attributes
    ----------
    levels : dict of str to tuple
        The levels of each key, keys in ``simulate``'s signature order.
    cells : tuple of Cell
        Every combination, in cell order.
    dtypes : dict of str to str
        Column dtype of each grid key in the results: ``int64`` or
        ``float64`` for numeric levels (None becomes NaN), else ``object``
        holding each level's text, e.g. ``"(2, 5)"`` for a size range.
    """

    levels: dict
    cells: tuple
    dtypes: dict

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.levels)

    def encoded(self) -> dict:
        """JSON form of the levels, as recorded in a store's manifest.

        A ``(min, max)`` size range becomes ``{"range": [min, max]}`` so it
        stays distinct from a list of per-group sizes.
        """
        encoded = {key: [_encode(level) for level in levels]
                   for key, levels in self.levels.items()}
        return json.loads(json.dumps(encoded))


def make_grid(spec: Mapping) -> Grid:
    """Check a grid specification and expand it into cells.

    Parameters
    ----------
    spec : mapping
        ``simulate`` parameter name -> list of levels. A scalar is one level.
        A tuple is a list of levels, except for ``n_per_group``, where a
        tuple ``(min, max)`` is one level: group sizes drawn from that range.
        ``n_groups`` and ``n_per_group`` are required, and every cell needs
        ``tau`` and ``sigma`` or ``icc`` and ``total_var``; ``tau_slope``
        (None for no random slope) and ``rho`` are optional.

    Returns
    -------
    Grid

    Raises
    ------
    TypeError, ValueError
        For a non-mapping spec, an unknown key (the message lists the valid
        ones), an empty list of levels, or a cell that ``simulate`` would
        reject (the message names the cell).
    """
    if not isinstance(spec, Mapping):
        raise TypeError(f"grid must be a dict of simulate parameters to lists of levels, "
                        f"got {type(spec).__name__}.")
    unknown = [key for key in spec if key not in GRID_KEYS]
    if unknown:
        raise ValueError(f"unknown grid key(s) {unknown}; valid keys are {list(GRID_KEYS)} "
                         "(the sweep sets seed itself).")
    missing = [key for key in _REQUIRED if key not in spec]
    if missing:
        raise ValueError(f"the grid needs {missing}: simulate has no default for them.")
    levels = {key: _levels(key, spec[key]) for key in GRID_KEYS if key in spec}
    dtypes = {key: _dtype(values) for key, values in levels.items()}
    combos = itertools.product(*levels.values())
    cells = tuple(_cell(i, dict(zip(levels, combo)), dtypes) for i, combo in enumerate(combos))
    return Grid(levels=levels, cells=cells, dtypes=dtypes)


def _levels(key: str, value: Any) -> tuple:
    """The levels of one key as a tuple of plain Python values."""
    if isinstance(value, (list, range, np.ndarray)) or (
            isinstance(value, tuple) and key != "n_per_group"):
        levels = tuple(_plain(v) for v in value)
    else:
        levels = (_plain(value),)
    if not levels:
        raise ValueError(f"grid[{key!r}] is empty; give at least one level.")
    return levels


def _plain(value: Any) -> Any:
    """numpy scalars and arrays as Python numbers and lists (tuples kept)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _encode(level: Any) -> Any:
    if isinstance(level, tuple):
        return {"range": list(level)}
    return level


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _dtype(levels: tuple) -> str:
    if all(is_int(v) for v in levels):
        return "int64"
    if all(v is None or _is_number(v) for v in levels):
        return "float64"
    return "object"


def _label(value: Any, dtype: str) -> Any:
    if dtype == "float64":
        return np.nan if value is None else float(value)
    return int(value) if dtype == "int64" else str(value)


def _cell(index: int, params: dict, dtypes: dict) -> Cell:
    """Check one combination and work out its parameters and true values."""
    try:
        settings = _check_params(params)
    except (TypeError, ValueError) as err:
        raise type(err)(f"grid cell {index} {params}: {err}") from None
    fixed = {"(Intercept)": settings.intercept, "x": settings.slope}
    if settings.cluster_effect is not None:
        fixed["z"] = settings.cluster_effect
    variances = [settings.tau]
    random_terms = ("(Intercept)",)
    if settings.tau_slope is not None:
        random_terms = ("(Intercept)", "x")
        defined = settings.tau > 0 and settings.tau_slope > 0
        variances += [settings.rho if defined else np.nan, settings.tau_slope]
    names = tuple(parameter_names(list(fixed), random_terms, GROUP))
    truth = tuple(float(v) for v in (*variances, settings.sigma, *fixed.values()))
    labels = {key: _label(value, dtypes[key]) for key, value in params.items()}
    return Cell(index=index, params=params, parameters=names, truth=truth, labels=labels,
                fixed_terms=tuple(fixed), random_terms=random_terms)


#: Bytes one simulated row takes while a replicate is simulated and summed (a generous bound).
BYTES_PER_ROW = 64
#: Bytes one row of a sweep's results takes in memory: about 16 columns of 8 bytes, with
#: room for the copies made while the table is concatenated and sorted (a generous bound).
BYTES_PER_RESULT_ROW = 256


def _check_params(params: dict) -> Settings:
    """Run simulate's own checks on one cell; return its checked settings."""
    settings = check_settings(**params)
    if settings.largest_group < 2:
        raise ValueError("every group would have a single observation, so tau and sigma "
                         "cannot be told apart; use n_per_group >= 2.")
    if settings.tau_slope is not None and settings.largest_group < 3:
        raise ValueError("a random intercept and slope need groups of at least 3 "
                         "observations (with 2 per group each group's line fits its rows "
                         "exactly, leaving no residual to estimate sigma); use "
                         "n_per_group >= 3.")
    _check_memory(settings.max_rows, params)
    return settings


def _machine_memory() -> int | None:
    """This machine's physical memory in bytes, or None where the platform does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _gib(size: float) -> str:
    return f"{size / 2 ** 30:,.1f} GiB"


def _check_memory(rows: int, params: dict) -> None:
    """Refuse a cell whose one replicate could not fit in this machine's memory."""
    total = _machine_memory()
    need = rows * BYTES_PER_ROW
    if total is not None and need > total:
        shown = {k: params[k] for k in ("n_groups", "n_per_group") if k in params}
        raise ValueError(f"the cell {shown} has {rows:,} rows per replicate and needs about "
                         f"{_gib(need)} to simulate one, more than this machine's "
                         f"{_gib(total)}; use fewer or smaller groups")


def check_results_memory(grid: Grid, nsim: int) -> None:
    """Refuse a sweep whose table of results could not fit in this machine's memory.

    A sweep returns one row per cell x replicate x parameter, so its size is
    known before any work: it is estimated here, never allocated.

    Parameters
    ----------
    grid : Grid
    nsim : int
        Replicates (simulations) per cell.

    Raises
    ------
    ValueError
        If the results would need more than this machine's physical memory.
    """
    total = _machine_memory()
    rows = nsim * sum(len(cell.parameters) for cell in grid.cells)
    need = rows * BYTES_PER_RESULT_ROW
    if total is not None and need > total:
        raise ValueError(f"nsim = {nsim:,} over {len(grid.cells):,} grid cell(s) gives "
                         f"{rows:,} result rows, which need about {_gib(need)}, more than "
                         f"this machine's {_gib(total)}; use a smaller nsim or fewer cells")
