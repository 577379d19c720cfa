"""Answer key of ``sleepstudy``: OLS vs a random intercept for Subject, and its reading."""
from __future__ import annotations

from ..questions import ExerciseKey, Mistake, Question
from ._mistakes import refit, sd_ratio_icc, squared

FORMULA = "Reaction ~ Days + (1 | Subject)"


def _sleep(ctx):
    from simlab.datasets import sleepstudy
    return sleepstudy()


_ML = "this is the ML estimate; fit by REML, lmer's default (do not pass reml=False)"

KEY = ExerciseKey(
    name="sleepstudy",
    title="Sleep deprivation and reaction time",
    questions=(
        Question("q1_lm_coefficients", "Q1: OLS coefficient table of Reaction ~ Days", 2,
                 "use simlab.lm('Reaction ~ Days', sleep).coef", rtol=1e-6),
        Question("q2_random_intercept_model", "Q2: Reaction ~ Days + (1 | Subject) by REML", 3,
                 "use simlab.lmer with the random term (1 | Subject) and the default REML",
                 rtol=1e-5),
        Question("q3_subject_sd", "Q3: sd of the subject intercepts", 1,
                 "read the model's tau (or the sd column of varcomp for Subject)", rtol=1e-5,
                 mistakes=(Mistake("you gave the variance; the question asks for the standard "
                                   "deviation, its square root", squared("q3_subject_sd")),
                           Mistake(_ML, refit(_sleep, FORMULA, lambda fit: fit.tau)))),
        Question("q3_residual_sd", "Q3: residual sd", 1,
                 "read the model's sigma (the Residual row of varcomp)", rtol=1e-5,
                 mistakes=(Mistake("you gave the residual variance; the question asks for the "
                                   "standard deviation", squared("q3_residual_sd")),
                           Mistake(_ML, refit(_sleep, FORMULA, lambda fit: fit.sigma)))),
        Question("q3_icc", "Q3: intraclass correlation", 1,
                 "ICC = tau^2 / (tau^2 + sigma^2), a ratio of variances", rtol=1e-5,
                 visibility="hidden",
                 mistakes=(Mistake("you used the standard deviations; the ICC is a ratio of "
                                   "variances (square them)", sd_ratio_icc("q3_subject_sd",
                                                                           "q3_residual_sd")),)),
        Question("q3_days_effect", "Q3: fixed effect of Days", 1,
                 "take the estimate of the Days row of fixef", rtol=1e-5, visibility="hidden"),
        Question("q3_icc_meaning", "Q3: what the ICC says (multiple choice)", 1,
                 "the ICC is the share of the variance that lies between subjects",
                 choices=("a", "b", "c", "d")),
        Question("q3_days_meaning", "Q3: reading the Days coefficient (multiple choice)", 1,
                 "a fixed effect describes the average subject", choices=("a", "b", "c", "d"),
                 visibility="hidden"),
    ),
)
