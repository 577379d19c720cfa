"""The student's side of the sandbox: run an exercise file and write down its answers.

:mod:`simlab.grading.sandbox` starts this module in a separate process with
a memory cap, and gives it a request file naming the exercise file, the
question names and where to write. It never gives it the answer key.

The file runs cell by cell in one namespace, as a notebook does: an error,
``sys.exit`` or an over-long cell is recorded and the next cell runs. Then
each question's function is called (or its variable read) and the answer,
encoded by :func:`simlab.grading.answers.encode`, is written to the pipe
as one JSON line, flushed at once, so whatever was finished survives if
the process is killed later. Printed output goes to the process's own
stdout and stderr, which the sandbox reads with a cap.
"""
from __future__ import annotations

import builtins
import json
import os
import signal
import sys
from pathlib import Path

__all__ = ["main", "run", "CellTimeout", "display", "question_answer"]


class CellTimeout(BaseException):
    """Raised in a cell that runs past its time.

    A BaseException, so a student's ``except Exception`` does not swallow it.
    """


class NotDefined(LookupError):
    """A question's name is not defined by the student's file."""


def describe_error(error: BaseException, path: str, timeout: float, memory_mb: int) -> str:
    """One line on what went wrong, with the line of the student's file where it happened."""
    if isinstance(error, CellTimeout):
        return f"stopped after {timeout:g} s: it ran too long (an endless loop?)"
    if isinstance(error, SystemExit):
        return (f"called sys.exit({error.code!r}); remove it, because exiting stops the "
                "run of your file")
    if isinstance(error, MemoryError):
        return f"ran out of memory (the limit is {memory_mb} MiB)"
    if isinstance(error, NotDefined):
        return str(error)
    if isinstance(error, SyntaxError):
        return f"SyntaxError: {error.msg} (line {error.lineno})"
    lines = [line for frame, line in _walk(error.__traceback__) if frame.f_code.co_filename == path]
    where = f" (line {lines[-1]})" if lines else ""
    message = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {message}{where}"


def _walk(tb):
    while tb is not None:
        yield tb.tb_frame, tb.tb_lineno
        tb = tb.tb_next


def _on_alarm(signum, frame):
    raise CellTimeout()


def run_limited(action, seconds: float):
    """Run ``action()`` with an alarm after ``seconds``; return (value, error)."""
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return action(), None
    except BaseException as error:  # noqa: BLE001 - the student's code may raise anything
        return None, error
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def question_answer(namespace: dict, name: str):
    """The answer a question names: its function called without arguments, or its value."""
    if name not in namespace:
        raise NotDefined(f"`{name}` is not defined; define it as the exercise asks "
                          "(keep the name unchanged)")
    value = namespace[name]
    return value() if callable(value) and not isinstance(value, type) else value


def display(*values, **_options) -> None:
    """Jupyter's ``display`` for files run outside Jupyter: IPython's if installed, else print."""
    try:
        from IPython.display import display as ipython_display
    except ImportError:
        for value in values:
            print(repr(value))
    else:
        ipython_display(*values)


def main(request: dict) -> int:
    """Run the request's exercise file and write its events; the exit status is 0.

    The first event, ``ready``, tells the sandbox that start-up is over: its
    time limit counts from there, so a slow start (a loaded machine, a cold
    disk) is not charged to the student's file.
    """
    from .cells import read_cells

    path, limit = str(Path(request["file"]).resolve()), request["cell_timeout"]
    out = os.fdopen(request["fd"], "w", encoding="utf-8")

    def emit(**event) -> None:
        out.write(json.dumps(event) + "\n")
        out.flush()

    signal.signal(signal.SIGALRM, _on_alarm)
    describe = lambda err: describe_error(err, path, limit, request["memory_mb"])  # noqa: E731
    sys.path.append(str(Path(path).parent))  # the student's own helper modules, after simlab's
    namespace = {"__name__": Path(path).stem, "__file__": path, "__builtins__": builtins,
                 "display": display}
    cells = read_cells(path)
    emit(event="ready")
    for cell in cells:
        emit(event="cell", where=cell.where)
        code = "\n" * (cell.line - 1) + cell.source  # keep the file's line numbers
        _, error = run_limited(lambda: exec(compile(code, path, "exec"), namespace), limit)
        if error is not None:
            emit(event="cell_error", where=cell.where, error=describe(error))
    _answer(request["names"], namespace, emit, describe, limit)
    emit(event="done")
    return 0


def _answer(names, namespace: dict, emit, describe, limit: float) -> None:
    """Emit each question's encoded answer, or its error."""
    # Imported after the cells ran: the encoder needs pandas, which most exercise files
    # load anyway, and start-up (before ``ready``) stays light.
    from .answers import encode

    for name in names:
        value, error = run_limited(lambda: question_answer(namespace, name), limit)
        if error is None:
            value, error = run_limited(lambda: encode(value), limit)
        emit(event="answer", name=name, **({"answer": value} if error is None
                                           else {"error": describe(error)}))


def run(request: dict) -> int:
    """:func:`main`, reporting a failure of the harness itself on the real stderr."""
    try:
        return main(request)
    except BaseException:
        import traceback
        traceback.print_exc(file=sys.__stderr__)
        return 1


