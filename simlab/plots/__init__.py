"""Figures: pure functions compute the numbers, thin functions draw them.

- :mod:`simlab.plots.sweep`: performance measures of a simulation sweep
  (:func:`plot_sweep`, one panel; :func:`sweep_figure`, a panel per level).
- :mod:`simlab.plots.power`: a power curve (:func:`plot_power_curve`).
- :mod:`simlab.plots.teaching`: the tutorial's figures of a fitted mixed
  model (trajectories, caterpillar, a caterpillar panel per random term,
  predictions, random-effect density, simulated random effects) and of
  simulated data (scatter).
- :mod:`simlab.plots.slopes`: random-slope models: each group's line
  against a separate regression per group ("comparison to many regressions").

seaborn's conventions hold throughout. ``*_data`` functions return tidy
DataFrames. Axes-level ``plot_*`` functions take the data or model first
and keyword-only options, draw on ``ax`` (default: the current Axes,
``plt.gca()``), pass ``**kwargs`` to their main matplotlib or seaborn call
and return that one Axes. Figure-level ``*_figure`` functions (several
panels) take ``fig=None`` (a new figure) and return the Figure. Columns
are never assumed from a data set: they come from the fitted model's
formula or must be given.
"""
from .power import POWER_CURVE_COLUMNS, plot_power_curve, power_curve_data
from .slopes import (MAX_PANELS, MIXED, POPULATION, SEPARATE, many_regressions_coef,
                     many_regressions_data, many_regressions_figure, plot_many_regressions)
from .sweep import Z_MCSE, plot_sweep, reference_value, sweep_figure, sweep_plot_data
from .teaching import (RE_SIM_COLUMNS, Z_RE_SIM, TrajectoryData, caterpillar_data,
                       caterpillar_figure, plot_caterpillar, plot_predictions, plot_re_density,
                       plot_re_sim, plot_scatter, plot_trajectories, prediction_data,
                       re_density_data, re_sim_plot_data, scatter_data, trajectory_data)

__all__ = ["Z_MCSE", "reference_value", "sweep_plot_data", "plot_sweep", "sweep_figure",
           "POWER_CURVE_COLUMNS", "power_curve_data", "plot_power_curve",
           "Z_RE_SIM", "RE_SIM_COLUMNS", "TrajectoryData",
           "trajectory_data", "plot_trajectories", "caterpillar_data", "plot_caterpillar",
           "caterpillar_figure", "prediction_data", "plot_predictions", "re_density_data",
           "plot_re_density", "scatter_data", "plot_scatter", "re_sim_plot_data", "plot_re_sim",
           "MIXED", "SEPARATE", "POPULATION", "MAX_PANELS", "many_regressions_coef",
           "many_regressions_data", "plot_many_regressions", "many_regressions_figure"]
