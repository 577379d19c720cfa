"""Public checks: what a student needs to run ``simlab check`` without the solutions.

``simlab assign`` writes, beside each student file ``NAME.py``, a file
``NAME.checks.json`` holding the exercise's **public** questions only: the
prompt, points, hint, tolerance and choices, the expected answers (public
checks may reveal what they check, as otter's public tests do) and the
known mistakes' wrong answers with their hints, computed on the instructor's
machine. It holds no solution code and no hidden question's answer: a
mistake whose wrong answer equals a hidden answer is left out. Of the hidden
questions only the names are kept, so that ``check`` can tell a student that
a hidden question's function raises.

For exercises with per-student variants the answers are stored for the
default variant and for each student id of a roster, under a hash of the id.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from simlab._display import SummaryHTML

from .answers import check_encoded, decode, encode
from .compare import compare
from .course import Exercise
from .grader import ExerciseResult, expected_answers, score_file
from .questions import ExerciseKey, KeyContext, Mistake, Question
from .sandbox import Limits, RunOutcome

__all__ = ["CHECKS_SUFFIX", "FORMAT", "PublicChecks", "build_checks", "write_checks",
           "load_checks", "checks_path", "run_checks", "CheckReport"]

#: A checks file sits beside the student file: ``sleepstudy.py`` -> ``sleepstudy.checks.json``.
CHECKS_SUFFIX = ".checks.json"
FORMAT = "simlab-checks/1"
_QUESTION_FIELDS = ("name", "prompt", "points", "hint", "rtol", "atol", "visibility")


def checks_path(exercise_file: str | Path) -> Path:
    """Where the public checks of ``exercise_file`` are expected."""
    path = Path(exercise_file)
    return path.with_name(path.stem + CHECKS_SUFFIX)


def variant_tag(student_id: str | None) -> str:
    """The label of a student's variant in a checks file ("" for the default)."""
    if not student_id or not str(student_id).strip():
        return ""
    return hashlib.sha256(f"simlab-checks:{str(student_id).strip()}".encode()).hexdigest()[:16]


def build_checks(exercise: Exercise, *, student_ids: Iterable[str] = (),
                 limits: Limits = Limits(), env: Mapping[str, str] | None = None) -> dict:
    """The public checks of one exercise as JSON data (see the module docstring).

    ``env`` adds environment variables for the solution's runs (``SIMLAB_DATA_DIR``).
    """
    key = exercise.key
    ids = [None] + ([s for s in student_ids if s and str(s).strip()] if key.variants else [])
    variants = {variant_tag(sid): _variant_checks(exercise, sid, limits, env) for sid in ids}
    return {"format": FORMAT, "exercise": key.name, "title": key.title,
            "variants_by_student": key.variants, "data_files": list(key.data_files),
            "questions": [_question_data(q) for q in key.questions if not q.hidden],
            "hidden": [q.name for q in key.questions if q.hidden], "variants": variants}


def _question_data(question: Question) -> dict:
    data = {name: getattr(question, name) for name in _QUESTION_FIELDS}
    data["choices"] = list(question.choices) if question.choices else None
    return data


def _variant_checks(exercise: Exercise, student_id: str | None, limits: Limits,
                    env: Mapping[str, str] | None) -> dict:
    key = exercise.key
    run = expected_answers(key, exercise.source.parent, student_id, limits, env)
    failed = [q.name for q in key.questions if q.name not in run.answers]
    if failed:
        why = run.problem or next(iter(run.cell_errors), None) or run.errors.get(failed[0])
        raise ValueError(f"{key.name}: the solution gave no answer to {failed} ({why}); fix "
                         "the source file before assigning it")
    context = KeyContext({n: decode(a) for n, a in run.answers.items()},
                         student_id if key.variants else None)
    hidden = [q for q in key.questions if q.hidden]
    answers, mistakes = {}, {}
    for question in (q for q in key.questions if not q.hidden):
        answers[question.name] = run.answers[question.name]
        mistakes[question.name] = _public_mistakes(question, context, run, hidden)
    return {"answers": answers, "mistakes": mistakes}


def _public_mistakes(question: Question, context: KeyContext, run: RunOutcome,
                     hidden: list[Question]) -> list[dict]:
    """The mistakes' wrong answers, except any that would give a hidden answer away."""
    kept = []
    for mistake in question.mistakes:
        try:
            wrong = encode(mistake.wrong(context))
        except Exception:  # noqa: BLE001 - a broken diagnostic is simply left out
            continue
        # An option letter means nothing outside its own question, so choices are not compared.
        if not any(_same(run.answers[h.name], wrong, h) for h in hidden if not h.choices):
            kept.append({"hint": mistake.hint, "answer": wrong})
    return kept


def _same(answer: dict, wrong: dict, question: Question) -> bool:
    try:
        return compare(answer, wrong, rtol=question.rtol, atol=question.atol,
                       choices=question.choices).ok
    except Exception:  # noqa: BLE001 - incomparable kinds are not the same
        return False


def write_checks(path: str | Path, checks: dict) -> Path:
    """Write a checks file (JSON) and return its path."""
    path = Path(path)
    path.write_text(json.dumps(checks, indent=1, allow_nan=True) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class PublicChecks:
    """A loaded checks file for one student: the public key, its answers, the hidden names."""

    key: ExerciseKey
    expected: RunOutcome
    hidden: tuple[str, ...]


def load_checks(path: str | Path, student_id: str | None = None) -> PublicChecks:
    """Read a checks file for ``student_id``'s variant.

    Raises
    ------
    ValueError
        If the file is not a simlab checks file, or holds no checks for the variant.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        assert data["format"] == FORMAT
        questions = tuple(_question(q) for q in data["questions"])
    except (OSError, ValueError, KeyError, TypeError, AssertionError) as err:
        raise ValueError(f"{path} is not a simlab checks file ({type(err).__name__}); get it "
                         "again from your instructor (simlab assign writes it)") from None
    tag = variant_tag(student_id) if data.get("variants_by_student") else ""
    variant = data["variants"].get(tag)
    if variant is None:
        raise ValueError(f"{path.name} has no public checks for student id {student_id!r}; check "
                         "the id you were given, or ask your instructor for your checks file")
    questions = tuple(_with_mistakes(q, variant["mistakes"].get(q.name, ())) for q in questions)
    answers = {n: a for n, a in variant["answers"].items() if check_encoded(a) is None}
    key = ExerciseKey(data["exercise"], data["title"], questions, tuple(data["data_files"]),
                      bool(data["variants_by_student"]))
    return PublicChecks(key, RunOutcome(answers), tuple(data.get("hidden", ())))


def _question(data: dict) -> Question:
    fields = {name: data[name] for name in _QUESTION_FIELDS}
    return Question(**fields, choices=tuple(data["choices"]) if data.get("choices") else None)


def _with_mistakes(question: Question, stored) -> Question:
    mistakes = tuple(Mistake(m["hint"], lambda ctx, answer=m["answer"]: decode(answer))
                     for m in stored if check_encoded(m.get("answer")) is None)
    return Question(**{name: getattr(question, name) for name in _QUESTION_FIELDS},
                    choices=question.choices, mistakes=mistakes)


@dataclass(frozen=True)
class CheckReport(SummaryHTML):
    """What ``simlab check`` found: the public questions scored, and the hidden ones that raise.

    ``str(report)`` is the terminal text of ``simlab check``; in Jupyter the
    same text shows as HTML.
    """

    result: ExerciseResult
    hidden_errors: dict
    hidden_count: int

    def __str__(self) -> str:
        from .render import check_text  # render imports this module
        return check_text(self)

    @property
    def passed(self) -> bool:
        return all(q.passed for q in self.result.questions) and not self.result.problems


def run_checks(path: Path, key: ExerciseKey, expected: RunOutcome, hidden: tuple[str, ...], *,
               student_id: str | None = None, limits: Limits = Limits()) -> CheckReport:
    """Score the public questions of ``path``; of the hidden ones report only which raise
    (the exception type), never their expected values."""
    result, run = score_file(path, key, expected, student_id=student_id, limits=limits,
                             also=hidden)
    errors = {name: run.errors[name].split(":")[0].split(" (line")[0]
              for name in hidden if name in run.errors}
    return CheckReport(result, errors, len(hidden))
