"""Tests for simlab.plots.power: the power curve's numbers and its axes-level plot."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from simlab._vocabulary import LOWER, NSIM, UPPER  # noqa: E402
from simlab.planning import power_curve  # noqa: E402
from simlab.plots import POWER_CURVE_COLUMNS, plot_power_curve, power_curve_data  # noqa: E402


@pytest.fixture(scope="module")
def curve():
    return power_curve(term="z", effects={"z": 1.0}, n_groups=8, n_per_group=4, tau=0.7,
                       sigma=1.0, nsim=40, seed=1, breaks=[4, 6, 8])


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_power_curve_data_is_the_curve_table(curve):
    data = power_curve_data(curve)
    assert tuple(data.columns) == POWER_CURVE_COLUMNS == ("size", "power", LOWER, UPPER, NSIM)
    np.testing.assert_array_equal(data["size"], [4, 6, 8])
    np.testing.assert_array_equal(data["power"], [p.power for p in curve.points])
    np.testing.assert_array_equal(data[LOWER], [p.lower for p in curve.points])
    np.testing.assert_array_equal(data[UPPER], [p.upper for p in curve.points])
    assert (data[NSIM] == 40).all()


def test_plot_draws_power_with_intervals_on_the_current_axes(curve):
    _, (_, current) = plt.subplots(1, 2)  # the current Axes is the last one made
    before = plt.get_fignums()
    ax = plot_power_curve(curve, target=0.8)
    assert ax is current and plt.gca() is current and plt.get_fignums() == before
    data = power_curve_data(curve)
    (container,) = ax.containers
    line = container.lines[0]
    np.testing.assert_array_equal(np.asarray(line.get_xdata(), float), data["size"])
    np.testing.assert_allclose(np.asarray(line.get_ydata(), float), data["power"])
    segments = container.lines[2][0].get_segments()
    np.testing.assert_allclose([s[:, 1].min() for s in segments], data[LOWER])
    np.testing.assert_allclose([s[:, 1].max() for s in segments], data[UPPER])
    (target,) = [ln for ln in ax.get_lines() if ln.get_gid() == "target"]
    np.testing.assert_array_equal(target.get_ydata(), [0.8, 0.8])
    assert ax.get_xlabel() == "number of groups" and "kr" in ax.get_ylabel()


def test_plot_passes_kwargs_to_errorbar(curve):
    _, ax = plt.subplots()
    assert plot_power_curve(curve, ax=ax, color="purple", linestyle=":", marker="s") is ax
    line = ax.containers[0].lines[0]
    assert matplotlib.colors.same_color(line.get_color(), "purple")
    assert line.get_linestyle() == ":" and line.get_marker() == "s"
    assert not [ln for ln in ax.get_lines() if ln.get_gid() == "target"]  # no target, no line


def test_bad_input(curve):
    with pytest.raises(TypeError, match="plot a power curve from simlab.power_curve"):
        power_curve_data(curve.table)
    for bad in (1.5, 0, "0.8"):
        with pytest.raises(ValueError, match="target must be a power strictly between 0 and 1"):
            plot_power_curve(curve, target=bad)
    with pytest.raises(TypeError, match="ax must be one matplotlib Axes"):
        plot_power_curve(curve, ax=plt.subplots(1, 2)[1])
