"""The grading verbs: ``check`` (students), ``grade``, ``validate``, ``variants``, ``assign`` and
``autograder-zip`` (instructors and Gradescope), each a thin call into :mod:`simlab.grading`."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ._common import EXIT_FAILED, EXIT_OK, PROG, LibraryDefault, Runner, command

__all__ = ["run_check", "run_grade", "run_validate", "run_variants", "run_assign",
           "run_autograder_zip"]


GRADE_FORMATS = ("text", "json", "gradescope")
_LIMITS = "simlab.grading.sandbox:Limits"


def _add_grading_options(parser: argparse.ArgumentParser, *, jobs: bool = True) -> None:
    """--course, the sandbox limits and (for several exercises) --jobs."""
    if jobs:
        parser.add_argument("--jobs", type=int,
                            default=LibraryDefault("simlab.grading.grader:grade", "jobs"),
                            help="answer keys computed at once (default: %(default)s)")
    parser.add_argument("--course", default=None, metavar="DIR",
                        help="the instructor's course folder, one source file per exercise "
                             "(default: $SIMLAB_COURSE_DIR, else simlab's built-in course)")
    parser.add_argument("--timeout", type=float, default=LibraryDefault(_LIMITS, "timeout"),
                        help="seconds per exercise file before it is stopped (default: %(default)s)")
    parser.add_argument("--cell-timeout", type=float,
                        default=LibraryDefault(_LIMITS, "cell_timeout"),
                        help="seconds per cell or question (default: %(default)s)")
    parser.add_argument("--memory-mb", type=int, default=LibraryDefault(_LIMITS, "memory_mb"),
                        help="memory cap of the student's processes in MiB (default: %(default)s)")


def _limits(args: argparse.Namespace):
    from simlab.grading.sandbox import Limits

    if getattr(args, "jobs", 1) < 1:  # `check` grades one file and has no --jobs
        raise ValueError(f"--jobs must be at least 1, got {args.jobs}")
    return Limits(timeout=args.timeout, cell_timeout=args.cell_timeout, memory_mb=args.memory_mb)


def _course(args: argparse.Namespace):
    from simlab.grading.course import load_course

    return load_course(args.course)


def _add_exercise_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--exercise", action="append", default=None, metavar="NAME",
                        help=f"{what} only this exercise (repeatable; default: all)")


@command("check", "check an exercise file against its public tests (for students)")
def _check(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("file", help="your exercise file, e.g. exercises/sleepstudy.py")
    parser.add_argument("--student-id", default=None,
                        help="your student id, for your own variant of the simulation exercise "
                             "(default: $SIMLAB_STUDENT_ID)")
    parser.add_argument("--checks", default=None, metavar="FILE",
                        help="the public checks your instructor gave you (default: NAME.checks."
                             "json beside the file; without one, the course's solutions)")
    _add_grading_options(parser, jobs=False)
    return run_check


def run_check(args: argparse.Namespace) -> int:
    """Run the public checks of one file; exit 1 if any fails."""
    from simlab.grading.checks import run_checks
    from simlab.grading.render import check_text
    from simlab.grading.variants import STUDENT_ENV

    path = Path(args.file)
    if not path.is_file():
        raise ValueError(f"exercise file {args.file!r} does not exist")
    student_id = args.student_id or os.environ.get(STUDENT_ENV) or None
    limits = _limits(args)
    key, expected, hidden = _public_checks(path, args, student_id, limits)
    report = run_checks(path, key, expected, hidden, student_id=student_id, limits=limits)
    print(check_text(report))
    print("\nAll public checks passed." if report.passed else
          f"\nFix the failing checks above, then run `{PROG} check {args.file}` again.")
    return EXIT_OK if report.passed else EXIT_FAILED


def _public_checks(path: Path, args: argparse.Namespace, student_id, limits):
    """(public key, its answers, hidden names): from a checks file, else from the course."""
    from simlab.grading.checks import checks_path, load_checks
    from simlab.grading.grader import expected_answers

    checks = Path(args.checks) if args.checks else checks_path(path)
    if checks.is_file() and args.course is None:
        public = load_checks(checks, student_id)
        if public.key.name != path.stem:
            raise ValueError(f"{checks.name} holds the checks of {public.key.name}, not of "
                             f"{path.stem}; keep the exercise file's name")
        return public.key, public.expected, public.hidden
    if args.checks:
        raise ValueError(f"checks file {args.checks!r} does not exist")
    try:
        course = _course(args)
    except ValueError as err:
        raise ValueError(f"no public checks for {path.name}: put {checks.name} (from your "
                         f"instructor) beside it, or pass --checks FILE ({err})") from None
    if path.stem not in course.exercises:
        raise ValueError(f"{path.name} is not one of the exercises {list(course.exercises)}; "
                         "keep the exercise file's name")
    key = course.exercises[path.stem].key
    hidden = tuple(q.name for q in key.questions if q.hidden)
    public = key.public()
    return public, expected_answers(public, course.root, student_id, limits), hidden


@command("grade", "grade a folder of exercise files (for instructors and Gradescope)")
def _grade(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("submission", help="folder with the student's exercise files")
    # render.FORMATS, mirrored: importing the renderer loads pandas, and --help must not
    # (tests/grading/test_cli_grading.py checks that the two agree).
    parser.add_argument("--format", choices=GRADE_FORMATS, default=GRADE_FORMATS[0],
                        help="output format (default: %(default)s)")
    parser.add_argument("--output", default=None, help="write to this file instead of stdout")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--student-id", default=None, help="grade this student's variant")
    who.add_argument("--metadata", default=None,
                     help="Gradescope's submission_metadata.json (default: the one beside the "
                          "submission folder, if any)")
    _add_exercise_option(parser, "grade")
    _add_grading_options(parser)
    return run_grade


def run_grade(args: argparse.Namespace) -> int:
    """Grade the submission (:func:`simlab.grading.grade_submission`); with --output, rewrite
    the file after each exercise."""
    from simlab.grading import grade_submission
    from simlab.grading.render import render, write_atomic

    save = (lambda report: write_atomic(args.output, render(report, args.format))
            ) if args.output else None
    report = grade_submission(args.submission, course=args.course, exercises=args.exercise,
                              student_id=args.student_id, metadata=args.metadata,
                              limits=_limits(args), jobs=args.jobs, on_result=save)
    if save is None:
        print(render(report, args.format))
    else:
        print(f"{PROG}: {report.score:g}/{report.max_score:g} points; results written to "
              f"{args.output}", file=sys.stderr)
    return EXIT_OK


@command("validate", "check that solutions score full marks and untouched exercises 0")
def _validate(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("--exercises", default=None, metavar="DIR",
                        help="folder of student files to check too (default: the student "
                             "files made from the course, as `simlab assign` writes them)")
    parser.add_argument("--variants", type=int, default=None, metavar="N",
                        help="student ids (student1 ... studentN) whose answer keys must be "
                             "stable: every answer usable, every decision clear of its "
                             "threshold (default: 200; 0 for none)")
    parser.add_argument("--roster", default=None, metavar="FILE",
                        help="also check the ids of this roster (as in `simlab variants`)")
    _add_grading_options(parser)
    return run_validate


def run_validate(args: argparse.Namespace) -> int:
    """Print every validation check; exit 1 if one fails."""
    import tempfile

    from simlab.grading.assign import write_student_files
    from simlab.grading.validate import DEFAULT_VARIANTS, validate
    from simlab.grading.variants import read_roster

    course, limits = _course(args), _limits(args)
    variants = DEFAULT_VARIANTS if args.variants is None else args.variants
    roster = read_roster(args.roster) if args.roster else []
    with tempfile.TemporaryDirectory(prefix="simlab-validate-") as made:
        exercises = args.exercises or write_student_files(course, made)
        result = validate(exercises, course.root, course.keys, limits=limits, jobs=args.jobs,
                          variants=variants, student_ids=roster)
    print(result)
    return EXIT_OK if result.ok else EXIT_FAILED


@command("variants", "print each student's id and simulation settings from a roster")
def _variants(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("--roster", required=True, metavar="FILE",
                        help="Gradescope's roster export (CSV; each row's SID, or its Email "
                             "where the SID is blank) or a text file with one id per line")
    parser.add_argument("--format", choices=("text", "csv"), default="text",
                        help="output format (default: %(default)s)")
    return run_variants


def run_variants(args: argparse.Namespace) -> int:
    """Print the table of ids and settings: the id is what each student types into
    `simlab check --student-id` and what Gradescope grades."""
    from simlab.grading.variants import read_roster, variant_table

    table = variant_table(read_roster(args.roster))
    print(table.to_csv(index=False) if args.format == "csv" else table.to_string(index=False),
          end="" if args.format == "csv" else "\n")
    return EXIT_OK


def _data_dir(args: argparse.Namespace) -> str | None:
    from simlab.datasets import DATA_DIR_VARIABLE

    return args.data_dir or os.environ.get(DATA_DIR_VARIABLE)


def _add_bundle_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--data-dir", default=None,
                        help="folder with the data files the exercises read, e.g. gpa.csv "
                             "(default: $SIMLAB_DATA_DIR)")
    _add_exercise_option(parser, what)
    _add_grading_options(parser)


@command("assign", "make the student files, public checks and Gradescope bundle of a course")
def _assign(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("--out", required=True, metavar="DIST",
                        help="folder to write: DIST/student/ (hand out) and "
                             "DIST/autograder.zip (upload to Gradescope)")
    parser.add_argument("--roster", default=None, metavar="FILE",
                        help="public checks for each student id of this roster too (needed "
                             "for exercises with per-student variants)")
    _add_bundle_options(parser, "assign")
    return run_assign


def run_assign(args: argparse.Namespace) -> int:
    """Write DIST/student and DIST/autograder.zip and list them."""
    from simlab.grading.assign import assign
    from simlab.grading.variants import read_roster

    course = _course(args)
    roster = read_roster(args.roster) if args.roster else []
    written = assign(course, args.out, exercises=args.exercise, student_ids=roster,
                     data_dir=_data_dir(args),
                     limits=_limits(args), jobs=args.jobs)
    for path in written:
        print(path)
    print(f"Hand out {Path(args.out) / 'student'} (no solutions, no hidden answers); upload "
          f"{Path(args.out) / 'autograder.zip'} on Gradescope under Configure Autograder.")
    return EXIT_OK


@command("autograder-zip", "build the Gradescope autograder bundle (setup.sh, run_autograder)")
def _autograder_zip(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("--out", default="simlab-autograder.zip",
                        help="zip file to write (default: %(default)s)")
    _add_bundle_options(parser, "bundle")
    return run_autograder_zip


def run_autograder_zip(args: argparse.Namespace) -> int:
    """Write the bundle and say how to upload it."""
    from simlab.grading.autograder import build_autograder

    course = _course(args)
    out = build_autograder(args.out, course.select(args.exercise), course_dir=course.root,
                           data_dir=_data_dir(args),
                           limits=_limits(args), jobs=args.jobs)
    print(f"Wrote {out}. Upload it on Gradescope under Configure Autograder -> Zip file "
          "upload; students submit their exercise files (e.g. sleepstudy.py) unchanged in name.")
    return EXIT_OK
