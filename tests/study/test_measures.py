"""Performance measures (Morris, White & Crowther 2019) and their Monte Carlo SEs."""
from __future__ import annotations

import math
import statistics
import warnings

import numpy as np
import pytest

from simlab.study import measures as ms
from simlab.study.measures import Measure, clopper_pearson

X = [1.0, 2.0, 4.0, 7.0]  # mean 3.5, S^2 = 7
TRUTH = 3.0
NAN = float("nan")


def _sd(values):
    return statistics.stdev(values)


def _approx(measure, estimate, mcse):
    assert measure.estimate == pytest.approx(estimate, rel=1e-12, abs=1e-14)
    assert measure.mcse == pytest.approx(mcse, rel=1e-12, abs=1e-14)


def _is_missing(measure):
    return math.isnan(measure.estimate) and math.isnan(measure.mcse)


# --- hand-computed values ------------------------------------------------------

def test_measure_is_a_named_pair():
    m = ms.bias(X, TRUTH)
    assert isinstance(m, Measure) and isinstance(m, tuple)
    estimate, mcse = m
    assert (estimate, mcse) == (m.estimate, m.mcse)
    assert isinstance(m.estimate, float) and isinstance(m.mcse, float)


def test_mean_estimate():
    _approx(ms.mean_estimate(X), 3.5, math.sqrt(7 / 4))


def test_bias():
    _approx(ms.bias(X, TRUTH), 0.5, math.sqrt(7 / 4))
    _approx(ms.bias(X, 3.5), 0.0, math.sqrt(7 / 4))


def test_relative_bias():
    _approx(ms.relative_bias(X, TRUTH), 0.5 / 3.0, math.sqrt(7 / 4) / 3.0)
    # A negative truth keeps the sign of bias / truth and a positive MCSE.
    _approx(ms.relative_bias([-1.0, -3.0], -1.0), 1.0, 1.0)


def test_relative_bias_is_nan_at_zero_truth():
    assert _is_missing(ms.relative_bias(X, 0.0))
    assert _is_missing(ms.relative_bias(X, NAN))


def test_empirical_se():
    s = math.sqrt(7.0)
    _approx(ms.empirical_se(X), s, s / math.sqrt(2 * 3))
    assert ms.empirical_se(X).estimate == pytest.approx(_sd(X))


def test_mse():
    sq = [(x - TRUTH) ** 2 for x in X]  # 4, 1, 1, 16
    value = sum(sq) / 4
    mcse = math.sqrt(sum((s - value) ** 2 for s in sq) / (4 * 3))
    _approx(ms.mse(X, TRUTH), value, mcse)
    assert value == 5.5


def test_rmse_delta_method():
    value, mcse = ms.mse(X, TRUTH)
    _approx(ms.rmse(X, TRUTH), math.sqrt(value), mcse / (2 * math.sqrt(value)))


def test_rmse_of_perfect_estimates():
    m = ms.rmse([2.0, 2.0, 2.0], 2.0)
    assert m.estimate == 0.0 and math.isnan(m.mcse)


def test_model_se():
    ses = [1.0, 2.0, 2.0, 3.0]
    v = [s**2 for s in ses]  # mean 4.5
    mod = math.sqrt(statistics.mean(v))
    mcse = math.sqrt(statistics.variance(v) / (4 * len(v) * mod**2))
    _approx(ms.model_se(ses), mod, mcse)
    # sqrt(mean(se^2)), not mean(se).
    assert ms.model_se(ses).estimate != pytest.approx(statistics.mean(ses))


def test_relative_error_model_se():
    est = [0.1, -0.4, 0.3, 0.9, -0.2]
    ses = [0.5, 0.4, 0.6, 0.5, 0.45]
    n = len(est)
    emp = _sd(est)
    v = [s**2 for s in ses]
    mod = math.sqrt(statistics.mean(v))
    value = 100 * (mod / emp - 1)
    mcse = 100 * (mod / emp) * math.sqrt(
        statistics.variance(v) / (4 * n * mod**4) + 1 / (2 * (n - 1))
    )
    _approx(ms.relative_error_model_se(est, ses), value, mcse)


def test_coverage_and_its_binomial_mcse():
    lower = [0.0, 1.0, 2.5, 3.0, -1.0]
    upper = [4.0, 2.0, 5.0, 6.0, 3.0]  # covers 3: yes, no, yes, yes (edge), yes (edge)
    p = 4 / 5
    _approx(ms.coverage(lower, upper, 3.0), p, math.sqrt(p * (1 - p) / 5))


def test_mean_width():
    lower = [0.0, 1.0, 2.5, 3.0]
    upper = [4.0, 2.0, 5.0, 6.0]
    w = [u - lo for lo, u in zip(lower, upper)]
    _approx(ms.mean_width(lower, upper), statistics.mean(w), _sd(w) / math.sqrt(4))


def test_rejection_rate():
    lower = [0.5, -1.0, -3.0, 0.0, 0.1]
    upper = [1.5, 1.0, -0.2, 2.0, 0.9]  # exclude 0: yes, no, yes, no (edge), yes
    p = 3 / 5
    _approx(ms.rejection_rate(lower, upper), p, math.sqrt(p * (1 - p) / 5))
    # Against another null: 1.0 is outside [-3, -0.2] and [0.1, 0.9] only.
    _approx(ms.rejection_rate(lower, upper, null=1.0), 2 / 5, math.sqrt(0.4 * 0.6 / 5))


def test_proportion():
    _approx(ms.proportion([True, False, True, True]), 0.75, math.sqrt(0.75 * 0.25 / 4))
    _approx(ms.proportion([1.0, 0.0, NAN]), 0.5, math.sqrt(0.25 / 2))


# --- NaN handling and small n ------------------------------------------------------

def test_nan_estimates_are_excluded():
    with_nan = [1.0, NAN, 2.0, 4.0, NAN, 7.0]
    for fn in (ms.bias, ms.relative_bias, ms.mse, ms.rmse):
        assert fn(with_nan, TRUTH) == fn(X, TRUTH)
    for fn in (ms.mean_estimate, ms.empirical_se, ms.model_se):
        assert fn(with_nan) == fn(X)


def test_nan_pairs_are_dropped_together():
    lower = np.array([0.0, NAN, 2.5, 3.0, 1.0])
    upper = np.array([4.0, 2.0, 5.0, 6.0, NAN])
    keep = [0, 2, 3]
    assert ms.coverage(lower, upper, 3.0) == ms.coverage(lower[keep], upper[keep], 3.0)
    assert ms.mean_width(lower, upper) == ms.mean_width(lower[keep], upper[keep])
    assert ms.rejection_rate(lower, upper) == ms.rejection_rate(lower[keep], upper[keep])
    est = np.array([0.1, -0.4, 0.3, NAN, -0.2, 0.7])
    ses = np.array([0.5, NAN, 0.6, 0.5, 0.45, 0.3])
    keep = [0, 2, 4, 5]
    assert ms.relative_error_model_se(est, ses) == ms.relative_error_model_se(est[keep], ses[keep])


def test_paired_inputs_must_match_in_length():
    with pytest.raises(ValueError, match="length"):
        ms.coverage([0.0, 1.0], [1.0], 0.5)
    with pytest.raises(ValueError, match="length"):
        ms.relative_error_model_se([0.0, 1.0, 2.0], [1.0, 1.0])


def test_infinite_bounds_are_valid():
    assert ms.coverage([0.0, -np.inf], [np.inf, 1.0], 0.5).estimate == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        width = ms.mean_width([0.0, 0.0], [np.inf, 1.0])
    assert width.estimate == np.inf and math.isnan(width.mcse)


ALL_SINGLE = {
    "mean_estimate": lambda x: ms.mean_estimate(x),
    "bias": lambda x: ms.bias(x, 1.0),
    "relative_bias": lambda x: ms.relative_bias(x, 1.0),
    "empirical_se": lambda x: ms.empirical_se(x),
    "mse": lambda x: ms.mse(x, 1.0),
    "rmse": lambda x: ms.rmse(x, 1.0),
    "model_se": lambda x: ms.model_se(x),
    "relative_error_model_se": lambda x: ms.relative_error_model_se(x, x),
    "coverage": lambda x: ms.coverage(x, x + 1, 1.0),
    "mean_width": lambda x: ms.mean_width(x, x + 1),
    "rejection_rate": lambda x: ms.rejection_rate(x, x + 1),
    "proportion": lambda x: ms.proportion(x),
}


@pytest.mark.parametrize("name", sorted(ALL_SINGLE))
@pytest.mark.parametrize("values", [[], [NAN, NAN], [0.5], [NAN, 0.5]], ids=["empty", "all-nan", "one", "one+nan"])
def test_small_n_gives_nan_mcse_quietly(name, values):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = ALL_SINGLE[name](np.array(values, dtype=float))
    assert math.isnan(m.mcse)
    if not any(np.isfinite(values)):
        assert math.isnan(m.estimate)


def test_one_replicate_keeps_the_estimates_that_need_no_variance():
    assert ms.bias([1.5], 1.0).estimate == 0.5
    assert ms.mse([1.5], 1.0).estimate == 0.25
    assert ms.model_se([0.3]).estimate == pytest.approx(0.3)
    assert ms.coverage([0.0], [2.0], 1.0).estimate == 1.0
    assert math.isnan(ms.empirical_se([1.5]).estimate)


# --- statistical behaviour -------------------------------------------------------

def test_bias_is_zero_within_three_mcse_for_unbiased_estimates():
    rng = np.random.default_rng(20190101)
    est = rng.normal(2.0, 1.5, size=5000)
    b = ms.bias(est, 2.0)
    assert abs(b.estimate) < 3 * b.mcse
    assert b.mcse == pytest.approx(1.5 / math.sqrt(5000), rel=0.05)
    # A shifted truth is detected.
    shifted = ms.bias(est, 1.8)
    assert shifted.estimate > 3 * shifted.mcse


N_STUDIES, N_SIM = 4000, 50


@pytest.fixture(scope="module")
def studies():
    """Many simulated studies of N_SIM normal estimates (truth 1, sd 2) with SEs."""
    rng = np.random.default_rng(7)
    est = rng.normal(1.0, 2.0, size=(N_STUDIES, N_SIM))
    df = 20
    ses = 2.0 * np.sqrt(rng.chisquare(df, size=(N_STUDIES, N_SIM)) / df)
    return est, ses


@pytest.mark.parametrize("name, fn", [
    ("bias", lambda e, s: ms.bias(e, 1.0)),
    ("empirical_se", lambda e, s: ms.empirical_se(e)),
    ("mse", lambda e, s: ms.mse(e, 1.0)),
    ("rmse", lambda e, s: ms.rmse(e, 1.0)),
    ("model_se", lambda e, s: ms.model_se(s)),
    ("coverage", lambda e, s: ms.coverage(e - 1.96 * s, e + 1.96 * s, 1.0)),
    ("mean_width", lambda e, s: ms.mean_width(e - 1.96 * s, e + 1.96 * s)),
])
def test_mcse_matches_the_spread_across_studies(studies, name, fn):
    """The MCSE of one study estimates the SD of the measure over many studies."""
    est, ses = studies
    results = np.array([fn(e, s) for e, s in zip(est, ses)])
    spread = np.std(results[:, 0], ddof=1)
    mean_mcse = np.mean(results[:, 1])
    assert mean_mcse == pytest.approx(spread, rel=0.08)


def test_empirical_se_mcse_formula_matches_spread(studies):
    est, _ = studies
    s = np.array([ms.empirical_se(e).estimate for e in est])
    # Theory: S / sqrt(2 (n - 1)) with S ~ 2.
    assert np.std(s, ddof=1) == pytest.approx(2.0 / math.sqrt(2 * (N_SIM - 1)), rel=0.05)


@pytest.mark.parametrize("successes, trials, lower, upper", [
    # simr 1.0.8 (binom's "exact"), ../shared/reference/power/simr_reference_part1_balanced.out
    (141, 200, 0.636577, 0.767231),
    (126, 200, 0.559054, 0.697030),
    (206, 300, 0.630854, 0.738747),
    (32, 100, 0.2302199168, 0.4207668616),
    (95, 100, 0.8871650889, 0.9835681208),
])
def test_clopper_pearson_matches_simr(successes, trials, lower, upper):
    got = clopper_pearson(successes, trials)
    np.testing.assert_allclose(got, (lower, upper), rtol=0, atol=1.5e-6)


def test_clopper_pearson_edges():
    assert clopper_pearson(0, 10)[0] == 0.0 and clopper_pearson(10, 10)[1] == 1.0
    # k = 0: the upper bound solves (1 - p)^n = 0.025
    np.testing.assert_allclose(clopper_pearson(0, 10)[1], 1 - 0.025 ** 0.1, rtol=1e-12)
    assert np.isnan(clopper_pearson(0, 0)).all()
