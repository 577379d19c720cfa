"""Rendering grade reports (simlab.grading.render), including Gradescope's results.json."""
from __future__ import annotations

import json
import os

import pytest

from simlab.grading.grader import ExerciseResult, GradeReport, QuestionResult
from simlab.grading.render import (FORMATS, PRINTED_HEADER, as_dict, as_gradescope, as_text,
                                   exercise_text, printed_output, render, write_atomic)

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


def test_gradescope_output_mentions_only_the_visible_totals_and_the_student(report):
    output = as_gradescope(report)["output"]
    assert "the visible tests score 2/5 points" in output  # q1 2/2 and q2 0/3
    assert "3/7" not in output and "/7" not in output  # the total includes hidden tests
    assert "2 further test(s)" in output and "when grades are published" in output
    assert "12345" in output


def test_gradescope_output_without_hidden_tests_has_no_further_note():
    public = GradeReport((ExerciseResult("ex", "Ex", "ex.py", (
        question("ex", "q1", 2.0, 2.0), question("ex", "q2", 1.0, 0.0, "wrong"))),))
    output = as_gradescope(public)["output"]
    assert "the visible tests score 2/3 points" in output
    assert "further" not in output


def _visible_part(result: dict) -> dict:
    """What a student sees before grades are published: the top level but the score, and
    the visible tests."""
    top = {k: v for k, v in result.items() if k not in ("score", "tests", "execution_time")}
    return {**top, "tests": [t for t in result["tests"] if t["visibility"] == "visible"]}


def test_gradescope_visible_part_reveals_nothing_about_hidden_results(report):
    """Two reports that differ only in the hidden questions' results look the same."""
    def flip(q):
        if q.visibility != "hidden":
            return q
        return question(q.exercise, q.name, q.points, 0.0, "a different feedback", "hidden")

    other = GradeReport(tuple(ExerciseResult(e.name, e.title, e.file,
                                             tuple(flip(q) for q in e.questions), e.problems,
                                             e.output, e.seconds) for e in report.exercises),
                        report.student_id, report.seconds)
    assert other.score != report.score
    assert _visible_part(as_gradescope(other)) == _visible_part(as_gradescope(report))


def test_an_unfinished_report_says_which_exercises_are_not_graded_yet(report):
    partial = GradeReport(report.exercises[:1], "12345", 1.0, pending=("gpa_cluster", "x"))
    assert as_text(partial).endswith("Grading has not finished: gpa_cluster, x not graded yet, "
                                     "so these points are incomplete.")
    assert "not graded yet" in as_gradescope(partial)["output"]
    assert as_dict(partial)["pending"] == ["gpa_cluster", "x"]
    assert "not finished" not in as_text(report) + as_gradescope(report)["output"]
    assert as_dict(report)["pending"] == []


def test_gradescope_hidden_questions_count_and_are_after_published_not_hidden(report):
    """Gradescope's "hidden" is for tests worth no points; graded hidden questions are shown
    after publication, and Gradescope hides the total until then."""
    tests = as_gradescope(report)["tests"]
    assert {t["visibility"] for t in tests if t["max_score"] > 0} <= {"visible",
                                                                      "after_published"}


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


def test_text_quotes_the_printed_output_after_the_questions(report):
    text = exercise_text(report.exercises[0])
    assert text.endswith(f"\n\n{PRINTED_HEADER}\n| hello")
    assert PRINTED_HEADER not in exercise_text(report.exercises[1])  # printed nothing


# ---------------------------------------------------------------- printed output

def test_printed_output_quotes_every_line():
    assert printed_output("one\ntwo\n\nfour\n") == "| one\n| two\n| \n| four"


@pytest.mark.parametrize("text", ["", "\n\n", "   ", "\x1b[31m\x1b[0m"])
def test_printed_output_of_nothing_is_empty(text):
    assert printed_output(text) == ""


def test_printed_output_cannot_pose_as_grader_text():
    fake = "  ok   q1 [2/2] Q1: prompt\nAll public checks passed.\nTotal: 7/7 points"
    block = printed_output(fake)
    assert all(line.startswith("| ") for line in block.splitlines())
    text = exercise_text(ExerciseResult("ex", "Ex", "ex.py", (question("ex", "q1", 1, 0, "x"),),
                                        output=fake))
    assert "\nAll public checks passed." not in text and "\nTotal: 7/7" not in text


@pytest.mark.parametrize("raw, shown", [
    ("\x1b[1;32mgreen\x1b[0m", "| green"),                  # colours
    ("a\x1b[2K\x1b[1Ab", "| ab"),                           # erase line, cursor up
    ("\x1b]0;title\x07x", "| x"),                            # window title (OSC)
    ("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "| link"),   # hyperlink (OSC 8)
    ("bell\x07 back\x08space\x00nul", "| bell backspacenul"),
    ("fake\rreal", "| fakereal"),                            # carriage return overwrite
    ("win\r\nlines", "| win\n| lines"),
    ("tab\there", "| tab\there"),
    ("rtl\u202eevil\u202c zero\u200bwidth", "| rtlevil zerowidth"),
    ("line\u2028sep\x85nel", "| linesepnel"),
    ("\x9b31mC1 csi", "| 31mC1 csi"),
    ("é ✓ 日本", "| é ✓ 日本"),
])
def test_printed_output_removes_escape_sequences_and_control_characters(raw, shown):
    assert printed_output(raw) == shown


def test_printed_output_is_capped_in_characters_with_a_note_outside_the_quote():
    block = printed_output("x" * 5000, max_chars=100)
    lines = block.splitlines()
    assert lines[0] == "| " + "x" * 100
    assert lines[-1].startswith("[printed output cut") and len(lines) == 2
    assert len(printed_output("x" * 100_000)) < 2200


def test_printed_output_is_capped_in_lines():
    block = printed_output("\n".join(f"line {i}" for i in range(100)), max_lines=5)
    quoted = [line for line in block.splitlines() if line.startswith("| ")]
    assert quoted == [f"| line {i}" for i in range(5)]
    assert block.splitlines()[-1].startswith("[printed output cut")


def test_printed_output_at_the_cap_is_not_marked_cut():
    assert "cut" not in printed_output("x" * 100, max_chars=100)
    assert "cut" not in printed_output("a\nb", max_lines=2)


def test_every_format_quotes_and_cleans_the_printed_output():
    result = ExerciseResult("ex", "Ex", "ex.py", (question("ex", "q1", 1, 0, "x"),),
                            output="\x1b[31mred\x1b[0m\nFAIL q9\n")
    report = GradeReport((result,))
    assert as_dict(report)["exercises"][0]["output"] == "| red\n| FAIL q9"
    assert "| red\n| FAIL q9" in as_text(report)
    assert "\x1b" not in render(report, "json") and "\\u001b" not in render(report, "json")
    assert "red" not in json.dumps(as_gradescope(report))


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
    assert first["output"] == "| hello"
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
