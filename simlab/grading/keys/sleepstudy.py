"""Answer key of ``sleepstudy``: OLS vs a random intercept for Subject, its reading, and
why the standard error of ``Days`` shrinks."""
from __future__ import annotations

from ..questions import ExerciseKey, Mistake, Question
from ._mistakes import reciprocal, refit, sd_ratio_icc, squared, swapped

FORMULA = "Reaction ~ Days + (1 | Subject)"


def _sleep(ctx):
    from simlab.datasets import sleepstudy
    return sleepstudy()


_ML = ("this is the maximum-likelihood (ML) estimate; the model is fitted by REML, lmer's "
       "default criterion (see the docstring of simlab.lmer)")
CHOICES = ("a", "b", "c", "d")

KEY = ExerciseKey(
    name="sleepstudy",
    title="Sleep deprivation and reaction time",
    questions=(
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
    ),
)
