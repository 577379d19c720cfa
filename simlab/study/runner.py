"""``sweep``: a simulation study over a full-factorial grid of ``simulate`` settings."""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from joblib import effective_n_jobs

from simlab._vocabulary import DEFAULT_LEVEL

from .backends import Executor, make_executor
from .batch import CI_METHODS, ENVIRONMENT_ERRORS, Chunk, run_chunk
from .config import SweepConfig
from .grid import Grid, check_results_memory
from .progress import progress_bar
from .store import Store

__all__ = ["plan_chunks", "sweep"]

#: Largest default chunk: big enough to amortise the batch fit, small enough for memory.
DEFAULT_CHUNK_SIZE = 250
#: Aim for at least this many chunks per parallel worker, to balance the load.
_CHUNKS_PER_WORKER = 4


def sweep(grid: Mapping, *, nsim: int, seed: int, n_jobs: int = 1, backend: str | None = None,
          scheduler: Any = None, store: str | None = None,
          ci: Iterable[str] = CI_METHODS, level: float = DEFAULT_LEVEL, progress: bool = True,
          chunk_size: int | None = None) -> pd.DataFrame:
    """Simulate and fit ``nsim`` replicates in every cell of a full-factorial grid.

    Each replicate is simulated by :func:`simlab.simulate` from
    ``numpy.random.SeedSequence([seed, cell, rep])`` and fitted by REML in
    the exact engines of :func:`simlab.lmer`: ``y ~ x (+ z) + (1 | group)``
    (all replicates of a chunk in one vectorised call), or
    ``y ~ x (+ z) + (1 + x | group)`` in cells with ``tau_slope`` (each
    replicate has its own ``x``: a chunk's designs are stacked into one
    vectorised call, fits and profile intervals alike).
    Results are identical whatever ``n_jobs``, ``backend``, ``chunk_size``
    or resuming.

    Parameters
    ----------
    grid : dict
        ``simulate`` parameter -> list of levels, e.g. ``{"n_groups": [50,
        100], "n_per_group": [3, 10], "tau": [.5], "sigma": [.25]}``. A
        scalar is one level; for ``n_per_group`` a tuple ``(min, max)`` is one
        level, group sizes drawn from that range. ``tau_slope`` (None: no
        random slope) and ``rho`` add correlated random slopes for ``x``.
        Cells are numbered in :func:`itertools.product` order over the keys
        in ``simulate``'s signature order.
    nsim : int
        Simulations (replicates) per cell, at least 1; keyword-only, like every
        argument after ``grid``.
    seed : int
        Root seed, >= 0.
    n_jobs : int, default 1
        Parallel workers; -1 means one per CPU.
    backend : {None, "serial", "loky", "threading", "dask"}
        None runs in process for ``n_jobs=1``, else in joblib's ``loky``
        processes, or on dask when ``scheduler`` is given.
    scheduler : str, distributed.Client or distributed.LocalCluster, optional
        The dask cluster. With ``backend="dask"`` and no scheduler, a
        ``LocalCluster(n_workers=n_jobs, processes=True)`` runs the sweep and
        is closed afterwards. Needs ``pip install 'simlab[dask]'``.
    store : path, optional
        Directory to stream results into, one Parquet file per finished
        chunk, plus ``manifest.json``. Rerunning the same sweep resumes: the
        stored (cell, rep) pairs are skipped, and raising ``nsim`` keeps the
        finished ones. A store made by a different grid, seed, ci or level is
        refused, as is a store written by a simlab with another store
        format (older stores named the parameters differently). Every chunk
        is verified (SHA-256 digest, Parquet page checksums, exactly the
        (cell, rep) range its name states); a damaged
        chunk is moved to ``<store>/quarantine/`` with a warning and
        recomputed. The store is locked for the whole sweep: a second sweep
        on it is refused. The return value is then read back from the store.
    ci : sequence of {"wald", "profile"}
        Interval methods; each adds its bounds ``lower_<m>`` and ``upper_<m>``
        (:func:`simlab._vocabulary.interval_columns`).
        Profile intervals of random-slope cells need
        :mod:`simlab.model.relcov_profile` (one profile per replicate, many
        times the cost of the fit); without it a grid with ``tau_slope``
        needs ``ci=("wald",)``.
    level : float, default 0.95
        Confidence level of the intervals.
    progress : bool, default True
        Show a tqdm progress bar counting replicates, advanced per chunk: the
        notebook widget in Jupyter with ipywidgets, else the console bar (never
        a warning about the missing widget). tqdm is imported only then.
    chunk_size : int, optional
        Replicates per work unit (fitted in one batch). By default at most
        250, smaller when that gives each worker at least four units.

    Returns
    -------
    pandas.DataFrame
        One row per cell x rep x parameter, sorted by cell, rep and
        parameter: the grid keys, ``cell``, ``rep``, ``parameter`` (lme4's
        ``confint`` names and order, :func:`simlab.model.parameters.parameter_names`:
        ``sd_(Intercept)|group``, with random slopes
        ``cor_x.(Intercept)|group`` and ``sd_x|group``, then ``sigma``,
        ``(Intercept)``, ``x`` and ``z`` if ``cluster_effect`` is used),
        ``truth`` (``tau``, ``rho``, ``tau_slope``, ``sigma``, the fixed
        effects; NaN for a correlation when ``tau`` or ``tau_slope`` is 0),
        ``estimate`` (a correlation is NaN where an sd is estimated as 0),
        ``se`` (Wald se of the fixed effects, NaN for the variance
        parameters), ``lower_<m>``, ``upper_<m>`` (Wald: NaN for the
        variance parameters), ``singular``,
        ``converged`` (nullable booleans, NA when the replicate failed) and
        ``error`` (``""``, or why the replicate's simulation or fit failed;
        failed replicates are kept, never redrawn).

    Raises
    ------
    TypeError, ValueError
        For any bad argument, before any work: unknown grid key, empty list
        of levels, n_groups < 2, negative tau or sigma, rho without
        tau_slope, profile intervals with random slopes where they are not
        available, nsim < 1 or not an
        int, more nsim x cells than the results can hold in this machine's
        memory (estimated, never allocated, and refused before anything is
        written), unknown ci method, an empty or unwritable store path, one
        holding a different sweep, or one another sweep is writing to
        (:class:`~simlab.study.store.StoreInUseError`).
    RuntimeError
        If the result does not hold every replicate of cells x nsim exactly
        once (the store changed during the sweep).
    ImportError
        For ``backend="dask"`` without dask.distributed installed.
    MemoryError, OSError
        A failure of the machine (:data:`~simlab.study.batch.ENVIRONMENT_ERRORS`:
        out of memory, a lost worker, a full disk) stops the sweep. With a
        store, the error carries a note (``__notes__``): ``"N of M chunks are
        saved in STORE; rerun the same command to resume"``.
    KeyboardInterrupt
        Ctrl-C stops the sweep cleanly (workers are stopped and a cluster the
        sweep started is closed) and is re-raised, with the same note.
        Chunks finished before it are in the store, so rerunning the same
        call resumes from them.
    """
    config = SweepConfig(grid, nsim=nsim, seed=seed, ci=ci, level=level, chunk_size=chunk_size)
    cells = config.cells
    check_results_memory(cells, config.nsim)
    executor = make_executor(n_jobs, backend, scheduler)
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True or False, got {progress!r}.")
    if store is None:
        return _checked(_run_in_memory(cells, config, executor, progress), len(cells.cells),
                        config.nsim)
    with Store.open(store, config.manifest()) as opened:
        opened.quarantine_damaged()
        done = opened.completed(len(cells.cells), config.nsim)
        size = config.chunk_size or default_chunk_size(done, executor)
        _execute(plan_chunks(cells, config, done, size), executor, opened, progress)
        return _checked(opened.read(len(cells.cells), config.nsim), len(cells.cells),
                        config.nsim, opened)


def _run_in_memory(cells: Grid, config: SweepConfig, executor: Executor,
                   progress: bool) -> pd.DataFrame:
    """Every replicate of the sweep, computed here without a store."""
    done = np.zeros((len(cells.cells), config.nsim), dtype=bool)
    size = config.chunk_size or default_chunk_size(done, executor)
    frames = _execute(plan_chunks(cells, config, done, size), executor, None, progress)
    return pd.concat(frames, ignore_index=True).sort_values(
        ["cell", "rep"], kind="stable", ignore_index=True)


def _checked(table: pd.DataFrame, n_cells: int, nsim: int,
             store: Store | None = None) -> pd.DataFrame:
    """Return ``table`` if it has every replicate of the sweep, once; else raise.

    Raises
    ------
    RuntimeError
        If some (cell, rep) of the ``n_cells`` x ``nsim`` has no rows, or a
        ``(cell, rep, parameter)`` row appears twice.
    """
    keys = ["cell", "rep", "parameter"]
    found = 0 if table.empty else len(table[["cell", "rep"]].drop_duplicates())
    if found == n_cells * nsim and not table.duplicated(keys).any():
        return table
    where = f" (the store {store.path} changed during the sweep?)" if store is not None else ""
    raise RuntimeError(f"the sweep has {found} of the {n_cells * nsim} replicates (cells x nsim) "
                       f"it must return{where}; rerun it to recompute the missing ones.")


def default_chunk_size(done: np.ndarray, executor: Executor) -> int:
    """At most :data:`DEFAULT_CHUNK_SIZE`, and small enough to give every worker a few units."""
    if executor.backend == "serial":
        return DEFAULT_CHUNK_SIZE
    workers = effective_n_jobs(executor.n_jobs)
    todo = max(int((~done).sum()), 1)
    return max(1, min(DEFAULT_CHUNK_SIZE, math.ceil(todo / (_CHUNKS_PER_WORKER * workers))))


def plan_chunks(grid: Grid, config: SweepConfig, done: np.ndarray, size: int) -> list[Chunk]:
    """Split the replicates not yet ``done`` into chunks of at most ``size``, cell by cell."""
    chunks = []
    for cell in grid.cells:
        edges = np.diff(np.concatenate([[0], (~done[cell.index]).astype(int), [0]]))
        for run_start, run_stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            for start in range(int(run_start), int(run_stop), size):
                chunks.append(Chunk(cell=cell, start=start, stop=min(start + size, int(run_stop)),
                                    seed=config.seed, ci=config.ci, level=config.level))
    return chunks


@dataclass(frozen=True)
class ChunkResult:
    """The rows of one finished chunk, with where they go."""

    cell: int
    start: int
    stop: int
    frame: pd.DataFrame


def _run(chunk: Chunk) -> ChunkResult:
    return ChunkResult(chunk.cell.index, chunk.start, chunk.stop, run_chunk(chunk))


def _execute(chunks: list[Chunk], executor: Executor, store: Store | None,
             progress: bool) -> list[pd.DataFrame]:
    """Run the chunks; write each to ``store`` as it finishes, else collect it.

    If Ctrl-C or a failure of the machine (:data:`~simlab.study.batch.ENVIRONMENT_ERRORS`)
    stops the run, the exception is re-raised with a note saying how many
    chunks are in ``store`` and that rerunning resumes.
    """
    frames, saved = [], 0
    total = sum(len(chunk.reps) for chunk in chunks)
    if not chunks:
        return frames
    before = 0 if store is None else len(store.chunk_files())
    results = executor.map_unordered(_run, chunks)
    bar = progress_bar(total, desc="sweep", unit="rep", show=progress)
    with bar, closing(results):
        try:
            for result in results:
                if store is not None:
                    store.write(result.cell, result.start, result.stop, result.frame)
                else:
                    frames.append(result.frame)
                saved += 1
                bar.update(result.stop - result.start)
        except (KeyboardInterrupt, *ENVIRONMENT_ERRORS) as err:
            if store is not None:
                _add_note(err, f"{before + saved} of {before + len(chunks)} chunks are saved "
                               f"in {store.path}; rerun the same command to resume")
            raise
    return frames


def _add_note(err: BaseException, note: str) -> None:
    """Attach ``note`` to ``err`` as :meth:`BaseException.add_note` does.

    Written out so the note is also there on Python 3.10, where the command
    line prints it after the error.
    """
    err.__notes__ = [*getattr(err, "__notes__", ()), note]
