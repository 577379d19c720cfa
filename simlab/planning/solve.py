"""``simlab.solve_sample_size``: the smallest design whose power reaches a target.

SimDesign's ``SimSolve`` spends simulations near the answer instead of on a
fixed grid. Here that is done with two classical tools, so that the answer
comes with an error statement:

1. **A sequential test at each size probed.** Whether ``power(N)`` reaches
   ``target`` is decided by Wald's sequential probability ratio test of
   ``power = target - tolerance`` against ``power = target + tolerance``
   (the *indifference zone*: inside it either answer is acceptable), with
   both error rates ``error``. Simulations are added one at a time in
   ``rep`` order (fitted in blocks; the decision is taken at the first
   simulation whose log likelihood ratio leaves ``(log(error / (1 - error)),
   log((1 - error) / error))``), so the decision does not depend on the
   block size. Far from the target a few hundred simulations decide; a
   size whose power lies inside the zone can run to ``max_nsim``, where the
   side of the target the estimate lies on decides (``truncated``).
2. **Search over the integers.** Sizes double from ``lower`` until one is
   decided to reach the target, then bisection between the largest size
   decided below and the smallest decided above; the answer ``N`` is that
   smallest size, next to ``N - 1`` decided below. Power is assumed to
   increase with the size.

Every size's simulations use the streams ``SeedSequence([seed, nobs, rep])``,
as :func:`simlab.power`, so the estimates are reproducible and agree with it.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from simlab._checks import check_int, is_real
from simlab._display import SummaryHTML
from simlab.study.measures import clopper_pearson

from .design import ALONG
from .power import PowerProblem, check_probability
from .testing import block_size, run_block

__all__ = ["Probe", "SampleSize", "solve_sample_size"]

#: Doublings of the search at most: up to 1024 times ``lower``.
_MAX_DOUBLINGS = 10


@dataclass(frozen=True)
class Probe:
    """The sequential test at one size.

    Attributes
    ----------
    size : int
        The value of ``along``.
    nsim, successes : int
        Simulations used (failed fits excluded) and rejections among them.
    power, lower, upper : float
        Estimate and 95% Clopper-Pearson interval.
    reaches : bool
        Decided that power reaches the target.
    truncated : bool
        ``max_nsim`` was reached before the test decided: the estimate decided.
    """

    size: int
    nsim: int
    successes: int
    power: float
    lower: float
    upper: float
    reaches: bool
    truncated: bool


@dataclass(frozen=True)
class SampleSize(SummaryHTML):
    """The answer of :func:`solve_sample_size` and how sure it is.

    Attributes
    ----------
    size : int
        The smallest value of ``along`` decided to reach ``target``.
    along : str
    target, tolerance, error : float
    probes : tuple of Probe
        Every size tested, in the order tested.
    seed : int
    """

    size: int
    along: str
    target: float
    tolerance: float
    error: float
    probes: tuple[Probe, ...]
    seed: int

    def probe(self, size: int) -> Probe | None:
        """The test at ``size``, if it was probed."""
        return next((p for p in self.probes if p.size == size), None)

    @property
    def confident(self) -> bool:
        """Both decisions that fix the answer (at ``size`` and at ``size - 1``, if it was
        probed) were taken by the sequential test, not by truncation."""
        return not any(p.truncated for p in (self.probe(self.size), self.probe(self.size - 1))
                       if p is not None)

    @property
    def nsim(self) -> int:
        """Simulations spent over all probes."""
        return sum(p.nsim for p in self.probes)

    @property
    def table(self) -> "Any":
        """One tidy row per probe, sorted by size."""
        import pandas as pd

        frame = pd.DataFrame([p.__dict__ for p in self.probes]).sort_values("size")
        return frame.rename(columns={"size": self.along}).reset_index(drop=True)

    def __str__(self) -> str:
        at, below = self.probe(self.size), self.probe(self.size - 1)
        lines = [f"Smallest {self.along} with power >= {self.target:g}: {self.size}",
                 f"  at {self.size}: power {at.power:.4f} [{at.lower:.4f}, {at.upper:.4f}] "
                 f"from {at.nsim} simulations"]
        if below is not None:
            lines.append(f"  at {self.size - 1}: power {below.power:.4f} [{below.lower:.4f}, "
                         f"{below.upper:.4f}] from {below.nsim} simulations")
        sure = ("each decision has error <= {:g} outside the zone".format(self.error)
                if self.confident else "a decision was truncated at max_nsim: power there is "
                "most likely inside the zone")
        lines.append(f"Indifference zone {self.target:g} +- {self.tolerance:g}; {sure}; "
                     f"{self.nsim} simulations in all; seed {self.seed}")
        return "\n".join(lines)


class _Sequential:
    """Wald's SPRT of ``power = target - tolerance`` against ``target + tolerance``."""

    def __init__(self, target: float, tolerance: float, error: float):
        low, high = target - tolerance, target + tolerance
        self.step_reject = np.log(high / low)                # a rejection's log LR
        self.step_accept = np.log((1 - high) / (1 - low))    # a non-rejection's
        self.bound = np.log((1 - error) / error)

    def first_crossing(self, llr0: float, rejected: np.ndarray) -> tuple[int, float]:
        """Index of the first simulation at which the log LR leaves the band (-1: none), and
        the log LR after the last simulation."""
        llr = llr0 + np.cumsum(np.where(rejected, self.step_reject, self.step_accept))
        out = np.flatnonzero(np.abs(llr) >= self.bound)
        return (int(out[0]), float(llr[out[0]])) if out.size else (-1, float(llr[-1]) if llr.size else llr0)


def _decide(problem: PowerProblem, along: str, size: int, test: _Sequential,
            max_nsim: int) -> Probe:
    design = problem.at(along, size)
    llr, successes, nsim, start = 0.0, 0, 0, 0
    while start < max_nsim:
        reps = range(start, min(start + block_size(design), max_nsim))
        block = run_block(design, problem.column, problem.test, problem.seed, design.nobs, reps)
        start = reps.stop
        ok = ~block.failed
        rejected = block.p[ok] < problem.alpha
        index, llr_end = test.first_crossing(llr, rejected)
        used = rejected if index < 0 else rejected[:index + 1]
        successes, nsim = successes + int(used.sum()), nsim + used.size
        llr = llr_end
        if index >= 0:
            return _probe(size, nsim, successes, llr > 0, False)
    return _probe(size, nsim, successes, llr > 0, True)


def _probe(size: int, nsim: int, successes: int, reaches: bool, truncated: bool) -> Probe:
    lower, upper = clopper_pearson(successes, nsim)
    return Probe(size, nsim, successes, successes / max(nsim, 1), lower, upper, bool(reaches),
                 truncated)


def _search(decide, lower: int, upper: int | None) -> int:
    """The smallest size decided to reach the target (doubling, then bisection)."""
    if decide(lower).reaches:
        return lower
    below, above = lower, None
    if upper is not None:
        if not decide(upper).reaches:
            raise ValueError(f"power does not reach the target at the upper end of the search "
                             f"({upper}); raise it")
        above = upper
    size = lower
    for _ in range(_MAX_DOUBLINGS):
        if above is not None:
            break
        size *= 2
        if decide(size).reaches:
            above = size
        else:
            below = size
    if above is None:
        raise ValueError(f"power does not reach the target up to {size} (the search doubles "
                         f"{lower} {_MAX_DOUBLINGS} times): check the effect size, or give "
                         "a larger upper")
    while above - below > 1:
        middle = (below + above) // 2
        if decide(middle).reaches:
            above = middle
        else:
            below = middle
    return above


def solve_sample_size(model: Any = None, *, term: str, target: float = 0.8,
                      along: str = "n_groups", tolerance: float = 0.01, error: float = 0.01,
                      lower: int | None = None, upper: int | None = None,
                      effects: Mapping[str, float] | None = None, n_groups: int | None = None,
                      n_per_group: int | Sequence[int] | None = None, tau: float | None = None,
                      sigma: float | None = None, test: str = "kr", alpha: float = 0.05,
                      max_nsim: int = 10_000, seed: int | None = None) -> SampleSize:
    """The smallest number of groups (or rows per group) whose power reaches ``target``.

    Parameters
    ----------
    target : float, default 0.8
        Power to reach, in (0, 1).
    along : {"n_groups", "n_per_group"}
    tolerance : float, default 0.01
        Half-width of the indifference zone around ``target``.
    error : float, default 0.01
        Error rate of each sequential decision outside the zone.
    lower, upper : int, optional
        Search range (default: from 3 groups or 2 rows per group, doubling
        until the target is reached).
    max_nsim : int, default 10000
        Simulations at most per size probed.
    model, term, effects, n_groups, n_per_group, tau, sigma, test, alpha, seed
        As in :func:`simlab.power`; ``n_groups`` or ``n_per_group`` is the
        starting design, and the one named by ``along`` is searched.

    Returns
    -------
    SampleSize

    Notes
    -----
    The algorithm and its stopping rule are described in :mod:`simlab.planning.solve`.
    """
    problem = PowerProblem.create(model, term=term, effects=effects, n_groups=n_groups,
                                  n_per_group=n_per_group, tau=tau, sigma=sigma, test=test,
                                  alpha=alpha, seed=seed)
    target = check_probability("target", target)
    if along not in ALONG:
        raise ValueError(f"along must be a design setting, one of {ALONG}; got {along!r}")
    tolerance = _check_zone(target, tolerance)
    error = check_probability("error", error)
    lower = (3 if along == "n_groups" else 2) if lower is None else check_int("lower", lower, 2)
    if upper is not None:
        upper = check_int("upper", upper, lower + 1)
    max_nsim = check_int("max_nsim", max_nsim, 1)
    sequential, probes = _Sequential(target, tolerance, error), {}

    def decide(size: int) -> Probe:
        if size not in probes:
            probes[size] = _decide(problem, along, size, sequential, max_nsim)
        return probes[size]

    size = _search(decide, lower, upper)
    return SampleSize(size, along, target, tolerance, error, tuple(probes.values()),
                      problem.seed)


def _check_zone(target: float, tolerance: Any) -> float:
    if not is_real(tolerance) or not 0 < float(tolerance) < min(target, 1 - target):
        raise ValueError(f"tolerance is the half-width of the indifference zone around the "
                         f"target {target:g}: a number in (0, {min(target, 1 - target):g}), "
                         f"such as 0.01; got {tolerance!r}")
    return float(tolerance)
