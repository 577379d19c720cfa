# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Simulation revisited: random slopes
#
# You simulate data in which every group has its own intercept *and* its own
# slope of `x`, then compare a model that knows only the intercepts with one
# that also has the slopes. The tutorial's chapter did it in R:
#
# ```r
# set.seed(1234)
# Ngroups = 50; NperGroup = 3; N = Ngroups * NperGroup
# groups = factor(rep(1:Ngroups, each = NperGroup))
# re_int = rnorm(Ngroups, sd = .75)
# re_slope = rnorm(Ngroups, sd = .25)
# e = rnorm(N, sd = .25)
# x = rnorm(N)
# y = (2 + re_int[groups]) + (.5 + re_slope[groups]) * x + e
# ```
#
# `simlab.simulate(..., stream="R")` replays that recipe: `tau` is the sd of
# `re_int`, `tau_slope` the sd of `re_slope`, `sigma` the sd of `e`, and the
# groups are in the column `group`. Your settings are in `S` below: without a
# student id they are the chapter's. Your id is your student id (SID) on the
# course roster, or the e-mail you use on Gradescope if the roster has no SID
# for you; Gradescope grades the variant of that id. Set it first
# (`export SIMLAB_STUDENT_ID=<id>`, or `simlab check --student-id <id> ...`)
# and you get your own seed and standard deviations (your groups' slopes then
# vary more than in the chapter, so that your comparison is clear), and the
# checks follow them.
#
# **How to work.** Replace each `...` with code that returns what the
# docstring asks for; keep the function names. Check your work with
# `simlab check exercises/slopes_simulation.py`.

# %%
import simlab
from simlab.grading import SimVariant, sim_variant

V = sim_variant()  # your seed and residual sd
if V == SimVariant():  # no student id: the chapter's settings
    S = {"seed": 1234, "tau": 0.75, "tau_slope": 0.25, "sigma": 0.25}
else:  # your own: intercepts three times, slopes about twice as spread as the residual
    S = {"seed": V.seed, "tau": 3 * V.sigma, "tau_slope": V.tau, "sigma": V.sigma}
S

# %% [markdown]
# ## Q1. Simulate
#
# The chapter's design: 50 groups of 3, intercept 2 and slope .5, with the
# seed and standard deviations of `S`.

# %%
def q1_data():
    """Return the simulated data: the chapter's recipe with your settings ``S`` and R's stream.

    Returns
    -------
    pandas.DataFrame
        ``simlab.simulate(...)``: columns ``group, x, y``, 150 rows.
    """
    return ...  # replace ... with your answer


# %% [markdown]
# ## Q2. Two models
#
# The first model gives each group its own intercept only. The second, the
# chapter's, adds a random slope of `x` for each group, independent of the
# intercepts: `(1 | group) + (0 + x | group)`. Fit both by REML to `q1_data()`.

# %%
def q2_intercepts_model():
    """Return ``y ~ x + (1 | group)`` fitted by REML to ``q1_data()``."""
    return ...  # replace ... with your answer


def q2_slopes_model():
    """Return ``y ~ x + (1 | group) + (0 + x | group)`` fitted by REML to ``q1_data()``."""
    return ...  # replace ... with your answer


# %% [markdown]
# ## Q3. The spread of the slopes
#
# The variance components of the slopes model are in its `varcorr()`
# (lme4's `as.data.frame(VarCorr(fit))`: columns `grp, var1, var2, vcov, sdcor`).

# %%
def q3_slope_sd():
    """Return the slopes model's estimated standard deviation of the groups' slopes of ``x``."""
    return ...  # replace ... with your answer


# %% [markdown]
# ## Q4. Compare the models by AIC
#
# AIC is `-2 logLik + 2 npar`: the fit, plus a charge of 2 for every
# parameter. Lower is better. Like R's `AIC(fit)`, a fit's `aic` uses the
# log-likelihood it was fitted with, here REML, which compares models that
# have the same fixed effects, as these two do.

# %%
def q4_aic_intercepts():
    """Return the AIC of the intercepts model (its ``aic``)."""
    return ...  # replace ... with your answer


def q4_aic_slopes():
    """Return the AIC of the slopes model (its ``aic``)."""
    return ...  # replace ... with your answer


def q4_aic_difference():
    """Return the AIC of the intercepts model minus the AIC of the slopes model."""
    return ...  # replace ... with your answer


def q4_lower_aic():
    """Return "intercepts" or "slopes": the model with the lower AIC."""
    return ...  # replace ... with your answer


# %% [markdown]
# **Multiple choice.** Return the letter of the best answer as a string, e.g. `"c"`.
#
# *What does the comparison show?*
#
# - (a) The groups differ in how `y` changes with `x`: the random slopes
#   improve the fit by more than their extra parameter costs.
# - (b) Once the slopes vary, the intercepts no longer vary between groups.
# - (c) The fixed effect of `x` is different from zero.
# - (d) The simpler model is enough: the random slopes do not improve the fit
#   by more than their extra parameter costs.

# %%
def q5_what_it_shows():
    """Return the letter ("a"-"d") of what the comparison shows."""
    return ...  # replace ... with your answer
