"""Tiny argument checks shared across modules."""
from __future__ import annotations

from numbers import Integral, Real

__all__ = ["is_int", "check_level"]


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
