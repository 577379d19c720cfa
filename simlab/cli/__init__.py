"""The ``simlab`` command line: a thin shell over the library, one module per verb.

``demo``, ``fit``, ``sweep``, ``report``, ``power``, ``figures``, ``data`` and
the grading verbs (``check``, ``grade``, ``validate``, ``variants``,
``assign``, ``autograder-zip``) only parse arguments and print: every number
comes from the public API, and every default is the library's own
(:class:`~simlab.cli._common.LibraryDefault`), never a copy.

Errors the API raises for bad input (a bad formula, a missing column or
file, an unreadable CSV, ...) are printed as one line, ``simlab: error:
<message>`` with a hint on what to do, and exit status 2; any other error
(out of memory, a full disk, a lost worker, a bug) is printed the same way
with exit status 1. Never a traceback, unless ``SIMLAB_TRACEBACK=1`` asks
for one. Ctrl-C exits with 130, printing ``simlab: interrupted: <note>``
when the interrupted work says how to resume (a sweep: how many chunks are
saved).

Adding a subcommand takes one builder registered with
:func:`~simlab.cli._common.command` in a module of this package (imported
below, in the order ``--help`` lists them): it adds its arguments to the
parser it is given and returns the function that runs it, which takes the
parsed :class:`argparse.Namespace` and returns the exit status::

    @command("report", "write plots and a summary.md for a sweep store")
    def _report(parser):
        parser.add_argument("store")
        return run_report

The library is imported inside the runners, so ``simlab --help`` loads
nothing heavy.
"""
from __future__ import annotations

import argparse
import errno
import os
import sys
import warnings

from ._common import (COMMANDS, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, PROG,
                      command, resolve_defaults)

# The verbs, in the order `simlab --help` lists them (importing a module registers its verbs).
from . import demo, fit, sweep, power, report, figures, grading, data  # noqa: E402,F401  isort: skip

__all__ = ["main", "build_parser", "command", "COMMANDS"]

#: Errors the API raises for bad user input, a bad path included (exit status 2). Any other
#: error, e.g. a full disk, a lost worker or a bug, exits with 1. Every error is printed as
#: one line, never as a traceback.
USER_ERRORS = (ValueError, TypeError, KeyError, ImportError, FileNotFoundError,
               FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError)
#: Set to show the traceback of an error (for reporting a bug in simlab).
TRACEBACK_VARIABLE = "SIMLAB_TRACEBACK"


class _Version(argparse.Action):
    """``--version``, reading the installed metadata only when asked (not on every start)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, **kwargs) -> None:
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0,
                         help="show simlab's version and exit")

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(f"{parser.prog} {_version()}")
        parser.exit()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("simlab")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subparser per registered command."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Learn and study linear mixed models with lme4-parity fits.",
        epilog=f'Start with "{PROG} demo", then "{PROG} fit DATA.csv \'y ~ x + (1 | g)\'".')
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for cmd in COMMANDS.values():
        sub_parser = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        sub_parser.set_defaults(run=cmd.build(sub_parser))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help, --version or a usage error
        return done.code if isinstance(done.code, int) else EXIT_USAGE
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return args.run(resolve_defaults(args))
    except KeyboardInterrupt as err:
        if _notes(err):  # e.g. how much of a sweep is saved and how to resume it
            print(f"{PROG}: interrupted: {_one_line('; '.join(_notes(err)))}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `simlab fit ... | head`: stop quietly
        _silence_stdout()
        return EXIT_OK
    except Exception as err:  # noqa: BLE001 - the command line prints one line, no traceback
        if os.environ.get(TRACEBACK_VARIABLE):
            raise
        print(f"{PROG}: error: {_error_line(err)}", file=sys.stderr)
        return EXIT_USAGE if isinstance(err, USER_ERRORS) else EXIT_FAILED


def _error_line(err: BaseException) -> str:
    """The one line printed after ``simlab: error:`` for ``err``.

    The error's message, then its notes (a sweep's note says how many
    chunks are saved and how to resume), else a hint on what to do.
    """
    message = _message(err)
    extra = _notes(err) or [hint for hint in (_hint(err),) if hint]
    if extra:
        message = "; ".join([message.rstrip(". "), *extra])
    return _one_line(message)


def _notes(err: BaseException) -> list[str]:
    return [str(note) for note in getattr(err, "__notes__", ())]


def _one_line(text: str) -> str:
    # Library messages may span lines (pyarrow's do); the error must stay one line.
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _message(err: BaseException) -> str:
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        return f"{err.strerror}: {err.filename}"
    if isinstance(err, ImportError):
        return f"{err}: this part of simlab is not available in this installation"
    if isinstance(err, (ValueError, TypeError, OSError)) and str(err):
        return str(err)
    # KeyError's text is only the key, MemoryError's often nothing: name the type.
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def _hint(err: BaseException) -> str | None:
    """What to do about ``err``, where its message may not say."""
    formula = sys.modules.get("simlab.model.formula")  # a FormulaError means it is loaded
    if formula is not None and isinstance(err, formula.FormulaError):
        return "fix the formula, e.g. 'y ~ x + (1 | group)'"
    if isinstance(err, UnicodeDecodeError):
        return "save the file as UTF-8 text"
    if isinstance(err, OSError):
        return _os_hint(err)
    if isinstance(err, MemoryError):
        return "use a smaller design or data set, or free some memory"
    if not isinstance(err, USER_ERRORS):
        return (f"this may be a bug in simlab: please report it with the command "
                f"(set {TRACEBACK_VARIABLE}=1 to see the traceback)")
    return None


def _os_hint(err: OSError) -> str | None:
    if isinstance(err, FileNotFoundError):
        # Without a file name the message is the library's own and says what to do
        # (e.g. every way to provide a data set).
        return "check the path" if err.filename is not None or not str(err) else None
    if isinstance(err, IsADirectoryError):
        return "give a file, not a folder"
    if isinstance(err, PermissionError):
        return "check the permissions, or use another path"
    if err.errno == errno.ENOSPC:
        return "free some disk space, then rerun the same command"
    return None


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
