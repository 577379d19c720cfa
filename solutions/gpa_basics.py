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
# # GPA over six semesters: from `lm` to `lmer`
#
# 200 students had their grade point average (`gpa`) recorded in six
# consecutive semesters (`occasion` 0-5; Hox, *Multilevel Analysis*). The
# rows of one student are not independent: a good student stays good. This
# walkthrough compares the ordinary regression with a mixed model that gives
# every student their own intercept.
#
# **Data.** `simlab.datasets.gpa()` reads `gpa.csv` from the folder in the
# environment variable `SIMLAB_DATA_DIR` (your instructor tells you where
# the file is), e.g. `export SIMLAB_DATA_DIR=~/course/data`.
#
# **How to work.** Each question is a function. Replace the `...` in its
# body with code that returns exactly what the docstring asks for, and keep
# the function's name. Then run `simlab check exercises/gpa_basics.py`.

# %%
import pandas as pd

import simlab

gpa = simlab.datasets.gpa()
gpa.head()

# %% [markdown]
# ## Q1. The ordinary regression

# %%
def q1_lm_coefficients():
    """Return the coefficient table of the OLS fit ``gpa ~ occasion``.

    Returns
    -------
    pandas.DataFrame
        ``simlab.lm(...).fixef``: rows ``(Intercept)``, ``occasion``; columns
        ``estimate, se, df, t, p, lower, upper``.
    """
    return simlab.lm("gpa ~ occasion", gpa).fixef  # SOLUTION


# %% [markdown]
# ## Q2. The mixed model
#
# Add a random intercept for each student: `(1 | student)`.

# %%
def q2_mixed_model():
    """Return ``gpa ~ occasion + (1 | student)`` fitted by REML with ``simlab.lmer``."""
    return simlab.lmer("gpa ~ occasion + (1 | student)", gpa)  # SOLUTION


# %% [markdown]
# ## Q3. Why the standard errors change
#
# The estimates barely move between the two models, but the standard errors do.

# %%
def q3_se_ratio():
    """Return the ratio of standard errors, mixed model over OLS, for each fixed effect.

    Returns
    -------
    pandas.Series
        Indexed by term (``(Intercept)``, ``occasion``): ``se_lmer / se_lm``.
    """
    # BEGIN SOLUTION
    lmer_se = q2_mixed_model().fixef["se"]
    lm_se = q1_lm_coefficients()["se"]
    return lmer_se / lm_se
    # END SOLUTION


# %% [markdown]
# *Why does the SE of `occasion` get smaller in the mixed model?*
#
# - (a) The mixed model uses more observations than `lm`.
# - (b) `occasion` changes within each student, so the mixed model compares each
#   student with themselves: the between-student differences no longer count
#   as noise for the slope.
# - (c) REML always gives smaller standard errors than least squares.
# - (d) The random intercepts are added to the data, which reduces its variance.
#
# *Why does the SE of the intercept get larger?*
#
# - (a) `lm` treats the 1200 rows as independent, but six rows of one student
#   carry less information about the average student than six students
#   would: the intercept's uncertainty is mostly between students.
# - (b) The mixed model estimates more parameters, and every extra parameter
#   inflates every SE.
# - (c) The intercept is a random effect in the mixed model.
# - (d) `occasion` starts at 0.

# %%
def q3_why_slope_se_shrinks():
    """Return the letter ("a"-"d") that explains the smaller SE of ``occasion``."""
    return "b"  # SOLUTION


def q3_why_intercept_se_grows():
    """Return the letter ("a"-"d") that explains the larger SE of the intercept."""
    return "a"  # SOLUTION


# %% [markdown]
# ## Q4. Confidence intervals

# %%
def q4_confint():
    """Return the 95% profile-likelihood intervals of the mixed model (lme4's default).

    Returns
    -------
    pandas.DataFrame
        ``confint()`` of the model: rows ``sd_(Intercept)|student``, ``sigma``,
        ``(Intercept)``, ``occasion``; columns ``lower, upper``.
    """
    return q2_mixed_model().confint()  # SOLUTION


# %% [markdown]
# ## Q5. Variance components and the ICC
#
# The model splits the variance of GPA (given `occasion`) into a part
# between students and a part within a student. Compare your numbers with
# the tutorial's variance components.

# %%
def q5_variance_components():
    """Return the variance-component table of the mixed model.

    Returns
    -------
    pandas.DataFrame
        ``varcomp``: columns ``group, effect, variance, sd, var_prop``; one
        row for ``student``, one for ``Residual``.
    """
    return q2_mixed_model().varcomp  # SOLUTION


def q5_icc():
    """Return the ICC: student variance / (student variance + residual variance)."""
    return q2_mixed_model().icc  # SOLUTION


# %% [markdown]
# ## Q6. Random effects and student-specific coefficients

# %%
def q6_ranef_first5():
    """Return the random effects (``ranef()``) of the first five students.

    Returns
    -------
    pandas.DataFrame
        The first five rows of ``ranef()``: columns ``group_var, effect,
        group, value, se, lower, upper``.
    """
    return q2_mixed_model().ranef().head(5)  # SOLUTION


def q6_coef_first5():
    """Return the student-specific intercepts (``coef()``) of the first five students.

    Returns
    -------
    pandas.DataFrame
        The first five rows of ``coef()``, same columns as ``ranef()``.
    """
    return q2_mixed_model().coef().head(5)  # SOLUTION


# %% [markdown]
# ## Q7. Predictions with and without random effects

# %%
def q7_predictions_student1():
    """Return the predictions for the six rows of student 1.

    Returns
    -------
    pandas.DataFrame
        Six rows (occasion 0-5, in data order) and two columns:
        ``with_random`` (the prediction using student 1's own intercept) and
        ``fixed_only`` (the population prediction, random effects left out).
    """
    # BEGIN SOLUTION
    model = q2_mixed_model()
    rows = gpa[gpa["student"] == 1]
    return pd.DataFrame({"with_random": model.predict(rows),
                         "fixed_only": model.predict(rows, random_effects=False)})
    # END SOLUTION


# %% [key]
# Answer key of ``gpa_basics``: the seed's GPA walkthrough, lm versus lmer.

from simlab.grading.authoring import Mistake, Question
from simlab.grading.authoring import reciprocal, refit, swapped

FORMULA = "gpa ~ occasion + (1 | student)"
CHOICES = ("a", "b", "c", "d")


def _gpa(ctx):
    from simlab.datasets import gpa
    return gpa()


def _icc_from_sds(ctx):
    sd = ctx.expected["q5_variance_components"]["sd"]
    return float(sd.iloc[0] / sd.sum())

TITLE = "GPA over six semesters: from lm to lmer"
DATA_FILES = ("gpa.csv",)
QUESTIONS = [
    Question("q1_lm_coefficients", "Q1: OLS coefficient table of gpa ~ occasion", 1,
             "ordinary least squares treats all 1200 rows as independent; the docstring "
             "of simlab.lm and the README section 'Use' describe its coefficient table",
             rtol=1e-6),
    Question("q2_mixed_model", "Q2: gpa ~ occasion + (1 | student) by REML", 2,
             "a random intercept gives every student their own baseline, lme4's "
             "(1 | student) term, fitted by REML, lmer's default (see the docstring of "
             "simlab.lmer)", rtol=1e-5),
    Question("q3_se_ratio", "Q3: SE ratio lmer / lm per fixed effect", 1,
             "compare the standard errors of the two models' fixed effects term by term, "
             "mixed model over OLS (Q3's docstring; the README section 'Use' names the "
             "tables)", rtol=1e-5,
             mistakes=(Mistake("the ratio is upside down: the question asks for the mixed "
                               "model's standard error over the OLS one",
                               reciprocal("q3_se_ratio")),)),
    Question("q3_why_slope_se_shrinks", "Q3: why occasion's SE shrinks (multiple choice)", 1,
             "think about what varies within a student and what only between students "
             "(the text above Q3's options)", choices=CHOICES),
    Question("q3_why_intercept_se_grows", "Q3: why the intercept's SE grows (multiple choice)",
             1, "how much do six rows of one student tell you about the average student? "
             "(the text above Q3's options)", choices=CHOICES, visibility="hidden"),
    Question("q4_confint", "Q4: 95% profile intervals", 2,
             "lme4's default intervals profile the likelihood; the docstring of "
             "simlab.LmerResult.confint describes its methods", rtol=1e-4,
             mistakes=(Mistake("these are Wald intervals; lme4's default, and the question's, "
                               "is the profile likelihood (see the methods in the docstring "
                               "of simlab.LmerResult.confint)",
                               refit(_gpa, FORMULA, lambda fit: fit.confint(method="wald"),
                                     reml=True)),)),
    Question("q5_variance_components", "Q5: variance components", 1,
             "the variance components are the model's table of the student and residual "
             "variances and sds (the README section 'Use'; the docstring of "
             "simlab.LmerResult.varcomp)", rtol=1e-5,
             mistakes=(Mistake("these are maximum-likelihood variances; the model is fitted "
                               "by REML, lmer's default",
                               refit(_gpa, FORMULA, lambda fit: fit.varcomp)),)),
    Question("q5_icc", "Q5: the ICC, the share of the variance between students", 1,
             "the ICC is the share of the total variance that lies between students, a "
             "ratio of variances (the docstring of simlab.LmerResult.icc)",
             atol=0.005, published=0.064 / 0.122,
             mistakes=(Mistake("you used the standard deviations; the ICC is a ratio of "
                               "variances", _icc_from_sds),)),
    Question("q6_ranef_first5", "Q6: ranef() of the first five students", 1,
             "a random effect is a student's deviation from the fixed intercept, lme4's "
             "ranef (the docstring of simlab.LmerResult.ranef)", rtol=1e-5,
             mistakes=(Mistake("these are the student-specific intercepts (lme4's coef: "
                               "fixed intercept plus random effect); the random effects are "
                               "the deviations from the fixed intercept",
                               lambda ctx: ctx.expected["q6_coef_first5"]),)),
    Question("q6_coef_first5", "Q6: coef() of the first five students", 1,
             "a student's own intercept is the fixed intercept plus their random effect, "
             "lme4's coef (the docstring of simlab.LmerResult.coef)", rtol=1e-5,
             visibility="hidden",
             mistakes=(Mistake("these are the random effects, the deviations (lme4's "
                               "ranef); the student-specific intercepts add the fixed "
                               "intercept", lambda ctx: ctx.expected["q6_ranef_first5"]),)),
    Question("q7_predictions_student1", "Q7: predictions for student 1, with and without "
             "random effects", 2,
             "a prediction with random effects uses the student's own intercept, the "
             "population prediction leaves it out (the docstring of "
             "simlab.LmerResult.predict)", rtol=1e-6, visibility="hidden",
             mistakes=(Mistake("the two columns are swapped: the prediction with random "
                               "effects includes the student's own intercept",
                               swapped("q7_predictions_student1", "with_random",
                                       "fixed_only")),)),
]
