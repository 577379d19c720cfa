"""
The distribution of the random effects
======================================

The density of the estimated random intercepts, and merTools' ``REsim``:
each subject's effect simulated from the fit's approximate posterior, shown
as its median with an interval (``plotREsim``).
"""
import matplotlib.pyplot as plt

import simlab
from simlab import plots

sleep = simlab.datasets.sleepstudy()
fit = simlab.lmer("Reaction ~ Days + (1 | Subject)", sleep)

fig, ax = plt.subplots(figsize=(6, 4))
plots.plot_re_density(fit, ax=ax)
plt.show()

# %%
# Simulated random effects (merTools' ``REsim``), 200 draws per subject.
sims = fit.re_sim(nsim=200, seed=1)
print(sims.head())
fig, ax = plt.subplots(figsize=(6, 4))
plots.plot_re_sim(sims, ax=ax)
plt.show()
