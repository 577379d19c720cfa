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
# # GPA: student-level (cluster) covariates
#
# Start from `gpa ~ occasion + (1 | student)` (see `gpa_basics`) and add two
# covariates that describe the *student*, not the semester: `sex` (male,
# female; male is the reference level) and `highgpa` (the high-school GPA).
# Both are constant within a student. What happens to the student variance?
#
# **How to work.** Replace each `...` with code that returns what the
# docstring asks for; keep the function names. The data come from
# `$SIMLAB_DATA_DIR` as in `gpa_basics`. Check your work with
# `simlab check exercises/gpa_cluster.py`.

# %%
import pandas as pd

import simlab

gpa = simlab.datasets.gpa()
BASE = "gpa ~ occasion + (1 | student)"

# %% [markdown]
# ## Q1-Q3. Three models

# %%
def q1_sex_model():
    """Return ``gpa ~ occasion + sex + (1 | student)`` fitted by REML."""
    return ...  # replace ... with your answer


def q2_highgpa_model():
    """Return ``gpa ~ occasion + highgpa + (1 | student)`` fitted by REML."""
    return ...  # replace ... with your answer


def q3_both_model():
    """Return ``gpa ~ occasion + sex + highgpa + (1 | student)`` fitted by REML."""
    return ...  # replace ... with your answer


# %% [markdown]
# ## Q4. What happened to the student variance?

# %%
def q4_student_variance():
    """Return the estimated student (random-intercept) variance of each model.

    Returns
    -------
    pandas.Series
        Indexed ``base`` (the model of gpa_basics), ``sex``, ``highgpa``, ``both``.
    """
    return ...  # replace ... with your answer


def q4_proportional_reduction():
    """Return the proportional reduction of the student variance against the base model.

    Returns
    -------
    pandas.Series
        Indexed ``sex``, ``highgpa``, ``both``:
        ``(variance_base - variance_model) / variance_base``.
    """
    return ...  # replace ... with your answer


def q4_residual_variance_change():
    """Return the relative change of the residual variance from base to ``both``.

    Returns
    -------
    float
        ``(sigma2_both - sigma2_base) / sigma2_base``.
    """
    return ...  # replace ... with your answer


# %% [markdown]
# ## Q5. Interpret every part
#
# *Why does adding `sex` and `highgpa` hardly change the residual variance?*
#
# - (a) They are measured once per student, so they can only explain why
#   students differ from each other, not why a student's GPA varies from
#   semester to semester.
# - (b) Their effects are not significant.
# - (c) The residual variance is fixed by REML.
# - (d) They are correlated with `occasion`.
#
# *What does the `sexfemale` coefficient of the `both` model mean?*
#
# - (a) Female students' GPA grows faster over the semesters.
# - (b) 15.6% of the students are female.
# - (c) At the same occasion and high-school GPA, female students' GPA is
#   on average about 0.16 points higher than male students'.
# - (d) Sex explains 0.16 of the student variance.
#
# *Adding `sex` alone reduced the student variance by about 8%. Why does adding
# a covariate shrink the random-intercept variance at all?*
#
# - (a) The random intercepts absorb every student-level difference the model
#   does not explain; a covariate that explains some of them leaves less
#   unexplained variation between students.
# - (b) Adding any term to a model reduces every variance.
# - (c) Because sex has two levels, the variance is divided by two.
# - (d) The number of students changes.
#
# *Why does the `occasion` coefficient stay at about 0.106 in all four models?*
#
# - (a) Every student was measured at the same six occasions, so `occasion`
#   is unrelated to any student-level covariate: adjusting for `sex` or
#   `highgpa` cannot change its estimate.
# - (b) REML fixes the first coefficient.
# - (c) `occasion` is a random effect.
# - (d) The new covariates are not significant.

# %%
def q5_residual_meaning():
    """Return the letter ("a"-"d") explaining why the residual variance hardly changes."""
    return ...  # replace ... with your answer


def q5_sex_meaning():
    """Return the letter ("a"-"d") of the right reading of ``sexfemale``."""
    return ...  # replace ... with your answer


def q5_why_variance_shrinks():
    """Return the letter ("a"-"d") explaining why the student variance shrinks."""
    return ...  # replace ... with your answer


def q5_occasion_stable():
    """Return the letter ("a"-"d") explaining why the ``occasion`` coefficient does not move."""
    return ...  # replace ... with your answer


def q5_sex_effect():
    """Return the ``sexfemale`` estimate of the ``both`` model (GPA points)."""
    return ...  # replace ... with your answer


def q5_highgpa_effect():
    """Return the ``highgpa`` estimate of the ``both`` model (GPA points per high-school point)."""
    return ...  # replace ... with your answer
