"""simlab.power against simr's estimates and the exact noncentral-t powers."""
from __future__ import annotations

import numpy as np
import pytest

import simlab
from simlab.planning import PrecisionWarning, power

from power_cases import (BALANCED_TRUTH, UNBALANCED_TRUTH, cluster_trial_power,
                      noncentral_t_power)

#: simr 1.0.8 powerSim Clopper-Pearson intervals (simr_reference_part1_balanced.out, part2.out).
SIMR = [("balanced", "xw", "kr", 0.636577, 0.767231), ("balanced", "xw", "satterthwaite", 0.636577, 0.767231),
        ("balanced", "xw", "z", 0.641813, 0.771843), ("balanced", "xw", "lrt", 0.641813, 0.771843),
        ("balanced", "w", "kr", 0.559054, 0.697030), ("balanced", "w", "satterthwaite", 0.559054, 0.697030),
        ("balanced", "w", "z", 0.684037, 0.808393), ("balanced", "w", "lrt", 0.689360, 0.812916),
        ("unbalanced", "x", "kr", 0.548851, 0.687535), ("unbalanced", "w", "kr", 0.815348, 0.913292),
        ("unbalanced", "w", "satterthwaite", 0.809691, 0.909113)]


@pytest.mark.parametrize("name, term, test, lower, upper", SIMR)
def test_inside_simrs_interval(name, term, test, lower, upper, request):
    fit = request.getfixturevalue(f"{name}_fit")
    truth = BALANCED_TRUTH if name == "balanced" else UNBALANCED_TRUTH
    result = power(fit, term=term, test=test, nsim=2000, seed=12, **truth)
    assert lower < result.power < upper
    assert result.nsim == 2000 and result.failed == 0


@pytest.mark.parametrize("term, se, df, exact", [
    ("xw", 0.07559289, 49, 0.73684016), ("w", 0.29474571, 8, 0.66316728)])
def test_simr_design_within_3_mcse_of_the_exact_power(balanced_fit, term, se, df, exact):
    # analytic_power.out: the balanced design is exact for both terms (xw within, w between).
    assert noncentral_t_power(BALANCED_TRUTH["effects"][term], se, df) == pytest.approx(exact, abs=1e-6)
    result = power(balanced_fit, term=term, nsim=5000, seed=3, **BALANCED_TRUTH)
    assert abs(result.power - exact) < 3 * result.mcse
    assert result.singular / result.nsim < 0.05     # singular fits are rare here


@pytest.mark.parametrize("n_groups", [10, 16, 24])
@pytest.mark.parametrize("test", ["kr", "satterthwaite"])
def test_cluster_trial_matches_the_closed_form_at_10000(n_groups, test):
    result = power(term="z", effects={"z": 1.0}, n_groups=n_groups, n_per_group=6,
                   tau=0.5 ** 0.5, sigma=1.0, test=test, nsim=10_000, seed=n_groups)
    exact = cluster_trial_power(n_groups)
    assert abs(result.power - exact) < 3 * result.mcse, (result.power, exact, result.singular)
    assert result.singular / result.nsim < 0.03


@pytest.mark.parametrize("test", ["kr", "satterthwaite"])
def test_null_rejection_rate_is_alpha(test):
    result = power(term="z", effects={"z": 0.0}, n_groups=10, n_per_group=6, tau=0.5 ** 0.5,
                   sigma=1.0, test=test, nsim=10_000, seed=5)
    assert abs(result.power - 0.05) < 3 * result.mcse


def test_z_test_rejects_too_often_with_10_groups():
    # The reason df matter: with 8 df, referring t to the normal inflates the type I error.
    result = power(term="z", effects={"z": 0.0}, n_groups=10, n_per_group=6, tau=0.5 ** 0.5,
                   sigma=1.0, test="z", nsim=10_000, seed=5)
    assert result.power > 0.05 + 5 * np.sqrt(0.05 * 0.95 / 10_000)
    assert result.power > 0.07


def test_result_is_reproducible_and_split_invariant():
    settings = dict(term="z", effects={"z": 1.0}, n_groups=12, n_per_group=4, tau=0.7,
                    sigma=1.0, seed=9)
    small = power(nsim=700, **settings)
    again = power(nsim=700, **settings)
    assert small == again
    more = power(nsim=1400, **settings)       # blocks of 500: the first 700 are the same draws
    assert more.successes >= small.successes
    assert str(small).startswith("Power for predictor 'z'")
    row = small.table.iloc[0]
    assert row["successes"] == small.successes and row["nsim"] == 700
    lower, upper = row["lower"], row["upper"]
    assert lower < small.power < upper


def test_parallel_gives_the_same_result():
    settings = dict(term="z", effects={"z": 1.0}, n_groups=12, n_per_group=4, tau=0.7,
                    sigma=1.0, seed=9, nsim=1200)
    assert power(**settings) == power(**settings, n_jobs=2)


def test_adaptive_precision_reaches_its_target():
    result = power(term="z", effects={"z": 1.0}, n_groups=14, n_per_group=6, tau=0.7,
                   sigma=1.0, nsim=200, precision=0.01, seed=2)
    assert result.mcse <= 0.0101 and result.nsim > 200
    assert result.precision == 0.01


def test_unreachable_precision_warns_and_stops_at_the_cap():
    with pytest.warns(PrecisionWarning, match="above the precision 0.001"):
        result = power(term="z", effects={"z": 1.0}, n_groups=14, n_per_group=6, tau=0.7,
                       sigma=1.0, nsim=300, precision=0.001, max_nsim=900, seed=2)
    assert result.nsim == 900 and result.lower < result.power < result.upper


def test_seed_none_is_reported_and_reproduces():
    settings = dict(term="z", effects={"z": 1.0}, n_groups=8, n_per_group=4, tau=0.7,
                    sigma=1.0, nsim=300)
    first = power(**settings)
    assert first == power(**settings, seed=first.seed)


def test_top_level_name():
    assert simlab.power is power


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(alpha=1.0), ValueError, "alpha must be strictly between 0 and 1"),
    (dict(alpha=0), ValueError, "alpha must be strictly between 0 and 1"),
    (dict(alpha="0.05"), TypeError, "alpha must be a number"),
    (dict(term="q"), ValueError, "'q' is not a fixed effect of the model"),
    (dict(effects={"z": 1.0, "w": 2}), ValueError, r"effect \['w'\] is not a fixed effect"),
    (dict(test="F"), ValueError, "test must be one of"),
    (dict(nsim=0), ValueError, "nsim must be at least 1"),
    (dict(precision=0.7), ValueError, "precision is the Monte Carlo SE"),
    (dict(nsim=500, max_nsim=100, precision=0.01), ValueError, "max_nsim"),
    (dict(n_per_group=1), ValueError, "single row"),
    (dict(n_groups=None), TypeError, "missing"),
    (dict(seed=-1), ValueError, "seed must be at least 0"),
])
def test_bad_input(kwargs, error, match):
    settings = {**dict(term="z", effects={"z": 1.0}, n_groups=10, n_per_group=6, tau=0.7,
                       sigma=1.0, nsim=50, seed=1), **kwargs}
    with pytest.raises(error, match=match):
        power(**settings)


def test_bad_input_from_a_fit(balanced_fit):
    with pytest.raises(ValueError, match="'x' is not a fixed effect.*'xw'"):
        power(balanced_fit, term="x", nsim=10, seed=1)
    with pytest.raises(TypeError, match="fitted with simlab.lmer"):
        power("y ~ x", term="x", nsim=10, seed=1)


def test_notebook_display_is_the_escaped_summary():
    result = power(term="z", effects={"z": 1.0}, n_groups=6, n_per_group=3, tau=0.5, sigma=1.0,
                   nsim=20, seed=1)
    shown = result._repr_html_()
    assert shown.startswith("<pre>Power for predictor &#x27;z&#x27;") and shown.endswith("</pre>")
    assert "<" not in shown[5:-6]


def test_max_nsim_caps_only_the_precision_rounds():
    # nsim above the default cap of 20,000 would be refused if the cap applied without precision
    result = power(term="z", effects={"z": 1.0}, n_groups=6, n_per_group=3, tau=0.5, sigma=1.0,
                   nsim=300, max_nsim=100, seed=1)
    assert result.nsim == 300 and result.precision is None
