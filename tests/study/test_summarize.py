"""summarize(): long sweep results -> performance measures per cell x parameter."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from simlab.study import measures as ms
from simlab.study.summarize import REQUIRED_COLUMNS, output_columns, summarize

REPS = 50
# lme4's confint names and order (simlab.model.parameters), as sweeps write them.
PARAMS = {"sd_(Intercept)|group": None, "(Intercept)": 1.0, "x": 0.3}  # None: the cell's tau
SE = {"sd_(Intercept)|group": float("nan"), "(Intercept)": 0.25, "x": 0.12}
GRID = [  # cell -> (n_groups, tau)
    (10, 0.5),
    (20, 0.0),
    (5, 0.5),  # every fit fails
]
FAILED_REPS = {0: {3, 17}, 1: {40}, 2: set(range(REPS))}
SINGULAR_REPS = {0: {5, 6, 7}, 1: {1, 2, 3, 4}}
NONCONVERGED_REPS = {0: {9}}
GARBAGE = 1.0e6  # put in failed rows to prove they are excluded


def _row(cell, rep, parameter, rng):
    n_groups, tau = GRID[cell]
    truth = tau if PARAMS[parameter] is None else PARAMS[parameter]
    base = {"n_groups": n_groups, "tau": tau, "cell": cell, "rep": rep,
            "parameter": parameter, "truth": truth, "seed": 1000 * cell + rep}
    if rep in FAILED_REPS[cell]:
        return {**base, "estimate": GARBAGE, "se": GARBAGE, "lower_wald": GARBAGE,
                "upper_wald": GARBAGE, "lower_profile": np.nan, "upper_profile": np.nan,
                "singular": False, "converged": False, "error": "LinAlgError: singular matrix"}
    singular = rep in SINGULAR_REPS.get(cell, ())
    se = SE[parameter] * rng.uniform(0.8, 1.2) if parameter != "sd_(Intercept)|group" else np.nan
    if parameter == "sd_(Intercept)|group":
        est = 0.0 if singular else abs(truth + rng.normal(0, 0.15))
        lo_p, hi_p = max(est - 0.3, 0.0), est + 0.35
    else:
        est = truth + rng.normal(0, SE[parameter])
        lo_p, hi_p = est - 2.0 * se, est + 1.9 * se
    return {**base, "estimate": est, "se": se, "lower_wald": est - 1.96 * se,
            "upper_wald": est + 1.96 * se, "lower_profile": lo_p, "upper_profile": hi_p,
            "singular": singular, "converged": rep not in NONCONVERGED_REPS.get(cell, ()),
            "error": ""}


@pytest.fixture(scope="module")
def results():
    rng = np.random.default_rng(2024)
    rows = [_row(cell, rep, p, rng)
            for cell in range(len(GRID)) for rep in range(REPS) for p in PARAMS]
    df = pd.DataFrame(rows)
    # A profile bound that could not be found: NaN in an otherwise good fit.
    df.loc[(df.cell == 0) & (df.rep == 20) & (df.parameter == "x"), "upper_profile"] = np.nan
    return df


@pytest.fixture(scope="module")
def summary(results):
    return summarize(results)


def _one(summary, cell, parameter):
    sel = summary[(summary.cell == cell) & (summary.parameter == parameter)]
    assert len(sel) == 1
    return sel.iloc[0]


def _ok(results, cell, parameter):
    return results[(results.cell == cell) & (results.parameter == parameter)
                   & (results.error == "")]


# --- shape and columns -------------------------------------------------------

def test_one_row_per_cell_and_parameter_in_order(summary):
    assert len(summary) == len(GRID) * len(PARAMS)
    assert list(summary.cell) == [c for c in range(len(GRID)) for _ in PARAMS]
    assert list(summary.parameter) == list(PARAMS) * len(GRID)


def test_column_set(summary):
    assert list(summary.columns) == output_columns(["n_groups", "tau"], ["wald", "profile"])
    expected = {
        "n_groups", "tau", "cell", "parameter", "nsim", "n_failed", "n_singular",
        "singular_rate", "singular_rate_mcse", "failure_rate", "failure_rate_mcse", "truth",
        "mean_estimate", "mean_estimate_mcse", "bias", "bias_mcse", "relative_bias",
        "relative_bias_mcse", "empirical_se", "empirical_se_mcse", "model_se",
        "model_se_mcse", "relative_error_model_se", "relative_error_model_se_mcse",
        "rmse", "rmse_mcse", "power_z", "power_z_mcse",
    }
    for m in ("wald", "profile"):
        expected |= {f"{k}_{m}{s}" for k in ("coverage", "width", "power") for s in ("", "_mcse")}
    assert expected <= set(summary.columns)
    assert "seed" not in summary.columns  # varies within a cell: not a grid key
    assert "rep" not in summary.columns


def test_grid_columns_are_kept(summary):
    for cell, (n_groups, tau) in enumerate(GRID):
        rows = summary[summary.cell == cell]
        assert (rows.n_groups == n_groups).all() and (rows.tau == tau).all()


# --- counts ---------------------------------------------------------------

def test_counts(summary):
    for cell in range(len(GRID)):
        n_failed = len(FAILED_REPS[cell])
        for parameter in PARAMS:
            row = _one(summary, cell, parameter)
            assert row.n_failed == n_failed
            assert row.nsim == REPS - n_failed
            assert row.n_singular == len(SINGULAR_REPS.get(cell, ()))
            assert row.n_nonconverged == len(NONCONVERGED_REPS.get(cell, ()))
            assert row.failure_rate == pytest.approx(n_failed / REPS)
    assert summary.nsim.dtype == np.int64 and summary.n_failed.dtype == np.int64


def test_rates_and_their_mcse(summary):
    row = _one(summary, 0, "x")
    p = 3 / 48  # singular among the 48 successful fits
    assert row.singular_rate == pytest.approx(p)
    assert row.singular_rate_mcse == pytest.approx(math.sqrt(p * (1 - p) / 48))
    q = 2 / 50
    assert row.failure_rate_mcse == pytest.approx(math.sqrt(q * (1 - q) / 50))
    assert row.nonconverged_rate == pytest.approx(1 / 48)


def test_all_failed_cell_appears_with_nan_measures(summary):
    rows = summary[summary.cell == 2]
    assert len(rows) == len(PARAMS)
    assert (rows.nsim == 0).all() and (rows.n_failed == REPS).all()
    assert (rows.failure_rate == 1.0).all() and (rows.failure_rate_mcse == 0.0).all()
    assert rows.truth.tolist() == [0.5, 1.0, 0.3]
    measure_cols = [c for c in summary.columns
                    if c not in {"n_groups", "tau", "cell", "parameter", "truth", "nsim"}
                    and not c.startswith(("n_", "failure_rate"))]
    assert rows[measure_cols].isna().all().all()


# --- the measures themselves ------------------------------------------------------

def test_failures_are_excluded_from_measures(summary):
    # Failed rows hold 1e6: any leak would blow these up.
    assert summary.mean_estimate.abs().max() < 10
    assert summary.model_se.max() < 10
    assert summary.width_wald.max() < 10


def test_one_cell_matches_the_measure_functions(results, summary):
    ok = _ok(results, 0, "x")
    assert len(ok) == 48
    est, se, truth = ok.estimate.to_numpy(), ok.se.to_numpy(), 0.3
    row = _one(summary, 0, "x")
    expected = {
        "mean_estimate": ms.mean_estimate(est),
        "bias": ms.bias(est, truth),
        "relative_bias": ms.relative_bias(est, truth),
        "empirical_se": ms.empirical_se(est),
        "model_se": ms.model_se(se),
        "relative_error_model_se": ms.relative_error_model_se(est, se),
        "rmse": ms.rmse(est, truth),
    }
    for m in ("wald", "profile"):
        lo, hi = ok[f"lower_{m}"].to_numpy(), ok[f"upper_{m}"].to_numpy()
        expected[f"coverage_{m}"] = ms.coverage(lo, hi, truth)
        expected[f"width_{m}"] = ms.mean_width(lo, hi)
        expected[f"power_{m}"] = ms.rejection_rate(lo, hi, 0.0)
    for name, (value, mcse) in expected.items():
        assert row[name] == pytest.approx(value, rel=1e-12), name
        assert row[f"{name}_mcse"] == pytest.approx(mcse, rel=1e-12), name
    assert row.truth == truth


def test_independent_check_of_some_numbers(results, summary):
    ok = _ok(results, 0, "(Intercept)")
    row = _one(summary, 0, "(Intercept)")
    assert row.bias == pytest.approx(ok.estimate.mean() - 1.0)
    assert row.bias_mcse == pytest.approx(ok.estimate.std(ddof=1) / math.sqrt(48))
    assert row.rmse == pytest.approx(math.sqrt(((ok.estimate - 1.0) ** 2).mean()))
    assert row.model_se == pytest.approx(math.sqrt((ok.se**2).mean()))
    covered = (ok.lower_wald <= 1.0) & (1.0 <= ok.upper_wald)
    assert row.coverage_wald == pytest.approx(covered.mean())


def test_nan_bound_is_excluded_from_that_method_only(results, summary):
    row = _one(summary, 0, "x")
    ok = _ok(results, 0, "x")
    good = ok.upper_profile.notna()
    assert (~good).sum() == 1
    covered = (ok.lower_profile[good] <= 0.3) & (0.3 <= ok.upper_profile[good])
    assert row.coverage_profile == pytest.approx(covered.mean())
    assert row.coverage_profile_mcse == pytest.approx(
        math.sqrt(covered.mean() * (1 - covered.mean()) / 47))
    assert row.width_wald_mcse == pytest.approx(
        (ok.upper_wald - ok.lower_wald).std(ddof=1) / math.sqrt(48))


def test_singular_fits_are_kept_in_the_measures(results, summary):
    ok = _ok(results, 1, "sd_(Intercept)|group")
    assert (ok.singular & (ok.estimate == 0.0)).sum() == 4
    row = _one(summary, 1, "sd_(Intercept)|group")
    assert row.mean_estimate == pytest.approx(ok.estimate.mean())
    assert row.nsim == 49


def test_variance_parameters(summary):
    sd_rows = summary[summary.parameter == "sd_(Intercept)|group"]
    for col in ("model_se", "relative_error_model_se", "coverage_wald", "width_wald",
                "power_wald", "power_profile", "power_z"):
        assert sd_rows[col].isna().all(), col
    good = sd_rows[sd_rows.nsim > 0]
    assert good.coverage_profile.notna().all() and good.empirical_se.notna().all()


def test_relative_bias_is_nan_at_zero_truth(summary):
    row = _one(summary, 1, "sd_(Intercept)|group")
    assert row.truth == 0.0 and math.isnan(row.relative_bias)
    assert not math.isnan(row.bias)


def test_power_z_uses_level(results, summary):
    ok = _ok(results, 1, "x")
    zstat = (ok.estimate / ok.se).abs()
    row = _one(summary, 1, "x")
    p = (zstat > norm.ppf(0.975)).mean()
    assert row.power_z == pytest.approx(p)
    assert row.power_z_mcse == pytest.approx(math.sqrt(p * (1 - p) / len(ok)))
    loose = _one(summarize(results, level=0.5), 1, "x")
    assert loose.power_z == pytest.approx((zstat > norm.ppf(0.75)).mean())
    assert loose.power_z > row.power_z
    # level does not touch the stored intervals.
    assert loose.coverage_wald == row.coverage_wald


def test_row_order_does_not_matter(results, summary):
    shuffled = results.sample(frac=1.0, random_state=3)
    again = summarize(shuffled)
    key = ["cell", "parameter"]
    a = summary.sort_values(key, ignore_index=True)
    b = again.sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)


def test_missing_error_values_count_as_successes(results, summary):
    df = results.astype({"error": object})
    df.loc[df.error == "", "error"] = None
    pd.testing.assert_frame_equal(summarize(df), summary)


def test_explicit_grid_columns(results):
    out = summarize(results, grid_columns=["n_groups"])
    assert "tau" not in out.columns and "n_groups" in out.columns
    with pytest.raises(ValueError, match="vary within a cell"):
        summarize(results, grid_columns=["seed"])
    with pytest.raises(ValueError, match="not in results"):
        summarize(results, grid_columns=["nope"])


def test_empty_results_give_empty_summary(results):
    out = summarize(results.iloc[:0])
    assert out.empty and "coverage_wald" in out.columns


def test_only_needed_methods(results):
    out = summarize(results.drop(columns=["lower_profile", "upper_profile"]))
    assert "coverage_wald" in out.columns
    assert not any("profile" in c for c in out.columns)


# --- bad inputs ------------------------------------------------------------------

@pytest.mark.parametrize("missing", [["error"], ["truth", "se"], ["cell"]])
def test_missing_columns_are_named(results, missing):
    with pytest.raises(ValueError, match="missing required columns") as info:
        summarize(results.drop(columns=missing))
    for col in missing:
        assert repr(col) in str(info.value)


def test_required_columns_constant():
    assert set(REQUIRED_COLUMNS) == {"cell", "rep", "parameter", "truth", "estimate",
                                     "se", "singular", "converged", "error"}


@pytest.mark.parametrize("level, error", [
    (0.0, ValueError), (1.0, ValueError), (-0.1, ValueError), (1.5, ValueError),
    (float("nan"), ValueError), (95, ValueError), (True, TypeError), ("0.95", TypeError),
    (None, TypeError)])
def test_bad_level(results, level, error):
    with pytest.raises(error, match="level must be .*strictly between 0 and 1"):
        summarize(results, level=level)


def test_level_is_keyword_only(results):
    """summarize(results, 0.05) was alpha in 0.1: a positional level would be misread."""
    with pytest.raises(TypeError, match="positional argument"):
        summarize(results, 0.95)


def test_the_summary_reads_as_a_summary(summary):
    """str() and the notebook show bias and coverage +- MCSE; derived tables are DataFrames."""
    text = str(summary)
    assert text.startswith("Summary (bias and coverage, each +- Monte Carlo SE)\n")
    header = text.splitlines()[1].split()
    assert header == ["n_groups", "tau", "parameter", "nsim", "bias", "coverage_wald",
                      "coverage_profile"]
    assert len(text.splitlines()) == 2 + len(summary)
    assert "+-" in text and "NA" in text        # the cell whose fits all failed
    assert summary._repr_html_().startswith("<pre>Summary (bias and coverage")
    assert isinstance(summary, pd.DataFrame)
    assert type(summary[summary.cell == 0]) is pd.DataFrame
    assert type(summary.copy()) is pd.DataFrame


def test_unpaired_bound_column(results):
    with pytest.raises(ValueError, match="upper_profile"):
        summarize(results.drop(columns=["upper_profile"]))


def test_duplicated_rows(results):
    with pytest.raises(ValueError, match="duplicated"):
        summarize(pd.concat([results, results.iloc[:1]]))


def test_truth_must_be_constant_within_cell_and_parameter(results):
    df = results.copy()
    df.loc[df.index[0], "truth"] = 123.0
    with pytest.raises(ValueError, match="truth varies"):
        summarize(df)


def test_not_a_dataframe(results):
    with pytest.raises(TypeError, match="DataFrame"):
        summarize(results.to_dict("records"))


# --- a real sweep with random slopes (issue 11, item 4) -----------------------

def test_a_slope_sweep_covers_the_slope_at_its_level():
    """Wald intervals of x in 40 groups x 5 with random slopes: coverage 0.95 within 3 MCSEs."""
    from simlab.study import sweep

    nsim = 250
    results = sweep({"n_groups": 40, "n_per_group": 5, "tau": 0.5, "sigma": 0.5,
                     "tau_slope": 0.3, "rho": 0.3}, nsim=nsim, seed=11, ci=("wald",), progress=False)
    summary = summarize(results).set_index("parameter")
    assert summary.index.tolist() == ["sd_(Intercept)|group", "cor_x.(Intercept)|group",
                                      "sd_x|group", "sigma", "(Intercept)", "x"]
    assert summary["truth"].tolist() == [0.5, 0.3, 0.3, 0.5, 2.0, 0.5]
    assert (summary["nsim"] == nsim).all() and (summary["n_failed"] == 0).all()
    mcse = math.sqrt(0.95 * 0.05 / nsim)
    assert abs(summary.loc["x", "coverage_wald"] - 0.95) < 3 * mcse
    assert abs(summary.loc["x", "bias"]) < 3 * summary.loc["x", "bias_mcse"]
    assert summary.loc[["sd_(Intercept)|group", "sigma"], "coverage_wald"].isna().all()
