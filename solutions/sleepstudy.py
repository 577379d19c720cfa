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
    return simlab.lm("Reaction ~ Days", sleep).fixef  # SOLUTION


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
    return simlab.lmer("Reaction ~ Days + (1 | Subject)", sleep)  # SOLUTION


print(q2_random_intercept_model())

# %% [markdown]
# ## Q3. Reading the model
#
# Use your model from Q2. Give the numbers as plain floats.

# %%
def q3_subject_sd():
    """Return the standard deviation of the subjects' random intercepts (ms)."""
    return q2_random_intercept_model().tau  # SOLUTION


def q3_residual_sd():
    """Return the residual standard deviation (ms)."""
    return q2_random_intercept_model().sigma  # SOLUTION


def q3_icc():
    """Return the intraclass correlation: subject variance / (subject + residual variance)."""
    return q2_random_intercept_model().icc  # SOLUTION


def q3_days_effect():
    """Return the fixed effect of ``Days``: the change in mean reaction time per day (ms)."""
    return q2_random_intercept_model().fixef.loc["Days", "estimate"]  # SOLUTION


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
    return "a"  # SOLUTION


def q3_days_meaning():
    """Return the letter ("a"-"d") of the right reading of the ``Days`` coefficient."""
    return "b"  # SOLUTION


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
    # BEGIN SOLUTION
    lm_se = q1_lm_coefficients().loc["Days", "se"]
    lmer_se = q2_random_intercept_model().fixef.loc["Days", "se"]
    return pd.Series({"lm": lm_se, "lmer": lmer_se})
    # END SOLUTION


def q4_days_se_ratio():
    """Return the SE of ``Days`` in the mixed model divided by its SE in the OLS fit.

    Returns
    -------
    float
        ``se_lmer / se_lm``: below 1 if the mixed model's SE is smaller.
    """
    # BEGIN SOLUTION
    se = q4_days_se()
    return se["lmer"] / se["lm"]
    # END SOLUTION


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
    return "c"  # SOLUTION


# %% [key]
# Answer key of ``sleepstudy``: OLS vs a random intercept for Subject, its reading, and
# why the standard error of ``Days`` shrinks.

from simlab.grading.authoring import Mistake, Question
from simlab.grading.authoring import reciprocal, refit, sd_ratio_icc, squared, swapped

FORMULA = "Reaction ~ Days + (1 | Subject)"


def _sleep(ctx):
    from simlab.datasets import sleepstudy
    return sleepstudy()


_ML = ("this is the maximum-likelihood (ML) estimate; the model is fitted by REML, lmer's "
       "default criterion (see the docstring of simlab.lmer)")
CHOICES = ("a", "b", "c", "d")

TITLE = "Sleep deprivation and reaction time"
QUESTIONS = [
    Question("q1_lm_coefficients", "Q1: OLS coefficient table of Reaction ~ Days", 2,
             "ordinary least squares ignores who was measured; the docstring of simlab.lm "
             "and the README section 'Use' describe its coefficient table", rtol=1e-6),
    Question("q2_random_intercept_model", "Q2: Reaction ~ Days + (1 | Subject) by REML", 3,
             "a random intercept gives every subject their own baseline, lme4's "
             "(1 | Subject) term, fitted by REML, lmer's default (see the docstring of "
             "simlab.lmer)", rtol=1e-5),
    Question("q3_subject_sd", "Q3: sd of the subject intercepts", 1,
             "the spread of the subjects' intercepts is the random intercept's standard "
             "deviation, tau (the variance components in the README section 'Use')",
             rtol=1e-5,
             mistakes=(Mistake("you gave the variance; the question asks for the standard "
                               "deviation, its square root", squared("q3_subject_sd")),
                       Mistake(_ML, refit(_sleep, FORMULA, lambda fit: fit.tau)))),
    Question("q3_residual_sd", "Q3: residual sd", 1,
             "the residual sd, sigma, is the spread of a subject's measurements around "
             "their own line (the Residual row of the variance components, README "
             "section 'Use')", rtol=1e-5,
             mistakes=(Mistake("you gave the residual variance; the question asks for the "
                               "standard deviation", squared("q3_residual_sd")),
                       Mistake(_ML, refit(_sleep, FORMULA, lambda fit: fit.sigma)))),
    Question("q3_icc", "Q3: intraclass correlation", 1,
             "the ICC is the share of the total variance that lies between subjects, a "
             "ratio of variances (the docstring of simlab.LmerResult.icc)", rtol=1e-5,
             visibility="hidden",
             mistakes=(Mistake("you used the standard deviations; the ICC is a ratio of "
                               "variances (square them)", sd_ratio_icc("q3_subject_sd",
                                                                       "q3_residual_sd")),)),
    Question("q3_days_effect", "Q3: fixed effect of Days", 1,
             "a fixed effect describes the average subject; read it from the mixed model's "
             "fixed-effects table (the README section 'Use')", rtol=1e-5,
             visibility="hidden"),
    Question("q3_icc_meaning", "Q3: what the ICC says (multiple choice)", 1,
             "the ICC is the share of the variance that lies between subjects (the "
             "docstring of simlab.LmerResult.icc)", choices=CHOICES),
    Question("q3_days_meaning", "Q3: reading the Days coefficient (multiple choice)", 1,
             "a fixed effect describes the average subject (the text above Q3's options)",
             choices=CHOICES, visibility="hidden"),
    Question("q4_days_se", "Q4: SE of Days in the regression and in the mixed model", 1,
             "each fit's table of coefficients has a standard-error column; take the Days "
             "row of the OLS fit (Q1) and of the mixed model (Q2) (the README section "
             "'Use')", rtol=1e-5,
             mistakes=(Mistake("the two labels are swapped: lm is the regression of Q1, "
                               "lmer the mixed model of Q2",
                               swapped("q4_days_se", "lm", "lmer")),)),
    Question("q4_days_se_ratio", "Q4: SE of Days, mixed model over regression", 1,
             "divide the mixed model's standard error of Days by the regression's (Q4's "
             "docstring)", rtol=1e-5,
             mistakes=(Mistake("the ratio is upside down: the question asks for the mixed "
                               "model's standard error over the regression's",
                               reciprocal("q4_days_se_ratio")),)),
    Question("q4_why_days_se_shrinks", "Q4: why the SE of Days shrinks (multiple choice)",
             1, "Days changes within each subject, while the baselines differ between "
             "subjects: what does the random intercept take out of the residual? (the text "
             "above Q4's options)", choices=CHOICES),
]
