"""Per-student variants (simlab.grading.variants)."""
from __future__ import annotations

import json

import pytest

from simlab.grading import variants
from simlab.grading.variants import (STUDENT_ENV, SimVariant, sim_variant, student_id_from_metadata,
                                     student_seed)

TAUS = {0.3, 0.4, 0.5, 0.6, 0.7}
SIGMAS = {0.2, 0.25, 0.3, 0.35}


@pytest.fixture(autouse=True)
def no_student_env(monkeypatch):
    monkeypatch.delenv(STUDENT_ENV, raising=False)


# ---------------------------------------------------------------- student_seed

def test_env_variable_name():
    assert STUDENT_ENV == "SIMLAB_STUDENT_ID"


def test_seed_is_deterministic():
    assert student_seed("12345") == student_seed("12345")


def test_seed_is_pinned():
    # SHA-256 based, so it must not change between Python runs or versions
    import hashlib
    digest = hashlib.sha256(b"simlab:12345").digest()
    assert student_seed("12345") == 1 + int.from_bytes(digest[:8], "big") % (2 ** 31 - 2)


@pytest.mark.parametrize("student_id", ["1", "12345", "student@example.edu", "x" * 500, "é"])
def test_seed_in_range(student_id):
    seed = student_seed(student_id)
    assert isinstance(seed, int)
    assert 1 <= seed < 2 ** 31 - 1


def test_different_ids_give_different_seeds():
    seeds = {student_seed(str(i)) for i in range(200)}
    assert len(seeds) == 200


def test_seed_strips_whitespace():
    assert student_seed("  12345\n") == student_seed("12345")


@pytest.mark.parametrize("bad", ["", "   ", None, 12345, 1.5, b"123", ["1"]])
def test_seed_rejects_empty_or_non_string(bad):
    with pytest.raises(ValueError, match="non-empty string"):
        student_seed(bad)


# ---------------------------------------------------------------- sim_variant

def test_default_variant_is_the_tutorial():
    v = sim_variant()
    assert v == SimVariant()
    assert (v.seed, v.n_groups, v.n_per_group, v.tau, v.sigma, v.intercept, v.slope) == (
        1234, 100, 3, 0.5, 0.25, 2.0, 0.5)


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_env_variable_is_the_tutorial(monkeypatch, value):
    monkeypatch.setenv(STUDENT_ENV, value)
    assert sim_variant() == SimVariant()


def test_env_variable_selects_the_student_variant(monkeypatch):
    monkeypatch.setenv(STUDENT_ENV, "12345")
    v = sim_variant()
    assert v.seed == student_seed("12345")
    assert v.seed != 1234
    assert v.tau in TAUS and v.sigma in SIGMAS
    assert isinstance(v.tau, float) and isinstance(v.sigma, float)
    assert (v.n_groups, v.n_per_group, v.intercept, v.slope) == (100, 3, 2.0, 0.5)
    assert sim_variant() == v


def test_env_and_explicit_id_agree(monkeypatch):
    monkeypatch.setenv(STUDENT_ENV, "abc")
    assert sim_variant() == sim_variant("abc")


def test_explicit_id_overrides_env(monkeypatch):
    monkeypatch.setenv(STUDENT_ENV, "someone-else")
    assert sim_variant("12345").seed == student_seed("12345")
    assert sim_variant("12345") != sim_variant()


def test_variant_is_deterministic_across_calls():
    assert sim_variant("7") == sim_variant("7")
    assert sim_variant(" 7 ") == sim_variant("7")


def test_variants_spread_over_the_documented_sets():
    found = [sim_variant(str(i)) for i in range(300)]
    assert {v.tau for v in found} == TAUS
    assert {v.sigma for v in found} == SIGMAS
    assert len({v.seed for v in found}) == 300


def test_documented_sets_match_module():
    assert set(variants._TAUS) == TAUS
    assert set(variants._SIGMAS) == SIGMAS


def test_variant_is_frozen():
    with pytest.raises(AttributeError):
        SimVariant().seed = 1


# ---------------------------------------------------------------- Gradescope metadata

def write_metadata(tmp_path, data) -> str:
    path = tmp_path / "submission_metadata.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def test_metadata_id_preferred(tmp_path):
    path = write_metadata(tmp_path, {"id": 999, "users": [
        {"email": "s@example.edu", "id": 12345, "name": "Student"}]})
    assert student_id_from_metadata(path) == "12345"


def test_metadata_first_user(tmp_path):
    path = write_metadata(tmp_path, {"users": [{"id": "111"}, {"id": "222"}]})
    assert student_id_from_metadata(path) == "111"


@pytest.mark.parametrize("user", [{"email": "s@example.edu"},
                                  {"email": "s@example.edu", "id": None},
                                  {"email": "s@example.edu", "id": ""}])
def test_metadata_email_fallback(tmp_path, user):
    path = write_metadata(tmp_path, {"users": [user]})
    assert student_id_from_metadata(path) == "s@example.edu"


def test_metadata_id_stripped(tmp_path):
    path = write_metadata(tmp_path, {"users": [{"id": " 42 "}]})
    assert student_id_from_metadata(path) == "42"


def test_metadata_accepts_path_object(tmp_path):
    path = write_metadata(tmp_path, {"users": [{"id": 5}]})
    from pathlib import Path
    assert student_id_from_metadata(Path(path)) == "5"


def test_metadata_id_gives_a_usable_seed(tmp_path):
    path = write_metadata(tmp_path, {"users": [{"id": 12345}]})
    assert sim_variant(student_id_from_metadata(path)) == sim_variant("12345")


def test_missing_metadata_file(tmp_path):
    with pytest.raises(ValueError, match="cannot read a student id from .*nope.json"):
        student_id_from_metadata(tmp_path / "nope.json")


@pytest.mark.parametrize("data", ["{not json", "", "[]", "null", '{"users": "x"}',
                                  '{"users": [5]}'])
def test_unreadable_metadata(tmp_path, data):
    with pytest.raises(ValueError, match="cannot read a student id"):
        student_id_from_metadata(write_metadata(tmp_path, data))


def test_metadata_without_users(tmp_path):
    with pytest.raises(ValueError, match='"users"'):
        student_id_from_metadata(write_metadata(tmp_path, {"id": 1}))


def test_metadata_with_empty_users(tmp_path):
    with pytest.raises(ValueError, match="cannot read a student id"):
        student_id_from_metadata(write_metadata(tmp_path, {"users": []}))


@pytest.mark.parametrize("user", [{}, {"id": "", "email": ""}, {"id": None}, {"name": "x"},
                                  {"id": "   "}])
def test_metadata_user_without_id_or_email(tmp_path, user):
    with pytest.raises(ValueError, match="names no user id or e-mail"):
        student_id_from_metadata(write_metadata(tmp_path, {"users": [user]}))
