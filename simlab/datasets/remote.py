"""Data files simlab may not redistribute: found on this machine, or downloaded once.

A file is looked for, in order, at a path the caller gives, in the folder
named by ``$SIMLAB_DATA_DIR``, and in simlab's user cache
(:func:`cache_dir`). Failing all three it is downloaded with pooch from the
tutorial's public repository (Michael Clark, *Mixed Models with R*) into the
cache, and kept only if its SHA-256 matches the one recorded here, as
seaborn's ``load_dataset`` and scikit-learn's ``fetch_*`` do. Without a
network the error names every way to provide the file.

pooch (and requests) are imported only when a download is needed.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RemoteFile", "REMOTE_FILES", "DATA_DIR_VARIABLE", "CACHE_DIR_VARIABLE",
           "DATA_URL_VARIABLE", "DATA_URL", "cache_dir", "data_url", "find_local", "locate",
           "fetch"]

#: Folder holding data files (CI points it at ``../shared/data``).
DATA_DIR_VARIABLE = "SIMLAB_DATA_DIR"
#: Overrides the user cache folder (tests point it at a temporary folder).
CACHE_DIR_VARIABLE = "SIMLAB_CACHE_DIR"
#: Overrides :data:`DATA_URL`, the folder URL the files are downloaded from.
DATA_URL_VARIABLE = "SIMLAB_DATA_URL"
#: The data folder of the tutorial's repository (github.com/m-clark/mixed-models-with-R).
DATA_URL = "https://raw.githubusercontent.com/m-clark/mixed-models-with-R/master/data/"
#: Seconds to wait for the server before a download is given up.
TIMEOUT = 30


@dataclass(frozen=True)
class RemoteFile:
    """A data file known by name, size and SHA-256, downloaded from :func:`data_url`."""

    dataset: str
    name: str
    sha256: str
    size: int


#: The files :func:`locate` can download, by data-set name.
REMOTE_FILES = {
    "gpa": RemoteFile("gpa", "gpa.csv",
                      "7c1eec50027b5ad9c82e118ef5b0d46bf30e300ddd195602b301856d9bc1c48c", 62958),
}


def cache_dir() -> Path:
    """simlab's download cache: ``$SIMLAB_CACHE_DIR``, else the user cache (``~/.cache/simlab``
    on Linux, from ``pooch.os_cache``)."""
    folder = os.environ.get(CACHE_DIR_VARIABLE)
    if folder:
        return Path(folder).expanduser()
    import pooch

    return Path(pooch.os_cache("simlab"))


def data_url() -> str:
    """The folder URL files are downloaded from: ``$SIMLAB_DATA_URL``, else :data:`DATA_URL`."""
    url = os.environ.get(DATA_URL_VARIABLE) or DATA_URL
    return url if url.endswith("/") else url + "/"


def _remote(dataset: str) -> RemoteFile:
    if dataset not in REMOTE_FILES:
        raise ValueError(f"unknown data set {dataset!r}; simlab can download "
                         f"{sorted(REMOTE_FILES)}")
    return REMOTE_FILES[dataset]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def find_local(name: str) -> Path | None:
    """The file ``name`` in ``$SIMLAB_DATA_DIR`` or (checksum intact) in the cache, or None.

    Never downloads. A cached copy whose checksum no longer matches is ignored
    (and replaced by the next download).
    """
    folder = os.environ.get(DATA_DIR_VARIABLE)
    if folder and (Path(folder) / name).is_file():
        return Path(folder) / name
    cached = cache_dir() / name
    known = next((f for f in REMOTE_FILES.values() if f.name == name), None)
    if cached.is_file() and (known is None or _sha256(cached) == known.sha256):
        return cached
    return None


def locate(dataset: str, path: str | os.PathLike | None = None) -> Path:
    """The file of ``dataset``: at ``path`` (a file, or a folder holding it), else found by
    :func:`find_local`, else downloaded into the cache.

    Raises
    ------
    FileNotFoundError
        ``path`` does not hold the file, or it is nowhere here and cannot be
        downloaded; the message names every way to provide it.
    ValueError
        The download does not match the file's SHA-256 (nothing is cached).
    """
    remote = _remote(dataset)
    if path is not None:
        candidate = Path(path)
        if candidate.is_dir():
            candidate = candidate / remote.name
        if not candidate.is_file():
            raise FileNotFoundError(
                f"{candidate} does not exist. Point simlab at the real {remote.name}: pass its "
                f"path, or set {DATA_DIR_VARIABLE} to the folder that holds it.")
        return candidate
    return find_local(remote.name) or _download(remote)


def fetch(dataset: str, *, force: bool = False) -> Path:
    """Make ``dataset`` available on this machine and return where it is.

    Parameters
    ----------
    dataset : str
        A name of :data:`REMOTE_FILES`, e.g. ``"gpa"``.
    force : bool
        Download into the cache even when a copy is already here.

    Returns
    -------
    Path
        The file the data-set loader reads.
    """
    remote = _remote(dataset)
    found = None if force else find_local(remote.name)
    return found or _download(remote)


def _download(remote: RemoteFile) -> Path:
    """Download ``remote`` into the cache through a private temporary folder, so that a failed
    or refused download leaves the cache as it was."""
    import pooch
    import requests

    url, cache = data_url() + remote.name, cache_dir()
    logger, level = pooch.get_logger(), pooch.get_logger().level
    # pooch would announce the private temporary path; the caller is told the final one.
    logger.setLevel("WARNING")
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".download-", dir=cache) as work:
            got = pooch.retrieve(url, known_hash=f"sha256:{remote.sha256}", fname=remote.name,
                                 path=work, downloader=pooch.HTTPDownloader(timeout=TIMEOUT))
            os.replace(got, cache / remote.name)
    except ValueError as err:  # pooch's checksum mismatch
        raise ValueError(
            f"the {remote.name} downloaded from {url} does not match its SHA-256 "
            f"({remote.sha256}), so it was refused and nothing was cached ({err}). "
            + _ways(remote, cache)) from None
    except (requests.RequestException, OSError) as err:
        raise FileNotFoundError(
            f"{remote.name} is not on this machine and could not be downloaded from {url} "
            f"({type(err).__name__}). " + _ways(remote, cache)) from None
    finally:
        logger.setLevel(level)
    return cache / remote.name


def _ways(remote: RemoteFile, cache: Path) -> str:
    """Every way to provide the file, as one sentence."""
    return (f"Provide it in any of these ways: pass its path, "
            f"simlab.datasets.{remote.dataset}('path/to/{remote.name}'); set "
            f"{DATA_DIR_VARIABLE} to the folder that holds it; copy it into the cache folder "
            f"{cache}; or run `simlab data {remote.dataset}` once while online.")

