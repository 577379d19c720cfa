"""Tests for simlab.study.batch: simulate and fit a chunk of replicates at once."""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

import simlab.study.batch as batch
from simlab import lmer, simulate
from simlab.model import SingularFitWarning
from simlab.model.intercept import GroupSums
from simlab.simulate import check_settings
from simlab.study.batch import Chunk, rep_seed, run_chunk, simulate_rep
from simlab.study.grid import make_grid

CI = ("wald", "profile")


def _cell(**spec):
    full = {"n_groups": 30, "n_per_group": 3, "tau": 0.5, "sigma": 0.25, **spec}
    return make_grid(full).cells[0]


def _chunk(cell, start=0, stop=6, seed=7, ci=CI):
    return Chunk(cell=cell, start=start, stop=stop, seed=seed, ci=ci, level=0.95)


def test_replicate_data_come_from_its_seed_sequence():
    cell = make_grid({"n_groups": [10, 20], "n_per_group": 3, "tau": 0.5, "sigma": 0.25}).cells[1]
    expected = simulate(20, 3, 0.5, 0.25, seed=np.random.SeedSequence([11, 1, 4]))
    pd.testing.assert_frame_equal(simulate_rep(cell, 11, 4), expected, check_exact=True)
    assert rep_seed(11, 1, 4).entropy == [11, 1, 4]


#: Cells whose data run_chunk draws as arrays: balanced, sizes per group, sizes from a range
#: (with z), icc/total_var with z and an offset, tau = 0, random slopes (rho != 0, with z).
DIRECT_CELLS = [
    {},
    {"n_per_group": [[2, 3, 4, 5, 2] * 6], "tau": 0.3, "sigma": 0.6},
    {"n_per_group": (1, 5), "cluster_effect": 0.3},
    {"icc": 0.2, "total_var": 2.0, "tau": None, "sigma": None, "cluster_effect": -0.5,
     "intercept": 10.0, "slope": -1.5},
    {"tau": 0.0, "n_per_group": 4},
    {"tau_slope": 0.3, "rho": 0.4, "n_per_group": 4, "cluster_effect": 0.2},
]


def _spec_cell(spec):
    full = {"n_groups": 30, "n_per_group": 3, "tau": 0.5, "sigma": 0.25, **spec}
    return make_grid({key: value for key, value in full.items() if value is not None}).cells[0]


@pytest.mark.parametrize("spec", DIRECT_CELLS)
def test_direct_arrays_are_simulates_data_to_the_bit(spec):
    cell = _spec_cell(spec)
    settings = check_settings(**cell.params)
    for rep in range(5):
        data = simulate_rep(cell, 7, rep)
        sizes, normals = batch.draw_rep(settings, 7, cell.index, rep)
        y, covariates = batch.rep_columns(settings, sizes, normals)
        np.testing.assert_array_equal(np.bincount(data["group"])[1:], sizes)
        np.testing.assert_array_equal(y, data["y"].to_numpy())
        np.testing.assert_array_equal(covariates[0], data["x"].to_numpy())
        if "cluster_effect" in spec:
            np.testing.assert_array_equal(covariates[1], data["z"].to_numpy())
        assert len(covariates) == 1 + ("cluster_effect" in spec)


def test_replicates_sharing_sizes_are_composed_in_one_call():
    cell = _spec_cell(DIRECT_CELLS[3])
    settings = check_settings(**cell.params)
    draws = [batch.draw_rep(settings, 3, cell.index, rep) for rep in range(4)]
    y, covariates = batch.rep_columns(settings, settings.sizes, np.stack([n for _, n in draws]))
    for r, (sizes, normals) in enumerate(draws):
        one_y, one_covariates = batch.rep_columns(settings, sizes, normals)
        np.testing.assert_array_equal(y[r], one_y)
        np.testing.assert_array_equal(covariates[1][r], one_covariates[1])


def _old_path(cell, seed, reps, ci):
    """Before the direct arrays: simulate() and one replicate's sums at a time, then one fit."""
    if cell.random_slope:
        items = [batch.rep_cross_products(simulate_rep(cell, seed, rep)) for rep in reps]
        return batch.fit_cross_products(items, ci, 0.95)
    sums = GroupSums.stack([batch.rep_sums(simulate_rep(cell, seed, rep)) for rep in reps])
    return batch.fit_sums(sums, ci, 0.95)


@pytest.mark.parametrize("spec", DIRECT_CELLS)
def test_chunk_results_are_those_of_simulate_and_per_replicate_sums(spec):
    cell = _spec_cell(spec)
    ci = ("wald",) if cell.random_slope else CI
    reps = range(3, 3 + (4 if cell.random_slope else 12))
    frame = run_chunk(_chunk(cell, reps.start, reps.stop, ci=ci))
    assert (frame["error"] == "").all()
    expected = _old_path(cell, 7, reps, ci)
    for name in ["estimate", "se", *(f"{side}_{m}" for m in ci for side in ("lower", "upper"))]:
        got = frame[name].to_numpy().reshape(len(reps), -1)
        np.testing.assert_allclose(got, expected[name], rtol=1e-12, atol=1e-12, equal_nan=True)
    assert frame["singular"].tolist() == np.repeat(expected["singular"], len(cell.parameters)).tolist()


def test_chunk_sums_are_built_a_block_at_a_time(monkeypatch):
    calls = []
    real = batch.GroupSums.from_arrays

    def counted(y, X, groups, n_groups):
        calls.append(np.shape(y))
        return real(y, X, groups, n_groups)

    monkeypatch.setattr(batch.GroupSums, "from_arrays", counted)
    cell = _spec_cell(DIRECT_CELLS[1])
    whole = run_chunk(_chunk(cell, 0, 9))
    assert calls == [(9, 96)]
    # Blocks of 4 replicates (PREPARE_BLOCK_VALUES normals): the same results.
    calls.clear()
    normals = batch.draw_rep(check_settings(**cell.params), 7, cell.index, 0)[1]
    monkeypatch.setattr(batch, "PREPARE_BLOCK_VALUES", 4 * normals.size + 1)
    blocked = run_chunk(_chunk(cell, 0, 9))
    assert calls == [(4, 96), (4, 96), (1, 96)]
    pd.testing.assert_frame_equal(blocked, whole, check_exact=False, rtol=1e-12, atol=1e-12)
    calls.clear()
    run_chunk(_chunk(_spec_cell(DIRECT_CELLS[2]), 0, 4, ci=("wald",)))   # sizes of its own each
    assert len(calls) == 4 and all(len(shape) == 1 for shape in calls)


def test_a_replicate_of_groups_of_one_row_is_a_failed_simulation():
    """Sizes drawn from (1, 2): the replicates whose groups all have one row fail alone."""
    cell = _cell(n_groups=2, n_per_group=(1, 2))
    frame = run_chunk(_chunk(cell, stop=16, ci=("wald",)))
    sizes = [batch.draw_rep(check_settings(**cell.params), 7, 0, rep)[0] for rep in range(16)]
    ones = np.repeat([int(s.max()) == 1 for s in sizes], len(cell.parameters))
    assert 0 < ones.sum() < len(frame)
    assert (frame.loc[ones, "error"] == "simulate: ValueError: every group has a single "
                                        "observation, so tau and sigma cannot be told apart").all()
    assert frame.loc[ones, "estimate"].isna().all()
    assert frame.loc[~ones, "estimate"].notna().all() and (frame.loc[~ones, "error"] == "").all()


@pytest.mark.parametrize("spec, formula", [
    ({}, "y ~ x + (1 | group)"),
    ({"n_per_group": (2, 6)}, "y ~ x + (1 | group)"),
    ({"cluster_effect": 0.3, "n_per_group": (1, 4)}, "y ~ x + z + (1 | group)"),
])
def test_matches_lmer_on_the_same_data(spec, formula):
    cell = _cell(**spec)
    frame = run_chunk(_chunk(cell, stop=4))
    for rep in range(4):
        data = simulate_rep(cell, 7, rep)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SingularFitWarning)
            fit = lmer(formula, data)
        rows = frame[frame["rep"] == rep].set_index("parameter")
        fixed = fit.fixef
        np.testing.assert_allclose(rows.loc[fixed.index, "estimate"], fixed["estimate"],
                                   rtol=0, atol=1e-8)
        np.testing.assert_allclose(rows.loc[fixed.index, "se"], fixed["se"], rtol=0, atol=1e-8)
        np.testing.assert_allclose(rows.loc[["sd_(Intercept)|group", "sigma"], "estimate"],
                                   [fit.tau, fit.sigma], rtol=0, atol=1e-8)
        for method in CI:
            ci = fit.confint(method=method)
            # One definition of names and order: the sweep's rows are confint's rows.
            assert rows.index.tolist() == ci.index.tolist()
            np.testing.assert_allclose(rows[[f"lower_{method}", f"upper_{method}"]], ci,
                                       rtol=0, atol=1e-6, equal_nan=True)
        assert bool(rows["singular"].iloc[0]) == fit.singular
        assert bool(rows["converged"].iloc[0]) == fit.converged


def test_layout_of_a_chunk():
    cell = _cell(cluster_effect=0.3)
    frame = run_chunk(_chunk(cell, start=5, stop=8))
    assert list(frame.columns) == [
        "n_groups", "n_per_group", "tau", "sigma", "cluster_effect", "cell", "rep",
        "parameter", "truth", "estimate", "se", "lower_wald", "upper_wald", "lower_profile",
        "upper_profile", "singular", "converged", "error"]
    assert frame["rep"].tolist() == [5] * 5 + [6] * 5 + [7] * 5
    assert frame["parameter"].tolist()[:5] == ["sd_(Intercept)|group", "sigma", "(Intercept)",
                                               "x", "z"]
    assert frame["truth"].tolist()[:5] == [0.5, 0.25, 2.0, 0.5, 0.3]
    variance = frame["parameter"].isin(["sd_(Intercept)|group", "sigma"])
    assert frame.loc[variance, ["se", "lower_wald", "upper_wald"]].isna().all().all()
    assert frame.loc[~variance, ["se", "lower_wald", "upper_wald"]].notna().all().all()
    assert (frame["error"] == "").all() and frame["converged"].all()


def test_results_do_not_depend_on_the_chunking():
    cell = _cell(n_per_group=(2, 5))
    whole = run_chunk(_chunk(cell, stop=9))
    parts = pd.concat([run_chunk(_chunk(cell, 0, 2)), run_chunk(_chunk(cell, 2, 9))],
                      ignore_index=True)
    pd.testing.assert_frame_equal(whole, parts, check_exact=True)


def test_ci_subset_only_adds_its_columns():
    frame = run_chunk(_chunk(_cell(), stop=2, ci=("wald",)))
    assert "lower_wald" in frame and "lower_profile" not in frame


def test_singular_fits_are_recorded_not_dropped():
    frame = run_chunk(_chunk(_cell(tau=0.0, n_groups=10), stop=20))
    sd = frame[frame["parameter"] == "sd_(Intercept)|group"]
    assert len(sd) == 20 and sd["singular"].any()
    singular = sd[sd["singular"].astype(bool)]
    assert (singular["estimate"] == 0).all() and (singular["lower_profile"] == 0).all()
    assert (singular["error"] == "").all()


def test_failed_batch_falls_back_to_per_rep_fits(monkeypatch):
    real = batch.fit_sums
    bad_y = []

    cell = _cell()
    bad_y.append(batch.rep_sums(simulate_rep(cell, 7, 2)).yty[0])
    expected = run_chunk(_chunk(cell))

    def flaky(sums, ci, level):  # the batch and replicate 2 (its sums to rounding) fail
        if sums.n_reps > 1 or np.isclose(sums.yty[0], bad_y[0], rtol=1e-12, atol=0):
            raise np.linalg.LinAlgError("boom")
        return real(sums, ci, level)

    monkeypatch.setattr(batch, "fit_sums", flaky)
    frame = run_chunk(_chunk(cell))
    failed = frame["rep"] == 2
    assert (frame.loc[failed, "error"] == "fit: LinAlgError: boom").all()
    assert frame.loc[failed, "estimate"].isna().all() and frame.loc[failed, "singular"].isna().all()
    assert (frame.loc[~failed, "error"] == "").all()
    pd.testing.assert_frame_equal(frame[~failed], expected[~failed], rtol=0, atol=1e-12)


def test_failed_simulation_is_recorded(monkeypatch):
    real = batch.draw_rep

    def flaky(spec, seed, cell, rep):
        if rep == 1:
            raise ValueError("no data")
        return real(spec, seed, cell, rep)

    monkeypatch.setattr(batch, "draw_rep", flaky)
    frame = run_chunk(_chunk(_cell(), stop=3))
    assert len(frame) == 12
    assert (frame.loc[frame["rep"] == 1, "error"] == "simulate: ValueError: no data").all()
    assert (frame.loc[frame["rep"] != 1, "error"] == "").all()
    assert frame.loc[frame["rep"] != 1, "estimate"].notna().all()


def test_every_fit_failing_keeps_every_row(monkeypatch):
    def broken(sums, ci, level):
        raise RuntimeError("no fit")

    monkeypatch.setattr(batch, "fit_sums", broken)
    frame = run_chunk(_chunk(_cell(), stop=3))
    assert len(frame) == 12 and frame["estimate"].isna().all()
    assert (frame["error"] == "fit: RuntimeError: no fit").all()
    assert frame["truth"].notna().all()


def test_non_converged_fits_are_recorded(monkeypatch):
    real = batch.fit_theta

    def not_converged(sums, reml=True):
        fit = real(sums, reml)
        return dataclasses.replace(fit, converged=np.zeros_like(fit.converged))

    monkeypatch.setattr(batch, "fit_theta", not_converged)
    frame = run_chunk(_chunk(_cell(), stop=2))
    assert not frame["converged"].any() and frame["estimate"].notna().all()
    assert (frame["error"] == "").all()


@pytest.mark.parametrize("stage", ["draw_rep", "fit_sums"])
def test_a_memory_error_aborts_the_chunk_instead_of_becoming_an_outcome(monkeypatch, stage):
    real = getattr(batch, stage)

    def starved(*args):
        if stage == "draw_rep" and args[3] != 1:
            return real(*args)
        raise MemoryError("out of memory")

    monkeypatch.setattr(batch, stage, starved)
    with pytest.raises(MemoryError):
        run_chunk(_chunk(_cell(), stop=3))


def test_a_chunk_aborted_by_the_machine_is_computed_again_on_resume(monkeypatch, tmp_path):
    """Nothing of the starved chunk is stored; rerun with memory, the sweep is complete."""
    from simlab import sweep

    grid = {"n_groups": 20, "n_per_group": 3, "tau": [0.5, 0.8], "sigma": 0.3}
    store = tmp_path / "store"
    real = batch.fit_sums

    def starved(sums, ci, level):  # the first chunk fits; the second runs out of memory
        starved.calls += 1
        if starved.calls > 1:
            raise MemoryError("out of memory")
        return real(sums, ci, level)

    starved.calls = 0
    monkeypatch.setattr(batch, "fit_sums", starved)
    with pytest.raises(MemoryError):
        sweep(grid, nsim=4, seed=3, store=str(store), progress=False, chunk_size=4)
    monkeypatch.setattr(batch, "fit_sums", real)
    results = sweep(grid, nsim=4, seed=3, store=str(store), progress=False, chunk_size=4)
    assert len(results) == 2 * 4 * 4 and (results["error"] == "").all()
    fresh = sweep(grid, nsim=4, seed=3, progress=False, chunk_size=4)
    pd.testing.assert_frame_equal(results.reset_index(drop=True), fresh.reset_index(drop=True))


# ----- random slopes (issue 11, items 4 and 6) ---------------------------------------------
SLOPES = {"n_groups": 30, "n_per_group": 4, "tau": 0.6, "sigma": 0.3, "tau_slope": 0.3,
          "rho": 0.4}


def _slope_cell(**spec):
    return make_grid({**SLOPES, **spec}).cells[0]


def _single_relcov_fit(cell, seed, rep):
    """The exact engine on one replicate's data, fitted alone."""
    from simlab.model import relcov

    data = simulate_rep(cell, seed, rep)
    covariates = [data[name].to_numpy() for name in ("x", "z") if name in data]
    X = np.column_stack([np.ones(len(data)), *covariates])
    cp = relcov.CrossProducts.from_arrays(data["y"].to_numpy(), X, X[:, :2],
                                          data["group"].to_numpy() - 1)
    fit = relcov.fit(cp, relcov.ThetaLayout.full(2), reml=True)
    variance = [fit.sd[0, 0], fit.corr[0, 1, 0], fit.sd[0, 1], fit.sigma[0]]
    return fit, np.r_[variance, fit.beta[0]], np.sqrt(np.diag(fit.vcov[0]))


@pytest.mark.parametrize("spec", [{}, {"n_per_group": (3, 6)}, {"cluster_effect": 0.4},
                                  {"rho": -1.0, "tau_slope": 0.5}])
def test_slope_cell_equals_single_relcov_fits(spec):
    """Every replicate's row is the exact engine's fit of that replicate alone."""
    cell = _slope_cell(**spec)
    frame = run_chunk(_chunk(cell, stop=8, ci=("wald",)))
    names = ["sd_(Intercept)|group", "cor_x.(Intercept)|group", "sd_x|group", "sigma",
             "(Intercept)", "x", *(["z"] if "cluster_effect" in spec else [])]
    assert frame["parameter"].tolist()[:len(names)] == names
    assert (frame["error"] == "").all()
    for rep in range(8):
        fit, estimate, se = _single_relcov_fit(cell, 7, rep)
        rows = frame[frame["rep"] == rep].set_index("parameter")
        np.testing.assert_allclose(rows.loc[names, "estimate"], estimate, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(rows.loc[names[4:], "se"], se, rtol=1e-7, atol=1e-9)
        half = 1.959963984540054 * se
        np.testing.assert_allclose(rows.loc[names[4:], "lower_wald"], estimate[4:] - half,
                                   rtol=1e-7, atol=1e-9)
        assert rows.loc[names[:4], ["se", "lower_wald", "upper_wald"]].isna().all().all()
        assert bool(rows["singular"].iloc[0]) == bool(fit.singular[0])
        assert bool(rows["converged"].iloc[0]) == bool(fit.converged[0])


def test_slope_rows_are_lmers_confint_rows():
    """The same names, order and Wald intervals as lmer's confint of the replicate."""
    cell = _slope_cell(cluster_effect=0.4)
    frame = run_chunk(_chunk(cell, stop=3, ci=("wald",)))
    for rep in range(3):
        fit = lmer("y ~ x + z + (1 + x | group)", simulate_rep(cell, 7, rep))
        rows = frame[frame["rep"] == rep].set_index("parameter")
        ci = fit.confint(method="wald")
        assert rows.index.tolist() == ci.index.tolist() == list(cell.parameters)
        np.testing.assert_allclose(rows[["lower_wald", "upper_wald"]], ci, rtol=0, atol=1e-6,
                                   equal_nan=True)
        np.testing.assert_allclose(rows.loc[fit.fixef.index, "estimate"], fit.fixef["estimate"],
                                   rtol=0, atol=1e-6)


def test_singular_slope_fits_are_recorded_not_dropped():
    frame = run_chunk(_chunk(_slope_cell(tau_slope=0.0, n_groups=12), stop=12, ci=("wald",)))
    sd_x = frame[frame["parameter"] == "sd_x|group"]
    assert sd_x["singular"].any() and (frame["error"] == "").all()
    assert frame.loc[~frame["parameter"].str.startswith("cor_"), "estimate"].notna().all()
    assert frame.loc[frame["parameter"] == "cor_x.(Intercept)|group", "truth"].isna().all()


def test_failed_slope_fits_are_isolated_per_replicate(monkeypatch):
    real = batch.fit_cross_products
    cell = _slope_cell()
    bad = batch.rep_cross_products(simulate_rep(cell, 7, 1)).wyy[0]

    def flaky(items, ci, level):
        if len(items) > 1 or items[0].wyy[0] == bad:
            raise np.linalg.LinAlgError("boom")
        return real(items, ci, level)

    expected = run_chunk(_chunk(cell, stop=4, ci=("wald",)))
    monkeypatch.setattr(batch, "fit_cross_products", flaky)
    frame = run_chunk(_chunk(cell, stop=4, ci=("wald",)))
    failed = frame["rep"] == 1
    assert (frame.loc[failed, "error"] == "fit: LinAlgError: boom").all()
    assert frame.loc[failed, "estimate"].isna().all()
    pd.testing.assert_frame_equal(frame[~failed], expected[~failed], rtol=0, atol=1e-10)


def test_too_few_rows_for_slopes_is_a_recorded_outcome():
    """Sizes drawn from (2, 3) can leave no more rows than random effects in a replicate."""
    cell = _slope_cell(n_groups=3, n_per_group=(2, 3))
    frame = run_chunk(_chunk(cell, stop=12, ci=("wald",)))
    short = frame["error"].str.contains("number of observations")
    assert short.any() and frame.loc[short, "estimate"].isna().all()


def test_slope_profile_intervals_are_lmers():
    cell = _slope_cell()
    frame = run_chunk(_chunk(cell, stop=2, ci=CI))
    for rep in range(2):
        ci = lmer("y ~ x + (1 + x | group)", simulate_rep(cell, 7, rep)).confint(method="profile")
        rows = frame[frame["rep"] == rep].set_index("parameter")
        assert rows.index.tolist() == ci.index.tolist()
        np.testing.assert_allclose(rows[["lower_profile", "upper_profile"]], ci, rtol=0,
                                   atol=1e-6)


def test_threads_drawing_different_cells_get_each_cells_number_of_normals():
    """dask's threaded workers draw chunks of several cells in one process at once."""
    import sys
    from concurrent.futures import ThreadPoolExecutor

    specs = [check_settings(n_groups=n, n_per_group=m, tau=0.5, sigma=0.25)
             for n, m in ((5, 2), (7, 3), (11, 4))]
    expected = [spec.n_groups + 2 * spec.n_groups * m for spec, m in zip(specs, (2, 3, 4))]

    def counts(offset: int) -> list[bool]:
        return [batch.draw_rep(specs[(i + offset) % 3], 1, 0, i)[1].size
                == expected[(i + offset) % 3] for i in range(2000)]

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)   # switch threads as often as possible
    try:
        with ThreadPoolExecutor(3) as pool:
            results = [ok for part in pool.map(counts, range(3)) for ok in part]
    finally:
        sys.setswitchinterval(interval)
    assert all(results)
