"""A directory of Parquet chunks that a sweep streams into and resumes from.

Layout of a store directory::

    manifest.json                                what was swept: grid, seed, ci, level, versions,
                                                 format
    cell-0003_reps-000000-000499.parquet         replicates 0..499 (inclusive) of cell 3
    cell-0003_reps-000000-000499.parquet.sha256  its SHA-256 (``sha256sum -c`` format)
    .lock                                        locked by the one sweep writing the store
    quarantine/                                  damaged chunks, moved aside
    ...

A store proves its contents. Every chunk is written with Parquet page
checksums to a temporary file; its SHA-256 is written (atomically) to the
``.sha256`` sidecar, and only then is the chunk moved into place with
:func:`os.replace`, which is atomic: a chunk file is either complete, with
its digest, or absent. Leftover temporary files and digests without a chunk
(a run killed mid-write) are never read and are removed when the store is
next opened for writing. Reading a chunk checks its digest and page
checksums and that it holds exactly the replicates its name states (every
rep of the range, of that cell, with the same parameter rows): a damaged
chunk is an error naming it, never a silent loss of rows. A sweep resuming
the store first moves damaged chunks to ``quarantine/`` with a warning, so
their replicates are recomputed. Reading tolerates overlapping chunks by
keeping one row per ``(cell, rep, parameter)``.

One sweep at a time writes to a store: :meth:`Store.open` takes an OS lock
(:func:`fcntl.flock`) on ``.lock`` for as long as the store is open, and
refuses a second writer. The kernel drops the lock when its process dies, so
a crashed sweep never blocks the next one. Stores made before digests were
recorded (no ``chunk_digests`` in the manifest) are read without them.

The manifest's ``format`` (:data:`STORE_FORMAT`) numbers the layout of the
rows. A sweep refuses to resume a store of another format, whose chunks
could not be mixed with its own; reading one still works. Format 1 (stores
without the field) named the parameters ``(Intercept)``, ``x``,
``sd_(Intercept)``, ``sigma`` in that order; format 2 uses lme4's
``confint`` names and order (:func:`simlab.model.parameters.parameter_names`:
``sd_(Intercept)|group``, ``sigma``, ``(Intercept)``, ``x``).
"""
from __future__ import annotations

import hashlib
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
from typing import Any

import numpy as np
import pandas as pd

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, one writer is up to the user
    fcntl = None

__all__ = ["MANIFEST", "QUARANTINE", "STORE_FORMAT", "DamagedChunkError", "Manifest", "Store",
           "StoreInUseError", "chunk_name", "directory_path", "read_store"]

MANIFEST = "manifest.json"
#: Folder of a store where damaged chunks are moved.
QUARANTINE = "quarantine"
_LOCK = ".lock"
_DIGEST_SUFFIX = ".sha256"
#: The columns that say which replicates a chunk holds.
_KEY_COLUMNS = ["cell", "rep", "parameter"]
_CHUNK = re.compile(r"^cell-(\d+)_reps-(\d+)-(\d+)\.parquet$")
_TEMP_SUFFIX = ".tmp"
_PACKAGES = ("simlab", "numpy", "pandas", "scipy")
#: The manifest fields that must match for a run to resume a store.
IDENTITY = ("grid", "seed", "ci", "level")
#: The layout of the rows this simlab writes (see the module docstring); manifests without
#: a ``format`` are format 1.
STORE_FORMAT = 2
_FORMATS = {1: "parameters named (Intercept), x, sd_(Intercept), sigma, fixed effects first",
            2: "parameters named as lme4's confint: sd_(Intercept)|group, sigma, (Intercept), x"}


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
    chunk_digests : bool
        Whether every chunk has a SHA-256 sidecar (False for stores made
        before simlab recorded them; their chunks are checked without).
    format : int
        The layout of the rows (:data:`STORE_FORMAT` for new stores; 1 for
        manifests written before the field existed).
    """

    grid: dict
    seed: int
    ci: list
    level: float
    versions: dict = field(default_factory=_versions)
    created: str = field(default_factory=_now)
    chunk_digests: bool = True
    format: int = STORE_FORMAT

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


class DamagedChunkError(ValueError):
    """A chunk whose bytes or rows are not what its name and digest state."""


class StoreInUseError(ValueError):
    """Another sweep holds the store's lock."""


@dataclass(frozen=True)
class Store:
    """A store directory (see the module docstring).

    Use :meth:`open` to write (it checks the directory before any work is
    done and holds the store's lock until :meth:`close`, or the end of a
    ``with`` block); ``Store(path)`` only reads.

    Attributes
    ----------
    path : Path
    chunk_digests : bool
        Whether a chunk without a SHA-256 sidecar is damaged.
    """

    path: Path
    chunk_digests: bool = True
    _lock: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def open(cls, path: str | os.PathLike, manifest: Manifest) -> "Store":
        """Open (or create) a store for the sweep described by ``manifest``; lock it.

        Raises
        ------
        ValueError
            If the path cannot be used as a writable directory, if it holds
            chunks but no manifest, or if its manifest describes a different
            sweep (the message says what differs).
        StoreInUseError
            If another sweep is writing to the store.
        """
        path = _writable_directory(path)
        lock = _lock(path)
        try:
            unlocked = cls(path)
            existing = unlocked.manifest()
            if existing is None:
                if unlocked.chunk_files():
                    raise ValueError(f"{path} holds result chunks but no {MANIFEST}; "
                                     "choose a new --out directory for this sweep.")
                unlocked._write_manifest(manifest)
            else:
                _check_same_sweep(path, existing, manifest)
            store = cls(path, (existing or manifest).chunk_digests, lock)
            store.remove_temporary_files()
        except BaseException:
            lock.close()
            raise
        return store

    def close(self) -> None:
        """Release the store's lock (nothing for a read-only store)."""
        if self._lock is not None:
            self._lock.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def manifest(self) -> Manifest | None:
        """The stored manifest, or None if there is none yet."""
        file = self.path / MANIFEST
        if not file.exists():
            return None
        try:
            return Manifest(**{"chunk_digests": False, "format": 1, **json.loads(file.read_text())})
        except (ValueError, TypeError) as err:
            raise ValueError(f"{file} is not a sweep manifest ({err}); choose a new --out "
                             "directory or remove the file.") from None

    def _write_manifest(self, manifest: Manifest) -> None:
        text = json.dumps(asdict(manifest), indent=2)
        _atomic_write(self.path / MANIFEST, lambda temp: temp.write_text(text))

    def remove_temporary_files(self) -> None:
        """Delete temporary files, and digests without a chunk, left by an interrupted write."""
        for temp in self.path.glob(f".*{_TEMP_SUFFIX}"):
            temp.unlink(missing_ok=True)
        for digest in self.path.glob(f"*.parquet{_DIGEST_SUFFIX}"):
            if not digest.with_suffix("").exists():
                digest.unlink(missing_ok=True)

    def chunk_files(self) -> list[tuple[int, int, int, Path]]:
        """``(cell, start, stop, path)`` of every complete chunk, ``stop`` excluded."""
        found = []
        for path in sorted(self.path.iterdir()):
            match = _CHUNK.match(path.name)
            if match:
                cell, start, last = map(int, match.groups())
                found.append((cell, start, last + 1, path))
        return found

    def completed(self, n_cells: int, nsim: int) -> np.ndarray:
        """Boolean ``(n_cells, nsim)`` array: is replicate ``rep`` of ``cell`` stored?"""
        done = np.zeros((n_cells, nsim), dtype=bool)
        for cell, start, stop, _ in self.chunk_files():
            if cell < n_cells:
                done[cell, start:stop] = True
        return done

    def quarantine_damaged(self) -> list[Path]:
        """Move every damaged chunk (and its digest) to ``quarantine/``, warning for each.

        Returns
        -------
        list of Path
            Where the damaged chunks now are.
        """
        moved = []
        for chunk in self.chunk_files():
            try:
                _load_chunk(chunk, self.chunk_digests, columns=_KEY_COLUMNS)
            except DamagedChunkError as err:
                moved.append(self._quarantine(chunk[3]))
                warnings.warn(f"{err}; moved it to {moved[-1]}: its replicates will be "
                              "recomputed.", UserWarning, stacklevel=2)
        return moved

    def _quarantine(self, path: Path) -> Path:
        folder = self.path / QUARANTINE
        folder.mkdir(exist_ok=True)
        target = folder / path.name
        if target.exists():
            target = folder / f"{path.stem}.{uuid.uuid4().hex[:8]}{path.suffix}"
        os.replace(path, target)
        if _digest_file(path).exists():
            os.replace(_digest_file(path), _digest_file(target))
        return target

    def write(self, cell: int, start: int, stop: int, frame: pd.DataFrame) -> Path:
        """Write one chunk, with page checksums, then its digest, atomically; return its path."""
        path = self.path / chunk_name(cell, start, stop)

        def write_chunk(temp: Path) -> None:
            frame.to_parquet(temp, engine="pyarrow", index=False, write_page_checksum=True)
            line = f"{_sha256(temp)}  {path.name}\n"
            _atomic_write(_digest_file(path), lambda digest: digest.write_text(line))

        _atomic_write(path, write_chunk)
        return path

    def read(self, n_cells: int | None = None, nsim: int | None = None) -> pd.DataFrame:
        """Every stored row (of cells ``< n_cells`` and replicates ``rep < nsim`` if given).

        Rows are unique per ``(cell, rep, parameter)`` and sorted by cell, rep
        and parameter order.

        Raises
        ------
        DamagedChunkError
            If a chunk is damaged (the message names it).
        """
        frames = []
        for chunk in self.chunk_files():
            cell, start = chunk[:2]
            if (n_cells is not None and cell >= n_cells) or (nsim is not None and start >= nsim):
                continue
            try:
                frame = _load_chunk(chunk, self.chunk_digests)
            except DamagedChunkError as err:
                raise DamagedChunkError(f"{err}; rerun the sweep (the same command or call) "
                                        f"to move it to {QUARANTINE}/ and recompute its "
                                        "replicates.") from None
            frames.append(frame if nsim is None else frame[frame["rep"] < nsim])
        if not frames:
            return pd.DataFrame()
        table = pd.concat(frames, ignore_index=True)
        table = table.drop_duplicates(["cell", "rep", "parameter"], keep="first")
        return table.sort_values(["cell", "rep"], kind="stable", ignore_index=True)


def read_store(path: str | os.PathLike) -> pd.DataFrame:
    """Read every result of the sweep store at ``path`` (a ``sweep(..., store=path)``).

    Raises
    ------
    ValueError
        If ``path`` is empty or not a sweep store, or a chunk is damaged
        (:class:`DamagedChunkError`, naming it).
    """
    path = directory_path(path)
    if not (path / MANIFEST).is_file():
        raise ValueError(f"{path} is not a sweep store: it has no {MANIFEST}.")
    return Store(path, Store(path).manifest().chunk_digests).read()


def _lock(path: Path) -> Any:
    """Lock ``path``'s lock file for this process; return the open file that holds it."""
    handle = open(path / _LOCK, "a")   # noqa: SIM115 - held until Store.close
    if fcntl is None:
        return handle
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StoreInUseError(
            f"the store {str(path)!r} is in use: another sweep is writing to it (it holds "
            f"{path / _LOCK}). Wait for that sweep to finish, or choose a new --out "
            "directory.") from None
    except OSError as err:   # e.g. a network file system without locks
        handle.close()
        raise ValueError(f"the store {str(path)!r} cannot be locked for this sweep ({err}); "
                         "choose an --out directory on a local disk.") from None
    return handle


def _digest_file(chunk: Path) -> Path:
    return chunk.with_name(chunk.name + _DIGEST_SUFFIX)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_digest(path: Path, required: bool) -> None:
    """Raise DamagedChunkError unless ``path`` matches its digest (or has none, if allowed)."""
    digest = _digest_file(path)
    if not digest.exists():
        if required:
            raise DamagedChunkError(f"the chunk {path} is damaged: its digest {digest.name} "
                                    "is missing")
        return
    expected, _, name = digest.read_text().strip().partition("  ")
    if name != path.name or _sha256(path) != expected:
        raise DamagedChunkError(f"the chunk {path} is damaged: its SHA-256 differs from the "
                                f"one recorded in {digest.name}")


def _load_chunk(chunk: tuple[int, int, int, Path], digests: bool,
                columns: list[str] | None = None) -> pd.DataFrame:
    """The checked rows of one chunk (see the module docstring); raise DamagedChunkError."""
    cell, start, stop, path = chunk
    _check_digest(path, digests)
    try:
        frame = pd.read_parquet(path, engine="pyarrow", columns=columns,
                                page_checksum_verification=True)
    except Exception as err:  # noqa: BLE001 - pyarrow raises several types
        reason = " ".join(str(err).split())   # pyarrow's messages span lines
        raise DamagedChunkError(f"the chunk {path} is damaged: it cannot be read as "
                                f"Parquet ({reason})") from None
    problem = _range_problem(frame, cell, start, stop)
    if problem:
        raise DamagedChunkError(f"the chunk {path} is damaged: {problem}")
    return frame


def _range_problem(frame: pd.DataFrame, cell: int, start: int, stop: int) -> str | None:
    """Why ``frame`` does not hold exactly reps ``start .. stop - 1`` of ``cell``, or None."""
    missing = [c for c in _KEY_COLUMNS if c not in frame.columns]
    if missing:
        return f"it has no column {missing}"
    if not (frame["cell"] == cell).all():
        return f"it holds rows of cell(s) {sorted(set(frame['cell']) - {cell})}"
    reps = np.unique(frame["rep"].to_numpy())
    if not np.array_equal(reps, np.arange(start, stop)):
        return f"it holds {len(reps)} distinct reps, not exactly reps {start}..{stop - 1}"
    per_rep = frame.groupby("rep")["parameter"]
    if frame.duplicated(["rep", "parameter"]).any() or per_rep.size().nunique() != 1:
        return "its reps do not each have one row per parameter"
    return None


def directory_path(path: Any, what: str = "store") -> Path:
    """``path`` as a Path, if it names a directory: a non-blank str or path-like.

    An empty string is refused rather than read as the current directory,
    where a store or a report would mix with whatever else is there.

    Raises
    ------
    TypeError
        If ``path`` is not a str or :class:`os.PathLike`.
    ValueError
        If it is empty or only whitespace.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{what} must be a directory path, got {type(path).__name__}.")
    if not str(os.fspath(path)).strip():
        raise ValueError(f"{what} path is empty ({os.fspath(path)!r}); give a directory such "
                         "as 'results' (an empty path would be the current directory).")
    return Path(path)


def _writable_directory(path: str | os.PathLike) -> Path:
    """Create ``path`` if needed and prove that files can be written in it."""
    path = directory_path(path)
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


def _check_format(path: Path, existing: Manifest, manifest: Manifest) -> None:
    """Refuse to add rows of one format to a store of another."""
    if existing.format == manifest.format:
        return
    which = "an older" if existing.format < manifest.format else "a newer"
    written = existing.versions.get("simlab", "unknown") if isinstance(existing.versions,
                                                                       dict) else "unknown"
    raise ValueError(
        f"the store {str(path)!r} was written by {which} simlab ({written}; store format "
        f"{existing.format}: {_FORMATS.get(existing.format, 'unknown to this simlab')}), and "
        f"this simlab writes format {manifest.format} "
        f"({_FORMATS.get(manifest.format, 'unknown')}), so the two cannot be mixed. Use a new "
        "store (--out directory) for this sweep; the old store can still be read "
        "(read_store, simlab report).")


def _check_same_sweep(path: Path, existing: Manifest, manifest: Manifest) -> None:
    _check_format(path, existing, manifest)
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
