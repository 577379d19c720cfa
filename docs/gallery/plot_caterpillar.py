"""
Caterpillar plots of the random effects
=======================================

The conditional modes of each subject's random effects with their intervals
(lme4's ``ranef(condVar = TRUE)``, mixedup's ``extract_random_effects``),
sorted; an interval that excludes zero is drawn bold.
"""
import matplotlib.pyplot as plt

import simlab
from simlab import plots

sleep = simlab.datasets.sleepstudy()

# %%
# A random intercept: one panel.
fit = simlab.lmer("Reaction ~ Days + (1 | Subject)", sleep)
fig, ax = plt.subplots(figsize=(6, 4))
plots.plot_caterpillar(fit, level=0.95, ax=ax)
plt.show()

# %%
# Random intercepts and slopes, ``(Days | Subject)``: the figure-level
# function draws one panel per random term.
fit_slopes = simlab.lmer("Reaction ~ Days + (Days | Subject)", sleep)
fig = plots.caterpillar_figure(fit_slopes, level=0.95)
plt.show()

# %%
# The table the figure draws:
print(fit_slopes.ranef().head())
