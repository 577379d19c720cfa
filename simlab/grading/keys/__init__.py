"""The answer keys of the course's exercise files, by file stem."""
from __future__ import annotations

from ..questions import ExerciseKey
from .gpa_basics import KEY as GPA_BASICS
from .gpa_cluster import KEY as GPA_CLUSTER
from .icc_simulation import KEY as ICC_SIMULATION
from .sleepstudy import KEY as SLEEPSTUDY

__all__ = ["KEYS"]

#: Every exercise, in teaching order.
KEYS: dict[str, ExerciseKey] = {key.name: key for key in
                                (GPA_BASICS, SLEEPSTUDY, GPA_CLUSTER, ICC_SIMULATION)}
