"""A :class:`~simlab.grading.grader.GradeReport` as text, JSON or Gradescope's results.json.

None of the formats contains an expected answer: the grader's feedback says
what is off and how to fix it, never what the key holds. What the student's
file printed is shown only as a quoted block (:func:`printed_output`), so it
cannot pose as the grader's own text.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from .checks import CheckReport
from .grader import ExerciseResult, GradeReport

__all__ = ["check_text", "as_text", "as_dict", "as_gradescope", "write_atomic", "FORMATS", "render",
           "printed_output", "PRINTED_HEADER"]

FORMATS = ("text", "json", "gradescope")
#: Gradescope visibility of public and hidden questions.
GRADESCOPE_VISIBILITY = {"public": "visible", "hidden": "after_published"}
#: The header above the quoted printed output.
PRINTED_HEADER = "What your file printed:"
#: At most this many characters and lines of printed output are shown.
PRINTED_CHARS, PRINTED_LINES = 2000, 40
#: ANSI escape sequences: CSI (colours, cursor moves), OSC (titles, links), two-byte escapes.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
#: Control characters but tab and newline, C1 controls, and the Unicode format characters
#: that move or hide text (zero-width spaces, bidirectional overrides, line separators).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e"
                      "\u2060-\u2069\ufeff]")


def _points(value: float) -> str:
    return f"{value:g}"


def printed_output(text: str, *, max_chars: int = PRINTED_CHARS,
                   max_lines: int = PRINTED_LINES) -> str:
    """What a student's file printed, as a quoted block ("" if it printed nothing).

    ANSI escape sequences and control characters are removed, every line is
    prefixed with ``"| "``, and at most ``max_chars`` characters in
    ``max_lines`` lines are kept, followed (outside the quote) by a note
    that the rest was cut. So nothing printed can pose as the grader's text.

    Parameters
    ----------
    text : str
        The captured output (``ExerciseResult.output``).
    max_chars, max_lines : int
    """
    clean = _CONTROL.sub("", _ANSI.sub("", text.replace("\r\n", "\n"))).rstrip()
    if not clean.strip():
        return ""
    lines = clean[:max_chars].split("\n")[:max_lines]
    block = "\n".join("| " + line for line in lines)
    if sum(len(line) + 1 for line in lines) - 1 < len(clean):
        block += (f"\n[printed output cut: only its first {len(lines)} line(s), at most "
                  f"{max_chars} characters, are shown]")
    return block


def check_text(report: CheckReport) -> str:
    """``simlab check``'s report: the public questions, then which hidden questions raise
    (the exception's type only; their answers are checked when the work is graded)."""
    text = exercise_text(report.result, hidden_note=report.hidden_count)
    if not report.hidden_errors:
        return text
    lines = [f"  ! hidden question {name}: your function fails ({what}); fix it before you "
             "submit" for name, what in report.hidden_errors.items()]
    head, _, printed = text.partition("\n\n" + PRINTED_HEADER)
    return "\n".join([head, *lines]) + (f"\n\n{PRINTED_HEADER}{printed}" if printed else "")


def exercise_text(result: ExerciseResult, *, hidden_note: int = 0) -> str:
    """One exercise: a line per question (✓/✗, points, feedback), the run's problems and,
    quoted, what the file printed."""
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
    printed = printed_output(result.output)
    if printed:
        lines += ["", PRINTED_HEADER, printed]
    return "\n".join(lines)


def as_text(report: GradeReport) -> str:
    """The whole report for a terminal."""
    who = f" for student {report.student_id}" if report.student_id else ""
    parts = [exercise_text(e) for e in report.exercises]
    parts.append(f"Total{who}: {_points(report.score)}/{_points(report.max_score)} points "
                 f"({report.seconds:.1f} s)" + _pending_note(report))
    return "\n\n".join(parts)


def _pending_note(report: GradeReport) -> str:
    """A sentence (after a space) naming the exercises not graded yet; "" once complete."""
    if report.complete:
        return ""
    return (f" Grading has not finished: {', '.join(report.pending)} not graded yet, so these "
            "points are incomplete.")


def as_dict(report: GradeReport) -> dict:
    """The report as plain JSON data, one entry per exercise and question."""
    return {
        "student_id": report.student_id, "score": report.score, "max_score": report.max_score,
        "seconds": round(report.seconds, 3), "pending": list(report.pending),
        "exercises": [{
            "name": e.name, "title": e.title, "file": e.file, "score": e.score,
            "max_score": e.max_score, "problems": list(e.problems),
            "output": printed_output(e.output),
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
    # Gradescope's specification (https://gradescope-autograders.readthedocs.io/en/latest/specs/,
    # "Controlling Test Case Visibility"): "If test cases are hidden, students will not be able
    # to see their total score"; "hidden" is meant for tests worth no points, so the hidden
    # questions, which carry points, are "after_published". The top-level "score" (which
    # "overrides total of tests if specified") is therefore the sum of all tests, kept from
    # students by Gradescope until grades are published. The top-level "output" is shown at
    # once, so it states only the visible tests' totals.
    return {"score": report.score, "execution_time": round(report.seconds, 1),
            "output": _gradescope_summary(report, tests), "visibility": "visible",
            "stdout_visibility": "hidden", "tests": tests}


def _gradescope_summary(report: GradeReport, tests: list[dict]) -> str:
    """The top-level ``output``: the visible tests' points only, never the hidden ones'."""
    who = f" (variant of student id {report.student_id})" if report.student_id else ""
    visible = [t for t in tests if t["visibility"] == "visible"]
    later = len(tests) - len(visible)
    score, max_score = sum(t["score"] for t in visible), sum(t["max_score"] for t in visible)
    text = f"simlab autograder{who}: the visible tests score {score:g}/{max_score:g} points."
    if later:
        text += (f" {later} further test(s) are graded now; their results and your total "
                 "are shown when grades are published.")
    return (text + _pending_note(report)
            + " Each test names the exercise and question; failed tests say what to fix.")


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
