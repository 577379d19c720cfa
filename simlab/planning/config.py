"""The TOML config of ``simlab power``: checked into the keyword arguments of the API.

A config names the test, the design (``[design]`` settings, or a ``[model]``
fitted to a CSV file or a bundled data set), the true ``[effects]``, and
optionally the ``[curve]`` and a ``[solve]`` search::

    seed = 2024
    term = "z"
    test = "kr"          # kr, satterthwaite, lrt or z
    nsim = 1000
    target = 0.8

    [design]
    n_groups = 30
    n_per_group = 6
    tau = 0.7071
    sigma = 1.0

    [effects]
    z = 1.0

    [curve]
    along = "n_groups"
    breaks = [10, 15, 20, 25, 30]

    [solve]
    tolerance = 0.01
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simlab._toml import read_toml

from .power import check_probability

__all__ = ["PowerConfig", "load_power_config"]

_TOP = {"seed", "term", "test", "alpha", "nsim", "precision", "max_nsim", "target"}
_TABLES = {"design", "model", "effects", "curve", "solve"}
_DESIGN = {"n_groups", "n_per_group", "tau", "sigma"}
_MODEL = {"data", "dataset", "formula", "n_groups", "n_per_group", "tau", "sigma"}
_CURVE = {"along", "breaks"}
_SOLVE = {"along", "tolerance", "error", "lower", "upper", "max_nsim"}


@dataclass(frozen=True)
class PowerConfig:
    """A checked config.

    Attributes
    ----------
    common : dict
        Keyword arguments shared by ``power_curve`` and ``solve_sample_size``
        (the model, if any, already fitted).
    curve : dict
        ``along`` and ``breaks`` (None: simr's default) and the simulation budget.
    solve : dict or None
        Arguments of ``solve_sample_size``, if a ``[solve]`` table is given.
    target : float or None
    """

    common: dict
    curve: dict
    solve: dict | None
    target: float | None


def _table(data: dict, name: str, allowed: set, where: str) -> dict:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be a [{name}] table {where}, got {value!r}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} in [{name}] {where}; expected some of "
                         f"{sorted(allowed)}")
    return dict(value)


def _fitted_model(model: dict, folder: Path, where: str):
    """Fit the ``[model]`` table's formula to its data (a CSV path or a bundled data set)."""
    import pandas as pd

    import simlab

    if "formula" not in model or ("data" in model) == ("dataset" in model):
        raise ValueError(f"[model] {where} needs a formula and exactly one of data (a CSV "
                         "path, relative to the config) or dataset ('sleepstudy' or 'gpa')")
    if "data" in model:
        data = pd.read_csv(folder / str(model["data"]))
    elif model["dataset"] in ("sleepstudy", "gpa"):
        data = getattr(simlab.datasets, model["dataset"])()
    else:
        raise ValueError(f"dataset must be 'sleepstudy' or 'gpa' {where}, got {model['dataset']!r}")
    return simlab.lmer(model["formula"], data)


def load_power_config(path: str | os.PathLike) -> PowerConfig:
    """Read and check a ``simlab power`` config; errors name the file and the problem."""
    path = Path(path)
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise ValueError(f"config file {str(path)!r} {what}.")
    data, where = read_toml(path), f"in config file {str(path)!r}"
    unknown = sorted(set(data) - _TOP - _TABLES)
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} {where}; expected {sorted(_TOP)} and the "
                         f"tables {sorted(_TABLES)}")
    for key in ("seed", "term"):
        if key not in data:
            raise ValueError(f"missing {key} {where}: add a top-level line like "
                             f"{key} = {1234 if key == 'seed' else repr('z')}")
    design, model = (_table(data, "design", _DESIGN, where), _table(data, "model", _MODEL, where))
    if bool(design) == bool(model):
        raise ValueError(f"give exactly one of a [design] table (settings) or a [model] table "
                         f"(a formula fitted to data) {where}")
    common: dict[str, Any] = {key: data[key] for key in ("seed", "term", "test", "alpha")
                              if key in data}
    common["effects"] = _table(data, "effects", set(data.get("effects", {})), where) or None
    if model:
        common["model"] = _fitted_model(model, path.parent, where)
        common.update({k: v for k, v in model.items() if k in _DESIGN})
    else:
        common.update(design)
    budget = {key: data[key] for key in ("nsim", "precision", "max_nsim") if key in data}
    curve = {**_table(data, "curve", _CURVE, where), **budget}
    solve = _table(data, "solve", _SOLVE, where) if "solve" in data else None
    target = data.get("target")
    if target is not None:   # checked before any simulation, not when the figure is drawn
        target = check_probability("target", target)
    if solve is not None:
        solve["target"] = 0.8 if target is None else target
    return PowerConfig(common, curve, solve, target)
