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
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from joblib import Parallel, delayed, effective_n_jobs

from simlab._checks import is_int

__all__ = ["BACKENDS", "Executor", "make_executor", "require_distributed"]

BACKENDS = ("serial", "loky", "threading", "dask")
_DASK_HINT = "backend='dask' needs dask.distributed: pip install 'simlab[dask]'"


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
    parallel = Parallel(n_jobs=n_jobs, backend=backend, batch_size=1,
                        return_as="generator_unordered")
    return parallel(delayed(func)(item) for item in items)


def _dask_map(func: Callable, items: list, n_jobs: int, scheduler: Any) -> Iterator:
    distributed = require_distributed()
    with _dask_client(distributed, scheduler, n_jobs) as client:
        futures = client.map(func, items, pure=False)
        try:
            for future in distributed.as_completed(futures):
                result = future.result()
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
