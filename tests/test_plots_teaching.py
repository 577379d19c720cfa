"""Tests for simlab.plots.teaching: the numbers behind each figure, a few Axes facts, errors.

Every axes-level function is also checked for seaborn's conventions: ``ax=None`` draws on the
current Axes (no new figure), ``**kwargs`` reach the main matplotlib call, one Axes comes back.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from scipy import special  # noqa: E402

import simlab  # noqa: E402
from simlab._vocabulary import LOWER, RE_KEYS, UPPER  # noqa: E402
from simlab.plots import (caterpillar_data, caterpillar_figure, plot_caterpillar,  # noqa: E402
                          plot_predictions, plot_re_density, plot_re_sim, plot_scatter,
                          plot_trajectories, prediction_data, re_density_data, re_sim_plot_data,
                          scatter_data, trajectory_data)

SLEEP = dict(x="Days", y="Reaction", group="Subject")


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def sleep_lm(sleepstudy_data):
    return simlab.lm("Reaction ~ Days", sleepstudy_data)


@pytest.fixture(scope="session")
def sleep_slopes_fit(sleepstudy_data):
    return simlab.lmer("Reaction ~ Days + (Days | Subject)", sleepstudy_data)


def _lines(ax, gid):
    return [line for line in ax.get_lines() if line.get_gid() == gid]


def _collection(ax, gid):
    (found,) = [c for c in ax.collections if c.get_gid() == gid]
    return found


# ----- 1. trajectories ----------------------------------------------------------
def test_trajectory_paths_are_the_data_sorted_by_group_then_x(sleepstudy_data):
    paths, _ = trajectory_data(sleepstudy_data, **SLEEP, seed=1)
    assert list(paths.columns) == ["group", "x", "y", "highlighted"]
    expected = sleepstudy_data.sort_values(["Subject", "Days"]).reset_index(drop=True)
    np.testing.assert_array_equal(paths["group"].astype(str), expected["Subject"].astype(str))
    np.testing.assert_array_equal(paths["x"], expected["Days"])
    np.testing.assert_array_equal(paths["y"], expected["Reaction"])


def test_highlighted_groups_come_from_default_rng_seed(sleepstudy_data):
    paths, _ = trajectory_data(sleepstudy_data, **SLEEP, seed=7)
    levels = sleepstudy_data["Subject"].cat.categories
    expected = levels[np.sort(np.random.default_rng(7).choice(18, size=10, replace=False))]
    per_group = paths.groupby("group", observed=True)["highlighted"]
    assert (per_group.nunique() == 1).all()  # a whole path is highlighted or not
    assert sorted(per_group.first()[lambda s: s].index.astype(str)) == sorted(expected)
    again, _ = trajectory_data(sleepstudy_data, **SLEEP, seed=7)
    pd.testing.assert_frame_equal(paths, again)
    assert trajectory_data(sleepstudy_data, **SLEEP, n_highlight=0).paths["highlighted"].sum() == 0
    assert trajectory_data(sleepstudy_data, **SLEEP, n_highlight=18).paths["highlighted"].all()


def test_trend_without_fit_is_the_ols_line():
    rng = np.random.default_rng(3)
    data = pd.DataFrame({"student": np.repeat(np.arange(12), 4),
                         "occasion": np.tile(np.arange(4), 12)})
    data["gpa"] = 2 + 0.1 * data["occasion"] + rng.normal(0, 0.3, len(data))
    _, trend = trajectory_data(data, x="occasion", y="gpa", group="student", n_highlight=3,
                               seed=0)
    slope, intercept = np.polyfit(data["occasion"], data["gpa"], 1)
    np.testing.assert_array_equal(trend["x"], [0, 1, 2, 3])
    np.testing.assert_allclose(trend["y"], intercept + slope * np.arange(4))


def test_trend_with_fit_is_the_population_line(sleepstudy_data, sleep_fit):
    _, trend = trajectory_data(sleepstudy_data, **SLEEP, fit=sleep_fit)
    intercept, slope = sleep_fit.fixef["estimate"]
    np.testing.assert_array_equal(trend["x"], np.arange(10))
    np.testing.assert_allclose(trend["y"], intercept + slope * np.arange(10))


def test_gpa_trajectories_follow_the_tutorial(gpa_data, gpa_fit):
    paths, trend = trajectory_data(gpa_data, fit=gpa_fit, seed=1234)
    assert len(paths) == 1200 and paths.loc[paths["highlighted"], "group"].nunique() == 10
    intercept, slope = gpa_fit.fixef["estimate"]
    np.testing.assert_allclose(trend["y"], intercept + slope * np.arange(6))


def test_trajectory_bad_input(sleepstudy_data, sleep_lm, sim_fit, sleep_fit):
    with pytest.raises(ValueError, match=r"between 0 and the number of groups \(18\), got 19"):
        trajectory_data(sleepstudy_data, **SLEEP, n_highlight=19)
    with pytest.raises(ValueError, match="got -1"):
        trajectory_data(sleepstudy_data, **SLEEP, n_highlight=-1)
    with pytest.raises(TypeError, match="n_highlight must be an int"):
        trajectory_data(sleepstudy_data, **SLEEP, n_highlight=2.5)
    with pytest.raises(ValueError, match=r"\['Day'\] not found in data; available columns: "
                                         r"\['Reaction', 'Days', 'Subject'\]"):
        trajectory_data(sleepstudy_data, x="Day", y="Reaction", group="Subject")
    with pytest.raises(TypeError, match=r"trajectory_data needs the column name\(s\) x=, y=, "
                                        r"group= \(no default\); or pass fit="):
        trajectory_data(sleepstudy_data)  # no data set's names are assumed
    with pytest.raises(TypeError, match=r"needs the column name\(s\) group= "):
        trajectory_data(sleepstudy_data, x="Days", y="Reaction")
    with pytest.raises(ValueError, match="fit's groups are 'Subject' but group is 'Days'"):
        trajectory_data(sleepstudy_data, group="Days", fit=sleep_fit)
    with pytest.raises(TypeError, match="must be a pandas DataFrame, got dict"):
        trajectory_data(sleepstudy_data.to_dict(), **SLEEP)
    with pytest.raises(TypeError, match=r"needs a mixed model fitted with simlab.lmer.*got "
                                        r"LmResult \(a model without random effects\)"):
        trajectory_data(sleepstudy_data, **SLEEP, fit=sleep_lm)
    with pytest.raises(ValueError, match="fit models 'y' but y is 'Reaction'"):
        trajectory_data(sleepstudy_data, **SLEEP, fit=sim_fit)
    with pytest.raises(TypeError, match="'Subject' of data must be numeric"):
        trajectory_data(sleepstudy_data, x="Subject", y="Reaction", group="Days")


def test_trajectory_fit_with_other_covariates_is_refused(sleepstudy_data):
    data = sleepstudy_data.assign(z=np.random.default_rng(0).normal(size=len(sleepstudy_data)))
    fit = simlab.lmer("Reaction ~ Days + z + (1 | Subject)", data)
    with pytest.raises(ValueError, match=r"also uses \['z'\]"):
        trajectory_data(data, **SLEEP, fit=fit)
    with pytest.raises(ValueError, match=r"has the fixed-effect covariates \['Days', 'z'\], not "
                                         r"one; pass x="):
        trajectory_data(data, fit=fit)


def test_trajectory_columns_come_from_the_fit(sleepstudy_data, sleep_fit):
    paths, trend = trajectory_data(sleepstudy_data, fit=sleep_fit, seed=3)
    expected = trajectory_data(sleepstudy_data, **SLEEP, fit=sleep_fit, seed=3)
    pd.testing.assert_frame_equal(paths, expected.paths)
    pd.testing.assert_frame_equal(trend, expected.trend)
    ax = plot_trajectories(sleepstudy_data, fit=sleep_fit, seed=3)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Days", "Reaction")
    assert "Subject" in ax.get_title()


def test_plot_trajectories_bold_faded_and_red(sleepstudy_data, sleep_fit):
    ax = plot_trajectories(sleepstudy_data, **SLEEP, fit=sleep_fit, n_highlight=4, seed=2)
    paths, trend = trajectory_data(sleepstudy_data, **SLEEP, fit=sleep_fit, n_highlight=4, seed=2)
    bold, faded = _lines(ax, "highlight"), _lines(ax, "path")
    assert len(bold) == 4 and len(faded) == 14
    assert min(b.get_linewidth() for b in bold) > max(f.get_linewidth() for f in faded)
    assert max(f.get_alpha() for f in faded) < 0.5
    highlighted_y = paths.loc[paths["highlighted"], "y"].to_numpy()
    np.testing.assert_array_equal(np.concatenate([b.get_ydata() for b in bold]), highlighted_y)
    (red,) = _lines(ax, "trend")
    assert matplotlib.colors.same_color(red.get_color(), "red")
    np.testing.assert_allclose(red.get_ydata(), trend["y"])
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Days", "Reaction")
    assert "Subject" in ax.get_title()


def test_plot_trajectories_draws_on_the_given_axes(sleepstudy_data):
    _, ax = plt.subplots()
    assert plot_trajectories(sleepstudy_data, **SLEEP, seed=0, ax=ax) is ax
    with pytest.raises(TypeError, match="ax must be one matplotlib Axes, got ndarray"):
        plot_trajectories(sleepstudy_data, **SLEEP, ax=plt.subplots(1, 2)[1])


# ----- 2. caterpillar -------------------------------------------------------------
def test_caterpillar_data_sorts_ranef_and_flags_zero(sleep_fit):
    data = caterpillar_data(sleep_fit)
    assert list(data.columns) == ["group_var", "effect", "group", "value", "se", "lower", "upper",
                                  "rank", "excludes_zero"]
    assert (np.diff(data["value"]) >= 0).all()
    np.testing.assert_array_equal(data["rank"], np.arange(1, 19))
    ranef = sleep_fit.ranef().set_index("group").loc[data["group"]]
    z = special.ndtri(0.975)
    np.testing.assert_allclose(data[LOWER], ranef["value"] - z * ranef["se"])
    np.testing.assert_allclose(data[UPPER], ranef["value"] + z * ranef["se"])
    excludes = (ranef[LOWER] > 0) | (ranef[UPPER] < 0)
    np.testing.assert_array_equal(data["excludes_zero"], excludes)
    assert 0 < data["excludes_zero"].sum() < 18


def test_caterpillar_level_sets_the_interval(sleep_fit):
    data = caterpillar_data(sleep_fit, level=0.9)
    z = special.ndtri(0.95)
    np.testing.assert_allclose(data["upper"] - data["value"], z * data["se"])
    with pytest.raises(ValueError, match="level"):
        caterpillar_data(sleep_fit, level=1.5)


def test_plot_caterpillar_bold_intervals_exclude_zero(sleep_fit):
    ax = plot_caterpillar(sleep_fit)
    data = caterpillar_data(sleep_fit)
    bold, thin = _collection(ax, "interval_excludes_zero"), _collection(ax, "interval")
    assert len(bold.get_segments()) == data["excludes_zero"].sum()
    assert len(thin.get_segments()) == (~data["excludes_zero"]).sum()
    assert bold.get_linewidth()[0] > thin.get_linewidth()[0]
    low = sorted(s[:, 1].min() for s in bold.get_segments())
    np.testing.assert_allclose(low, sorted(data.loc[data["excludes_zero"], "lower"]))
    (zero,) = _lines(ax, "zero")
    np.testing.assert_array_equal(zero.get_ydata(), [0, 0])
    (points,) = _lines(ax, "estimate")
    np.testing.assert_allclose(points.get_ydata(), data["value"])
    assert [t.get_text() for t in ax.get_xticklabels()] == list(data["group"])
    assert "Subject" in ax.get_xlabel() and "95%" in ax.get_ylabel()


def test_caterpillar_bad_input(sleep_lm, sleep_fit):
    with pytest.raises(TypeError, match="needs a mixed model fitted with simlab.lmer"):
        caterpillar_data(sleep_lm)
    with pytest.raises(TypeError, match="got DataFrame"):
        plot_caterpillar(sleep_fit.ranef())
    with pytest.raises(ValueError, match=r"effect 'Days' is not in the table; choose one of "
                                         r"\['\(Intercept\)'\]"):
        plot_caterpillar(sleep_fit, effect="Days")


def test_plot_caterpillar_picks_one_term_of_a_slope_model(sleep_slopes_fit):
    _, ax = plt.subplots()
    plot_caterpillar(sleep_slopes_fit, effect="Days", ax=ax)
    (points,) = _lines(ax, "estimate")
    days = sleep_slopes_fit.ranef().query("effect == 'Days'")
    np.testing.assert_allclose(points.get_ydata(), np.sort(days["value"]))
    assert "Days" in ax.get_ylabel()


def test_caterpillar_data_order_by_ranks_every_term_alike(sleep_slopes_fit):
    data = caterpillar_data(sleep_slopes_fit, order_by="(Intercept)")
    assert list(data["effect"]) == ["(Intercept)"] * 18 + ["Days"] * 18
    intercept, days = (data[data["effect"] == e] for e in ("(Intercept)", "Days"))
    assert (np.diff(intercept["value"]) > 0).all()
    assert list(days["group"]) == list(intercept["group"])
    np.testing.assert_array_equal(days["rank"], np.arange(1, 19))
    ranef = sleep_slopes_fit.ranef().query("effect == 'Days'").set_index("group")
    np.testing.assert_array_equal(days["value"], ranef.loc[days["group"], "value"])
    by_days = caterpillar_data(sleep_slopes_fit, order_by="Days")
    assert (np.diff(by_days.loc[by_days["effect"] == "Days", "value"]) > 0).all()
    own = caterpillar_data(sleep_slopes_fit)  # default: each term sorted by its own values
    assert (np.diff(own.loc[own["effect"] == "Days", "value"]) > 0).all()
    with pytest.raises(ValueError, match=r"order_by 'x' is not a random term of the model; "
                                         r"choose one of \['\(Intercept\)', 'Days'\]"):
        caterpillar_data(sleep_slopes_fit, order_by="x")
    with pytest.raises(TypeError, match="order_by must be the name of a random term"):
        caterpillar_data(sleep_slopes_fit, order_by=0)


def test_caterpillar_figure_has_a_panel_per_term(sleep_slopes_fit):
    before = len(plt.get_fignums())
    fig = caterpillar_figure(sleep_slopes_fit, level=0.9)
    assert isinstance(fig, Figure) and len(plt.get_fignums()) == before + 1
    assert len(fig.axes) == 2
    data = caterpillar_data(sleep_slopes_fit, level=0.9)
    for ax, effect in zip(fig.axes, ["(Intercept)", "Days"]):
        rows = data[data["effect"] == effect]
        assert ax.get_title().startswith(effect) and "90%" in ax.get_ylabel()
        (points,) = _lines(ax, "estimate")
        np.testing.assert_array_equal(points.get_ydata(), rows["value"])
        assert (np.diff(points.get_ydata()) > 0).all()  # sorted within the panel
        assert [t.get_text() for t in ax.get_xticklabels()] == list(rows["group"])
        bold = [c for c in ax.collections if c.get_gid() == "interval_excludes_zero"]
        assert len(bold[0].get_segments()) == rows["excludes_zero"].sum()
    assert fig.axes[0].get_legend() is not None and fig.axes[1].get_legend() is None
    assert "each panel" in fig.axes[1].get_xlabel()


def test_caterpillar_figure_shared_order_and_given_figure(sleep_slopes_fit, sleep_fit):
    fig = Figure()
    assert caterpillar_figure(sleep_slopes_fit, order_by="(Intercept)", fig=fig) is fig
    top, bottom = fig.axes
    assert top.get_shared_x_axes().joined(top, bottom)
    order = caterpillar_data(sleep_slopes_fit, order_by="(Intercept)")
    (points,) = _lines(bottom, "estimate")
    np.testing.assert_array_equal(points.get_ydata(), order.loc[order["effect"] == "Days", "value"])
    assert "(Intercept)" in bottom.get_xlabel()
    assert len(caterpillar_figure(sleep_fit, fig=Figure()).axes) == 1  # a random intercept
    with pytest.raises(TypeError, match="fig must be a matplotlib Figure"):
        caterpillar_figure(sleep_fit, fig="figure")
    with pytest.raises(ValueError, match="order_by 'Days' is not a random term"):
        caterpillar_figure(sleep_fit, order_by="Days")


# ----- 3. predictions -------------------------------------------------------------
def test_prediction_data_defaults_to_the_first_two_groups(sleep_fit, sleepstudy_data):
    data = prediction_data(sleep_fit, sleepstudy_data)
    assert list(data.columns) == ["group", "x", "y", "with_random", "fixed_only"]
    assert list(pd.unique(data["group"])) == ["308", "309"]
    rows = sleepstudy_data["Subject"].isin(["308", "309"]).to_numpy()
    np.testing.assert_array_equal(data["x"], sleepstudy_data.loc[rows, "Days"])
    np.testing.assert_array_equal(data["y"], sleepstudy_data.loc[rows, "Reaction"])
    np.testing.assert_allclose(data["with_random"], sleep_fit.fitted[rows])
    intercept, slope = sleep_fit.fixef["estimate"]
    np.testing.assert_allclose(data["fixed_only"], intercept + slope * data["x"])


def test_prediction_data_keeps_the_order_of_groups_and_matches_text(sleep_fit, sleepstudy_data):
    data = prediction_data(sleep_fit, sleepstudy_data, groups=[331, "330", 331])
    assert list(pd.unique(data["group"])) == ["331", "330"] and len(data) == 20
    single = prediction_data(sleep_fit, sleepstudy_data, groups="372")
    assert set(single["group"]) == {"372"}


def test_prediction_data_unknown_group_lists_valid_ids(sleep_fit, sleepstudy_data):
    with pytest.raises(ValueError, match=r"unknown Subject id\(s\) \[999\]; valid ids include "
                                         r"\['308', '309', '310', '330', '331'\] \.\.\. "
                                         r"\(18 in all\)"):
        prediction_data(sleep_fit, sleepstudy_data, groups=[308, 999])


def test_prediction_x_is_the_first_numeric_covariate_in_formula_order(sleepstudy_data):
    data = sleepstudy_data.assign(z=np.linspace(0, 1, len(sleepstudy_data)),
                                  f=np.where(np.arange(len(sleepstudy_data)) % 2, "a", "b"))
    fit = simlab.lmer("Reaction ~ f + z + Days + (1 | Subject)", data)
    np.testing.assert_array_equal(prediction_data(fit, data, groups=308)["x"], data["z"][:10])
    by_days = prediction_data(fit, data, groups=308, x="Days")
    np.testing.assert_array_equal(by_days["x"], np.arange(10))
    no_covariate = simlab.lmer("Reaction ~ 1 + (1 | Subject)", data)
    with pytest.raises(ValueError, match="no numeric fixed-effect covariate.*pass x="):
        prediction_data(no_covariate, data)


def test_prediction_bad_input(sleep_fit, sleep_lm, sleepstudy_data):
    with pytest.raises(TypeError, match="needs a mixed model fitted with simlab.lmer"):
        prediction_data(sleep_lm, sleepstudy_data)
    with pytest.raises(TypeError, match="data must be a pandas DataFrame"):
        prediction_data(sleep_fit, sleepstudy_data.to_numpy())
    with pytest.raises(ValueError, match=r"\['Days'\] not found in data; available columns: "
                                         r"\['Reaction', 'Subject'\]"):
        prediction_data(sleep_fit, sleepstudy_data.drop(columns="Days"))
    with pytest.raises(ValueError, match=r"\['age'\] not found"):
        prediction_data(sleep_fit, sleepstudy_data, x="age")
    with pytest.raises(ValueError, match="groups is empty"):
        prediction_data(sleep_fit, sleepstudy_data, groups=[])
    with pytest.raises(ValueError, match=r"no complete rows for Subject \['309'\]"):
        prediction_data(sleep_fit, sleepstudy_data[sleepstudy_data["Subject"] != "309"])


def test_plot_predictions_solid_and_dashed_lines_per_group(sleep_fit, sleepstudy_data):
    ax = plot_predictions(sleep_fit, sleepstudy_data, groups=["308", "309", "310"])
    data = prediction_data(sleep_fit, sleepstudy_data, groups=["308", "309", "310"])
    solid, dashed = _lines(ax, "with_random"), _lines(ax, "fixed_only")
    assert len(solid) == len(dashed) == 3
    assert {line.get_linestyle() for line in solid} == {"-"}
    assert {line.get_linestyle() for line in dashed} == {"--"}
    np.testing.assert_allclose(np.concatenate([s.get_ydata() for s in solid]), data["with_random"])
    np.testing.assert_allclose(np.concatenate([d.get_ydata() for d in dashed]), data["fixed_only"])
    observed = [c for c in ax.collections if c.get_gid() == "observed"]
    np.testing.assert_allclose(np.concatenate([c.get_offsets()[:, 1] for c in observed]), data["y"])
    for solid_line, dashed_line in zip(solid, dashed):  # one colour (hue) per group
        assert solid_line.get_color() == dashed_line.get_color()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:3] == ["Subject 308", "Subject 309", "Subject 310"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Days", "Reaction")


# ----- 4. density of the random effects ---------------------------------------------
def test_re_density_data_is_the_ranef_values(sim_fit):
    data = re_density_data(sim_fit)
    np.testing.assert_array_equal(data["value"], sim_fit.ranef()["value"])
    assert list(data.columns) == ["group_var", "effect", "group", "value"]


def test_plot_re_density_limits_and_rug(sim_fit, sleep_fit):
    ax = plot_re_density(sim_fit, xlim=(-3, 3))
    assert ax.get_xlim() == (-3, 3)
    rug = _collection(ax, "rug")
    np.testing.assert_allclose(sorted(s[0, 0] for s in rug.get_segments()),
                               np.sort(sim_fit.ranef()["value"]))  # one tick per group
    _collection(ax, "density")
    assert ax.get_ylabel() == "density" and "groups" in ax.get_xlabel()
    _, auto = plt.subplots()
    plot_re_density(sleep_fit)  # by default matplotlib chooses: no data set's scale is assumed
    low, high = auto.get_xlim()
    values = sleep_fit.ranef()["value"]
    assert low < values.min() and high > values.max()
    plt.figure()
    assert plot_re_density(sim_fit, xlim=(-1, 2)).get_xlim() == (-1, 2)


def test_re_density_bad_input(sim_fit, sleep_lm):
    for bad in [(3, -3), (0,), "ab", (0, np.inf)]:
        with pytest.raises(ValueError, match="xlim"):
            plot_re_density(sim_fit, xlim=bad)
    with pytest.raises(TypeError, match="needs a mixed model fitted with simlab.lmer"):
        re_density_data(sleep_lm)


# ----- 5. scatter -----------------------------------------------------------------
def test_scatter_data_and_points(sim1234_data):
    data = scatter_data(sim1234_data, x="x", y="y")
    pd.testing.assert_frame_equal(data, sim1234_data[["x", "y"]])
    ax = plot_scatter(sim1234_data, x="x", y="y")
    np.testing.assert_allclose(ax.collections[0].get_offsets(), sim1234_data[["x", "y"]])
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x", "y")
    assert ax.get_legend() is None


def test_scatter_hue_legend_only_for_few_levels(sim1234_data, sleepstudy_data):
    assert plot_scatter(sim1234_data, x="x", y="y", hue="groups").get_legend() is None  # 100
    few = sleepstudy_data[sleepstudy_data["Subject"].isin(["308", "309"])]
    ax = plot_scatter(few, x="Days", y="Reaction", hue="Subject")
    assert ax.get_legend() is not None


def test_scatter_bad_input(sim1234_data):
    with pytest.raises(ValueError, match=r"\['group'\] not found in data; available columns: "
                                         r"\['x', 'y', 'groups'\]"):
        scatter_data(sim1234_data, x="x", y="y", hue="group")
    with pytest.raises(TypeError, match="must be a pandas DataFrame, got ndarray"):
        plot_scatter(sim1234_data.to_numpy(), x="x", y="y")
    with pytest.raises(TypeError, match="'groups' of data must be numeric"):
        scatter_data(sim1234_data.astype({"groups": str}), x="groups", y="y")
    with pytest.raises(TypeError, match=r"scatter_data needs the column name\(s\) x=, y= "):
        plot_scatter(sim1234_data)
    with pytest.raises(TypeError, match=r"needs the column name\(s\) y= "):
        scatter_data(sim1234_data, x="x")


# ----- 6. simulated random effects ----------------------------------------------------
@pytest.fixture
def sims():
    return pd.DataFrame({
        "group_var": "student", "effect": ["(Intercept)"] * 3 + ["occasion"] * 3,
        "group": ["a", "b", "c", "a", "b", "c"],
        "mean": [0.5, -0.2, 0.1, 0.0, 0.3, -0.4],
        "median": [0.45, -0.25, 0.1, 0.01, 0.3, -0.4],
        "sd": [0.1, 0.2, 0.3, 0.1, 0.1, 0.1]})


def test_re_sim_plot_data_intervals_and_order(sims):
    data = re_sim_plot_data(sims)
    z = special.ndtri(0.975)
    assert list(data.columns[:6]) == [*RE_KEYS, "mean", "median", "sd"]
    assert list(data["group"]) == ["b", "c", "a", "c", "a", "b"]
    assert list(data["rank"]) == [1, 2, 3, 1, 2, 3]
    np.testing.assert_allclose(data["lower"], data["median"] - z * data["sd"])
    np.testing.assert_allclose(data["upper"], data["median"] + z * data["sd"])
    np.testing.assert_array_equal(data["excludes_zero"], [False, False, True, True, False, True])


def test_plot_re_sim_bold_and_term(sims):
    ax = plot_re_sim(sims)
    assert len(_collection(ax, "interval_excludes_zero").get_segments()) == 1
    assert len(_collection(ax, "interval").get_segments()) == 2
    assert [t.get_text() for t in ax.get_xticklabels()] == ["b", "c", "a"]
    (zero,) = _lines(ax, "zero")
    np.testing.assert_array_equal(zero.get_ydata(), [0, 0])
    ax = plot_re_sim(sims, effect="occasion", ax=plt.figure().subplots())
    (points,) = _lines(ax, "estimate")
    np.testing.assert_allclose(points.get_ydata(), [-0.4, 0.01, 0.3])
    assert "occasion" in ax.get_ylabel() and "student" in ax.get_xlabel()
    with pytest.raises(ValueError, match=r"effect 'x' is not in the table; choose one of"):
        plot_re_sim(sims, effect="x")


def test_re_sim_bad_input(sims):
    with pytest.raises(ValueError, match=r"\['median', 'sd'\] not found in sims; available "
                                         r"columns: \['group_var', 'effect', 'group', 'mean'\]"):
        re_sim_plot_data(sims.drop(columns=["median", "sd"]))
    with pytest.raises(TypeError, match="sims must be a pandas DataFrame"):
        re_sim_plot_data(sims.to_dict("list"))
    with pytest.raises(TypeError, match="'sd' of sims must be numeric"):
        re_sim_plot_data(sims.astype({"sd": str}))
    with pytest.raises(ValueError, match="no effects to plot"):
        plot_re_sim(sims.iloc[:0])


def test_re_sim_of_a_fit_plots(sleep_fit):
    sims = sleep_fit.re_sim(nsim=200, seed=5)
    data = re_sim_plot_data(sims)
    assert len(data) == 18 and (data[LOWER] < data["median"]).all()
    (points,) = _lines(plot_re_sim(sims), "estimate")
    np.testing.assert_allclose(points.get_ydata(), np.sort(sims["median"]))


# ----- seaborn's conventions, for every axes-level function ---------------------------
def _estimates(ax):
    return _lines(ax, "estimate")


#: name -> (draw(ax=..., **kwargs) given the fixtures, kwargs, the styled artists, a check).
CONVENTIONS = {
    "trajectories": (lambda f, **kw: plot_trajectories(f["sleepstudy_data"], fit=f["sleep_fit"],
                                                       n_highlight=3, seed=1, **kw),
                     dict(color="purple"),
                     lambda ax: _lines(ax, "path") + _lines(ax, "highlight"),
                     lambda artist: matplotlib.colors.same_color(artist.get_color(), "purple")),
    "caterpillar": (lambda f, **kw: plot_caterpillar(f["sleep_fit"], **kw),
                    dict(marker="s", color="purple"), _estimates,
                    lambda artist: artist.get_marker() == "s"
                    and matplotlib.colors.same_color(artist.get_color(), "purple")),
    "predictions": (lambda f, **kw: plot_predictions(f["sleep_fit"], f["sleepstudy_data"], **kw),
                    dict(linewidth=4.5),
                    lambda ax: _lines(ax, "with_random") + _lines(ax, "fixed_only"),
                    lambda artist: artist.get_linewidth() == 4.5),
    "re_density": (lambda f, **kw: plot_re_density(f["sim_fit"], **kw), dict(linewidth=3),
                   lambda ax: [_collection(ax, "density")],
                   lambda artist: list(artist.get_linewidth()) == [3]),
    "scatter": (lambda f, **kw: plot_scatter(f["sim1234_data"], x="x", y="y", **kw), dict(s=40),
                lambda ax: ax.collections[:1], lambda artist: list(artist.get_sizes()) == [40]),
    "re_sim": (lambda f, **kw: plot_re_sim(f["sleep_fit"].re_sim(nsim=50, seed=1), **kw),
               dict(color="purple"), _estimates,
               lambda artist: matplotlib.colors.same_color(artist.get_color(), "purple")),
}


@pytest.fixture
def fixtures(request):
    names = ("sleepstudy_data", "sleep_fit", "sim_fit", "sim1234_data")
    return {name: request.getfixturevalue(name) for name in names}


@pytest.mark.parametrize("name", sorted(CONVENTIONS))
def test_axes_level_draws_on_the_current_axes(fixtures, name):
    draw = CONVENTIONS[name][0]
    _, (_, current) = plt.subplots(1, 2)  # the current Axes is the last one made
    before = plt.get_fignums()
    ax = draw(fixtures)
    assert isinstance(ax, matplotlib.axes.Axes)
    assert ax is current and plt.gca() is current and plt.get_fignums() == before


@pytest.mark.parametrize("name", sorted(CONVENTIONS))
def test_axes_level_passes_kwargs_to_the_main_call(fixtures, name):
    draw, kwargs, artists, styled = CONVENTIONS[name]
    _, ax = plt.subplots()
    assert draw(fixtures, ax=ax, **kwargs) is ax
    found = artists(ax)
    assert found and all(styled(artist) for artist in found)


def test_predictions_kwargs_keep_the_dashed_population_line(sleep_fit, sleepstudy_data):
    ax = plot_predictions(sleep_fit, sleepstudy_data, color="black")
    assert {line.get_linestyle() for line in _lines(ax, "fixed_only")} == {"--"}
    ax = plot_predictions(sleep_fit, sleepstudy_data, linestyle=":", ax=plt.figure().subplots())
    assert {line.get_linestyle() for line in _lines(ax, "fixed_only")} == {":"}


def test_caterpillar_figure_passes_kwargs_to_every_panel(sleep_slopes_fit):
    fig = caterpillar_figure(sleep_slopes_fit, fig=Figure(), color="purple")
    points = [line for ax in fig.axes for line in _lines(ax, "estimate")]
    assert len(points) == 2
    assert all(matplotlib.colors.same_color(p.get_color(), "purple") for p in points)
