"""Tiny argument checks shared across modules."""
from __future__ import annotations

from numbers import Integral

__all__ = ["is_int"]


def is_int(value: object) -> bool:
    """Whether ``value`` is an integer; ``bool`` does not count as one."""
    return isinstance(value, Integral) and not isinstance(value, bool)
