"""``simlab.power_curve``: power against the number of groups or rows per group (simr's powerCurve).

Each break is a design of its own (from the settings, or the fitted model's
design cut or extended as simr's ``extend``), simulated independently of the
others: simr refits the first levels of one simulated data set per
simulation, which makes its points correlated; here every point's
simulations use the streams ``SeedSequence([seed, nobs, rep])``, so a point
equals :func:`simlab.power` of the same design and seed.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from simlab._checks import check_bool, is_int
from simlab._display import SummaryHTML
from simlab.study.backends import make_executor
from simlab.study.progress import progress_bar

from .design import ALONG
from .power import PowerProblem, PowerResult, check_budget, estimate_power

__all__ = ["PowerCurve", "default_breaks", "power_curve"]

#: simr's ``pcmin`` and ``pcmax``: default breaks start at 3 and number at most 10.
_FIRST_BREAK, _MAX_BREAKS = 3, 10
_LABELS = {"n_groups": "number of groups", "n_per_group": "rows per group"}


def default_breaks(largest: int) -> tuple[int, ...]:
    """simr's default breaks (``tidySeq(3, largest, 10)``): every size from 3, or 10 rounded
    equally spaced ones (3 5 7 9 11 12 14 16 18 20 for 20)."""
    if largest < _FIRST_BREAK:
        return (largest,)
    if largest - _FIRST_BREAK + 1 <= _MAX_BREAKS:
        return tuple(range(_FIRST_BREAK, largest + 1))
    # R's round() rounds halves to even, as numpy's does.
    return tuple(int(v) for v in np.round(np.linspace(_FIRST_BREAK, largest, _MAX_BREAKS)))


def check_breaks(breaks: Any) -> tuple[int, ...]:
    """``breaks`` as a tuple of increasing ints >= 2, or a clear error."""
    if isinstance(breaks, (str, bytes, Mapping)) or not isinstance(breaks, (Sequence, np.ndarray)):
        raise TypeError(f"breaks must be a list of increasing integers >= 2, got {breaks!r}")
    values = list(breaks)
    if not values or not all(is_int(v) for v in values):
        raise ValueError(f"breaks must be a non-empty list of integers, got {values!r}")
    if min(values) < 2 or any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError(f"breaks must be strictly increasing integers >= 2, got {values!r}")
    return tuple(int(v) for v in values)


@dataclass(frozen=True)
class PowerCurve(SummaryHTML):
    """Power at each break (simr's powerCurve summary).

    Attributes
    ----------
    along : str
        ``"n_groups"`` or ``"n_per_group"``.
    breaks : tuple of int
    points : tuple of PowerResult
        One per break.
    """

    along: str
    breaks: tuple[int, ...]
    points: tuple[PowerResult, ...]

    @property
    def table(self) -> "Any":
        """One tidy row per break: :attr:`PowerResult.table`'s columns (and ``n_per_group``)."""
        import pandas as pd

        frame = pd.concat([point.table for point in self.points], ignore_index=True)
        if self.along not in frame:
            frame.insert(0, self.along, list(self.breaks))
        return frame

    def __str__(self) -> str:
        first = self.points[0]
        lines = [f"Power for predictor {first.term!r} (95% Clopper-Pearson interval), "
                 f"by {_LABELS[self.along]}:"]
        for k, point in zip(self.breaks, self.points):
            lines.append(f"  {k:>5}: {100 * point.power:6.2f}% ({100 * point.lower:.2f}, "
                         f"{100 * point.upper:.2f}) - {point.nobs} rows, {point.nsim} simulations")
        lines.append(f"Test: {first.test}, alpha = {first.alpha:g}, seed {first.seed}")
        return "\n".join(lines)

    def plot(self, *, target: float | None = None, ax=None, **kwargs):
        """Draw the curve (:func:`simlab.plots.plot_power_curve`); returns the Axes."""
        from simlab.plots.power import plot_power_curve

        return plot_power_curve(self, target=target, ax=ax, **kwargs)


def power_curve(model: Any = None, *, term: str, along: str = "n_groups",
                breaks: Sequence[int] | None = None, effects: Mapping[str, float] | None = None,
                n_groups: int | None = None, n_per_group: int | Sequence[int] | None = None,
                tau: float | None = None, sigma: float | None = None, test: str = "kr",
                alpha: float = 0.05, nsim: int = 1000, precision: float | None = None,
                max_nsim: int = 20_000, seed: int | None = None, n_jobs: int = 1,
                backend: str | None = None, progress: bool = False) -> PowerCurve:
    """Power at several numbers of groups or rows per group (simr's ``powerCurve``).

    Parameters
    ----------
    along : {"n_groups", "n_per_group"}
        The design setting that varies.
    breaks : list of int, optional
        Its values, increasing integers >= 2. The default is simr's: from 3 to
        the design's value (its number of groups, or its largest group), at
        most 10 of them.
    model, term, effects, n_groups, n_per_group, tau, sigma, test, alpha, nsim, precision, max_nsim, seed, n_jobs, backend, progress
        As in :func:`simlab.power`; ``n_groups`` or ``n_per_group`` extend a
        fitted model's design before it is cut to each break.

    Returns
    -------
    PowerCurve
    """
    problem = PowerProblem.create(model, term=term, effects=effects, n_groups=n_groups,
                                  n_per_group=n_per_group, tau=tau, sigma=sigma, test=test,
                                  alpha=alpha, seed=seed)
    if along not in ALONG:
        raise ValueError(f"along must be a design setting, one of {ALONG}; got {along!r}")
    breaks = (default_breaks(problem.design.size(along)) if breaks is None
              else check_breaks(breaks))
    designs = [problem.at(along, k) for k in breaks]
    nsim, precision, max_nsim = check_budget(nsim, precision, max_nsim)
    executor = make_executor(n_jobs, backend)
    show = check_bool("progress", progress)
    with progress_bar(nsim * len(breaks), desc="power curve", unit="sim", show=show) as bar:
        points = tuple(estimate_power(problem, design, nsim=nsim, precision=precision,
                                      max_nsim=max_nsim, executor=executor, bar=bar)
                       for design in designs)
    return PowerCurve(along, breaks, points)
