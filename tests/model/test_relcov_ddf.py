"""Denominator df of random-slope models (relcov_ddf) against lmerTest/pbkrtest, the random
intercept's exact code (ddf.py), replicate batches, and dense finite differences.

lmerTest differentiates numerically in (theta, sigma) at lme4's optimum, which stops short of
the exact one; so the formulas are checked at lme4's own theta and sigma (to lmerTest's
numerical error, ~1e-8), and simlab's fits to lme4's optimiser error (~1e-5).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simlab
from test_relcov import slope_reference  # one loader of lme4's references
from simlab.model.ddf import denominator_df, intercept_ingredients, t_test_p
from simlab.model.intercept import GroupSums, fit_theta
from simlab.model.relcov import CrossProducts, ThetaLayout, fit
from simlab.model.relcov_ddf import (DECOUPLED, _criterion_derivatives, _derivatives, _gls, _parts,
                                     _residual, relcov_ingredients)

REFERENCE = Path(__file__).parents[1] / "reference"
#: df_slopes.json's models: (data, response, group, slope, layout, simlab formula).
SLOPE_DF = {
    "sleepstudy_slopes": ("sleepstudy", "Reaction", "Subject", "Days", ThetaLayout.full(2),
                          "Reaction ~ Days + (Days | Subject)"),
    "sleepstudy_uncorrelated": ("sleepstudy", "Reaction", "Subject", "Days", ThetaLayout.diagonal(2),
                                "Reaction ~ Days + (Days || Subject)"),
    "sleepstudy_slopes_ml": ("sleepstudy", "Reaction", "Subject", "Days", ThetaLayout.full(2),
                             "Reaction ~ Days + (Days | Subject)"),
    "gpa_slopes": ("gpa", "gpa", "student", "occasion", ThetaLayout.full(2),
                   "gpa ~ occasion + (1 + occasion | student)"),
    "sim_slopes1234": ("sim_slopes1234", "y", "groups", "x", ThetaLayout.full(2),
                       "y ~ x + (1 + x | groups)"),
    "boundary_uncorrelated": ("boundary", "y", "g", "x", ThetaLayout.diagonal(2), "y ~ x + (1 + x || g)"),
    "boundary_slopes": ("boundary", "y", "g", "x", ThetaLayout.full(2), "y ~ x + (1 + x | g)"),
    "boundary_intercept": ("boundary", "y", "g", "x", ThetaLayout.full(1), "y ~ x + (1 | g)"),
}
MODELS = {m["name"]: m for m in json.loads((REFERENCE / "lmertest" / "df_slopes.json").read_text())["models"]}


def _data(kind: str) -> pd.DataFrame:
    if kind == "gpa":
        try:
            return simlab.datasets.gpa()
        except FileNotFoundError:
            pytest.skip("gpa.csv not available: set SIMLAB_DATA_DIR to the folder holding it")
    if kind == "sleepstudy":
        return simlab.datasets.sleepstudy()
    if kind == "boundary":
        return pd.read_csv(REFERENCE / "lmertest" / "df_slopes_boundary.csv")
    return pd.read_csv(REFERENCE / f"{kind}.csv")


def _case(name: str):
    kind, response, group, slope, layout, formula = SLOPE_DF[name]
    data = _data(kind)
    x = data[slope].to_numpy(float)
    X = np.column_stack([np.ones_like(x), x])
    cp = CrossProducts.from_arrays(data[response].to_numpy(float), X, X[:, :layout.q],
                                   pd.factorize(data[group])[0])
    return data, cp, layout, formula, MODELS[name]


def _relative(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) / np.asarray(b) - 1)))


@pytest.mark.parametrize("name", sorted(SLOPE_DF))
def test_at_lme4_theta_is_lmertest_and_pbkrtest(name):
    """At lme4's theta and sigma: lmerTest's df to its numerical error, pbkrtest's SE/df/p to 1e-9."""
    _, cp, layout, _, ref = _case(name)
    ing = relcov_ingredients(cp, layout, np.reshape(ref["theta"], (1, -1)), np.array([ref["sigma"]]),
                             ref["reml"])
    ddf = denominator_df(ing)
    se = np.sqrt(np.diag(ing.vcov[0]))
    assert _relative(se, ref["se"]) < 1e-9
    t = np.array(ref["estimate"]) / se
    assert _relative(ddf.df_satterthwaite[0], ref["df_satterthwaite"]) < 1e-6
    # p of a large t moves ~|t|^2 / df times faster than df: gpa's 6e-8 in df is 2e-5 in p.
    assert _relative(t_test_p(t, ddf.df_satterthwaite[0]), ref["p_satterthwaite"]) < 1e-4
    if ref["reml"]:
        se_kr = np.sqrt(np.diag(ddf.vcov_kr[0]))
        assert _relative(se_kr, ref["se_kr"]) < 1e-9
        assert _relative(ddf.df_kr[0], ref["df_kr"]) < 1e-9
        assert _relative(t_test_p(np.array(ref["estimate"]) / se_kr, ddf.df_kr[0]), ref["p_kr"]) < 1e-8


@pytest.mark.filterwarnings("ignore:boundary")
@pytest.mark.parametrize("name", sorted(SLOPE_DF))
def test_lmer_fixef_and_kenward_roger_against_r(name):
    """simlab.lmer's tables at its own (more exact) optimum: to lme4's optimiser error."""
    data, _, _, formula, ref = _case(name)
    result = simlab.lmer(formula, data, reml=ref["reml"])
    assert result.p_value_method == "satterthwaite"
    assert _relative(result.fixef["df"], ref["df_satterthwaite"]) < 1e-4
    assert _relative(result.fixef["p"], ref["p_satterthwaite"]) < 5e-3
    if ref["reml"]:
        kr = result.fixed_tests("kenward-roger")
        assert _relative(kr["se"], ref["se_kr"]) < 1e-5
        assert _relative(kr["df"], ref["df_kr"]) < 1e-5
        assert _relative(kr["p"], ref["p_kr"]) < 1e-3


def test_lme4_slope_reference_df(request):
    """The lme4 slope references' lmerTest df (sim_slopes1234: ``(1 | g) + (0 + x | g)``)."""
    for name in ["sim_slopes1234", "sleepstudy_uncorrelated"]:
        case = slope_reference(name, request)
        sigma = case.ref["vc"]["sdcor"][-1]
        ing = relcov_ingredients(case.cp, case.layout, np.array([case.ref["theta"]]), np.array([sigma]))
        assert _relative(denominator_df(ing).df_satterthwaite[0], case.ref["fixef"]["df_satterthwaite"]) < 1e-6


def test_boundary_is_the_df_without_the_zero_variance():
    """lmerTest at a singular (1 + x || g) fit: the (1 | g) model's df; with Sigma = 0, N - p."""
    _, cp, layout, _, ref = _case("boundary_uncorrelated")
    slope = denominator_df(relcov_ingredients(cp, layout, np.reshape(ref["theta"], (1, -1)),
                                              np.array([ref["sigma"]])))
    _, cp_int, layout_int, _, _ = _case("boundary_intercept")
    intercept = denominator_df(relcov_ingredients(cp_int, layout_int, np.array([[ref["theta"][0]]]),
                                                  np.array([ref["sigma"]])))
    np.testing.assert_allclose(slope.df_satterthwaite, intercept.df_satterthwaite, rtol=1e-10)
    assert not np.allclose(slope.df_kr, intercept.df_kr, rtol=1e-3)      # pbkrtest keeps it
    zero = relcov_ingredients(cp, layout, np.zeros((1, 2)), np.array([ref["sigma"]]))
    assert zero.singular[0]
    np.testing.assert_array_equal(denominator_df(zero).df_satterthwaite, [[cp.nobs - 2] * 2])


def _intercept_pair(data: pd.DataFrame, formula_x: list[str], response: str, group: str):
    X = np.column_stack([np.ones(len(data))] + [data[c].to_numpy(float) for c in formula_x])
    y, codes = data[response].to_numpy(float), pd.factorize(data[group])[0]
    sums = GroupSums.from_arrays(y, X, codes, codes.max() + 1)
    cp = CrossProducts.from_arrays(y, X, X[:, :1], codes)
    return sums, cp, fit_theta(sums, True)


@pytest.mark.parametrize("kind", ["sleepstudy", "boundary"])
def test_q1_is_the_random_intercept_code(kind):
    """(1 | g) through relcov_ddf: ddf.intercept_ingredients's numbers, to 1e-10 (a singular fit too)."""
    if kind == "sleepstudy":
        sums, cp, f = _intercept_pair(simlab.datasets.sleepstudy(), ["Days"], "Reaction", "Subject")
    else:
        sums, cp, f = _intercept_pair(pd.read_csv(REFERENCE / "power" / "boundary.csv"), ["x", "w"],
                                      "y", "g")
        assert f.tau[0] == 0
    one = intercept_ingredients(sums, f.tau, f.sigma)
    other = relcov_ingredients(cp, ThetaLayout.full(1), (f.tau / f.sigma)[:, None], f.sigma)
    # The hessians are in working units: the two sums standardise y alike.
    np.testing.assert_allclose(cp.y_scale, sums.y_scale, rtol=1e-12)
    for field in one._fields:
        expected = getattr(one, field)
        np.testing.assert_allclose(getattr(other, field), expected, rtol=1e-10,
                                   atol=1e-12 * np.abs(expected).max(), err_msg=field)


def _scale(values: np.ndarray) -> float:
    """Largest magnitude, leaving out the DECOUPLED Hessians of boundary directions."""
    values = np.abs(np.asarray(values, dtype=float))
    return float(values[values < DECOUPLED].max())


def _boundary_data(seed: int, n_groups: int, sizes: tuple[int, ...], slope_sd: float):
    rng = np.random.default_rng(seed)
    counts = rng.choice(sizes, n_groups)
    groups = np.repeat(np.arange(n_groups), counts)
    x = rng.normal(size=groups.size)
    b = rng.normal(size=(n_groups, 2)) * [0.8, slope_sd]
    y = 1 + 0.5 * x + b[groups, 0] + b[groups, 1] * x + rng.normal(size=groups.size)
    X = np.column_stack([np.ones_like(x), x])
    return y, X, X, groups


@pytest.mark.parametrize("layout", [ThetaLayout.full(2), ThetaLayout.diagonal(2)])
def test_stacked_batch_is_each_alone(layout):
    """Replicates with their own designs (CrossProducts.stack), singular fits among them, and
    several responses on one design: each replicate's ingredients as computed alone."""
    items = [CrossProducts.from_arrays(*_boundary_data(seed, 12, (1, 3, 6), sd), n_groups=12)
             for seed, sd in [(1, 0.5), (2, 0.0), (3, 0.3), (4, 0.0)]]
    fits = [fit(cp, layout) for cp in items]
    assert any(f.singular[0] for f in fits) and not all(f.singular[0] for f in fits)
    stack = CrossProducts.stack(items)
    batch = relcov_ingredients(stack, layout, np.concatenate([f.theta for f in fits]),
                               np.concatenate([f.sigma for f in fits]))
    for r, (cp, f) in enumerate(zip(items, fits)):
        alone = relcov_ingredients(cp, layout, f.theta, f.sigma)
        for field in alone._fields:
            np.testing.assert_allclose(getattr(batch, field)[r], getattr(alone, field)[0],
                                       rtol=1e-10, atol=1e-12 * _scale(getattr(alone, field)),
                                       err_msg=field)
    y, X, _, groups = _boundary_data(5, 10, (2, 4), 0.4)
    ys = y + np.random.default_rng(6).normal(size=(3, y.size))
    shared = CrossProducts.from_arrays(ys, X, X, groups)
    fits = fit(shared, layout)
    batch = denominator_df(relcov_ingredients(shared, layout, fits.theta, fits.sigma))
    for r in range(3):
        cp = CrossProducts.from_arrays(ys[r], X, X, groups)
        alone = denominator_df(relcov_ingredients(cp, layout, fits.theta[r:r + 1], fits.sigma[r:r + 1]))
        np.testing.assert_allclose(batch.df_satterthwaite[r], alone.df_satterthwaite[0], rtol=1e-10)
        np.testing.assert_allclose(batch.df_kr[r], alone.df_kr[0], rtol=1e-10)
