"""
Simulated clustered data, and shrinkage of random slopes
========================================================

:func:`simlab.simulate` draws data from a random-intercept (or random-slope)
model. With random slopes, each group's line from the mixed model is drawn
against the group's own least-squares line: the mixed model pulls the
slopes of small groups toward the population line (shrinkage).
"""
import matplotlib.pyplot as plt

import simlab
from simlab import plots

data = simlab.simulate(n_groups=8, n_per_group=12, tau=0.75, sigma=0.5, seed=1)
data["group"] = data["group"].astype(str)

fig, ax = plt.subplots(figsize=(6, 4))
plots.plot_scatter(data, x="x", y="y", hue="group", ax=ax)
plt.show()

# %%
# Random slopes: 12 groups of 5 with noisy data (``sigma`` 1), where the
# mixed model's lines (solid) visibly shrink toward the population line
# (dotted) compared with each group's own regression (dashed).
slopes = simlab.simulate(12, 5, tau=0.75, sigma=1.0, tau_slope=0.4, seed=3)
fit = simlab.lmer("y ~ x + (1 + x | group)", slopes)
fig = plots.many_regressions_figure(fit, slopes, col_wrap=4)
plt.show()
