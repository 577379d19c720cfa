"""Performance measures of a simulation study, with their Monte Carlo SEs.

Each function is named after the textbook quantity of Morris, White & Crowther
(2019, *Stat Med* 38:2074, Table 6) and returns a :class:`Measure`
``(estimate, mcse)``. Notation: ``nsim`` replicates, estimates
``theta_hat_i`` with mean ``theta_bar`` and sample variance
``S^2 = sum((theta_hat_i - theta_bar)^2) / (nsim - 1)``, true value ``theta``
and estimated variances ``V_i = se_i^2``.

Conventions shared by every function:

- Inputs are array-likes of floats; ``truth`` and ``null`` are scalars.
- NaN inputs are excluded, and ``nsim`` counts what is left. Paired inputs
  (``lower``/``upper``, ``estimates``/``ses``) drop a replicate when either
  value is NaN. Infinite values are kept (an infinite interval bound is a
  valid bound; it makes a width infinite).
- No replicates left gives ``Measure(nan, nan)``; ``nsim < 2`` gives a NaN
  MCSE (and NaN for quantities that need a variance). Nothing warns or raises.

This module knows nothing about models, sweeps or DataFrames.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

__all__ = [
    "Measure",
    "bias",
    "clopper_pearson",
    "coverage",
    "empirical_se",
    "mean_estimate",
    "mean_width",
    "model_se",
    "mse",
    "proportion",
    "rejection_rate",
    "relative_bias",
    "relative_error_model_se",
    "rmse",
]

NAN = float("nan")


class Measure(NamedTuple):
    """A performance measure and its Monte Carlo standard error."""

    estimate: float
    mcse: float


_MISSING = Measure(NAN, NAN)


def _clean(values: ArrayLike) -> np.ndarray:
    """Return ``values`` as a 1-d float array without its NaNs."""
    x = np.asarray(values, dtype=float).ravel()
    return x[~np.isnan(x)]


def _clean_pair(a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Return two equal-length float arrays, dropping pairs with a NaN."""
    x = np.asarray(a, dtype=float).ravel()
    y = np.asarray(b, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"paired inputs differ in length: {x.size} and {y.size}")
    keep = ~(np.isnan(x) | np.isnan(y))
    return x[keep], y[keep]


def _var(x: np.ndarray) -> float:
    """Sample variance (divisor n - 1), NaN when fewer than 2 values."""
    if x.size < 2:
        return NAN
    with np.errstate(invalid="ignore"):  # inf values give NaN, quietly
        return float(np.var(x, ddof=1))


def _ratio(num: float, den: float) -> float:
    """``num / den``, NaN instead of a division by zero."""
    return num / den if den != 0 else NAN


def mean_estimate(estimates: ArrayLike) -> Measure:
    r"""Mean of the estimates.

    .. math:: \bar\theta = \frac{1}{n_{sim}} \sum_i \hat\theta_i,
              \quad \mathrm{MCSE} = \sqrt{S^2 / n_{sim}}

    Parameters
    ----------
    estimates : array_like
        One estimate per replicate; NaNs are excluded.

    Returns
    -------
    Measure
    """
    x = _clean(estimates)
    if x.size == 0:
        return _MISSING
    return Measure(float(np.mean(x)), float(np.sqrt(_var(x) / x.size)))


def bias(estimates: ArrayLike, truth: float) -> Measure:
    r"""Bias of the estimates.

    .. math:: \mathrm{bias} = \bar\theta - \theta,
              \quad \mathrm{MCSE} = \sqrt{S^2 / n_{sim}}

    Parameters
    ----------
    estimates : array_like
        One estimate per replicate; NaNs are excluded.
    truth : float
        The true value ``theta``.

    Returns
    -------
    Measure
    """
    mean, mcse = mean_estimate(estimates)
    return Measure(mean - float(truth), mcse)


def relative_bias(estimates: ArrayLike, truth: float) -> Measure:
    r"""Bias relative to the true value (a fraction, not a percentage).

    .. math:: \mathrm{relbias} = (\bar\theta - \theta) / \theta,
              \quad \mathrm{MCSE} = \sqrt{S^2 / n_{sim}} / |\theta|

    Both are NaN when ``theta == 0`` (or is NaN).

    Parameters
    ----------
    estimates : array_like
        One estimate per replicate; NaNs are excluded.
    truth : float
        The true value ``theta``.

    Returns
    -------
    Measure
    """
    truth = float(truth)
    if truth == 0 or np.isnan(truth):
        return _MISSING
    b, mcse = bias(estimates, truth)
    return Measure(b / truth, mcse / abs(truth))


def empirical_se(estimates: ArrayLike) -> Measure:
    r"""Empirical standard error: the SD of the estimates.

    .. math:: \mathrm{EmpSE} = S,
              \quad \mathrm{MCSE} = S / \sqrt{2 (n_{sim} - 1)}

    Parameters
    ----------
    estimates : array_like
        One estimate per replicate; NaNs are excluded.

    Returns
    -------
    Measure
        NaN for both when fewer than 2 estimates remain.
    """
    x = _clean(estimates)
    if x.size < 2:
        return _MISSING
    s = float(np.sqrt(_var(x)))
    return Measure(s, s / np.sqrt(2.0 * (x.size - 1)))


def mse(estimates: ArrayLike, truth: float) -> Measure:
    r"""Mean squared error.

    .. math:: \mathrm{MSE} = \frac{1}{n_{sim}} \sum_i (\hat\theta_i - \theta)^2,
              \quad \mathrm{MCSE} = \sqrt{\frac{\sum_i [(\hat\theta_i - \theta)^2
              - \mathrm{MSE}]^2}{n_{sim} (n_{sim} - 1)}}

    Parameters
    ----------
    estimates : array_like
        One estimate per replicate; NaNs are excluded.
    truth : float
        The true value ``theta``.

    Returns
    -------
    Measure
    """
    x = _clean(estimates)
    if x.size == 0:
        return _MISSING
    sq = (x - float(truth)) ** 2
    value = float(np.mean(sq))
    if x.size < 2:
        return Measure(value, NAN)
    return Measure(value, float(np.sqrt(np.sum((sq - value) ** 2) / (x.size * (x.size - 1)))))


def rmse(estimates: ArrayLike, truth: float) -> Measure:
    r"""Root mean squared error, with a delta-method MCSE.

    .. math:: \mathrm{RMSE} = \sqrt{\mathrm{MSE}},
              \quad \mathrm{MCSE} = \mathrm{MCSE}(\mathrm{MSE}) / (2\,\mathrm{RMSE})

    The MCSE is NaN when ``RMSE == 0`` (the delta method does not apply).

    Parameters
    ----------
    estimates : array_like
        One estimate per replicate; NaNs are excluded.
    truth : float
        The true value ``theta``.

    Returns
    -------
    Measure
    """
    value, mcse = mse(estimates, truth)
    root = float(np.sqrt(value))
    return Measure(root, _ratio(mcse, 2.0 * root))


def model_se(ses: ArrayLike) -> Measure:
    r"""Average model-based standard error (root mean of the variances).

    .. math:: \mathrm{ModSE} = \sqrt{\frac{1}{n_{sim}} \sum_i V_i},
              \quad \mathrm{MCSE} = \sqrt{\frac{\mathrm{Var}(V_i)}
              {4\, n_{sim}\, \mathrm{ModSE}^2}}

    with ``V_i = se_i^2`` and ``Var`` the sample variance (divisor n - 1).

    Parameters
    ----------
    ses : array_like
        One model standard error per replicate; NaNs are excluded.

    Returns
    -------
    Measure
    """
    v = _clean(ses) ** 2
    if v.size == 0:
        return _MISSING
    value = float(np.sqrt(np.mean(v)))
    return Measure(value, float(np.sqrt(_ratio(_var(v), 4.0 * v.size * value**2))))


def relative_error_model_se(estimates: ArrayLike, ses: ArrayLike) -> Measure:
    r"""Relative error in the model SE, in percent.

    .. math:: 100 \left(\frac{\mathrm{ModSE}}{\mathrm{EmpSE}} - 1\right),
              \quad \mathrm{MCSE} = 100 \frac{\mathrm{ModSE}}{\mathrm{EmpSE}}
              \sqrt{\frac{\mathrm{Var}(V_i)}{4\, n_{sim}\, \mathrm{ModSE}^4}
              + \frac{1}{2 (n_{sim} - 1)}}

    Parameters
    ----------
    estimates, ses : array_like
        Estimate and model SE of each replicate, paired: a replicate with
        either value NaN is excluded from both.

    Returns
    -------
    Measure
        NaN for both when fewer than 2 replicates remain.
    """
    x, se = _clean_pair(estimates, ses)
    if x.size < 2:
        return _MISSING
    emp = empirical_se(x).estimate
    mod = model_se(se).estimate
    ratio = _ratio(mod, emp)
    var_term = _ratio(_var(se**2), 4.0 * x.size * mod**4)
    mcse = 100.0 * ratio * np.sqrt(var_term + 1.0 / (2.0 * (x.size - 1)))
    return Measure(100.0 * (ratio - 1.0), float(mcse))


def proportion(flags: ArrayLike) -> Measure:
    r"""Proportion of true flags, with the binomial MCSE.

    .. math:: p = \frac{1}{n_{sim}} \sum_i 1[\mathrm{flag}_i],
              \quad \mathrm{MCSE} = \sqrt{p (1 - p) / n_{sim}}

    Parameters
    ----------
    flags : array_like
        Booleans or 0/1 values; NaNs are excluded.

    Returns
    -------
    Measure
    """
    x = _clean(flags)
    if x.size == 0:
        return _MISSING
    p = float(np.mean(x != 0))
    return Measure(p, float(np.sqrt(p * (1.0 - p) / x.size)) if x.size >= 2 else NAN)


def coverage(lower: ArrayLike, upper: ArrayLike, truth: float) -> Measure:
    r"""Coverage: proportion of intervals containing the true value.

    .. math:: p = \frac{1}{n_{sim}} \sum_i 1[l_i \le \theta \le u_i],
              \quad \mathrm{MCSE} = \sqrt{p (1 - p) / n_{sim}}

    Parameters
    ----------
    lower, upper : array_like
        Interval bounds, paired (a replicate with either bound NaN is excluded).
    truth : float
        The true value ``theta``.

    Returns
    -------
    Measure
    """
    lo, hi = _clean_pair(lower, upper)
    truth = float(truth)
    return proportion((lo <= truth) & (truth <= hi))


def mean_width(lower: ArrayLike, upper: ArrayLike) -> Measure:
    r"""Mean interval width.

    .. math:: \bar w = \frac{1}{n_{sim}} \sum_i (u_i - l_i),
              \quad \mathrm{MCSE} = \mathrm{sd}(w) / \sqrt{n_{sim}}

    Parameters
    ----------
    lower, upper : array_like
        Interval bounds, paired (a replicate with either bound NaN is excluded).

    Returns
    -------
    Measure
    """
    lo, hi = _clean_pair(lower, upper)
    return mean_estimate(hi - lo)


def rejection_rate(lower: ArrayLike, upper: ArrayLike, null: float = 0.0) -> Measure:
    r"""Rejection rate (power, or type I error when the null is true).

    The proportion of intervals that exclude ``null``:

    .. math:: p = \frac{1}{n_{sim}} \sum_i 1[\theta_0 < l_i \text{ or } \theta_0 > u_i],
              \quad \mathrm{MCSE} = \sqrt{p (1 - p) / n_{sim}}

    Parameters
    ----------
    lower, upper : array_like
        Interval bounds, paired (a replicate with either bound NaN is excluded).
    null : float, default 0.0
        The null value ``theta_0``.

    Returns
    -------
    Measure
    """
    lo, hi = _clean_pair(lower, upper)
    null = float(null)
    return proportion((null < lo) | (null > hi))


def clopper_pearson(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    r"""Clopper-Pearson ("exact") interval of a binomial proportion, as R's ``binom.test``.

    .. math:: \left[B^{-1}\left(\tfrac{1 - \gamma}{2}; k, n - k + 1\right),\;
              B^{-1}\left(\tfrac{1 + \gamma}{2}; k + 1, n - k\right)\right]

    with ``B^-1`` the beta quantile, ``k`` successes of ``n`` trials and level
    ``gamma``; the lower bound is 0 when ``k = 0`` and the upper 1 when ``k = n``.
    This is the interval simr reports for power.

    Parameters
    ----------
    successes, trials : int
        ``0 <= successes <= trials``.
    level : float, default 0.95

    Returns
    -------
    tuple of float
        ``(lower, upper)``; ``(nan, nan)`` for no trials.
    """
    k, n = int(successes), int(trials)
    if n == 0:
        return NAN, NAN
    tail = (1.0 - level) / 2
    lower = 0.0 if k == 0 else float(special.betaincinv(k, n - k + 1, tail))
    upper = 1.0 if k == n else float(special.betaincinv(k + 1, n - k, 1.0 - tail))
    return lower, upper
