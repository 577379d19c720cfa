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
    # BEGIN SOLUTION
    return simlab.simulate(50, 3, tau=S["tau"], sigma=S["sigma"], tau_slope=S["tau_slope"],
                           intercept=2, slope=0.5, seed=S["seed"], stream="R")
    # END SOLUTION


# %% [markdown]
# ## Q2. Two models
#
# The first model gives each group its own intercept only. The second, the
# chapter's, adds a random slope of `x` for each group, independent of the
# intercepts: `(1 | group) + (0 + x | group)`. Fit both by REML to `q1_data()`.

# %%
def q2_intercepts_model():
    """Return ``y ~ x + (1 | group)`` fitted by REML to ``q1_data()``."""
    return simlab.lmer("y ~ x + (1 | group)", q1_data())  # SOLUTION


def q2_slopes_model():
    """Return ``y ~ x + (1 | group) + (0 + x | group)`` fitted by REML to ``q1_data()``."""
    return simlab.lmer("y ~ x + (1 | group) + (0 + x | group)", q1_data())  # SOLUTION


# %% [markdown]
# ## Q3. The spread of the slopes
#
# The variance components of the slopes model are in its `varcorr()`
# (lme4's `as.data.frame(VarCorr(fit))`: columns `grp, var1, var2, vcov, sdcor`).

# %%
def q3_slope_sd():
    """Return the slopes model's estimated standard deviation of the groups' slopes of ``x``."""
    # BEGIN SOLUTION
    vc = q2_slopes_model().varcorr()
    return vc.loc[vc["var1"] == "x", "sdcor"].item()
    # END SOLUTION


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
    return q2_intercepts_model().aic  # SOLUTION


def q4_aic_slopes():
    """Return the AIC of the slopes model (its ``aic``)."""
    return q2_slopes_model().aic  # SOLUTION


def q4_aic_difference():
    """Return the AIC of the intercepts model minus the AIC of the slopes model."""
    return q4_aic_intercepts() - q4_aic_slopes()  # SOLUTION


def q4_lower_aic():
    """Return "intercepts" or "slopes": the model with the lower AIC."""
    return "slopes" if q4_aic_slopes() < q4_aic_intercepts() else "intercepts"  # SOLUTION


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
    return "a" if q4_aic_difference() > 0 else "d"  # SOLUTION


# %% [key]
# Answer key of ``slopes_simulation``: the chapter's random-slopes simulation, the
# intercepts-only model against (1 | group) + (0 + x | group), compared by AIC
# (per-student variants).
#
# Without an id the data are the chapter's (`set.seed(1234)`, slope sd = residual sd):
# AIC 15.3 lower with the slopes. With the chapter's sds, other seeds put the two models
# within 4 AIC of each other for about one student in twenty, and the intercepts model
# ahead for one in two hundred: a decision the noise would take. So a student's
# variant has slopes 1.8 to 2.2 times as spread as the residual (``sim_variant``'s tau /
# sigma; the intercepts' sd is 3 sigma, the chapter's ratio). Scaling all sds together
# changes no likelihood ratio, so the margin depends on the seed and the ratio only:
# over 4000 student ids the slopes model is ahead by at least 10.4 AIC (99% of them by
# 20 or more); the two decisions require 4.

from simlab.grading.authoring import Decision, Mistake, Question
from simlab.grading.authoring import compared, refit, squared

INTERCEPTS = "y ~ x + (1 | group)"
SLOPES = "y ~ x + (1 | group) + (0 + x | group)"
#: The smallest AIC difference a variant's decisions may rest on.
MARGIN = 4.0


def _settings(ctx):
    """The exercise's ``S`` for the student of ``ctx``."""
    from simlab.grading.variants import SimVariant, sim_variant

    v = sim_variant(ctx.student_id) if ctx.student_id else SimVariant()
    if v == SimVariant():
        return {"seed": 1234, "tau": 0.75, "tau_slope": 0.25, "sigma": 0.25}
    return {"seed": v.seed, "tau": 3 * v.sigma, "tau_slope": v.tau, "sigma": v.sigma}


def _simulate(ctx, rng="R", slopes=True):
    from simlab import simulate

    s = _settings(ctx)
    return simulate(50, 3, tau=s["tau"], sigma=s["sigma"],
                    tau_slope=s["tau_slope"] if slopes else None, intercept=2, slope=0.5,
                    seed=s["seed"], stream=rng)


def _slope_sd(fit):
    vc = fit.varcorr()
    return vc.loc[vc["var1"] == "x", "sdcor"].item()


def _ml_difference(ctx):
    from simlab import lmer

    data = _simulate(ctx)
    return lmer(INTERCEPTS, data, reml=False).aic - lmer(SLOPES, data, reml=False).aic


_ML = ("this is the maximum-likelihood (ML) fit's; the models are fitted by REML, lmer's "
       "default criterion (see the docstring of simlab.lmer)")
_ML_AIC = ("this is the AIC of the maximum-likelihood fit, the one anova reports after refitting "
           "by ML; the question asks for the REML fit's own AIC (the text above Q4)")

TITLE = "Simulation revisited: random slopes"
VARIANTS = True
QUESTIONS = [
    Question("q1_data", "Q1: the simulated data", 2,
             "the data follow the introduction's R recipe with your settings S: the docstring "
             "of simlab.simulate names the sd of the slopes and says how to get R's stream",
             rtol=1e-9, atol=1e-12,
             mistakes=(Mistake("this is numpy's stream; R's seeded stream is the one the "
                               "recipe needs (the docstring of simlab.simulate)",
                               lambda ctx: _simulate(ctx, rng="numpy")),
                       Mistake("these data have no random slopes: every group has the same "
                               "slope of x; give the slopes' sd of S too (the docstring of "
                               "simlab.simulate)", lambda ctx: _simulate(ctx, slopes=False)))),
    Question("q2_intercepts_model", "Q2: y ~ x + (1 | group) by REML", 1,
             "a random intercept per group is lme4's (1 | group) term, fitted by REML, lmer's "
             "default (the docstring of simlab.lmer)", rtol=1e-5),
    Question("q2_slopes_model", "Q2: y ~ x + (1 | group) + (0 + x | group) by REML", 2,
             "the text above Q2 gives the random part: an intercept per group and, as a "
             "separate term without an intercept, a slope of x per group",
             rtol=1e-5,
             mistakes=(Mistake("this model also estimates a correlation of the intercepts "
                               "and slopes; the chapter's model keeps them independent, as "
                               "two separate terms (the text above Q2)",
                               refit(_simulate, "y ~ x + (1 + x | group)", lambda fit: fit,
                                     reml=True)),
                       Mistake("this is the intercepts model: it has no random slope",
                               refit(_simulate, INTERCEPTS, lambda fit: fit, reml=True)))),
    Question("q3_slope_sd", "Q3: estimated sd of the slopes", 1,
             "the spread of the groups' slopes is the standard deviation (sdcor) on the x row "
             "of the slopes model's the varcorr table (the text above Q3)", rtol=1e-5,
             mistakes=(Mistake("you gave the variance (vcov); the question asks for the "
                               "standard deviation (sdcor)", squared("q3_slope_sd")),
                       Mistake(_ML, refit(_simulate, SLOPES, _slope_sd)),
                       Mistake("this is the sd you simulated with; the question asks for the "
                               "model's estimate of it",
                               lambda ctx: _settings(ctx)["tau_slope"]))),
    Question("q4_aic_intercepts", "Q4: AIC of the intercepts model", 1,
             "AIC charges the fit for its parameters (the text above Q4 and the docstring of "
             "simlab.LmerResult.aic)", rtol=1e-6,
             mistakes=(Mistake(_ML_AIC, refit(_simulate, INTERCEPTS, lambda fit: fit.aic)),)),
    Question("q4_aic_slopes", "Q4: AIC of the slopes model", 1,
             "AIC charges the fit for its parameters (the text above Q4 and the docstring of "
             "simlab.LmerResult.aic)", rtol=1e-6, visibility="hidden",
             mistakes=(Mistake(_ML_AIC, refit(_simulate, SLOPES, lambda fit: fit.aic)),)),
    Question("q4_aic_difference", "Q4: AIC of the intercepts model minus the slopes model's",
             1, "subtract in the order of the docstring; a positive difference favours the "
             "slopes model", rtol=1e-5,
             mistakes=(Mistake("the difference has the wrong sign: the docstring asks for "
                               "the intercepts model's AIC minus the slopes model's",
                               lambda ctx: -ctx.expected["q4_aic_difference"]),
                       Mistake(_ML_AIC, _ml_difference))),
    Question("q4_lower_aic", "Q4: the model with the lower AIC", 1,
             "lower AIC is better (the text above Q4); your two AICs decide",
             choices=("intercepts", "slopes"), visibility="hidden",
             decision=compared("q4_aic_slopes", "q4_aic_intercepts", minimum=MARGIN,
                               words=("slopes", "intercepts", "neither"))),
    Question("q5_what_it_shows", "Q5: what the comparison shows (multiple choice)", 1,
             "the slopes model differs from the intercepts model by one parameter, the sd of "
             "the slopes; AIC weighs what it adds to the fit against its charge (the text "
             "above Q4)", choices=("a", "b", "c", "d"), visibility="hidden",
             decision=Decision(
                 lambda ctx: "a" if ctx.expected["q4_aic_difference"] > 0 else "d",
                 lambda ctx: abs(ctx.expected["q4_aic_difference"]), MARGIN,
                 "|q4_aic_difference|")),
]
