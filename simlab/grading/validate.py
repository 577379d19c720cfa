"""Checking the course itself: exercises and solutions agree, and the keys grade them right.

:func:`validate` is nbgrader's ``validate`` and ``validate --invert`` in one:
every solution must score full marks (also for a per-student variant), every
untouched exercise must score 0 and run without errors, and each exercise
must expose the same top-level names as its solution.

It also checks that the keys are right for every student
(:func:`check_variants`): the solution of each exercise with variants runs
for many student ids, and for each id every answer must be usable (no
error, finite numbers, one of the choices) and every decision must be what
the key's numbers imply, with at least the margin it declares
(:mod:`~simlab.grading.stability`). The solutions are the instructor's own,
trusted code, so these runs happen in a pool of worker processes, a fresh
namespace per id (:func:`run_solution`), not in the sandbox.
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import io
import math
import os
import sys
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .._checks import is_int
from .answers import decode, encode
from .cells import read_cells
from .child import question_answer
from .grader import GradeReport, find_exercise_file, grade
from .questions import ExerciseKey, KeyContext
from .sandbox import Limits
from .stability import answer_problem, decision_problem
from .variants import STUDENT_ENV

__all__ = ["ValidationCheck", "Validation", "VariantFinding", "validate", "top_level_names",
           "variant_ids", "run_solution", "check_variants", "DEFAULT_VARIANTS"]

#: Student ids checked by default: a key wrong for one student in 40 or more fails with 99%
#: probability (tau = sigma was one in 21).
DEFAULT_VARIANTS = 200
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
    """Functions, classes and assigned names defined at the top level of a file's code cells
    (an instructor's key cells are not the exercise's)."""
    names = set()
    code = "\n".join(cell.source for cell in read_cells(path))
    for node in ast.parse(code, filename=str(path)).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _name_checks(exercises_dir: Path, course_dir: Path,
                 keys: Mapping[str, ExerciseKey]) -> list[ValidationCheck]:
    checks = []
    for key in keys.values():
        exercise = find_exercise_file(exercises_dir, key.name)
        solution = find_exercise_file(course_dir, key.name)
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


def validate(exercises_dir: str | Path, course_dir: str | Path,
             keys: Mapping[str, ExerciseKey], *, limits: Limits = Limits(),
             jobs: int = 2, variants: int = DEFAULT_VARIANTS,
             student_ids: Iterable[str] = ()) -> Validation:
    """Validate the exercises, the solutions and the answer keys (see the module docstring).

    Parameters
    ----------
    exercises_dir, course_dir : path
    keys : mapping of str to ExerciseKey
    limits : Limits
        For the sandboxed runs of the exercises and the solutions.
    jobs : int
        Exercises graded, or solution variants run, at the same time.
    variants : int
        How many generated student ids (:func:`variant_ids`) the key stability
        check runs; 0 for none.
    student_ids : iterable of str
        More ids to check, e.g. a class roster's (:func:`~.variants.read_roster`).
    """
    exercises_dir, course_dir = Path(exercises_dir), Path(course_dir)
    for folder in (exercises_dir, course_dir):
        if not folder.is_dir():
            raise ValueError(f"{str(folder)!r} is not a folder; pass --exercises DIR and "
                             "--solutions DIR")
    if not is_int(variants) or variants < 0:
        raise ValueError(f"--variants must be a whole number >= 0, got {variants!r}")
    ids = list(dict.fromkeys([*variant_ids(variants), *(str(i).strip() for i in student_ids)]))
    checks = _name_checks(exercises_dir, course_dir, keys)
    options = {"course_dir": course_dir, "limits": limits, "jobs": jobs}
    checks += _score_check("solution", grade(course_dir, keys, **options), full=True)
    variant_keys = {name: key for name, key in keys.items() if key.variants}
    if variant_keys:
        report = grade(course_dir, variant_keys, student_id=VARIANT_PROBE_ID, **options)
        checks += _score_check(f"solution for student {VARIANT_PROBE_ID!r}", report, full=True)
    checks += _score_check("untouched exercise", grade(exercises_dir, keys, **options),
                           full=False)
    findings = check_variants(course_dir, keys, ids, jobs=jobs)
    return Validation(tuple(checks + stability_checks(findings, keys)))


# ----- keys right for every student ------------------------------------------------------

def variant_ids(n: int) -> list[str]:
    """The generated ids ``student1`` to ``student<n>`` that ``--variants n`` checks."""
    return [f"student{i}" for i in range(1, n + 1)]


@dataclass(frozen=True)
class VariantFinding:
    """One check of one question of one variant.

    Attributes
    ----------
    exercise, question : str
    student_id : str or None
        None for an exercise without variants.
    check : {"answer", "decision"}
        Whether the answer is usable, or whether its decision is implied and clear.
    margin : float
        The decision's margin (NaN for an ``answer`` check or when it cannot be computed).
    problem : str or None
        What is wrong; None if the check holds.
    """

    exercise: str
    question: str
    student_id: str | None
    check: str
    margin: float = math.nan
    problem: str | None = None


def run_solution(path: str | Path, names: Sequence[str], student_id: str | None = None
                 ) -> tuple[dict, dict]:
    """Run a trusted solution file in this process, for one student.

    The file's cells run one by one in a fresh namespace with
    ``$SIMLAB_STUDENT_ID`` set (and restored afterwards); what they print and
    the warnings they raise are dropped, and figures are closed.

    Returns
    -------
    answers : dict
        Encoded answers (:func:`~.answers.encode`) by question name.
    errors : dict
        Why a question has no answer, by name, led by any cell that failed.
    """
    path = Path(path)
    namespace = {"__name__": path.stem, "__file__": str(path), "__builtins__": builtins}
    failed, answers, errors = [], {}, {}
    env = {STUDENT_ENV: student_id or "", "MPLBACKEND": os.environ.get("MPLBACKEND") or "Agg"}
    with _environment(env), _quiet():
        for cell in read_cells(path):
            code = "\n" * (cell.line - 1) + cell.source
            try:
                exec(compile(code, str(path), "exec"), namespace)
            except Exception as err:  # noqa: BLE001 - reported as the answers' root cause
                failed.append(f"{cell.where} failed: {type(err).__name__}: {err}")
        for name in names:
            try:
                answers[name] = encode(question_answer(namespace, name))
            except Exception as err:  # noqa: BLE001
                errors[name] = "; ".join([*failed, f"{type(err).__name__}: {err}"])
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
    return answers, errors


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _check_variant(key: ExerciseKey, path: str, student_id: str | None) -> list[VariantFinding]:
    """Run the solution for one id and check every answer and decision of ``key``."""
    answers, errors = run_solution(path, [q.name for q in key.questions], student_id)
    context = KeyContext({name: decode(a) for name, a in answers.items()}, student_id)
    findings = []
    for q in key.questions:
        problem = answer_problem(q, answers.get(q.name), errors.get(q.name))
        findings.append(VariantFinding(key.name, q.name, student_id, "answer", problem=problem))
        if q.decision is not None and problem is None:
            margin, problem = decision_problem(q, context, answers[q.name])
            findings.append(VariantFinding(key.name, q.name, student_id, "decision", margin,
                                           problem))
    return findings


def check_variants(course_dir: str | Path, keys: Mapping[str, ExerciseKey],
                   student_ids: Sequence[str], *, jobs: int = 2) -> list[VariantFinding]:
    """Check the keys for every student id.

    A key with variants runs its solution for each of ``student_ids``; a key
    without variants runs once, without an id, if a question declares a
    decision; other keys are left to the full-marks check. A missing solution
    file is left to the check of the file names.

    Parameters
    ----------
    course_dir : path
    keys : mapping of str to ExerciseKey
    student_ids : sequence of str
    jobs : int
        Worker processes (joblib); 1 runs everything in this process.
    """
    from joblib import Parallel, delayed

    tasks = []
    for key in keys.values():
        path = find_exercise_file(course_dir, key.name)
        decides = any(q.decision is not None for q in key.questions)
        ids = list(student_ids) if key.variants else [None] if decides else []
        tasks += [(key, str(path), student_id) for student_id in ids if path is not None]
    if not tasks:
        return []
    found = Parallel(n_jobs=min(jobs, len(tasks)))(delayed(_check_variant)(*t) for t in tasks)
    return [finding for findings in found for finding in findings]


def stability_checks(findings: Sequence[VariantFinding],
                     keys: Mapping[str, ExerciseKey]) -> list[ValidationCheck]:
    """One check per exercise that its answers are usable for every variant, and one per
    decision that it is implied and clear for every variant."""
    checks = []
    for key in keys.values():
        own = [f for f in findings if f.exercise == key.name]
        if not own:
            continue
        n = len({f.student_id for f in own})
        answers = [f for f in own if f.check == "answer"]
        checks.append(ValidationCheck(
            f"{key.name}: the solution answers every question for {_variants(n)} "
            "(no error, finite numbers, valid choices)", not _failed(answers),
            _failure_detail(answers)))
        for q in key.questions:
            decided = [f for f in own if f.check == "decision" and f.question == q.name]
            if q.decision is not None and decided:
                checks.append(_decision_check(key.name, q, decided, n))
    return checks


def _decision_check(exercise: str, question, decided: list[VariantFinding],
                    n: int) -> ValidationCheck:
    margins = [f for f in decided if not math.isnan(f.margin)]
    worst = min(margins, key=lambda f: f.margin) if margins else None
    smallest = (f"; smallest {worst.margin:.3g}, {_who(worst.student_id)}" if worst else "")
    unchecked = n - len(decided)
    detail = "; ".join(filter(None, [_failure_detail(decided), (
        f"{unchecked} variant(s) not checked: their answer is unusable" if unchecked else "")]))
    return ValidationCheck(
        f"{exercise}: {question.name} is implied and clear for {_variants(n)} "
        f"({question.decision.measure} >= {question.decision.minimum:g}{smallest})",
        not _failed(decided) and not unchecked, detail)


def _failed(findings: Iterable[VariantFinding]) -> list[VariantFinding]:
    return [f for f in findings if f.problem is not None]


def _failure_detail(findings: Sequence[VariantFinding], shown: int = 5) -> str:
    failed = _failed(findings)
    lines = [f"{_who(f.student_id)}, {f.question}: {f.problem}" for f in failed[:shown]]
    if len(failed) > shown:
        lines.append(f"... and {len(failed) - shown} more")
    return "; ".join(lines)


def _who(student_id: str | None) -> str:
    return f"student id {student_id!r}" if student_id else "no student id"


def _variants(n: int) -> str:
    return f"{n} variant{'s' if n != 1 else ''}"
