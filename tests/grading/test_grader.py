"""Scoring against a small made-up exercise: key from the solution, hints, mistakes, variants."""
import pytest

from simlab.grading.grader import find_exercise_file, grade, grade_exercise
from simlab.grading.questions import ExerciseKey, Mistake, Question
from simlab.grading.sandbox import Limits
from simlab.grading.variants import STUDENT_ENV

LIMITS = Limits(timeout=60, cell_timeout=10)

SOLUTION = """
# %%
import os
def area():
    \"\"\"Return the area of a 2 x 3.5 rectangle.\"\"\"
    return 7.0

def pick():
    return "b"

def seeded():
    return float(len(os.environ.get("SIMLAB_STUDENT_ID", "")))

answer = 42
"""

KEY = ExerciseKey("toy", "A toy exercise", (
    Question("area", "area of the rectangle", 2, "multiply the sides", rtol=1e-9,
             mistakes=(Mistake("you added the sides", lambda ctx: 2 + 3.5),
                       Mistake("you squared it", lambda ctx: ctx.expected["area"] ** 2),
                       Mistake("broken diagnostic", lambda ctx: 1 / 0))),
    Question("pick", "pick one", 1, "read the prose", choices=("a", "b", "c")),
    Question("seeded", "length of the student id", 1, "use the variant", visibility="hidden"),
    Question("answer", "the answer", 1, "see the published number", published=41, atol=0.5),
), variants=True)


@pytest.fixture()
def folders(tmp_path):
    solutions, submission = tmp_path / "solutions", tmp_path / "submission"
    solutions.mkdir()
    submission.mkdir()
    (solutions / "toy.py").write_text(SOLUTION)
    return solutions, submission


def submit(submission, text):
    (submission / "toy.py").write_text(text)
    return submission / "toy.py"


def test_the_solution_scores_full_marks_except_where_a_published_number_differs(folders):
    solutions, submission = folders
    result = grade_exercise(submit(submission, SOLUTION), KEY, course_dir=solutions,
                            limits=LIMITS)
    scores = {q.name: q.score for q in result.questions}
    # `answer` is pinned to the published 41 +- 0.5, so the solution's 42 fails.
    assert scores == {"area": 2, "pick": 1, "seeded": 1, "answer": 0}
    assert result.max_score == 5 and result.problems == ()


def test_a_known_mistake_gets_its_own_hint_and_the_key_is_not_revealed(folders):
    solutions, submission = folders
    wrong = SOLUTION.replace("return 7.0", "return 49.0").replace('return "b"', 'return "c"')
    result = grade_exercise(submit(submission, wrong), KEY, course_dir=solutions, limits=LIMITS)
    area = result.questions[0]
    assert area.score == 0 and "you squared it" in area.feedback
    assert "7" not in area.feedback.replace("49", "")  # the key's 7.0 is never shown
    assert "read the prose" in result.questions[1].feedback
    assert "'b'" not in result.questions[1].feedback.split("among")[0]


def test_an_unknown_wrong_answer_gets_the_generic_hint(folders):
    solutions, submission = folders
    result = grade_exercise(submit(submission, SOLUTION.replace("return 7.0", "return 8.0")), KEY,
                            course_dir=solutions, limits=LIMITS)
    assert "Hint: multiply the sides" in result.questions[0].feedback


def test_a_missing_file_scores_zero_with_a_message(folders):
    solutions, submission = folders
    result = grade_exercise(None, KEY, course_dir=solutions, limits=LIMITS)
    assert result.score == 0 and all("no toy.py" in q.feedback for q in result.questions)


def test_a_broken_key_is_reported_not_blamed_on_the_student(folders):
    solutions, submission = folders
    (solutions / "toy.py").write_text("raise RuntimeError('key is broken')")
    result = grade_exercise(submit(submission, SOLUTION), KEY, course_dir=solutions,
                            limits=LIMITS)
    assert all("answer key failed" in q.feedback and "tell your instructor" in q.feedback
               for q in result.questions if q.name != "answer")


def test_the_student_id_reaches_both_runs(folders):
    solutions, submission = folders
    result = grade_exercise(submit(submission, SOLUTION), KEY, course_dir=solutions,
                            student_id="abcd", limits=LIMITS)
    assert result.questions[2].passed  # both runs saw the same 4-character id
    wrong = SOLUTION.replace('os.environ.get("SIMLAB_STUDENT_ID", "")', '"x"')
    result = grade_exercise(submit(submission, wrong), KEY, course_dir=solutions,
                            student_id="abcd", limits=LIMITS)
    assert not result.questions[2].passed


def test_grade_reports_each_exercise_as_it_finishes(folders, monkeypatch):
    solutions, submission = folders
    monkeypatch.delenv(STUDENT_ENV, raising=False)
    submit(submission, SOLUTION)
    other = ExerciseKey("other", "Missing file", (Question("x", "x", 1, "h"),))
    (solutions / "other.py").write_text("x = 1")
    partial = []
    report = grade(submission, {"toy": KEY, "other": other}, course_dir=solutions,
                   limits=LIMITS, jobs=1, on_result=partial.append)
    assert [len(r.exercises) for r in partial] == [1, 2]
    assert [e.name for e in report.exercises] == ["toy", "other"]
    assert report.score == 4 and report.max_score == 6 and not report.passed


def test_grade_rejects_a_missing_submission_folder(folders):
    solutions, submission = folders
    with pytest.raises(ValueError, match="does not exist or is not a folder"):
        grade(submission / "nope", {"toy": KEY}, course_dir=solutions)


def test_find_exercise_file_prefers_py_then_notebook(tmp_path):
    assert find_exercise_file(tmp_path, "toy") is None
    (tmp_path / "toy.ipynb").write_text("{}")
    assert find_exercise_file(tmp_path, "toy").suffix == ".ipynb"
    (tmp_path / "toy.py").write_text("")
    assert find_exercise_file(tmp_path, "toy").suffix == ".py"
