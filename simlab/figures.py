"""``write_figures``: the tutorial's teaching figures of one data set, as PNG files.

For each data set one random-intercept model is fitted and its figures are
drawn with :mod:`simlab.plots.teaching`:

========== ========================================= ==========================================
data        model                                     figures
========== ========================================= ==========================================
gpa         ``gpa ~ occasion + (1 | student)``        trajectories, caterpillar, predictions,
                                                      re_density, re_sim
sleepstudy  ``Reaction ~ Days + (1 | Subject)``       the same
sim         ``y ~ x + (1 | group)`` on                scatter, caterpillar, predictions,
            ``simulate(100, 3, 0.5, 0.25, rng="R")``  re_density, re_sim
========== ========================================= ==========================================

Files are named ``<data>_<figure>.png``. Figures are drawn on bare
:class:`matplotlib.figure.Figure` objects, never through pyplot, so no GUI
backend is needed and nothing is left open in pyplot's figure list.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from simlab._checks import is_int
from simlab.model import LmerResult, lmer
from simlab.plots.teaching import (plot_caterpillar, plot_predictions, plot_re_density,
                                   plot_re_sim, plot_scatter, plot_trajectories)

__all__ = ["DATA_CHOICES", "RE_SIM_NSIMS", "write_figures"]

DATA_CHOICES = ("gpa", "sleepstudy", "sim")
#: Draws per group for the simulated random effects (merTools ``REsim``).
RE_SIM_NSIMS = 1000
_FIGSIZE = (7.5, 4.8)
_DPI = 100


@dataclass(frozen=True)
class _Spec:
    """How one data set is modelled and read."""

    formula: str
    x: str
    y: str
    group: str
    #: x-limits of the random-effect density; None lets matplotlib choose.
    density_xlim: tuple[float, float] | None
    caption: str


_SPECS = {
    "gpa": _Spec("gpa ~ occasion + (1 | student)", "occasion", "gpa", "student", (-3, 3),
                 "GPA of 200 students over 6 semesters (Hox)"),
    # Random effects are in milliseconds here, far outside the tutorial's (-3, 3).
    "sleepstudy": _Spec("Reaction ~ Days + (1 | Subject)", "Days", "Reaction", "Subject", None,
                        "Reaction times of 18 sleep-deprived subjects (lme4 sleepstudy)"),
    "sim": _Spec("y ~ x + (1 | group)", "x", "y", "group", (-3, 3),
                 "Simulated: 100 groups x 3, tau = 0.5, sigma = 0.25 (R seed {seed})"),
}


@dataclass(frozen=True)
class _Example:
    """One data set with its fitted model."""

    name: str
    spec: _Spec
    data: pd.DataFrame
    fit: LmerResult

    @property
    def caption(self) -> str:
        return f"{self.spec.caption}\nmodel: {self.spec.formula}"


def _example(data: str, seed: int, data_dir) -> _Example:
    from simlab import datasets
    from simlab.simulate import simulate

    if data == "gpa":
        frame = datasets.gpa(data_dir)
    elif data == "sleepstudy":
        frame = datasets.sleepstudy()
    else:
        frame = simulate(100, 3, 0.5, 0.25, seed=seed, rng="R")
    spec = replace(_SPECS[data], caption=_SPECS[data].caption.format(seed=seed))
    return _Example(data, spec, frame, lmer(spec.formula, frame, data_name=data))


def _plans(example: _Example, seed: int) -> list[tuple[str, Callable]]:
    """(figure name, function drawing it on an Axes) for one data set, in tutorial order."""
    ex = example

    def re_sim_figure(ax):
        # Imported here so the figures module does not load the simulation code until needed.
        from simlab.model.posterior import re_sim

        return plot_re_sim(re_sim(ex.fit, n_sims=RE_SIM_NSIMS, seed=seed), ax=ax)

    spec = ex.spec
    if ex.name == "sim":
        first = ("scatter", lambda ax: plot_scatter(ex.data, x=spec.x, y=spec.y, ax=ax))
    else:
        first = ("trajectories", lambda ax: plot_trajectories(
            ex.data, x=spec.x, y=spec.y, group=spec.group, fit=ex.fit, seed=seed, ax=ax))
    return [first,
            ("caterpillar", lambda ax: plot_caterpillar(ex.fit, ax=ax)),
            ("predictions", lambda ax: plot_predictions(ex.fit, ex.data, x=spec.x, ax=ax)),
            ("re_density", lambda ax: plot_re_density(ex.fit, xlim=spec.density_xlim, ax=ax)),
            ("re_sim", re_sim_figure)]


def _save(draw: Callable, caption: str, path: Path) -> Path:
    from matplotlib.figure import Figure

    # A bare Figure is not registered with pyplot: it is freed with its last
    # reference, so there is nothing to close and no backend to select.
    figure = Figure(figsize=_FIGSIZE, layout="constrained")
    draw(figure.subplots())
    figure.suptitle(caption, fontsize="medium")
    figure.savefig(path, dpi=_DPI)
    return path


def write_figures(out: str | os.PathLike, *, data: str = "gpa", seed: int = 1234,
                  data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Write the tutorial's figures of one data set as PNG files into ``out``.

    Parameters
    ----------
    out : path-like
        Folder for the files; created (with parents) if missing.
    data : {"gpa", "sleepstudy", "sim"}
        The data set; see the module docstring for the model and figures.
    seed : int
        Seeds the highlighted trajectories, the simulated random effects
        and, for ``"sim"``, R's ``set.seed`` of the simulated data.
    data_dir : path-like, optional
        Folder (or file) holding ``gpa.csv``; default ``$SIMLAB_DATA_DIR``.
        Only ``"gpa"`` reads it.

    Returns
    -------
    list of pathlib.Path
        The written files, ``<out>/<data>_<figure>.png``.

    Raises
    ------
    ValueError
        For an unknown ``data`` (the message lists the choices).
    TypeError
        If ``seed`` is not an int.
    FileNotFoundError
        For ``"gpa"`` when ``gpa.csv`` cannot be found.
    """
    if data not in DATA_CHOICES:
        raise ValueError(f"unknown data {data!r}; choose one of {list(DATA_CHOICES)}")
    if not is_int(seed):
        raise TypeError(f"seed must be an int, got {seed!r} ({type(seed).__name__})")
    example = _example(data, int(seed), data_dir)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    return [_save(draw, example.caption, folder / f"{data}_{name}.png")
            for name, draw in _plans(example, int(seed))]
