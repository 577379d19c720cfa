"""Containing a student's code: its own user, limits over all its processes, a clean slate after.

The grader runs student code in another process (:mod:`simlab.grading.sandbox`).
This module decides *as whom* and keeps that code contained:

- **As root** (Gradescope runs ``run_autograder`` as root), student code runs
  as the unprivileged account :data:`SANDBOX_USER` (created with ``useradd``
  if missing), in a network namespace of its own where the kernel allows
  it. Every process of that account is the submission's: the monitor sums
  their memory, counts them and measures the files they wrote, and
  :func:`kill_all` ends every one of them after each run, so a child started
  with ``start_new_session=True`` cannot outlive grading, and files it left in
  the shared scratch folders are removed (:func:`remove_leftovers`).
  Runs as the account take a machine-wide lock (:func:`exclusive`), so two
  graders on one machine never kill each other's runs.
- **Without root** (a laptop), the code runs as the grader's own user: it
  is limited and cleaned up by process group, session and descendants, but
  it can read what the grader can read and could signal the grader. The
  README says so.

Nothing here knows about answers or keys.
"""
from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SandboxUnavailable", "SANDBOX_USER", "SCRATCH_DIRS", "Account", "sandbox_account", "check_interpreter",
           "Process", "processes", "run_processes", "kill_all", "usage", "remove_leftovers",
           "readable_by_others", "is_root", "exclusive", "become_subreaper"]

#: The unprivileged account student code runs as when the grader is root.
SANDBOX_USER = "simlab-student"
#: World-writable folders where a student's process may leave files behind.
SCRATCH_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class SandboxUnavailable(OSError):
    """Student code cannot be run as the sandbox account on this machine (and is not run)."""


@dataclass(frozen=True)
class Account:
    """The unprivileged account that runs student code: name, uid and gid."""

    name: str
    uid: int
    gid: int


def is_root() -> bool:
    """Whether this process can switch users (effective uid 0 on a POSIX system)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def sandbox_account(name: str = SANDBOX_USER) -> Account | None:
    """The account for student code: ``name`` when running as root (created if missing and
    checked once to run this Python), None otherwise (the grader's own user then runs it).

    Raises
    ------
    SandboxUnavailable
        If the account cannot be created, is privileged, or cannot run this Python.
    """
    return _ready_account(name) if is_root() else None


@functools.lru_cache(maxsize=None)
def _ready_account(name: str) -> Account:
    account = _account(name)
    with exclusive(account):
        check_interpreter(account)
    return account


@contextlib.contextmanager
def exclusive(account: Account | None):
    """Hold the machine-wide lock of ``account`` (nothing without an account).

    Every process of the account belongs to the run holding the lock, which
    is what lets :func:`kill_all` end them all. Processes left by a run that
    died are killed when the lock is taken.
    """
    if account is None:
        yield
        return
    import fcntl

    folder = "/run" if os.access("/run", os.W_OK) else "/tmp"
    fd = os.open(os.path.join(folder, f"simlab-sandbox-{account.uid}.lock"),
                 os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        kill_all(-1, account)
        yield
    finally:
        os.close(fd)


def _account(name: str) -> Account:
    import pwd

    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        _create_account(name)
        entry = pwd.getpwnam(name)
    if entry.pw_uid == 0 or entry.pw_gid == 0:
        raise SandboxUnavailable(f"the sandbox account {name!r} has uid or gid 0; it must be an "
                           "unprivileged user (userdel it and let simlab create it)")
    return Account(name, entry.pw_uid, entry.pw_gid)


def _create_account(name: str) -> None:
    command = ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
               "--shell", "/usr/sbin/nologin", "--user-group", name]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except OSError as err:
        raise SandboxUnavailable(f"cannot create the sandbox account {name!r} ({err}); create an "
                           f"unprivileged user called {name} (e.g. in setup.sh)") from None
    if done.returncode not in (0, 9):  # 9: it was created meanwhile
        raise SandboxUnavailable(f"useradd {name} failed: {done.stderr.strip()}; create an "
                           f"unprivileged user called {name} (e.g. in setup.sh)")


def check_interpreter(account: Account) -> None:
    """Check that ``account`` can start this Python and import simlab.

    Raises
    ------
    SandboxUnavailable
        Naming the interpreter and how to make it reachable.
    """
    try:
        done = subprocess.run([sys.executable, "-c", "import simlab.grading.child"],
                              user=account.uid, group=account.gid, extra_groups=[], cwd="/",
                              env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                              capture_output=True, text=True, timeout=120)
        problem = None if done.returncode == 0 else (done.stderr.strip().splitlines() or ["?"])[-1]
    except OSError as err:
        problem = str(err)
    if problem:
        raise SandboxUnavailable(
            f"the sandbox account {account.name!r} cannot run {sys.executable} with simlab "
            f"({problem}); install Python and simlab where every user can read them (e.g. "
            "the system Python, as Gradescope's image has), not under a private home folder")


def readable_by_others(path: str | Path) -> bool:
    """Whether a user with no special rights could read ``path`` (mode bits of it and its folders)."""
    path = Path(path).resolve()
    try:
        if not path.stat().st_mode & 0o004:
            return False
        return all(parent.stat().st_mode & 0o001 for parent in path.parents)
    except OSError:
        return False


@dataclass(frozen=True)
class Process:
    """One entry of ``/proc``: pid, parent, group, session, owner, resident memory, state."""

    pid: int
    ppid: int
    pgid: int
    sid: int
    uid: int
    rss: int
    state: str = "R"

    @property
    def zombie(self) -> bool:
        """Ended, waiting to be reaped: it holds no memory and runs no code."""
        return self.state in ("Z", "X")


def processes() -> list[Process]:
    """Every process this system shows in ``/proc`` (empty where there is no ``/proc``)."""
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for name in entries:
        if name.isdigit():
            process = _read_process(int(name))
            if process is not None:
                found.append(process)
    return found


def _read_process(pid: int) -> Process | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read().decode("ascii", "replace")
        with open(f"/proc/{pid}/statm", "rb") as handle:
            rss = int(handle.read().split()[1]) * _PAGE
        uid = os.stat(f"/proc/{pid}").st_uid
    except (OSError, ValueError, IndexError):
        return None  # it ended while we looked
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(")") + 2:].split()
    try:
        return Process(pid, int(fields[1]), int(fields[2]), int(fields[3]), uid, rss, fields[0])
    except (IndexError, ValueError):
        return None


def run_processes(root_pid: int, account: Account | None,
                  snapshot: Iterable[Process] | None = None) -> list[Process]:
    """The processes of one run: every process of ``account``, or without an account the
    process ``root_pid`` with its group, its session and their descendants."""
    snapshot = list(processes() if snapshot is None else snapshot)
    if account is not None:
        return [p for p in snapshot if p.uid == account.uid]
    chosen = {p.pid for p in snapshot
              if p.pid == root_pid or p.pgid == root_pid or p.sid == root_pid}
    grew = True
    while grew:  # add descendants, however deep
        extra = {p.pid for p in snapshot if p.ppid in chosen and p.pid not in chosen}
        chosen |= extra
        grew = bool(extra)
    me = os.getpid()
    return [p for p in snapshot if p.pid in chosen and p.pid != me]


def become_subreaper() -> bool:
    """Make this process adopt its orphaned descendants (Linux), so that a process
    that a student's code detached is reaped here instead of staying a zombie."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def kill_all(root_pid: int, account: Account | None, *, rounds: int = 50) -> int:
    """SIGKILL every process of the run until none is left, reaping the ones this process
    adopted; return how many signals were sent."""
    killed = 0
    for _ in range(rounds):
        found = run_processes(root_pid, account)
        _reap(p.pid for p in found if p.zombie)
        targets = [p for p in found if not p.zombie]
        if not targets:
            break
        for process in targets:
            try:
                os.kill(process.pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.01)
    if account is None:
        try:
            os.killpg(root_pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, AttributeError):
            pass
    return killed


def _reap(pids: Iterable[int]) -> None:
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except (ChildProcessError, OSError):
            pass  # not our child: whoever adopted it reaps it


def usage(paths: Iterable[Path], account: Account | None, *, limit_entries: int = 20_000) -> int:
    """Bytes in the files under ``paths`` plus, with an account, the files it owns in
    :data:`SCRATCH_DIRS` (at most ``limit_entries`` entries are looked at)."""
    total, seen = 0, 0
    roots = [Path(p) for p in paths]
    if account is not None:
        roots += [entry for entry in _owned_entries(account)]
    for root in roots:
        for path in _walk(root):
            seen += 1
            if seen > limit_entries:
                return total
            try:
                info = path.lstat()
            except OSError:
                continue
            total += info.st_size if not path.is_dir() else 0
    return total


def _walk(root: Path):
    yield root
    try:
        if root.is_dir() and not root.is_symlink():
            for entry in os.scandir(root):
                yield from _walk(Path(entry.path))
    except OSError:
        return


def _owned_entries(account: Account) -> list[Path]:
    owned = []
    for folder in SCRATCH_DIRS:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid == account.uid:
                    owned.append(Path(entry.path))
            except OSError:
                continue
    return owned


def remove_leftovers(account: Account | None) -> int:
    """Delete what ``account`` left in :data:`SCRATCH_DIRS`; return how many entries."""
    if account is None:
        return 0
    removed = 0
    for path in _owned_entries(account):
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed += 1
        except OSError:
            continue
    return removed
