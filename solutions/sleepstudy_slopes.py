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
# # Sleep revisited: a random slope for `Days`
#
# In the `sleepstudy` exercise every subject had their own baseline (a random
# intercept), but all of them slowed down at the same rate. Here each subject
# also gets their own effect of `Days`, a *random coefficient*: lme4's
# `(Days | Subject)`. The model then estimates how much the subjects'
# intercepts vary, how much their slopes vary, and how the two are correlated.
#
# **How to work.** Each question is a function. Replace the `...` in its
# body with code that returns exactly what the docstring asks for, and keep
# the function's name. Run the file (or the notebook) to see your answers,
# then check them with
#
# ```bash
# simlab check exercises/sleepstudy_slopes.py
# ```
#
# The check runs the public tests and tells you which answers are off and
# why; more (hidden) tests are run when your work is graded.

# %%
import simlab

sleep = simlab.datasets.sleepstudy()  # columns Reaction, Days, Subject
sleep.head()

# %% [markdown]
# ## Q1. A random intercept and a random slope
#
# Give each subject their own intercept and their own effect of `Days`,
# drawn together from a normal distribution with a correlation:
# `Reaction ~ Days + (Days | Subject)`.

# %%
def q1_slopes_model():
    """Return the mixed model ``Reaction ~ Days + (Days | Subject)`` fitted by REML.

    Returns
    -------
    simlab.LmerResult
        The result of ``simlab.lmer`` (REML is its default).
    """
    return simlab.lmer("Reaction ~ Days + (Days | Subject)", sleep)  # SOLUTION


print(q1_slopes_model())

# %% [markdown]
# ## Q2. Reading the model
#
# Use your model from Q1. Its `varcorr()` lists the random effects as lme4's
# `as.data.frame(VarCorr(fit))` does: columns `grp, var1, var2, vcov, sdcor`,
# one row per variance, then one per correlation, then the residual. Give
# the numbers as plain floats.

# %%
def q2_days_effect():
    """Return the fixed effect of ``Days``: the average subject's change in reaction time per day (ms)."""
    return q1_slopes_model().fixef.loc["Days", "estimate"]  # SOLUTION


def q2_intercept_sd():
    """Return the standard deviation of the subjects' random intercepts (ms)."""
    # BEGIN SOLUTION
    vc = q1_slopes_model().varcorr()
    return vc.loc[(vc["var1"] == "(Intercept)") & vc["var2"].isna(), "sdcor"].item()
    # END SOLUTION


def q2_days_sd():
    """Return the standard deviation of the subjects' random slopes for ``Days`` (ms per day)."""
    # BEGIN SOLUTION
    vc = q1_slopes_model().varcorr()
    return vc.loc[(vc["var1"] == "Days") & vc["var2"].isna(), "sdcor"].item()
    # END SOLUTION


def q2_correlation():
    """Return the correlation of the subjects' random intercepts and random slopes."""
    # BEGIN SOLUTION
    vc = q1_slopes_model().varcorr()
    return vc.loc[vc["var2"].notna(), "sdcor"].item()
    # END SOLUTION


# %% [markdown]
# **Multiple choice.** Return the letter of the best answer as a string, e.g. `"c"`.
#
# *What does the correlation of the random intercepts and slopes say?*
#
# - (a) Subjects who are slower at the start tend to slow down a little faster
#   over the days, but the correlation is weak: a subject's baseline tells
#   little about their slope.
# - (b) Subjects who are slower at the start slow down much less over the days.
# - (c) Reaction time hardly changes with `Days`.
# - (d) The model assumes independent intercepts and slopes, so the
#   correlation is zero by design.

# %%
def q2_correlation_meaning():
    """Return the letter ("a"-"d") of the right reading of the correlation."""
    return "a"  # SOLUTION


# %% [markdown]
# ## Q3. One subject: `ranef` and `coef`
#
# `ranef()` gives each subject's random effects: how far their intercept and
# their slope lie from the average subject's. `coef()` gives each subject's
# own intercept and slope. Both have one row per subject and term (columns
# `effect`, `group`, `value`, ...). Take the first subject, `308`.

# %%
def q3_ranef_308():
    """Return subject 308's random effect for ``Days`` (its ``value`` in ``ranef()``)."""
    # BEGIN SOLUTION
    re = q1_slopes_model().ranef()
    return re.loc[(re["group"] == "308") & (re["effect"] == "Days"), "value"].item()
    # END SOLUTION


def q3_coef_308():
    """Return subject 308's own effect of ``Days`` (its ``value`` in ``coef()``, ms per day)."""
    # BEGIN SOLUTION
    co = q1_slopes_model().coef()
    return co.loc[(co["group"] == "308") & (co["effect"] == "Days"), "value"].item()
    # END SOLUTION


# %% [markdown]
# *What does `coef` add to `ranef`?*
#
# - (a) The fixed effect: a subject's coefficient is the average subject's
#   coefficient plus that subject's random effect.
# - (b) The residual of the subject's last measurement.
# - (c) The standard error of the random effect.
# - (d) The subject's random intercept.

# %%
def q3_coef_adds():
    """Return the letter ("a"-"d") of what ``coef`` adds to ``ranef``."""
    return "a"  # SOLUTION


# %% [markdown]
# ## Q4. Do the slopes vary? Against the random-intercept model
#
# The random-intercept model `Reaction ~ Days + (1 | Subject)` is the special
# case of Q1's model in which the slopes do not vary (and so have no
# correlation). `simlab.anova(simpler, model)` compares two such nested
# models with a likelihood-ratio test, as lme4's `anova` does.

# %%
def q4_anova():
    """Return the ``simlab.anova`` table comparing ``Reaction ~ Days + (1 | Subject)``
    (by REML) with your model of Q1.

    Returns
    -------
    pandas.DataFrame
        One row per model; columns ``npar, AIC, BIC, logLik, deviance, Chisq, Df, p``.
    """
    # BEGIN SOLUTION
    intercepts = simlab.lmer("Reaction ~ Days + (1 | Subject)", sleep)
    return simlab.anova(intercepts, q1_slopes_model())
    # END SOLUTION


def q4_chisq():
    """Return the likelihood-ratio statistic of the comparison (the ``Chisq`` of ``q4_anova()``)."""
    return q4_anova()["Chisq"].iloc[1]  # SOLUTION


def q4_p():
    """Return the p-value of the comparison (the ``p`` of ``q4_anova()``)."""
    return q4_anova()["p"].iloc[1]  # SOLUTION


q4_anova()

# %% [key]
# Answer key of ``sleepstudy_slopes``: (Days | Subject), its variance components and
# correlation, ranef against coef, and the likelihood-ratio test against (1 | Subject).

from simlab.grading.authoring import Mistake, Question
from simlab.grading.authoring import refit, squared

FORMULA = "Reaction ~ Days + (Days | Subject)"
INTERCEPTS = "Reaction ~ Days + (1 | Subject)"
CHOICES = ("a", "b", "c", "d")


def _sleep(ctx):
    from simlab.datasets import sleepstudy
    return sleepstudy()


def _sd(term):
    """The sd of ``term`` in a fit's ``varcorr()``."""
    def extract(fit):
        vc = fit.varcorr()
        return vc.loc[(vc["var1"] == term) & vc["var2"].isna(), "sdcor"].item()
    return extract


def _correlation_row(column):
    def extract(fit):
        vc = fit.varcorr()
        return vc.loc[vc["var2"].notna(), column].item()
    return extract


def _subject(table, term):
    """``term``'s value for subject 308 in a fit's ``ranef()`` or ``coef()``."""
    def extract(fit):
        rows = getattr(fit, table)()
        return rows.loc[(rows["group"] == "308") & (rows["effect"] == term), "value"].item()
    return extract


def _reml_lrt(ctx):
    """The statistic and p from the REML log-likelihoods, without anova's ML refit."""
    from scipy import stats

    from simlab import lmer
    data = _sleep(ctx)
    chisq = 2 * (lmer(FORMULA, data).loglik - lmer(INTERCEPTS, data).loglik)
    return chisq, stats.chi2.sf(chisq, 2)


_ML = ("this is the maximum-likelihood (ML) estimate; the model is fitted by REML, lmer's "
       "default criterion (see the docstring of simlab.lmer)")
_SQUARED = "you gave the variance (vcov); the question asks for the standard deviation (sdcor)"
_REML_LRT = ("you compared the REML log-likelihoods; anova refits both models by maximum "
             "likelihood first, as lme4 does (the docstring of simlab.anova)")

TITLE = "Sleep revisited: a random slope for Days"
QUESTIONS = [
    Question("q1_slopes_model", "Q1: Reaction ~ Days + (Days | Subject) by REML", 2,
             "a random coefficient gives every subject their own slope of Days next to their "
             "own intercept, lme4's (Days | Subject) term, fitted by REML, lmer's default (the "
             "docstring of simlab.lmer)", rtol=1e-5,
             mistakes=(Mistake("this is the random-intercept model: every subject has the "
                               "same slope; the question adds a random slope for Days",
                               refit(_sleep, INTERCEPTS, lambda fit: fit, reml=True)),
                       Mistake("this model has independent intercepts and slopes (||); the "
                               "question's single bar estimates their correlation too",
                               refit(_sleep, "Reaction ~ Days + (Days || Subject)",
                                     lambda fit: fit, reml=True)))),
    Question("q2_days_effect", "Q2: fixed effect of Days", 1,
             "a fixed effect describes the average subject; read it from the model's "
             "fixed-effects table (the README section 'Use')", rtol=1e-6,
             visibility="hidden",
             mistakes=(Mistake("this is the intercept; the question asks for the effect of "
                               "Days", refit(_sleep, FORMULA, lambda fit: fit.fixef.loc[
                                   "(Intercept)", "estimate"], reml=True)),)),
    Question("q2_intercept_sd", "Q2: sd of the subject intercepts", 1,
             "the spread of the subjects' baselines is the random intercept's standard "
             "deviation: the intercept's variance row of the varcorr table (the text above "
             "Q2 and the docstring of simlab.LmerResult.varcorr)", rtol=1e-5,
             mistakes=(Mistake(_SQUARED, squared("q2_intercept_sd")),
                       Mistake(_ML, refit(_sleep, FORMULA, _sd("(Intercept)"))))),
    Question("q2_days_sd", "Q2: sd of the subject slopes for Days", 1,
             "the spread of the subjects' slopes is the Days term's standard deviation, its "
             "own variance row of the varcorr table (the text above Q2)", rtol=1e-5,
             visibility="hidden",
             mistakes=(Mistake(_SQUARED, squared("q2_days_sd")),
                       Mistake(_ML, refit(_sleep, FORMULA, _sd("Days"))),
                       Mistake("this is the sd of the intercepts; the question asks for the "
                               "slopes of Days", refit(_sleep, FORMULA, _sd("(Intercept)"),
                                                       reml=True)))),
    Question("q2_correlation", "Q2: correlation of intercepts and slopes", 1,
             "the correlation is on the row of the varcorr table that names two terms (the text "
             "above Q2 and the docstring of simlab.LmerResult.varcorr)", rtol=1e-5,
             atol=1e-8,
             mistakes=(Mistake("you gave the covariance (vcov); the question asks for the "
                               "correlation (sdcor)",
                               refit(_sleep, FORMULA, _correlation_row("vcov"), reml=True)),
                       Mistake(_ML, refit(_sleep, FORMULA, _correlation_row("sdcor"))))),
    Question("q2_correlation_meaning", "Q2: what the correlation says (multiple choice)", 1,
             "the correlation is between a subject's baseline and their slope; read its sign "
             "and its size (the text above the options)", choices=CHOICES),
    Question("q3_ranef_308", "Q3: subject 308's random effect for Days", 1,
             "a random effect is the subject's deviation from the average subject: the Days "
             "row of subject 308 in the ranef table (the text above Q3 and the docstring of "
             "simlab.LmerResult.ranef)", rtol=1e-5, visibility="hidden",
             mistakes=(Mistake("this is the subject's own slope from the coef table; the "
                               "ranef table gives only its deviation from the average subject",
                               refit(_sleep, FORMULA, _subject("coef", "Days"), reml=True)),
                       Mistake("this is the subject's random intercept; the question asks for "
                               "the Days row", refit(_sleep, FORMULA,
                                                     _subject("ranef", "(Intercept)"),
                                                     reml=True)))),
    Question("q3_coef_308", "Q3: subject 308's own effect of Days", 1,
             "a subject's own coefficient is the average subject's plus their random effect: "
             "the Days row of subject 308 in the coef table (the text above Q3 and the "
             "docstring of simlab.LmerResult.coef)", rtol=1e-5,
             mistakes=(Mistake("this is the subject's random effect from the ranef table, their "
                               "deviation from the average slope; the coef table adds the fixed "
                               "effect to it",
                               refit(_sleep, FORMULA, _subject("ranef", "Days"), reml=True)),
                       Mistake("this is the subject's own intercept; the question asks for "
                               "the Days row", refit(_sleep, FORMULA,
                                                     _subject("coef", "(Intercept)"),
                                                     reml=True)))),
    Question("q3_coef_adds", "Q3: what coef adds to ranef (multiple choice)", 1,
             "compare a subject's value in the coef table with the same row of the ranef "
             "table and with the model's fixed effects (the docstring of "
             "simlab.LmerResult.coef)",
             choices=CHOICES, visibility="hidden"),
    Question("q4_anova", "Q4: anova of the random-intercept model against Q1's", 1,
             "fit the random-intercept model too and pass both models to simlab.anova, the "
             "simpler one first (the text above Q4 and the docstring of simlab.anova)",
             rtol=1e-5),
    Question("q4_chisq", "Q4: likelihood-ratio statistic", 1,
             "the statistic is twice the difference of the two models' ML log-likelihoods, "
             "the Chisq column of the anova table (the docstring of simlab.anova)",
             rtol=1e-5, mistakes=(Mistake(_REML_LRT, lambda ctx: _reml_lrt(ctx)[0]),)),
    Question("q4_p", "Q4: p-value of the likelihood-ratio test", 1,
             "the p-value of the test is on the second row of the anova table (the docstring "
             "of simlab.anova)", rtol=1e-5, visibility="hidden",
             mistakes=(Mistake(_REML_LRT, lambda ctx: _reml_lrt(ctx)[1]),)),
]
