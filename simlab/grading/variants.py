"""Per-student variants of the simulation exercise.

A student id maps to a seed by hashing (:func:`student_seed`), and the seed
to simulation parameters (:func:`sim_variant`). Without an id the variant is
the seed tutorial's own: ``set.seed(1234)``, 100 groups of 3, tau 0.5,
sigma 0.25. The grader runs both the student's file and the solution with
``SIMLAB_STUDENT_ID`` set, so the answer key is recomputed for that student.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["STUDENT_ENV", "SimVariant", "student_seed", "sim_variant", "student_id_from_metadata"]

#: Environment variable holding the student's id while an exercise runs.
STUDENT_ENV = "SIMLAB_STUDENT_ID"
_TAUS = (0.3, 0.4, 0.5, 0.6, 0.7)
_SIGMAS = (0.2, 0.25, 0.3, 0.35)


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
    """
    if student_id is None:
        student_id = (os.environ.get(STUDENT_ENV) or "").strip() or None
    if student_id is None:
        return SimVariant()
    seed = student_seed(student_id)
    rng = np.random.default_rng(seed)
    return SimVariant(seed=seed, tau=float(rng.choice(_TAUS)), sigma=float(rng.choice(_SIGMAS)))


def student_id_from_metadata(path: str | Path) -> str:
    """The submitter's id from Gradescope's ``submission_metadata.json``.

    Uses ``users[0].id`` (falling back to the e-mail), so a student keeps the
    same variant across resubmissions.

    Raises
    ------
    ValueError
        If the file is not JSON or names no user.
    """
    path = Path(path)
    try:
        users = json.loads(path.read_text(encoding="utf-8"))["users"]
        user = users[0]
        student_id = str(user.get("id") or user.get("email") or "").strip()
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError) as err:
        raise ValueError(f"cannot read a student id from {path}: {err}; expected Gradescope's "
                         'submission metadata with "users": [{"id": ...}]') from None
    if not student_id:
        raise ValueError(f"{path} names no user id or e-mail")
    return student_id
