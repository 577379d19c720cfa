"""Tests for simlab.plots: the pure plot data and the drawing function."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from simlab.plots import plot_sweep, reference_value, sweep_plot_data  # noqa: E402


@pytest.fixture
def summary():
    rng = np.random.default_rng(0)
    rows = [{"n_groups": g, "tau": t, "cell": c, "parameter": p}
            for c, (g, t) in enumerate([(5, 0.1), (10, 0.1), (20, 0.1), (5, 1.0), (10, 1.0),
                                        (20, 1.0)])
            for p in ("sd_(Intercept)|group", "x")]   # lme4's confint names and order
    out = pd.DataFrame(rows)
    for m in ("bias", "coverage_wald"):
        out[m] = rng.normal(size=len(out))
        out[f"{m}_mcse"] = rng.uniform(0.01, 0.1, size=len(out))
    out["n_sim"] = 100
    return out


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_sweep_plot_data_numbers(summary):
    data = sweep_plot_data(summary, "bias", x="n_groups", hue="tau")
    assert list(data.columns) == ["n_groups", "tau", "parameter", "value", "mcse", "lower",
                                  "upper"]
    np.testing.assert_array_equal(data["value"], summary["bias"])
    np.testing.assert_array_equal(data["mcse"], summary["bias_mcse"])
    np.testing.assert_allclose(data["lower"], summary["bias"] - 1.96 * summary["bias_mcse"])
    np.testing.assert_allclose(data["upper"], summary["bias"] + 1.96 * summary["bias_mcse"])
    both = sweep_plot_data(summary, "bias", x="n_groups", hue="parameter", col="tau")
    assert list(both.columns[:3]) == ["n_groups", "parameter", "tau"]


def test_missing_measure_lists_choices(summary):
    with pytest.raises(ValueError, match=r"available measures: \['bias', 'coverage_wald'\]"):
        sweep_plot_data(summary, "rmse", x="n_groups")
    with pytest.raises(ValueError, match="available measures"):
        sweep_plot_data(summary.drop(columns="bias_mcse"), "bias", x="n_groups")
    with pytest.raises(ValueError, match="nope"):
        sweep_plot_data(summary, "bias", x="n_groups", hue="nope")


def test_reference_value():
    assert reference_value("bias") == 0 and reference_value("relative_error_model_se") == 0
    assert reference_value("coverage_profile") == 0.95
    assert reference_value("coverage_wald", level=0.9) == 0.9
    assert reference_value("rmse") is None


def test_plot_sweep_lines_match_data(summary):
    one = summary[summary["parameter"] == "x"]
    ax = plot_sweep(one, "bias", x="n_groups", hue="tau")
    assert isinstance(ax, matplotlib.axes.Axes)
    assert len(ax.containers) == 2  # one errorbar line per hue level
    data = sweep_plot_data(one, "bias", x="n_groups", hue="tau")
    for container, (tau, rows) in zip(ax.containers, data.groupby("tau", sort=False)):
        rows = rows.sort_values("n_groups")
        line = container.lines[0]
        np.testing.assert_array_equal(line.get_xdata(), rows["n_groups"])
        np.testing.assert_allclose(line.get_ydata(), rows["value"])
        segments = container.lines[2][0].get_segments()
        np.testing.assert_allclose([s[:, 1].min() for s in segments], rows["lower"])
        np.testing.assert_allclose([s[:, 1].max() for s in segments], rows["upper"])
    refs = [ln for ln in ax.get_lines() if ln.get_gid() == "reference"]
    assert len(refs) == 1 and refs[0].get_linestyle() == "--"
    np.testing.assert_array_equal(refs[0].get_ydata(), [0, 0])
    assert "bias" in ax.get_title() and ax.get_xlabel() == "n_groups"
    assert "bias" in ax.get_ylabel()


def test_plot_sweep_no_reference_for_rmse_like(summary):
    summary = summary.assign(rmse=1.0, rmse_mcse=0.1)
    ax = plot_sweep(summary[summary["parameter"] == "x"], "rmse", x="n_groups", hue="tau")
    assert not [ln for ln in ax.get_lines() if ln.get_gid() == "reference"]


def test_plot_sweep_coverage_reference_and_given_ax(summary):
    _, ax = plt.subplots()
    out = plot_sweep(summary[summary["parameter"] == "x"], "coverage_wald", x="n_groups",
                     ax=ax)
    assert out is ax and len(ax.containers) == 1
    ref = [ln for ln in ax.get_lines() if ln.get_gid() == "reference"][0]
    np.testing.assert_allclose(ref.get_ydata(), [0.95, 0.95])


def test_plot_sweep_col_returns_one_axes_per_level(summary):
    axes = plot_sweep(summary, "bias", x="n_groups", hue="tau", col="parameter")
    assert len(axes) == 2
    assert all(isinstance(a, matplotlib.axes.Axes) for a in axes)
    assert [len(a.containers) for a in axes] == [2, 2]
    assert "parameter = sd_(Intercept)|group" in axes[0].get_title()   # in the summary's order
    assert "parameter = x" in axes[1].get_title()
    with pytest.raises(ValueError, match="levels"):
        plot_sweep(summary, "bias", x="n_groups", col="parameter", ax=[plt.subplots()[1]])


def test_plot_sweep_is_exported():
    import simlab
    assert simlab.plot_sweep is plot_sweep


def test_plots_package_reexports_sweep_and_teaching():
    import simlab.plots as plots
    from simlab.plots import Z_MCSE, slopes, sweep, teaching

    assert plots.plot_sweep is sweep.plot_sweep and Z_MCSE == sweep.Z_MCSE == 1.96
    assert plots.sweep_plot_data is sweep.sweep_plot_data
    assert plots.reference_value is sweep.reference_value
    assert set(sweep.__all__) | set(teaching.__all__) | set(slopes.__all__) == set(plots.__all__)
    assert all(getattr(plots, name) is getattr(module, name)
               for module in (teaching, slopes) for name in module.__all__)
