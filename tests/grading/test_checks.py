"""Public checks files: what students get holds no solution and no hidden answer."""
from __future__ import annotations

import html
import json
import os
from pathlib import Path

import pytest

from simlab.grading.answers import decode
from simlab.grading.checks import (build_checks, checks_path, load_checks, run_checks,
                                   variant_tag, write_checks)
from simlab.grading.compare import compare
from simlab.grading.course import load_course, solution_text
from simlab.grading.grader import expected_answers
from simlab.grading.sandbox import Limits

LIMITS = Limits(timeout=300, cell_timeout=120)
COURSE = load_course()
DATA = os.environ.get("SIMLAB_DATA_DIR")


def _available(name: str) -> bool:
    needs_data = bool(COURSE.exercises[name].key.data_files)
    return not needs_data or bool(DATA and (Path(DATA) / "gpa.csv").is_file())


@pytest.fixture(scope="module")
def built():
    """The checks of every built-in exercise whose data are here (two ids for the variant)."""
    names = [n for n in COURSE.exercises if _available(n)]
    if not names and not os.environ.get("CI"):
        pytest.skip("no data")
    return {n: build_checks(COURSE.exercises[n], student_ids=["student8", "ada@uni.edu"],
                            limits=LIMITS) for n in names}


def _encoded_values(checks: dict):
    for variant in checks["variants"].values():
        yield from variant["answers"].values()
        for mistakes in variant["mistakes"].values():
            yield from (m["answer"] for m in mistakes)


def test_checks_hold_only_public_questions(built):
    for name, checks in built.items():
        key = COURSE.exercises[name].key
        public = [q.name for q in key.questions if not q.hidden]
        assert [q["name"] for q in checks["questions"]] == public
        assert checks["hidden"] == [q.name for q in key.questions if q.hidden]
        for variant in checks["variants"].values():
            assert list(variant["answers"]) == public


@pytest.mark.parametrize("name", list(COURSE.exercises))
def test_no_hidden_answer_is_in_the_checks_file(built, name):
    """Every value in the file, answers and mistakes alike, differs from every hidden answer
    (but for multiple choice, where a letter means nothing outside its own question)."""
    if name not in built:
        pytest.skip("data not available")
    key = COURSE.exercises[name].key
    hidden = [q for q in key.questions if q.hidden and not q.choices]
    for student_id in (None, "student8", "ada@uni.edu") if key.variants else (None,):
        run = expected_answers(key, COURSE.root, student_id, LIMITS)
        values = list(_encoded_values(built[name]))
        for question in hidden:
            leaked = [v for v in values if _matches(run.answers[question.name], v, question)]
            assert not leaked, (name, question.name)


def _matches(answer, value, question) -> bool:
    try:
        return compare(answer, value, rtol=question.rtol, atol=question.atol,
                       choices=question.choices).ok
    except Exception:  # noqa: BLE001 - incomparable kinds do not match
        return False


def test_a_mistake_that_would_reveal_a_hidden_answer_is_left_out(built):
    """gpa_basics' ranef question knows the 'coef instead of ranef' mistake, whose wrong
    answer is the hidden coef question's answer: it must not reach the student."""
    if "gpa_basics" not in built:
        pytest.skip("gpa.csv not available")
    hints = [m["hint"] for m in built["gpa_basics"]["variants"][""]["mistakes"]
             ["q6_ranef_first5"]]
    key = COURSE.exercises["gpa_basics"].key.question("q6_ranef_first5")
    assert len(key.mistakes) == 1 and hints == []


def test_the_file_holds_no_solution_code(built):
    for name, checks in built.items():
        text = json.dumps(checks)
        solution = solution_text(COURSE.exercises[name].source.read_text())
        code = [line.strip() for line in solution.splitlines()
                if line.strip().startswith("return ") and "..." not in line]
        assert code and not [line for line in code if line in text], name


def test_variants_are_stored_per_student_under_a_hash(built, tmp_path):
    checks = built["icc_simulation"]
    assert set(checks["variants"]) == {"", variant_tag("student8"), variant_tag("ada@uni.edu")}
    assert "student8" not in json.dumps(checks) and "ada@uni.edu" not in json.dumps(checks)
    path = write_checks(tmp_path / "icc_simulation.checks.json", checks)
    ours = load_checks(path, "student8").expected.answers["q3_icc"]
    default = load_checks(path, None).expected.answers["q3_icc"]
    assert ours != default


def test_loaded_checks_score_like_the_course(built, tmp_path):
    path = write_checks(tmp_path / "sleepstudy.checks.json", built["sleepstudy"])
    public = load_checks(path)
    assert public.key.name == "sleepstudy" and public.hidden == (
        "q3_icc", "q3_days_effect", "q3_days_meaning")
    solved = tmp_path / "sleepstudy.py"
    solved.write_text(solution_text(COURSE.exercises["sleepstudy"].source.read_text())
                      .replace('.fixef.loc["Days", "estimate"]', '.fixef.loc["Days", "nope"]'))
    report = run_checks(solved, public.key, public.expected, public.hidden, limits=LIMITS)
    assert report.passed and report.result.score == public.key.max_score
    assert list(report.hidden_errors) == ["q3_days_effect"]
    assert report.hidden_errors["q3_days_effect"] == "KeyError"
    # The report reads as simlab check's text, and shows as that text in a notebook.
    text = str(report)
    assert "hidden question q3_days_effect: your function fails (KeyError)" in text
    assert report._repr_html_() == f"<pre>{html.escape(text)}</pre>"


def test_a_stored_mistake_still_gives_its_hint(built, tmp_path):
    path = write_checks(tmp_path / "sleepstudy.checks.json", built["sleepstudy"])
    public = load_checks(path)
    wrong = tmp_path / "sleepstudy.py"
    wrong.write_text(solution_text(COURSE.exercises["sleepstudy"].source.read_text()).replace(
        "return q2_random_intercept_model().tau\n", "return q2_random_intercept_model().tau ** 2\n"))
    report = run_checks(wrong, public.key, public.expected, public.hidden, limits=LIMITS)
    feedback = {q.name: q.feedback for q in report.result.questions if not q.passed}
    assert list(feedback) == ["q3_subject_sd"] and "you gave the variance" in feedback[
        "q3_subject_sd"]


@pytest.mark.parametrize("content, message", [
    ("not json", "is not a simlab checks file"),
    ('{"format": "other/1"}', "is not a simlab checks file"),
    ('{"format": "simlab-checks/1", "questions": [{"name": "a"}]}', "is not a simlab checks"),
])
def test_a_broken_checks_file_gets_a_clear_error(tmp_path, content, message):
    path = tmp_path / "x.checks.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_checks(path)


def test_an_unknown_student_id_gets_a_clear_error(built, tmp_path):
    path = write_checks(tmp_path / "icc_simulation.checks.json", built["icc_simulation"])
    with pytest.raises(ValueError, match="no public checks for student id 'someone-else'"):
        load_checks(path, "someone-else")


def test_the_checks_file_sits_beside_the_exercise():
    assert checks_path("a/b/sleepstudy.py") == Path("a/b/sleepstudy.checks.json")
    assert checks_path("sleepstudy.ipynb") == Path("sleepstudy.checks.json")


def test_decoded_answers_are_plain_values(built):
    answer = built["sleepstudy"]["variants"][""]["answers"]["q3_subject_sd"]
    assert isinstance(decode(answer), float)
