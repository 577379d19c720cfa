"""Satterthwaite (lmerTest) and Kenward-Roger (pbkrtest) df of fixed effects, against R
and against dense-matrix derivatives of the REML criterion and ML deviance."""
from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special

import simlab
from simlab.model.ddf import intercept_ddf, normal_quantile, t_test_p
from simlab.model.intercept import GroupSums

from reference_data import reference_data

REFERENCE = Path(__file__).parents[1] / "reference"
#: (reference, data, formula): lmerTest 3.1-3 / pbkrtest 0.5.2 in tests/reference/lmertest.
DF_CASES = ["gpa", "gpa_cluster", "sleepstudy", "sim1234"]
#: The cases of power/ddf_reference.out: label -> (data file, formula).
POWER_CASES = {"BAL-1": ("balanced.csv", "y ~ xw + w + (1 | g)"),
               "BAL-2": ("balanced.csv", "y ~ xr + w + (1 | g)"),
               "UNB-1": ("unbalanced.csv", "y ~ x + w + (1 | g)"),
               "UNB-2": ("unbalanced.csv", "y ~ x + (1 | g)")}


@pytest.fixture(scope="module", params=DF_CASES)
def df_case(request):
    ref = json.loads((REFERENCE / "lmertest" / f"df_{request.param}.json").read_text())
    return simlab.lmer(ref["formula"], reference_data(request.param)), ref


def test_satterthwaite_matches_lmertest(df_case):
    fit, ref = df_case
    table = fit.fixef
    assert list(table.index) == ref["term"]
    np.testing.assert_allclose(table["df"], ref["df_satterthwaite"], rtol=1e-5)
    np.testing.assert_allclose(table["p"], ref["p_satterthwaite"], rtol=1e-5)


def test_kenward_roger_matches_pbkrtest(df_case):
    fit, ref = df_case
    table = fit.fixed_tests("kenward-roger")
    np.testing.assert_allclose(table["se"], ref["se_kr"], rtol=1e-6)
    np.testing.assert_allclose(table["df"], ref["df_kr"], rtol=1e-6)
    _assert_p_close(table["p"], ref["p_kr"], rtol=1e-6)


def _assert_p_close(got, expected, rtol: float) -> None:
    """p-values to ``rtol``; far in the tail (below 1e-10) their logs, which a 1e-9 change
    of t or df already moves by 1e-6 relative at p = 1e-58."""
    got, expected = np.asarray(got, float), np.asarray(expected, float)
    tail = expected < 1e-10
    np.testing.assert_allclose(got[~tail], expected[~tail], rtol=rtol)
    np.testing.assert_allclose(np.log(got[tail]), np.log(expected[tail]), rtol=rtol)


def test_single_df_f_tests_are_t_squared(df_case):
    """lmerTest's anova F of a one-column term is t^2 on the same df (the references' anova)."""
    fit, ref = df_case
    terms = ref["anova_terms"] if isinstance(ref["anova_terms"], list) else [ref["anova_terms"]]
    rows = fit.fixef.loc[[t for t in fit.fixef.index if t != "(Intercept)"
                          and any(t.startswith(term) for term in terms)]]
    if np.ndim(ref["anova_F"]) == 0:
        assert rows["t"].iloc[0] ** 2 == pytest.approx(ref["anova_F"], rel=1e-6)
        assert rows["df"].iloc[0] == pytest.approx(ref["anova_dendf"], rel=1e-5)
    else:
        np.testing.assert_allclose(rows["t"] ** 2, ref["anova_F"], rtol=1e-6)
        np.testing.assert_allclose(rows["df"], ref["anova_dendf"], rtol=1e-5)


def _power_reference(label: str) -> pd.DataFrame:
    """The term table of one case of ddf_reference.out."""
    text = (REFERENCE / "power" / "ddf_reference.out").read_text()
    block = text.split(f"==================== {label} ")[1]
    lines = block.splitlines()
    header = lines.index(next(line for line in lines if line.strip().startswith("term")))
    rows = []
    for line in lines[header + 1:]:
        if not re.match(r"^\s*\S+\s+-?\d", line):
            break
        rows.append(line.split())
    columns = lines[header].split()
    return pd.DataFrame(rows, columns=columns).set_index("term").astype(float)


@pytest.mark.parametrize("label", sorted(POWER_CASES))
def test_balanced_and_unbalanced_designs(label):
    file, formula = POWER_CASES[label]
    fit = simlab.lmer(formula, pd.read_csv(REFERENCE / "power" / file))
    ref = _power_reference(label)
    sat, kr = fit.fixef, fit.fixed_tests("kenward-roger")
    np.testing.assert_allclose(sat["df"], ref["df_sat"], rtol=1e-5)
    np.testing.assert_allclose(sat["p"], ref["p_sat"], rtol=1e-5)
    np.testing.assert_allclose(kr["se"], ref["se_kr"], rtol=1e-6)
    np.testing.assert_allclose(kr["df"], ref["df_kr"], rtol=1e-6)
    np.testing.assert_allclose(kr["p"], ref["p_kr"], rtol=1e-6)


def test_balanced_within_and_between_df_are_exact():
    """Within-only x: N - G - 1 = 49; cluster-level w and the intercept: G - 2 = 8."""
    fit = simlab.lmer("y ~ xw + w + (1 | g)", pd.read_csv(REFERENCE / "power" / "balanced.csv"))
    np.testing.assert_allclose(fit.fixef["df"], [8, 49, 8], rtol=1e-9)
    np.testing.assert_allclose(fit.fixed_tests("kenward-roger")["df"], [8, 49, 8], rtol=1e-9)


def test_singular_fit_as_lmertest_and_pbkrtest():
    """lmerTest: N - p = 37 for every coefficient; pbkrtest: design-based."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", simlab.SingularFitWarning)
        fit = simlab.lmer("y ~ x + w + (1 | g)", pd.read_csv(REFERENCE / "power" / "boundary.csv"))
    assert fit.estimates.singular
    np.testing.assert_array_equal(fit.fixef["df"], [37.0, 37.0, 37.0])
    np.testing.assert_allclose(fit.fixef["p"], [1.44246640754e-08, 5.41215833969e-02, 3.08930588067e-02],
                               rtol=1e-6)
    kr = fit.fixed_tests("kenward-roger")
    np.testing.assert_allclose(kr["df"], [5.76987031771, 32.49132050540, 5.51983195512], rtol=1e-6)
    np.testing.assert_allclose(kr["se"], [0.169062150343, 0.170617389340, 0.173497334915], rtol=1e-6)
    np.testing.assert_allclose(kr["p"], [0.000432825140432, 0.075861413670796, 0.069839260705321],
                               rtol=1e-6)


# --- the Hessians against dense matrices ----------------------------------------------------

def _unbalanced(seed: int = 4):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 8, size=9)
    groups = np.repeat(np.arange(sizes.size), sizes)
    x = rng.normal(size=groups.size)
    w = rng.normal(size=sizes.size)[groups]
    X = np.column_stack([np.ones_like(x), x, w])
    y = X @ [1.0, 0.4, -0.3] + rng.normal(scale=0.7, size=sizes.size)[groups] + rng.normal(size=x.size)
    return y, X, groups


def _dense_criterion(y, X, groups, s_b, s_e, reml):
    Z = (groups[:, None] == np.arange(groups.max() + 1)).astype(float)
    V = s_b * Z @ Z.T + s_e * np.eye(y.size)
    Vi = np.linalg.inv(V)
    M = X.T @ Vi @ X
    beta = np.linalg.solve(M, X.T @ Vi @ y)
    r = y - X @ beta
    value = np.linalg.slogdet(V)[1] + r @ Vi @ r
    return value + (np.linalg.slogdet(M)[1] if reml else 0.0), np.linalg.inv(M)


@pytest.mark.parametrize("reml", [True, False])
def test_satterthwaite_equals_dense_numerical_derivatives(reml):
    """df from a finite-difference Hessian of the dense criterion and Jacobian of vcov."""
    y, X, groups = _unbalanced()
    fit = simlab.lmer("y ~ x + w + (1 | g)", pd.DataFrame({"y": y, "x": X[:, 1], "w": X[:, 2], "g": groups}),
                      reml=reml)
    tau, sigma = fit.tau, fit.sigma
    got = intercept_ddf(GroupSums.from_arrays(y, X, groups, groups.max() + 1),
                        np.array([tau]), np.array([sigma]), reml).df_satterthwaite[0]
    phi0 = np.array([tau ** 2, sigma ** 2])
    h = 1e-4 * phi0

    def crit(phi):
        return _dense_criterion(y, X, groups, phi[0], phi[1], reml)

    hess, jac = np.empty((2, 2)), []
    for a in range(2):
        e_a = np.eye(2)[a] * h[a]
        jac.append((crit(phi0 + e_a)[1] - crit(phi0 - e_a)[1]) / (2 * h[a]))
        for b in range(2):
            e_b = np.eye(2)[b] * h[b]
            hess[a, b] = (crit(phi0 + e_a + e_b)[0] - crit(phi0 + e_a - e_b)[0]
                          - crit(phi0 - e_a + e_b)[0] + crit(phi0 - e_a - e_b)[0]) / (4 * h[a] * h[b])
    vcov = crit(phi0)[1]
    weight = 2 * np.linalg.inv(hess)
    for j in range(3):
        g = np.array([jac[k][j, j] for k in range(2)])
        assert got[j] == pytest.approx(2 * vcov[j, j] ** 2 / (g @ weight @ g), rel=1e-5)


def test_replicates_equal_one_at_a_time():
    y, X, groups = _unbalanced()
    rng = np.random.default_rng(1)
    ys = y + rng.normal(size=(4, y.size))
    fits = [simlab.lmer("y ~ x + w + (1 | g)",
                        pd.DataFrame({"y": yr, "x": X[:, 1], "w": X[:, 2], "g": groups})) for yr in ys]
    batch = intercept_ddf(GroupSums.from_arrays(ys, X, groups, groups.max() + 1),
                          np.array([f.tau for f in fits]), np.array([f.sigma for f in fits]))
    for r, fit in enumerate(fits):
        np.testing.assert_allclose(batch.df_satterthwaite[r], fit.fixef["df"], rtol=1e-10)
        np.testing.assert_allclose(batch.df_kr[r], fit.fixed_tests("kenward-roger")["df"], rtol=1e-10)


def test_normal_tests_and_quantile():
    fit = simlab.lmer("Reaction ~ Days + (1 | Subject)", simlab.datasets.sleepstudy())
    normal = fit.fixed_tests("normal")
    assert np.isinf(normal["df"]).all()
    np.testing.assert_allclose(normal["p"], 2 * special.ndtr(-np.abs(normal["t"])), rtol=1e-12)
    assert normal_quantile(0.95) == pytest.approx(1.959963984540054)
    assert t_test_p(np.array([2.0]), np.array([np.inf]))[0] == pytest.approx(0.0455002638963584)


def test_bad_ddf_and_slope_models_df():
    sleep = simlab.datasets.sleepstudy()
    with pytest.raises(ValueError, match=r"ddf must be one of .*'satterthwaite'.*got 'KR'"):
        simlab.lmer("Reaction ~ Days + (1 | Subject)", sleep).fixed_tests("KR")
    # Random slopes have df too (relcov_ddf): balanced sleepstudy gives exactly G - 1 = 17.
    slopes = simlab.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    assert slopes.p_value_method == "satterthwaite"
    np.testing.assert_allclose(slopes.fixef["df"], 17.0, rtol=1e-9)
    np.testing.assert_allclose(slopes.fixed_tests("kenward-roger")["df"], 17.0, rtol=1e-9)
    assert "Satterthwaite's method ['lmerModLmerTest']" in str(slopes)
