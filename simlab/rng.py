"""R-compatible random numbers: Mersenne-Twister seeding and Inversion normals.

``RRandom(s)`` reproduces R's ``set.seed(s)`` under R's default generators
(``RNGkind("Mersenne-Twister", "Inversion", "Rejection")``, R >= 3.6), so
that ``RRandom(s).runif(n)`` and ``RRandom(s).rnorm(n)`` return the numbers R
returns after ``set.seed(s)``. The recipe is in ``../shared/NOTES.md``
("R's random numbers") and is checked against R 4.2.2 output in the tests.

The heavy lifting is numpy's own ``MT19937``: R uses the reference MT19937
algorithm, so only the seeding and the conversion to doubles are R's.

This module knows about nothing else in simlab.
"""
from __future__ import annotations

from numbers import Integral

import numpy as np

__all__ = ["RRandom"]

#: 2^-32: the scale R's ``MT_genrand`` puts on a 32-bit draw.
_TWO_POW_MINUS_32 = 2.3283064365386963e-10
#: Half of 1 / (2^32 - 1): what R's ``fixup`` substitutes for an exact 0.
_FIXUP_LOW = 0.5 * 2.328306437080797e-10
#: 2^27: R's Inversion combines two uniforms into one with 27 + 32 bits.
_BIG = 134217728.0
_MASK32 = 0xFFFFFFFF
_N_SCRAMBLE = 50
_N_SEED_WORDS = 625
#: R stores the seed as a C ``int``, so set.seed accepts this range only
#: (-2^31 is R's NA_integer_).
_SEED_MAX = 2**31 - 1


def _lcg_words(seed: int) -> list[int]:
    """Return the 625 seed words R's ``RNG_Init`` derives from ``seed``.

    Parameters
    ----------
    seed : int
        The value passed to R's ``set.seed``.

    Returns
    -------
    list of int
        ``[position, key_0, ..., key_623]`` as unsigned 32-bit integers.
    """
    # R casts the int seed to an unsigned 32-bit Int32, so negative seeds
    # wrap around rather than being rejected.
    s = seed & _MASK32
    for _ in range(_N_SCRAMBLE):
        s = (69069 * s + 1) & _MASK32
    words = []
    for _ in range(_N_SEED_WORDS):
        s = (69069 * s + 1) & _MASK32
        words.append(s)
    return words


def _mt19937_from_r_seed(seed: int) -> np.random.MT19937:
    """Build numpy's MT19937 in the state R's ``set.seed(seed)`` leaves.

    Parameters
    ----------
    seed : int
        The value passed to R's ``set.seed``.

    Returns
    -------
    numpy.random.MT19937
        A bit generator whose ``random_raw`` yields R's 32-bit draws.
    """
    words = _lcg_words(seed)
    bitgen = np.random.MT19937()
    # R's first word is the MT position, which FixupSeeds resets to 624 so
    # that the first draw regenerates the whole block, as numpy does at 624.
    bitgen.state = {
        "bit_generator": "MT19937",
        "state": {"key": np.array(words[1:], dtype=np.uint32), "pos": 624},
    }
    return bitgen


def _unif_from_raw(raw: np.ndarray) -> np.ndarray:
    """Convert raw 32-bit draws to R's ``unif_rand`` values.

    Parameters
    ----------
    raw : numpy.ndarray
        Unsigned 32-bit draws (any integer dtype).

    Returns
    -------
    numpy.ndarray of float64
        Uniforms strictly inside (0, 1).
    """
    u = raw.astype(np.float64) * _TWO_POW_MINUS_32
    # R's fixup keeps uniforms off 0 (a 32-bit draw times 2^-32 never
    # reaches 1, so only the lower end can need it).
    u[u <= 0.0] = _FIXUP_LOW
    return u


def _check_count(n: int) -> int:
    """Return ``n`` as a Python int, or raise if it is not a count.

    Parameters
    ----------
    n : int
        Number of values requested.

    Returns
    -------
    int
        ``n`` itself.
    """
    if isinstance(n, bool) or not isinstance(n, Integral):
        raise TypeError(f"n must be a non-negative int, got {n!r} ({type(n).__name__}).")
    if n < 0:
        raise ValueError(f"n must be a non-negative int, got {n}.")
    return int(n)


class RRandom:
    """A random stream identical to R's after ``set.seed(seed)``.

    Successive calls continue the stream, as successive R calls do:
    ``r.runif(2); r.runif(3)`` gives the same five numbers as ``runif(5)``.

    Parameters
    ----------
    seed : int
        The value R's ``set.seed`` would receive, in
        ``[-(2**31 - 1), 2**31 - 1]``.

    Raises
    ------
    TypeError
        If ``seed`` is not an integer.
    ValueError
        If ``seed`` is outside the range R's ``set.seed`` accepts.

    Examples
    --------
    >>> RRandom(1).rnorm(2)   # set.seed(1); rnorm(2)
    array([-0.62645381,  0.18364332])
    """

    def __init__(self, seed: int) -> None:
        if isinstance(seed, bool) or not isinstance(seed, Integral):
            raise TypeError(
                f"RRandom needs an integer seed, as R's set.seed does; got {seed!r} "
                f"({type(seed).__name__}). Pass an int such as RRandom(1234)."
            )
        if abs(int(seed)) > _SEED_MAX:
            raise ValueError(
                f"seed {seed} is outside R's integer range; R's set.seed accepts "
                f"-{_SEED_MAX}..{_SEED_MAX}."
            )
        self.seed = int(seed)
        self._bitgen = _mt19937_from_r_seed(self.seed)

    def __repr__(self) -> str:
        return f"RRandom(seed={self.seed})"

    def _raw(self, n: int) -> np.ndarray:
        """Return the next ``n`` raw 32-bit draws of the stream."""
        return self._bitgen.random_raw(n)

    def runif(self, n: int) -> np.ndarray:
        """Draw ``n`` uniforms like R's ``runif(n)``.

        Parameters
        ----------
        n : int
            Number of draws.

        Returns
        -------
        numpy.ndarray of float64
            ``n`` values strictly inside (0, 1).
        """
        return _unif_from_raw(self._raw(_check_count(n)))

    def rnorm(self, n: int, mean: float = 0.0, sd: float = 1.0) -> np.ndarray:
        """Draw ``n`` normals like R's ``rnorm(n, mean, sd)`` (Inversion).

        Parameters
        ----------
        n : int
            Number of draws.
        mean : float, default 0.0
            Mean of the distribution.
        sd : float, default 1.0
            Standard deviation; must be finite and non-negative.

        Returns
        -------
        numpy.ndarray of float64
            ``n`` normal draws.

        Raises
        ------
        ValueError
            If ``sd`` is negative or not finite, or ``mean`` is NaN (R would
            return NaN with a warning).

        Notes
        -----
        As in R, ``sd == 0`` returns ``mean`` without consuming the stream,
        so later draws match R's even then.
        """
        n = _check_count(n)
        if not np.isfinite(sd) or sd < 0 or np.isnan(mean):
            raise ValueError(
                f"rnorm needs a finite sd >= 0 and a non-NaN mean; got mean={mean}, sd={sd}."
            )
        if sd == 0 or not np.isfinite(mean):
            return np.full(n, float(mean))
        u = _unif_from_raw(self._raw(2 * n))
        # One uniform has only 32 bits, too coarse for the normal's tails;
        # R glues two together (27 bits from the first) before inverting.
        u1, u2 = u[0::2], u[1::2]
        from scipy.special import ndtri  # loaded on first use: keeps `import simlab` light

        z = ndtri((np.floor(_BIG * u1) + u2) / _BIG)
        return mean + sd * z
