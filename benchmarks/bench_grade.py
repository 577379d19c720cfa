"""Wall time of ``simlab grade`` on the built-in course's four solutions, against plain python.

Run by hand from the repository root (as root, like Gradescope, to include the
sandbox account)::

    SIMLAB_DATA_DIR=/path/to/data python benchmarks/bench_grade.py [--runs 3] [--jobs 2]

From the built-in course (``solutions/``) it makes, in a temporary folder:

* a copy of the course, readable only by its owner, as ``run_autograder``
  leaves it on Gradescope;
* a submission of the four solutions as plain files
  (:func:`simlab.grading.course.solution_text`);
* the untouched student files (:func:`simlab.grading.assign.write_student_files`);
* the peer: each solution file followed by a cell that computes every
  question's answer, as the grader's child does.

Each round, interleaved so that all share the machine's load, it times with
:func:`time.perf_counter`:

* ``simlab grade`` of the solutions, the whole command in a fresh process
  (keys first, ``--jobs`` at a time, then each file in the sandbox);
* ``simlab grade`` of the untouched student files (keys and sandbox, next to
  no student code);
* the peer: the four files run one after the other by plain ``python``, one
  process each.

It prints the medians, grade / peer (the cost of grading's isolation over
just executing the files) and the target from the issue (under 30 s on 2
cores) with PASS or MISS. See ``benchmarks/README.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_fit import print_environment, verdict
from simlab.grading.assign import write_student_files
from simlab.grading.course import Course, load_course, solution_text
from simlab.grading.sandbox import DATA_ENV

TARGET_SECONDS = 30.0
#: Appended to each solution for the peer: compute every answer, as the grader's child does.
ANSWER_CELL = """
# %%
for _name in {names!r}:
    _value = globals()[_name]
    _answer = _value() if callable(_value) and not isinstance(_value, type) else _value
"""


def private_course(course: Course, folder: Path) -> Path:
    """Copy the course into ``folder``, readable by its owner only (as on Gradescope)."""
    shutil.copytree(course.root, folder)
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)
    return folder


def write_solutions(course: Course, folder: Path, answers: bool = False) -> list[Path]:
    """Write each solution as a plain file into ``folder``; with ``answers``, plus the cell
    that computes every question's answer. Returns the files in course order."""
    folder.mkdir()
    files = []
    for name, exercise in course.exercises.items():
        text = solution_text(exercise.source.read_text(encoding="utf-8"))
        if answers:
            text += ANSWER_CELL.format(names=[q.name for q in exercise.key.questions])
        files.append(folder / f"{name}.py")
        files[-1].write_text(text, encoding="utf-8")
    return files


def grade_once(submission: Path, course_dir: Path, jobs: int) -> tuple[float, dict]:
    """Seconds of one ``simlab grade`` command, and its JSON report."""
    command = [sys.executable, "-m", "simlab", "grade", str(submission), "--course",
               str(course_dir), "--jobs", str(jobs), "--format", "json"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, json.loads(done.stdout)


def plain_once(files: list[Path]) -> float:
    """Seconds to run ``files`` with plain python, one process each, one after the other."""
    start = time.perf_counter()
    for path in files:
        subprocess.run([sys.executable, path.name], cwd=path.parent, capture_output=True,
                       check=True)
    return time.perf_counter() - start


def spread(seconds: list[float]) -> str:
    """``median s (min - max)`` of a list of timings."""
    return (f"{statistics.median(seconds):.1f} s "
            f"(min {min(seconds):.1f}, max {max(seconds):.1f})")


def run_rounds(folder: Path, runs: int, jobs: int) -> dict[str, list]:
    """Time grading of the solutions and of the student files, and the peer, ``runs`` times."""
    course = load_course()
    course_dir = private_course(course, folder / "course")
    solutions = folder / "submission"
    write_solutions(course, solutions)
    untouched = write_student_files(course, folder / "student")
    peer = write_solutions(course, folder / "plain", answers=True)
    times = {"grade": [], "untouched": [], "plain": [], "scores": []}
    for _ in range(runs):
        seconds, report = grade_once(solutions, course_dir, jobs)
        times["grade"].append(seconds)
        times["scores"].append((report["score"], report["max_score"]))
        times["untouched"].append(grade_once(untouched, course_dir, jobs)[0])
        times["plain"].append(plain_once(peer))
    return times


def report(times: dict[str, list], jobs: int) -> bool:
    """Print the timings, the ratio and the target; whether every solution scored full marks."""
    full = all(score == most for score, most in times["scores"])
    score, most = times["scores"][0]
    print(f"simlab grade, 4 solutions, --jobs {jobs}: {spread(times['grade'])}; "
          f"score {score:g}/{most:g} {'(full marks)' if full else '(NOT full marks!)'}")
    print(f"simlab grade, 4 untouched student files:  {spread(times['untouched'])}")
    print(f"plain python, 4 solutions one by one:     {spread(times['plain'])}")
    grade, plain = statistics.median(times["grade"]), statistics.median(times["plain"])
    print(f"  grade / plain python: {grade / plain:.2f}x  (the cost of keys first, sandbox "
          "and account over just executing the files)")
    print(f"  target: grade < {TARGET_SECONDS:g} s on 2 cores  "
          f"{verdict(grade < TARGET_SECONDS and full)}")
    return full


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="rounds (default 3; median)")
    parser.add_argument("--jobs", type=int, default=2, help="keys computed at once (default 2)")
    args = parser.parse_args(argv)
    data = os.environ.get(DATA_ENV)
    if not data or not (Path(data) / "gpa.csv").is_file():
        print(f"set {DATA_ENV} to the folder holding gpa.csv: two exercises read it",
              file=sys.stderr)
        return 2
    print_environment()
    print("running as root: student code runs as the sandbox account" if os.geteuid() == 0
          else "not root: student code runs as this user (no sandbox account)")
    with tempfile.TemporaryDirectory(prefix="simlab-bench-grade-") as folder:
        full = report(run_rounds(Path(folder), args.runs, args.jobs), args.jobs)
    print(f"load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if full else 1


if __name__ == "__main__":
    sys.exit(main())
