"""Teaching data sets.

``sleepstudy`` ships with the package. ``gpa`` is not redistributed: it is
read from a path, from the folder in ``$SIMLAB_DATA_DIR`` or from simlab's
user cache, and otherwise downloaded once into that cache and checked
against its SHA-256 (:mod:`simlab.datasets.remote`; ``simlab data gpa`` does
it from the shell).

pandas is imported when a data set is loaded, not with this package: the
grading sandbox imports it for the name of the data-folder variable.
"""
from __future__ import annotations

import os
from importlib import resources
from typing import TYPE_CHECKING

from .remote import (CACHE_DIR_VARIABLE, DATA_DIR_VARIABLE, DATA_URL_VARIABLE, cache_dir, fetch,
                     find_local, locate)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["sleepstudy", "gpa", "fetch", "cache_dir", "find_local", "DATA_DIR_VARIABLE",
           "CACHE_DIR_VARIABLE", "DATA_URL_VARIABLE"]


def sleepstudy() -> pd.DataFrame:
    """lme4's ``sleepstudy`` (Belenky et al. 2003): 18 subjects x 10 days.

    Returns
    -------
    DataFrame
        Columns ``Reaction`` (ms), ``Days`` and ``Subject`` (Categorical in
        R's level order).
    """
    import pandas as pd

    with resources.files(__package__).joinpath("sleepstudy.csv").open("r") as handle:
        data = pd.read_csv(handle)
    subjects = sorted(data["Subject"].unique())
    data["Subject"] = pd.Categorical(data["Subject"].astype(str), categories=map(str, subjects))
    return data


def gpa(path: str | os.PathLike | None = None) -> pd.DataFrame:
    """The GPA data (Hox, *Multilevel Analysis*): 200 students x 6 semesters.

    Parameters
    ----------
    path : path-like, optional
        The ``gpa.csv`` file, or a folder holding it. By default the folder
        named by ``$SIMLAB_DATA_DIR``, then simlab's cache
        (``$SIMLAB_CACHE_DIR``, else the user cache folder); failing both,
        the file is downloaded into the cache from the tutorial's repository
        (``$SIMLAB_DATA_URL`` overrides the address) and its SHA-256 checked.

    Returns
    -------
    DataFrame
        1200 rows; ``sex`` is Categorical(["male", "female"]) so that male is
        the reference level, as in the R tutorial.

    Raises
    ------
    FileNotFoundError
        ``path`` does not hold the file, or it is nowhere on this machine and
        cannot be downloaded; the message names every way to provide it.
    ValueError
        The download does not match the file's checksum (nothing is cached).
    """
    import pandas as pd

    data = pd.read_csv(locate("gpa", path))
    data["sex"] = pd.Categorical(data["sex"], categories=["male", "female"])
    return data
