"""Course source files: solution markers, key cells, the student file and the course folder."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from simlab.grading.course import (STUB, exercise_key, find_course, load_course, solution_text,
                                   student_text)

REPO = Path(__file__).resolve().parents[2]

SOURCE = textwrap.dedent('''\
    # %% [markdown]
    # # Title
    # A line of prose ending in # SOLUTION stays prose.

    # %%
    import math

    def one():
        """Doc."""
        return math.pi  # SOLUTION

    def block():
        # BEGIN SOLUTION
        x = 2
        return {"a": x,
                "b": x + 1}
        # END SOLUTION

    def no_return():
        # BEGIN SOLUTION
        print("side effect")
        # END SOLUTION

    value = 41 + 1  # SOLUTION
    total += 3  # SOLUTION

    # %% [key]
    from simlab.grading.authoring import Question

    TITLE = "A toy"
    QUESTIONS = [Question("one", "the number pi", 1, "see math's docs (math.pi)")]
    ''')


def test_the_student_file_has_stubs_and_no_key():
    text = student_text(SOURCE)
    assert f"        return {STUB}" not in text  # indentation kept as in the source
    assert f"    return {STUB}" in text and "math.pi" not in text
    assert text.count(f"return {STUB}") == 2  # the one-liner and the block that returns
    assert f"    {STUB}" in text and "side effect" not in text  # a block that does not return
    assert f"value = {STUB}" in text and f"total += {STUB}" in text
    assert "[key]" not in text and "QUESTIONS" not in text and "authoring" not in text
    assert "BEGIN SOLUTION" not in text and "# SOLUTION" not in text.replace(
        "ending in # SOLUTION stays", "")
    assert "# A line of prose ending in # SOLUTION stays prose." in text


def test_the_student_file_still_runs():
    namespace = {}
    exec(compile(student_text(SOURCE).replace("total += ", "total = "), "x", "exec"), namespace)
    assert namespace["one"]() is Ellipsis and namespace["value"] is Ellipsis


def test_the_solution_text_keeps_the_code_and_drops_markers_and_key():
    text = solution_text(SOURCE)
    assert "return math.pi\n" in text and 'print("side effect")' in text
    assert "# SOLUTION" not in text.replace("ending in # SOLUTION stays", "")
    assert "BEGIN SOLUTION" not in text and "QUESTIONS" not in text


@pytest.mark.parametrize("source, message", [
    ("# %%\ndef f():\n    # BEGIN SOLUTION\n    return 1\n", "has no '# END SOLUTION'"),
    ("# %%\ndef f():\n    # BEGIN SOLUTION\n    return 1\n# %%\nx = 1\n# END SOLUTION\n",
     "has no '# END SOLUTION'"),
    ("# %%\nx = 1\n# END SOLUTION\n", "without '# BEGIN SOLUTION'"),
])
def test_unbalanced_markers_are_refused(source, message):
    with pytest.raises(ValueError, match=message):
        student_text(source)


def test_a_key_cell_makes_the_exercise_key(tmp_path):
    (tmp_path / "toy.py").write_text(SOURCE)
    key = exercise_key(tmp_path / "toy.py")
    assert key.name == "toy" and key.title == "A toy" and key.questions[0].name == "one"
    assert key.data_files == () and key.variants is False


@pytest.mark.parametrize("key_cell, message", [
    ("TITLE = 'x'\n", "must define TITLE"),
    ("TITLE = 'x'\nQUESTIONS = []\n", "must define TITLE"),
    ("TITLE = 'x'\nQUESTIONS = ['not a question']\n", "must define TITLE"),
    ("raise RuntimeError('oops')\n", r"key cell of toy.py \(cell 1 \(line 4\)\) failed: "
                                     "RuntimeError: oops"),
    ("from simlab.grading.authoring import Question\nTITLE = 'x'\n"
     "QUESTIONS = [Question('not-a-name', 'p', 1, 'h')]\n", "must be Python names"),
])
def test_a_broken_key_cell_gets_a_clear_error(tmp_path, key_cell, message):
    (tmp_path / "toy.py").write_text("# %%\nx = 1\n# %% [key]\n" + key_cell)
    with pytest.raises(ValueError, match=message):
        exercise_key(tmp_path / "toy.py")


def test_a_course_folder_in_its_order(tmp_path):
    for name in ("b_second", "a_first", "c_third"):
        (tmp_path / f"{name}.py").write_text(SOURCE)
    (tmp_path / "helper.py").write_text("HELP = 1\n")  # no key cell: not an exercise
    (tmp_path / "course.toml").write_text('title = "Toys"\nexercises = ["c_third", "a_first"]\n')
    course = load_course(tmp_path)
    assert course.title == "Toys" and list(course.exercises) == ["c_third", "a_first", "b_second"]
    assert list(course.select(["b_second", "c_third"])) == ["c_third", "b_second"]
    with pytest.raises(ValueError, match=r"unknown exercise\(s\) \['nope'\]"):
        course.select(["nope"])


@pytest.mark.parametrize("files, message", [
    ({}, "holds no exercise source file"),
    ({"a.py": SOURCE, "course.toml": "title = [1"}, "is not valid TOML"),
    ({"a.py": SOURCE, "course.toml": 'exercises = ["a", "missing"]'}, r"lists \['missing'\]"),
    ({"a.py": SOURCE, "course.toml": "title = 3"}, "'title' must be a string"),
])
def test_a_broken_course_folder_gets_a_clear_error(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ValueError, match=message):
        load_course(tmp_path)


def test_find_course_explains_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.delenv("SIMLAB_COURSE_DIR", raising=False)
    with pytest.raises(ValueError, match="--course DIR"):
        find_course(tmp_path / "missing")
    monkeypatch.setenv("SIMLAB_COURSE_DIR", str(tmp_path))
    assert find_course() == tmp_path


def test_the_built_in_course_is_the_solutions_folder():
    course = load_course()
    assert course.root == REPO / "solutions"
    assert list(course.exercises) == ["gpa_basics", "sleepstudy", "gpa_cluster", "icc_simulation",
                                      "sleepstudy_slopes", "slopes_simulation"]


@pytest.mark.parametrize("name", ["gpa_basics", "sleepstudy", "gpa_cluster", "icc_simulation",
                                  "sleepstudy_slopes", "slopes_simulation"])
def test_the_exercises_folder_is_made_from_the_course(name):
    """exercises/ is what `simlab assign` hands out; it must not drift from the sources."""
    made = load_course().exercises[name].student_text()
    assert (REPO / "exercises" / f"{name}.py").read_text() == made
