"""Answer key of ``icc_simulation``: simulate, fit, and change the design (per-student variants).

The three decisions declare the margin their numbers must keep from the
threshold (:mod:`..stability`), each far beyond the tolerance of the numbers
they are taken on (``rtol=1e-5`` for the ICCs, ``1e-4`` for the ratios), and
the design gives every variant a clear one:

- Q4: tau is 1.8 to 2.2 times sigma (:mod:`..variants`), so swapping them
  lowers the ICC by 0.41 or more (4000 student ids); required 0.2.
- Q5 keeps the first 50 of the student's own 100 groups, so the widths change
  with the design rather than with a new sample (a new simulation gave ratios
  down to 1.005). Every interval is then at least 3.2% wider (4000 ids; 99.9%
  of them at least 10%); required 2%, an interval that is clearly wider.
- Q6 asks which intervals fall below three quarters of their width with 10
  per group: the within-group parameters (ratios up to 0.64) do, the
  group-level ones (0.82 and up) do not; required 0.05 from the cut-off. It
  replaces "narrower or mixed" (group-level ratios straddle 1) and "which
  narrowed most" (sigma and x tie).
"""
from __future__ import annotations

from ..questions import ExerciseKey, Mistake, Question
from ..stability import all_sides, below, compared
from ._mistakes import reciprocal, refit

LETTERS = ("a", "b", "c", "d", "e")
PARAMETERS = ("sd_(Intercept)|group", "sigma", "(Intercept)", "x")
DIRECTIONS = ("wider", "narrower", "mixed")
FORMULA = "y ~ x + (1 | group)"
#: Q6's cut-off: a ratio below it means the interval lost more than a quarter of its width.
NARROWED = 0.75


def _simulate(ctx, rng: str, **design):
    from simlab import simulate

    from ..variants import SimVariant, sim_variant
    v = sim_variant(ctx.student_id) if ctx.student_id else SimVariant()
    settings = {"n_groups": v.n_groups, "n_per_group": v.n_per_group, "tau": v.tau,
                "sigma": v.sigma, **design}
    return simulate(**settings, intercept=v.intercept, slope=v.slope, seed=v.seed, rng=rng)


def _student_data(ctx):
    return _simulate(ctx, "R")


def _numpy_stream(ctx):
    return _simulate(ctx, "numpy")


def _new_sample_ratio(ctx):
    """Q5 from a new simulation with 50 groups instead of the first 50 groups kept."""
    from simlab import lmer

    new, base = lmer(FORMULA, _simulate(ctx, "R", n_groups=50)).confint(), ctx.expected[
        "q3_confint"]
    return (new["upper"] - new["lower"]) / (base["upper"] - base["lower"])


_RATIO = ("a width ratio is the new design's profile-interval width (upper - lower) over your "
          "base design's, parameter by parameter (the docstrings of width_ratio and of "
          "simlab.LmerResult.confint); ")
_UPSIDE_DOWN = "you divided base by new; the ratio is new over base"

KEY = ExerciseKey(
    name="icc_simulation",
    title="Simulating a random-intercept model: the ICC and the design",
    variants=True,
    questions=(
        Question("q1_data", "Q1: the simulated data", 2,
                 "the data follow the introduction's R recipe with your settings V: read the "
                 "helper defined above Q1, and the docstring of simlab.simulate on its rng "
                 "argument", rtol=1e-9, atol=1e-12,
                 mistakes=(Mistake("this is numpy's stream; R's set.seed stream is the one "
                                   "the recipe needs (the docstring of simlab.simulate)",
                                   _numpy_stream),)),
        Question("q2_fixed_effects", "Q2: which are fixed effects (multiple choice)", 1,
                 "a fixed effect is a constant of the model's equation, shared by every group "
                 "and estimated directly (the equation in the introduction)",
                 choices=LETTERS),
        Question("q2_random_effects", "Q2: which are random effects (multiple choice)", 1,
                 "a random effect is drawn once per group, from a distribution whose sd the "
                 "model estimates; in the mixed model's sense the residual is not one (the R "
                 "recipe in the introduction)",
                 choices=LETTERS, visibility="hidden"),
        Question("q3_model", "Q3: y ~ x + (1 | group) by REML", 2,
                 "a random intercept per group is lme4's (1 | group) term, fitted by REML, "
                 "lmer's default (the docstring of simlab.lmer, the README section 'Use')",
                 rtol=1e-5),
        Question("q3_confint", "Q3: 95% profile intervals", 1,
                 "profile intervals come from the likelihood, lme4's default method (the "
                 "docstring of simlab.LmerResult.confint)", rtol=1e-4,
                 mistakes=(Mistake("these are Wald intervals; the question asks for profile "
                                   "intervals, the default method",
                                   refit(_student_data, FORMULA, lambda f: f.confint("wald"),
                                         reml=True)),)),
        Question("q3_icc", "Q3: the estimated ICC", 1,
                 "the ICC is the share of the total variance that lies between groups, here "
                 "estimated by the fitted model rather than taken from the true tau and sigma "
                 "(the docstring of simlab.LmerResult.icc)",
                 rtol=1e-5, mistakes=(Mistake("this is the ML fit's ICC; use REML",
                                              refit(_student_data, FORMULA,
                                                    lambda f: f.icc)),)),
        Question("q3_re_density", "Q3: density plot of the random effects", 1,
                 "a density of the estimated random intercepts (the conditional modes of "
                 "ranef()) drawn on a matplotlib Axes with the x-limits the docstring gives "
                 "(the README section 'Teaching figures and simulation intervals')", atol=0.05),
        Question("q4_swapped_icc", "Q4: ICC with tau and sigma swapped", 1,
                 "only the two standard deviations of the simulation trade places (the text "
                 "above Q4); the model and the ICC are estimated as in Q3", rtol=1e-5),
        Question("q4_icc_direction", "Q4: direction of the ICC change", 1,
                 "the ICC is the between-group share of the variance: after the swap, which "
                 "of the two sds is the larger? Your two estimates should agree (the docstring "
                 "of simlab.LmerResult.icc)",
                 choices=("higher", "lower", "unchanged"), visibility="hidden",
                 decision=compared("q3_icc", "q4_swapped_icc", minimum=0.2)),
        Question("q5_width_ratio", "Q5: interval-width ratios, 50 groups / base", 2,
                 _RATIO + "the text above Q5 says which groups to keep", rtol=1e-4,
                 mistakes=(Mistake("this is a new simulation with 50 groups; keep the first "
                                   "50 groups of your own data instead (the text above Q5), "
                                   "so that only the design changes", _new_sample_ratio),
                           Mistake(_UPSIDE_DOWN, reciprocal("q5_width_ratio")))),
        Question("q5_direction", "Q5: direction of the change with 50 groups", 1,
                 "a ratio above 1 is a wider interval; the docstring names the three cases",
                 choices=DIRECTIONS,
                 decision=all_sides("q5_width_ratio", 1.0, minimum=0.02)),
        Question("q6_width_ratio", "Q6: interval-width ratios, 10 per group / base", 2,
                 _RATIO + "the text above Q6 says how to simulate the new design", rtol=1e-4,
                 visibility="hidden",
                 mistakes=(Mistake(_UPSIDE_DOWN, reciprocal("q6_width_ratio")),)),
        Question("q6_narrowed", "Q6: which intervals lost more than a quarter of their width",
                 2, "more observations per group tell more about what varies within a group, "
                 "not about how the groups differ; compare each width ratio with the cut-off "
                 "of the docstring", choices=PARAMETERS, visibility="hidden",
                 decision=below("q6_width_ratio", NARROWED, minimum=0.05)),
    ),
)
