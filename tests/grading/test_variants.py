"""Per-student variants (simlab.grading.variants)."""
from __future__ import annotations

import json
from itertools import product

import pytest

from simlab.grading import variants
from simlab.grading.variants import (STUDENT_ENV, SimVariant, read_roster, sim_variant,
                                     student_id_from_metadata, student_seed, variant_id,
                                     variant_table)

SIGMAS = {0.2, 0.25, 0.3}
RATIOS = {1.8, 2.0, 2.2}
TAUS = {round(r * s, 6) for r, s in product(RATIOS, SIGMAS)}


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
    assert {round(v.tau / v.sigma, 6) for v in found} == RATIOS
    assert len({v.seed for v in found}) == 300


def test_documented_sets_match_module():
    assert set(variants.SIGMAS) == SIGMAS
    assert set(variants.RATIOS) == RATIOS


def test_tau_is_always_clearly_larger_than_sigma():
    """tau = sigma made Q4's direction a coin toss for 4.7% of ids (e.g. student8)."""
    found = [sim_variant(f"student{i}") for i in range(1, 2001)]
    assert not TAUS & SIGMAS
    assert min(v.tau / v.sigma for v in found) == pytest.approx(1.8)
    assert max(v.tau / v.sigma for v in found) == pytest.approx(2.2)
    assert min(v.tau - v.sigma for v in found) == pytest.approx(0.16)
    assert sim_variant("student8").tau == 0.4 and sim_variant("student8").sigma == 0.2


def test_every_setting_is_drawn():
    found = {(v.tau, v.sigma) for v in map(sim_variant, map(str, range(2000)))}
    assert len(found) == len(RATIOS) * len(SIGMAS) == 9


def test_variant_is_frozen():
    with pytest.raises(AttributeError):
        SimVariant().seed = 1


# ---------------------------------------------------------------- the variant id

@pytest.mark.parametrize("record, expected", [
    ({"sid": "A123", "email": "s@example.edu", "id": 999}, "A123"),
    ({"SID": " 42 ", "Email": "s@example.edu"}, "42"),
    ({"sid": "", "email": "s@example.edu", "id": 999}, "s@example.edu"),
    ({"sid": None, "Email": " s@example.edu "}, "s@example.edu"),
    ({"sid": 12345}, "12345"),
    ({"id": 999, "name": "Student"}, None),
    ({"sid": "  ", "email": ""}, None),
])
def test_variant_id_is_the_sid_else_the_email(record, expected):
    assert variant_id(record) == expected


# ---------------------------------------------------------------- Gradescope metadata

def write_metadata(tmp_path, data) -> str:
    path = tmp_path / "submission_metadata.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def test_metadata_sid_preferred(tmp_path):
    """The roster's SID is what the student was told and typed into `simlab check`."""
    path = write_metadata(tmp_path, {"id": 999, "users": [
        {"email": "s@example.edu", "id": 12345, "name": "Student", "sid": "20231234"}]})
    assert student_id_from_metadata(path) == "20231234"


@pytest.mark.parametrize("user", [{"email": "s@example.edu", "id": 12345},
                                  {"email": "s@example.edu", "id": 12345, "sid": None},
                                  {"email": "s@example.edu", "id": 12345, "sid": ""},
                                  {"email": " s@example.edu", "sid": "  "}])
def test_metadata_email_when_the_roster_has_no_sid(tmp_path, user):
    """Gradescope's own user id is not the id: students never see it."""
    assert student_id_from_metadata(write_metadata(tmp_path, {"users": [user]})) == (
        "s@example.edu")


def test_metadata_gradescope_id_only_as_a_last_resort(tmp_path):
    assert student_id_from_metadata(write_metadata(tmp_path, {"users": [{"id": " 42 "}]})) == "42"


def test_metadata_first_user(tmp_path):
    path = write_metadata(tmp_path, {"users": [{"sid": "111"}, {"sid": "222"}]})
    assert student_id_from_metadata(path) == "111"


def test_metadata_accepts_path_object(tmp_path):
    from pathlib import Path
    path = write_metadata(tmp_path, {"users": [{"sid": 5}]})
    assert student_id_from_metadata(Path(path)) == "5"


def test_metadata_and_roster_give_the_same_variant(tmp_path):
    path = write_metadata(tmp_path, {"users": [{"sid": "", "email": "s@example.edu", "id": 7}]})
    roster = tmp_path / "roster.csv"
    roster.write_text("First Name,Last Name,SID,Email,Role\nS,T,,s@example.edu,Student\n")
    assert sim_variant(student_id_from_metadata(path)) == sim_variant(read_roster(roster)[0])
    assert sim_variant(student_id_from_metadata(path)) != sim_variant("7")


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


@pytest.mark.parametrize("user", [{}, {"id": "", "email": "", "sid": ""}, {"id": None},
                                  {"name": "x"}, {"id": "   "}])
def test_metadata_user_without_any_id(tmp_path, user):
    with pytest.raises(ValueError, match=r"names no student id \(sid\), e-mail or id"):
        student_id_from_metadata(write_metadata(tmp_path, {"users": [user]}))


# ---------------------------------------------------------------- rosters

GRADESCOPE_HEADER = "First Name,Last Name,SID,Email,Role\n"


def write_roster(tmp_path, text: str, name: str = "roster.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_gradescope_roster_gives_sid_else_email(tmp_path):
    path = write_roster(tmp_path, GRADESCOPE_HEADER + 'Ada,Lovelace,A001,ada@example.edu,Student\n'
                        '"Smith, Jr.",Bob,,bob@example.edu,Student\n'
                        'Cy,Li, 20231234 ,cy@example.edu,TA\n')
    assert read_roster(path) == ["A001", "bob@example.edu", "20231234"]


def test_roster_columns_in_any_case_with_a_bom(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes("\ufeffname,sid\nAda,1\nBob,2\n".encode())
    assert read_roster(path) == ["1", "2"]


def test_roster_with_only_an_email_column(tmp_path):
    path = write_roster(tmp_path, "Name,Email\nAda,ada@example.edu\n")
    assert read_roster(path) == ["ada@example.edu"]


def test_text_roster_one_id_per_line(tmp_path):
    path = write_roster(tmp_path, "A001\n\n  bob@example.edu  \n20231234\n\n", "ids.txt")
    assert read_roster(path) == ["A001", "bob@example.edu", "20231234"]


def test_a_csv_roster_under_another_name_is_read_as_csv(tmp_path):
    path = write_roster(tmp_path, GRADESCOPE_HEADER + "Ada,L,A001,ada@example.edu,Student\n",
                        "roster.txt")
    assert read_roster(path) == ["A001"]


def test_missing_roster(tmp_path):
    with pytest.raises(ValueError, match="roster file .*nope.csv' does not exist"):
        read_roster(tmp_path / "nope.csv")


@pytest.mark.parametrize("name, text", [("roster.csv", ""), ("roster.csv", GRADESCOPE_HEADER),
                                        ("ids.txt", ""), ("ids.txt", "\n  \n")])
def test_empty_roster(tmp_path, name, text):
    with pytest.raises(ValueError, match="lists no students"):
        read_roster(write_roster(tmp_path, text, name))


def test_roster_without_an_id_column_names_the_columns_found(tmp_path):
    path = write_roster(tmp_path, "First Name,Last Name,Student Number\nAda,L,1\n")
    with pytest.raises(ValueError, match=r"no SID or Email column; its columns are "
                                         r"\['First Name', 'Last Name', 'Student Number'\]"):
        read_roster(path)


def test_roster_row_without_sid_or_email(tmp_path):
    path = write_roster(tmp_path, GRADESCOPE_HEADER + "Ada,L,A001,ada@example.edu,Student\n"
                        "Bob,M,,,Student\nCy,N, , ,Student\n")
    with pytest.raises(ValueError, match=r"no SID or Email on line\(s\) \[3, 4\]"):
        read_roster(path)


@pytest.mark.parametrize("name, text, lines", [
    ("roster.csv", GRADESCOPE_HEADER + "Ada,L,A001,a@x.edu,Student\nAl,M,A002,b@x.edu,Student\n"
     "Ann,N,A001,c@x.edu,Student\n", r"\[2, 4\]"),
    ("ids.txt", "A001\nA002\n A001 \n", r"\[1, 3\]"),
])
def test_duplicate_ids_are_refused(tmp_path, name, text, lines):
    with pytest.raises(ValueError, match=rf"same id more than once: 'A001' \(lines {lines}\)"):
        read_roster(write_roster(tmp_path, text, name))


def test_variant_table_lists_each_student_settings():
    table = variant_table(["student8", " A001 "])
    assert list(table.columns) == ["id", "seed", "tau", "sigma", "n_groups", "n_per_group"]
    assert table["id"].tolist() == ["student8", "A001"]
    assert table["seed"].tolist() == [student_seed("student8"), student_seed("A001")]
    assert (table.loc[0, "tau"], table.loc[0, "sigma"]) == (0.4, 0.2)
    for row in table.itertuples():
        v = sim_variant(row.id)
        assert (row.tau, row.sigma, row.n_groups, row.n_per_group) == (v.tau, v.sigma, 100, 3)
