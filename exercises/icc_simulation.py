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
    return ...  # replace ... with your answer


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
    return ...  # replace ... with your answer


def q2_random_effects():
    """Return the set of letters that are random effects."""
    return ...  # replace ... with your answer


# %% [markdown]
# ## Q3. Fit, summarise, intervals, ICC

# %%
def q3_model():
    """Return ``y ~ x + (1 | group)`` fitted by REML to ``q1_data()``."""
    return ...  # replace ... with your answer


def q3_confint():
    """Return the model's 95% profile intervals (``confint()``): columns ``lower, upper``."""
    return ...  # replace ... with your answer


def q3_icc():
    """Return the estimated ICC of the model."""
    return ...  # replace ... with your answer


def q3_re_density():
    """Return a matplotlib Axes with the density of the estimated random effects.

    Use the ``value`` column of ``ranef()``; set the x-limits to (-3, 3) as the
    tutorial does (``ax.set_xlim(-3, 3)``).
    """
    return ...  # replace ... with your answer


# %% [markdown]
# ## Q4. Swap tau and sigma
#
# Simulate again with the two standard deviations swapped
# (`simulate_data(tau=V.sigma, sigma=V.tau)`), and fit the same model.

# %%
def q4_swapped_icc():
    """Return the estimated ICC after swapping tau and sigma."""
    return ...  # replace ... with your answer


def q4_icc_direction():
    """Return "higher", "lower" or "unchanged": how the estimated ICC moved after the swap."""
    return ...  # replace ... with your answer


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
    return ...  # replace ... with your answer


def q5_width_ratio():
    """Return the interval-width ratios, your first 50 groups over your base design.

    Returns
    -------
    pandas.Series
        Indexed like ``confint()``: ``sd_(Intercept)|group``, ``sigma``,
        ``(Intercept)``, ``x``.
    """
    return ...  # replace ... with your answer


def q5_direction():
    """Return "wider" if every interval got wider, "narrower" if every one got narrower, else "mixed"."""
    return ...  # replace ... with your answer


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
    return ...  # replace ... with your answer


def q6_narrowed():
    """Return the set of parameters whose interval is less than three quarters as wide as
    in your base design (a width ratio below 0.75): labels of ``q6_width_ratio()``."""
    return ...  # replace ... with your answer
