"""Answer key of ``gpa_cluster``: student-level covariates and the student variance."""
from __future__ import annotations

from ..questions import ExerciseKey, Mistake, Question

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


KEY = ExerciseKey(
    name="gpa_cluster",
    title="GPA: student-level (cluster) covariates",
    data_files=("gpa.csv",),
    questions=(
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
    ),
)
