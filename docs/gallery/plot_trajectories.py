"""
Trajectories: every subject's path and the population trend
============================================================

A spaghetti plot of lme4's ``sleepstudy`` data: each subject's reaction time
over ten days of sleep deprivation, faded, ten of them bold, and the fixed
effects' line of ``Reaction ~ Days + (1 | Subject)`` in red.
"""
import matplotlib.pyplot as plt

import simlab
from simlab import plots

sleep = simlab.datasets.sleepstudy()
fit = simlab.lmer("Reaction ~ Days + (1 | Subject)", sleep)

fig, ax = plt.subplots(figsize=(6, 4))
plots.plot_trajectories(sleep, x="Days", y="Reaction", group="Subject", fit=fit,
                        seed=1, ax=ax)
ax.set_title("sleepstudy: 18 subjects, 10 days")
plt.show()

# %%
# The numbers behind the figure come from a pure function beside it:
data = plots.trajectory_data(sleep, x="Days", y="Reaction", group="Subject", fit=fit, seed=1)
print(type(data).__name__)
