"""F tests of fixed-effect terms and contrasts: Satterthwaite (lmerTest) and Kenward-Roger
(pbkrtest), against R (tests/reference/lmertest/ftests.json) and against their own identities."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab.model.ddf import Ingredients, intercept_ingredients
from simlab.model.ftest import F_METHODS, _combined_df, check_contrast, f_test
from simlab.model.intercept import GroupSums, fit_theta
from simlab.model.result import F_COLUMNS

from reference_data import reference_data

from test_ddf import _assert_p_close  # one rule for p-values far in the tail

REFERENCE = Path(__file__).parents[1] / "reference"
FTESTS = json.loads((REFERENCE / "lmertest" / "ftests.json").read_text())["cases"]
#: Models whose every term is tested on all its columns (no term inside an interaction).
MAIN_EFFECTS = ["gpa", "gpa_factor", "sleepstudy_factor", "sleepstudy", "boundary"]
INTERACTIONS = ["gpa_interaction", "gpa_numeric_interaction"]
#: The issue's tolerances: Satterthwaite (lmerTest differentiates numerically) and Kenward-Roger.
RTOL = {"satterthwaite": 1e-5, "kenward-roger": 1e-6}
REF_KEYS = {"satterthwaite": ("anova_satterthwaite", "satterthwaite"),
            "kenward-roger": ("anova_kr", "kenward_roger")}


@pytest.fixture(scope="module")
def fits():
    cache = {}

    def get(name: str):
        if name not in cache:
            with pytest.warns(Warning) if FTESTS[name]["singular"] else _no_warning():
                cache[name] = simlab.lmer(FTESTS[name]["simlab_formula"], reference_data(name))
        return cache[name]
    return get


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _table(ref: dict) -> pd.DataFrame:
    """An lmerTest table of the JSON (one-row tables are stored unboxed)."""
    return pd.DataFrame({c: np.atleast_1d(ref[c]) for c in F_COLUMNS},
                        index=np.atleast_1d(ref.get("term", ["L"])))


def _assert_table(table: pd.DataFrame, ref: pd.DataFrame, rtol: float) -> None:
    np.testing.assert_array_equal(table["num_df"], ref["num_df"])
    for column in ["sum_sq", "mean_sq", "den_df", "f"]:
        np.testing.assert_allclose(table[column], ref[column], rtol=rtol, err_msg=column)
    _assert_p_close(table["p"], ref["p"], rtol)


@pytest.mark.parametrize("ddf", F_METHODS)
@pytest.mark.parametrize("name", MAIN_EFFECTS)
def test_anova_matches_lmertest(fits, name, ddf):
    fit, ref = fits(name), FTESTS[name]
    assert fit.singular == ref["singular"]
    table = fit.anova(ddf=ddf)
    expected = _table(ref[REF_KEYS[ddf][0]])
    assert list(table.columns) == F_COLUMNS and len(table) == len(expected)
    _assert_table(table, expected, RTOL[ddf])
    method = "Satterthwaite's" if ddf == "satterthwaite" else "Kenward-Roger's"
    assert table.attrs["heading"] == f"Type III Analysis of Variance Table with {method} method"


@pytest.mark.parametrize("ddf", F_METHODS)
@pytest.mark.parametrize("name", MAIN_EFFECTS)
def test_contest_matches_lmertest_and_krmodcomp(fits, name, ddf):
    fit, ref = fits(name), FTESTS[name]
    for case in ref["contrasts"]:
        table = fit.contest(np.array(case["L"]), ddf=ddf, rhs=case["rhs"])
        _assert_table(table, _table(case[REF_KEYS[ddf][1]]), RTOL[ddf])
        if ddf == "kenward-roger":
            kr = case["krmodcomp"]
            np.testing.assert_allclose(table["f"], kr["f"], rtol=1e-6)
            np.testing.assert_allclose(table["den_df"], kr["den_df"], rtol=1e-6)
            np.testing.assert_allclose(table["mean_sq"] / fit.sigma ** 2, kr["f_unscaled"], rtol=1e-6)


def test_kr_scaling_is_not_trivial_in_a_reference():
    """The references exercise pbkrtest's F scaling, not only lambda = 1."""
    scalings = [c["krmodcomp"]["scaling"] for n in MAIN_EFFECTS for c in FTESTS[n]["contrasts"]]
    assert min(scalings) < 0.999


@pytest.mark.parametrize("name", INTERACTIONS)
def test_interaction_terms(fits, name):
    """lmerTest's own Type III hypotheses through contest give its table; the terms no other
    term contains are tested on their columns, and the table refuses the contained ones."""
    fit, ref = fits(name), FTESTS[name]
    hypotheses = ref["hypotheses"]
    identity = np.eye(len(fit.design.terms))
    contained = []
    for term in fit.design.fixed_terms[1:]:
        L = np.atleast_2d(hypotheses[_r_label(term.label)])
        if np.allclose(L, identity[list(term.columns)]):
            continue
        contained.append(term.label)
    assert contained            # these models do have terms inside interactions
    with pytest.raises(ValueError, match="contained in interactions"):
        fit.anova()
    for ddf in F_METHODS:
        expected = _table(ref[REF_KEYS[ddf][0]])
        rows = [fit.contest(np.atleast_2d(hypotheses[label]), ddf=ddf) for label in expected.index]
        _assert_table(pd.concat(rows).set_axis(expected.index), expected, RTOL[ddf])


def _r_label(label: str) -> str:
    return label.replace("C(occasion)", "factor(occasion)")


@pytest.mark.parametrize("name", ["gpa", "sleepstudy", "boundary"])
def test_one_row_is_the_t_test(fits, name):
    """q = 1: F = t^2 with the t test's df and p; Kenward-Roger's scaling is then 1."""
    fit = fits(name)
    for ddf in F_METHODS:
        t_tests = fit.fixed_tests(ddf)
        for j, term in enumerate(fit.design.terms):
            row = fit.contest(np.eye(len(fit.design.terms))[j], ddf=ddf).iloc[0]
            assert row["num_df"] == 1
            np.testing.assert_allclose(row["f"], t_tests["t"].iloc[j] ** 2, rtol=1e-12)
            np.testing.assert_allclose(row["den_df"], t_tests["df"].iloc[j], rtol=1e-12)
            np.testing.assert_allclose(row["p"], t_tests["p"].iloc[j], rtol=1e-9)
    test = f_test(fit._ingredients, fit.estimates.beta[None], np.eye(len(fit.design.terms))[1:2],
                  "kenward-roger")
    np.testing.assert_allclose(test.scaling, 1.0, rtol=1e-12)


@pytest.mark.parametrize("name", ["gpa_factor", "sleepstudy", "boundary"])
def test_basis_of_L(fits, name):
    """The hypothesis, not its rows, decides: any basis for F and Kenward-Roger; Satterthwaite's
    eigen-directions of L Phi L' are unchanged by an orthogonal change of rows (and a scale)."""
    fit, ref = fits(name), FTESTS[name]
    L = np.array(ref["contrasts"][0]["L"], dtype=float)
    q = L.shape[0]
    rng = np.random.default_rng(7)
    mixed = rng.normal(size=(q, q)) + 3 * np.eye(q)
    orthogonal = 2.5 * np.linalg.qr(rng.normal(size=(q, q)))[0]
    for ddf in F_METHODS:
        base = fit.contest(L, ddf=ddf)
        for A in (mixed, orthogonal):
            other = fit.contest(A @ L, ddf=ddf)
            np.testing.assert_allclose(other["f"], base["f"], rtol=1e-10)
            if ddf == "kenward-roger" or A is orthogonal:
                np.testing.assert_allclose(other["den_df"], base["den_df"], rtol=1e-10)
    # By default, every coefficient but the intercept.
    pd.testing.assert_frame_equal(fit.contest(), fit.contest(np.eye(len(fit.design.terms))[1:]))
    # A DataFrame's columns are matched by name, whatever their order.
    frame = pd.DataFrame(L, columns=fit.design.terms).iloc[:, ::-1]
    pd.testing.assert_frame_equal(fit.contest(frame), fit.contest(L))


def test_replicates_batch_equals_each_alone():
    """One call over R replicates gives each replicate's own test, and replicate 0 is the fit's."""
    data = simlab.simulate(n_groups=12, n_per_group=5, tau=0.4, sigma=1.0, seed=3)
    data["z"] = np.tile(np.arange(5.0), 12) ** 1.5
    fit = simlab.lmer("y ~ x + z + (1 | group)", data)
    rng = np.random.default_rng(11)
    y = np.vstack([fit.design.y, fit.design.y + rng.normal(size=(5, fit.nobs))])
    y[3] = fit.design.X @ np.array([1.0, 0.2, 0.1]) + rng.normal(size=fit.nobs)  # no group effect
    sums = GroupSums.from_arrays(y, fit.design.X, fit.design.groups, fit.design.n_groups)
    theta = fit_theta(sums)
    assert theta.singular[3] and not theta.singular[0]     # boundary and interior fits together
    batch = intercept_ingredients(sums, theta.tau, theta.sigma)
    L = np.array([[0, 1, 0], [0, 1, -1.0]])
    for method in F_METHODS:
        together = f_test(batch, theta.beta, L, method, rhs=np.array([0.1, 0.0]))
        for r in range(len(y)):
            alone = Ingredients(*(np.asarray(field)[r:r + 1] for field in batch))
            single = f_test(alone, theta.beta[r:r + 1], L, method, rhs=np.array([0.1, 0.0]))
            for a, b in zip(together, single):
                np.testing.assert_allclose(np.asarray(a, float)[r] if np.ndim(a) else a,
                                           np.asarray(b, float)[0] if np.ndim(b) else b,
                                           rtol=1e-12)
        row = fit.contest(L, ddf=method, rhs=[0.1, 0.0]).iloc[0]
        np.testing.assert_allclose([row["f"], row["den_df"]],
                                   [together.f_value[0], together.den_df[0]], rtol=1e-9)


def test_combined_df_rules():
    """lmerTest's get_Fstat_ddf: one df is itself, equal df their mean, any df <= 2 gives 2."""
    nu = np.array([[30.0, 30.0 + 1e-10], [10.0, 40.0], [1.5, 50.0], [25.0, 25.0]])
    e = 10 / 8 + 40 / 38
    np.testing.assert_allclose(_combined_df(nu), [30.0 + 5e-11, 2 * e / (e - 2), 2.0, 25.0],
                               rtol=1e-14)
    np.testing.assert_array_equal(_combined_df(np.array([[7.5]])), [7.5])


def test_intercept_only_model_has_an_empty_table():
    fit = simlab.lmer("Reaction ~ 1 + (1 | Subject)", simlab.datasets.sleepstudy())
    table = fit.anova()
    assert table.empty and list(table.columns) == F_COLUMNS
    with pytest.raises(ValueError, match="no fixed effect but the intercept"):
        fit.contest()
    np.testing.assert_allclose(fit.contest([1])["f"], fit.fixef["t"] ** 2, rtol=1e-12)


@pytest.mark.parametrize("L, message", [
    (np.ones((2, 3)), "2 columns"),
    (np.ones((0, 2)), "one or more rows"),
    (np.ones((1, 1, 2)), "2 columns"),
    ([[0, 1], [0, np.nan]], "missing or infinite"),
    ([[0, 1], [0, 2]], "linearly dependent"),
    ([[0, 0]], "linearly dependent"),
    ("ab", "numeric matrix"),
])
def test_bad_contrasts(L, message):
    with pytest.raises(ValueError, match=message):
        check_contrast(L, 2)


def test_bad_arguments():
    sleep = simlab.datasets.sleepstudy()
    fit = simlab.lmer("Reaction ~ Days + (1 | Subject)", sleep)
    with pytest.raises(ValueError, match="ddf must be one of"):
        fit.anova(ddf="normal")
    with pytest.raises(ValueError, match="ddf must be one of"):
        fit.contest([0, 1], ddf="Kenward-Roger")
    with pytest.raises(ValueError, match="rhs must be"):
        fit.contest([[1, 0], [0, 1]], rhs=[1, 2, 3])
    with pytest.raises(ValueError, match="columns of L"):
        fit.contest(pd.DataFrame([[0, 1]], columns=["(Intercept)", "days"]))
    with pytest.raises(ValueError, match="REML fits only"):
        fit.refit_ml().anova(ddf="kenward-roger")
    ml = fit.refit_ml().contest([0, 1])          # Satterthwaite works on ML fits, as lmerTest
    assert ml["den_df"].iloc[0] > 0
    slopes = simlab.lmer("Reaction ~ Days + (Days | Subject)", sleep)   # relcov_ddf: F = t^2
    table = slopes.anova()
    np.testing.assert_allclose(table.loc["Days", "f"], slopes.fixef.loc["Days", "t"] ** 2, rtol=1e-10)
    np.testing.assert_allclose(table.loc["Days", "den_df"], slopes.fixef.loc["Days", "df"], rtol=1e-10)
