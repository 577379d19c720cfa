"""``simlab.power``: the power of a test of one fixed effect, by simulation (simr's powerSim).

A power estimate is the share of simulations whose test rejects at level
``alpha``. It is reported with its Monte Carlo SE ``sqrt(p (1 - p) / n)``
and simr's Clopper-Pearson interval. With ``precision``, simulations go on
in rounds until the Monte Carlo SE is at most ``precision`` (or ``max_nsim``
is reached, with a :class:`PrecisionWarning`): each round asks for the
number of simulations the current estimate says is needed, using
``p~ = (k + 1) / (n + 2)`` so that an estimate of 0 or 1 after a few
simulations does not end the run early.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simlab._checks import check_bool, check_int, is_real
from simlab._display import SummaryHTML
from simlab.study.backends import Executor, make_executor
from simlab.study.measures import clopper_pearson
from simlab.study.progress import progress_bar

from .design import ALONG, PowerDesign, design_from_fit, design_from_settings
from .testing import MAX_BLOCK, TESTS, Block, block_size, run_block

__all__ = ["PowerProblem", "PowerResult", "PrecisionWarning", "power", "estimate_power"]

#: Names of the tests in the summary.
TEST_LABELS = {"kr": "Kenward-Roger (pbkrtest)", "satterthwaite": "Satterthwaite (lmerTest)",
               "lrt": "likelihood ratio (ML fits)", "z": "z test (t referred to the normal)"}


class PrecisionWarning(UserWarning):
    """The Monte Carlo SE target was not reached within ``max_nsim`` simulations."""


def check_probability(name: str, value: object) -> float:
    """``value`` as a float strictly between 0 and 1, or a clear error."""
    if not is_real(value):
        raise TypeError(f"{name} must be a number between 0 and 1, got {value!r}")
    if not 0 < float(value) < 1:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")
    return float(value)


def _check_seed(seed: object) -> int:
    if seed is None:
        return int(np.random.SeedSequence().entropy)
    return check_int("seed", seed, 0)


@dataclass(frozen=True)
class PowerProblem:
    """What is simulated and tested; shared by :func:`power`, ``power_curve`` and
    ``solve_sample_size``.

    Attributes
    ----------
    design : PowerDesign
        The design at the given settings (a fitted model's, possibly extended).
    settings : dict or None
        The design settings, None for a design from a fitted model.
    term, test : str
    alpha : float
    seed : int
    """

    design: PowerDesign
    settings: dict | None
    term: str
    test: str
    alpha: float
    seed: int
    column: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column", self.design.column(self.term))

    @classmethod
    def create(cls, model: Any, *, term: str, effects: Mapping | None, n_groups: Any,
               n_per_group: Any, tau: Any, sigma: Any, test: str, alpha: Any,
               seed: Any) -> "PowerProblem":
        """Check the arguments of :func:`power` and build the design."""
        if test not in TESTS:
            raise ValueError(f"test must be one of {TESTS}, got {test!r}")
        alpha = check_probability("alpha", alpha)
        if model is not None:
            design = design_from_fit(model, n_groups=n_groups, n_per_group=n_per_group)
            design, settings = design.with_truth(effects, tau, sigma), None
        else:
            missing = [name for name, value in (("n_groups", n_groups), ("n_per_group", n_per_group),
                                                ("tau", tau), ("sigma", sigma), ("effects", effects))
                       if value is None]
            if missing:
                raise TypeError(f"without a fitted model, power needs the design settings; "
                                f"missing {missing}")
            settings = dict(n_groups=n_groups, n_per_group=n_per_group, tau=tau, sigma=sigma,
                            effects=dict(effects))
            design = design_from_settings(**settings)
        if not isinstance(term, str):
            raise TypeError(f"term must be the name of a fixed effect, got {term!r}")
        return cls(check_estimable(design), settings, term, test, alpha, _check_seed(seed))

    def at(self, along: str, k: int) -> PowerDesign:
        """The design with setting ``along`` (``n_groups`` or ``n_per_group``) equal to ``k``."""
        if along not in ALONG:
            raise ValueError(f"along must be a design setting, one of {ALONG}; got {along!r}")
        if self.settings is not None:
            design = design_from_settings(**{**self.settings, along: k})
        else:
            design = self.design.resized(along, k)
        return check_estimable(design)


def check_estimable(design: PowerDesign) -> PowerDesign:
    """Refuse a design whose model cannot be fitted: clear errors instead of failed fits."""
    if design.n_groups < 2:
        raise ValueError(f"a design needs at least 2 groups to estimate tau, got {design.n_groups}")
    if design.sizes.max() < 2:
        raise ValueError("every group has a single row, so tau and sigma cannot be told apart; "
                         "use at least 2 rows per group")
    rank = np.linalg.matrix_rank(design.X)
    if rank < design.X.shape[1]:
        raise ValueError(f"the fixed effects {list(design.names)} are not estimable in this "
                         f"design (X has rank {rank}); a within-group x needs groups of 2+ "
                         "rows, a cluster-level z needs 2+ groups")
    if design.nobs <= design.X.shape[1] + 1:
        raise ValueError(f"{design.nobs} rows cannot estimate {design.X.shape[1]} fixed effects, "
                         "tau and sigma")
    return design


@dataclass(frozen=True)
class PowerResult(SummaryHTML):
    """The power of one test at one design (simr's powerSim summary).

    Attributes
    ----------
    term, test : str
    effect : float
        True value of the effect tested.
    alpha : float
    n_groups, nobs : int
    nsim : int
        Simulations whose fit succeeded (the denominator of ``power``).
    successes : int
        Simulations whose test rejected.
    failed, singular : int
        Simulations whose fit failed (excluded), and singular REML fits (included).
    power, mcse, lower, upper : float
        ``successes / nsim``, its Monte Carlo SE and the 95% Clopper-Pearson interval.
    precision : float or None
        The Monte Carlo SE asked for, if any.
    seed : int
        Simulation ``rep`` drew from ``SeedSequence([seed, nobs, rep])``.
    """

    term: str
    test: str
    effect: float
    alpha: float
    n_groups: int
    nobs: int
    nsim: int
    successes: int
    failed: int
    singular: int
    power: float
    mcse: float
    lower: float
    upper: float
    precision: float | None
    seed: int

    @property
    def table(self) -> "Any":
        """One tidy row (a :class:`pandas.DataFrame`)."""
        import pandas as pd

        return pd.DataFrame([{name: getattr(self, name) for name in self.__dataclass_fields__}])

    def __str__(self) -> str:
        return "\n".join([
            f"Power for predictor {self.term!r} (95% Clopper-Pearson interval):",
            f"      {100 * self.power:.2f}% ({100 * self.lower:.2f}, {100 * self.upper:.2f}),"
            f" Monte Carlo SE {100 * self.mcse:.2f}%",
            f"Test: {TEST_LABELS[self.test]}, alpha = {self.alpha:g}",
            f"      Effect size for {self.term} is {self.effect:g}",
            f"Based on {self.nsim} simulations ({self.failed} failed fits excluded, "
            f"{self.singular} singular fits); {self.n_groups} groups, {self.nobs} rows; "
            f"seed {self.seed}"])


def _blocks(start: int, stop: int, size: int) -> list[range]:
    return [range(a, min(a + size, stop)) for a in range(start, stop, size)]


def _simulate(problem: PowerProblem, design: PowerDesign, reps: range, executor: Executor,
              bar) -> Block:
    """Outcomes of simulations ``reps`` of ``design``, in rep order."""
    def one(block: range) -> tuple[int, Block]:
        return block.start, run_block(design, problem.column, problem.test, problem.seed,
                                      design.nobs, block)

    done = {}
    blocks = _blocks(reps.start, reps.stop, block_size(design))
    for start, block in executor.map_unordered(one, blocks):
        done[start] = block
        bar.update(len(block.p))
    parts = [done[key] for key in sorted(done)]
    return Block(*(np.concatenate(arrays) for arrays in zip(*parts)))


def _result(problem: PowerProblem, design: PowerDesign, outcome: Block,
            precision: float | None) -> PowerResult:
    ok = ~outcome.failed
    nsim, successes = int(ok.sum()), int((outcome.p[ok] < problem.alpha).sum())
    power_ = successes / nsim if nsim else float("nan")
    mcse = float(np.sqrt(power_ * (1 - power_) / nsim)) if nsim else float("nan")
    lower, upper = clopper_pearson(successes, nsim)
    return PowerResult(problem.term, problem.test, float(design.beta[problem.column]),
                       problem.alpha, design.n_groups, design.nobs, nsim, successes,
                       int(outcome.failed.sum()), int(outcome.singular[ok].sum()), power_, mcse,
                       lower, upper, precision, problem.seed)


def _needed(successes: int, nsim: int, precision: float) -> int:
    """Simulations for a Monte Carlo SE of ``precision``, from ``p~ = (k + 1) / (n + 2)``."""
    p = (successes + 1) / (nsim + 2)
    return int(np.ceil(p * (1 - p) / precision ** 2))


def estimate_power(problem: PowerProblem, design: PowerDesign, *, nsim: int,
                   precision: float | None = None, max_nsim: int | None = None,
                   executor: Executor | None = None, bar=None) -> PowerResult:
    """Power of ``problem``'s test at ``design``: ``nsim`` simulations, then rounds until
    the Monte Carlo SE reaches ``precision`` or ``max_nsim`` simulations are done."""
    executor = executor or make_executor(1)
    bar = bar or progress_bar(0, desc="power", unit="sim", show=False)
    outcome = _simulate(problem, design, range(0, nsim), executor, bar)
    result = _result(problem, design, outcome, precision)
    while precision is not None and not _precise(result, precision):
        done = len(outcome.p)
        target = min(max_nsim, max(_needed(result.successes, result.nsim, precision),
                                   done + MAX_BLOCK // 5))
        if done >= max_nsim:
            warnings.warn(f"the Monte Carlo SE of power is {result.mcse:.4f} after "
                          f"{done} simulations (max_nsim), above the precision {precision:g} "
                          f"asked for; power is {result.power:.4f} "
                          f"[{result.lower:.4f}, {result.upper:.4f}]. Raise max_nsim to go on.",
                          PrecisionWarning, stacklevel=3)
            break
        more = _simulate(problem, design, range(done, target), executor, bar)
        outcome = Block(*(np.concatenate(pair) for pair in zip(outcome, more)))
        result = _result(problem, design, outcome, precision)
    return result


def _precise(result: PowerResult, precision: float) -> bool:
    p = (result.successes + 1) / (result.nsim + 2)
    return bool(np.sqrt(p * (1 - p) / max(result.nsim, 1)) <= precision)


def check_budget(nsim: Any, precision: Any, max_nsim: Any) -> tuple[int, float | None, int]:
    """Check ``nsim``, ``precision`` (a Monte Carlo SE in (0, 0.5)) and ``max_nsim``.

    ``max_nsim`` caps the rounds of ``precision`` only: without a precision
    target exactly ``nsim`` simulations run, however large.
    """
    nsim = check_int("nsim", nsim, 1)
    if precision is not None:
        if not is_real(precision) or not 0 < float(precision) < 0.5:
            raise ValueError("precision is the Monte Carlo SE of power to reach, a number in "
                             f"(0, 0.5) such as 0.005; got {precision!r}")
        precision = float(precision)
    max_nsim = nsim if max_nsim is None else check_int("max_nsim", max_nsim, 1)
    if precision is None:
        return nsim, None, nsim
    if max_nsim < nsim:
        raise ValueError(f"max_nsim ({max_nsim}) must be at least nsim ({nsim})")
    return nsim, precision, max_nsim


def power(model: Any = None, *, term: str, effects: Mapping[str, float] | None = None,
          n_groups: int | None = None, n_per_group: int | Sequence[int] | None = None,
          tau: float | None = None, sigma: float | None = None, test: str = "kr",
          alpha: float = 0.05, nsim: int = 1000, precision: float | None = None,
          max_nsim: int = 20_000, seed: int | None = None, n_jobs: int = 1,
          backend: str | None = None, progress: bool = False) -> PowerResult:
    """Power of a test of one fixed effect, by simulation (simr's ``powerSim``).

    Parameters
    ----------
    model : LmerResult, optional
        A fitted ``(1 | g)`` model to simulate from, as simr does: its
        ``model_matrix()``, groups, ``fixef``, ``tau`` and ``sigma``, changed by
        ``effects``, ``tau`` and ``sigma`` and extended by ``n_groups`` (copies
        of the groups) and ``n_per_group`` (copies of each group's rows).
        Without it the design comes from the settings ``n_groups``,
        ``n_per_group``, ``tau``, ``sigma`` and ``effects`` (see
        :func:`simlab.planning.design.design_from_settings`: ``x`` is a
        within-group covariate, ``z`` a cluster-level two-arm treatment).
    term : str
        The fixed effect tested (simr's ``fixed("x")``).
    effects : dict, optional
        True fixed effects by name, e.g. ``{"z": 0.8}``.
    test : {"kr", "satterthwaite", "lrt", "z"}
        Kenward-Roger (simr's default), lmerTest's Satterthwaite t test, the
        likelihood-ratio test of ML fits, or the t statistic as a z test.
    alpha : float, default 0.05
        Significance level of the test (its size, simr's ``alpha``); not a
        confidence level, which simlab calls ``level`` everywhere.
    nsim : int, default 1000
        Simulations (the first round, with ``precision``).
    precision : float, optional
        Go on until the Monte Carlo SE of power is at most this (e.g. 0.005).
    max_nsim : int, default 20000
        Cap of simulations with ``precision``; reaching it warns (:class:`PrecisionWarning`).
    seed : int, optional
        Simulation ``rep`` draws from ``SeedSequence([seed, nobs, rep])``; None
        picks one, reported in the result.
    n_jobs, backend : optional
        Parallel execution, as :func:`simlab.sweep`.
    progress : bool, default False

    Returns
    -------
    PowerResult

    Examples
    --------
    >>> res = power(term="z", effects={"z": 1.0}, n_groups=24, n_per_group=6,
    ...             tau=0.5 ** 0.5, sigma=1.0, nsim=200, seed=1)
    >>> res.nsim
    200
    """
    problem = PowerProblem.create(model, term=term, effects=effects, n_groups=n_groups,
                                  n_per_group=n_per_group, tau=tau, sigma=sigma, test=test,
                                  alpha=alpha, seed=seed)
    nsim, precision, max_nsim = check_budget(nsim, precision, max_nsim)
    executor = make_executor(n_jobs, backend)
    with progress_bar(nsim, desc="power", unit="sim", show=check_bool("progress", progress)) as bar:
        return estimate_power(problem, problem.design, nsim=nsim, precision=precision,
                              max_nsim=max_nsim, executor=executor, bar=bar)
