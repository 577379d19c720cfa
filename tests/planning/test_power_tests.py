"""Simulated responses and the per-simulation tests against simlab.lmer's tables."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab.model.intercept import GroupSums
from simlab.planning.design import design_from_fit
from simlab.planning.testing import draw_responses, run_block, fit_and_test

from power_cases import BALANCED_TRUTH, POWER_REFERENCE


@pytest.mark.parametrize("name, formula", [("balanced", "y ~ xw + w + (1 | g)"),
                                           ("unbalanced", "y ~ x + w + (1 | g)")])
def test_each_test_is_the_fitted_models(name, formula):
    data = pd.read_csv(POWER_REFERENCE / f"{name}.csv").sort_values("g", kind="stable")
    fit = simlab.lmer(formula, data)
    design = design_from_fit(fit)
    sums = GroupSums.from_arrays(data["y"].to_numpy()[None], design.X, design.groups,
                                 design.n_groups)
    reduced = simlab.lmer(formula.replace(" + w", ""), data)
    expected = {"kr": fit.fixed_tests("kenward-roger").loc["w", "p"],
                "satterthwaite": fit.fixed_tests("satterthwaite").loc["w", "p"],
                "z": fit.fixed_tests("normal").loc["w", "p"],
                "lrt": simlab.anova(reduced, fit)["p"].iloc[1]}
    for test, p in expected.items():
        block = fit_and_test(sums, design.column("w"), test)
        np.testing.assert_allclose(block.p, [p], rtol=1e-9, err_msg=test)
        np.testing.assert_allclose(block.estimate, [fit.fixef.loc["w", "estimate"]], rtol=1e-12)


def test_pbkrtest_p_of_the_balanced_reference(balanced_fit):
    # ddf_reference.out, BAL-1: KRmodcomp drop w, p = 0.6223298826
    design = design_from_fit(balanced_fit)
    sums = GroupSums.from_arrays(balanced_fit.fitted + balanced_fit.residuals, design.X,
                                 design.groups, design.n_groups)
    np.testing.assert_allclose(fit_and_test(sums, 2, "kr").p, [0.6223298826], rtol=1e-7)


def test_draws_do_not_depend_on_how_simulations_are_split(balanced_fit):
    design = design_from_fit(balanced_fit).with_truth(**BALANCED_TRUTH)
    whole = draw_responses(design, 7, 60, range(0, 10))
    parts = np.vstack([draw_responses(design, 7, 60, range(0, 4)),
                       draw_responses(design, 7, 60, range(4, 10))])
    np.testing.assert_array_equal(whole, parts)
    rng = np.random.default_rng(np.random.SeedSequence([7, 60, 3]))
    normals = rng.standard_normal(70)
    expected = design.X @ design.beta + design.tau * normals[:10][design.groups] + normals[10:]
    np.testing.assert_allclose(whole[3], expected, rtol=1e-14)
    assert not np.array_equal(whole[0], draw_responses(design, 8, 60, range(1))[0])


def test_a_block_fits_each_simulation_as_lmer_would(balanced_fit):
    design = design_from_fit(balanced_fit).with_truth(**BALANCED_TRUTH)
    block = run_block(design, 2, "satterthwaite", 5, design.nobs, range(3))
    y = draw_responses(design, 5, design.nobs, range(3))
    frame = balanced_fit.model_matrix().assign(g=design.groups)
    for i in range(3):
        fit = simlab.lmer("y ~ xw + w + (1 | g)", frame.assign(y=y[i]))
        np.testing.assert_allclose(block.p[i], fit.fixef.loc["w", "p"], rtol=1e-8)
        assert block.singular[i] == fit.singular and not block.failed[i]
