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
    return ...  # replace ... with your answer


# %% [markdown]
# ## Q2. The mixed model
#
# Add a random intercept for each student: `(1 | student)`.

# %%
def q2_mixed_model():
    """Return ``gpa ~ occasion + (1 | student)`` fitted by REML with ``simlab.lmer``."""
    return ...  # replace ... with your answer


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
    return ...  # replace ... with your answer


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
    return ...  # replace ... with your answer


def q3_why_intercept_se_grows():
    """Return the letter ("a"-"d") that explains the larger SE of the intercept."""
    return ...  # replace ... with your answer


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
    return ...  # replace ... with your answer


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
    return ...  # replace ... with your answer


def q5_icc():
    """Return the ICC: student variance / (student variance + residual variance)."""
    return ...  # replace ... with your answer


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
    return ...  # replace ... with your answer


def q6_coef_first5():
    """Return the student-specific intercepts (``coef()``) of the first five students.

    Returns
    -------
    pandas.DataFrame
        The first five rows of ``coef()``, same columns as ``ranef()``.
    """
    return ...  # replace ... with your answer


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
    return ...  # replace ... with your answer
