"""Grading: compute the key, then run the student's file, and score each question.

For every exercise the solution file runs first (as the grader's own user,
in the same kind of sandbox as the student's, so both answers are encoded
alike) to give the expected answers for this student's variant. Only when
every key is known does any student code run, one exercise at a time, as
the sandbox account (:mod:`simlab.grading.isolation`); the key stays in
this process. Each question is compared with
:func:`simlab.grading.compare.compare`. A failure in one exercise never
stops the others.
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from simlab._display import SummaryHTML

from . import isolation
from .answers import decode, encode
from .compare import compare
from .questions import ExerciseKey, KeyContext, Question
from .sandbox import Limits, RunOutcome, refusal, run_exercise
from .variants import STUDENT_ENV

__all__ = ["QuestionResult", "ExerciseResult", "GradeReport", "grade", "grade_submission",
           "grade_exercise",
           "expected_answers", "score_file", "find_exercise_file", "locate_exercise",
           "ExposedKeyWarning"]

_SUFFIXES = (".py", ".ipynb")
_SKIPPED_FOLDERS = ("__MACOSX", "__pycache__")


class ExposedKeyWarning(UserWarning):
    """The grader runs as root but the sandbox account could read a solution file."""


@dataclass(frozen=True)
class QuestionResult:
    """The score of one question and the feedback that explains it."""

    exercise: str
    name: str
    prompt: str
    points: float
    score: float
    feedback: str
    visibility: str

    @property
    def passed(self) -> bool:
        return self.score >= self.points

    @property
    def status(self) -> str:
        """``"passed"`` or ``"failed"``, Gradescope's words."""
        return "passed" if self.passed else "failed"


@dataclass(frozen=True)
class ExerciseResult(SummaryHTML):
    """The graded questions of one exercise file, and what went wrong running it.

    ``str(result)`` is the terminal text of ``simlab check`` (a line per
    question, the run's problems, the quoted output); in Jupyter the same
    text shows as HTML.
    """

    name: str
    title: str
    file: str | None
    questions: tuple[QuestionResult, ...]
    problems: tuple[str, ...] = ()
    output: str = ""
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return float(sum(q.score for q in self.questions))

    @property
    def max_score(self) -> float:
        return float(sum(q.points for q in self.questions))

    def __str__(self) -> str:
        from .render import exercise_text  # render imports this module
        return exercise_text(self)


@dataclass(frozen=True)
class GradeReport(SummaryHTML):
    """A whole submission's grade: one :class:`ExerciseResult` per exercise.

    ``pending`` names the exercises not graded yet: a report saved while
    grading runs (or left by a grader that died) says it is incomplete.
    ``str(report)`` is ``simlab grade``'s text (every exercise, then the
    total); in Jupyter the same text shows as HTML.
    """

    exercises: tuple[ExerciseResult, ...]
    student_id: str | None = None
    seconds: float = 0.0
    pending: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.pending

    @property
    def score(self) -> float:
        return float(sum(e.score for e in self.exercises))

    @property
    def max_score(self) -> float:
        return float(sum(e.max_score for e in self.exercises))

    @property
    def questions(self) -> tuple[QuestionResult, ...]:
        return tuple(q for e in self.exercises for q in e.questions)

    @property
    def passed(self) -> bool:
        return all(q.passed for q in self.questions)

    def __str__(self) -> str:
        from .render import as_text  # render imports this module
        return as_text(self)


@dataclass(frozen=True)
class Located:
    """Where an exercise file was found in a submission, and what to tell about it."""

    path: Path | None
    notes: tuple[str, ...] = ()


def locate_exercise(folder: str | Path, name: str) -> Located:
    """Find ``name.py`` or ``name.ipynb`` in a submission folder, or one folder below it
    (an uploaded folder). When both are there the ``.py`` file is graded, with a note.

    A file reached through a symbolic link, or lying outside ``folder``, is refused
    by the sandbox; a linked folder is not searched.
    """
    folder = Path(folder)
    places = [folder] + sorted(p for p in _subfolders(folder))
    for place in places:
        found = [place / f"{name}{s}" for s in _SUFFIXES
                 if (place / f"{name}{s}").is_file() or (place / f"{name}{s}").is_symlink()]
        if found:
            notes = () if len(found) == 1 else (
                f"both {found[0].name} and {found[1].name} were submitted; {found[0].name} "
                "was graded (the .py file wins; submit only one)",)
            return Located(found[0], notes)
    return Located(None)


def _subfolders(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()
                and not p.name.startswith(".") and p.name not in _SKIPPED_FOLDERS]
    except OSError:
        return []


def find_exercise_file(folder: str | Path, name: str) -> Path | None:
    """The exercise file :func:`locate_exercise` finds, or None."""
    return locate_exercise(folder, name).path


def grade_submission(submission: str | Path, *, course=None,
                     exercises: Sequence[str] | None = None, student_id: str | None = None,
                     metadata: str | Path | None = None, limits: Limits | None = None,
                     jobs: int = 2, on_result: Callable[[GradeReport], None] | None = None
                     ) -> GradeReport:
    """Grade one student's submission folder against a course, as ``simlab grade`` does.

    Modelled on otter-grader's ``otter.api.grade_submission``: one call from a
    folder of exercise files to a report, for scripts and notebooks.

    Parameters
    ----------
    submission : path
        The folder holding the student's exercise files (``NAME.py`` or ``NAME.ipynb``).
    course : Course or path, optional
        The course, or its folder; default ``$SIMLAB_COURSE_DIR``, else simlab's
        built-in course (:func:`simlab.grading.course.load_course`).
    exercises : sequence of str, optional
        Grade only these exercises (default: all of the course).
    student_id : str, optional
        Grade this student's variant of the exercises that have them.
    metadata : path, optional
        Gradescope's ``submission_metadata.json`` to read the student id from
        (default: the one beside the submission folder, if any). Not with ``student_id``.
    limits : Limits, optional
        The sandbox's limits (default ``Limits()``).
    jobs : int
        Answer keys computed at once.
    on_result : callable, optional
        Called with the report so far: first with every exercise pending, then
        after each exercise and last with the report returned, so a caller can
        save a partial result.

    Returns
    -------
    GradeReport
        Its ``str`` is the terminal text; :mod:`simlab.grading.render` writes
        JSON and Gradescope's ``results.json``.
    """
    from .course import Course, load_course

    if student_id is not None and metadata is not None:
        raise ValueError("give student_id or metadata, not both")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer of at least 1, got {jobs!r}")
    course = course if isinstance(course, Course) else load_course(course)
    keys = course.select(None if exercises is None else list(exercises))
    student_id = student_id or _metadata_student_id(submission, metadata)
    if on_result is not None:  # from the start a saved report says grading has not finished
        on_result(GradeReport((), student_id, pending=tuple(keys)))
    report = grade(submission, keys, course_dir=course.root, student_id=student_id,
                   limits=Limits() if limits is None else limits, jobs=jobs,
                   on_result=on_result)
    if on_result is not None:  # the saved report is the one returned, total time included
        on_result(report)
    return report


def _metadata_student_id(submission: str | Path, metadata: str | Path | None) -> str | None:
    """The student id of Gradescope's metadata file (given, else beside the submission)."""
    from .variants import student_id_from_metadata

    path = Path(metadata) if metadata is not None else (
        Path(submission).resolve().parent / "submission_metadata.json")
    if path.is_file():
        return student_id_from_metadata(path)
    if metadata is not None:
        warnings.warn(f"metadata file {metadata} not found; grading the default variant",
                      stacklevel=3)
    return None


def grade(submission_dir: str | Path, keys: Mapping[str, ExerciseKey], *,
          course_dir: str | Path, student_id: str | None = None,
          limits: Limits = Limits(), jobs: int = 2,
          on_result: Callable[[GradeReport], None] | None = None) -> GradeReport:
    """Grade every exercise of ``keys`` found (or missing) in ``submission_dir``.

    Every key is computed first (``jobs`` at a time); then the student's
    files run one at a time, so no student code runs while a key is made.

    Parameters
    ----------
    submission_dir : path
        The student's copies of the exercise files, under the same names.
    keys : mapping of str to ExerciseKey
    course_dir : path
    student_id : str, optional
        Selects the per-student variant of exercises that have them.
    limits : Limits
    jobs : int
        Keys computed at the same time.
    on_result : callable, optional
        Called with the partial report after each exercise, so a caller can
        save it before the rest is done.
    """
    submission_dir = Path(submission_dir)
    if not submission_dir.is_dir():
        raise ValueError(f"submission folder {str(submission_dir)!r} does not exist or is not "
                         "a folder; pass the folder holding the student's exercise files")
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        expected = dict(zip(keys, pool.map(
            lambda key: expected_answers(key, course_dir, student_id, limits), keys.values())))
    results = []
    for key in keys.values():
        results.append(_grade_against(submission_dir, key, expected[key.name], student_id,
                                      limits))
        if on_result is not None:
            on_result(_report(results, student_id, start, keys))
    return _report(results, student_id, start, keys)


def _report(results: list[ExerciseResult], student_id, start: float,
            keys: Mapping[str, ExerciseKey]) -> GradeReport:
    graded = {r.name for r in results}
    return GradeReport(tuple(results), student_id, time.perf_counter() - start,
                       tuple(name for name in keys if name not in graded))


def grade_exercise(path: Path | None, key: ExerciseKey, *, course_dir: str | Path,
                   student_id: str | None = None, limits: Limits = Limits()) -> ExerciseResult:
    """Grade one exercise file (``path`` None: not submitted) against ``key``: the key's run
    first, then the student's."""
    expected = expected_answers(key, course_dir, student_id, limits)
    located = Located(None) if path is None else Located(Path(path))
    return _score_run(located, key, expected, student_id, limits)


def _grade_against(folder: Path, key: ExerciseKey, expected: RunOutcome, student_id,
                   limits: Limits) -> ExerciseResult:
    located = locate_exercise(folder, key.name)
    if located.path is not None and refusal(located.path) is None and not _inside(
            located.path, folder):
        why = f"{located.path.name} lies outside the submission folder, which is not accepted"
        return _zero(key, located.path, why)
    return _score_run(located, key, expected, student_id, limits)


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def _zero(key: ExerciseKey, path: Path | None, why: str) -> ExerciseResult:
    return ExerciseResult(key.name, key.title, None if path is None else str(path),
                          tuple(_result(key.name, q, 0.0, why) for q in key.questions), (why,))


def _score_run(located: Located, key: ExerciseKey, expected: RunOutcome, student_id,
               limits: Limits) -> ExerciseResult:
    """Run the student's file (after the key is known) and score every question."""
    if located.path is None:
        return _zero(key, None, f"no {key.name}.py (or .ipynb) in the submission; submit your "
                                "exercise file under this exact name")
    why = refusal(located.path)
    if why is not None:
        return _zero(key, located.path, why)
    return score_file(located.path, key, expected, student_id=student_id, limits=limits,
                      notes=located.notes)[0]


def score_file(path: Path, key: ExerciseKey, expected: RunOutcome, *,
               student_id: str | None = None, limits: Limits = Limits(),
               also: tuple[str, ...] = (), notes: tuple[str, ...] = ()
               ) -> tuple[ExerciseResult, RunOutcome]:
    """Run a student's file against a key already computed and score every question.

    Parameters
    ----------
    path : Path
    key : ExerciseKey
    expected : RunOutcome
        The key's answers (:func:`expected_answers`, or a public-checks file).
    student_id : str, optional
    limits : Limits
    also : tuple of str
        More names to call (e.g. hidden questions, to report whether they raise);
        their answers and errors are in the returned run only.
    notes : tuple of str
        Remarks to report with the run's problems.
    """
    run = run_exercise(path, [q.name for q in key.questions] + list(also), limits=limits,
                       env=_variant_env(key, student_id), data_files=key.data_files)
    context = _LazyContext(expected, student_id if key.variants else None)
    questions = tuple(_safe_score(key.name, q, expected, run, context) for q in key.questions)
    problems = notes + run.cell_errors + ((run.problem,) if run.problem else ())
    return ExerciseResult(key.name, key.title, str(path), questions, problems,
                          _output_note(run), run.seconds), run


def _safe_score(exercise: str, question: Question, expected: RunOutcome, run: RunOutcome,
                context) -> QuestionResult:
    """:func:`score_question`; an answer that cannot be compared scores 0, never crashes."""
    try:
        return score_question(exercise, question, expected, run, context)
    except Exception as error:  # noqa: BLE001 - the answer came from student code
        return _result(exercise, question, 0.0, "your answer could not be compared with the "
                       f"key ({type(error).__name__}); return the kind of value the question "
                       f"asks for. Hint: {question.hint}")


def _variant_env(key: ExerciseKey, student_id: str | None) -> dict:
    return {STUDENT_ENV: student_id or ""} if key.variants else {}


def _output_note(run: RunOutcome) -> str:
    if run.output_chars > len(run.output):
        return (run.output + f"\n[... {run.output_chars - len(run.output)} more characters of "
                "printed output not shown]")
    return run.output


def expected_answers(key: ExerciseKey, course_dir: str | Path, student_id: str | None,
                     limits: Limits = Limits(), env: Mapping[str, str] | None = None
                     ) -> RunOutcome:
    """The key: the solution's answers for this student; pinned published numbers replace
    the solution's. ``env`` adds environment variables (e.g. ``SIMLAB_DATA_DIR``)."""
    path = find_exercise_file(course_dir, key.name)
    if path is None:
        return RunOutcome(problem=f"the solution file {key.name}.py is missing from "
                                  f"{course_dir}")
    _warn_if_exposed(path)
    env = {**(env or {}), **_variant_env(key, student_id)}
    run = run_exercise(path, [q.name for q in key.questions], limits=limits, env=env,
                       data_files=key.data_files, trusted=True)
    pinned = {q.name: encode(q.published) for q in key.questions if q.published is not None}
    if pinned and not (key.variants and env.get(STUDENT_ENV)):
        run = RunOutcome({**run.answers, **pinned}, run.errors, run.cell_errors, run.problem,
                         run.output, run.output_chars, run.seconds)
    return run


def _warn_if_exposed(path: Path) -> None:
    if isolation.is_root() and isolation.readable_by_others(path):
        warnings.warn(f"the solution file {path} is readable by every user, so also by the "
                      f"sandbox account that runs student code; chmod -R go-rwx "
                      f"{path.parent} (run_autograder does this on Gradescope)",
                      ExposedKeyWarning, stacklevel=3)


class _LazyContext:
    """Decodes the key's answers only when a mistake needs them."""

    def __init__(self, expected: RunOutcome, student_id: str | None) -> None:
        self._expected, self._student_id, self._context = expected, student_id, None

    def get(self) -> KeyContext:
        if self._context is None:
            decoded = {name: decode(answer) for name, answer in self._expected.answers.items()}
            self._context = KeyContext(decoded, self._student_id)
        return self._context


def _result(exercise: str, question: Question, score: float, feedback: str) -> QuestionResult:
    return QuestionResult(exercise, question.name, question.prompt, float(question.points),
                          score, feedback, question.visibility)


def score_question(exercise: str, question: Question, expected: RunOutcome, run: RunOutcome,
                   context: _LazyContext) -> QuestionResult:
    """Score one question from the key's run and the student's run."""
    want = expected.answers.get(question.name)
    if want is None:
        # A failing cell of the solution is the root cause of the question errors it leads to.
        why = (expected.problem or next(iter(expected.cell_errors), None)
               or expected.errors.get(question.name) or "no answer")
        return _result(exercise, question, 0.0, "could not be checked because the answer key "
                       f"failed ({why}); tell your instructor")
    got = run.answers.get(question.name)
    if got is None:
        why = run.errors.get(question.name)
        reason = f"your code raised an error: {why}" if why else f"not graded: {run.problem}"
        return _result(exercise, question, 0.0, f"{reason}. Hint: {question.hint}")
    verdict = compare(want, got, rtol=question.rtol, atol=question.atol, choices=question.choices)
    if verdict.ok:
        return _result(exercise, question, float(question.points), "correct")
    # The verdict states the mismatch (and the expected form, where that is what is off)
    # once; the feedback adds only the hint.
    hint = _matching_mistake(question, got, context) or question.hint
    return _result(exercise, question, 0.0, f"{verdict.problem}. Hint: {hint}")


def _matching_mistake(question: Question, got: dict, context: _LazyContext) -> str | None:
    """The hint of the first known mistake whose answer equals the student's."""
    for mistake in question.mistakes:
        try:
            wrong = encode(mistake.wrong(context.get()))
        except Exception:  # noqa: BLE001 - a broken diagnostic must not break grading
            continue
        if compare(wrong, got, rtol=question.rtol, atol=question.atol,
                   choices=question.choices).ok:
            return mistake.hint
    return None
