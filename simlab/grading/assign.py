"""``simlab assign``: from a course's source files, what students get and what Gradescope gets.

As otter-assign and nbgrader's ``generate_assignment`` do, one instructor
source per exercise (:mod:`simlab.grading.course`) becomes:

- ``DIST/student/NAME.py``: the student file, solutions replaced by stubs and
  the key cells removed;
- ``DIST/student/NAME.checks.json``: the public checks (:mod:`simlab.grading.checks`),
  so that ``simlab check`` runs on a student's machine without the solutions;
- ``DIST/autograder.zip``: the Gradescope bundle (:mod:`simlab.grading.autograder`).
"""
from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .autograder import build_autograder
from .checks import build_checks, checks_path, write_checks
from .course import Course
from ..datasets import DATA_DIR_VARIABLE
from .sandbox import Limits

__all__ = ["assign", "write_student_files"]


def write_student_files(course: Course, folder: str | Path,
                        exercises: Sequence[str] | None = None) -> Path:
    """Write the student file of each exercise (default: all) into ``folder``; return it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in course.select(list(exercises) if exercises else None):
        exercise = course.exercises[name]
        (folder / f"{name}.py").write_text(exercise.student_text(), encoding="utf-8")
    return folder


def assign(course: Course, out: str | Path, *, exercises: Sequence[str] | None = None,
           student_ids: Sequence[str] = (), data_dir: str | Path | None = None,
           limits: Limits = Limits(), jobs: int = 2) -> list[Path]:
    """Write ``out/student/`` (files and public checks) and ``out/autograder.zip``.

    Parameters
    ----------
    course : Course
    out : path
    exercises : sequence of str, optional
        The exercises of this assignment (default: the whole course).
    student_ids : sequence of str
        Roster ids whose variant's public checks are written too.
    data_dir : path, optional
        Where the data files the exercises read are (bundled into the zip).
    limits : Limits
    jobs : int
        Solutions run at the same time.

    Returns
    -------
    list of Path
        Every file written.
    """
    keys = course.select(list(exercises) if exercises else None)
    student = write_student_files(course, Path(out) / "student", list(keys))
    environment = {DATA_DIR_VARIABLE: str(Path(data_dir).resolve())} if data_dir else {}

    def public(name: str) -> Path:
        checks = build_checks(course.exercises[name], student_ids=student_ids, limits=limits,
                              env=environment)
        return write_checks(checks_path(student / f"{name}.py"), checks)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        written = list(pool.map(public, keys))
    bundle = build_autograder(Path(out) / "autograder.zip", keys, course_dir=course.root,
                              data_dir=data_dir, limits=limits, jobs=jobs)
    return [student / f"{name}.py" for name in keys] + written + [bundle]
