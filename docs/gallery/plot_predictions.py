"""
Predictions with and without the random effects
===============================================

For a few subjects: the observed points, the subject's own line (fixed plus
random effects, lme4's ``predict(fit)``) and the population line (fixed
effects only, ``predict(fit, re.form = NA)``).
"""
import matplotlib.pyplot as plt

import simlab
from simlab import plots

sleep = simlab.datasets.sleepstudy()
fit = simlab.lmer("Reaction ~ Days + (1 | Subject)", sleep)

fig, ax = plt.subplots(figsize=(6, 4))
plots.plot_predictions(fit, sleep, groups=["308", "309", "337"], x="Days", ax=ax)
plt.show()
