"""Rendering grade reports (simlab.grading.render), including Gradescope's results.json."""
from __future__ import annotations

import json
import os

import pytest

from simlab.grading.grader import ExerciseResult, GradeReport, QuestionResult
from simlab.grading.render import (FORMATS, as_dict, as_gradescope, as_text, exercise_text,
                                   render, write_atomic)

TOP_KEYS = {"score", "execution_time", "output", "visibility", "stdout_visibility", "tests"}
TEST_KEYS = {"name", "score", "max_score", "status", "output", "visibility", "number", "tags"}


def question(exercise, name, points, score, feedback="correct", visibility="public"):
    return QuestionResult(exercise, name, f"{name.upper()}: prompt of {name}", points, score,
                          feedback, visibility)


@pytest.fixture
def report() -> GradeReport:
    first = ExerciseResult("sleepstudy", "Sleep study", "/sub/sleepstudy.py", (
        question("sleepstudy", "q1", 2.0, 2.0),
        question("sleepstudy", "q2", 3.0, 0.0, "your value 1.5 is not the expected one. "
                 "Hint: use REML"),
        question("sleepstudy", "q3", 1.0, 1.0, visibility="hidden"),
    ), problems=("cell 2 (line 14): NameError: name 'x' is not defined",), output="hello\n",
        seconds=1.25)
    second = ExerciseResult("gpa_basics", "GPA basics", None, (
        question("gpa_basics", "q1", 1.0, 0.0, "no gpa_basics.py in the submission",
                 visibility="hidden"),
    ), problems=("no gpa_basics.py (or .ipynb) in the submission",))
    return GradeReport((first, second), student_id="12345", seconds=3.456)


@pytest.fixture
def empty_report() -> GradeReport:
    return GradeReport(())


# ---------------------------------------------------------------- Gradescope

def test_gradescope_top_level_keys(report):
    result = as_gradescope(report)
    assert set(result) == TOP_KEYS
    assert result["visibility"] == "visible"
    assert result["stdout_visibility"] == "hidden"
    assert result["execution_time"] == pytest.approx(3.5)
    assert isinstance(result["output"], str) and result["output"]


def test_gradescope_score_is_sum_of_test_scores(report):
    result = as_gradescope(report)
    assert result["score"] == sum(t["score"] for t in result["tests"]) == 3.0
    assert result["score"] == report.score


def test_gradescope_output_mentions_total_and_student(report):
    output = as_gradescope(report)["output"]
    assert "3/7 points" in output
    assert "12345" in output


def test_gradescope_output_without_student(report):
    anonymous = GradeReport(report.exercises)
    assert "student" not in as_gradescope(anonymous)["output"]


def test_gradescope_one_test_per_question(report):
    tests = as_gradescope(report)["tests"]
    assert len(tests) == 4
    for test in tests:
        assert set(test) == TEST_KEYS


def test_gradescope_test_fields(report):
    tests = as_gradescope(report)["tests"]
    assert [t["name"] for t in tests] == [
        "sleepstudy: Q1: prompt of q1", "sleepstudy: Q2: prompt of q2",
        "sleepstudy: Q3: prompt of q3", "gpa_basics: Q1: prompt of q1"]
    assert [t["number"] for t in tests] == ["1.1", "1.2", "1.3", "2.1"]
    assert [t["score"] for t in tests] == [2.0, 0.0, 1.0, 0.0]
    assert [t["max_score"] for t in tests] == [2.0, 3.0, 1.0, 1.0]
    assert [t["status"] for t in tests] == ["passed", "failed", "passed", "failed"]
    assert [t["tags"] for t in tests] == [["sleepstudy"]] * 3 + [["gpa_basics"]]


def test_gradescope_status_values_are_gradescopes(report):
    assert {t["status"] for t in as_gradescope(report)["tests"]} <= {"passed", "failed"}


def test_gradescope_visibility(report):
    tests = as_gradescope(report)["tests"]
    assert [t["visibility"] for t in tests] == ["visible", "visible", "after_published",
                                                "after_published"]


def test_gradescope_visibility_values_are_allowed(report):
    allowed = {"hidden", "after_due_date", "after_published", "visible"}
    result = as_gradescope(report)
    assert result["visibility"] in allowed
    assert {t["visibility"] for t in result["tests"]} <= allowed


def test_gradescope_failed_tests_carry_exercise_problems(report):
    tests = as_gradescope(report)["tests"]
    failed = tests[1]
    assert failed["output"].startswith("your value 1.5 is not the expected one")
    assert "Problem running sleepstudy: cell 2 (line 14): NameError" in failed["output"]
    assert "Problem running gpa_basics: no gpa_basics.py" in tests[3]["output"]


def test_gradescope_passed_tests_output_is_feedback_only(report):
    tests = as_gradescope(report)["tests"]
    assert tests[0]["output"] == "correct"
    assert "Problem running" not in tests[2]["output"]


def test_gradescope_problems_stay_with_their_exercise(report):
    tests = as_gradescope(report)["tests"]
    assert "gpa_basics" not in tests[1]["output"]
    assert "NameError" not in tests[3]["output"]


def test_gradescope_does_not_include_printed_output(report):
    assert "hello" not in json.dumps(as_gradescope(report))


def test_gradescope_is_json_serialisable(report):
    text = render(report, "gradescope")
    assert json.loads(text) == as_gradescope(report)


def test_gradescope_empty_report(empty_report):
    result = json.loads(render(empty_report, "gradescope"))
    assert result["score"] == 0 and result["tests"] == []
    assert set(result) == TOP_KEYS


def test_partial_credit_counts_as_failed():
    partial = GradeReport((ExerciseResult("ex", "Ex", "ex.py",
                                          (question("ex", "q1", 2.0, 1.0, "half"),)),))
    (test,) = as_gradescope(partial)["tests"]
    assert test["status"] == "failed" and test["score"] == 1.0


# ---------------------------------------------------------------- text

def test_text_lists_every_question_and_the_total(report):
    text = as_text(report)
    for q in report.questions:
        assert q.prompt in text
    assert "Total for student 12345: 3/7 points (3.5 s)" in text


def test_text_marks_passed_and_failed(report):
    lines = as_text(report).splitlines()
    assert any(line.startswith("  ok   q1 [2/2]") for line in lines)
    assert any(line.startswith("  FAIL q2 [0/3]") for line in lines)


def test_text_shows_feedback_only_for_failures(report):
    text = as_text(report)
    assert "your value 1.5 is not the expected one" in text
    assert "correct" not in text


def test_text_exercise_header_and_problems(report):
    text = as_text(report)
    assert "sleepstudy (Sleep study): 3/6 points" in text
    assert "  ! cell 2 (line 14): NameError" in text
    assert "gpa_basics (GPA basics): 0/1 points" in text


def test_text_without_student(report):
    text = as_text(GradeReport(report.exercises, seconds=0.04))
    assert text.endswith("Total: 3/7 points (0.0 s)")


def test_exercise_text_hidden_note(report):
    text = exercise_text(report.exercises[0], hidden_note=2)
    assert "2 hidden question(s)" in text
    assert "hidden" not in exercise_text(report.exercises[0])


def test_render_text_is_as_text(report):
    assert render(report, "text") == as_text(report)


# ---------------------------------------------------------------- dict / json

def test_as_dict_fields(report):
    data = as_dict(report)
    assert data["student_id"] == "12345"
    assert data["score"] == 3.0 and data["max_score"] == 7.0
    assert data["seconds"] == 3.456
    first = data["exercises"][0]
    assert first["name"] == "sleepstudy" and first["file"] == "/sub/sleepstudy.py"
    assert first["score"] == 3.0 and first["max_score"] == 6.0
    assert first["problems"] == ["cell 2 (line 14): NameError: name 'x' is not defined"]
    assert first["output"] == "hello\n"
    assert [q["status"] for q in first["questions"]] == ["passed", "failed", "passed"]
    assert [q["visibility"] for q in first["questions"]] == ["public", "public", "hidden"]
    assert first["questions"][1]["max_score"] == 3.0
    assert data["exercises"][1]["file"] is None


def test_as_dict_json_round_trip(report):
    data = as_dict(report)
    assert json.loads(json.dumps(data)) == data
    assert json.loads(render(report, "json")) == data


# ---------------------------------------------------------------- render / write

def test_formats():
    assert FORMATS == ("text", "json", "gradescope")


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders(report, fmt):
    assert render(report, fmt)


@pytest.mark.parametrize("fmt", ["xml", "", "JSON", "results.json"])
def test_unknown_format_raises(report, fmt):
    with pytest.raises(ValueError, match="unknown format"):
        render(report, fmt)


def test_write_atomic_writes_file(tmp_path):
    path = tmp_path / "results.json"
    write_atomic(path, '{"score": 1}')
    assert path.read_text(encoding="utf-8") == '{"score": 1}\n'
    assert os.listdir(tmp_path) == ["results.json"]


def test_write_atomic_creates_parent_folders(tmp_path):
    path = tmp_path / "autograder" / "results" / "results.json"
    write_atomic(str(path), "x")
    assert path.read_text(encoding="utf-8") == "x\n"


def test_write_atomic_replaces_existing_file(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old and longer content")
    write_atomic(path, "new")
    assert path.read_text() == "new\n"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_write_atomic_unicode(tmp_path):
    path = tmp_path / "out.txt"
    write_atomic(path, "✓ ok — é")
    assert path.read_text(encoding="utf-8") == "✓ ok — é\n"


def test_write_atomic_failure_leaves_no_temp_file_and_keeps_old(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(path, "bad \ud800 surrogate")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_write_atomic_rendered_gradescope_is_loadable(tmp_path, report):
    path = tmp_path / "results" / "results.json"
    write_atomic(path, render(report, "gradescope"))
    assert json.loads(path.read_text())["score"] == 3.0
