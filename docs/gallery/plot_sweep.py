"""
A simulation sweep: coverage and bias by design
===============================================

:func:`simlab.sweep` simulates and fits every cell of a grid of
:func:`simlab.simulate` settings; :func:`simlab.summarize` turns the
replicates into performance measures with their Monte Carlo standard errors,
and :func:`simlab.plot_sweep` draws one of them. Here a small grid (8 cells,
500 replicates each, Wald intervals only) so the page builds in seconds.
"""
import matplotlib.pyplot as plt

import simlab
from simlab import plots

grid = {"n_groups": [5, 10, 20, 40], "n_per_group": [3, 10], "tau": 0.5, "sigma": 0.25}
results = simlab.sweep(grid, nsim=500, seed=1, ci=("wald",), progress=False)
summary = simlab.summarize(results)
print(summary)  # the compact summary; the object is a DataFrame of every measure

# %%
# Coverage of the 95% Wald interval of the slope, against the number of
# groups, one line per group size; the dashed line is the nominal level.
fig, ax = plt.subplots(figsize=(6, 4))
simlab.plot_sweep(summary[summary["parameter"] == "x"], "coverage_wald",
                  x="n_groups", hue="n_per_group", ax=ax)
plt.show()

# %%
# The figure-level :func:`simlab.plots.sweep_figure` draws one panel per level
# of ``col``: here the relative bias of every parameter's estimate. The
# random-intercept sd is underestimated with few groups.
fig = plots.sweep_figure(summary, "relative_bias", x="n_groups", hue="n_per_group",
                         col="parameter", col_wrap=2)
plt.show()
