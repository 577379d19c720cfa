"""Tests for simlab.plots.slopes: a random-slope fit's lines against separate regressions."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import simlab  # noqa: E402
from simlab.plots import (MAX_PANELS, MIXED, POPULATION, SEPARATE,  # noqa: E402
                          many_regressions_coef, many_regressions_data, many_regressions_figure,
                          plot_many_regressions)

SLOPES = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def sleep_slopes_fit(sleepstudy_data):
    return simlab.lmer(SLOPES, sleepstudy_data, data_name="sleepstudy")


@pytest.fixture(scope="session")
def sim_slopes_fit(sim_slopes1234_data):
    return simlab.lmer("y ~ x + (1 | groups) + (0 + x | groups)", sim_slopes1234_data)


def _subjects(data):
    return [str(s) for s in data["Subject"].cat.categories]


def _wide(coef, source):
    return coef[coef["source"] == source].set_index("group")[["intercept", "slope"]]


def _lines(ax, gid):
    return [line for line in ax.get_lines() if line.get_gid() == gid]


# ----- the numbers ------------------------------------------------------------------
def test_separate_regressions_are_polyfit_per_group(sleep_slopes_fit, sleepstudy_data):
    coef = many_regressions_coef(sleep_slopes_fit, sleepstudy_data)
    separate = _wide(coef, SEPARATE)
    assert list(separate.index) == _subjects(sleepstudy_data)  # the model's level order
    for subject, rows in sleepstudy_data.groupby("Subject", observed=True):
        slope, intercept = np.polyfit(rows["Days"], rows["Reaction"], 1)
        np.testing.assert_allclose(separate.loc[str(subject)], [intercept, slope], rtol=1e-10)
    assert (coef.loc[coef["source"] != POPULATION, "n"] == 10).all()


def test_mixed_lines_are_coef_and_population_is_fixef(sleep_slopes_fit, sleepstudy_data):
    coef = many_regressions_coef(sleep_slopes_fit, sleepstudy_data)
    assert list(coef.columns) == ["group", "source", "intercept", "slope", "n"]
    assert list(coef["source"]) == [MIXED] * 18 + [SEPARATE] * 18 + [POPULATION]
    expected = sleep_slopes_fit.coef().pivot(index="group", columns="effect", values="value")
    mixed = _wide(coef, MIXED)
    np.testing.assert_array_equal(mixed["intercept"], expected.loc[mixed.index, "(Intercept)"])
    np.testing.assert_array_equal(mixed["slope"], expected.loc[mixed.index, "Days"])
    population = coef[coef["source"] == POPULATION].iloc[0]
    assert population["group"] is None and population["n"] == 180
    np.testing.assert_array_equal([population["intercept"], population["slope"]],
                                  sleep_slopes_fit.fixef["estimate"])


def test_line_data_on_each_groups_range(sleep_slopes_fit, sleepstudy_data):
    lines = many_regressions_data(sleep_slopes_fit, sleepstudy_data, n_points=4)
    assert list(lines.columns) == ["group", "x", "fit", "source"]
    assert list(lines["source"].value_counts().sort_index()) == [72, 4, 72]
    mixed = lines[lines["source"] == MIXED]
    np.testing.assert_allclose(mixed["x"], np.tile([0, 3, 6, 9], 18))
    # The mixed model's line of a group is its prediction with random effects.
    newdata = pd.DataFrame({"Days": mixed["x"], "Subject": mixed["group"]})
    np.testing.assert_allclose(mixed["fit"], sleep_slopes_fit.predict(newdata), rtol=1e-12)
    for subject, rows in sleepstudy_data.groupby("Subject", observed=True):
        mine = lines[(lines["source"] == SEPARATE) & (lines["group"] == str(subject))]
        expected = np.polyval(np.polyfit(rows["Days"], rows["Reaction"], 1), mine["x"])
        np.testing.assert_allclose(mine["fit"], expected, rtol=1e-10)
    population = lines[lines["source"] == POPULATION]
    assert population["group"].isna().all()
    np.testing.assert_allclose(population["fit"], sleep_slopes_fit.predict(
        pd.DataFrame({"Days": population["x"]}), random_effects=False))


def test_the_mixed_model_shrinks_the_slopes(sleep_slopes_fit, sleepstudy_data, sim_slopes_fit,
                                            sim_slopes1234_data):
    for fit, data in [(sleep_slopes_fit, sleepstudy_data), (sim_slopes_fit, sim_slopes1234_data)]:
        coef = many_regressions_coef(fit, data)
        spread = coef.groupby("source")[["intercept", "slope"]].std()
        assert spread.loc[MIXED, "slope"] < 0.9 * spread.loc[SEPARATE, "slope"]
        assert spread.loc[MIXED, "intercept"] < spread.loc[SEPARATE, "intercept"]
        # On average a group's mixed-model slope lies closer to the population slope.
        population = coef.loc[coef["source"] == POPULATION, "slope"].iloc[0]
        distance = (coef.set_index("source")["slope"] - population).abs().groupby(level=0).mean()
        assert distance[MIXED] < distance[SEPARATE]


def test_other_random_slope_forms(sim_slopes_fit, sim_slopes1234_data, sleepstudy_data):
    coef = many_regressions_coef(sim_slopes_fit, sim_slopes1234_data)  # (1 | g) + (0 + x | g)
    assert len(coef) == 101 and coef["group"].iloc[0] == "1"
    np.testing.assert_array_equal(_wide(coef, MIXED)["slope"],
                                  sim_slopes_fit.coef().query("effect == 'x'")["value"])
    # Without a random intercept every group's line starts at the fixed intercept.
    no_intercept = simlab.lmer("Reaction ~ Days + (0 + Days | Subject)", sleepstudy_data)
    coef = many_regressions_coef(no_intercept, sleepstudy_data, x="Days", group="Subject")
    np.testing.assert_allclose(_wide(coef, MIXED)["intercept"],
                               no_intercept.fixef.loc["(Intercept)", "estimate"])


def test_groups_of_part_of_the_data_and_a_group_without_a_slope(sleep_slopes_fit,
                                                                sleepstudy_data):
    part = sleepstudy_data[sleepstudy_data["Subject"].astype(str).isin(["308", "309"])].copy()
    part.loc[(part["Subject"].astype(str) == "309") & (part["Days"] > 0), "Days"] = 0  # one x
    part.loc[part.index[0], "Reaction"] = np.nan  # incomplete rows are dropped
    coef = many_regressions_coef(sleep_slopes_fit, part)
    assert list(coef["group"]) == ["308", "309", "308", "309", None]
    assert list(coef["n"]) == [9, 10, 9, 10, 19]
    assert np.isnan(coef.loc[3, "slope"]) and np.isfinite(coef.loc[2, "slope"])
    lines = many_regressions_data(sleep_slopes_fit, part, n_points=3)
    assert set(lines.loc[lines["source"] == SEPARATE, "group"]) == {"308"}
    assert set(lines.loc[lines["source"] == MIXED, "group"]) == {"308", "309"}
    np.testing.assert_array_equal(lines.loc[lines["group"] == "309", "x"], [0, 0, 0])
    np.testing.assert_array_equal(lines.loc[lines["group"] == "308", "x"].iloc[:3], [1, 5, 9])


def test_bad_input(sleep_slopes_fit, sleep_fit, sleepstudy_data):
    with pytest.raises(ValueError, match=r"has no random slope \(its random effects are "
                                         r"\['\(Intercept\)'\]\)"):
        many_regressions_data(sleep_fit, sleepstudy_data)
    with pytest.raises(ValueError, match="has no random slope on 'Reaction'"):
        many_regressions_data(sleep_slopes_fit, sleepstudy_data, x="Reaction")
    with pytest.raises(TypeError, match="x must be a column name"):
        many_regressions_data(sleep_slopes_fit, sleepstudy_data, x=1)
    with pytest.raises(ValueError, match="the model's groups are 'Subject', not 'group'"):
        many_regressions_data(sleep_slopes_fit, sleepstudy_data, group="group")
    with pytest.raises(ValueError, match=r"column\(s\) \['Reaction'\] not found in data"):
        many_regressions_data(sleep_slopes_fit, sleepstudy_data.drop(columns="Reaction"))
    with pytest.raises(TypeError, match="data must be a pandas DataFrame"):
        many_regressions_data(sleep_slopes_fit, sleepstudy_data.to_dict())
    with pytest.raises(TypeError, match="needs a mixed model fitted with simlab.lmer"):
        many_regressions_data(simlab.lm("Reaction ~ Days", sleepstudy_data), sleepstudy_data)
    with pytest.raises(TypeError, match="column 'Days' of data must be numeric"):
        many_regressions_data(sleep_slopes_fit, sleepstudy_data.assign(Days=lambda d:
                                                                      d["Days"].astype(str)))
    strangers = sleepstudy_data.assign(Subject=sleepstudy_data["Subject"].astype(int) + 1000)
    with pytest.raises(ValueError, match="that the model was not fitted to"):
        many_regressions_data(sleep_slopes_fit, strangers)
    with pytest.raises(ValueError, match="no complete rows"):
        many_regressions_data(sleep_slopes_fit, sleepstudy_data.assign(Reaction=np.nan))
    with pytest.raises(ValueError, match="n_points must be an int >= 2"):
        many_regressions_data(sleep_slopes_fit, sleepstudy_data, n_points=1)


def test_a_model_with_other_covariates_is_refused(sleepstudy_data):
    data = sleepstudy_data.assign(z=np.arange(180) % 3)
    fit = simlab.lmer("Reaction ~ Days + z + (Days | Subject)", data)
    with pytest.raises(ValueError, match=r"undefined when the model also uses \['z'\]"):
        many_regressions_coef(fit, data)


# ----- axes-level ------------------------------------------------------------------
def test_plot_draws_on_the_current_axes_with_both_line_sets(sleep_slopes_fit, sleepstudy_data):
    _, (_, current) = plt.subplots(1, 2)  # the current Axes is the last one made
    ax = plot_many_regressions(sleep_slopes_fit, sleepstudy_data)
    assert ax is current and plt.gca() is current
    mixed, separate = _lines(ax, MIXED), _lines(ax, SEPARATE)
    assert len(mixed) == len(separate) == 18 and len(_lines(ax, POPULATION)) == 1
    coef = many_regressions_coef(sleep_slopes_fit, sleepstudy_data)
    for line, (_, row) in zip(mixed, coef[coef["source"] == MIXED].iterrows()):
        np.testing.assert_array_equal(line.get_xdata(), [0, 9])
        np.testing.assert_allclose(line.get_ydata(),
                                   row["intercept"] + row["slope"] * np.array([0, 9]))
    assert all(line.get_linestyle() == "--" for line in separate)
    assert all(line.get_linestyle() == "-" for line in mixed)
    assert mixed[0].get_color() == separate[0].get_color() != mixed[1].get_color()
    spread = coef.groupby("source")["slope"].std()
    assert f"separate regressions {spread[SEPARATE]:.3g}, mixed model {spread[MIXED]:.3g}" in \
        ax.get_title()
    assert ax.get_xlabel() == "Days" and ax.get_ylabel() == "Reaction"


def test_plot_passes_kwargs_and_chooses_groups(sleep_slopes_fit, sleepstudy_data):
    _, ax = plt.subplots()
    out = plot_many_regressions(sleep_slopes_fit, sleepstudy_data, groups=["337", 309], ax=ax,
                                color="purple", linewidth=4.5)
    assert out is ax
    group_lines = _lines(ax, MIXED) + _lines(ax, SEPARATE)
    assert len(group_lines) == 4
    assert all(line.get_color() == "purple" and line.get_linewidth() == 4.5 for line in group_lines)
    (population,) = _lines(ax, POPULATION)
    assert population.get_color() == "black"  # kwargs style the groups' lines only
    coef = many_regressions_coef(sleep_slopes_fit, sleepstudy_data).set_index(["source", "group"])
    first = _lines(ax, MIXED)[0]  # in the order asked for
    assert first.get_ydata()[0] == coef.loc[(MIXED, "337"), "intercept"]
    with pytest.raises(ValueError, match=r"unknown Subject id\(s\) \['999'\]"):
        plot_many_regressions(sleep_slopes_fit, sleepstudy_data, groups=999, ax=ax)
    with pytest.raises(ValueError, match="groups is empty"):
        plot_many_regressions(sleep_slopes_fit, sleepstudy_data, groups=[], ax=ax)
    part = sleepstudy_data[sleepstudy_data["Subject"].astype(str) == "308"]
    with pytest.raises(ValueError, match=r"no complete rows for Subject \['309'\]"):
        plot_many_regressions(sleep_slopes_fit, part, groups=309, ax=ax)


# ----- figure-level ----------------------------------------------------------------
def test_figure_has_one_panel_per_group(sleep_slopes_fit, sleepstudy_data):
    before = len(plt.get_fignums())
    fig = many_regressions_figure(sleep_slopes_fit, sleepstudy_data, col_wrap=4)
    assert isinstance(fig, Figure) and len(plt.get_fignums()) == before + 1
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(fig.axes) == 20 and len(visible) == 18  # 5 rows of 4, the last two hidden
    assert [ax.get_title() for ax in visible] == _subjects(sleepstudy_data)
    coef = many_regressions_coef(sleep_slopes_fit, sleepstudy_data).set_index(["source", "group"])
    for ax in visible:
        (mixed,), (separate,) = _lines(ax, MIXED), _lines(ax, SEPARATE)
        for line, source in [(mixed, MIXED), (separate, SEPARATE)]:
            row = coef.loc[(source, ax.get_title())]
            np.testing.assert_allclose(line.get_ydata(),
                                       row["intercept"] + row["slope"] * line.get_xdata())
        (points,) = [c for c in ax.collections if c.get_gid() == "observed"]
        rows = sleepstudy_data[sleepstudy_data["Subject"].astype(str) == ax.get_title()]
        np.testing.assert_array_equal(points.get_offsets()[:, 1], rows["Reaction"])
    assert visible[0].get_shared_y_axes().joined(visible[0], visible[-1])
    assert [ax.get_xlabel() for ax in visible].count("Days") == 4  # the bottom of each column
    assert len(fig.legends) == 1


def test_figure_draws_into_a_given_figure_and_passes_kwargs(sim_slopes_fit, sim_slopes1234_data):
    fig = Figure()
    out = many_regressions_figure(sim_slopes_fit, sim_slopes1234_data, groups=["3", "1", "2"],
                                  points=False, fig=fig, color="red", linewidth=3)
    assert out is fig and [ax.get_title() for ax in fig.axes] == ["3", "1", "2"]
    assert all(not ax.collections for ax in fig.axes)
    for ax in fig.axes:
        for line in _lines(ax, MIXED) + _lines(ax, SEPARATE):
            assert line.get_color() == "red" and line.get_linewidth() == 3


def test_figure_bad_input(sim_slopes_fit, sim_slopes1234_data, sleep_slopes_fit, sleepstudy_data):
    with pytest.raises(ValueError, match=f"50 groups of 'groups', too many for one panel "
                                         f"each \\(at most {MAX_PANELS}\\); choose some"):
        many_regressions_figure(sim_slopes_fit, sim_slopes1234_data)
    with pytest.raises(ValueError, match="col_wrap must be a positive int"):
        many_regressions_figure(sleep_slopes_fit, sleepstudy_data, col_wrap=0)
    with pytest.raises(TypeError, match="fig must be a matplotlib Figure"):
        many_regressions_figure(sleep_slopes_fit, sleepstudy_data, fig=plt.gca())
    with pytest.raises(TypeError, match="points must be True or False"):
        many_regressions_figure(sleep_slopes_fit, sleepstudy_data, points="yes")
