"""Answer key of ``gpa_basics``: the seed's GPA walkthrough, lm versus lmer."""
from __future__ import annotations

from ..questions import ExerciseKey, Mistake, Question
from ._mistakes import refit, swapped

FORMULA = "gpa ~ occasion + (1 | student)"
CHOICES = ("a", "b", "c", "d")


def _gpa(ctx):
    from simlab.datasets import gpa
    return gpa()


def _icc_from_sds(ctx):
    sd = ctx.expected["q5_variance_components"]["sd"]
    return float(sd.iloc[0] / sd.sum())


KEY = ExerciseKey(
    name="gpa_basics",
    title="GPA over six semesters: from lm to lmer",
    data_files=("gpa.csv",),
    questions=(
        Question("q1_lm_coefficients", "Q1: OLS coefficient table of gpa ~ occasion", 1,
                 "use simlab.lm('gpa ~ occasion', gpa).coef", rtol=1e-6),
        Question("q2_mixed_model", "Q2: gpa ~ occasion + (1 | student) by REML", 2,
                 "use simlab.lmer with (1 | student) and the default REML", rtol=1e-5),
        Question("q3_se_ratio", "Q3: SE ratio lmer / lm per fixed effect", 1,
                 "divide the se column of the mixed model's fixef by the lm se, term by term",
                 rtol=1e-5,
                 mistakes=(Mistake("the ratio is upside down: divide the lmer se by the lm se",
                                   lambda ctx: 1 / ctx.expected["q3_se_ratio"]),)),
        Question("q3_why_slope_se_shrinks", "Q3: why occasion's SE shrinks (multiple choice)", 1,
                 "think about what varies within a student and what only between students",
                 choices=CHOICES),
        Question("q3_why_intercept_se_grows", "Q3: why the intercept's SE grows (multiple choice)",
                 1, "how much do six rows of one student tell you about the average student?",
                 choices=CHOICES, visibility="hidden"),
        Question("q4_confint", "Q4: 95% profile intervals", 2,
                 "call confint() on the mixed model; profile is the default method", rtol=1e-4,
                 mistakes=(Mistake("these are Wald intervals; lme4's default, and the question's, "
                                   "is the profile likelihood: call confint() without 'wald'",
                                   refit(_gpa, FORMULA, lambda fit: fit.confint("wald"),
                                         reml=True)),)),
        Question("q5_variance_components", "Q5: variance components", 1,
                 "the model's varcomp table", rtol=1e-5,
                 mistakes=(Mistake("these are ML variances; fit by REML, lmer's default",
                                   refit(_gpa, FORMULA, lambda fit: fit.varcomp)),)),
        Question("q5_icc", "Q5: the ICC (the tutorial: 0.064 / 0.122, about 52%)", 1,
                 "ICC = student variance / (student + residual variance)",
                 atol=0.005, published=0.064 / 0.122,
                 mistakes=(Mistake("you used the standard deviations; the ICC is a ratio of "
                                   "variances", _icc_from_sds),)),
        Question("q6_ranef_first5", "Q6: ranef() of the first five students", 1,
                 "the first five rows of the model's ranef()", rtol=1e-5,
                 mistakes=(Mistake("this is coef() (fixed intercept plus random effect); "
                                   "ranef() is the deviation from the fixed intercept",
                                   lambda ctx: ctx.expected["q6_coef_first5"]),)),
        Question("q6_coef_first5", "Q6: coef() of the first five students", 1,
                 "the first five rows of the model's coef()", rtol=1e-5, visibility="hidden",
                 mistakes=(Mistake("this is ranef(), the deviations; coef() adds the fixed "
                                   "intercept", lambda ctx: ctx.expected["q6_ranef_first5"]),)),
        Question("q7_predictions_student1", "Q7: predictions for student 1, with and without "
                 "random effects", 2,
                 "predict(rows) uses the student's intercept; predict(rows, random_effects=False) "
                 "does not", rtol=1e-6, visibility="hidden",
                 mistakes=(Mistake("the two columns are swapped: with_random includes the "
                                   "student's own intercept",
                                   swapped("q7_predictions_student1", "with_random",
                                           "fixed_only")),)),
    ),
)
