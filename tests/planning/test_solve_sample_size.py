"""solve_sample_size: the closed-form answer of a cluster-randomised design."""
from __future__ import annotations

import html

import pytest

from simlab.planning import solve_sample_size
from simlab.planning.solve import _Sequential

from power_cases import cluster_trial_power

SETTINGS = dict(term="z", effects={"z": 1.0}, n_groups=10, n_per_group=6, tau=0.5 ** 0.5,
                sigma=1.0)


def test_closed_form_answer_and_its_neighbour():
    # analytic_power.out: 24 is the smallest G with power >= 0.8; G = 23 (0.7989) is inside
    # the indifference zone 0.8 +- 0.01, so 23 is acceptable too; 22 (0.780) is not.
    assert cluster_trial_power(23) == pytest.approx(0.798903, abs=1e-6)
    assert cluster_trial_power(24) == pytest.approx(0.817765, abs=1e-6)
    answers = [solve_sample_size(seed=seed, **SETTINGS).size for seed in range(10)]
    assert set(answers) <= {23, 24}, answers


def test_result_says_how_sure_it_is():
    result = solve_sample_size(seed=3, **SETTINGS)
    at, below = result.probe(result.size), result.probe(result.size - 1)
    assert at.reaches and not below.reaches
    assert result.nsim == sum(p.nsim for p in result.probes)
    assert f"Smallest n_groups with power >= 0.8: {result.size}" in str(result)
    assert result._repr_html_() == f"<pre>{html.escape(str(result))}</pre>"
    table = result.table
    assert table["n_groups"].is_monotonic_increasing and len(table) == len(result.probes)
    assert result == solve_sample_size(seed=3, **SETTINGS)      # reproducible


def test_sequential_test_decides_at_the_first_crossing():
    test = _Sequential(0.8, 0.01, 0.01)
    import numpy as np

    index, llr = test.first_crossing(0.0, np.zeros(200, dtype=bool))
    # each non-rejection adds log(0.19 / 0.21); the bound log(99) is crossed at the 46th
    assert index == 45 and llr < -test.bound
    index, _ = test.first_crossing(0.0, np.ones(50, dtype=bool))
    assert index == -1


def test_lower_already_reaches():
    result = solve_sample_size(lower=40, seed=1, **SETTINGS)
    assert result.size == 40


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(target=1.2), ValueError, "target must be strictly between 0 and 1"),
    (dict(target=0), ValueError, "target must be strictly between 0 and 1"),
    (dict(alpha=-0.1), ValueError, "alpha must be strictly between 0 and 1"),
    (dict(tolerance=0.5), ValueError, "indifference zone"),
    (dict(along="sigma"), ValueError, "along must be a design setting"),
    (dict(term="x"), ValueError, "'x' is not a fixed effect"),
    (dict(upper=12), ValueError, "does not reach the target at the upper end"),
])
def test_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        solve_sample_size(**{**SETTINGS, "seed": 1, **kwargs})


def test_unreachable_target_is_an_error_not_an_endless_run():
    with pytest.raises(ValueError, match="does not reach the target up to"):
        solve_sample_size(**{**SETTINGS, "effects": {"z": 0.0}}, seed=1, max_nsim=300)
