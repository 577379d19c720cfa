"""Checking the course itself: exercises and solutions agree, and the keys grade them right.

:func:`validate` is nbgrader's ``validate`` and ``validate --invert`` in one:
every solution must score full marks (also for a per-student variant), every
untouched exercise must score 0 and run without errors, and each exercise
must expose the same top-level names as its solution.
"""
from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .grader import GradeReport, find_exercise_file, grade
from .questions import ExerciseKey
from .sandbox import Limits

__all__ = ["ValidationCheck", "Validation", "validate", "top_level_names"]

#: The student id used to check that variants are graded consistently.
VARIANT_PROBE_ID = "simlab-validate"


@dataclass(frozen=True)
class ValidationCheck:
    """One validation finding: what was checked, whether it holds, and the details."""

    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class Validation:
    """All findings of :func:`validate`."""

    checks: tuple[ValidationCheck, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def __str__(self) -> str:
        lines = [f"{'ok  ' if c.ok else 'FAIL'} {c.name}" + (f"\n       {c.detail}" if c.detail
                                                               else "") for c in self.checks]
        verdict = "all checks passed" if self.ok else "some checks FAILED"
        return "\n".join(lines + [f"validate: {verdict}"])


def top_level_names(path: Path) -> set[str]:
    """Functions, classes and assigned names defined at the top level of a Python file."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8"), filename=str(path)).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _name_checks(exercises_dir: Path, solutions_dir: Path,
                 keys: Mapping[str, ExerciseKey]) -> list[ValidationCheck]:
    checks = []
    for key in keys.values():
        exercise = find_exercise_file(exercises_dir, key.name)
        solution = find_exercise_file(solutions_dir, key.name)
        if exercise is None or solution is None:
            checks.append(ValidationCheck(f"{key.name}: exercise and solution files exist", False,
                                          f"exercise: {exercise}, solution: {solution}"))
            continue
        ours, theirs = top_level_names(exercise), top_level_names(solution)
        questions = {q.name for q in key.questions}
        detail = "; ".join(filter(None, [
            f"only in the exercise: {sorted(ours - theirs)}" if ours - theirs else "",
            f"only in the solution: {sorted(theirs - ours)}" if theirs - ours else "",
            f"questions not defined: {sorted(questions - ours)}" if questions - ours else ""]))
        checks.append(ValidationCheck(f"{key.name}: exercise and solution expose the same names",
                                      not detail, detail))
    return checks


def _score_check(label: str, report: GradeReport, *, full: bool) -> list[ValidationCheck]:
    checks = []
    for exercise in report.exercises:
        if full:
            failed = [f"{q.name}: {q.feedback}" for q in exercise.questions if not q.passed]
            ok, detail = not failed and not exercise.problems, "; ".join(
                [*exercise.problems, *failed])
            what = "scores full marks"
        else:
            ok = exercise.score == 0 and not exercise.problems
            detail = "; ".join([*exercise.problems, *(f"{q.name} passed" for q in
                                                      exercise.questions if q.passed)])
            what = "scores 0 and runs without errors"
        checks.append(ValidationCheck(f"{exercise.name}: {label} {what} "
                                      f"({exercise.score:g}/{exercise.max_score:g})", ok, detail))
    return checks


def validate(exercises_dir: str | Path, solutions_dir: str | Path,
             keys: Mapping[str, ExerciseKey], *, limits: Limits = Limits(),
             jobs: int = 2) -> Validation:
    """Validate the exercises, the solutions and the answer keys (see the module docstring)."""
    exercises_dir, solutions_dir = Path(exercises_dir), Path(solutions_dir)
    for folder in (exercises_dir, solutions_dir):
        if not folder.is_dir():
            raise ValueError(f"{str(folder)!r} is not a folder; pass --exercises DIR and "
                             "--solutions DIR")
    checks = _name_checks(exercises_dir, solutions_dir, keys)
    options = {"solutions_dir": solutions_dir, "limits": limits, "jobs": jobs}
    checks += _score_check("solution", grade(solutions_dir, keys, **options), full=True)
    variant_keys = {name: key for name, key in keys.items() if key.variants}
    if variant_keys:
        report = grade(solutions_dir, variant_keys, student_id=VARIANT_PROBE_ID, **options)
        checks += _score_check(f"solution for student {VARIANT_PROBE_ID!r}", report, full=True)
    checks += _score_check("untouched exercise", grade(exercises_dir, keys, **options),
                           full=False)
    return Validation(tuple(checks))
