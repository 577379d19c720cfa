"""Where a sweep's work units run: in process, in local processes, or on dask.

An :class:`Executor` maps a function over work units and yields the results
as they finish (in any order). Results never depend on the order, because
every replicate carries its own seed.

- ``serial``: in this process, one unit after another (``n_jobs=1``).
- ``loky`` (default for ``n_jobs != 1``) or ``threading``: joblib on this machine.
- ``dask``: a dask.distributed cluster, given by its scheduler address, a
  ``distributed.Client`` or a ``LocalCluster``; without one, a
  ``LocalCluster(n_workers=n_jobs, processes=True)`` is started and closed
  afterwards. dask is optional: ``pip install 'simlab[dask]'``.

Closing the result iterator early (an error, or Ctrl-C in the caller) cancels
the units not yet finished and shuts down anything the executor started.

Processes never outlive the one that runs the sweep: every loky worker is
started with :func:`_die_with_parent`, so when that process dies in any way
(SIGKILL, SIGTERM, a crash) its workers die within about a second, and with
them loky's and multiprocessing's resource trackers, which exit once no worker
holds their pipe (dask's local workers already end with their parent). A
worker lost during the run (killed by the out-of-memory killer or a signal)
raises :class:`WorkerLostError` instead of loky's ``TerminatedWorkerError`` or
dask's ``KilledWorker``.
"""
from __future__ import annotations

import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from joblib import Parallel, delayed, effective_n_jobs
from joblib.externals.loky.process_executor import TerminatedWorkerError

from simlab._checks import is_int

__all__ = ["BACKENDS", "Executor", "WorkerLostError", "make_executor", "require_distributed"]

BACKENDS = ("serial", "loky", "threading", "dask")
_DASK_HINT = "backend='dask' needs dask.distributed: pip install 'simlab[dask]'"


class WorkerLostError(ChildProcessError):
    """A worker process died while the sweep ran (out of memory, or killed by a signal).

    A failure of the machine, not an outcome: an ``OSError``, so it is one of
    :data:`simlab.study.batch.ENVIRONMENT_ERRORS`. Nothing of the chunks the
    worker was running is stored, the chunks finished before it are, so
    rerunning the same sweep resumes from them (the sweep adds a note saying
    how many chunks its store holds). ``__cause__`` is the backend's own
    exception: loky's ``TerminatedWorkerError`` or dask's ``KilledWorker``.
    """


def _worker_lost(detail: str) -> WorkerLostError:
    return WorkerLostError(
        f"a worker process of the sweep was lost, likely out of memory or killed ({detail}); "
        "the chunks it was running are not stored; if memory ran out, use fewer jobs.")


def require_distributed():
    """Import and return ``distributed``, or raise an ImportError saying how to install it."""
    try:
        import distributed
    except ImportError as err:
        raise ImportError(f"{_DASK_HINT} ({err}).") from None
    return distributed


@dataclass(frozen=True)
class Executor:
    """How to run work units.

    Attributes
    ----------
    backend : str
        One of :data:`BACKENDS`.
    n_jobs : int
        Parallel workers (joblib semantics: -1 means one per CPU).
    scheduler : str, distributed.Client, distributed.LocalCluster or None
        Where dask runs; None starts a local cluster for the run.
    """

    backend: str
    n_jobs: int = 1
    scheduler: Any = None

    def map_unordered(self, func: Callable, items: Iterable) -> Iterator:
        """Yield ``func(item)`` for every item, in order of completion."""
        if self.backend == "serial":
            return (func(item) for item in items)
        if self.backend == "dask":
            return _dask_map(func, list(items), self.n_jobs, self.scheduler)
        return _joblib_map(func, items, self.n_jobs, self.backend)


def make_executor(n_jobs: int = 1, backend: str | None = None,
                  scheduler: Any = None) -> Executor:
    """Check the execution arguments of :func:`simlab.study.sweep`.

    ``backend=None`` means ``serial`` for ``n_jobs=1``, ``loky`` otherwise, and
    ``dask`` when a ``scheduler`` is given.

    Raises
    ------
    TypeError, ValueError
        For a non-int or zero ``n_jobs``, an unknown backend, or a scheduler
        given to a non-dask backend.
    ImportError
        For ``backend="dask"`` when dask.distributed is not installed.
    """
    if not is_int(n_jobs):
        raise TypeError(f"n_jobs must be an int, got {n_jobs!r}.")
    if n_jobs == 0:
        raise ValueError("n_jobs must be a positive number of workers, or -1 for one per CPU; "
                         "got 0.")
    if backend is None:
        backend = "dask" if scheduler is not None else ("serial" if n_jobs == 1 else "loky")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS} or None, got {backend!r}.")
    if scheduler is not None and backend != "dask":
        raise ValueError(f"scheduler is only used with backend='dask', not {backend!r}.")
    if backend == "dask":
        _check_scheduler(scheduler)
    return Executor(backend=backend, n_jobs=int(n_jobs), scheduler=scheduler)


def _check_scheduler(scheduler: Any) -> None:
    distributed = require_distributed()
    kinds = (str, distributed.Client, distributed.deploy.Cluster)
    if scheduler is not None and not isinstance(scheduler, kinds):
        raise TypeError("scheduler must be a scheduler address such as 'tcp://host:8786', a "
                        f"distributed.Client or a LocalCluster; got {type(scheduler).__name__}.")


def _joblib_map(func: Callable, items: Iterable, n_jobs: int, backend: str) -> Iterator:
    kwargs = ({"initializer": _die_with_parent, "initargs": (_SPAWNER,)} if backend == "loky"
              else {})
    parallel = Parallel(n_jobs=n_jobs, backend=backend, batch_size=1,
                        return_as="generator_unordered", **kwargs)
    results = parallel(delayed(func)(item) for item in items)
    try:
        yield from results
    except TerminatedWorkerError as err:
        raise _worker_lost(_loky_detail(err)) from err
    finally:
        results.close()


def _loky_detail(err: TerminatedWorkerError) -> str:
    """The workers' exit codes loky reports, e.g. ``exit codes {SIGKILL(-9)}``."""
    found = re.search(r"exit codes of the workers are (\{.*?\})", str(err))
    return f"exit codes {found.group(1)}" if found else "loky: TerminatedWorkerError"


# ----- workers die with their parent ------------------------------------------------------
#: Seconds between two looks of a worker's watchdog at its parent.
_WATCH_INTERVAL = 0.25
_PR_SET_PDEATHSIG = 1   # <linux/prctl.h>


class _Spawner:
    """The process and thread that start a loky worker, as the worker sees them.

    loky pickles a worker's arguments in the thread that starts it, just
    before it starts it; this object pickles as ``(pid, main_thread)`` of that
    process and thread. The worker's initializer needs both: its parent's
    pid, to notice being orphaned, and whether the main thread started it,
    because Linux' parent-death signal fires when the starting *thread*
    ends, which for the main thread is the death of the process, but for
    loky's management thread or a user's thread is not.

    One instance (:data:`_SPAWNER`) is passed to every executor, so equal
    arguments let joblib reuse its workers across sweeps.
    """

    def __init__(self, pid: int | None = None, main_thread: bool = False) -> None:
        self.pid, self.main_thread = pid, main_thread

    def __reduce__(self):
        return (_Spawner, (os.getpid(), threading.current_thread() is threading.main_thread()))


_SPAWNER = _Spawner()


def _die_with_parent(spawner: _Spawner) -> None:
    """Initializer of loky workers: end this process when its parent ends.

    On Linux, when the parent's main thread started this worker, the kernel
    sends SIGKILL at the parent's death (``PR_SET_PDEATHSIG``): immediate,
    even in the middle of a computation. Otherwise (other systems, or a
    worker started by another thread) a daemon thread watches the parent and
    kills this process within :data:`_WATCH_INTERVAL` seconds of its death.
    """
    parent = spawner.pid
    if parent is None:  # not unpickled from a spawn: nothing to watch
        return
    if spawner.main_thread and sys.platform.startswith("linux") and _parent_death_signal():
        if os.getppid() != parent:  # the parent died before the signal was armed
            _die()
        return
    threading.Thread(target=_watch, args=(parent,), name="simlab-parent-watch",
                     daemon=True).start()


def _parent_death_signal() -> bool:
    """Ask Linux to SIGKILL this process when its parent thread ends; True if armed."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int) -> None:
    """Wait for the process ``parent`` to end, then end this one."""
    if sys.platform == "win32":
        if not _wait_windows(parent):
            return
    else:  # an orphan is adopted by init or a subreaper: its parent pid changes
        while os.getppid() == parent:
            time.sleep(_WATCH_INTERVAL)
    _die()


def _wait_windows(pid: int) -> bool:
    """Wait for process ``pid`` to end: True when it has, False if it cannot be watched."""
    import _winapi

    synchronize, no_such_process = 0x00100000, 87   # SYNCHRONIZE, ERROR_INVALID_PARAMETER
    try:
        handle = _winapi.OpenProcess(synchronize, False, pid)
    except OSError as err:
        return getattr(err, "winerror", None) == no_such_process
    try:
        _winapi.WaitForSingleObject(handle, _winapi.INFINITE)
    finally:
        _winapi.CloseHandle(handle)
    return True


def _die() -> None:
    """End this process now, from any thread, running no cleanup."""
    if hasattr(signal, "SIGKILL"):
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(1)


def _dask_map(func: Callable, items: list, n_jobs: int, scheduler: Any) -> Iterator:
    distributed = require_distributed()
    with _dask_client(distributed, scheduler, n_jobs) as client:
        futures = client.map(func, items, pure=False)
        try:
            for future in distributed.as_completed(futures):
                try:
                    result = future.result()
                except distributed.KilledWorker as err:
                    raise _worker_lost(f"dask: the {err.allowed_failures + 1} workers that ran "
                                       "one chunk all died") from err
                future.release()   # let the cluster forget it: memory stays flat
                yield result
        finally:
            client.cancel(futures)


@contextmanager
def _dask_client(distributed, scheduler: Any, n_jobs: int):
    """A client for ``scheduler``; what is started here is also closed here."""
    if isinstance(scheduler, distributed.Client):
        yield scheduler
    elif scheduler is not None:
        with distributed.Client(scheduler) as client:
            yield client
    else:
        with distributed.LocalCluster(n_workers=effective_n_jobs(n_jobs), threads_per_worker=1,
                                      processes=True, dashboard_address=None,
                                      silence_logs=logging.ERROR) as cluster, \
                distributed.Client(cluster) as client:
            yield client
