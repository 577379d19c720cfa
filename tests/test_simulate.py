"""Tests for simlab.simulate: the random-intercept data-generating process."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simlab.simulate import simulate

REFERENCE = Path(__file__).parent / "reference"


def _residual(df: pd.DataFrame, intercept: float = 2.0, slope: float = 0.5) -> pd.Series:
    """Return u[group] + e, the part of y the random effects contribute."""
    return df["y"] - intercept - slope * df["x"]


# --- R compatibility -------------------------------------------------------------

def test_r_stream_reproduces_seed_exercise():
    ref = pd.read_csv(REFERENCE / "sim1234.csv")
    df = simulate(100, 3, 0.5, 0.25, seed=1234, stream="R")
    assert len(df) == len(ref) == 300
    np.testing.assert_array_equal(df["group"].to_numpy(), ref["groups"].astype(int).to_numpy())
    np.testing.assert_allclose(df["x"], ref["x"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(df["y"], ref["y"], rtol=0, atol=1e-12)


def test_r_stream_reproduces_the_random_slopes_chapter():
    """set.seed(1234); re_int, re_slope, e, x drawn in that order (shared/reference/slopes.R)."""
    ref = pd.read_csv(REFERENCE / "sim_slopes1234.csv")
    df = simulate(50, 3, tau=0.75, sigma=0.25, tau_slope=0.25, intercept=2, slope=0.5,
                  seed=1234, stream="R")
    assert list(df.columns) == ["group", "x", "y"] and len(df) == len(ref) == 150
    np.testing.assert_array_equal(df["group"].to_numpy(), ref["groups"].astype(int).to_numpy())
    np.testing.assert_allclose(df["x"], ref["x"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(df["y"], ref["y"], rtol=0, atol=1e-12)


def test_r_stream_correlated_slopes_follow_the_recipe():
    """u1 = tau_slope * (rho * u0 / tau + sqrt(1 - rho^2) * w), w R's next standard normals."""
    from simlab.rng import RRandom

    r = RRandom(99)
    u0, v = r.rnorm(6, sd=0.7), r.rnorm(6, sd=0.3)
    e, x = r.rnorm(12, sd=0.2), r.rnorm(12)
    u1 = 0.3 * (-0.4 * u0 / 0.7) + np.sqrt(1 - 0.16) * v
    df = simulate(6, 2, 0.7, 0.2, tau_slope=0.3, rho=-0.4, seed=99, stream="R")
    np.testing.assert_array_equal(df["x"], x)
    np.testing.assert_allclose(df["y"], 2.0 + np.repeat(u0, 2) + (0.5 + np.repeat(u1, 2)) * x + e,
                               rtol=0, atol=1e-14)


def test_r_stream_zero_slope_sd_draws_nothing_as_r_does():
    plain = simulate(8, 3, 0.5, 0.25, seed=5, stream="R")
    flat = simulate(8, 3, 0.5, 0.25, tau_slope=0.0, rho=0.5, seed=5, stream="R")
    np.testing.assert_array_equal(flat["x"], plain["x"])
    np.testing.assert_allclose(flat["y"], plain["y"], rtol=0, atol=1e-14)


def test_r_stream_name_is_case_insensitive():
    pd.testing.assert_frame_equal(
        simulate(10, 2, 0.5, 0.25, seed=1, stream="r"), simulate(10, 2, 0.5, 0.25, seed=1, stream="R")
    )


def test_r_stream_accepts_unbalanced_sizes():
    sizes = [1, 4, 2]
    df = simulate(3, sizes, 0.5, 0.25, seed=1234, stream="R")
    assert df.groupby("group").size().tolist() == sizes


# --- structure -------------------------------------------------------------------

def test_columns_and_dtypes():
    df = simulate(5, 4, 0.5, 0.25, seed=1)
    assert list(df.columns) == ["group", "x", "y"]
    assert df["group"].dtype == np.int64
    assert df["x"].dtype == np.float64 and df["y"].dtype == np.float64
    assert df["group"].tolist() == list(np.repeat(np.arange(1, 6), 4))


def test_balanced_design_like_r_rep_each():
    df = simulate(4, 3, 0.5, 0.25, seed=2)
    assert df["group"].tolist() == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]


@pytest.mark.parametrize("sizes", [[3, 1, 5], np.array([2, 2, 7]), pd.Series([1, 1, 1])])
def test_unbalanced_sizes_respected(sizes):
    df = simulate(3, sizes, 0.5, 0.25, seed=3)
    assert df.groupby("group").size().tolist() == list(np.asarray(sizes))


def test_size_range_drawn_within_bounds():
    df = simulate(500, (2, 6), 0.5, 0.25, seed=4)
    sizes = df.groupby("group").size()
    assert len(sizes) == 500
    assert sizes.min() == 2 and sizes.max() == 6  # both ends inclusive


def test_size_range_drawn_first_from_same_generator():
    gen = np.random.default_rng(5)
    sizes = gen.integers(1, 4, size=10, endpoint=True)
    u = gen.normal(0.0, 0.5, 10)
    df = simulate(10, (1, 4), 0.5, 0.25, seed=5)
    assert df.groupby("group").size().tolist() == sizes.tolist()
    e = gen.normal(0.0, 0.25, sizes.sum())
    x = gen.normal(0.0, 1.0, sizes.sum())
    np.testing.assert_allclose(df["x"], x)
    np.testing.assert_allclose(df["y"], 2.0 + 0.5 * x + np.repeat(u, sizes) + e)


def test_numpy_draw_order_u_e_x():
    gen = np.random.default_rng(6)
    u, e, x = gen.normal(0, 0.5, 4), gen.normal(0, 0.25, 12), gen.normal(0, 1, 12)
    df = simulate(4, 3, 0.5, 0.25, seed=6)
    np.testing.assert_allclose(df["x"], x)
    np.testing.assert_allclose(df["y"], 2.0 + 0.5 * x + np.repeat(u, 3) + e)


@pytest.mark.parametrize("rho", [0.0, 0.6, -1.0, 1.0])
def test_numpy_draw_order_u0_slopes_e_x_z(rho):
    gen = np.random.default_rng(16)
    u0, v = gen.normal(0, 0.5, 4), gen.normal(0, 0.3, 4)
    e, x, z = gen.normal(0, 0.25, 12), gen.normal(0, 1, 12), gen.normal(0, 1, 4)
    u1 = 0.3 * (rho * u0 / 0.5) + np.sqrt(1 - rho ** 2) * v if rho else v
    df = simulate(4, 3, 0.5, 0.25, tau_slope=0.3, rho=rho, cluster_effect=0.2, seed=16)
    assert list(df.columns) == ["group", "x", "y", "z"]
    np.testing.assert_array_equal(df["x"], x)
    np.testing.assert_array_equal(df["z"], np.repeat(z, 3))
    expected = (2.0 + np.repeat(u0, 3)) + (0.5 + np.repeat(u1, 3)) * x + e + 0.2 * np.repeat(z, 3)
    np.testing.assert_allclose(df["y"], expected, rtol=0, atol=1e-14)


def test_without_tau_slope_every_draw_is_unchanged():
    """tau_slope=None (the default) draws exactly what simulate drew before random slopes."""
    gen = np.random.default_rng(17)
    sizes = gen.integers(2, 5, size=6, endpoint=True)
    u, e, x = gen.normal(0, 0.5, 6), gen.normal(0, 0.25, sizes.sum()), gen.normal(0, 1, sizes.sum())
    for df in (simulate(6, (2, 5), 0.5, 0.25, seed=17),
               simulate(6, (2, 5), 0.5, 0.25, tau_slope=None, rho=0.0, seed=17)):
        np.testing.assert_array_equal(df["x"], x)
        np.testing.assert_array_equal(df["y"], 2.0 + 0.5 * x + np.repeat(u, sizes) + e)


def _group_lines(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each group's intercept and slope from its two rows (exact when sigma = 0)."""
    x = df["x"].to_numpy().reshape(-1, 2)
    y = df["y"].to_numpy().reshape(-1, 2)
    slopes = (y[:, 1] - y[:, 0]) / (x[:, 1] - x[:, 0])
    return y[:, 0] - slopes * x[:, 0], slopes


@pytest.mark.parametrize("rho", [0.0, -0.6, 0.3])
def test_numpy_slopes_have_the_stated_sds_and_correlation(rho):
    """Moments of 40,000 groups' (u0, u1) within 4 Monte Carlo SEs of tau, tau_slope and rho."""
    n, tau, tau_slope = 40_000, 0.8, 0.5
    df = simulate(n, 2, tau, 0.0, tau_slope=tau_slope, rho=rho, intercept=1.0, slope=-2.0,
                  seed=2024)
    intercepts, slopes = _group_lines(df)
    u0, u1 = intercepts - 1.0, slopes + 2.0
    # se of an sd is about sd / sqrt(2 n); of a correlation (1 - rho^2) / sqrt(n).
    assert abs(u0.std(ddof=1) - tau) < 4 * tau / np.sqrt(2 * n)
    assert abs(u1.std(ddof=1) - tau_slope) < 4 * tau_slope / np.sqrt(2 * n)
    assert abs(np.corrcoef(u0, u1)[0, 1] - rho) < 4 * (1 - rho ** 2) / np.sqrt(n)
    assert abs(u0.mean()) < 4 * tau / np.sqrt(n) and abs(u1.mean()) < 4 * tau_slope / np.sqrt(n)


@pytest.mark.parametrize("rho", [-1, 1])
def test_perfect_correlation_is_allowed(rho):
    intercepts, slopes = _group_lines(simulate(50, 2, 0.8, 0.0, tau_slope=0.4, rho=rho, seed=3))
    np.testing.assert_allclose(slopes - 0.5, rho * 0.5 * (intercepts - 2.0), rtol=0, atol=1e-12)


def test_zero_tau_leaves_slopes_uncorrelated_with_their_sd():
    """tau = 0: no intercept variation to correlate with; u1 keeps its sd tau_slope."""
    gen = np.random.default_rng(18)
    gen.normal(0, 0.0, 5)
    v = gen.normal(0, 0.4, 5)
    intercepts, slopes = _group_lines(simulate(5, 2, 0.0, 0.0, tau_slope=0.4, rho=0.7, seed=18))
    np.testing.assert_allclose(slopes - 0.5, v, rtol=0, atol=1e-12)
    np.testing.assert_allclose(intercepts, 2.0, rtol=0, atol=1e-12)


def test_intercept_and_slope_used():
    base = simulate(5, 3, 0.5, 0.25, seed=7)
    moved = simulate(5, 3, 0.5, 0.25, seed=7, intercept=-1.0, slope=3.0)
    np.testing.assert_allclose(_residual(base), _residual(moved, -1.0, 3.0))


@pytest.mark.parametrize("stream", ["numpy", "R"])
def test_cluster_covariate(stream):
    plain = simulate(50, 4, 0.5, 0.25, seed=8, stream=stream)
    df = simulate(50, 4, 0.5, 0.25, seed=8, stream=stream, cluster_effect=0.7)
    assert list(df.columns) == ["group", "x", "y", "z"]
    assert (df.groupby("group")["z"].nunique() == 1).all()
    # z is drawn last, so the other draws stay as they were.
    np.testing.assert_array_equal(df["x"], plain["x"])
    np.testing.assert_allclose(df["y"], plain["y"] + 0.7 * df["z"])


def test_cluster_covariate_standard_normal():
    z = simulate(20_000, 1, 0.5, 0.25, seed=9, cluster_effect=1.0)["z"]
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1.0) < 0.03


# --- seeds -----------------------------------------------------------------------

@pytest.mark.parametrize("stream", ["numpy", "R"])
def test_same_seed_reproduces(stream):
    pd.testing.assert_frame_equal(
        simulate(20, 3, 0.5, 0.25, seed=11, stream=stream), simulate(20, 3, 0.5, 0.25, seed=11, stream=stream)
    )


@pytest.mark.parametrize("stream", ["numpy", "R"])
def test_different_seeds_differ(stream):
    a = simulate(20, 3, 0.5, 0.25, seed=11, stream=stream)
    b = simulate(20, 3, 0.5, 0.25, seed=12, stream=stream)
    assert not np.allclose(a["y"], b["y"])


def test_seed_sequence_and_generator_accepted():
    ss = np.random.SeedSequence([1, 2, 3])
    from_ss = simulate(10, 2, 0.5, 0.25, seed=ss)
    pd.testing.assert_frame_equal(from_ss, simulate(10, 2, 0.5, 0.25, seed=np.random.SeedSequence([1, 2, 3])))
    from_gen = simulate(10, 2, 0.5, 0.25, seed=np.random.default_rng(ss))
    pd.testing.assert_frame_equal(from_ss, from_gen)


def test_rng_is_a_generator_as_spec_7_says():
    """``rng=`` takes a numpy Generator (SPEC 7): the same draws as that Generator as seed."""
    from_rng = simulate(10, 2, 0.5, 0.25, rng=np.random.default_rng(1))
    pd.testing.assert_frame_equal(from_rng, simulate(10, 2, 0.5, 0.25, seed=1))
    pd.testing.assert_frame_equal(
        from_rng, simulate(10, 2, 0.5, 0.25, stream="numpy", rng=np.random.default_rng(1)))
    gen = np.random.default_rng(13)
    first, second = simulate(10, 2, 0.5, 0.25, rng=gen), simulate(10, 2, 0.5, 0.25, rng=gen)
    assert not np.allclose(first["y"], second["y"])


def test_readme_positional_call_still_works():
    pd.testing.assert_frame_equal(simulate(100, 3, .5, .25, seed=1234),
                                  simulate(100, 3, tau=.5, sigma=.25, seed=1234))


def test_generator_is_advanced_not_copied():
    gen = np.random.default_rng(13)
    first = simulate(10, 2, 0.5, 0.25, seed=gen)
    second = simulate(10, 2, 0.5, 0.25, seed=gen)
    assert not np.allclose(first["y"], second["y"])


def test_global_random_state_untouched():
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    simulate(10, 2, 0.5, 0.25)
    simulate(10, 2, 0.5, 0.25, seed=1, stream="R")
    np.testing.assert_array_equal(np.random.get_state()[1], before)


# --- variance parameters ---------------------------------------------------------

@pytest.mark.parametrize("stream", ["numpy", "R"])
def test_empirical_variances_match_tau_sigma(stream):
    tau, sigma, n = 0.8, 0.4, 5
    df = simulate(20_000, n, tau, sigma, seed=2024, stream=stream)
    r = _residual(df)
    within = (r - r.groupby(df["group"]).transform("mean")).pow(2).sum() / (len(df) - 20_000)
    between = r.groupby(df["group"]).mean().var()  # tau^2 + sigma^2 / n
    assert within == pytest.approx(sigma**2, rel=0.02)
    assert between - within / n == pytest.approx(tau**2, rel=0.03)


def test_icc_parameterisation_gives_tau_sigma():
    via_icc = simulate(30, 4, icc=0.2, total_var=2.0, seed=14)
    via_sd = simulate(30, 4, np.sqrt(0.4), np.sqrt(1.6), seed=14)
    pd.testing.assert_frame_equal(via_icc, via_sd)


def test_icc_zero_means_no_group_effect():
    df = simulate(10, 3, icc=0.0, total_var=1.0, seed=15, stream="R")
    ref = simulate(10, 3, 0.0, 1.0, seed=15, stream="R")
    pd.testing.assert_frame_equal(df, ref)


def test_zero_tau_allowed():
    df = simulate(5, 2, 0.0, 1.0, seed=16)
    assert len(df) == 10


# --- bad input ---------------------------------------------------------------------

GOOD = {"n_groups": 10, "n_per_group": 3, "tau": 0.5, "sigma": 0.25}


def _call(**changes):
    kwargs = {**GOOD, **changes}
    return simulate(kwargs.pop("n_groups"), kwargs.pop("n_per_group"), **kwargs)


@pytest.mark.parametrize(
    "changes, error, message",
    [
        ({"n_groups": 1}, ValueError, "at least 2"),
        ({"n_groups": 0}, ValueError, "at least 2"),
        ({"n_groups": 10.0}, TypeError, "n_groups must be an int"),
        ({"n_groups": "10"}, TypeError, "n_groups must be an int"),
        ({"n_groups": True}, TypeError, "n_groups must be an int"),
        ({"n_per_group": 0}, ValueError, "at least 1"),
        ({"n_per_group": 3.0}, TypeError, "n_per_group must be an int"),
        ({"n_per_group": [3, 3]}, ValueError, "one size per group"),
        ({"n_per_group": np.ones((10, 2), dtype=int)}, ValueError, "one size per group"),
        ({"n_per_group": [3] * 9 + [0]}, ValueError, "at least 1 observation"),
        ({"n_per_group": [3.5] * 10}, TypeError, "must be ints"),
        ({"n_per_group": (0, 3)}, ValueError, r"1 <= min <= max"),
        ({"n_per_group": (5, 3)}, ValueError, r"1 <= min <= max"),
        ({"n_per_group": (1, 2, 3)}, ValueError, r"\(min, max\) range"),
        ({"n_per_group": (1.0, 3.0)}, ValueError, r"\(min, max\) range"),
        ({"tau": -0.1}, ValueError, "tau must be >= 0"),
        ({"sigma": -0.1}, ValueError, "sigma must be >= 0"),
        ({"sigma": np.inf}, ValueError, "sigma must be finite"),
        ({"tau": "0.5"}, TypeError, "tau must be a real number"),
        ({"tau": None}, ValueError, "missing or incomplete"),
        ({"tau": None, "sigma": None}, ValueError, "missing or incomplete"),
        ({"tau": None, "sigma": None, "icc": 0.2}, ValueError, "missing or incomplete"),
        ({"icc": 0.2, "total_var": 1.0}, ValueError, "Both parameterisations"),
        ({"sigma": None, "icc": 0.2}, ValueError, "Both parameterisations"),
        ({"tau": None, "sigma": None, "icc": 1.0, "total_var": 1.0}, ValueError, r"\[0, 1\)"),
        ({"tau": None, "sigma": None, "icc": -0.1, "total_var": 1.0}, ValueError, "icc must be >= 0"),
        ({"tau": None, "sigma": None, "icc": 0.2, "total_var": 0.0}, ValueError, "total_var must be > 0"),
        ({"tau": None, "sigma": None, "icc": 0.2, "total_var": -1.0}, ValueError, "total_var must be > 0"),
        ({"stream": "stata"}, ValueError, "stream must be 'numpy' or 'R'"),
        ({"stream": None}, ValueError, "stream must be 'numpy' or 'R'"),
        ({"stream": "R", "seed": None}, TypeError, "stream='R' needs an int seed"),
        ({"stream": "R", "seed": 1.5}, TypeError, "stream='R' needs an int seed"),
        ({"stream": "R", "seed": np.random.default_rng(1)}, TypeError, "stream='R' needs an int seed"),
        ({"stream": "R", "seed": 2**31}, ValueError, "outside R's integer range"),
        ({"stream": "R", "seed": 1, "n_per_group": (1, 3)}, ValueError,
         r"stream='R' cannot draw group sizes"),
        ({"rng": np.random.default_rng(1), "seed": 1}, ValueError, "give seed= or rng=, not both"),
        ({"rng": np.random.default_rng(1), "stream": "R"}, ValueError,
         r"stream='R' replays R's set.seed\(seed\) and needs an int seed="),
        ({"rng": 1}, TypeError, r"rng must be a numpy.random.Generator such as "
                                r"numpy.random.default_rng\(1\), got 1 \(int\); pass an int seed as seed="),
        ({"rng": "R"}, TypeError, r"rng must be a numpy.random.Generator .* To choose R's stream, "
                                  r"pass stream='R' \(named rng before simlab 0.2\)"),
        ({"rng": np.random.SeedSequence(1)}, TypeError, "rng must be a numpy.random.Generator"),
        ({"seed": 1.5}, TypeError, "seed must be None, an int"),
        ({"seed": "abc"}, TypeError, "seed must be None, an int"),
        ({"seed": -1}, ValueError, "must be >= 0"),
        ({"intercept": np.nan}, ValueError, "intercept must be finite"),
        ({"slope": None}, TypeError, "slope must be a real number"),
        ({"cluster_effect": "big"}, TypeError, "cluster_effect must be a real number"),
        ({"tau_slope": -0.1}, ValueError, "tau_slope must be >= 0"),
        ({"tau_slope": np.inf}, ValueError, "tau_slope must be finite"),
        ({"tau_slope": np.nan}, ValueError, "tau_slope must be finite"),
        ({"tau_slope": "0.25"}, TypeError, "tau_slope must be a real number"),
        ({"tau_slope": True}, TypeError, "tau_slope must be a real number"),
        ({"tau_slope": 0.25, "rho": 1.5}, ValueError, r"rho must lie in \[-1, 1\]"),
        ({"tau_slope": 0.25, "rho": -1.01}, ValueError, r"rho must lie in \[-1, 1\]"),
        ({"tau_slope": 0.25, "rho": np.nan}, ValueError, "rho must be finite"),
        ({"tau_slope": 0.25, "rho": None}, TypeError, "rho must be a real number"),
        ({"rho": 0.5}, ValueError, "rho=0.5 was given without tau_slope.*give tau_slope"),
    ],
)
def test_bad_input_raises_clear_error(changes, error, message):
    with pytest.raises(error, match=message):
        _call(**changes)


def test_check_settings_resolves_without_drawing():
    from simlab.simulate import check_settings
    spec = check_settings(10, (2, 5), icc=0.2, total_var=2.0)
    assert spec.tau == pytest.approx(np.sqrt(0.4)) and spec.sigma == pytest.approx(np.sqrt(1.6))
    assert spec.sizes == (2, 5) and spec.largest_group == 5
    with pytest.raises(ValueError):
        check_settings(1, 3, 0.5, 0.25)


# --- any real number, sizes beyond int64, overflow (issue 10, items 9 and 10) -------------

def test_every_float_setting_takes_any_real_number():
    from fractions import Fraction

    as_fractions = simulate(20, 5, tau=Fraction(1, 2), sigma=np.float32(1),
                            intercept=Fraction(3, 2), slope=np.int64(-1),
                            cluster_effect=Fraction(1, 4), seed=1)
    as_floats = simulate(20, 5, tau=0.5, sigma=1.0, intercept=1.5, slope=-1.0, cluster_effect=0.25,
                         seed=1)
    pd.testing.assert_frame_equal(as_fractions, as_floats)
    pd.testing.assert_frame_equal(
        simulate(20, 5, icc=Fraction(1, 5), total_var=Fraction(2), seed=1),
        simulate(20, 5, icc=0.2, total_var=2.0, seed=1))
    pd.testing.assert_frame_equal(
        simulate(20, 5, 0.5, 1.0, tau_slope=Fraction(1, 4), rho=np.float32(-0.5), seed=1),
        simulate(20, 5, 0.5, 1.0, tau_slope=0.25, rho=-0.5, seed=1))


@pytest.mark.parametrize("name", ["tau", "sigma", "intercept", "slope", "cluster_effect",
                                  "tau_slope", "rho"])
def test_a_decimal_is_refused_with_the_fix(name):
    from decimal import Decimal

    with pytest.raises(TypeError, match=rf"{name} must be a real number \(int, float or Fraction\)"
                                        rf".*convert it with float\(\), e.g. {name}=float"):
        _call(**{name: Decimal("0.5")})


@pytest.mark.parametrize("n_groups, n_per_group", [
    (2, [2**62, 2**62]), (2, np.array([2**62, 2**62])), (2, np.array([2**63, 1], dtype=np.uint64)),
    (2, [2**64, 1]), (2, 2**64), (2**62, 4), (2**31, (1, 2**40)),
])
def test_too_many_rows_in_total_are_refused_before_numpy(n_groups, n_per_group):
    from simlab.simulate import check_settings

    with pytest.raises(ValueError, match=r"give (up to )?[\d,]+ rows in total, more than the "
                                         r"[\d,]+ rows a numpy array can hold; use fewer or "
                                         r"smaller groups"):
        check_settings(n_groups, n_per_group, 1.0, 1.0)


def test_sizes_of_python_ints_are_checked_as_ints():
    with pytest.raises(ValueError, match="at least 1 observation; n_per_group has -1"):
        simulate(2, [2**63, -1], 1.0, 1.0)
    pd.testing.assert_frame_equal(simulate(3, np.array([1, 2, 3], dtype=object), 1.0, 1.0, seed=1),
                                  simulate(3, [1, 2, 3], 1.0, 1.0, seed=1))


def test_settings_that_would_overflow_are_refused():
    for changes, name in [({"tau": 1e308}, "tau"), ({"sigma": 1e307}, "sigma"),
                          ({"intercept": -1.7e308, "slope": 1e306}, "intercept"),
                          ({"slope": 5e306}, "slope"), ({"cluster_effect": 1e307}, "cluster_effect"),
                          ({"tau_slope": 1e305}, "tau_slope"),
                          ({"tau_slope": 1e305, "rho": -1.0}, "tau_slope")]:
        with pytest.raises(ValueError, match=rf"{name}=\S+ is too large: the simulated y could "
                                             rf"exceed the largest float .* Use a smaller {name}"):
            _call(**changes)
    # Huge settings below the bound give finite data, in both streams.
    for stream in ("numpy", "R"):
        df = simulate(50, 4, tau=1e306, sigma=1e306, intercept=1e307, seed=1, stream=stream)
        assert np.isfinite(df["y"]).all()
        df = simulate(50, 4, tau=1e-300, sigma=1.0, tau_slope=1e303, rho=0.7, seed=1, stream=stream)
        assert np.isfinite(df["y"]).all()
    assert np.isfinite(simulate(50, 4, icc=0.5, total_var=1.7e308, seed=1)["y"]).all()
