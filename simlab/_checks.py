"""Tiny argument checks shared across modules."""
from __future__ import annotations

from numbers import Integral, Real

import numpy as np

__all__ = ["is_int", "check_level", "numpy_generator"]


def is_int(value: object) -> bool:
    """Whether ``value`` is an integer; ``bool`` does not count as one."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def check_level(level: object) -> float:
    """``level`` as a float if it is a confidence level: a number strictly between 0 and 1.

    Raises
    ------
    TypeError
        If ``level`` is not a real number (``bool`` included).
    ValueError
        If it is not strictly between 0 and 1 (NaN included).
    """
    if isinstance(level, bool) or not isinstance(level, Real):
        raise TypeError(f"level must be a number strictly between 0 and 1 such as 0.95, got "
                        f"{level!r} ({type(level).__name__})")
    if not 0 < level < 1:
        raise ValueError(f"level must be strictly between 0 and 1 (0.95 for a 95% interval), "
                         f"got {level!r}")
    return float(level)


def numpy_generator(seed: object) -> np.random.Generator:
    """A numpy Generator from ``seed`` (None, an int >= 0, a SeedSequence or a Generator),
    without touching global random state; a Generator is returned as it is.

    Raises
    ------
    TypeError
        For any other type of seed.
    ValueError
        For a negative int.
    """
    if seed is None or isinstance(seed, (np.random.Generator, np.random.SeedSequence)):
        return np.random.default_rng(seed)
    if not is_int(seed):
        raise TypeError(f"seed must be None, an int, a numpy SeedSequence or a numpy Generator; "
                        f"got {seed!r} ({type(seed).__name__})")
    if seed < 0:
        raise ValueError(f"seed must be >= 0 (a non-negative int), got {seed}")
    return np.random.default_rng(int(seed))
