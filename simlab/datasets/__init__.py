"""Teaching data sets.

``sleepstudy`` ships with the package. ``gpa`` is not redistributed: it is
read at run time from a path or from the folder in ``$SIMLAB_DATA_DIR``.
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import pandas as pd

__all__ = ["sleepstudy", "gpa", "DATA_DIR_VARIABLE"]

DATA_DIR_VARIABLE = "SIMLAB_DATA_DIR"


def sleepstudy() -> pd.DataFrame:
    """lme4's ``sleepstudy`` (Belenky et al. 2003): 18 subjects x 10 days.

    Returns
    -------
    DataFrame
        Columns ``Reaction`` (ms), ``Days`` and ``Subject`` (Categorical in
        R's level order).
    """
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
        named by the environment variable ``SIMLAB_DATA_DIR``.

    Returns
    -------
    DataFrame
        1200 rows; ``sex`` is Categorical(["male", "female"]) so that male is
        the reference level, as in the R tutorial.

    Raises
    ------
    FileNotFoundError
        When no file is found, with instructions for supplying it.
    """
    file = _locate("gpa.csv", path)
    data = pd.read_csv(file)
    data["sex"] = pd.Categorical(data["sex"], categories=["male", "female"])
    return data


def _locate(name: str, path: str | os.PathLike | None) -> Path:
    if path is None:
        folder = os.environ.get(DATA_DIR_VARIABLE)
        if not folder:
            raise FileNotFoundError(
                f"{name} is not bundled with simlab. Pass its location, e.g. "
                f"simlab.datasets.gpa('path/to/{name}'), or set {DATA_DIR_VARIABLE} to the "
                f"folder that holds it (export {DATA_DIR_VARIABLE}=/path/to/data)."
            )
        path = folder
    candidate = Path(path)
    if candidate.is_dir():
        candidate = candidate / name
    if not candidate.is_file():
        raise FileNotFoundError(
            f"{candidate} does not exist. Point simlab at the real {name}: pass its path, or set "
            f"{DATA_DIR_VARIABLE} to the folder that holds it."
        )
    return candidate
