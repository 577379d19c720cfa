"""The data-generating process of the random-intercept (and random-slope) model.

``y = intercept + slope * x + u[group] + e`` with ``u ~ N(0, tau^2)`` per group,
``e ~ N(0, sigma^2)`` per row and ``x ~ N(0, 1)``; optionally a cluster-level
covariate ``z ~ N(0, 1)`` per group adds ``cluster_effect * z[group]``. With
``tau_slope`` each group's slope also varies: ``y = intercept + u0[group] +
(slope + u1[group]) x + e`` with ``(u0, u1)`` bivariate normal, standard
deviations ``tau`` and ``tau_slope`` and correlation ``rho``.

Two families of random streams are available (``stream=``):

- ``stream="numpy"`` (default): a :class:`numpy.random.Generator`, either
  given as ``rng=`` (SPEC 7) or built with ``numpy.random.default_rng(seed)``,
  so ``seed`` may be ``None``, an int, a :class:`~numpy.random.SeedSequence`
  (for parallel sweeps) or a Generator.
- ``stream="R"``: :class:`simlab.rng.RRandom`, which reproduces R's
  ``set.seed(seed)`` and draws in the R exercise's order, so the data match R's
  number for number.

This module knows nothing about models or sweeps.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

import numpy as np

from simlab._checks import is_int, numpy_generator, real_number
from simlab.rng import RRandom

if TYPE_CHECKING:  # pandas loads only when data are made: `import simlab` stays light
    import pandas as pd

__all__ = ["simulate", "check_settings", "Settings"]

SeedLike = Union[None, int, np.random.SeedSequence, np.random.Generator]
SizesLike = Union[int, Sequence[int], np.ndarray, tuple[int, int]]
#: Draws ``n`` values from N(0, sd^2).
NormalDraw = Callable[[int, float], np.ndarray]

#: The stream families, by their lower-case names (``stream="r"`` works too).
_STREAMS = {"numpy": "numpy", "r": "R"}
#: Most rows a data set may have: numpy refuses a float64 column of more ("array is too big").
MAX_ROWS = np.iinfo(np.intp).max // 8
#: A bound on |z| for every standard normal either stream can draw: numpy's ziggurat tail
#: stays below 14 and R's inversion below 9 (its smallest uniform is about 1e-18).
_DRAW_BOUND = 40.0
#: A bound on ``|u1 x| / tau_slope``: ``|u1| <= sqrt(2) B tau_slope`` and ``|x| <= B``.
_SLOPE_BOUND = float(np.sqrt(2.0)) * _DRAW_BOUND ** 2


def _check_real(name: str, value: object, *, minimum: float | None = None) -> float:
    """Return ``value`` as a finite float, or raise a clear error.

    Every float setting of :func:`simulate` goes through here, so any real
    number (int, float, ``Fraction``, numpy scalar) works like its float.

    Parameters
    ----------
    name : str
        Argument name, for the message.
    value : object
        The value to check.
    minimum : float, optional
        Smallest allowed value (inclusive).

    Returns
    -------
    float
        The checked value.
    """
    number = real_number(name, value)
    if not np.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value}.")
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return number


def _check_n_groups(n_groups: object) -> int:
    """Return ``n_groups`` as an int >= 2, or raise a clear error."""
    if not is_int(n_groups):
        raise TypeError(
            f"n_groups must be an int (the number of groups), got {n_groups!r} "
            f"({type(n_groups).__name__})."
        )
    if n_groups < 2:
        raise ValueError(
            f"n_groups must be at least 2: a random intercept needs several groups; got {n_groups}."
        )
    return int(n_groups)


def _resolve_sds(
    tau: float | None, sigma: float | None, icc: float | None, total_var: float | None
) -> tuple[float, float]:
    """Return ``(tau, sigma)`` from exactly one of the two parameterisations.

    Parameters
    ----------
    tau, sigma : float or None
        Standard deviations of the group effect and of the residual.
    icc, total_var : float or None
        Intra-class correlation in [0, 1) and total variance ``tau^2 + sigma^2``.

    Returns
    -------
    tuple of float
        The standard deviations ``(tau, sigma)``.
    """
    sd_given = (tau is not None, sigma is not None)
    icc_given = (icc is not None, total_var is not None)
    hint = "Give either tau and sigma (standard deviations), or icc and total_var."
    if any(sd_given) and any(icc_given):
        raise ValueError(f"Both parameterisations were given. {hint}")
    if all(sd_given):
        return _check_real("tau", tau, minimum=0.0), _check_real("sigma", sigma, minimum=0.0)
    if all(icc_given):
        icc = _check_real("icc", icc, minimum=0.0)
        total_var = _check_real("total_var", total_var)
        if icc >= 1.0:
            raise ValueError(f"icc must lie in [0, 1), got {icc}: icc = 1 leaves no residual.")
        if total_var <= 0.0:
            raise ValueError(f"total_var must be > 0, got {total_var}.")
        return float(np.sqrt(icc * total_var)), float(np.sqrt((1.0 - icc) * total_var))
    raise ValueError(f"The variance parameters are missing or incomplete. {hint}")


def _check_range(n_per_group: tuple) -> tuple[int, int]:
    """Return a checked ``(min, max)`` group-size range."""
    if len(n_per_group) != 2 or not all(is_int(v) for v in n_per_group):
        raise ValueError(
            f"A tuple n_per_group means a (min, max) range of ints, got {n_per_group!r}. "
            "Pass a list or array to give one size per group."
        )
    low, high = int(n_per_group[0]), int(n_per_group[1])
    if not 1 <= low <= high:
        raise ValueError(
            f"The group-size range (min, max) needs 1 <= min <= max, got ({low}, {high})."
        )
    return low, high


def _check_size_array(n_per_group: object, n_groups: int) -> np.ndarray:
    """Return one checked size per group as an int64 array."""
    if isinstance(n_per_group, list) and all(is_int(v) for v in n_per_group):
        # Kept as Python ints: numpy would turn [2**63, 1] into uint64 and [2**63, -1] into float.
        n_per_group = np.array(n_per_group, dtype=object)
    sizes = np.asarray(n_per_group)
    if sizes.ndim != 1 or sizes.size != n_groups:
        raise ValueError(
            f"n_per_group must give one size per group ({n_groups} values), "
            f"got shape {sizes.shape}."
        )
    if sizes.dtype == object and all(is_int(v) for v in sizes):
        # Python ints (maybe beyond int64): checked as such before any int64 arithmetic.
        _check_rows(min(sizes), sum(sizes))
        return sizes.astype(np.int64)
    if sizes.dtype == bool or not np.issubdtype(sizes.dtype, np.integer):
        raise TypeError(f"The group sizes in n_per_group must be ints, got dtype {sizes.dtype}.")
    # An int64 sum wraps around beyond 2**63: add as Python ints when it could.
    if int(sizes.max()) <= MAX_ROWS // n_groups:
        total = int(sizes.sum(dtype=np.int64))
    else:
        total = sum(map(int, sizes))
    _check_rows(int(sizes.min()), total)
    return sizes.astype(np.int64)


def _check_rows(smallest: int, total: int, up_to: str = "") -> None:
    """Refuse an empty group, or more rows in all than a numpy array can hold."""
    if smallest < 1:
        raise ValueError(
            f"Every group needs at least 1 observation; n_per_group has {smallest}."
        )
    if total > MAX_ROWS:
        raise ValueError(
            f"n_groups and n_per_group give {up_to}{total:,} rows in total, more than the "
            f"{MAX_ROWS:,} rows a numpy array can hold; use fewer or smaller groups."
        )


def _check_sizes(n_per_group: object, n_groups: int) -> np.ndarray | tuple[int, int]:
    """Return per-group sizes, or a ``(min, max)`` range still to be drawn.

    Parameters
    ----------
    n_per_group : int, sequence of int, or tuple (min, max)
        See :func:`simulate`.
    n_groups : int
        Number of groups.

    Returns
    -------
    numpy.ndarray or tuple of int
        int64 sizes of length ``n_groups``, or the checked range.
    """
    if isinstance(n_per_group, tuple):
        low, high = _check_range(n_per_group)
        _check_rows(low, n_groups * high, "up to ")
        return low, high
    if is_int(n_per_group):
        if n_per_group < 1:
            raise ValueError(f"n_per_group must be at least 1, got {n_per_group}.")
        _check_rows(n_per_group, n_groups * int(n_per_group))
        # A read-only view: checking a huge design must not allocate it.
        return np.broadcast_to(np.int64(n_per_group), (n_groups,))
    if isinstance(n_per_group, (list, range, np.ndarray)) or _is_series(n_per_group):
        return _check_size_array(n_per_group, n_groups)
    raise TypeError(
        f"n_per_group must be an int, a list/array of {n_groups} ints, or a (min, max) "
        f"tuple; got {type(n_per_group).__name__}."
    )


def _is_series(value: object) -> bool:
    """Whether ``value`` is a pandas Series (pandas cannot have made one unless it is loaded)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.Series)


def _check_stream(stream: object) -> str:
    """Return the canonical stream family, ``"numpy"`` or ``"R"``."""
    name = _STREAMS.get(stream.lower()) if isinstance(stream, str) else None
    if name is None:
        raise ValueError(f"stream must be 'numpy' or 'R', got {stream!r}.")
    return name


def _stream_seed(stream: str, seed: object, rng: object) -> object:
    """The seed of the stream: ``seed``, or the Generator ``rng`` (SPEC 7), never both.

    Raises
    ------
    TypeError
        If ``rng`` is not a :class:`numpy.random.Generator`.
    ValueError
        If both ``seed`` and ``rng`` are given, or ``rng`` with ``stream="R"``.
    """
    if rng is None:
        return seed
    if not isinstance(rng, np.random.Generator):
        hint = (" To choose R's stream, pass stream='R' (named rng before simlab 0.2)."
                if isinstance(rng, str) else "")
        raise TypeError("rng must be a numpy.random.Generator such as "
                        f"numpy.random.default_rng(1), got {rng!r} ({type(rng).__name__}); "
                        f"pass an int seed as seed=.{hint}")
    if seed is not None:
        raise ValueError("give seed= or rng=, not both: seed is a seed (an int, as R's "
                         "set.seed), rng a numpy Generator that is used and advanced as it is.")
    if stream == "R":
        raise ValueError("stream='R' replays R's set.seed(seed) and needs an int seed=, not "
                         "a numpy Generator: pass seed=<int>, or use stream='numpy' with rng=.")
    return rng


def _r_stream(seed: object) -> RRandom:
    """Build R's stream for ``seed``, as ``set.seed(seed)`` would."""
    if not is_int(seed):
        raise TypeError(
            f"stream='R' needs an int seed, as R's set.seed does; got {seed!r} "
            f"({type(seed).__name__}). Pass seed=<int>, or use stream='numpy'."
        )
    return RRandom(seed)


def _random_source(
    stream: str, seed: object, size_spec: np.ndarray | tuple[int, int], n_groups: int
) -> tuple[NormalDraw, np.ndarray]:
    """Set up the random stream; return its normal sampler and the group sizes.

    Parameters
    ----------
    stream : {"numpy", "R"}
        Which stream family to use.
    seed : object
        Seed for that stream (see :func:`simulate`).
    size_spec : numpy.ndarray or tuple of int
        Per-group sizes, or a ``(min, max)`` range to draw them from.
    n_groups : int
        Number of groups.

    Returns
    -------
    draw : callable
        ``draw(n, sd)`` returns ``n`` draws from N(0, sd^2), continuing the stream.
    sizes : numpy.ndarray of int64
        One size per group.
    """
    if stream == "R":
        if isinstance(size_spec, tuple):
            raise ValueError(
                "stream='R' cannot draw group sizes from a (min, max) range; pass an int "
                "or one size per group, or use stream='numpy'."
            )
        stream = _r_stream(seed)
        return (lambda n, sd: stream.rnorm(n, sd=sd)), size_spec
    gen = numpy_generator(seed)
    if isinstance(size_spec, tuple):
        # Sizes come first, so the effects' draws follow them in the same stream.
        low, high = size_spec
        size_spec = gen.integers(low, high, size=n_groups, endpoint=True, dtype=np.int64)
    return (lambda n, sd: gen.normal(0.0, sd, n)), size_spec


def simulate(
    n_groups: int,
    n_per_group: SizesLike,
    tau: float | None = None,
    sigma: float | None = None,
    *,
    intercept: float = 2.0,
    slope: float = 0.5,
    icc: float | None = None,
    total_var: float | None = None,
    cluster_effect: float | None = None,
    tau_slope: float | None = None,
    rho: float = 0.0,
    stream: str = "numpy",
    seed: SeedLike = None,
    rng: np.random.Generator | None = None,
) -> pd.DataFrame:
    """Simulate ``y = intercept + slope*x + u[group] + e`` from a random-intercept model,
    or with ``tau_slope`` ``y = intercept + u0[group] + (slope + u1[group]) x + e``.

    Parameters
    ----------
    n_groups : int
        Number of groups, at least 2.
    n_per_group : int, list/array of int, or tuple (min, max)
        Observations per group: the same for every group (int), one size per
        group (list or array of length ``n_groups``), or a ``(min, max)``
        tuple, meaning sizes drawn uniformly from the integers min..max
        inclusive, before anything else and from the same stream (numpy only).
    tau, sigma : float, optional
        Standard deviations of the group effect ``u`` and the residual ``e``
        (R's ``sd`` notation), both >= 0.
    intercept, slope : float, default 2.0, 0.5
        Fixed effects.
    icc, total_var : float, optional
        Alternative to ``tau`` and ``sigma``: ``tau^2 = icc * total_var`` and
        ``sigma^2 = (1 - icc) * total_var``, with icc in [0, 1) and
        total_var > 0. Give exactly one of the two pairs.
    cluster_effect : float, optional
        If given, draw a cluster-level covariate ``z ~ N(0, 1)`` per group,
        add ``cluster_effect * z`` to ``y`` and return ``z`` as a column.
    tau_slope : float, optional
        Standard deviation (>= 0) of each group's slope deviation ``u1``, the
        slope's counterpart of ``tau``. If given, every group has its own
        slope ``slope + u1[group]``; the default None simulates a random
        intercept only, with the same draws as without the argument.
    rho : float, default 0.0
        Correlation of the intercept and slope deviations, in [-1, 1]; needs
        ``tau_slope``. With ``tau = 0`` the intercepts do not vary and ``rho``
        has no effect.
    stream : {"numpy", "R"}, default "numpy"
        The family of random streams: ``"numpy"`` draws from a numpy
        Generator (``rng``, or ``numpy.random.default_rng(seed)``); ``"R"``
        reproduces R after ``set.seed(seed)``.
    seed : None, int, numpy.random.SeedSequence or numpy.random.Generator
        Seed of the stream. With ``stream="R"`` it must be an int, the value of
        R's ``set.seed``. A Generator is used (and advanced) as it is.
    rng : numpy.random.Generator, optional
        The Generator to draw from (SPEC 7), used and advanced as it is; only
        with ``stream="numpy"``, and instead of ``seed``.

    Returns
    -------
    pandas.DataFrame
        Columns ``group`` (int, 1..n_groups, in blocks like R's
        ``rep(1:n_groups, each=n_per_group)``), ``x`` and ``y`` (float), and
        ``z`` (float, constant within a group) when ``cluster_effect`` is given.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or value; the message says which.

    Notes
    -----
    Draw order, in both streams: the group sizes (numpy, range only), then
    ``u`` (n_groups, sd ``tau``), with ``tau_slope`` the slope draws ``v``
    (n_groups, sd ``tau_slope``), then ``e`` (N), ``x`` (N) and finally
    ``z`` (n_groups), so asking for ``z`` leaves the other draws unchanged,
    and without ``tau_slope`` nothing is drawn for slopes. The slope
    deviations are ``u1 = tau_slope * rho * u / tau + sqrt(1 - rho^2) * v``,
    that is ``tau_slope * (rho * u / tau + sqrt(1 - rho^2) * w)`` with ``w``
    the standard normals behind ``v``: ``(u, u1)`` has standard deviations
    ``tau``, ``tau_slope`` and correlation ``rho``, and ``rho = 0`` gives
    ``u1 = v``, R's ``rnorm(n_groups, sd = tau_slope)`` itself.

    With ``stream="R"``, ``simulate(100, 3, .5, .25, seed=1234, stream="R")`` is the
    R exercise ``set.seed(1234); u <- rnorm(100, sd=.5); e <- rnorm(300,
    sd=.25); x <- rnorm(300)``, and ``simulate(50, 3, .75, .25,
    tau_slope=.25, seed=1234, stream="R")`` is the random-slopes chapter's
    ``set.seed(1234); re_int <- rnorm(50, sd=.75); re_slope <- rnorm(50,
    sd=.25); e <- rnorm(150, sd=.25); x <- rnorm(150); y <- (2 +
    re_int[groups]) + (.5 + re_slope[groups]) * x + e``. As in R, a zero sd
    draws nothing from the R stream; the numpy stream draws regardless.

    Examples
    --------
    >>> df = simulate(100, 3, tau=0.5, sigma=0.25, seed=1)
    >>> list(df.columns), len(df)
    (['group', 'x', 'y'], 300)
    >>> import numpy as np
    >>> len(simulate(10, 3, 0.5, 0.25, rng=np.random.default_rng(1)))
    30
    """
    spec = check_settings(n_groups, n_per_group, tau, sigma, intercept=intercept, slope=slope,
                          icc=icc, total_var=total_var, cluster_effect=cluster_effect,
                          tau_slope=tau_slope, rho=rho)
    stream = _check_stream(stream)
    draw, sizes = _random_source(stream, _stream_seed(stream, seed, rng), spec.sizes,
                                 spec.n_groups)
    n_total = int(sizes.sum())
    u = draw(spec.n_groups, spec.tau)
    if spec.tau_slope is not None:
        u1 = _slope_deviations(u, draw(spec.n_groups, spec.tau_slope), spec)
    e = draw(n_total, spec.sigma)
    x = draw(n_total, 1.0)
    group = np.repeat(np.arange(1, spec.n_groups + 1, dtype=np.int64), sizes)
    # Summed in the R exercises' order, so the R stream matches to rounding.
    if spec.tau_slope is None:
        y = spec.intercept + spec.slope * x + np.repeat(u, sizes) + e
    else:
        y = (spec.intercept + np.repeat(u, sizes)) + (spec.slope + np.repeat(u1, sizes)) * x + e
    columns = {"group": group, "x": x, "y": y}
    if spec.cluster_effect is not None:
        z = np.repeat(draw(spec.n_groups, 1.0), sizes)
        columns["y"] = y + spec.cluster_effect * z
        columns["z"] = z
    import pandas as pd

    return pd.DataFrame(columns)


def _slope_deviations(u: np.ndarray, v: np.ndarray, spec: "Settings") -> np.ndarray:
    """The groups' slope deviations ``u1`` from the intercepts ``u`` and the slope draws ``v``.

    ``v ~ N(0, tau_slope^2)`` independent of ``u ~ N(0, tau^2)``; then
    ``u1 = tau_slope * rho * (u / tau) + sqrt(1 - rho^2) * v`` has standard
    deviation ``tau_slope`` and correlation ``rho`` with ``u``. ``rho = 0``
    returns ``v`` itself (R's ``rnorm(n, sd = tau_slope)``); with ``tau = 0``
    there is nothing to correlate with, and ``v`` is returned too.
    """
    if spec.rho == 0.0 or spec.tau == 0.0:
        return v
    # u / tau first: tau_slope / tau could overflow for a tiny tau.
    return spec.tau_slope * (spec.rho * (u / spec.tau)) + np.sqrt(1.0 - spec.rho ** 2) * v


@dataclass(frozen=True)
class Settings:
    """Checked parameters of :func:`simulate` (everything but the random stream).

    Attributes
    ----------
    n_groups : int
    sizes : ndarray of int or tuple (min, max)
        One size per group, or the range group sizes are drawn from.
    tau, sigma : float
        Standard deviations, resolved from ``icc`` and ``total_var`` if given.
    intercept, slope : float
    cluster_effect : float or None
    tau_slope : float or None
        Standard deviation of the slope deviations; None for a random intercept only.
    rho : float
        Intercept-slope correlation (0.0 without ``tau_slope``).
    """

    n_groups: int
    sizes: np.ndarray | tuple[int, int]
    tau: float
    sigma: float
    intercept: float
    slope: float
    cluster_effect: float | None
    tau_slope: float | None = None
    rho: float = 0.0

    @property
    def largest_group(self) -> int:
        if isinstance(self.sizes, tuple):
            return self.sizes[1]
        return int(self.sizes[0]) if _constant(self.sizes) else int(np.max(self.sizes))

    @property
    def max_rows(self) -> int:
        """The number of rows of one data set (its upper bound for a size range)."""
        if isinstance(self.sizes, tuple) or _constant(self.sizes):
            return self.n_groups * self.largest_group
        return int(np.sum(self.sizes, dtype=np.int64))


def _constant(sizes: np.ndarray) -> bool:
    """Whether ``sizes`` is one size for every group, held as a broadcast view."""
    return sizes.ndim == 1 and sizes.size > 0 and sizes.strides == (0,)


def check_settings(n_groups: int, n_per_group: SizesLike, tau: float | None = None,
                   sigma: float | None = None, *, intercept: float = 2.0, slope: float = 0.5,
                   icc: float | None = None, total_var: float | None = None,
                   cluster_effect: float | None = None, tau_slope: float | None = None,
                   rho: float = 0.0) -> Settings:
    """Check :func:`simulate`'s parameters without drawing anything.

    Sweeps call it to reject a bad grid cell before any work starts.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or value; the message says which.
    """
    n_groups = _check_n_groups(n_groups)
    tau, sigma = _resolve_sds(tau, sigma, icc, total_var)
    if cluster_effect is not None:
        cluster_effect = _check_real("cluster_effect", cluster_effect)
    tau_slope, rho = _check_slope(tau_slope, rho)
    settings = Settings(n_groups=n_groups, sizes=_check_sizes(n_per_group, n_groups), tau=tau,
                        sigma=sigma, intercept=_check_real("intercept", intercept),
                        slope=_check_real("slope", slope), cluster_effect=cluster_effect,
                        tau_slope=tau_slope, rho=rho)
    _check_scale(settings)
    return settings


def _check_slope(tau_slope: object, rho: object) -> tuple[float | None, float]:
    """Return the checked ``(tau_slope, rho)`` of a random slope, or raise a clear error."""
    rho = _check_real("rho", rho)
    if not -1.0 <= rho <= 1.0:
        raise ValueError(f"rho must lie in [-1, 1] (a correlation), got {rho}.")
    if tau_slope is None:
        if rho != 0.0:
            raise ValueError(
                f"rho={rho:g} was given without tau_slope: rho is the correlation of the "
                "random intercepts and slopes, so it needs a random slope; give tau_slope "
                "(the slope's standard deviation) too, or leave rho at 0."
            )
        return None, 0.0
    return _check_real("tau_slope", tau_slope, minimum=0.0), rho


def _check_scale(settings: Settings) -> None:
    """Refuse settings whose simulated ``y`` could overflow float64 to inf or NaN.

    ``|y| <= |intercept| + B (|slope| + tau + sigma + |cluster_effect|)
    + sqrt(2) B^2 tau_slope`` with ``B`` a bound on every standard normal
    drawn (``|u1| <= tau_slope (|rho| + sqrt(1 - rho^2)) B <= sqrt(2) B
    tau_slope``, times ``|x| <= B``), so a finite bound means finite data,
    every partial sum included; the message names the largest part. (``tau``
    and ``sigma`` from ``icc`` and a finite ``total_var`` are below 1.4e154.)
    """
    parts = {"intercept": abs(settings.intercept), "slope": _DRAW_BOUND * abs(settings.slope),
             "tau": _DRAW_BOUND * settings.tau, "sigma": _DRAW_BOUND * settings.sigma,
             "cluster_effect": _DRAW_BOUND * abs(settings.cluster_effect or 0.0),
             "tau_slope": _SLOPE_BOUND * (settings.tau_slope or 0.0)}
    largest = np.finfo(float).max
    if sum(parts.values()) <= largest:  # Python floats: an overflow gives inf, never an error
        return
    name = max(parts, key=parts.get)
    raise ValueError(
        f"{name}={getattr(settings, name):g} is too large: the simulated y could exceed the "
        f"largest float ({largest:.3g}) and become inf or NaN. Use a smaller {name}, keeping "
        f"|intercept| + {_DRAW_BOUND:g} * (|slope| + tau + sigma + |cluster_effect|) + "
        f"{_SLOPE_BOUND:.4g} * tau_slope below {largest:.3g}, e.g. by measuring y in larger units."
    )
