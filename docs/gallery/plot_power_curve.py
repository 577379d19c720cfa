"""
A power curve for a cluster-randomised trial
============================================

simr's ``powerCurve``: the power of the Kenward-Roger test of a cluster-level
treatment ``z`` (effect 1, ICC 1/3, 6 rows per class) against the number of
classes, each point with its 95% Clopper-Pearson interval. 200 simulations a
point keep the build fast; use 1000 or more (or ``precision=``) in practice.
"""
import matplotlib.pyplot as plt

import simlab

curve = simlab.power_curve(term="z", effects={"z": 1.0}, n_groups=24, n_per_group=6,
                           tau=0.5 ** 0.5, sigma=1.0, test="kr",
                           along="n_groups", breaks=[6, 10, 14, 18, 24],
                           nsim=200, seed=1)
print(curve)

# %%
# ``curve.plot`` is :func:`simlab.plots.plot_power_curve`: an axes-level
# function that draws on ``ax`` (the current Axes by default) and passes
# extra keyword arguments to the line.
fig, ax = plt.subplots(figsize=(6, 4))
curve.plot(target=0.8, ax=ax, color="C2")
plt.show()

# %%
# The numbers it draws:
print(simlab.plots.power_curve_data(curve))
