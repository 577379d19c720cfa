"""The settings of a sweep: checked from :func:`~simlab.study.sweep`'s arguments, or read
from the TOML file of ``simlab sweep``.

A config file holds the number of simulations per cell, the root seed,
optionally the interval methods and their level, and a ``[grid]`` table of
:func:`simlab.simulate` parameters to lists of levels::

    nsim = 1000
    seed = 1234
    ci = ["wald", "profile"]    # optional, this default
    level = 0.95                # optional, this default

    [grid]
    n_groups = [50, 100]
    n_per_group = [3, 10]
    tau = [0.25, 0.5]
    sigma = [0.25, 0.5]
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simlab._checks import check_int, check_level
from simlab._toml import read_toml
from simlab._vocabulary import DEFAULT_LEVEL, LEVEL, NSIM

from .batch import CI_METHODS
from .grid import Grid, make_grid
from .store import Manifest

__all__ = ["SweepConfig"]

#: The top-level keys of a config file; ``grid`` is a table.
_KEYS = (NSIM, "seed", "ci", LEVEL, "grid")
#: Keys of simlab 0.1's config files, and their names now.
_RENAMED = {"reps": NSIM}


def check_ci(ci: Any) -> tuple[str, ...]:
    """Interval methods as a tuple in the canonical column order (:data:`CI_METHODS`)."""
    methods = (ci,) if isinstance(ci, str) else ci
    if methods is None or not isinstance(methods, Iterable):
        raise TypeError(f"ci must be a method name or a sequence of them, got {ci!r}.")
    methods = tuple(methods)
    unknown = [m for m in methods if m not in CI_METHODS]
    if unknown:
        raise ValueError(f"unknown ci method(s) {unknown}; choose from {CI_METHODS}.")
    return tuple(m for m in CI_METHODS if m in methods)


@dataclass(frozen=True)
class SweepConfig:
    """The checked settings of a sweep: what it simulates, and what shapes its results.

    Every field is checked (and normalised) when the config is made, also by
    :func:`dataclasses.replace`, so ``replace(config, nsim=2000)`` is checked too.

    Attributes
    ----------
    grid : mapping
        ``simulate`` parameter -> list of levels, as :func:`~simlab.study.sweep` takes it.
    nsim : int
        Simulations (replicates) per cell, numbered ``0 .. nsim - 1``.
    seed : int
        Root seed: replicate ``rep`` of cell ``c`` uses ``SeedSequence([seed, c, rep])``.
    ci : tuple of str
        Interval methods, in :data:`~simlab.study.batch.CI_METHODS` order.
    level : float
        Confidence level of the intervals.
    chunk_size : int or None
        Replicates per work unit; None chooses one.
    cells : Grid
        The grid expanded into cells (not an argument).

    Raises
    ------
    TypeError, ValueError
        For a bad setting, naming it: the level first, then ``chunk_size``,
        ``nsim``, ``seed``, ``ci`` and the grid.
    """

    grid: Mapping
    nsim: int
    seed: int
    ci: tuple[str, ...] = CI_METHODS
    level: float = DEFAULT_LEVEL
    chunk_size: int | None = None
    cells: Grid = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Checked in the order sweep always checked them, so a call with several bad
        # arguments names the same one as before.
        level = check_level(self.level)
        chunk_size = (None if self.chunk_size is None
                      else check_int("chunk_size", self.chunk_size, 1))
        checked = {"nsim": check_int(NSIM, self.nsim, 1), "seed": check_int("seed", self.seed, 0),
                   "ci": check_ci(self.ci), "level": level, "chunk_size": chunk_size,
                   "cells": make_grid(self.grid)}
        checked["grid"] = dict(self.grid)  # a copy: changing the caller's dict changes nothing
        for name, value in checked.items():  # frozen: set once, here
            object.__setattr__(self, name, value)

    @classmethod
    def from_toml(cls, path: str | os.PathLike) -> SweepConfig:
        """Read and check the config file of ``simlab sweep``.

        Parameters
        ----------
        path : str or path-like
            A TOML file with ``nsim`` and ``seed`` (integers), optionally ``ci``
            (a method name or a list of them) and ``level``, and a ``[grid]``
            table (see the module docstring).

        Returns
        -------
        SweepConfig
            Run it with :meth:`run`; change a setting with
            :func:`dataclasses.replace`, e.g. ``replace(config, nsim=2000)``.

        Raises
        ------
        ValueError, TypeError
            Naming the file and what is wrong in it: a missing file, text
            that is not UTF-8 or not TOML, unknown or missing keys, a value
            of the wrong type, an unknown interval method, a level outside
            (0, 1), or a bad ``[grid]``.
        """
        path = Path(path)
        if not path.is_file():
            what = "is a directory, not a file" if path.is_dir() else "does not exist"
            raise ValueError(f"config file {str(path)!r} {what}.")
        data, where = read_toml(path), f"in config file {str(path)!r}"
        _check_keys(data, where)
        options = {"ci": _toml_ci(data["ci"], where)} if "ci" in data else {}
        if LEVEL in data:
            options[LEVEL] = _toml_level(data[LEVEL], where)
        try:  # the grid is checked by the constructor too: here the message names the file
            make_grid(data["grid"])
        except (TypeError, ValueError) as err:
            raise ValueError(f"bad [grid] {where}: {err}") from None
        return cls(data["grid"], nsim=data[NSIM], seed=data["seed"], **options)

    def manifest(self) -> Manifest:
        """The store manifest of this sweep."""
        return Manifest(grid=self.cells.encoded(), seed=self.seed, ci=list(self.ci),
                        level=self.level)

    def run(self, *, n_jobs: int = 1, backend: str | None = None, scheduler: Any = None,
            store: str | os.PathLike | None = None, progress: bool = True) -> Any:
        """Run this sweep: :func:`~simlab.study.sweep` with these settings.

        The keyword arguments say where and how it runs, as in
        :func:`~simlab.study.sweep`; returns its results table.
        """
        from .runner import sweep  # runner builds on this module

        return sweep(self.grid, nsim=self.nsim, seed=self.seed, ci=self.ci, level=self.level,
                     chunk_size=self.chunk_size, n_jobs=n_jobs, backend=backend,
                     scheduler=scheduler, store=store, progress=progress)


def _check_keys(data: dict, where: str) -> None:
    """Refuse unknown top-level keys, missing or non-integer ``nsim`` and ``seed``, and a
    missing or non-table ``[grid]``."""
    unknown = sorted(set(data) - set(_KEYS))
    if unknown:
        renamed = [f"{old} is now {new}" for old, new in _RENAMED.items() if old in unknown]
        hint = f" ({'; '.join(renamed)} since simlab 0.2)" if renamed else ""
        raise ValueError(f"unknown top-level key(s) {unknown} {where}; expected nsim, seed, "
                         f"ci, level and a [grid] table{hint}.")
    for key, example in ((NSIM, 1000), ("seed", 1234)):
        if key not in data:
            raise ValueError(f"missing {key} {where}: add a top-level line like "
                             f"'{key} = {example}'.")
        if isinstance(data[key], bool) or not isinstance(data[key], int):
            raise TypeError(f"{key} must be an integer {where}, got {data[key]!r}.")
    if "grid" not in data:
        raise ValueError(f"missing [grid] table {where}: add e.g. '[grid]' followed by "
                         "'n_groups = [50, 100]', 'n_per_group = [3]', 'tau = [0.5]', "
                         "'sigma = [0.25]'.")
    if not isinstance(data["grid"], dict):
        raise TypeError(f"grid must be a [grid] table {where}, got {data['grid']!r}.")


def _toml_ci(value: Any, where: str) -> tuple[str, ...]:
    """The config's ``ci``: a method name or a non-empty list of known ones."""
    ci = [value] if isinstance(value, str) else value
    if not isinstance(ci, list) or not ci or not all(isinstance(m, str) for m in ci):
        raise TypeError(f"ci must be a list of method names {where}, e.g. "
                        f"ci = [\"wald\", \"profile\"]; got {value!r}.")
    bad = [m for m in ci if m not in CI_METHODS]
    if bad:
        raise ValueError(f"unknown ci method(s) {bad} {where}; choose from {list(CI_METHODS)}.")
    return tuple(ci)


def _toml_level(level: Any, where: str) -> float:
    """The config's ``level``: a number strictly between 0 and 1."""
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ValueError(f"level must be a number strictly between 0 and 1 {where}, "
                         f"got {level!r}.")
    return float(level)
