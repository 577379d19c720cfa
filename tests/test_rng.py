"""Tests for simlab.rng: R's set.seed / runif / rnorm (Mersenne-Twister, Inversion)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from simlab.rng import RRandom, _unif_from_raw

REFERENCE = json.loads((Path(__file__).parent / "reference" / "r_rng.json").read_text())
SEEDS = sorted(int(k) for k in REFERENCE if k != "note")
# R prints 15 significant digits, so a few units in the 15th digit is all the
# reference can resolve.
ATOL = 5e-15


def test_reference_has_seeds():
    assert len(SEEDS) >= 4


@pytest.mark.parametrize("seed", SEEDS)
def test_runif_matches_r(seed):
    np.testing.assert_allclose(
        RRandom(seed).runif(5), REFERENCE[str(seed)]["runif5"], rtol=0, atol=ATOL
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_rnorm_matches_r(seed):
    np.testing.assert_allclose(
        RRandom(seed).rnorm(5), REFERENCE[str(seed)]["rnorm5"], rtol=0, atol=ATOL
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_rnorm_sd_matches_r(seed):
    np.testing.assert_allclose(
        RRandom(seed).rnorm(7, sd=0.5), REFERENCE[str(seed)]["rnorm7_sd05"], rtol=0, atol=ATOL
    )


def test_stream_continues_across_calls():
    whole = RRandom(7)
    parts = RRandom(7)
    np.testing.assert_array_equal(
        np.concatenate([parts.runif(2), parts.runif(3)]), whole.runif(5)
    )
    np.testing.assert_array_equal(
        np.concatenate([parts.rnorm(4), parts.rnorm(1)]), whole.rnorm(5)
    )


def test_rnorm_uses_two_uniforms_per_draw():
    # Inversion consumes the stream two uniforms at a time, so a normal draw
    # leaves the stream where two runif draws would.
    a, b = RRandom(99), RRandom(99)
    a.rnorm(3)
    b.runif(6)
    np.testing.assert_array_equal(a.runif(4), b.runif(4))


def test_rnorm_mean_and_sd_scale():
    z = RRandom(5).rnorm(6)
    np.testing.assert_allclose(RRandom(5).rnorm(6, mean=3.0, sd=2.0), 3.0 + 2.0 * z)


def test_rnorm_sd_zero_returns_mean_without_drawing():
    # R's rnorm returns mu for sd == 0 without calling norm_rand.
    a, b = RRandom(3), RRandom(3)
    np.testing.assert_array_equal(a.rnorm(4, mean=1.5, sd=0.0), np.full(4, 1.5))
    np.testing.assert_array_equal(a.rnorm(5), b.rnorm(5))


def test_zero_length_draws():
    r = RRandom(1)
    assert r.runif(0).shape == (0,)
    assert r.rnorm(0).shape == (0,)


def test_fixup_keeps_uniforms_inside_unit_interval():
    u = _unif_from_raw(np.array([0, 1, 2**32 - 1], dtype=np.uint64))
    # R's fixup returns half of its i2_32m1 constant, written as this literal.
    assert u[0] == 0.5 * 2.328306437080797e-10
    assert u[1] == 2.0**-32
    assert 0.0 < u.min() and u.max() < 1.0


def test_runif_range():
    u = RRandom(11).runif(100_000)
    assert u.dtype == np.float64
    assert 0.0 < u.min() and u.max() < 1.0


def test_negative_seed_wraps_like_r():
    # R casts the seed to an unsigned 32-bit integer.
    np.testing.assert_array_equal(RRandom(-1).runif(3), RRandom(-1).runif(3))
    assert not np.array_equal(RRandom(-1).runif(3), RRandom(1).runif(3))


def test_numpy_integer_seed_accepted():
    np.testing.assert_array_equal(RRandom(np.int64(42)).runif(3), RRandom(42).runif(3))


def test_many_normals_are_standard():
    z = RRandom(1).rnorm(1_000_000)
    assert z.shape == (1_000_000,)
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1.0) < 0.01


@pytest.mark.parametrize("seed", [1.0, "1", None, True])
def test_non_int_seed_rejected(seed):
    with pytest.raises(TypeError, match="integer seed"):
        RRandom(seed)


@pytest.mark.parametrize("seed", [2**31, -(2**31), 2**40])
def test_seed_outside_r_integer_range_rejected(seed):
    with pytest.raises(ValueError, match="outside R's integer range"):
        RRandom(seed)


@pytest.mark.parametrize("n", [-1, 2.0, None])
def test_bad_count_rejected(n):
    with pytest.raises((TypeError, ValueError), match="non-negative int"):
        RRandom(1).runif(n)
    with pytest.raises((TypeError, ValueError), match="non-negative int"):
        RRandom(1).rnorm(n)


@pytest.mark.parametrize("kwargs", [{"sd": -1.0}, {"sd": np.inf}, {"sd": np.nan}, {"mean": np.nan}])
def test_bad_rnorm_parameters_rejected(kwargs):
    with pytest.raises(ValueError, match="finite sd >= 0"):
        RRandom(1).rnorm(3, **kwargs)
