"""Answer key of ``icc_simulation``: simulate, fit, and change the design (per-student variants)."""
from __future__ import annotations

from ..questions import ExerciseKey, Mistake, Question
from ._mistakes import refit

LETTERS = ("a", "b", "c", "d", "e")
PARAMETERS = ("sd_(Intercept)|group", "sigma", "(Intercept)", "x")
DIRECTIONS = ("wider", "narrower", "mixed")
FORMULA = "y ~ x + (1 | group)"


def _simulate(ctx, rng: str):
    from simlab import simulate

    from ..variants import SimVariant, sim_variant
    v = sim_variant(ctx.student_id) if ctx.student_id else SimVariant()
    return simulate(v.n_groups, v.n_per_group, v.tau, v.sigma, intercept=v.intercept,
                    slope=v.slope, seed=v.seed, rng=rng)


def _student_data(ctx):
    return _simulate(ctx, "R")


def _numpy_stream(ctx):
    return _simulate(ctx, "numpy")


def _ratio_hint(what: str) -> str:
    return (f"simulate {what} with simulate_data(...), fit y ~ x + (1 | group), and divide its "
            "profile-interval widths (upper - lower) by those of q3_confint()")


KEY = ExerciseKey(
    name="icc_simulation",
    title="Simulating a random-intercept model: the ICC and the design",
    variants=True,
    questions=(
        Question("q1_data", "Q1: the simulated data", 2,
                 "call simulate_data() with no arguments: it uses your settings V and rng='R'",
                 rtol=1e-9, atol=1e-12,
                 mistakes=(Mistake("this is numpy's stream; pass rng='R' to reproduce R's "
                                   "set.seed (simulate_data() does)", _numpy_stream),)),
        Question("q2_fixed_effects", "Q2: which are fixed effects (multiple choice)", 1,
                 "fixed effects are the constants of the model that the fit estimates directly",
                 choices=LETTERS),
        Question("q2_random_effects", "Q2: which are random effects (multiple choice)", 1,
                 "random effects are drawn once per group; the residual is not a random effect",
                 choices=LETTERS, visibility="hidden"),
        Question("q3_model", "Q3: y ~ x + (1 | group) by REML", 2,
                 "use simlab.lmer('y ~ x + (1 | group)', q1_data())", rtol=1e-5),
        Question("q3_confint", "Q3: 95% profile intervals", 1,
                 "call confint() on the model (profile is the default)", rtol=1e-4,
                 mistakes=(Mistake("these are Wald intervals; use the default profile method",
                                   refit(_student_data, FORMULA, lambda f: f.confint("wald"),
                                         reml=True)),)),
        Question("q3_icc", "Q3: the estimated ICC", 1,
                 "tau^2 / (tau^2 + sigma^2) of the fitted model, not of the true values",
                 rtol=1e-5, mistakes=(Mistake("this is the ML fit's ICC; use REML",
                                              refit(_student_data, FORMULA,
                                                    lambda f: f.icc)),)),
        Question("q3_re_density", "Q3: density plot of the random effects", 1,
                 "plot ranef()['value'] (e.g. seaborn.kdeplot) on an Axes and call "
                 "ax.set_xlim(-3, 3)", atol=0.05),
        Question("q4_swapped_icc", "Q4: ICC with tau and sigma swapped", 1,
                 "simulate_data(tau=V.sigma, sigma=V.tau), then fit and take the icc",
                 rtol=1e-5),
        Question("q4_icc_direction", "Q4: direction of the ICC change", 1,
                 "compare q4_swapped_icc() with q3_icc()", choices=("higher", "lower",
                                                                    "unchanged"),
                 visibility="hidden"),
        Question("q5_width_ratio", "Q5: interval-width ratios, 50 groups / base", 2,
                 _ratio_hint("50 groups"), rtol=1e-4,
                 mistakes=(Mistake("you divided base by new; the ratio is new over base",
                                   lambda ctx: 1 / ctx.expected["q5_width_ratio"]),)),
        Question("q5_direction", "Q5: direction of the change with 50 groups", 1,
                 "compare each ratio with 1", choices=DIRECTIONS),
        Question("q6_width_ratio", "Q6: interval-width ratios, 10 per group / base", 2,
                 _ratio_hint("10 per group"), rtol=1e-4, visibility="hidden",
                 mistakes=(Mistake("you divided base by new; the ratio is new over base",
                                   lambda ctx: 1 / ctx.expected["q6_width_ratio"]),)),
        Question("q6_direction", "Q6: direction of the change with 10 per group", 1,
                 "compare each ratio with 1", choices=DIRECTIONS, visibility="hidden"),
        Question("q6_most_narrowed", "Q6: which interval narrowed the most", 1,
                 "the label of the smallest ratio (Series.idxmin)", choices=PARAMETERS,
                 visibility="hidden"),
    ),
)
