"""Running an exercise file in a separate, contained process.

:func:`run_exercise` copies the file (never a symbolic link) and the regular
files beside it into a private folder, starts :mod:`simlab.grading.child`
there with a minimal environment, and supervises it:

- as root, the child drops to the unprivileged :data:`~simlab.grading.isolation.SANDBOX_USER`
  (and a network namespace of its own) before any student code runs
  (:mod:`simlab.grading.isolation`);
- the memory, process count and disk use of *all* the run's processes are
  watched together, and everything is killed when one limit is passed,
  when ``Limits.timeout`` runs out, and in any case after the run;
- answers come back over a pipe that only this run holds (no file in a
  shared folder), printed output over another, both read with a cap, so
  whatever was finished before a crash, a hang or a kill is kept;
- the private folder and whatever the account left in the scratch folders
  are deleted afterwards.

The child is told only the file and the question names: the answer key
never reaches it. ``trusted=True`` (the instructor's solution) runs as the
grader's user with the same limits.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..datasets import DATA_DIR_VARIABLE, find_local
from . import isolation

__all__ = ["Limits", "RunOutcome", "run_exercise", "refusal"]

# Environment the child may inherit; everything else (tokens, paths of the course) stays out.
_PASSED_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "PYTHONPATH", "OPENBLAS_CORETYPE",
               "OPENBLAS_L2_SIZE")
_MAX_SIBLINGS, _SIBLING_BYTES, _COPY_BYTES = 200, 16 * 2 ** 20, 64 * 2 ** 20
_POLL = 0.05
#: Seconds the child may take to start (Python, simlab, numpy) before it signals ``ready``;
#: ``Limits.timeout`` counts from that signal, so a slow start on a loaded machine is not
#: charged to the student's file, and a child that never gets ready is still stopped.
STARTUP_TIMEOUT = 120.0

# Runs before simlab (and numpy) load in the child: limits, then (as root) a network
# namespace of its own and the unprivileged account. Student code never runs as root.
_BOOTSTRAP = r"""
import json, os, sys
request = json.loads(sys.argv[1])
try:
    import resource
    cap = request["memory_mb"] * 2 ** 20
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_FSIZE, (request["file_bytes"],) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
except (ImportError, ValueError, OSError):
    pass  # no resource limits on this platform
account = request["account"]
if account is not None:
    import ctypes, resource
    libc = ctypes.CDLL(None, use_errno=True)
    libc.unshare(0x40000000)  # CLONE_NEWNET: no network, where the kernel allows it
    resource.setrlimit(resource.RLIMIT_NPROC, (request["processes"],) * 2)
    os.setgroups([])
    os.setgid(account[1])
    os.setuid(account[0])
    if os.getuid() == 0 or os.geteuid() == 0 or os.getegid() == 0:
        sys.exit("simlab sandbox: could not drop root privileges")
os.umask(0o077)
# A file in the submission folder (the working directory) must not shadow simlab itself.
sys.path = [p for p in sys.path if p not in ("", ".", os.getcwd())]
from simlab.grading.child import run
sys.exit(run(request))
"""


@dataclass(frozen=True)
class Limits:
    """Limits on one run of an exercise file, over all the processes it starts.

    Parameters
    ----------
    timeout : float
        Seconds for the whole file (cells and answers) before everything is killed,
        counted from when the child has started (:data:`STARTUP_TIMEOUT` bounds the start).
    cell_timeout : float
        Seconds for one cell or one question's function.
    memory_mb : int
        MiB of memory: the address space of each process, and the resident
        memory of all the run's processes together.
    output_chars : int
        Printed characters kept for the feedback; the rest is counted and dropped.
    processes : int
        Processes the run may have at once.
    disk_mb : int
        MiB of files the run may write (its folder and, as root, the scratch folders).
    """

    timeout: float = 300.0
    cell_timeout: float = 60.0
    memory_mb: int = 4096
    output_chars: int = 5000
    processes: int = 64
    disk_mb: int = 512

    def __post_init__(self) -> None:
        for name in ("timeout", "cell_timeout", "memory_mb", "output_chars", "processes",
                     "disk_mb"):
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
        What stopped the run early (a timeout, a crash, a limit), if anything.
    output : str
        The first ``Limits.output_chars`` characters printed (stdout and stderr).
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


def refusal(path: str | Path) -> str | None:
    """Why the submitted ``path`` is not run (a symbolic link, not a regular file), or None."""
    path = Path(path)
    if path.is_symlink():
        return (f"{path.name} is a symbolic link, which is not accepted; submit the file "
                "itself")
    if not path.is_file():
        return f"{path.name} is not a regular file; submit the exercise file itself"
    return None


def run_exercise(path: str | Path, names: Sequence[str], *, limits: Limits = Limits(),
                 env: Mapping[str, str] | None = None, data_files: Sequence[str] = (),
                 trusted: bool = False) -> RunOutcome:
    """Run the exercise file at ``path`` in a contained child process and collect its answers.

    Parameters
    ----------
    path : path
        The ``.py`` (percent format) or ``.ipynb`` file; a symbolic link is refused.
    names : sequence of str
        The question names to read after all cells ran.
    limits : Limits
    env : mapping, optional
        Extra environment variables for the child (e.g. ``SIMLAB_STUDENT_ID``).
    data_files : sequence of str
        Files of ``$SIMLAB_DATA_DIR`` the exercise reads; they are copied into the
        run's folder, which the child's ``SIMLAB_DATA_DIR`` then names.
    trusted : bool
        The instructor's own file: run as the grader's user, not the sandbox account.
    """
    start = time.perf_counter()
    why = refusal(path)
    if why is not None:
        return RunOutcome(problem=why)
    account = None if trusted else isolation.sandbox_account()
    _adopt_orphans()
    with isolation.exclusive(account):
        work = Path(tempfile.mkdtemp(prefix="simlab-run-"))
        try:
            staged, child_env = _stage(Path(path), work, env or {}, data_files, account)
            status, events, output = _supervise(staged, list(names), limits, child_env, account)
        finally:
            shutil.rmtree(work, ignore_errors=True)
            isolation.remove_leftovers(account)
    return _outcome(events, list(names), status, output, limits, time.perf_counter() - start)


@functools.lru_cache(maxsize=1)
def _adopt_orphans() -> bool:
    return isolation.become_subreaper()


def _stage(path: Path, work: Path, env: Mapping[str, str], data_files: Sequence[str],
           account) -> tuple[Path, dict]:
    """Copy the file, its regular siblings and the data into ``work``; the child's environment."""
    home = work / "home"
    home.mkdir()
    _copy_regular_files(path, home)
    child_env = _child_env(env, home)
    data_dir = env.get(DATA_DIR_VARIABLE) or os.environ.get(DATA_DIR_VARIABLE)
    if data_files:  # copies only: the child never sees the grader's own data folder
        (home / "data").mkdir()
        for name in data_files:
            source = _data_source(name, data_dir)
            if source is not None:
                shutil.copyfile(source, home / "data" / name)
        child_env[DATA_DIR_VARIABLE] = str(home / "data")
    elif data_dir:
        child_env[DATA_DIR_VARIABLE] = str(Path(data_dir).resolve())
    if account is not None:
        for item in [work, *work.rglob("*")]:
            os.lchown(item, account.uid, account.gid)
    work.chmod(0o700)
    return home / path.name, child_env


def _data_source(name: str, data_dir: str | None) -> Path | None:
    """The regular file ``name`` in ``data_dir``, else in simlab's download cache, or None.

    The cache lets data a grader downloaded once (``simlab data gpa``) reach the
    exercises too: the child itself has no network to fetch it.
    """
    source = Path(data_dir) / name if data_dir else None
    if source is None or not source.is_file():
        source = find_local(name)
    return source if source is not None and not source.is_symlink() else None


def _copy_regular_files(path: Path, target: Path) -> None:
    """The file itself, then the student's own helper files beside it, within a budget."""
    shutil.copyfile(path, target / path.name)
    budget = _COPY_BYTES
    siblings = sorted(path.parent.iterdir())[:_MAX_SIBLINGS]
    for sibling in siblings:
        try:
            info = sibling.lstat()
        except OSError:
            continue
        regular = sibling.is_file() and not sibling.is_symlink()
        if sibling.name == path.name or not regular or info.st_size > min(_SIBLING_BYTES, budget):
            continue
        shutil.copyfile(sibling, target / sibling.name)
        budget -= info.st_size


def _child_env(extra: Mapping[str, str], home: Path) -> dict:
    env = {name: os.environ[name] for name in _PASSED_ENV if name in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update({"HOME": str(home), "TMPDIR": str(home), "MPLCONFIGDIR": str(home / ".matplotlib"),
                "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1",
                "PYTHONNOUSERSITE": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                "MKL_NUM_THREADS": "1"})
    env.update({k: v for k, v in extra.items() if k != DATA_DIR_VARIABLE})
    return env


class _Reader(threading.Thread):
    """Drains one pipe, keeping at most ``keep`` bytes and counting the rest.

    ``first_line`` is set once a whole line has arrived: on the events pipe the
    child's first line is its ``ready`` event, written before any student code runs.
    """

    def __init__(self, fd: int, keep: int) -> None:
        super().__init__(daemon=True)
        self.fd, self.keep, self.total, self._parts = fd, keep, 0, []
        self.first_line = threading.Event()

    def run(self) -> None:
        kept = 0
        try:
            while chunk := os.read(self.fd, 65536):
                if b"\n" in chunk:
                    self.first_line.set()
                self.total += len(chunk)
                if kept < self.keep:
                    self._parts.append(chunk[:self.keep - kept])
                    kept += len(self._parts[-1])
        except OSError:
            pass
        finally:
            os.close(self.fd)

    @property
    def overflow(self) -> bool:
        return self.total > self.keep

    def text(self) -> str:
        return b"".join(self._parts).decode("utf-8", "replace")


def _supervise(file: Path, names: list[str], limits: Limits, env: dict, account):
    """Start the child, watch it, kill everything of the run; (status, events, output)."""
    events_r, events_w = os.pipe()
    output_r, output_w = os.pipe()
    request = {"file": str(file), "names": names, "fd": events_w,
               "cell_timeout": limits.cell_timeout, "memory_mb": limits.memory_mb,
               "file_bytes": limits.disk_mb * 2 ** 20, "processes": limits.processes,
               "account": None if account is None else [account.uid, account.gid]}
    try:
        child = subprocess.Popen(
            [sys.executable, "-c", _BOOTSTRAP, json.dumps(request)], cwd=file.parent, env=env,
            stdin=subprocess.DEVNULL, stdout=output_w, stderr=output_w, pass_fds=(events_w,),
            start_new_session=True)
    finally:
        os.close(events_w)
        os.close(output_w)
    events, output = _Reader(events_r, 64 * 2 ** 20), _Reader(output_r, 4 * limits.output_chars)
    events.start()
    output.start()
    try:
        status = _watch(child, limits, account, file.parent.parent, events.first_line)
    finally:
        # The child itself first: before it drops to the sandbox account (a slow start)
        # it is not one of the account's processes, which kill_all finds by user.
        child.kill()
        isolation.kill_all(child.pid, account)
        child.wait()
    events.join(timeout=5)
    output.join(timeout=5)
    return status, events, output


def _watch(child: subprocess.Popen, limits: Limits, account, work: Path,
           ready: threading.Event):
    """Wait for the child; the exit status, or a str naming the limit it passed.

    ``Limits.timeout`` counts from ``ready`` (the child has started and runs the
    file); until then :data:`STARTUP_TIMEOUT` bounds the start, reported as a timeout too.
    """
    deadline, next_disk = time.monotonic() + STARTUP_TIMEOUT, 0.0
    started = False
    while True:
        try:
            return child.wait(timeout=_POLL)
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if not started and ready.is_set():
            started, deadline = True, now + limits.timeout
        if now > deadline:
            return "timeout" if started else (f"it did not start within {STARTUP_TIMEOUT:g} s "
                                              "(is the machine overloaded?)")
        problem = _over_limit(child, limits, account, work, now >= next_disk)
        if now >= next_disk:
            next_disk = now + 0.5
        if problem is not None:
            return problem


def _over_limit(child: subprocess.Popen, limits: Limits, account, work: Path,
                disk: bool) -> str | None:
    """The limit the run's processes passed (memory, processes, and with ``disk`` the disk)."""
    running = [p for p in isolation.run_processes(child.pid, account) if not p.zombie]
    if sum(p.rss for p in running) > limits.memory_mb * 2 ** 20:
        return (f"its processes together used more than the {limits.memory_mb} MiB of "
                "memory allowed")
    if len(running) > limits.processes:
        return f"it started more than the {limits.processes} processes allowed"
    if disk and isolation.usage([work], account) > limits.disk_mb * 2 ** 20:
        return f"it wrote more than the {limits.disk_mb} MiB of files allowed"
    return None


def _outcome(events: _Reader, names: list[str], status, output: _Reader, limits: Limits,
             seconds: float) -> RunOutcome:
    answers, errors, cell_errors, where, finished = {}, {}, [], None, False
    for event in _parse_events(events.text()):
        kind = event.get("event")
        if kind == "cell" and isinstance(event.get("where"), str):
            where = event["where"]
        elif kind == "cell_error":
            cell_errors.append(f"{event.get('where')}: {event.get('error')}")
        elif kind == "answer" and event.get("name") in names:
            _record_answer(event, answers, errors)
        elif kind == "done":
            finished = True
    text = output.text()
    problem = None
    if events.overflow:
        problem = "its answers were larger than 64 MiB, so the rest was not read"
    elif not finished:
        problem = _stop_reason(status, text, limits, where)
    total = output.total if output.overflow else len(text)
    return RunOutcome(answers, errors, tuple(cell_errors), problem, text[:limits.output_chars],
                      total, seconds)


def _parse_events(text: str) -> list[dict]:
    events = []
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line cut short by a kill, or noise
        if isinstance(event, dict):
            events.append(event)
    return events


def _record_answer(event: dict, answers: dict, errors: dict) -> None:
    """The last event about a question decides its answer (or its error)."""
    name = event["name"]
    answers.pop(name, None)
    errors.pop(name, None)
    from .answers import check_encoded  # pandas: loaded when answers come back, not before

    problem = check_encoded(event["answer"]) if "answer" in event else None
    if "answer" in event and problem is None:
        answers[name] = event["answer"]
    elif "answer" in event:
        errors[name] = f"the answer could not be read ({problem})"
    else:
        errors[name] = str(event.get("error", "no answer"))[:500]


def _stop_reason(status, output: str, limits: Limits, where: str | None) -> str:
    during = f" while running {where}" if where else " before running any cell"
    if status == "timeout":
        return (f"the file did not finish within {limits.timeout:g} s{during}, so it was "
                "stopped (an endless loop, or a computation far larger than asked?)")
    if isinstance(status, str):
        return f"the file was stopped{during}: {status}"
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = f"signal {-status}"
        return f"the Python process running the file crashed ({name}){during}"
    last = output.strip().splitlines()[-1][:300] if output.strip() else ""
    return (f"the Python process running the file stopped with exit status {status}{during}"
            + (f": {last}" if last else " (os._exit?)"))
