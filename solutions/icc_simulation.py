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
# # Simulating a random-intercept model: the ICC and the design
#
# You simulate data from a model you know, fit it, and see what the fit
# recovers and how the design (number of groups, group size) changes the
# precision. The tutorial did it in R:
#
# ```r
# set.seed(1234)
# Ngroups = 100; NperGroup = 3; N = Ngroups * NperGroup
# groups = factor(rep(1:Ngroups, each = NperGroup))
# u = rnorm(Ngroups, sd = .5)
# e = rnorm(N, sd = .25)
# x = rnorm(N)
# y = 2 + .5 * x + u[groups] + e
# ```
#
# `simlab.simulate(..., stream="R")` replays exactly that recipe. Your settings
# are in `V` below: without a student id they are the tutorial's. Your id is
# your student id (SID) on the course roster, or the e-mail you use on
# Gradescope if the roster has no SID for you; Gradescope grades the variant
# of that id. Set it first (`export SIMLAB_STUDENT_ID=<id>`, or
# `simlab check --student-id <id> ...`) and you get your own seed and
# variances, and the checks follow them.
#
# **How to work.** Replace each `...` with code that returns what the
# docstring asks for; keep the function names. Check your work with
# `simlab check exercises/icc_simulation.py`.

# %%
import simlab
from simlab.grading import sim_variant

V = sim_variant()  # seed, n_groups, n_per_group, tau, sigma, intercept, slope
V

# %%
def simulate_data(n_groups=V.n_groups, n_per_group=V.n_per_group, tau=V.tau, sigma=V.sigma):
    """The tutorial's simulation with your seed; change one setting at a time."""
    return simlab.simulate(n_groups, n_per_group, tau, sigma, intercept=V.intercept,
                           slope=V.slope, seed=V.seed, stream="R")


# %% [markdown]
# ## Q1. Simulate

# %%
def q1_data():
    """Return the simulated data with your settings ``V`` (use ``simulate_data()``).

    Returns
    -------
    pandas.DataFrame
        Columns ``group, x, y``, ``n_groups * n_per_group`` rows.
    """
    return simulate_data()  # SOLUTION


# %% [markdown]
# ## Q2. Fixed or random?
#
# In `y = 2 + .5 * x + u[groups] + e`, which of these are **fixed effects**,
# and which are **random effects** (in the mixed model's sense)?
#
# - (a) `2`
# - (b) `.5`
# - (c) `u`
# - (d) `e`
# - (e) `x`
#
# Return a set of letters, e.g. `{"a", "e"}`.

# %%
def q2_fixed_effects():
    """Return the set of letters that are fixed effects."""
    return {"a", "b"}  # SOLUTION


def q2_random_effects():
    """Return the set of letters that are random effects."""
    return {"c"}  # SOLUTION


# %% [markdown]
# ## Q3. Fit, summarise, intervals, ICC

# %%
def q3_model():
    """Return ``y ~ x + (1 | group)`` fitted by REML to ``q1_data()``."""
    return simlab.lmer("y ~ x + (1 | group)", q1_data())  # SOLUTION


def q3_confint():
    """Return the model's 95% profile intervals (``confint()``): columns ``lower, upper``."""
    return q3_model().confint()  # SOLUTION


def q3_icc():
    """Return the estimated ICC of the model."""
    return q3_model().icc  # SOLUTION


def q3_re_density():
    """Return a matplotlib Axes with the density of the estimated random effects.

    Use the ``value`` column of ``ranef()``; set the x-limits to (-3, 3) as the
    tutorial does (``ax.set_xlim(-3, 3)``).
    """
    # BEGIN SOLUTION
    import matplotlib.pyplot as plt
    import seaborn as sns

    _, ax = plt.subplots()
    sns.kdeplot(x=q3_model().ranef()["value"], ax=ax)
    ax.set_xlim(-3, 3)
    ax.set_xlabel("estimated random intercept")
    return ax
    # END SOLUTION


# %% [markdown]
# ## Q4. Swap tau and sigma
#
# Simulate again with the two standard deviations swapped
# (`simulate_data(tau=V.sigma, sigma=V.tau)`), and fit the same model.

# %%
def q4_swapped_icc():
    """Return the estimated ICC after swapping tau and sigma."""
    # BEGIN SOLUTION
    data = simulate_data(tau=V.sigma, sigma=V.tau)
    return simlab.lmer("y ~ x + (1 | group)", data).icc
    # END SOLUTION


def q4_icc_direction():
    """Return "higher", "lower" or "unchanged": how the estimated ICC moved after the swap."""
    return "higher" if q4_swapped_icc() > q3_icc() else "lower"  # SOLUTION


# %% [markdown]
# ## Q5. Half the groups: 50 instead of 100
#
# Keep the first 50 groups of your data (groups 1 to 50 of `q1_data()`) and
# fit the same model. The groups you keep are the same ones, only fewer, so
# what changes in the intervals is due to the design, not to a new sample.
# For interval widths use `upper - lower` of the profile intervals.

# %%
def width_ratio(data):
    """Profile-interval widths of a new design divided by those of ``q3_model()``."""
    # BEGIN SOLUTION
    new = simlab.lmer("y ~ x + (1 | group)", data).confint()
    base = q3_confint()
    return (new["upper"] - new["lower"]) / (base["upper"] - base["lower"])
    # END SOLUTION


def q5_width_ratio():
    """Return the interval-width ratios, your first 50 groups over your base design.

    Returns
    -------
    pandas.Series
        Indexed like ``confint()``: ``sd_(Intercept)|group``, ``sigma``,
        ``(Intercept)``, ``x``.
    """
    # BEGIN SOLUTION
    data = q1_data()
    return width_ratio(data[data["group"] <= 50])
    # END SOLUTION


def q5_direction():
    """Return "wider" if every interval got wider, "narrower" if every one got narrower, else "mixed"."""
    # BEGIN SOLUTION
    ratio = q5_width_ratio()
    return "wider" if (ratio > 1).all() else "narrower" if (ratio < 1).all() else "mixed"
    # END SOLUTION


# %% [markdown]
# ## Q6. Ten per group instead of three
#
# Keep the 100 groups and simulate 10 observations per group
# (`simulate_data(n_per_group=10)`), then fit the same model. Some intervals
# narrow a lot, others barely move: which parameters are estimated from the
# differences *within* groups, and which from the differences *between* them?

# %%
def q6_width_ratio():
    """Return the interval-width ratios, 10 per group over your base design (as in Q5)."""
    return width_ratio(simulate_data(n_per_group=10))  # SOLUTION


def q6_narrowed():
    """Return the set of parameters whose interval is less than three quarters as wide as
    in your base design (a width ratio below 0.75): labels of ``q6_width_ratio()``."""
    # BEGIN SOLUTION
    ratio = q6_width_ratio()
    return set(ratio.index[ratio < 0.75])
    # END SOLUTION


# %% [key]
# Answer key of ``icc_simulation``: simulate, fit, and change the design (per-student variants).
#
# The three decisions declare the margin their numbers must keep from the
# threshold (:mod:`..stability`), each far beyond the tolerance of the numbers
# they are taken on (``rtol=1e-5`` for the ICCs, ``1e-4`` for the ratios), and
# the design gives every variant a clear one:
#
# - Q4: tau is 1.8 to 2.2 times sigma (:mod:`..variants`), so swapping them
#   lowers the ICC by 0.41 or more (4000 student ids); required 0.2.
# - Q5 keeps the first 50 of the student's own 100 groups, so the widths change
#   with the design rather than with a new sample (a new simulation gave ratios
#   down to 1.005). Every interval is then at least 3.2% wider (4000 ids; 99.9%
#   of them at least 10%); required 2%, an interval that is clearly wider.
# - Q6 asks which intervals fall below three quarters of their width with 10
#   per group: the within-group parameters (ratios up to 0.64) do, the
#   group-level ones (0.82 and up) do not; required 0.05 from the cut-off. It
#   replaces "narrower or mixed" (group-level ratios straddle 1) and "which
#   narrowed most" (sigma and x tie).

from simlab.grading.authoring import Mistake, Question
from simlab.grading.authoring import all_sides, below, compared
from simlab.grading.authoring import reciprocal, refit

LETTERS = ("a", "b", "c", "d", "e")
PARAMETERS = ("sd_(Intercept)|group", "sigma", "(Intercept)", "x")
DIRECTIONS = ("wider", "narrower", "mixed")
FORMULA = "y ~ x + (1 | group)"
#: Q6's cut-off: a ratio below it means the interval lost more than a quarter of its width.
NARROWED = 0.75


def _simulate(ctx, rng: str, **design):
    from simlab import simulate

    from simlab.grading.variants import SimVariant, sim_variant
    v = sim_variant(ctx.student_id) if ctx.student_id else SimVariant()
    settings = {"n_groups": v.n_groups, "n_per_group": v.n_per_group, "tau": v.tau,
                "sigma": v.sigma, **design}
    return simulate(**settings, intercept=v.intercept, slope=v.slope, seed=v.seed, stream=rng)


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

TITLE = "Simulating a random-intercept model: the ICC and the design"
VARIANTS = True
QUESTIONS = [
    Question("q1_data", "Q1: the simulated data", 2,
             "the data follow the introduction's R recipe with your settings V: read the "
             "helper defined above Q1, and the docstring of simlab.simulate on its stream "
             "argument", rtol=1e-9, atol=1e-12,
             mistakes=(Mistake("this is numpy's stream; R's seeded stream is the one "
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
                               refit(_student_data, FORMULA, lambda f: f.confint(method="wald"),
                                     reml=True)),)),
    Question("q3_icc", "Q3: the estimated ICC", 1,
             "the ICC is the share of the total variance that lies between groups, here "
             "estimated by the fitted model rather than taken from the true tau and sigma "
             "(the docstring of simlab.LmerResult.icc)",
             rtol=1e-5, mistakes=(Mistake("this is the ML fit's ICC; use REML",
                                          refit(_student_data, FORMULA,
                                                lambda f: f.icc)),)),
    Question("q3_re_density", "Q3: density plot of the random effects", 1,
             "a density of the estimated random intercepts (lme4's conditional modes, "
             "the random effects) drawn on a matplotlib Axes with the x-limits the docstring gives "
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
]
