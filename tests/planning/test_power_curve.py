"""power_curve: simr's breaks, independent points equal to power() at each design."""
from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from simlab.planning import default_breaks, power, power_curve  # noqa: E402
from simlab.plots.power import plot_power_curve, power_curve_data  # noqa: E402

from power_cases import BALANCED_TRUTH  # noqa: E402

SETTINGS = dict(term="z", effects={"z": 1.0}, n_per_group=6, tau=0.5 ** 0.5, sigma=1.0, seed=4)


def test_default_breaks_are_simrs():
    # simr:::tidySeq(3, 20, 10), simr_reference_part2.out
    assert default_breaks(20) == (3, 5, 7, 9, 11, 12, 14, 16, 18, 20)
    assert default_breaks(6) == (3, 4, 5, 6)


def test_each_point_is_power_at_that_design():
    curve = power_curve(n_groups=16, breaks=[6, 16], nsim=400, **SETTINGS)
    for k, point in zip(curve.breaks, curve.points):
        assert point == power(n_groups=k, nsim=400, **SETTINGS)
    table = curve.table
    assert list(table["n_groups"]) == [6, 16] and list(table["nobs"]) == [36, 96]
    assert table["power"].is_monotonic_increasing


def test_curve_from_a_fit_follows_simrs_extend(balanced_fit):
    # simr's powerCurve(extend(model, along = "g", n = 20), breaks = c(4, 8, 12, 16, 20)):
    # the exact powers of analytic_power.out hold where singular fits are rare (8 groups on).
    exact = {8: 0.612140, 12: 0.732026, 16: 0.942435, 20: 0.952217}
    curve = power_curve(balanced_fit, term="w", n_groups=20, breaks=[4, 8, 12, 16, 20],
                        nsim=2000, seed=6, **BALANCED_TRUTH)
    assert [p.nobs for p in curve.points] == [24, 48, 72, 96, 120]
    for k, point in zip(curve.breaks, curve.points):
        if k in exact:
            assert abs(point.power - exact[k]) < 3 * point.mcse, (k, point.power)
    assert "by number of groups" in str(curve)
    assert curve._repr_html_().startswith("<pre>Power for predictor &#x27;w&#x27;")


def test_along_rows_per_group():
    curve = power_curve(term="x", effects={"x": 0.3}, n_groups=8, n_per_group=5, tau=0.5,
                        sigma=1.0, along="n_per_group", nsim=200, seed=1)
    assert curve.breaks == (3, 4, 5)
    assert list(curve.table["n_per_group"]) == [3, 4, 5]
    assert [p.nobs for p in curve.points] == [24, 32, 40]


@pytest.mark.parametrize("breaks, error, match", [
    ([5, 3], ValueError, "strictly increasing"),
    ([1, 3], ValueError, ">= 2"),
    ([3, 4.5], ValueError, "integers"),
    ("3,4", TypeError, "list of increasing integers"),
    ([], ValueError, "non-empty"),
])
def test_bad_breaks(breaks, error, match):
    with pytest.raises(error, match=match):
        power_curve(n_groups=10, breaks=breaks, nsim=10, **SETTINGS)


def test_along_must_be_a_design_setting():
    with pytest.raises(ValueError, match="along must be a design setting.*'tau'"):
        power_curve(n_groups=10, along="tau", nsim=10, **SETTINGS)


def test_plot_draws_intervals_and_target():
    import matplotlib.pyplot as plt

    curve = power_curve(n_groups=12, breaks=[4, 8, 12], nsim=200, **SETTINGS)
    data = power_curve_data(curve)
    np.testing.assert_array_equal(data["size"], [4, 8, 12])
    assert (data["lower"] <= data["power"]).all() and (data["power"] <= data["upper"]).all()
    fig, ax = plt.subplots()
    out = plot_power_curve(curve, target=0.8, ax=ax, color="C3", label="kr")
    assert out is ax
    line = ax.lines[0]
    np.testing.assert_array_equal(line.get_ydata(), data["power"])
    assert ax.lines[-1].get_ydata()[0] == 0.8            # the target line
    assert ax.get_xlabel() == "number of groups"
    plt.close(fig)
    plt.figure()
    assert curve.plot() is plt.gca()                      # ax=None: the current Axes
    plt.close("all")
    with pytest.raises(ValueError, match="target must be"):
        plot_power_curve(curve, target=80)
    with pytest.raises(TypeError, match="power_curve"):
        plot_power_curve(data)
