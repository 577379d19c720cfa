"""Scoring against a small made-up exercise: key from the solution, hints, mistakes, variants."""
import pytest

import simlab.grading.grader as grader
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


SOLUTION_SCORES = {"area": 2, "pick": 1, "seeded": 1, "answer": 0}


def only_exercise(report):
    """The single ExerciseResult of ``report`` and its scores by question name."""
    (result,) = report.exercises
    return result, {q.name: q.score for q in result.questions}


def test_a_folder_uploaded_inside_the_submission_is_found_and_graded(folders):
    solutions, submission = folders
    for folder in ("__MACOSX", "myfolder"):  # macOS zips add __MACOSX/, sorted first
        (submission / folder).mkdir()
    submit(submission / "__MACOSX", "raise RuntimeError('resource fork, not the exercise')")
    submit(submission / "myfolder", SOLUTION)
    result, scores = only_exercise(grade(submission, {"toy": KEY}, course_dir=solutions,
                                         limits=LIMITS))
    assert result.file == str(submission / "myfolder" / "toy.py")
    assert scores == SOLUTION_SCORES and result.problems == ()


def test_with_both_a_py_file_and_a_notebook_the_py_file_is_graded_with_a_note(folders):
    solutions, submission = folders
    submit(submission, SOLUTION)
    (submission / "toy.ipynb").write_text("{}")  # no cells: graded, it would score 0
    result, scores = only_exercise(grade(submission, {"toy": KEY}, course_dir=solutions,
                                         limits=LIMITS))
    assert result.file == str(submission / "toy.py") and scores == SOLUTION_SCORES
    assert result.problems == ("both toy.py and toy.ipynb were submitted; toy.py was graded "
                               "(the .py file wins; submit only one)",)


def test_a_symbolic_link_as_the_exercise_file_is_refused(folders):
    solutions, submission = folders
    (submission / "toy.py").symlink_to(solutions / "toy.py")  # the key's own file
    result, scores = only_exercise(grade(submission, {"toy": KEY}, course_dir=solutions,
                                         limits=LIMITS))
    assert set(scores.values()) == {0}
    assert all("toy.py is a symbolic link, which is not accepted" in q.feedback
               for q in result.questions)
    assert "symbolic link" in result.problems[0]


@pytest.fixture()
def linked_folder(folders, tmp_path):
    """A correct toy.py outside the submission, reached through ``submission/linked``."""
    solutions, submission = folders
    outside = tmp_path / "outside"
    outside.mkdir()
    submit(outside, SOLUTION)
    (submission / "linked").symlink_to(outside, target_is_directory=True)
    return solutions, submission


def test_a_file_in_a_symlinked_folder_is_not_graded(linked_folder):
    solutions, submission = linked_folder
    result, scores = only_exercise(grade(submission, {"toy": KEY}, course_dir=solutions,
                                         limits=LIMITS))
    assert result.file is None and set(scores.values()) == {0}
    assert all(q.feedback.startswith("no toy.py") for q in result.questions)


def test_a_file_found_outside_the_submission_folder_is_not_graded(linked_folder, monkeypatch):
    solutions, submission = linked_folder
    # Were the search to follow the link, the file would be a regular file the sandbox
    # accepts; the grader's own check must still refuse it. The key is found as usual.
    real = grader.locate_exercise

    def through_the_link(folder, name):
        if folder != submission:
            return real(folder, name)
        return grader.Located(folder / "linked" / f"{name}.py")

    monkeypatch.setattr(grader, "locate_exercise", through_the_link)
    result, scores = only_exercise(grade(submission, {"toy": KEY}, course_dir=solutions,
                                         limits=LIMITS))
    assert set(scores.values()) == {0}
    assert result.problems == ("toy.py lies outside the submission folder, which is not "
                               "accepted",)


FORGED_AREA = """
# %%
import json, os, sys
def area():
    fd = json.loads(sys.argv[1])["fd"]
    forged = {"event": "answer", "name": "area", "answer": {"value": 1}}
    os.write(fd, (json.dumps(forged) + "\\n").encode())
    os._exit(0)
"""


def test_a_forged_answer_without_kind_scores_zero_and_keeps_the_exercise(folders):
    solutions, submission = folders
    submit(submission, FORGED_AREA)
    other = ExerciseKey("other", "Another exercise", (Question("x", "x", 1, "h"),))
    (solutions / "other.py").write_text("x = 1")
    (submission / "other.py").write_text("x = 1")
    report = grade(submission, {"toy": KEY, "other": other}, course_dir=solutions,
                   limits=LIMITS)
    assert [e.name for e in report.exercises] == ["toy", "other"] and report.complete
    toy, other_result = report.exercises
    area = toy.questions[0]
    assert area.name == "area" and area.score == 0
    assert "the answer could not be read (unknown kind 'None')" in area.feedback
    assert "Hint: multiply the sides" in area.feedback
    assert toy.score == 0 and other_result.score == 1


def test_on_result_gets_partial_reports_naming_the_exercises_still_pending(folders):
    solutions, submission = folders
    submit(submission, SOLUTION)
    keys = {"toy": KEY}
    for name in ("other", "third"):
        keys[name] = ExerciseKey(name, name, (Question("x", "x", 1, "h"),))
        (solutions / f"{name}.py").write_text("x = 1")
    (submission / "other.py").write_text("x = 1")  # third.py is not submitted
    partial = []
    report = grade(submission, keys, course_dir=solutions, limits=LIMITS, on_result=partial.append)
    assert [r.pending for r in partial] == [("other", "third"), ("third",), ()]
    assert [r.complete for r in partial] == [False, False, True]
    assert [[e.name for e in r.exercises] for r in partial] == [
        ["toy"], ["toy", "other"], ["toy", "other", "third"]]
    assert report.pending == () and report.complete
    assert [e.score for e in report.exercises] == [4, 1, 0]


# ----- grade_submission: the programmatic API (otter's grade_submission) ------------------
COURSE_SOURCE = '''\
# %%
def area():
    return 7.0  # SOLUTION

# %% [key]
from simlab.grading.authoring import Question

TITLE = "A rectangle"
QUESTIONS = [Question("area", "area of the rectangle", 2, "multiply the sides")]
'''


@pytest.fixture()
def course(tmp_path):
    """A one-exercise course folder and an empty submission folder beside it."""
    root, submission = tmp_path / "course", tmp_path / "submission"
    root.mkdir()
    submission.mkdir()
    (root / "rect.py").write_text(COURSE_SOURCE)
    return root, submission


def test_grade_submission_grades_a_folder_against_a_course(course):
    from simlab.grading import GradeReport, grade_submission

    root, submission = course
    (submission / "rect.py").write_text("# %%\ndef area():\n    return 2 + 3.5\n")
    seen = []
    report = grade_submission(submission, course=root, limits=LIMITS, on_result=seen.append)
    assert isinstance(report, GradeReport) and report.complete
    assert (report.score, report.max_score) == (0, 2) and not report.passed
    assert seen[0].pending == ("rect",) and seen[-1] == report  # saved from the start


def test_grade_submission_reads_the_student_id_from_gradescope_metadata(course):
    import json

    from simlab.grading import grade_submission

    root, submission = course
    (submission / "rect.py").write_text(COURSE_SOURCE)
    metadata = submission.parent / "submission_metadata.json"
    metadata.write_text(json.dumps({"users": [{"sid": "s123", "email": "a@b.c"}]}))
    report = grade_submission(submission, course=root, limits=LIMITS)
    assert report.student_id == "s123" and report.passed


@pytest.mark.parametrize("options, message", [
    ({"student_id": "s1", "metadata": "m.json"}, "student_id or metadata, not both"),
    ({"jobs": 0}, "jobs must be an integer of at least 1"),
    ({"exercises": ["nope"]}, "nope"),
])
def test_grade_submission_refuses_bad_options(course, options, message):
    from simlab.grading import grade_submission

    root, submission = course
    with pytest.raises(ValueError, match=message):
        grade_submission(submission, course=root, limits=LIMITS, **options)


def test_a_missing_metadata_file_warns_and_grades_the_default_variant(course, tmp_path):
    from simlab.grading import grade_submission

    root, submission = course
    with pytest.warns(UserWarning, match="metadata file .* not found"):
        report = grade_submission(submission, course=root, limits=LIMITS,
                                  metadata=tmp_path / "absent.json")
    assert report.student_id is None and report.score == 0


def test_a_report_reads_as_text_and_shows_as_html_in_jupyter(course):
    from simlab.grading import grade_submission
    from simlab.grading.render import as_text, exercise_text

    root, submission = course
    (submission / "rect.py").write_text("# %%\nprint('<b>hi</b>')\ndef area():\n    return 5\n")
    report = grade_submission(submission, course=root, limits=LIMITS)
    text = str(report)
    assert text == as_text(report) and "rect (A rectangle): 0/2 points" in text
    assert "Total: 0/2 points" in text
    assert str(report.exercises[0]) == exercise_text(report.exercises[0])
    html = report._repr_html_()
    assert html.startswith("<pre>") and html.endswith("</pre>")
    # What the student's file printed is escaped, never markup of the notebook.
    assert "rect (A rectangle)" in html and "&lt;b&gt;hi" in html and "<b>" not in html
    assert report.exercises[0]._repr_html_().startswith("<pre>rect (A rectangle)")
