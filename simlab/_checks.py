"""Tiny argument checks shared across modules."""
from __future__ import annotations

from decimal import Decimal
from numbers import Integral, Real

import numpy as np

__all__ = ["is_int", "is_real", "check_int", "check_bool", "real_number", "check_level", "numpy_generator",
           "name_list", "MAX_LEVEL"]

#: The largest confidence level accepted. Closer to 1, ``0.5 + level / 2`` rounds to 1 in
#: float64 (from 1 - 1.1e-16 on) and the normal quantile is infinite; 1 - 1e-12 (a 7.1-sd
#: Wald interval) keeps every interval finite with a wide margin.
MAX_LEVEL = 1 - 1e-12


def name_list(names, shown: int = 10) -> str:
    """``names`` for an error message: at most ``shown`` of them, then how many more.

    A data set with 20,000 columns must not turn a one-line error into a
    169 KB one, so every message listing names, labels or ids goes through here.

    >>> name_list(["a", "b", "c"], shown=2)
    "['a', 'b', ...] (1 more)"
    """
    # tolist() gives Python scalars: numpy 2 writes repr(np.int64(3)) as 'np.int64(3)'
    names = names.tolist() if hasattr(names, "tolist") else list(names)
    listed = ", ".join(repr(name) for name in names[:shown])
    rest = len(names) - shown
    return f"[{listed}, ...] ({rest:,} more)" if rest > 0 else f"[{listed}]"


def is_int(value: object) -> bool:
    """Whether ``value`` is an integer; ``bool`` does not count as one."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def is_real(value: object) -> bool:
    """Whether ``value`` is a real number (:class:`numbers.Real`); ``bool`` does not count."""
    return isinstance(value, Real) and not isinstance(value, bool)


def check_int(name: str, value: object, minimum: int) -> int:
    """``value`` as an int of at least ``minimum``, or an error naming the argument.

    Raises
    ------
    TypeError
        If ``value`` is not an integer (``bool`` and ``3.0`` are not).
    ValueError
        If it is below ``minimum``.
    """
    if not is_int(value):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__}).")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}.")
    return int(value)


def check_bool(name: str, value: object) -> bool:
    """``value`` as a bool if it is ``True`` or ``False`` (numpy's included).

    Strings such as ``"no"`` are truthy, so taking any value's truth would
    silently turn ``random_effects="no"`` into ``True``.

    Raises
    ------
    TypeError
        For anything else, naming the argument.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")


def real_number(name: str, value: object, example: str = "0.5") -> float:
    """``value`` as a float if it is a real number: int, float, Fraction, numpy number.

    ``bool`` is refused (``True`` is rarely meant as 1), as are ``Decimal``
    (not a :class:`numbers.Real`; converting it is left to the caller, who
    knows whether its precision matters) and strings.

    Raises
    ------
    TypeError
        For any other type, naming the argument and how to pass a number.
    """
    if not is_real(value):
        hint = (f"; convert it with float(), e.g. {name}=float({value!r})"
                if isinstance(value, (Decimal, str)) else "")
        raise TypeError(f"{name} must be a real number (int, float or Fraction) such as "
                        f"{example}, got {value!r} ({type(value).__name__}){hint}")
    return float(value)


def check_level(level: object) -> float:
    """``level`` as a float if it is a confidence level: a number strictly between 0 and 1.

    Levels above :data:`MAX_LEVEL` (1 - 1e-12) are refused too: their normal
    quantile is infinite or nearly so in float64, which gives infinite bounds.

    Raises
    ------
    TypeError
        If ``level`` is not a real number (``bool`` included).
    ValueError
        If it is not strictly between 0 and 1 (NaN included) or above ``MAX_LEVEL``.
    """
    if not is_real(level):
        raise TypeError(f"level must be a number strictly between 0 and 1 such as 0.95, got "
                        f"{level!r} ({type(level).__name__})")
    value = float(level)
    if not 0 < value < 1:
        raise ValueError(f"level must be strictly between 0 and 1 (0.95 for a 95% interval), "
                         f"got {level!r}")
    if value > MAX_LEVEL:
        raise ValueError(f"level {level!r} is too close to 1: double precision cannot resolve "
                         f"its tail probability {(1 - value) / 2:.3g}, so the bounds would be "
                         "infinite or inaccurate; use a level of at most 1 - 1e-12, such as "
                         "0.999999")
    return value


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
