"""A course: a folder of instructor source files, one per exercise.

Each source file is a jupytext percent-format notebook (``NAME.py``) that
holds, for one exercise (see ``docs/authoring.md``):

- the text and code students see: markdown cells and code cells;
- the solution, marked in the code as otter-assign and nbgrader do: a line
  ending in ``# SOLUTION``, or the lines between ``# BEGIN SOLUTION`` and
  ``# END SOLUTION``. In the student's file they become a stub,
  ``return ...  # replace ... with your answer`` when the solution returns,
  else ``...  # replace ... with your answer`` (:func:`student_text`);
- one or more ``# %% [key]`` cells: instructor-only Python that defines
  ``TITLE`` and ``QUESTIONS`` (a list of :class:`~simlab.grading.questions.Question`:
  points, tolerance, visibility, hints, known mistakes) and optionally
  ``DATA_FILES`` and ``VARIANTS``. Only the grader runs them, in its own
  process; students never receive them.

The source file itself is the solution the key is computed from: the
sandbox skips key cells. An optional ``course.toml`` gives the course a
``title`` and the ``exercises`` in teaching order (default: file names,
sorted). The built-in course is the repository's ``solutions/`` folder.
"""
from __future__ import annotations

import ast
import os
import re
import sys
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .cells import CELL_MARKER, cell_kind, key_cells
from .questions import ExerciseKey, Question

__all__ = ["Exercise", "Course", "load_course", "find_course", "student_text", "COURSE_ENV",
           "STUB", "exercise_key", "course_title", "solution_text"]

#: Environment variable naming the course folder.
COURSE_ENV = "SIMLAB_COURSE_DIR"
#: What replaces a solution in the student's file.
STUB = "...  # replace ... with your answer"
_LINE_MARK = re.compile(r"^(?P<indent>\s*)(?P<code>.*?)\s*#\s*SOLUTION\s*$")
_BEGIN = re.compile(r"^(?P<indent>\s*)#\s*BEGIN SOLUTION\s*$")
_END = re.compile(r"^\s*#\s*END SOLUTION\s*$")
_ASSIGNMENT = re.compile(r"^(?P<target>[A-Za-z_][\w.\[\]'\" ,]*?)\s*(?P<op>[-+*/]?=)(?!=)")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Exercise:
    """One exercise of a course: its source file and its answer key."""

    name: str
    source: Path
    key: ExerciseKey

    def student_text(self) -> str:
        """The file students receive (see :func:`student_text`)."""
        return student_text(self.source.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Course:
    """A course folder and its exercises in teaching order."""

    root: Path
    title: str
    exercises: Mapping[str, Exercise]

    @property
    def keys(self) -> dict[str, ExerciseKey]:
        """The answer keys by exercise name."""
        return {name: exercise.key for name, exercise in self.exercises.items()}

    def select(self, names: list[str] | None) -> dict[str, ExerciseKey]:
        """The keys of ``names`` (all when None), in course order.

        Raises
        ------
        ValueError
            Naming the unknown exercises and the course's own.
        """
        if not names:
            return self.keys
        unknown = sorted(set(names) - set(self.exercises))
        if unknown:
            raise ValueError(f"unknown exercise(s) {unknown} in the course {self.root}; choose "
                             f"from {list(self.exercises)}")
        return {name: key for name, key in self.keys.items() if name in names}


def find_course(course: str | Path | None = None) -> Path:
    """The course folder: ``course``, ``$SIMLAB_COURSE_DIR``, or the built-in course
    (the ``solutions/`` folder of simlab's source tree).

    Raises
    ------
    ValueError
        If none of them is a folder.
    """
    if course is not None:
        candidates = [Path(course)]
    else:
        candidates = [Path(os.environ[COURSE_ENV])] if os.environ.get(COURSE_ENV) else []
        candidates.append(Path(__file__).resolve().parents[2] / "solutions")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise ValueError(f"no course folder found (looked in {[str(c) for c in candidates]}); "
                     f"pass --course DIR (the instructor's source files) or set {COURSE_ENV}")


def load_course(course: str | Path | None = None) -> Course:
    """Read a course folder (default: :func:`find_course`): every exercise's key.

    Raises
    ------
    ValueError
        If the folder holds no exercise, ``course.toml`` is malformed, or a
        key cell fails or does not define ``TITLE`` and ``QUESTIONS``.
    """
    root = find_course(course)
    title, order = _read_config(root)
    sources = {p.stem: p for p in sorted(root.glob("*.py")) if key_cells(_read(p))}
    if not sources:
        raise ValueError(f"{root} holds no exercise source file (a .py file with a "
                         "'# %% [key]' cell); see docs/authoring.md")
    missing = [name for name in order if name not in sources]
    if missing:
        raise ValueError(f"course.toml in {root} lists {missing}, which have no source file "
                         "with a key cell there")
    names = order + sorted(n for n in sources if n not in order)
    return Course(root, title, {n: Exercise(n, sources[n], exercise_key(sources[n]))
                                for n in names})


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def course_title(root: Path) -> str:
    """The title in ``root/course.toml``, else the folder's name."""
    return _read_config(Path(root))[0]


def _read_config(root: Path) -> tuple[str, list[str]]:
    path = root / "course.toml"
    if not path.is_file():
        return root.name, []
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        config = tomllib.loads(_read(path))
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path} is not valid TOML: {err}") from None
    title, order = config.get("title", root.name), config.get("exercises", [])
    if not isinstance(title, str) or not (isinstance(order, list)
                                          and all(isinstance(n, str) for n in order)):
        raise ValueError(f"{path}: 'title' must be a string and 'exercises' a list of names")
    return title, order


def exercise_key(source: Path) -> ExerciseKey:
    """Run the key cells of ``source`` (instructor code, in this process) into its key."""
    namespace = {"__name__": f"simlab_key_{source.stem}", "__file__": str(source)}
    for cell in key_cells(_read(source)):
        code = "\n" * (cell.line - 1) + cell.source  # tracebacks give the file's lines
        try:
            exec(compile(code, str(source), "exec"), namespace)
        except Exception as err:  # noqa: BLE001 - any failure of the author's code
            raise ValueError(f"the key cell of {source.name} ({cell.where}) failed: "
                             f"{type(err).__name__}: {err}") from err
    return _build_key(source, namespace)


def _build_key(source: Path, namespace: dict) -> ExerciseKey:
    title, questions = namespace.get("TITLE"), namespace.get("QUESTIONS")
    if not isinstance(title, str) or not isinstance(questions, (list, tuple)) or not all(
            isinstance(q, Question) for q in questions) or not questions:
        raise ValueError(f"the key cells of {source.name} must define TITLE (a string) and "
                         "QUESTIONS (a non-empty list of simlab.grading.authoring.Question)")
    bad = [q.name for q in questions if not _NAME.match(q.name)]
    if bad:
        raise ValueError(f"{source.name}: question names must be Python names, got {bad}")
    data_files = tuple(namespace.get("DATA_FILES", ()))
    return ExerciseKey(source.stem, title, tuple(questions), data_files,
                       bool(namespace.get("VARIANTS", False)))


def student_text(source: str) -> str:
    """The student's file made from an instructor's source text.

    Key cells are removed; each solution becomes a stub (see the module
    docstring). Everything else is kept as written.

    Raises
    ------
    ValueError
        If a ``# BEGIN SOLUTION`` has no ``# END SOLUTION`` (or the reverse).
    """
    out, block, kind = [], None, "code"
    for number, line in enumerate(source.splitlines(), start=1):
        marker = CELL_MARKER.match(line)
        if marker:
            _check_closed(block)
            kind = cell_kind(marker.group(1))
        if kind == "key":
            continue
        if kind == "markdown" or marker:
            out.append(line)
        elif block is not None:
            block = _inside_block(line, block, out)
        elif _BEGIN.match(line):
            block = {"indent": _BEGIN.match(line)["indent"], "lines": [], "line": number}
        elif _END.match(line):
            raise ValueError(f"line {number}: '# END SOLUTION' without '# BEGIN SOLUTION'")
        else:
            out.append(_stub_line(line))
    _check_closed(block)
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out) + "\n"


def solution_text(source: str) -> str:
    """The solution as a plain file (to publish after the deadline, or to edit in tests):
    key cells and solution markers removed, the solution code kept."""
    out, kind = [], "code"
    for line in source.splitlines():
        marker = CELL_MARKER.match(line)
        if marker:
            kind = cell_kind(marker.group(1))
        if kind == "key" or (kind == "code" and not marker and (_BEGIN.match(line)
                                                                or _END.match(line))):
            continue
        mark = _LINE_MARK.match(line) if kind == "code" and not marker else None
        out.append(f"{mark['indent']}{mark['code']}" if mark else line)
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out) + "\n"


def _check_closed(block) -> None:
    if block is not None:
        raise ValueError(f"line {block['line']}: '# BEGIN SOLUTION' has no '# END SOLUTION' "
                         "in its cell")


def _inside_block(line: str, block: dict, out: list[str]):
    if not _END.match(line):
        block["lines"].append(line)
        return block
    out.append(block["indent"] + ("return " if _returns(block["lines"]) else "") + STUB)
    return None


def _returns(lines: list[str]) -> bool:
    """Whether the last statement of a solution block is a ``return``."""
    try:
        body = ast.parse(textwrap.dedent("\n".join(lines))).body
    except SyntaxError:
        code = [text.strip() for text in lines if text.strip()]
        return bool(code) and code[-1].startswith("return")
    return bool(body) and isinstance(body[-1], ast.Return)
def _stub_line(line: str) -> str:
    mark = _LINE_MARK.match(line)
    if mark is None:
        return line
    indent, code = mark["indent"], mark["code"]
    if code.startswith("return"):
        return f"{indent}return {STUB}"
    assignment = _ASSIGNMENT.match(code)
    if assignment:
        return f"{indent}{assignment['target'].strip()} {assignment['op']} {STUB}"
    return f"{indent}{STUB}"
