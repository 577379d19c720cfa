"""merTools parity: ``re_sim`` (REsim) and ``predict_interval`` (predictInterval).

Monte Carlo checks compare against exact values with a tolerance of 4 Monte
Carlo standard errors; every draw is seeded, so the tests are deterministic.
Expected interval bounds come from the simulated distribution itself:
``y = x'beta + z'b + sigma e`` with ``beta``, ``b`` normal and independent
(variance ``v0``) and ``1 / sigma^2 ~ Gamma((n - p) / 2, rate = pwrss / 2)``,
so the bounds are quantiles of a scale mixture of normals, found by
integrating over the gamma distribution.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special, stats

import simlab
from simlab.model import posterior
from simlab.model.posterior import (conditional_covariance, penalized_rss, predict_interval,
                                    re_sim)

SLOPE = "Reaction ~ Days + (Days | Subject)"
#: sleepstudy rows of three subjects, at days 0, 5 and 9.
ROWS = [0, 55, 179]
N_ACCURATE = 20_000


@pytest.fixture(scope="module")
def slope_fit(sleepstudy_data):
    return simlab.lmer(SLOPE, sleepstudy_data, engine="statsmodels")


@pytest.fixture(scope="module")
def sleep_ml_fit(sleepstudy_data):
    return simlab.lmer("Reaction ~ Days + (1 | Subject)", sleepstudy_data, reml=False)


def mixture_quantiles(model, mean: float, v0: float, probabilities) -> np.ndarray:
    """Quantiles of ``mean + N(0, v0 + sigma^2)`` over merTools' distribution of sigma."""
    n, p = model.design.X.shape
    grid = (np.arange(4000) + 0.5) / 4000
    precision = stats.gamma.ppf(grid, a=(n - p) / 2, scale=2 / penalized_rss(model))
    sd = np.sqrt(v0 + 1 / precision)
    reach = 20 * sd.max()
    return np.array([optimize.brentq(lambda q: special.ndtr((q - mean) / sd).mean() - prob,
                                     mean - reach, mean + reach) for prob in probabilities])


def quantile_se(probability: float, sd: float, n: int) -> float:
    """Monte Carlo standard error of a sample quantile of N(., sd^2)."""
    z = special.ndtri(probability)
    return np.sqrt(probability * (1 - probability) / n) * sd / stats.norm.pdf(z)


def check_against_mixture(model, interval: pd.DataFrame, means, v0, level=0.8, n=N_ACCURATE):
    """Each row's fit, lower and upper lie within 4 MC SEs of their exact values."""
    probabilities = [0.5, (1 - level) / 2, (1 + level) / 2]
    for row, (mean, var) in enumerate(zip(means, v0)):
        expected = mixture_quantiles(model, mean, var, probabilities)
        sd = np.sqrt(var + model.sigma ** 2)
        tolerance = [4 * quantile_se(prob, sd, n) for prob in probabilities]
        np.testing.assert_array_less(np.abs(interval.iloc[row].to_numpy() - expected), tolerance)


def fixed_variance(model, X: np.ndarray) -> np.ndarray:
    """``x' vcov x`` of each row of ``X``."""
    return np.einsum("ri,ij,rj->r", X, model.estimates.vcov, X)


def known_group_variance(model, positions) -> np.ndarray:
    """``x' vcov x + condVar`` of the model's rows at ``positions`` (random intercept)."""
    condvar = model.estimates.mode_sd[model.design.groups[positions], 0] ** 2
    return fixed_variance(model, model.design.X[positions]) + condvar


# ----- re_sim ------------------------------------------------------------------

def test_re_sim_table_layout(gpa_fit):
    table = re_sim(gpa_fit, nsim=50, seed=1)
    assert list(table.columns) == ["group_var", "effect", "group", "mean", "median", "sd"]
    assert len(table) == gpa_fit.ngroups
    assert set(table["group_var"]) == {"student"} and set(table["effect"]) == {"(Intercept)"}
    assert list(table["group"]) == list(gpa_fit.design.levels.astype(str))
    assert isinstance(table.index, pd.RangeIndex)


@pytest.mark.parametrize("fit_name", ["sleep_fit", "sim_fit", "gpa_fit"])
def test_re_sim_matches_conditional_modes(fit_name, request):
    """mean, median ~ b-hat and sd ~ condVar sd, within 4 Monte Carlo SEs."""
    fit = request.getfixturevalue(fit_name)
    n = 4000
    table = re_sim(fit, nsim=n, seed=11)
    mode, sd = fit.estimates.modes[:, 0], fit.estimates.mode_sd[:, 0]
    assert np.all(np.abs(table["mean"] - mode) < 4 * sd / np.sqrt(n))
    assert np.all(np.abs(table["median"] - mode) < 4 * 1.2533 * sd / np.sqrt(n))
    assert np.all(np.abs(table["sd"] - sd) < 4 * sd / np.sqrt(2 * (n - 1)))


def test_re_sim_random_slopes_in_mertools_order(slope_fit):
    n = 4000
    table = re_sim(slope_fit, nsim=n, seed=5)
    n_groups = slope_fit.ngroups
    # merTools lists every level for the first term, then for the next.
    assert list(table["effect"]) == ["(Intercept)"] * n_groups + ["Days"] * n_groups
    assert list(table["group"]) == list(slope_fit.design.levels.astype(str)) * 2
    mode = slope_fit.estimates.modes.T.ravel()
    sd = slope_fit.estimates.mode_sd.T.ravel()
    assert np.all(np.abs(table["mean"] - mode) < 4 * sd / np.sqrt(n))
    assert np.all(np.abs(table["sd"] - sd) < 4 * sd / np.sqrt(2 * (n - 1)))


def test_re_sim_reproducible(sleep_fit):
    first, again = re_sim(sleep_fit, nsim=100, seed=7), re_sim(sleep_fit, nsim=100, seed=7)
    pd.testing.assert_frame_equal(first, again)
    other = re_sim(sleep_fit, nsim=100, seed=8)
    assert not np.allclose(first["mean"], other["mean"])
    from_generator = re_sim(sleep_fit, nsim=100, seed=np.random.default_rng(7))
    pd.testing.assert_frame_equal(first, from_generator)
    assert len(re_sim(sleep_fit, nsim=100)) == sleep_fit.ngroups  # seed=None works


def test_re_sim_blocks_do_not_change_the_distribution(gpa_fit, monkeypatch):
    """Many groups are simulated in blocks; the block edges must not shift groups."""
    monkeypatch.setattr(posterior, "BLOCK_ELEMENTS", 3000)  # 3 groups per block at n=1000
    table = re_sim(gpa_fit, nsim=1000, seed=2)
    mode, sd = gpa_fit.estimates.modes[:, 0], gpa_fit.estimates.mode_sd[:, 0]
    assert np.all(np.abs(table["mean"] - mode) < 4 * sd / np.sqrt(1000))


# ----- the pieces of the posterior ---------------------------------------------

@pytest.mark.parametrize("fit_name", ["sleep_fit", "sleep_ml_fit", "gpa_fit"])
def test_penalized_rss_is_lme4_pwrss(fit_name, request):
    """pwrss = |y - X beta - Z b|^2 + |b / theta|^2 (lme4's definition, u = b / theta)."""
    fit = request.getfixturevalue(fit_name)
    b = fit.estimates.modes[:, 0]
    direct = fit.residuals @ fit.residuals + b @ b / fit.theta[0] ** 2
    assert penalized_rss(fit) == pytest.approx(direct, rel=1e-10)
    n, p = fit.design.X.shape
    assert penalized_rss(fit) / (n - p if fit.reml else n) == pytest.approx(fit.sigma ** 2)


def test_conditional_covariance_matches_condvar(slope_fit, sleep_fit):
    covariance = conditional_covariance(slope_fit)
    assert covariance.shape == (slope_fit.ngroups, 2, 2)
    np.testing.assert_allclose(np.sqrt(np.diagonal(covariance, axis1=1, axis2=2)),
                               slope_fit.estimates.mode_sd, rtol=1e-8)
    np.testing.assert_allclose(covariance, np.swapaxes(covariance, 1, 2))
    assert np.all(covariance[:, 0, 1] < 0)  # intercept and slope trade off within a subject
    np.testing.assert_allclose(conditional_covariance(sleep_fit)[:, 0, 0],
                               sleep_fit.estimates.mode_sd[:, 0] ** 2)


# ----- predict_interval ----------------------------------------------------------

def test_predict_interval_layout(sleep_fit, sleepstudy_data):
    interval = predict_interval(sleep_fit, nsim=200, seed=1)
    assert list(interval.columns) == ["fit", "lower", "upper"]
    assert len(interval) == sleep_fit.nobs
    pd.testing.assert_index_equal(interval.index, sleep_fit.design.row_index)
    assert np.all(interval["lower"] < interval["fit"]) and np.all(interval["fit"] < interval["upper"])
    newdata = sleepstudy_data.iloc[ROWS].set_index(pd.Index(["a", "b", "c"]))
    assert list(predict_interval(sleep_fit, newdata, nsim=50, seed=1).index) == ["a", "b", "c"]


def test_default_newdata_is_the_model_data(sleep_fit, sleepstudy_data):
    pd.testing.assert_frame_equal(predict_interval(sleep_fit, nsim=300, seed=4),
                                  predict_interval(sleep_fit, sleepstudy_data, nsim=300, seed=4))


def test_fit_is_the_prediction(sleep_fit):
    """The median of the draws is x'beta + b-hat, within 4 MC SEs, on every row."""
    n = 4000
    interval = predict_interval(sleep_fit, nsim=n, seed=3)
    var = known_group_variance(sleep_fit, slice(None)) + sleep_fit.sigma ** 2
    assert np.all(np.abs(interval["fit"] - sleep_fit.predict()) < 4 * 1.2533 * np.sqrt(var / n))


def test_interval_matches_the_exact_distribution(sleep_fit, sleepstudy_data):
    newdata = sleepstudy_data.iloc[ROWS]
    interval = predict_interval(sleep_fit, newdata, level=0.8, nsim=N_ACCURATE, seed=21)
    v0 = known_group_variance(sleep_fit, ROWS)
    check_against_mixture(sleep_fit, interval, sleep_fit.predict(newdata), v0)
    # With df = 178 the sigma mixture barely matters: the normal width 2 z sd is close.
    analytic = 2 * special.ndtri(0.9) * np.sqrt(v0 + sleep_fit.sigma ** 2)
    np.testing.assert_allclose(interval["upper"] - interval["lower"], analytic, rtol=0.03)


def test_other_level(sim_fit, sim1234_data):
    rows = sim1234_data.iloc[:3]
    interval = predict_interval(sim_fit, rows, level=0.95, nsim=N_ACCURATE, seed=9)
    v0 = known_group_variance(sim_fit, [0, 1, 2])
    check_against_mixture(sim_fit, interval, sim_fit.predict(rows), v0, level=0.95)


def test_without_random_effect_is_the_population_interval(sleep_fit, sleepstudy_data):
    """random_effects=False (merTools which="fixed") drops b: centred on x'beta, no condVar.

    The interval is therefore narrower than the group's, by the condVar term.
    """
    newdata = sleepstudy_data.iloc[ROWS].drop(columns="Subject")
    interval = predict_interval(sleep_fit, newdata, level=0.8, nsim=N_ACCURATE, seed=22,
                                random_effects=False)
    check_against_mixture(sleep_fit, interval, sleep_fit.predict(newdata, random_effects=False),
                          fixed_variance(sleep_fit, sleep_fit.design.X[ROWS]))
    with_group = predict_interval(sleep_fit, sleepstudy_data.iloc[ROWS], level=0.8,
                                  nsim=N_ACCURATE, seed=22)
    assert np.all(interval["upper"] - interval["lower"] < with_group["upper"] - with_group["lower"])


def test_new_levels_are_drawn_from_the_population(sleep_fit, sleepstudy_data):
    """A group not in the model gets b ~ N(0, tau^2): centred on x'beta, wider than a known one."""
    known = sleepstudy_data.iloc[ROWS]
    new = known.assign(Subject=[9001, 9002, 9002])
    interval = predict_interval(sleep_fit, new, level=0.8, nsim=N_ACCURATE, seed=23,
                                allow_new_levels=True)
    v0 = fixed_variance(sleep_fit, sleep_fit.design.X[ROWS]) + sleep_fit.tau ** 2
    check_against_mixture(sleep_fit, interval, sleep_fit.predict(known, random_effects=False), v0)
    with_group = predict_interval(sleep_fit, known, level=0.8, nsim=N_ACCURATE, seed=23)
    assert np.all(interval["upper"] - interval["lower"] > with_group["upper"] - with_group["lower"])


def test_known_and_new_levels_mixed(sleep_fit, sleepstudy_data):
    known = sleepstudy_data.iloc[ROWS]
    newdata = pd.concat([known, known.assign(Subject="new")])
    interval = predict_interval(sleep_fit, newdata, nsim=2000, seed=6, allow_new_levels=True)
    width = (interval["upper"] - interval["lower"]).to_numpy()
    assert np.all(width[3:] > width[:3])
    sd = np.sqrt(known_group_variance(sleep_fit, ROWS) + sleep_fit.sigma ** 2)
    assert np.all(np.abs(interval["fit"].to_numpy()[:3] - sleep_fit.predict(known))
                  < 4 * 1.2533 * sd / np.sqrt(2000))


def test_random_slopes_use_the_joint_condvar(slope_fit, sleepstudy_data):
    newdata = sleepstudy_data.iloc[ROWS]
    interval = predict_interval(slope_fit, newdata, level=0.8, nsim=N_ACCURATE, seed=24)
    Z, groups = slope_fit.design.Z[ROWS], slope_fit.design.groups[ROWS]
    covariance = conditional_covariance(slope_fit)[groups]
    v0 = (fixed_variance(slope_fit, slope_fit.design.X[ROWS])
          + np.einsum("ri,rij,rj->r", Z, covariance, Z))
    check_against_mixture(slope_fit, interval, slope_fit.predict(newdata), v0)


def test_small_sample_sigma_draws_fatten_the_tails():
    """With df = n - p = 7 the scaled inverse chi-square sigma visibly widens a 95% interval."""
    data = simlab.simulate(3, 3, 0.5, 1.0, seed=4)
    fit = simlab.lmer("y ~ x + (1 | group)", data)
    rows = data.iloc[:2]
    interval = predict_interval(fit, rows, level=0.95, nsim=N_ACCURATE, seed=25)
    v0 = known_group_variance(fit, [0, 1])
    check_against_mixture(fit, interval, fit.predict(rows), v0, level=0.95)
    normal = 2 * special.ndtri(0.975) * np.sqrt(v0 + fit.sigma ** 2)
    assert np.all(interval["upper"] - interval["lower"] > 1.1 * normal)


def test_singular_fit():
    """tau = 0: every b is 0 with condVar 0, also for a new level; a zero variance is fine."""
    data = simlab.simulate(3, 3, 0.5, 1.0, seed=0)
    with pytest.warns(simlab.SingularFitWarning):
        fit = simlab.lmer("y ~ x + (1 | group)", data)
    table = re_sim(fit, nsim=100, seed=1)
    assert np.all(table[["mean", "median", "sd"]].to_numpy() == 0)
    newdata = pd.concat([data.iloc[:2], data.iloc[:2].assign(group=99)])
    interval = predict_interval(fit, newdata, level=0.8, nsim=N_ACCURATE, seed=2,
                                allow_new_levels=True)
    width = (interval["upper"] - interval["lower"]).to_numpy()
    # A known and a new group have the same distribution when tau = 0 (4 MC SEs: 4%).
    np.testing.assert_allclose(width[:2], width[2:], rtol=0.04)
    check_against_mixture(fit, interval.iloc[:2], fit.predict(data.iloc[:2]),
                          fixed_variance(fit, fit.design.X[:2]))


def test_predict_interval_reproducible(sleep_fit):
    first = predict_interval(sleep_fit, nsim=100, seed=5)
    pd.testing.assert_frame_equal(first, predict_interval(sleep_fit, nsim=100, seed=5))
    pd.testing.assert_frame_equal(
        first, predict_interval(sleep_fit, nsim=100, seed=np.random.default_rng(5)))
    assert not np.allclose(first, predict_interval(sleep_fit, nsim=100, seed=6))


def test_row_blocks_do_not_change_the_distribution(sleep_fit, monkeypatch):
    monkeypatch.setattr(posterior, "BLOCK_ELEMENTS", 7 * 2000)  # blocks of 7 rows
    interval = predict_interval(sleep_fit, nsim=2000, seed=8)
    var = known_group_variance(sleep_fit, slice(None)) + sleep_fit.sigma ** 2
    assert np.all(np.abs(interval["fit"] - sleep_fit.predict()) < 4 * 1.2533 * np.sqrt(var / 2000))


# ----- coverage against the true model --------------------------------------------

TAU, SIGMA, INTERCEPT, SLOPE_X = 0.5, 1.0, 2.0, 0.5
N_DATASETS, N_GROUPS, N_PER_GROUP = 20, 30, 10


def _true_group_effects(seed: int) -> np.ndarray:
    """The u of ``simulate(..., seed)``: the same stream with sigma = 0 leaves y - 2 - 0.5 x = u."""
    noiseless = simlab.simulate(N_GROUPS, N_PER_GROUP, TAU, 0.0, seed=seed)
    u = noiseless["y"] - INTERCEPT - SLOPE_X * noiseless["x"]
    return u.groupby(noiseless["group"]).first().to_numpy()


def _coverage_of_one_dataset(seed: int, new_groups: bool) -> np.ndarray:
    """Whether each fresh observation from the true model falls in its 80% interval."""
    data = simlab.simulate(N_GROUPS, N_PER_GROUP, TAU, SIGMA, seed=seed)
    fit = simlab.lmer("y ~ x + (1 | group)", data)
    rng = np.random.default_rng([seed, 1])
    n = len(data)
    if new_groups:  # one observation in each of n groups the model has not seen
        group, effect = np.arange(1000, 1000 + n), rng.normal(0.0, TAU, n)
    else:
        group = data["group"].to_numpy()
        effect = _true_group_effects(seed)[group - 1]
    newdata = pd.DataFrame({"group": group, "x": rng.standard_normal(n)})
    y = INTERCEPT + SLOPE_X * newdata["x"] + effect + rng.normal(0.0, SIGMA, n)
    interval = predict_interval(fit, newdata, level=0.8, seed=seed, allow_new_levels=new_groups)
    return ((y >= interval["lower"]) & (y <= interval["upper"])).to_numpy()


@pytest.mark.parametrize("new_groups", [False, True], ids=["same-groups", "new-groups"])
def test_coverage_of_fresh_observations(new_groups):
    """80% intervals cover 80% of fresh observations, within 4 binomial MC SEs.

    20 data sets of 30 groups x 10 (the interval also has to absorb the
    estimation error of each fit), one fresh observation per row: 6000 in all.
    Setting a new group's effect to 0 (merTools) would cover about 75%.
    """
    inside = np.concatenate([_coverage_of_one_dataset(seed, new_groups)
                             for seed in range(N_DATASETS)])
    se = np.sqrt(0.8 * 0.2 / inside.size)
    assert abs(inside.mean() - 0.8) < 4 * se


# ----- bad input -----------------------------------------------------------------

@pytest.fixture(scope="module")
def ols_fit(sleepstudy_data):
    return simlab.lm("Reaction ~ Days", sleepstudy_data)


@pytest.mark.parametrize("function", [re_sim, predict_interval])
def test_model_without_random_effects(function, ols_fit):
    with pytest.raises(TypeError, match=r"needs a mixed model fitted with simlab.lmer.*LmResult "
                                        r"\(a model without random effects\)"):
        function(ols_fit)


@pytest.mark.parametrize("function", [re_sim, predict_interval])
def test_model_of_another_type(function, sleepstudy_data):
    with pytest.raises(TypeError, match="needs a mixed model fitted with simlab.lmer.*DataFrame"):
        function(sleepstudy_data)


@pytest.mark.parametrize("function", [re_sim, predict_interval])
@pytest.mark.parametrize("nsim, error", [(0, ValueError), (-5, ValueError), (10.0, TypeError),
                                           (True, TypeError), ("100", TypeError)])
def test_bad_nsim(function, nsim, error, sleep_fit):
    with pytest.raises(error, match="nsim must be"):
        function(sleep_fit, nsim=nsim)


@pytest.mark.parametrize("level, error", [(0, ValueError), (1, ValueError), (1.5, ValueError),
                                          (-0.2, ValueError), (float("nan"), ValueError),
                                          ("0.8", TypeError), (True, TypeError), (None, TypeError)])
def test_bad_level(level, error, sleep_fit):
    with pytest.raises(error, match="level must be .*between 0 and 1"):
        predict_interval(sleep_fit, level=level, nsim=10)


@pytest.mark.parametrize("function", [re_sim, predict_interval])
@pytest.mark.parametrize("seed, error", [(1.5, TypeError), ("1", TypeError), (-1, ValueError)])
def test_bad_seed(function, seed, error, sleep_fit):
    with pytest.raises(error, match="seed must be"):
        function(sleep_fit, nsim=10, seed=seed)


def test_seed_sequence_accepted(sleep_fit):
    assert len(re_sim(sleep_fit, nsim=10, seed=np.random.SeedSequence(3))) == sleep_fit.ngroups


@pytest.mark.parametrize("newdata", [np.ones((3, 2)), {"Days": [1, 2]}, [1, 2]])
def test_newdata_not_a_dataframe(newdata, sleep_fit):
    with pytest.raises(TypeError, match="newdata must be a pandas DataFrame"):
        predict_interval(sleep_fit, newdata, nsim=10)


def test_newdata_missing_fixed_column(sleep_fit, sleepstudy_data):
    with pytest.raises(ValueError, match=r"\['Days'\] not found in newdata"):
        predict_interval(sleep_fit, sleepstudy_data.drop(columns="Days"), nsim=10)


def test_newdata_missing_group_column(sleep_fit, sleepstudy_data):
    newdata = sleepstudy_data.drop(columns="Subject")
    with pytest.raises(ValueError, match="grouping column 'Subject'.*random_effects=False"):
        predict_interval(sleep_fit, newdata, nsim=10)
    population = predict_interval(sleep_fit, newdata, nsim=10, random_effects=False)
    assert len(population) == len(newdata)


def test_newdata_missing_group_value(sleep_fit, sleepstudy_data):
    newdata = sleepstudy_data.iloc[:3].astype({"Subject": float})
    newdata.iloc[1, newdata.columns.get_loc("Subject")] = np.nan
    with pytest.raises(ValueError, match="missing values in the grouping column 'Subject'"):
        predict_interval(sleep_fit, newdata, nsim=10)


def test_newdata_empty(sleep_fit, sleepstudy_data):
    with pytest.raises(ValueError, match="newdata has no rows"):
        predict_interval(sleep_fit, sleepstudy_data.iloc[:0], nsim=10)


@pytest.mark.parametrize("flag", ["random_effects", "allow_new_levels"])
def test_flags_not_bool(sleep_fit, flag):
    with pytest.raises(TypeError, match=f"{flag} must be True or False"):
        predict_interval(sleep_fit, nsim=10, **{flag: "no"})


def test_random_effects_takes_numpy_bools_like_predict(sleep_fit):
    """One bool check for every flag: numpy's bools count, strings do not."""
    frame = predict_interval(sleep_fit, nsim=10, random_effects=np.False_, seed=1)
    assert frame.shape == (180, 3)


def test_newdata_with_a_duplicated_group_column_is_named(sleep_fit, sleepstudy_data):
    newdata = pd.concat([sleepstudy_data.head(3), sleepstudy_data.head(3)[["Subject"]]], axis=1)
    with pytest.raises(ValueError, match=r"newdata has several columns named \['Subject'\]"):
        predict_interval(sleep_fit, newdata, nsim=10)


# ----- methods, new levels, one vocabulary ------------------------------------------

def test_methods_are_the_functions(sleep_fit, sleepstudy_data):
    pd.testing.assert_frame_equal(sleep_fit.re_sim(nsim=30, seed=2),
                                  re_sim(sleep_fit, nsim=30, seed=2))
    rows = sleepstudy_data.iloc[ROWS]
    pd.testing.assert_frame_equal(sleep_fit.predict_interval(rows, level=0.9, nsim=30, seed=2),
                                  predict_interval(sleep_fit, rows, level=0.9, nsim=30, seed=2))
    assert simlab.re_sim is re_sim and simlab.predict_interval is predict_interval


def test_re_sim_keys_are_the_ranef_keys(slope_fit):
    keys = ["group_var", "effect", "group"]
    simulated = slope_fit.re_sim(nsim=10, seed=1)[keys].sort_values(keys).reset_index(drop=True)
    ranef = slope_fit.ranef()[keys].sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(simulated, ranef)


def test_default_level_is_95_percent(sleep_fit):
    default = sleep_fit.predict_interval(nsim=50, seed=3)
    pd.testing.assert_frame_equal(default, sleep_fit.predict_interval(level=0.95, nsim=50, seed=3))


def test_new_levels_need_permission_as_in_predict(sleep_fit, sleepstudy_data):
    """Unseen groups raise, naming them and the switch, as ``predict`` does."""
    new = sleepstudy_data.iloc[ROWS].assign(Subject=[9001, 9002, 9002])
    for call in (sleep_fit.predict, sleep_fit.predict_interval):
        with pytest.raises(ValueError, match=r"levels not in the fitted model: \['9001', '9002'\]"
                                             r".*allow_new_levels=True"):
            call(new)
    assert len(sleep_fit.predict_interval(new, nsim=10, allow_new_levels=True)) == 3
    assert len(sleep_fit.predict_interval(new, nsim=10, random_effects=False)) == 3
