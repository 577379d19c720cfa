"""Answer key of ``gpa_basics``: the seed's GPA walkthrough, lm versus lmer."""
from __future__ import annotations

from ..questions import ExerciseKey, Mistake, Question
from ._mistakes import reciprocal, refit, swapped

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
                                   refit(_gpa, FORMULA, lambda fit: fit.confint("wald"),
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
    ),
)
