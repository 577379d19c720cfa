"""Running an exercise file in a separate, limited process.

:func:`run_exercise` starts :mod:`simlab.grading.child` with a memory cap
(``RLIMIT_AS``) and a file-size cap, one thread per BLAS library, the
``Agg`` matplotlib backend and no standard input, then waits at most
``Limits.timeout`` seconds before killing the whole process group. The
child reports through a JSON-lines file, so the answers it finished before
a crash, a hang or a kill are kept. The child is told only the file and
the question names: the answer key never reaches it.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Limits", "RunOutcome", "run_exercise"]

# Limits are set before simlab (and numpy) load in the child, so they cover everything.
_BOOTSTRAP = """
import sys
try:
    import resource
    memory = int(sys.argv[2]) * 2 ** 20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (2 ** 28, 2 ** 28))
except (ImportError, ValueError, OSError):
    pass  # no resource limits on this platform
# A file in the submission folder (the working directory) must not shadow simlab itself.
sys.path = [p for p in sys.path if p not in ("", ".")]
from simlab.grading.child import run
sys.exit(run(sys.argv[1]))
"""


@dataclass(frozen=True)
class Limits:
    """Limits on one run of an exercise file.

    Parameters
    ----------
    timeout : float
        Seconds for the whole file (cells and answers) before the process is killed.
    cell_timeout : float
        Seconds for one cell or one question's function.
    memory_mb : int
        Address-space cap of the process, in MiB.
    output_chars : int
        Printed characters kept for the feedback; the rest is counted and dropped.
    """

    timeout: float = 300.0
    cell_timeout: float = 60.0
    memory_mb: int = 4096
    output_chars: int = 5000

    def __post_init__(self) -> None:
        for name in ("timeout", "cell_timeout", "memory_mb", "output_chars"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}")


@dataclass(frozen=True)
class RunOutcome:
    """What one run of an exercise file produced.

    Attributes
    ----------
    answers : Mapping
        Encoded answer by question name, for the questions that produced one.
    errors : Mapping
        Error message by question name, for those that raised.
    cell_errors : tuple of str
        ``"cell 3 (line 20): NameError: ..."`` for each failing cell.
    problem : str or None
        What stopped the run early (a timeout, a crash), if anything.
    output : str
        The first ``Limits.output_chars`` characters printed.
    output_chars : int
        How many characters were printed in all.
    seconds : float
    """

    answers: Mapping[str, dict] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    cell_errors: tuple[str, ...] = ()
    problem: str | None = None
    output: str = ""
    output_chars: int = 0
    seconds: float = 0.0


def run_exercise(path: str | Path, names: list[str], *, limits: Limits = Limits(),
                 env: Mapping[str, str] | None = None) -> RunOutcome:
    """Run the exercise file at ``path`` in a limited child process and collect its answers.

    Parameters
    ----------
    path : path
        The ``.py`` (percent format) or ``.ipynb`` file.
    names : list of str
        The question names to read after all cells ran.
    limits : Limits
    env : mapping, optional
        Extra environment variables for the child (e.g. ``SIMLAB_STUDENT_ID``).
    """
    path = Path(path).resolve()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="simlab-run-") as work:
        events_path = Path(work) / "events.jsonl"
        request = {"file": str(path), "names": list(names), "out": str(events_path),
                   "cell_timeout": limits.cell_timeout, "memory_mb": limits.memory_mb,
                   "output_chars": limits.output_chars}
        (Path(work) / "request.json").write_text(json.dumps(request))
        status, stderr = _run_child(Path(work), path.parent, limits, env)
        events = _read_events(events_path)
    return _outcome(events, status, stderr, limits, time.perf_counter() - start)


def _child_env(extra: Mapping[str, str] | None) -> dict:
    env = dict(os.environ)
    env.update({"MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1",
                "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"})
    env.update(extra or {})
    # The child runs in the submission's folder, so relative data paths must not break.
    if env.get("SIMLAB_DATA_DIR"):
        env["SIMLAB_DATA_DIR"] = str(Path(env["SIMLAB_DATA_DIR"]).resolve())
    return env


def _run_child(work: Path, cwd: Path, limits: Limits, env) -> tuple[int | None, str]:
    """Run the child; return its exit status (None if it was killed for time) and stderr."""
    stderr_path = work / "stderr.txt"
    with open(stderr_path, "wb") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-c", _BOOTSTRAP, str(work / "request.json"), str(limits.memory_mb)],
            cwd=cwd, env=_child_env(env), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=stderr, start_new_session=True)
        try:
            status = child.wait(timeout=limits.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(child)
            status = None
    with open(stderr_path, "rb") as stderr:
        return status, stderr.read(4000).decode("utf-8", "replace")


def _kill_group(child: subprocess.Popen) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):
        child.kill()
    child.wait()


def _read_events(path: Path) -> list[dict]:
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            break  # a line cut short by a kill ends the record
    return events


def _outcome(events: list[dict], status, stderr: str, limits: Limits, seconds: float) -> RunOutcome:
    answers, errors, cell_errors, output, chars, where = {}, {}, [], "", 0, None
    for event in events:
        kind = event.get("event")
        if kind == "cell":
            where = event["where"]
        elif kind == "cell_error":
            cell_errors.append(f"{event['where']}: {event['error']}")
        elif kind == "answer":
            if "answer" in event:
                answers[event["name"]] = event["answer"]
            else:
                errors[event["name"]] = event["error"]
        elif kind == "output":
            output, chars = event["text"], event["chars"]
    finished = bool(events) and events[-1].get("event") == "done"
    problem = None if finished else _stop_reason(status, stderr, limits, where)
    return RunOutcome(answers, errors, tuple(cell_errors), problem, output, chars, seconds)


def _stop_reason(status, stderr: str, limits: Limits, where: str | None) -> str:
    during = f" while running {where}" if where else " before running any cell"
    if status is None:
        return (f"the file did not finish within {limits.timeout:g} s{during}, so it was "
                "stopped (an endless loop, or a computation far larger than asked?)")
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        return f"the Python process running the file crashed ({name}){during}"
    last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    return (f"the Python process running the file stopped with exit status {status}{during}"
            + (f": {last}" if last else " (os._exit?)"))
