"""Per-student variants of the simulation exercise.

A student id maps to a seed by hashing (:func:`student_seed`), and the seed
to simulation parameters (:func:`sim_variant`). Without an id the variant is
the seed tutorial's own: ``set.seed(1234)``, 100 groups of 3, tau 0.5,
sigma 0.25. The grader runs both the student's file and the solution with
``SIMLAB_STUDENT_ID`` set, so the answer key is recomputed for that student.

The id is the one a student knows and types into ``simlab check
--student-id``: the student id (SID) of the course roster, or the e-mail
where the roster has no SID (:func:`variant_id`). Gradescope's
``submission_metadata.json`` (:func:`student_id_from_metadata`) and the
roster export (:func:`read_roster`) both follow that rule, so
``simlab variants --roster`` prints the very ids the autograder uses.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simlab._checks import name_list

__all__ = ["STUDENT_ENV", "SIGMAS", "RATIOS", "ID_FIELDS", "SimVariant", "student_seed",
           "sim_variant", "variant_id", "student_id_from_metadata", "read_roster",
           "variant_table"]

#: Environment variable holding the student's id while an exercise runs.
STUDENT_ENV = "SIMLAB_STUDENT_ID"
#: The residual sds a variant draws from.
SIGMAS = (0.2, 0.25, 0.3)
#: The ratios tau / sigma a variant draws from: always well above 1 (the tutorial's is 2),
#: so swapping tau and sigma lowers the ICC clearly, and at most 2.2, so the swapped
#: model's group variance is never estimated as 0. Every margin the answer key needs
#: depends on this ratio and the seed only (scaling tau and sigma together scales every
#: interval alike); ``simlab validate --variants`` checks them.
RATIOS = (1.8, 2.0, 2.2)
#: Fields naming a student, in order of preference (case-insensitive): the roster's
#: student id, else the e-mail.
ID_FIELDS = ("sid", "email")


@dataclass(frozen=True)
class SimVariant:
    """Simulation settings of one student's ICC exercise (R's ``set.seed`` stream)."""

    seed: int = 1234
    n_groups: int = 100
    n_per_group: int = 3
    tau: float = 0.5
    sigma: float = 0.25
    intercept: float = 2.0
    slope: float = 0.5


def student_seed(student_id: str) -> int:
    """A deterministic seed in ``[1, 2**31 - 1)`` from a student id (SHA-256, not ``hash``)."""
    if not isinstance(student_id, str) or not student_id.strip():
        raise ValueError(f"student id must be a non-empty string, got {student_id!r}")
    digest = hashlib.sha256(f"simlab:{student_id.strip()}".encode()).digest()
    return 1 + int.from_bytes(digest[:8], "big") % (2 ** 31 - 2)


def sim_variant(student_id: str | None = None) -> SimVariant:
    """The student's simulation settings; the seed tutorial's without an id.

    Parameters
    ----------
    student_id : str, optional
        Defaults to ``$SIMLAB_STUDENT_ID``; unset or empty means the tutorial's settings.

    Returns
    -------
    SimVariant
        The seed from :func:`student_seed`; sigma drawn from :data:`SIGMAS` and
        tau = sigma times a ratio drawn from :data:`RATIOS`.
    """
    if student_id is None:
        student_id = (os.environ.get(STUDENT_ENV) or "").strip() or None
    if student_id is None:
        return SimVariant()
    seed = student_seed(student_id)
    rng = np.random.default_rng(seed)
    sigma, ratio = float(rng.choice(SIGMAS)), float(rng.choice(RATIOS))
    return SimVariant(seed=seed, tau=round(ratio * sigma, 6), sigma=sigma)


def variant_id(record: Mapping, fields: tuple[str, ...] = ID_FIELDS) -> str | None:
    """The id a student's variant comes from: their SID, else their e-mail.

    Parameters
    ----------
    record : mapping
        A Gradescope user (``sid``, ``email``, ...) or a roster row (``SID``,
        ``Email``, ...); field names are matched case-insensitively.
    fields : tuple of str
        The fields to try, in order (default :data:`ID_FIELDS`).

    Returns
    -------
    str or None
        The first non-blank of ``fields``, stripped; None if all are blank.
    """
    values = {str(k).strip().lower(): v for k, v in record.items()}
    for field in fields:
        value = values.get(field)
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def student_id_from_metadata(path: str | Path) -> str:
    """The submitter's variant id from Gradescope's ``submission_metadata.json``.

    Uses ``users[0].sid``, the student id of the course roster, which is the
    id students know and type into ``simlab check --student-id``; where the
    roster has no SID for the student, their ``email`` (:func:`variant_id`,
    the rule ``simlab variants --roster`` follows). Gradescope's own
    ``users[0].id`` is used only if both are missing (Gradescope always
    sends the e-mail), so that grading never stops for want of an id:
    students do not see it, so they could not check that variant before
    submitting. For a group submission the first user's variant is graded.

    Raises
    ------
    ValueError
        If the file is not JSON or names no user, or the user has no SID, e-mail or id.
    """
    path = Path(path)
    try:
        user = json.loads(path.read_text(encoding="utf-8"))["users"][0]
        student_id = variant_id(user, (*ID_FIELDS, "id"))
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError) as err:
        raise ValueError(f"cannot read a student id from {path}: {err}; expected Gradescope's "
                         'submission metadata with "users": [{"sid": ..., "email": ...}]'
                         ) from None
    if student_id is None:
        raise ValueError(f"{path} names no student id (sid), e-mail or id for its first user")
    return student_id


def read_roster(path: str | Path) -> list[str]:
    """The variant ids of a class, in roster order.

    A CSV roster with a header, such as Gradescope's export ("First Name",
    "Last Name", "SID", "Email", "Role"), gives each row's SID, or its Email
    where the SID is blank (:func:`variant_id`); a file is read as CSV when
    its name ends in ``.csv`` or its first line names an SID or Email column.
    Any other file lists one id per line; blank lines are skipped.

    Raises
    ------
    ValueError
        If the file is missing or unreadable, lists no student, has neither an
        SID nor an Email column, has a row with neither, or lists an id twice:
        two students would share one variant, and one of them was most likely
        given the wrong id, so the roster must be fixed rather than guessed at.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"roster file {str(path)!r} does not exist")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"cannot read the roster {str(path)!r}: {err}") from None
    first = next((line for line in text.splitlines() if line.strip()), "")
    header = {field.strip().strip('"').lower() for field in first.split(",")}
    is_csv = path.suffix.lower() == ".csv" or bool(header & set(ID_FIELDS))
    rows = _csv_ids(text, path) if is_csv and first else _line_ids(text)
    if not rows:
        raise ValueError(f"the roster {str(path)!r} lists no students")
    _refuse_duplicates(rows, path)
    return [student_id for _, student_id in rows]


def _line_ids(text: str) -> list[tuple[int, str]]:
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1)
            if line.strip()]


def _csv_ids(text: str, path: Path) -> list[tuple[int, str]]:
    reader = csv.DictReader(io.StringIO(text))
    columns = [str(c) for c in reader.fieldnames or []]
    if not {c.strip().lower() for c in columns} & set(ID_FIELDS):
        raise ValueError(f"the roster {str(path)!r} has no SID or Email column; its columns "
                         f"are {name_list(columns)}. Export the roster from Gradescope (it has both), or "
                         "list one student id per line in a .txt file")
    rows, blank = [], []
    for row in reader:
        student_id = variant_id({k: v for k, v in row.items() if k is not None})
        if student_id is None:
            blank.append(reader.line_num)
        else:
            rows.append((reader.line_num, student_id))
    if blank:
        raise ValueError(f"the roster {str(path)!r} has no SID or Email on line(s) {blank}; "
                         "every student needs an id to get a variant")
    return rows


def _refuse_duplicates(rows: Iterable[tuple[int, str]], path: Path) -> None:
    lines: dict[str, list[int]] = {}
    for number, student_id in rows:
        lines.setdefault(student_id, []).append(number)
    twice = [f"{student_id!r} (lines {numbers})" for student_id, numbers in lines.items()
             if len(numbers) > 1]
    if twice:
        raise ValueError(f"the roster {str(path)!r} lists the same id more than once: "
                         f"{', '.join(twice)}; each student needs their own id, so fix the "
                         "roster")


def variant_table(student_ids: Iterable[str]):
    """Each student's id and simulation settings, one row per id.

    Returns
    -------
    pandas.DataFrame
        Columns ``id, seed, tau, sigma, n_groups, n_per_group``.
    """
    import pandas as pd

    rows = []
    for student_id in student_ids:
        v = sim_variant(student_id)
        rows.append({"id": student_id.strip(), "seed": v.seed, "tau": v.tau, "sigma": v.sigma,
                     "n_groups": v.n_groups, "n_per_group": v.n_per_group})
    return pd.DataFrame(rows, columns=["id", "seed", "tau", "sigma", "n_groups", "n_per_group"])
