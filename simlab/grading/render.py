"""A :class:`~simlab.grading.grader.GradeReport` as text, JSON or Gradescope's results.json.

None of the formats contains an expected answer: the grader's feedback says
what is off and how to fix it, never what the key holds.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from .grader import ExerciseResult, GradeReport

__all__ = ["as_text", "as_dict", "as_gradescope", "write_atomic", "FORMATS", "render"]

FORMATS = ("text", "json", "gradescope")
#: Gradescope visibility of public and hidden questions.
GRADESCOPE_VISIBILITY = {"public": "visible", "hidden": "after_published"}


def _points(value: float) -> str:
    return f"{value:g}"


def exercise_text(result: ExerciseResult, *, hidden_note: int = 0) -> str:
    """One exercise: a line per question (✓/✗, points, feedback) and the run's problems."""
    lines = [f"{result.name} ({result.title}): {_points(result.score)}/"
             f"{_points(result.max_score)} points"]
    for problem in result.problems:
        lines.append(f"  ! {problem}")
    for q in result.questions:
        mark = "ok  " if q.passed else "FAIL"
        lines.append(f"  {mark} {q.name} [{_points(q.score)}/{_points(q.points)}] {q.prompt}")
        if not q.passed:
            lines.append(f"         {q.feedback}")
    if hidden_note:
        lines.append(f"  ({hidden_note} hidden question(s) are checked only when your work is "
                     "graded)")
    return "\n".join(lines)


def as_text(report: GradeReport) -> str:
    """The whole report for a terminal."""
    who = f" for student {report.student_id}" if report.student_id else ""
    parts = [exercise_text(e) for e in report.exercises]
    parts.append(f"Total{who}: {_points(report.score)}/{_points(report.max_score)} points "
                 f"({report.seconds:.1f} s)")
    return "\n\n".join(parts)


def as_dict(report: GradeReport) -> dict:
    """The report as plain JSON data, one entry per exercise and question."""
    return {
        "student_id": report.student_id, "score": report.score, "max_score": report.max_score,
        "seconds": round(report.seconds, 3),
        "exercises": [{
            "name": e.name, "title": e.title, "file": e.file, "score": e.score,
            "max_score": e.max_score, "problems": list(e.problems), "output": e.output,
            "questions": [{"name": q.name, "prompt": q.prompt, "score": q.score,
                           "max_score": q.points, "status": q.status, "feedback": q.feedback,
                           "visibility": q.visibility} for q in e.questions],
        } for e in report.exercises],
    }


def as_gradescope(report: GradeReport) -> dict:
    """Gradescope's ``results.json``: ``score``, ``execution_time``, ``output`` and ``tests``."""
    tests = []
    for i, exercise in enumerate(report.exercises, start=1):
        notes = "".join(f"\nProblem running {exercise.name}: {p}" for p in exercise.problems)
        for j, q in enumerate(exercise.questions, start=1):
            tests.append({
                "name": f"{exercise.name}: {q.prompt}", "number": f"{i}.{j}",
                "score": q.score, "max_score": q.points, "status": q.status,
                "output": q.feedback + (notes if not q.passed else ""),
                "visibility": GRADESCOPE_VISIBILITY[q.visibility], "tags": [exercise.name],
            })
    who = f" (variant of student id {report.student_id})" if report.student_id else ""
    return {"score": report.score, "execution_time": round(report.seconds, 1),
            "output": f"simlab autograder{who}: {report.score:g}/{report.max_score:g} points. "
                      "Each test names the exercise and question; failed tests say what to fix.",
            "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}


def render(report: GradeReport, fmt: str) -> str:
    """The report in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "text":
        return as_text(report)
    if fmt == "json":
        return json.dumps(as_dict(report), indent=2)
    if fmt == "gradescope":
        return json.dumps(as_gradescope(report), indent=2)
    raise ValueError(f"unknown format {fmt!r}; choose from {FORMATS}")


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename, so a reader
    (or a kill) never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
