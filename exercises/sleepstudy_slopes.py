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
# # Sleep revisited: a random slope for `Days`
#
# In the `sleepstudy` exercise every subject had their own baseline (a random
# intercept), but all of them slowed down at the same rate. Here each subject
# also gets their own effect of `Days`, a *random coefficient*: lme4's
# `(Days | Subject)`. The model then estimates how much the subjects'
# intercepts vary, how much their slopes vary, and how the two are correlated.
#
# **How to work.** Each question is a function. Replace the `...` in its
# body with code that returns exactly what the docstring asks for, and keep
# the function's name. Run the file (or the notebook) to see your answers,
# then check them with
#
# ```bash
# simlab check exercises/sleepstudy_slopes.py
# ```
#
# The check runs the public tests and tells you which answers are off and
# why; more (hidden) tests are run when your work is graded.

# %%
import simlab

sleep = simlab.datasets.sleepstudy()  # columns Reaction, Days, Subject
sleep.head()

# %% [markdown]
# ## Q1. A random intercept and a random slope
#
# Give each subject their own intercept and their own effect of `Days`,
# drawn together from a normal distribution with a correlation:
# `Reaction ~ Days + (Days | Subject)`.

# %%
def q1_slopes_model():
    """Return the mixed model ``Reaction ~ Days + (Days | Subject)`` fitted by REML.

    Returns
    -------
    simlab.LmerResult
        The result of ``simlab.lmer`` (REML is its default).
    """
    return ...  # replace ... with your answer


print(q1_slopes_model())

# %% [markdown]
# ## Q2. Reading the model
#
# Use your model from Q1. Its `varcorr()` lists the random effects as lme4's
# `as.data.frame(VarCorr(fit))` does: columns `grp, var1, var2, vcov, sdcor`,
# one row per variance, then one per correlation, then the residual. Give
# the numbers as plain floats.

# %%
def q2_days_effect():
    """Return the fixed effect of ``Days``: the average subject's change in reaction time per day (ms)."""
    return ...  # replace ... with your answer


def q2_intercept_sd():
    """Return the standard deviation of the subjects' random intercepts (ms)."""
    return ...  # replace ... with your answer


def q2_days_sd():
    """Return the standard deviation of the subjects' random slopes for ``Days`` (ms per day)."""
    return ...  # replace ... with your answer


def q2_correlation():
    """Return the correlation of the subjects' random intercepts and random slopes."""
    return ...  # replace ... with your answer


# %% [markdown]
# **Multiple choice.** Return the letter of the best answer as a string, e.g. `"c"`.
#
# *What does the correlation of the random intercepts and slopes say?*
#
# - (a) Subjects who are slower at the start tend to slow down a little faster
#   over the days, but the correlation is weak: a subject's baseline tells
#   little about their slope.
# - (b) Subjects who are slower at the start slow down much less over the days.
# - (c) Reaction time hardly changes with `Days`.
# - (d) The model assumes independent intercepts and slopes, so the
#   correlation is zero by design.

# %%
def q2_correlation_meaning():
    """Return the letter ("a"-"d") of the right reading of the correlation."""
    return ...  # replace ... with your answer


# %% [markdown]
# ## Q3. One subject: `ranef` and `coef`
#
# `ranef()` gives each subject's random effects: how far their intercept and
# their slope lie from the average subject's. `coef()` gives each subject's
# own intercept and slope. Both have one row per subject and term (columns
# `effect`, `group`, `value`, ...). Take the first subject, `308`.

# %%
def q3_ranef_308():
    """Return subject 308's random effect for ``Days`` (its ``value`` in ``ranef()``)."""
    return ...  # replace ... with your answer


def q3_coef_308():
    """Return subject 308's own effect of ``Days`` (its ``value`` in ``coef()``, ms per day)."""
    return ...  # replace ... with your answer


# %% [markdown]
# *What does `coef` add to `ranef`?*
#
# - (a) The fixed effect: a subject's coefficient is the average subject's
#   coefficient plus that subject's random effect.
# - (b) The residual of the subject's last measurement.
# - (c) The standard error of the random effect.
# - (d) The subject's random intercept.

# %%
def q3_coef_adds():
    """Return the letter ("a"-"d") of what ``coef`` adds to ``ranef``."""
    return ...  # replace ... with your answer


# %% [markdown]
# ## Q4. Do the slopes vary? Against the random-intercept model
#
# The random-intercept model `Reaction ~ Days + (1 | Subject)` is the special
# case of Q1's model in which the slopes do not vary (and so have no
# correlation). `simlab.anova(simpler, model)` compares two such nested
# models with a likelihood-ratio test, as lme4's `anova` does.

# %%
def q4_anova():
    """Return the ``simlab.anova`` table comparing ``Reaction ~ Days + (1 | Subject)``
    (by REML) with your model of Q1.

    Returns
    -------
    pandas.DataFrame
        One row per model; columns ``npar, AIC, BIC, logLik, deviance, Chisq, Df, p``.
    """
    return ...  # replace ... with your answer


def q4_chisq():
    """Return the likelihood-ratio statistic of the comparison (the ``Chisq`` of ``q4_anova()``)."""
    return ...  # replace ... with your answer


def q4_p():
    """Return the p-value of the comparison (the ``p`` of ``q4_anova()``)."""
    return ...  # replace ... with your answer


q4_anova()
