"""Tests for simlab.plots.sweep: the pure plot data, the axes-level and figure-level functions."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from simlab.plots import plot_sweep, reference_value, sweep_figure, sweep_plot_data  # noqa: E402


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


def test_plot_sweep_draws_on_the_current_axes_and_passes_kwargs(summary):
    one = summary[summary["parameter"] == "x"]
    _, (_, current) = plt.subplots(1, 2)  # the current Axes is the last one made
    before = plt.get_fignums()
    ax = plot_sweep(one, "bias", x="n_groups", hue="tau", color="purple", linestyle=":",
                    capsize=0)
    assert ax is current and plt.gca() is current and plt.get_fignums() == before
    assert len(ax.containers) == 2
    for container in ax.containers:
        line = container.lines[0]
        assert matplotlib.colors.same_color(line.get_color(), "purple")
        assert line.get_linestyle() == ":"
        assert container.lines[1] == ()  # capsize=0 reached errorbar: no caps
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["tau = 0.1", "tau = 1.0"]


def test_plot_sweep_refuses_col_and_several_axes(summary):
    with pytest.raises(TypeError, match=r"takes no col=.*sweep_figure"):
        plot_sweep(summary, "bias", x="n_groups", col="parameter")
    with pytest.raises(TypeError, match="ax must be one matplotlib Axes, got ndarray"):
        plot_sweep(summary, "bias", x="n_groups", ax=plt.subplots(1, 2)[1])
    with pytest.raises(ValueError, match=r"columns \['n'\] are not in the summary"):
        plot_sweep(summary, "bias", x="n")


def test_sweep_figure_has_one_panel_per_level(summary):
    before = len(plt.get_fignums())
    fig = sweep_figure(summary, "bias", x="n_groups", hue="tau", col="parameter")
    assert isinstance(fig, Figure) and len(plt.get_fignums()) == before + 1
    assert len(fig.axes) == 2 and [len(a.containers) for a in fig.axes] == [2, 2]
    first, second = fig.axes
    assert "parameter = sd_(Intercept)|group" in first.get_title()   # in the summary's order
    assert "parameter = x" in second.get_title()
    data = sweep_plot_data(summary, "bias", x="n_groups", hue="tau", col="parameter")
    rows = data[(data["parameter"] == "x") & (data["tau"] == 0.1)].sort_values("n_groups")
    np.testing.assert_allclose(second.containers[0].lines[0].get_ydata(), rows["value"])


def test_sweep_figure_wraps_into_a_given_figure_and_passes_kwargs(summary):
    fig = Figure()
    out = sweep_figure(summary, "coverage_wald", x="n_groups", col="cell", col_wrap=4, fig=fig,
                       color="red")
    assert out is fig and len(fig.axes) == 8  # 6 cells in 2 rows of 4, the last two hidden
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 6
    assert all(matplotlib.colors.same_color(ax.containers[0].lines[0].get_color(), "red")
               for ax in visible)
    ref = [ln for ln in visible[0].get_lines() if ln.get_gid() == "reference"][0]
    np.testing.assert_allclose(ref.get_ydata(), [0.95, 0.95])
    single = sweep_figure(summary, "bias", x="n_groups", hue="parameter", fig=Figure())
    assert len(single.axes) == 1 and single.axes[0].get_title() == "bias"


def test_sweep_figure_bad_input(summary):
    with pytest.raises(TypeError, match="fig must be a matplotlib Figure"):
        sweep_figure(summary, "bias", x="n_groups", col="parameter", fig=plt.gca())
    with pytest.raises(ValueError, match="col_wrap must be a positive int"):
        sweep_figure(summary, "bias", x="n_groups", col="parameter", col_wrap=0)
    with pytest.raises(ValueError, match=r"columns \['nope'\] are not in the summary"):
        sweep_figure(summary, "bias", x="n_groups", col="nope")
    with pytest.raises(ValueError, match="no rows to plot"):
        sweep_figure(summary.iloc[:0], "bias", x="n_groups", col="parameter")


def test_plot_sweep_is_exported():
    import simlab
    assert simlab.plot_sweep is plot_sweep


def test_plots_package_reexports_every_module():
    import simlab.plots as plots
    from simlab.plots import Z_MCSE, power, slopes, sweep, teaching

    assert plots.plot_sweep is sweep.plot_sweep and Z_MCSE == sweep.Z_MCSE == 1.96
    assert plots.sweep_figure is sweep.sweep_figure
    modules = (sweep, power, teaching, slopes)
    assert set().union(*(m.__all__ for m in modules)) == set(plots.__all__)
    assert all(getattr(plots, name) is getattr(module, name)
               for module in modules for name in module.__all__)
