"""Grading: run the solution and the student's file, and score each question.

For every exercise the solution file runs (in the same sandbox as the
student's, so both answers are encoded alike) to give the expected answers
for this student's variant; then the student's file runs and each question
is compared with :func:`simlab.grading.compare.compare`. The key stays in
this process. A failure in one exercise never stops the others.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .answers import decode, encode
from .compare import compare, describe
from .questions import ExerciseKey, KeyContext, Question
from .sandbox import Limits, RunOutcome, run_exercise
from .variants import STUDENT_ENV

__all__ = ["QuestionResult", "ExerciseResult", "GradeReport", "grade", "grade_exercise",
           "find_solutions", "find_exercise_file", "SOLUTIONS_ENV"]

#: Environment variable naming the folder of solution files.
SOLUTIONS_ENV = "SIMLAB_SOLUTIONS_DIR"


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
class ExerciseResult:
    """The graded questions of one exercise file, and what went wrong running it."""

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


@dataclass(frozen=True)
class GradeReport:
    """A whole submission's grade: one :class:`ExerciseResult` per exercise."""

    exercises: tuple[ExerciseResult, ...]
    student_id: str | None = None
    seconds: float = 0.0

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


def find_solutions(solutions_dir: str | Path | None = None, near: Path | None = None) -> Path:
    """The folder of solution files: the argument, ``$SIMLAB_SOLUTIONS_DIR``,
    ``solutions/`` beside ``near``'s folder, or the repository's ``solutions/``.

    Raises
    ------
    ValueError
        If none of them is a folder.
    """
    if solutions_dir is not None:
        candidates = [Path(solutions_dir)]
    else:
        candidates = [Path(os.environ[SOLUTIONS_ENV])] if os.environ.get(SOLUTIONS_ENV) else []
        if near is not None:
            candidates.append(Path(near).resolve().parent.parent / "solutions")
        candidates.append(Path(__file__).resolve().parents[2] / "solutions")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise ValueError(f"cannot find the solution files the answer key is computed from (looked "
                     f"in {[str(c) for c in candidates]}); pass --solutions DIR or set "
                     f"{SOLUTIONS_ENV}")


def find_exercise_file(folder: str | Path, name: str) -> Path | None:
    """``folder/name.py``, else ``folder/name.ipynb``, else None."""
    for suffix in (".py", ".ipynb"):
        path = Path(folder) / f"{name}{suffix}"
        if path.is_file():
            return path
    return None


def grade(submission_dir: str | Path, keys: Mapping[str, ExerciseKey], *,
          solutions_dir: str | Path, student_id: str | None = None,
          limits: Limits = Limits(), jobs: int = 2,
          on_result: Callable[[GradeReport], None] | None = None) -> GradeReport:
    """Grade every exercise of ``keys`` found (or missing) in ``submission_dir``.

    Parameters
    ----------
    submission_dir : path
        The student's copies of the exercise files, under the same names.
    keys : mapping of str to ExerciseKey
    solutions_dir : path
    student_id : str, optional
        Selects the per-student variant of exercises that have them.
    limits : Limits
    jobs : int
        Exercises graded at the same time.
    on_result : callable, optional
        Called with the partial report after each exercise, so a caller can
        save it before the rest is done.
    """
    submission_dir = Path(submission_dir)
    if not submission_dir.is_dir():
        raise ValueError(f"submission folder {str(submission_dir)!r} does not exist or is not "
                         "a folder; pass the folder holding the student's exercise files")
    start, done = time.perf_counter(), {}

    def one(key: ExerciseKey) -> ExerciseResult:
        result = grade_exercise(find_exercise_file(submission_dir, key.name), key,
                                solutions_dir=solutions_dir, student_id=student_id, limits=limits)
        done[key.name] = result
        if on_result is not None:
            on_result(_report([done[k] for k in keys if k in done], student_id, start))
        return result

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(one, keys.values()))
    return _report(results, student_id, start)


def _report(results: Iterable[ExerciseResult], student_id, start: float) -> GradeReport:
    return GradeReport(tuple(results), student_id, time.perf_counter() - start)


def grade_exercise(path: Path | None, key: ExerciseKey, *, solutions_dir: str | Path,
                   student_id: str | None = None, limits: Limits = Limits()) -> ExerciseResult:
    """Grade one exercise file (``path`` None: not submitted) against ``key``."""
    if path is None:
        missing = (f"no {key.name}.py (or .ipynb) in the submission; submit your exercise "
                   "file under this exact name")
        return ExerciseResult(key.name, key.title, None,
                              tuple(_result(key.name, q, 0.0, missing) for q in key.questions),
                              (missing,))
    env = {STUDENT_ENV: student_id or ""} if key.variants else {}
    names = [q.name for q in key.questions]
    with ThreadPoolExecutor(max_workers=1) as pool:  # the key's run overlaps the student's
        key_run = pool.submit(_expected_answers, key, Path(solutions_dir), names, limits, env)
        run = run_exercise(path, names, limits=limits, env=env)
        expected = key_run.result()
    context = _LazyContext(expected, student_id if key.variants else None)
    questions = tuple(score_question(key.name, q, expected, run, context) for q in key.questions)
    problems = run.cell_errors + ((run.problem,) if run.problem else ())
    return ExerciseResult(key.name, key.title, str(path), questions, problems,
                          _output_note(run), run.seconds)


def _output_note(run: RunOutcome) -> str:
    if run.output_chars > len(run.output):
        return (run.output + f"\n[... {run.output_chars - len(run.output)} more characters of "
                "printed output not shown]")
    return run.output


def _expected_answers(key: ExerciseKey, solutions_dir: Path, names: list[str],
                      limits: Limits, env: dict) -> RunOutcome:
    """Run the solution file; pinned published numbers replace its answers."""
    path = find_exercise_file(solutions_dir, key.name)
    if path is None:
        return RunOutcome(problem=f"the solution file {key.name}.py is missing from "
                                  f"{solutions_dir}")
    run = run_exercise(path, names, limits=limits, env=env)
    pinned = {q.name: encode(q.published) for q in key.questions if q.published is not None}
    if pinned and not (key.variants and env.get(STUDENT_ENV)):
        run = RunOutcome({**run.answers, **pinned}, run.errors, run.cell_errors, run.problem,
                         run.output, run.output_chars, run.seconds)
    return run


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
