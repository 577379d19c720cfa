"""The parametric bootstrap: bounded memory, draws that do not depend on the chunk size,
and one seed check shared with simulate."""
from __future__ import annotations

import numpy as np
import pytest

import simlab
from simlab.model import bootstrap
from simlab.model.bootstrap import parametric_bootstrap


@pytest.fixture(scope="module")
def fit():
    data = simlab.simulate(n_groups=30, n_per_group=4, tau=0.5, sigma=0.3, seed=3)
    return simlab.lmer("y ~ x + (1 | group)", data)


def _draws(fit, **options):
    return parametric_bootstrap(fit.design, fit.estimates, 25, seed=11, **options)


def test_the_draws_do_not_depend_on_the_chunk_size(fit):
    """The same responses are drawn; a batch refit agrees with smaller batches to rounding
    (the vectorised root search takes its last step for the whole batch)."""
    whole = _draws(fit)
    for chunk in (1, fit.nobs, 3 * fit.nobs + 7):
        parts = _draws(fit, chunk_values=chunk)
        np.testing.assert_allclose(parts.values, whole.values, rtol=1e-10)
        np.testing.assert_array_equal(parts.converged, whole.converged)
    assert whole.values.shape == (25, 4) and np.isfinite(whole.values).all()


def test_at_most_a_chunk_of_responses_is_held_at_once(fit, monkeypatch):
    rows = []
    original = bootstrap.refit_replicates

    def spy(design, y, reml):
        rows.append(y.shape[0])
        return original(design, y, reml)

    monkeypatch.setattr(bootstrap, "refit_replicates", spy)
    _draws(fit, chunk_values=4 * fit.nobs)
    assert rows == [4, 4, 4, 4, 4, 4, 1]


def test_the_same_seed_gives_the_same_draws_and_a_generator_is_consumed(fit):
    np.testing.assert_array_equal(_draws(fit).values, _draws(fit).values)
    rng = np.random.default_rng(5)
    first = parametric_bootstrap(fit.design, fit.estimates, 5, seed=rng).values
    second = parametric_bootstrap(fit.design, fit.estimates, 5, seed=rng).values
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("seed, error, message", [
    (-1, ValueError, "seed must be >= 0"),
    (1.5, TypeError, "seed must be None, an int"),
    ("a", TypeError, "seed must be None, an int"),
    (True, TypeError, "seed must be None, an int"),
])
def test_confint_boot_checks_its_seed_as_simulate_does(fit, seed, error, message):
    with pytest.raises(error, match=message):
        fit.confint(method="boot", nsim=10, seed=seed)
    with pytest.raises(error, match=message):
        simlab.simulate(n_groups=5, n_per_group=2, tau=1, sigma=1, seed=seed)


@pytest.mark.parametrize("nsim", [True, 1, 2.0, "10"])
def test_confint_boot_needs_an_integer_nsim(fit, nsim):
    with pytest.raises(ValueError, match="nsim must be an integer of at least 2"):
        fit.confint(method="boot", nsim=nsim)


def test_a_bad_chunk_size_is_refused(fit):
    with pytest.raises(ValueError, match="chunk_values must be a positive int"):
        _draws(fit, chunk_values=0)


@pytest.mark.parametrize("seed", [None, 0, 7, np.int64(7), 2**70, np.random.SeedSequence(7),
                                  np.random.default_rng(7)])
def test_confint_boot_accepts_the_seeds_simulate_accepts(fit, seed):
    """One check (``numpy_generator``) for both: what one takes, the other takes."""
    simlab.simulate(n_groups=5, n_per_group=2, tau=1, sigma=1, seed=seed)
    table = fit.confint(method="boot", nsim=10, seed=seed)
    assert np.isfinite(table.to_numpy()).all()


def test_confint_boot_and_simulate_share_one_seed_check():
    import importlib

    from simlab._checks import numpy_generator

    simulate_module = importlib.import_module("simlab.simulate")   # simlab.simulate is the function
    assert bootstrap.numpy_generator is numpy_generator is simulate_module.numpy_generator
