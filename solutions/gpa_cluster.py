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
    return simlab.lmer("gpa ~ occasion + sex + (1 | student)", gpa)  # SOLUTION


def q2_highgpa_model():
    """Return ``gpa ~ occasion + highgpa + (1 | student)`` fitted by REML."""
    return simlab.lmer("gpa ~ occasion + highgpa + (1 | student)", gpa)  # SOLUTION


def q3_both_model():
    """Return ``gpa ~ occasion + sex + highgpa + (1 | student)`` fitted by REML."""
    return simlab.lmer("gpa ~ occasion + sex + highgpa + (1 | student)", gpa)  # SOLUTION


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
    # BEGIN SOLUTION
    models = {"base": simlab.lmer(BASE, gpa), "sex": q1_sex_model(),
              "highgpa": q2_highgpa_model(), "both": q3_both_model()}
    return pd.Series({name: model.tau ** 2 for name, model in models.items()})
    # END SOLUTION


def q4_proportional_reduction():
    """Return the proportional reduction of the student variance against the base model.

    Returns
    -------
    pandas.Series
        Indexed ``sex``, ``highgpa``, ``both``:
        ``(variance_base - variance_model) / variance_base``.
    """
    # BEGIN SOLUTION
    variance = q4_student_variance()
    return (variance["base"] - variance.drop("base")) / variance["base"]
    # END SOLUTION


def q4_residual_variance_change():
    """Return the relative change of the residual variance from base to ``both``.

    Returns
    -------
    float
        ``(sigma2_both - sigma2_base) / sigma2_base``.
    """
    # BEGIN SOLUTION
    base, both = simlab.lmer(BASE, gpa).sigma ** 2, q3_both_model().sigma ** 2
    return (both - base) / base
    # END SOLUTION


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
    return "a"  # SOLUTION


def q5_sex_meaning():
    """Return the letter ("a"-"d") of the right reading of ``sexfemale``."""
    return "c"  # SOLUTION


def q5_why_variance_shrinks():
    """Return the letter ("a"-"d") explaining why the student variance shrinks."""
    return "a"  # SOLUTION


def q5_occasion_stable():
    """Return the letter ("a"-"d") explaining why the ``occasion`` coefficient does not move."""
    return "a"  # SOLUTION


def q5_sex_effect():
    """Return the ``sexfemale`` estimate of the ``both`` model (GPA points)."""
    return q3_both_model().fixef.loc["sexfemale", "estimate"]  # SOLUTION


def q5_highgpa_effect():
    """Return the ``highgpa`` estimate of the ``both`` model (GPA points per high-school point)."""
    return q3_both_model().fixef.loc["highgpa", "estimate"]  # SOLUTION


# %% [key]
# Answer key of ``gpa_cluster``: student-level covariates and the student variance.

from simlab.grading.authoring import Mistake, Question

CHOICES = ("a", "b", "c", "d")
_REML = ("a student-level covariate enters the fixed part of the random-intercept model, "
         "fitted by REML, lmer's default (the question's docstring names the model; see the "
         "docstring of simlab.lmer)")


def _sd_reduction(ctx):
    sd = ctx.expected["q4_student_variance"] ** 0.5
    return (sd["base"] - sd.drop("base")) / sd["base"]


def _against_new_model(ctx):
    variance = ctx.expected["q4_student_variance"]
    return (variance["base"] - variance.drop("base")) / variance.drop("base")

TITLE = "GPA: student-level (cluster) covariates"
DATA_FILES = ("gpa.csv",)
QUESTIONS = [
    Question("q1_sex_model", "Q1: gpa ~ occasion + sex + (1 | student)", 1, _REML,
             rtol=1e-5),
    Question("q2_highgpa_model", "Q2: gpa ~ occasion + highgpa + (1 | student)", 1, _REML,
             rtol=1e-5),
    Question("q3_both_model", "Q3: gpa ~ occasion + sex + highgpa + (1 | student)", 1, _REML,
             rtol=1e-5, visibility="hidden"),
    Question("q4_student_variance", "Q4: student variance of each model", 2,
             "the student variance is the random intercept's variance, the square of its "
             "sd (the variance components in the README section 'Use')", rtol=1e-5,
             mistakes=(Mistake("these are standard deviations; the question asks for "
                               "variances (square them)",
                               lambda ctx: ctx.expected["q4_student_variance"] ** 0.5),)),
    Question("q4_proportional_reduction", "Q4: proportional reduction of the student "
             "variance", 2, "the reduction is the part of the base model's student "
             "variance that the covariates explain, as a share of the base model's "
             "(Q4's docstring defines it)", rtol=1e-4,
             mistakes=(Mistake("you used standard deviations; the proportional reduction "
                               "compares variances", _sd_reduction),
                       Mistake("divide by the base model's variance, not the new model's",
                               _against_new_model),
                       Mistake("the sign is flipped: a reduction is base minus model",
                               lambda ctx: -ctx.expected["q4_proportional_reduction"]))),
    Question("q4_residual_variance_change", "Q4: relative change of the residual variance",
             1, "the change of the residual variance (sigma squared) from the base model to "
             "the model with both covariates, as a share of the base model's (the "
             "question's docstring)", rtol=1e-3,
             atol=1e-6, visibility="hidden"),
    Question("q5_residual_meaning", "Q5: why the residual variance hardly changes "
             "(multiple choice)", 1, "what varies within a student? (the introduction: "
             "both covariates are constant within a student)", choices=CHOICES),
    Question("q5_sex_meaning", "Q5: reading sexfemale (multiple choice)", 1,
             "a coefficient compares groups at equal values of the other covariates (the "
             "introduction names the reference level)",
             choices=CHOICES, visibility="hidden"),
    Question("q5_why_variance_shrinks", "Q5: why the student variance shrinks (multiple "
             "choice)", 1, "what do the random intercepts stand for? (the docstring of "
             "simlab.lmer)", choices=CHOICES),
    Question("q5_occasion_stable", "Q5: why the occasion coefficient does not move "
             "(multiple choice)", 1, "is occasion related to sex or highgpa in this design? "
             "(the introduction of the GPA walkthrough describes the design)",
             choices=CHOICES, visibility="hidden"),
    Question("q5_sex_effect", "Q5: sexfemale estimate of the both model", 1,
             "a fixed effect is read from the fixed-effects table of the model with both "
             "covariates (the README section 'Use')", rtol=1e-5),
    Question("q5_highgpa_effect", "Q5: highgpa estimate of the both model", 1,
             "a fixed effect is read from the fixed-effects table of the model with both "
             "covariates (the README section 'Use')", rtol=1e-5, visibility="hidden"),
]
