"""Figures: pure functions compute the numbers, thin functions draw them.

- :mod:`simlab.plots.sweep`: performance measures of a simulation sweep
  (:func:`plot_sweep`).
- :mod:`simlab.plots.teaching`: the tutorial's figures of a fitted mixed
  model (trajectories, caterpillar, a caterpillar panel per random term,
  predictions, random-effect density, simulated random effects) and of
  simulated data (scatter).
- :mod:`simlab.plots.slopes`: random-slope models: each group's line
  against a separate regression per group ("comparison to many regressions").

As in seaborn, ``*_data`` functions return tidy DataFrames and ``plot_*``
functions take the data or model first, keyword-only options and
``ax=None``, and return the matplotlib Axes; figure-level functions
(``*_figure``, several panels) take ``fig=None`` and return the Figure.
"""
from .slopes import (MAX_PANELS, MIXED, POPULATION, SEPARATE, many_regressions_coef,
                     many_regressions_data, many_regressions_figure, plot_many_regressions)
from .sweep import Z_MCSE, plot_sweep, reference_value, sweep_plot_data
from .teaching import (RE_SIM_COLUMNS, Z_RE_SIM, TrajectoryData, caterpillar_data,
                       caterpillar_figure, plot_caterpillar, plot_predictions, plot_re_density,
                       plot_re_sim, plot_scatter, plot_trajectories, prediction_data,
                       re_density_data, re_sim_plot_data, scatter_data, trajectory_data)

__all__ = ["Z_MCSE", "reference_value", "sweep_plot_data", "plot_sweep",
           "Z_RE_SIM", "RE_SIM_COLUMNS", "TrajectoryData",
           "trajectory_data", "plot_trajectories", "caterpillar_data", "plot_caterpillar",
           "caterpillar_figure", "prediction_data", "plot_predictions", "re_density_data",
           "plot_re_density", "scatter_data", "plot_scatter", "re_sim_plot_data", "plot_re_sim",
           "MIXED", "SEPARATE", "POPULATION", "MAX_PANELS", "many_regressions_coef",
           "many_regressions_data", "plot_many_regressions", "many_regressions_figure"]
