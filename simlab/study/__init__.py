"""Simulation sweeps: a grid of ``simulate`` settings x replicates, fitted in batches.

- :func:`sweep` runs the study (serially, in local processes or on dask) and
  returns one row per cell x rep x parameter, optionally streaming into a
  resumable Parquet store.
- :class:`SweepConfig` holds a sweep's settings, checked, and reads them from
  the TOML file of ``simlab sweep`` (:meth:`SweepConfig.from_toml`).
- :func:`read_store` reads a store back.
- :func:`summarize` turns the rows into performance measures per cell.

Replicate ``rep`` of cell ``c`` is simulated from
``numpy.random.SeedSequence([seed, c, rep])``, so results do not depend on
how the work is split or scheduled.
"""
from .backends import WorkerLostError
from .batch import CI_METHODS
from .config import SweepConfig
from .grid import GRID_KEYS, make_grid
from .runner import sweep
from .store import read_store
from .summarize import SweepSummary, summarize

__all__ = ["sweep", "read_store", "summarize", "SweepSummary", "make_grid", "SweepConfig", "CI_METHODS",
           "GRID_KEYS", "WorkerLostError"]
