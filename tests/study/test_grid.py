"""Tests for simlab.study.grid: checking and expanding a sweep's grid."""
from __future__ import annotations

import numpy as np
import pytest

from simlab.study.grid import GRID_KEYS, check_results_memory, make_grid

BASE = {"n_groups": [50, 100], "n_per_group": [3, 10], "tau": [0.5], "sigma": [0.25]}


def test_full_factorial_in_signature_order():
    grid = make_grid(BASE)
    assert len(grid.cells) == 4
    assert [c.index for c in grid.cells] == [0, 1, 2, 3]
    assert [(c.params["n_groups"], c.params["n_per_group"]) for c in grid.cells] == [
        (50, 3), (50, 10), (100, 3), (100, 10)]
    assert grid.keys == ("n_groups", "n_per_group", "tau", "sigma")


def test_cell_numbers_do_not_depend_on_dict_order():
    reordered = dict(reversed(list(BASE.items())))
    assert [c.params for c in make_grid(reordered).cells] == [c.params for c in make_grid(BASE).cells]


def test_scalars_are_one_level_and_numpy_values_become_plain():
    grid = make_grid({"n_groups": np.int64(20), "n_per_group": np.array([3, 4]), "tau": 0.5,
                      "sigma": np.float64(0.25)})
    assert grid.levels == {"n_groups": (20,), "n_per_group": (3, 4), "tau": (0.5,),
                           "sigma": (0.25,)}
    assert type(grid.cells[0].params["n_groups"]) is int


def test_tuple_is_a_size_range_for_n_per_group_and_levels_elsewhere():
    grid = make_grid({"n_groups": (20, 30), "n_per_group": (2, 5), "tau": 0.5, "sigma": 0.25})
    assert grid.levels["n_groups"] == (20, 30)
    assert grid.levels["n_per_group"] == ((2, 5),)
    assert grid.encoded()["n_per_group"] == [{"range": [2, 5]}]
    assert grid.dtypes["n_per_group"] == "object"
    assert grid.cells[0].labels["n_per_group"] == "(2, 5)"


def test_parameters_and_truth():
    grid = make_grid({"n_groups": 20, "n_per_group": 3, "icc": 0.2, "total_var": 1.0,
                      "intercept": 1.0, "cluster_effect": [None, 0.3]})
    plain, with_z = grid.cells
    assert plain.parameters == ("sd_(Intercept)|group", "sigma", "(Intercept)", "x")
    np.testing.assert_allclose(plain.truth, [np.sqrt(0.2), np.sqrt(0.8), 1.0, 0.5])
    assert with_z.parameters == ("sd_(Intercept)|group", "sigma", "(Intercept)", "x", "z")
    assert with_z.truth[4] == 0.3
    assert np.isnan(plain.labels["cluster_effect"]) and grid.dtypes["cluster_effect"] == "float64"


def test_dtypes():
    grid = make_grid({"n_groups": 20, "n_per_group": [3, 5], "tau": [0, 0.5], "sigma": 1})
    assert grid.dtypes == {"n_groups": "int64", "n_per_group": "int64", "tau": "float64",
                           "sigma": "int64"}
    assert grid.cells[0].labels["tau"] == 0.0 and isinstance(grid.cells[0].labels["tau"], float)


@pytest.mark.parametrize("spec, error, match", [
    ({**BASE, "n_group": [5]}, ValueError, r"unknown grid key.*n_group.*valid keys"),
    ({**BASE, "seed": [1]}, ValueError, "unknown grid key"),
    ({"n_per_group": 3, "tau": 0.5, "sigma": 0.25}, ValueError, "needs.*n_groups"),
    ({**BASE, "tau": []}, ValueError, r"grid\['tau'\] is empty"),
    ({**BASE, "n_groups": [1, 50]}, ValueError, "cell 0.*n_groups must be at least 2"),
    ({**BASE, "tau": [-0.5]}, ValueError, "tau must be >= 0"),
    ({**BASE, "sigma": [0.25, -1.0]}, ValueError, "cell 1.*sigma must be >= 0"),
    ({**BASE, "n_per_group": [1]}, ValueError, "single observation"),
    ({**BASE, "n_per_group": [(0, 3)]}, ValueError, "min <= max"),
    ({"n_groups": 5, "n_per_group": 3, "tau": 0.5}, ValueError, "variance parameters"),
    ({**BASE, "n_groups": [2.5]}, TypeError, "n_groups must be an int"),
    ({**BASE, "slope": ["a"]}, TypeError, "slope must be a real number"),
    ({**BASE, "rho": [0.0, 0.5]}, ValueError, "cell 1.*rho=0.5 was given without tau_slope"),
    ({**BASE, "tau_slope": [0.2, -0.1]}, ValueError, "cell 1.*tau_slope must be >= 0"),
    ({**BASE, "tau_slope": 0.2, "rho": [1.2]}, ValueError, r"rho must lie in \[-1, 1\]"),
    ({**BASE, "tau_slope": "big"}, TypeError, "tau_slope must be a real number"),
    ({**BASE, "n_per_group": [2], "tau_slope": 0.2}, ValueError,
     "random intercept and slope need groups of at least 3"),
])
def test_bad_grids(spec, error, match):
    with pytest.raises(error, match=match):
        make_grid(spec)


def test_grid_must_be_a_mapping():
    with pytest.raises(TypeError, match="grid must be a dict"):
        make_grid([("n_groups", 5)])


def test_valid_keys_are_simulate_parameters():
    assert GRID_KEYS == ("n_groups", "n_per_group", "tau", "sigma", "intercept", "slope",
                         "icc", "total_var", "cluster_effect", "tau_slope", "rho")


def test_parameter_names_are_confints():
    """One definition of names and order: simlab.model.parameters, as confint uses."""
    from simlab.model.parameters import parameter_names

    grid = make_grid({"n_groups": 20, "n_per_group": 3, "tau": 0.5, "sigma": 0.25,
                      "tau_slope": [None, 0.2], "cluster_effect": 0.1})
    plain, slopes = grid.cells
    assert plain.parameters == tuple(parameter_names(["(Intercept)", "x", "z"],
                                                     ["(Intercept)"], "group"))
    assert slopes.parameters == tuple(parameter_names(["(Intercept)", "x", "z"],
                                                      ["(Intercept)", "x"], "group"))


def test_random_slope_cells_and_their_truth():
    grid = make_grid({"n_groups": 20, "n_per_group": 4, "tau": [0.5, 0.0], "sigma": 0.25,
                      "tau_slope": [0.2, 0.0], "rho": [0.0, -0.3], "slope": 1.5})
    assert len(grid.cells) == 8
    cells = {(c.params["tau"], c.params["tau_slope"], c.params["rho"]): c for c in grid.cells}
    slope = cells[(0.5, 0.2, -0.3)]
    assert slope.random_slope and slope.random_terms == ("(Intercept)", "x")
    assert slope.parameters == ("sd_(Intercept)|group", "cor_x.(Intercept)|group", "sd_x|group",
                                "sigma", "(Intercept)", "x")
    assert slope.truth == (0.5, -0.3, 0.2, 0.25, 2.0, 1.5)
    assert slope.labels["tau_slope"] == 0.2 and slope.labels["rho"] == -0.3
    # No correlation is defined when either sd is 0.
    assert np.isnan(cells[(0.5, 0.0, -0.3)].truth[1]) and np.isnan(cells[(0.0, 0.2, -0.3)].truth[1])
    assert cells[(0.5, 0.0, -0.3)].truth[2] == 0.0
    mixed = make_grid({"n_groups": 20, "n_per_group": 4, "tau": 0.5, "sigma": 0.25,
                       "tau_slope": [None, 0.2]})
    plain = mixed.cells[0]
    assert not plain.random_slope and np.isnan(plain.labels["tau_slope"])
    assert plain.parameters == ("sd_(Intercept)|group", "sigma", "(Intercept)", "x")
    assert mixed.dtypes["tau_slope"] == "float64"
    assert grid.dtypes["tau_slope"] == "float64" and grid.dtypes["rho"] == "float64"


def test_a_huge_cell_is_refused_without_allocating_it():
    """Checking the grid estimates the size of a replicate; it does not build one."""
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"3,000,000,000 rows per replicate .* GiB"):
            make_grid({"n_groups": [10 ** 9], "n_per_group": 3, "tau": 0.5, "sigma": 0.25})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 ** 20


def test_results_too_big_for_memory_are_refused_without_allocating_them():
    """nsim = 10**12 is refused from the size of its results, before anything is allocated."""
    import tracemalloc

    grid = make_grid({"n_groups": 8, "n_per_group": 3, "tau": 0.5, "sigma": 0.25})
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"^nsim = 1,000,000,000,000 over 1 grid cell\(s\) "
                                             r"gives 4,000,000,000,000 result rows, which need "
                                             r"about [\d,.]+ GiB, more than this machine's "
                                             r"[\d,.]+ GiB; use a smaller nsim or fewer cells$"):
            check_results_memory(grid, 10 ** 12)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 ** 20
    check_results_memory(grid, 1000)  # a usual sweep passes
