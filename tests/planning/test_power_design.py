"""Designs of power analyses: from settings, and from a fitted model extended as simr's extend."""
from __future__ import annotations

import numpy as np
import pytest

from simlab.planning.design import design_from_fit, design_from_settings

from power_cases import BALANCED_TRUTH


def test_settings_design_has_a_within_x_and_a_two_arm_z():
    design = design_from_settings(5, [2, 3], tau=0.5, sigma=1.0, effects={"x": 0.2, "z": 1.0})
    assert design.names == ("(Intercept)", "x", "z")
    np.testing.assert_array_equal(design.sizes, [2, 3, 2, 3, 2])   # sizes cycled to 5 groups
    x, z = design.X[:, 1], design.X[:, 2]
    np.testing.assert_allclose(x[:5], [-0.5, 0.5, -1.0, 0.0, 1.0])
    for g in range(5):   # x is centred within every group, z constant within it
        assert abs(x[design.groups == g].sum()) < 1e-15
        assert np.ptp(z[design.groups == g]) == 0
    assert z[design.groups == 1][0] == 1 and z.reshape(-1)[0] == 0
    assert int(np.bincount(design.groups, weights=z).astype(bool).sum()) == 5 // 2
    np.testing.assert_array_equal(design.beta, [0.0, 0.2, 1.0])
    assert (design.tau, design.sigma) == (0.5, 1.0)


def test_only_the_effects_named_become_columns():
    design = design_from_settings(4, 3, tau=0.5, sigma=1.0, effects={"z": 2.0, "(Intercept)": 1})
    assert design.names == ("(Intercept)", "z")
    np.testing.assert_array_equal(design.beta, [1.0, 2.0])


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(effects={"w": 1.0}), ValueError, "'x'.*'z'"),
    (dict(effects={"x": 1.0, "q": 2.0}), ValueError, r"effect \['q'\] is not a fixed effect"),
    (dict(effects={"z": 1.0}, tau=-1), ValueError, "tau must be a finite standard deviation"),
    (dict(effects={"z": 1.0}, sigma=0), ValueError, "sigma must be a finite standard deviation > 0"),
    (dict(effects={"z": 1.0}, n_groups=1), ValueError, "n_groups must be at least 2"),
    (dict(effects={"z": 1.0}, n_per_group=[]), ValueError, "empty"),
    (dict(effects={"z": 1.0}, n_per_group="6"), TypeError, "n_per_group must be an int"),
])
def test_settings_bad_input(kwargs, error, match):
    settings = {**dict(n_groups=10, n_per_group=6, tau=0.5, sigma=1.0), **kwargs}
    with pytest.raises(error, match=match):
        design_from_settings(**settings)


def test_fitted_design_is_the_model_matrix_with_the_fitted_truth(balanced_fit):
    design = design_from_fit(balanced_fit)
    X = balanced_fit.model_matrix()
    np.testing.assert_array_equal(design.X, X.to_numpy())   # balanced.csv is sorted by group
    assert design.names == tuple(X.columns)
    np.testing.assert_array_equal(design.beta, balanced_fit.fixef["estimate"])
    assert (design.tau, design.sigma) == (balanced_fit.tau, balanced_fit.sigma)
    changed = design.with_truth(**BALANCED_TRUTH)
    np.testing.assert_array_equal(changed.beta, [1.0, 0.2, 0.8])


def test_extend_along_groups_copies_groups_in_turn_as_simr(balanced_fit):
    design = design_from_fit(balanced_fit, n_groups=25)
    base = design_from_fit(balanced_fit)
    assert design.n_groups == 25 and design.nobs == 150
    np.testing.assert_array_equal(design.X[60:120], base.X)         # groups 11-20 copy 1-10
    np.testing.assert_array_equal(design.X[120:], base.X[:30])      # 21-25 copy 1-5
    np.testing.assert_array_equal(design.resized("n_groups", 4).X, base.X[:24])


def test_extend_within_repeats_each_groups_rows(unbalanced_fit):
    base = design_from_fit(unbalanced_fit)
    design = base.resized("n_per_group", 5)
    assert (design.sizes == 5).all()
    first = base.X[base.groups == 0]
    np.testing.assert_array_equal(design.X[:5], first[np.arange(5) % len(first)])


def test_fitted_design_refuses_slope_models():
    import simlab

    fit = simlab.lmer("Reaction ~ Days + (Days | Subject)", simlab.datasets.sleepstudy())
    with pytest.raises(ValueError, match="random-intercept models"):
        design_from_fit(fit)
