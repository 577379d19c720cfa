"""A directory of Parquet chunks that a sweep streams into and resumes from.

Layout of a store directory::

    manifest.json                         what was swept: grid, seed, ci, level, versions
    cell-0003_reps-000000-000499.parquet  replicates 0..499 (inclusive) of cell 3
    ...

Every chunk is written to a temporary file in the same directory and moved
into place with :func:`os.replace`, which is atomic: a chunk file is either
complete or absent. Leftover temporary files (a run killed mid-write) are
never read and are removed when the store is next opened. Which replicates
are done is read from the file names alone, so resuming reads no data.
Reading tolerates overlapping chunks by keeping one row per
``(cell, rep, parameter)``. One sweep at a time should write to a store.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
import uuid
import warnings
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["MANIFEST", "Manifest", "Store", "chunk_name", "read_store"]

MANIFEST = "manifest.json"
_CHUNK = re.compile(r"^cell-(\d+)_reps-(\d+)-(\d+)\.parquet$")
_TEMP_SUFFIX = ".tmp"
_PACKAGES = ("simlab", "numpy", "pandas", "scipy")
#: The manifest fields that must match for a run to resume a store.
IDENTITY = ("grid", "seed", "ci", "level")


def _versions() -> dict[str, str]:
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Manifest:
    """What a store holds: the sweep's identity, plus provenance.

    Attributes
    ----------
    grid : dict
        The grid's JSON form (:meth:`simlab.study.grid.Grid.encoded`).
    seed : int
    ci : list of str
    level : float
    versions : dict of str to str
        Versions of simlab, numpy, pandas and scipy that created the store.
    created : str
        ISO 8601 creation time (UTC).
    """

    grid: dict
    seed: int
    ci: list
    level: float
    versions: dict = field(default_factory=_versions)
    created: str = field(default_factory=_now)

    def differences(self, other: "Manifest") -> list[str]:
        """Describe each identity field where ``other`` differs from this one."""
        return [f"{name} (store: {getattr(self, name)!r}; this run: {getattr(other, name)!r})"
                for name in IDENTITY if getattr(self, name) != getattr(other, name)]


def chunk_name(cell: int, start: int, stop: int) -> str:
    """File name of the chunk holding replicates ``start .. stop - 1`` of ``cell``."""
    return f"cell-{cell:04d}_reps-{start:06d}-{stop - 1:06d}.parquet"


def _atomic_write(path: Path, write) -> None:
    """Call ``write(temp_path)``, then move the temporary file onto ``path``."""
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}{_TEMP_SUFFIX}")
    try:
        write(temp)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


@dataclass(frozen=True)
class Store:
    """An opened, writable store directory (see the module docstring).

    Use :meth:`open`, which checks the directory before any work is done.
    """

    path: Path

    @classmethod
    def open(cls, path: str | os.PathLike, manifest: Manifest) -> "Store":
        """Open (or create) a store for the sweep described by ``manifest``.

        Raises
        ------
        ValueError
            If the path cannot be used as a writable directory, if it holds
            chunks but no manifest, or if its manifest describes a different
            sweep (the message says what differs).
        """
        store = cls(_writable_directory(path))
        existing = store.manifest()
        if existing is None:
            if store.chunk_files():
                raise ValueError(f"{store.path} holds result chunks but no {MANIFEST}; "
                                 "choose a new --out directory for this sweep.")
            store._write_manifest(manifest)
        else:
            _check_same_sweep(store.path, existing, manifest)
        store.remove_temporary_files()
        return store

    def manifest(self) -> Manifest | None:
        """The stored manifest, or None if there is none yet."""
        file = self.path / MANIFEST
        if not file.exists():
            return None
        try:
            return Manifest(**json.loads(file.read_text()))
        except (ValueError, TypeError) as err:
            raise ValueError(f"{file} is not a sweep manifest ({err}); choose a new --out "
                             "directory or remove the file.") from None

    def _write_manifest(self, manifest: Manifest) -> None:
        text = json.dumps(asdict(manifest), indent=2)
        _atomic_write(self.path / MANIFEST, lambda temp: temp.write_text(text))

    def remove_temporary_files(self) -> None:
        """Delete temporary files left by an interrupted write."""
        for temp in self.path.glob(f".*{_TEMP_SUFFIX}"):
            temp.unlink(missing_ok=True)

    def chunk_files(self) -> list[tuple[int, int, int, Path]]:
        """``(cell, start, stop, path)`` of every complete chunk, ``stop`` excluded."""
        found = []
        for path in sorted(self.path.iterdir()):
            match = _CHUNK.match(path.name)
            if match:
                cell, start, last = map(int, match.groups())
                found.append((cell, start, last + 1, path))
        return found

    def completed(self, n_cells: int, reps: int) -> np.ndarray:
        """Boolean ``(n_cells, reps)`` array: is replicate ``rep`` of ``cell`` stored?"""
        done = np.zeros((n_cells, reps), dtype=bool)
        for cell, start, stop, _ in self.chunk_files():
            if cell < n_cells:
                done[cell, start:stop] = True
        return done

    def write(self, cell: int, start: int, stop: int, frame: pd.DataFrame) -> Path:
        """Write one chunk atomically; return its path."""
        path = self.path / chunk_name(cell, start, stop)
        _atomic_write(path, lambda temp: frame.to_parquet(temp, engine="pyarrow", index=False))
        return path

    def read(self, n_cells: int | None = None, reps: int | None = None) -> pd.DataFrame:
        """Every stored row (of cells ``< n_cells`` and reps ``< reps`` if given).

        Rows are unique per ``(cell, rep, parameter)`` and sorted by cell, rep
        and parameter order.
        """
        frames = []
        for cell, start, _, path in self.chunk_files():
            if (n_cells is not None and cell >= n_cells) or (reps is not None and start >= reps):
                continue
            frame = _read_chunk(path)
            frames.append(frame if reps is None else frame[frame["rep"] < reps])
        if not frames:
            return pd.DataFrame()
        table = pd.concat(frames, ignore_index=True)
        table = table.drop_duplicates(["cell", "rep", "parameter"], keep="first")
        return table.sort_values(["cell", "rep"], kind="stable", ignore_index=True)


def read_store(path: str | os.PathLike) -> pd.DataFrame:
    """Read every result of the sweep store at ``path`` (a ``sweep(..., store=path)``)."""
    path = Path(path)
    if not (path / MANIFEST).is_file():
        raise ValueError(f"{path} is not a sweep store: it has no {MANIFEST}.")
    return Store(path).read()


def _read_chunk(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path, engine="pyarrow")
    except Exception as err:  # noqa: BLE001 - pyarrow raises several types
        raise ValueError(f"could not read the chunk {path} ({err}); delete it and rerun the "
                         "sweep to recompute those replicates.") from None


def _writable_directory(path: str | os.PathLike) -> Path:
    """Create ``path`` if needed and prove that files can be written in it."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"store must be a directory path, got {type(path).__name__}.")
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"store {str(path)!r} exists and is not a directory; give a "
                         "directory path for --out.")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-", suffix=_TEMP_SUFFIX):
            pass
    except OSError as err:
        raise ValueError(f"store {str(path)!r} is not a writable directory ({err}); give "
                         "another --out directory.") from None
    return path


def _check_same_sweep(path: Path, existing: Manifest, manifest: Manifest) -> None:
    differences = existing.differences(manifest)
    if differences:
        raise ValueError(
            f"the store {str(path)!r} holds a different sweep: " + "; ".join(differences)
            + ". Rerun with the store's settings to resume it, or choose a new --out "
            "directory for this sweep.")
    if existing.versions != manifest.versions:
        warnings.warn(f"the store {str(path)!r} was created with {existing.versions}; this "
                      f"run uses {manifest.versions}, so its results mix versions.",
                      UserWarning, stacklevel=3)
