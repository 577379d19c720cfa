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
        np.testing.assert_allclose(rows.loc[["sd_(Intercept)", "sigma"], "estimate"],
                                   [fit.tau, fit.sigma], rtol=0, atol=1e-8)
        order = [*fixed.index, "sd_(Intercept)", "sigma"]
        for method in CI:
            ci = fit.confint(method=method).to_numpy()
            ci = np.roll(ci, -2, axis=0)      # lme4 order (sd, sigma, fixed) -> sweep order
            np.testing.assert_allclose(rows.loc[order, [f"lower_{method}", f"upper_{method}"]],
                                       ci, rtol=0, atol=1e-6, equal_nan=True)
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
    assert frame["parameter"].tolist()[:5] == ["(Intercept)", "x", "z", "sd_(Intercept)", "sigma"]
    assert frame["truth"].tolist()[:5] == [2.0, 0.5, 0.3, 0.5, 0.25]
    variance = frame["parameter"].isin(["sd_(Intercept)", "sigma"])
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
    sd = frame[frame["parameter"] == "sd_(Intercept)"]
    assert len(sd) == 20 and sd["singular"].any()
    singular = sd[sd["singular"].astype(bool)]
    assert (singular["estimate"] == 0).all() and (singular["lower_profile"] == 0).all()
    assert (singular["error"] == "").all()


def test_failed_batch_falls_back_to_per_rep_fits(monkeypatch):
    real = batch.fit_sums
    bad_y = []

    def flaky(sums, ci, level):
        if sums.n_reps > 1 or sums.yty[0] in bad_y:
            raise np.linalg.LinAlgError("boom")
        return real(sums, ci, level)

    cell = _cell()
    bad_y.append(batch.rep_sums(simulate_rep(cell, 7, 2)).yty[0])
    expected = run_chunk(_chunk(cell))
    monkeypatch.setattr(batch, "fit_sums", flaky)
    frame = run_chunk(_chunk(cell))
    failed = frame["rep"] == 2
    assert (frame.loc[failed, "error"] == "fit: LinAlgError: boom").all()
    assert frame.loc[failed, "estimate"].isna().all() and frame.loc[failed, "singular"].isna().all()
    assert (frame.loc[~failed, "error"] == "").all()
    pd.testing.assert_frame_equal(frame[~failed], expected[~failed], rtol=0, atol=1e-12)


def test_failed_simulation_is_recorded(monkeypatch):
    real = batch.simulate_rep

    def flaky(cell, seed, rep):
        if rep == 1:
            raise ValueError("no data")
        return real(cell, seed, rep)

    monkeypatch.setattr(batch, "simulate_rep", flaky)
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


@pytest.mark.parametrize("stage", ["simulate_rep", "fit_sums"])
def test_a_memory_error_aborts_the_chunk_instead_of_becoming_an_outcome(monkeypatch, stage):
    real = getattr(batch, stage)

    def starved(*args):
        if stage == "simulate_rep" and args[2] != 1:
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
        sweep(grid, reps=4, seed=3, store=str(store), progress=False, chunk_size=4)
    monkeypatch.setattr(batch, "fit_sums", real)
    results = sweep(grid, reps=4, seed=3, store=str(store), progress=False, chunk_size=4)
    assert len(results) == 2 * 4 * 4 and (results["error"] == "").all()
    fresh = sweep(grid, reps=4, seed=3, progress=False, chunk_size=4)
    pd.testing.assert_frame_equal(results.reset_index(drop=True), fresh.reset_index(drop=True))
