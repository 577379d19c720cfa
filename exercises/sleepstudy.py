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
# # Sleep deprivation and reaction time (lme4's `sleepstudy`)
#
# Eighteen subjects were kept short of sleep for ten days (`Days` 0-9), and
# their mean reaction time (`Reaction`, in ms) was measured every day
# (Belenky et al., 2003). Each subject contributes ten correlated rows.
#
# **How to work.** Each question is a function. Replace the `...` in its
# body with code that returns exactly what the docstring asks for, and keep
# the function's name. Run the file (or the notebook) to see your answers,
# then check them with
#
# ```bash
# simlab check exercises/sleepstudy.py
# ```
#
# The check runs the public tests and tells you which answers are off and
# why; more (hidden) tests are run when your work is graded.

# %%
import pandas as pd

import simlab

sleep = simlab.datasets.sleepstudy()  # columns Reaction, Days, Subject
sleep.head()

# %% [markdown]
# ## Q1. The ordinary regression
#
# Fit the regression of `Reaction` on `Days` that ignores who was measured.

# %%
def q1_lm_coefficients():
    """Return the coefficient table of the OLS fit ``Reaction ~ Days``.

    Returns
    -------
    pandas.DataFrame
        ``simlab.lm(...).fixef``: one row per term (``(Intercept)``, ``Days``)
        and the columns ``estimate, se, df, t, p, lower, upper``.
    """
    return ...  # replace ... with your answer


q1_lm_coefficients()

# %% [markdown]
# ## Q2. A random intercept for each subject
#
# Subjects differ in their baseline speed. Give each subject its own
# intercept, drawn from a normal distribution: `(1 | Subject)`.

# %%
def q2_random_intercept_model():
    """Return the mixed model ``Reaction ~ Days + (1 | Subject)`` fitted by REML.

    Returns
    -------
    simlab.LmerResult
        The result of ``simlab.lmer`` (REML is its default).
    """
    return ...  # replace ... with your answer


print(q2_random_intercept_model())

# %% [markdown]
# ## Q3. Reading the model
#
# Use your model from Q2. Give the numbers as plain floats.

# %%
def q3_subject_sd():
    """Return the standard deviation of the subjects' random intercepts (ms)."""
    return ...  # replace ... with your answer


def q3_residual_sd():
    """Return the residual standard deviation (ms)."""
    return ...  # replace ... with your answer


def q3_icc():
    """Return the intraclass correlation: subject variance / (subject + residual variance)."""
    return ...  # replace ... with your answer


def q3_days_effect():
    """Return the fixed effect of ``Days``: the change in mean reaction time per day (ms)."""
    return ...  # replace ... with your answer


# %% [markdown]
# **Multiple choice.** Return the letter of the best answer as a string, e.g. `"c"`.
#
# *What does the ICC say?*
#
# - (a) About 59% of the variance in reaction time, given `Days`, lies between
#   subjects: two measurements of the same subject correlate about 0.59.
# - (b) Reaction time grows by 59% per day of sleep deprivation.
# - (c) 59% of the subjects have a random intercept different from zero.
# - (d) The model explains 59% of the variance of reaction time.
#
# *How do you read the `Days` coefficient?*
#
# - (a) Each subject's reaction time is 10.5 ms at day 0.
# - (b) On average over subjects, each further day without enough sleep adds
#   about 10.5 ms to the mean reaction time.
# - (c) `Days` explains 10.5% of the variance.
# - (d) Subjects differ by 10.5 ms on average.

# %%
def q3_icc_meaning():
    """Return the letter ("a"-"d") of the right reading of the ICC."""
    return ...  # replace ... with your answer


def q3_days_meaning():
    """Return the letter ("a"-"d") of the right reading of the ``Days`` coefficient."""
    return ...  # replace ... with your answer


# %% [markdown]
# ## Q4. Why the standard error of `Days` shrinks
#
# The estimate of the `Days` effect is the same in the regression (Q1) and
# in the mixed model (Q2), but its standard error is not. The tutorial
# compares the two.

# %%
def q4_days_se():
    """Return the standard error of the ``Days`` coefficient in both fits (ms per day).

    Returns
    -------
    pandas.Series
        Indexed ``lm`` (the OLS fit of Q1) and ``lmer`` (the mixed model of Q2).
    """
    return ...  # replace ... with your answer


def q4_days_se_ratio():
    """Return the SE of ``Days`` in the mixed model divided by its SE in the OLS fit.

    Returns
    -------
    float
        ``se_lmer / se_lm``: below 1 if the mixed model's SE is smaller.
    """
    return ...  # replace ... with your answer


# %% [markdown]
# *Why is the SE of `Days` smaller in the mixed model?*
#
# - (a) The mixed model uses more observations than the regression.
# - (b) REML always gives smaller standard errors than least squares.
# - (c) Subjects differ a lot in their baseline reaction time. The regression
#   counts those differences as residual noise; the random intercept absorbs
#   them. `Days` varies within each subject, so its effect is estimated by
#   comparing each subject with themselves, against the smaller
#   within-subject noise only.
# - (d) The mixed model's `Days` estimate is larger, and a larger estimate
#   has a smaller standard error.

# %%
def q4_why_days_se_shrinks():
    """Return the letter ("a"-"d") that explains the smaller SE of ``Days``."""
    return ...  # replace ... with your answer
