"""One vocabulary (issue 13): every public table and signature uses simlab._vocabulary's names.

Interval bounds are ``lower``/``upper`` (one interval; its level is the call's
``level=``) or ``lower_<method>``/``upper_<method>`` (several side by side);
the number of simulations is ``nsim``; random-effects tables share
``RE_KEYS``. The tables are walked from real calls and the signatures from
every public callable, so a new table or option cannot slip in another dialect.
"""
from __future__ import annotations

import importlib
import inspect
import re

import pandas as pd
import pytest

import simlab
from simlab._vocabulary import INTERVAL_METHODS, LOWER, NSIM, RE_KEYS, UPPER, interval_columns

#: Every name a bound column may have.
ALLOWED_BOUNDS = {LOWER, UPPER, *(name for m in INTERVAL_METHODS for name in interval_columns(m))}
#: What looks like a bound in any of the dialects simlab or its models (merTools, mixedup) used.
BOUND_LIKE = re.compile(r"^(lower|upper|lwr|upr|ci_?lo|ci_?hi|conf_?low|conf_?high)", re.I)
#: Names of a simulation count the vocabulary replaced by ``nsim``, as parameters and columns.
COUNT_NAMES = {"n_sims", "n_sim", "reps"}
#: Parameter names the vocabulary replaced: the counts, and ``alpha`` for ``level``.
BANNED_NAMES = COUNT_NAMES | {"alpha"}
#: Where ``alpha`` is a hypothesis test's significance level (its size, as simr and pwr
#: call it), not a confidence level: power analysis. Anywhere else it is a replaced name.
TEST_SIZE_MODULE = "simlab.planning"
#: Where the public API lives: simlab's top level and its public packages.
PUBLIC_MODULES = ("simlab", "simlab.model", "simlab.study", "simlab.planning", "simlab.plots",
                  "simlab.datasets", "simlab.grading")

GRID = {"n_groups": [10], "n_per_group": [3], "tau": 0.5, "sigma": 0.25}
POWER = dict(term="x", effects={"x": 0.5}, n_groups=10, n_per_group=4, tau=0.5, sigma=1.0,
             nsim=20, seed=1, test="z")


def check_interval_columns(name: str, table: pd.DataFrame) -> None:
    """Every bound column is ``lower``/``upper`` or ``lower_<m>``/``upper_<m>``, in pairs."""
    bounds = [str(column) for column in table.columns if BOUND_LIKE.match(str(column))]
    odd = sorted(set(bounds) - ALLOWED_BOUNDS)
    assert not odd, f"{name}: interval columns {odd} are not in simlab._vocabulary"
    for column in bounds:
        partner = column.replace(LOWER, UPPER, 1) if column.startswith(LOWER) \
            else column.replace(UPPER, LOWER, 1)
        assert partner in bounds, f"{name}: {column} has no {partner}"
    counts = sorted(COUNT_NAMES & {str(column) for column in table.columns})
    assert not counts, f"{name}: columns {counts} should be {NSIM!r}"


@pytest.fixture(scope="module")
def tables(sleepstudy_data) -> dict[str, pd.DataFrame]:
    """Every public table with interval bounds, at a level other than the default."""
    fit = simlab.lmer("Reaction ~ Days + (Days | Subject)", sleepstudy_data)
    ols = simlab.lm("Reaction ~ Days", sleepstudy_data)
    return {
        "fixef": fit.fixef, "fixed_tests": fit.fixed_tests(level=0.9),
        "ranef": fit.ranef(level=0.9), "coef": fit.coef(level=0.9),
        "confint": fit.confint(method="wald", level=0.9),
        "predict_interval": fit.predict_interval(level=0.9, nsim=20, seed=1),
        "re_sim": fit.re_sim(nsim=20, seed=1),
        "LmResult.fixef": ols.fixef, "LmResult.fixed_tests": ols.fixed_tests(level=0.9),
        "LmResult.confint": ols.confint(level=0.9),
    }


@pytest.mark.parametrize("name", ["fixef", "fixed_tests", "ranef", "coef", "confint",
                                  "predict_interval", "re_sim", "LmResult.fixef",
                                  "LmResult.fixed_tests", "LmResult.confint"])
def test_model_tables_use_one_interval_convention(tables, name):
    check_interval_columns(name, tables[name])


def test_single_interval_tables_name_no_method(tables):
    for name in ("fixef", "ranef", "coef", "confint", "predict_interval", "LmResult.fixef",
                 "LmResult.confint"):
        assert {LOWER, UPPER} <= set(tables[name].columns), name


def test_random_effect_tables_share_their_keys(tables):
    for name in ("ranef", "coef", "re_sim"):
        assert tuple(tables[name].columns[:3]) == RE_KEYS, name


def test_sweep_and_its_summary_use_one_interval_convention():
    results = simlab.sweep(GRID, nsim=3, seed=1, ci=("wald",), progress=False)
    assert {"lower_wald", "upper_wald"} <= set(results.columns)
    check_interval_columns("sweep", results)
    check_interval_columns("summarize", pd.DataFrame(simlab.summarize(results)))


def test_power_tables_use_one_interval_convention():
    check_interval_columns("power", simlab.power(**POWER).table)
    curve = simlab.power_curve(**{**POWER, "breaks": [6, 10]})
    check_interval_columns("power_curve", curve.table)


def _public_callables():
    """``(qualified name, callable)`` of every public function, class and method of simlab."""
    seen = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name)
            if inspect.isfunction(value) or inspect.isclass(value):
                seen.setdefault(f"{value.__module__}.{value.__qualname__}", value)
    found = []
    for qualified, value in sorted(seen.items()):
        if not value.__module__.startswith("simlab"):
            continue
        found.append((qualified, value))
        if inspect.isclass(value):
            for name, member in inspect.getmembers(value, callable):
                if not name.startswith("_") and getattr(member, "__module__", "").startswith("simlab"):
                    found.append((f"{qualified}.{name}", member))
    return found


def test_the_public_api_is_walked():
    names = {name for name, _ in _public_callables()}
    for expected in ("simlab.model.result.LmerResult.predict_interval",
                     "simlab.model.ols.LmResult.confint", "simlab.simulate.simulate"):
        assert expected in names


def test_no_public_signature_uses_a_replaced_name():
    """``nsim`` counts simulations and ``level`` is a confidence level, everywhere."""
    offenders = []
    for name, value in _public_callables():
        try:
            parameters = inspect.signature(value).parameters
        except (TypeError, ValueError):  # a builtin without a signature
            continue
        test_size = getattr(value, "__module__", "").startswith(TEST_SIZE_MODULE)
        offenders += [f"{name}({parameter}=)" for parameter in parameters
                      if parameter in BANNED_NAMES and not (parameter == "alpha" and test_size)]
    assert not offenders, f"replaced parameter names still in use: {offenders}"


def test_alpha_is_only_a_significance_level():
    """Power analysis keeps ``alpha`` (a test's size), documented as not a confidence level."""
    import simlab

    for function in (simlab.power, simlab.power_curve, simlab.solve_sample_size):
        assert function.__module__.startswith(TEST_SIZE_MODULE)
        assert inspect.signature(function).parameters["alpha"].default == 0.05
    assert "Significance level" in simlab.power.__doc__
