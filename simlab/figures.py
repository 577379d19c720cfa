"""``write_figures``: the tutorial's teaching figures of one data set, as PNG files.

For each data set one model is fitted, a random intercept (the first
chapter, ``model="intercept"``) or a random slope (the second chapter,
"More Random Effects", ``model="slopes"``), and its figures are drawn with
:mod:`simlab.plots.teaching` and :mod:`simlab.plots.slopes`.

``model="intercept"``:

========== ========================================= ==========================================
data        model                                     figures
========== ========================================= ==========================================
gpa         ``gpa ~ occasion + (1 | student)``        trajectories, caterpillar, predictions,
                                                      re_density, re_sim
sleepstudy  ``Reaction ~ Days + (1 | Subject)``       the same
sim         ``y ~ x + (1 | group)`` on                scatter, caterpillar, predictions,
            ``simulate(100, 3, .5, .25, stream="R")`` re_density, re_sim
========== ========================================= ==========================================

``model="slopes"`` (files ``<data>_slopes_<figure>.png``):

========== ================================================ ===================================
data        model                                            figures
========== ================================================ ===================================
gpa         ``gpa ~ occasion + (1 + occasion | student)``    many_regressions and
                                                             many_regressions_panels (the first
                                                             12 students), caterpillar (a panel
                                                             per term), predictions
sleepstudy  ``Reaction ~ Days + (Days | Subject)``           the same, a panel for each of the
                                                             18 subjects
sim         ``y ~ x + (1 | group) + (0 + x | group)`` on     the same as gpa (the first 12
            ``simulate(50, 3, 0.75, 0.25, tau_slope=0.25,    groups): the chapter's "Simulation
            stream="R")``                                    revisited"
========== ================================================ ===================================

Files are named ``<data>_<figure>.png`` (``<data>_slopes_<figure>.png`` for
random slopes). Figures are drawn on bare
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
from simlab.plots.slopes import many_regressions_figure, plot_many_regressions
from simlab.plots.teaching import (caterpillar_figure, plot_caterpillar, plot_predictions,
                                   plot_re_density, plot_re_sim, plot_scatter, plot_trajectories)

__all__ = ["DATA_CHOICES", "MODEL_CHOICES", "RE_SIM_NSIM", "write_figures"]

DATA_CHOICES = ("gpa", "sleepstudy", "sim")
#: A random intercept (the tutorial's first chapter) or a random slope (its second).
MODEL_CHOICES = ("intercept", "slopes")
#: Panels of the per-group figure of a random-slope model: the first this many groups.
SLOPE_PANELS = 12
#: Draws per group for the simulated random effects (merTools ``REsim``).
RE_SIM_NSIM = 1000
_FIGSIZE = (7.5, 4.8)
_DPI = 100


@dataclass(frozen=True)
class _Spec:
    """How one data set is modelled and read."""

    formula: str
    x: str
    y: str
    #: x-limits of the random-effect density; None lets matplotlib choose.
    density_xlim: tuple[float, float] | None
    caption: str
    #: Groups with a panel in the per-group figure of a random-slope model: the
    #: first this many, or None for all.
    panels: int | None = None


_SPECS = {
    "gpa": _Spec("gpa ~ occasion + (1 | student)", "occasion", "gpa", (-3, 3),
                 "GPA of 200 students over 6 semesters (Hox)"),
    # Random effects are in milliseconds here, far outside the tutorial's (-3, 3).
    "sleepstudy": _Spec("Reaction ~ Days + (1 | Subject)", "Days", "Reaction", None,
                        "Reaction times of 18 sleep-deprived subjects (lme4 sleepstudy)"),
    "sim": _Spec("y ~ x + (1 | group)", "x", "y", (-3, 3),
                 "Simulated: 100 groups x 3, tau = 0.5, sigma = 0.25 (R seed {seed})"),
}

#: The random-slope models of the second chapter, keyed by data set.
_SLOPE_SPECS = {
    "gpa": _Spec("gpa ~ occasion + (1 + occasion | student)", "occasion", "gpa",
                 None, _SPECS["gpa"].caption, panels=SLOPE_PANELS),
    "sleepstudy": _Spec("Reaction ~ Days + (Days | Subject)", "Days", "Reaction",
                        None, _SPECS["sleepstudy"].caption),
    "sim": _Spec("y ~ x + (1 | group) + (0 + x | group)", "x", "y", None,
                 "Simulated: 50 groups x 3, tau = 0.75, tau_slope = 0.25, sigma = 0.25 "
                 "(R seed {seed})", panels=SLOPE_PANELS),
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


def _example(data: str, model: str, seed: int, data_dir) -> _Example:
    from simlab import datasets
    from simlab.simulate import simulate

    if data == "gpa":
        frame = datasets.gpa(data_dir)
    elif data == "sleepstudy":
        frame = datasets.sleepstudy()
    elif model == "slopes":  # the chapter's "Simulation revisited"
        frame = simulate(50, 3, 0.75, 0.25, tau_slope=0.25, seed=seed, stream="R")
    else:
        frame = simulate(100, 3, 0.5, 0.25, seed=seed, stream="R")
    spec = (_SLOPE_SPECS if model == "slopes" else _SPECS)[data]
    spec = replace(spec, caption=spec.caption.format(seed=seed))
    return _Example(data, spec, frame, lmer(spec.formula, frame, data_name=data))


@dataclass(frozen=True)
class _Plan:
    """One figure: its name and how to draw it."""

    name: str
    #: Draws on an Axes, or (``whole_figure``) on the Figure, which it fills with panels.
    draw: Callable
    whole_figure: bool = False
    figsize: tuple[float, float] = _FIGSIZE


def _slope_plans(example: _Example) -> list[_Plan]:
    """The random-slope figures of one data set, in the chapter's order."""
    ex, spec = example, example.spec
    levels = list(pd.unique(ex.fit.coef()["group"]))
    panel_groups = levels if spec.panels is None else levels[:spec.panels]
    ncols = min(6, len(panel_groups))
    nrows = -(-len(panel_groups) // ncols)
    n_terms = ex.fit.coef()["effect"].nunique()
    return [
        _Plan("many_regressions",
              lambda ax: plot_many_regressions(ex.fit, ex.data, groups=panel_groups, ax=ax)),
        _Plan("many_regressions_panels",
              lambda fig: many_regressions_figure(ex.fit, ex.data, groups=panel_groups, fig=fig),
              whole_figure=True, figsize=(1.9 * ncols + 0.8, 1.8 * nrows + 1.8)),
        _Plan("caterpillar", lambda fig: caterpillar_figure(ex.fit, fig=fig), whole_figure=True,
              figsize=(_FIGSIZE[0], 2.9 * n_terms + 1.2)),
        _Plan("predictions", lambda ax: plot_predictions(ex.fit, ex.data, x=spec.x, ax=ax)),
    ]


def _plans(example: _Example, seed: int) -> list[_Plan]:
    """The figures of one data set and model, in tutorial order."""
    ex = example

    def re_sim_figure(ax):
        return plot_re_sim(ex.fit.re_sim(nsim=RE_SIM_NSIM, seed=seed), ax=ax)

    spec = ex.spec
    if ex.name == "sim":
        first = _Plan("scatter", lambda ax: plot_scatter(ex.data, x=spec.x, y=spec.y, ax=ax))
    else:
        # The columns come from the fit's formula.
        first = _Plan("trajectories", lambda ax: plot_trajectories(ex.data, fit=ex.fit, seed=seed,
                                                                   ax=ax))
    return [first,
            _Plan("caterpillar", lambda ax: plot_caterpillar(ex.fit, ax=ax)),
            _Plan("predictions", lambda ax: plot_predictions(ex.fit, ex.data, x=spec.x, ax=ax)),
            _Plan("re_density", lambda ax: plot_re_density(ex.fit, xlim=spec.density_xlim,
                                                           ax=ax)),
            _Plan("re_sim", re_sim_figure)]


def _save(plan: _Plan, caption: str, path: Path) -> Path:
    from matplotlib.figure import Figure

    # A bare Figure is not registered with pyplot: it is freed with its last
    # reference, so there is nothing to close and no backend to select.
    figure = Figure(figsize=plan.figsize, layout="constrained")
    plan.draw(figure if plan.whole_figure else figure.subplots())
    figure.suptitle(caption, fontsize="medium")
    figure.savefig(path, dpi=_DPI)
    return path


def write_figures(out: str | os.PathLike, *, data: str = "gpa", model: str = "intercept",
                  seed: int = 1234, data_dir: str | os.PathLike | None = None) -> list[Path]:
    """Write the tutorial's figures of one data set as PNG files into ``out``.

    Parameters
    ----------
    out : path-like
        Folder for the files; created (with parents) if missing.
    data : {"gpa", "sleepstudy", "sim"}
        The data set; see the module docstring for the model and figures.
    model : {"intercept", "slopes"}
        A random intercept (the first chapter) or a random slope (the
        second: each group's line against separate regressions, a
        caterpillar panel per random term).
    seed : int
        Seeds the highlighted trajectories, the simulated random effects
        and, for ``"sim"``, R's ``set.seed`` of the simulated data.
    data_dir : path-like, optional
        Folder (or file) holding ``gpa.csv``; default ``$SIMLAB_DATA_DIR``.
        Only ``"gpa"`` reads it.

    Returns
    -------
    list of pathlib.Path
        The written files, ``<out>/<data>_<figure>.png``, or
        ``<out>/<data>_slopes_<figure>.png`` for ``model="slopes"``.

    Raises
    ------
    ValueError
        For an unknown ``data`` or ``model`` (the message lists the choices).
    TypeError
        If ``seed`` is not an int.
    FileNotFoundError
        For ``"gpa"`` when ``gpa.csv`` cannot be found.
    """
    if data not in DATA_CHOICES:
        raise ValueError(f"unknown data {data!r}; choose one of {list(DATA_CHOICES)}")
    if model not in MODEL_CHOICES:
        raise ValueError(f"unknown model {model!r}; choose one of {list(MODEL_CHOICES)}")
    if not is_int(seed):
        raise TypeError(f"seed must be an int, got {seed!r} ({type(seed).__name__})")
    example = _example(data, model, int(seed), data_dir)
    plans = _slope_plans(example) if model == "slopes" else _plans(example, int(seed))
    prefix = f"{data}_slopes" if model == "slopes" else data
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    return [_save(plan, example.caption, folder / f"{prefix}_{plan.name}.png") for plan in plans]
