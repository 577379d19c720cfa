"""Wall-time benchmark of simlab's exact random-intercept fit against statsmodels.

Run by hand from the repository root::

    SIMLAB_DATA_DIR=/path/to/data python benchmarks/bench_fit.py [--repeats N]

For two data sets (GPA, or a simulated stand-in when ``gpa.csv`` is absent,
and ``simlab.simulate(100, 3, .5, .25, seed=1)``) it times, call by call with
:func:`time.perf_counter`, after warm-up calls, all benchmarks of a data set
interleaved in rounds so that they share the machine's load:

* simlab end to end, ``simlab.lmer(formula, data)``;
* simlab's formula/design step, ``GroupSums`` construction and core
  ``fit_theta`` separately, so the cost of formula handling is visible;
* statsmodels end to end (``smf.mixedlm(...).fit(reml=True)``) and its fit on
  a pre-built ``MixedLM`` model;
* simlab's profile and Wald ``confint``.

It prints medians and interquartile ranges in milliseconds, statsmodels/simlab
ratios measured in the same run, and the targets with PASS or MISS. See
``benchmarks/README.md``.
"""
from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import statsmodels
import statsmodels.formula.api as smf
from statsmodels.regression.mixed_linear_model import MixedLM

import simlab
from simlab.model.design import build_design
from simlab.model.formula import parse_formula
from simlab.model.intercept import GroupSums, fit_theta

#: Targets on the GPA data (lme4 for reference: ~13 ms per fit, ~300 ms per profile confint).
TARGET_FIT_MS = 2.0
TARGET_SPEEDUP = 50.0
TARGET_PROFILE_MS = 20.0
WARMUP = 3


@dataclass(frozen=True)
class Case:
    """One data set to benchmark.

    Attributes
    ----------
    name : str
        Label printed in the report.
    data : DataFrame
    formula : str
        lme4-style formula for simlab.
    fixed : str
        The same model without the random term, for statsmodels.
    group : str
        Grouping column.
    note : str
        Where the data came from.
    """

    name: str
    data: pd.DataFrame
    formula: str
    fixed: str
    group: str
    note: str


@dataclass(frozen=True)
class Timing:
    """Per-call wall times of one benchmark, in milliseconds.

    Attributes
    ----------
    label : str
    times : list of float
    """

    label: str
    times: list[float]

    @property
    def median(self) -> float:
        """Median per-call time (ms)."""
        return statistics.median(self.times)

    @property
    def iqr(self) -> float:
        """Interquartile range of the per-call times (ms)."""
        q1, _, q3 = statistics.quantiles(self.times, n=4, method="inclusive")
        return q3 - q1


@dataclass(frozen=True)
class Bench:
    """A call to time.

    Attributes
    ----------
    label : str
        Name printed in the report.
    func : callable
        Called without arguments.
    calls : int
        Number of timed calls.
    warmup : int
        Untimed calls before timing starts.
    """

    label: str
    func: Callable[[], object]
    calls: int
    warmup: int = WARMUP


def time_interleaved(benches: dict[str, Bench]) -> dict[str, Timing]:
    """Time every benchmark call by call, interleaved in rounds.

    Each round calls every benchmark that is due once, so all of them see the
    same machine load and their ratios stay meaningful on a noisy machine.
    A benchmark with fewer calls is spread evenly over the rounds.

    Parameters
    ----------
    benches : dict of str to Bench

    Returns
    -------
    dict of str to Timing
        Same keys, per-call wall times in milliseconds.
    """
    for bench in benches.values():
        for _ in range(bench.warmup):
            bench.func()
    rounds = max(bench.calls for bench in benches.values())
    due = {key: set(np.linspace(0, rounds - 1, bench.calls).round().astype(int))
           for key, bench in benches.items()}
    times: dict[str, list[float]] = {key: [] for key in benches}
    gc.collect()
    for i in range(rounds):
        for key, bench in benches.items():
            if i in due[key]:
                start = time.perf_counter()
                bench.func()
                times[key].append((time.perf_counter() - start) * 1e3)
    return {key: Timing(bench.label, times[key]) for key, bench in benches.items()}


def quietly(func: Callable[[], object]) -> Callable[[], object]:
    """``func`` with every warning silenced (statsmodels' convergence chatter)."""
    def call():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return func()
    return call


def gpa_case() -> Case:
    """The GPA model, or a simulated 200 x 6 stand-in when ``gpa.csv`` is absent.

    Returns
    -------
    Case
    """
    try:
        data = simlab.datasets.gpa()
    except FileNotFoundError as err:
        data = simlab.simulate(200, 6, 0.25, 0.24, seed=2024)
        note = (f"GPA DATA ABSENT ({err.__class__.__name__}); SIMULATED STAND-IN "
                "simlab.simulate(200, 6, .25, .24, seed=2024), y ~ x + (1 | group)")
        return Case("GPA stand-in (sim 200x6)", data, "y ~ x + (1 | group)", "y ~ x", "group",
                    note)
    return Case("GPA", data, "gpa ~ occasion + (1 | student)", "gpa ~ occasion", "student",
                f"gpa.csv from ${simlab.datasets.DATA_DIR_VARIABLE}")


def simulated_case() -> Case:
    """``simlab.simulate(100, 3, .5, .25, seed=1)`` with ``y ~ x + (1 | group)``.

    Returns
    -------
    Case
    """
    data = simlab.simulate(100, 3, 0.5, 0.25, seed=1)
    return Case("sim 100x3", data, "y ~ x + (1 | group)", "y ~ x", "group",
                "simlab.simulate(100, 3, .5, .25, seed=1)")


def simlab_benches(case: Case, calls: int) -> dict[str, Bench]:
    """simlab end to end, its stages, and its intervals.

    Parameters
    ----------
    case : Case
    calls : int
        Timed calls of each.

    Returns
    -------
    dict of str to Bench
        Keys ``lmer``, ``design``, ``sums``, ``fit``, ``profile``, ``wald``.
    """
    result = simlab.lmer(case.formula, case.data)
    design = result.design
    arrays = (design.y, design.X, design.groups, design.n_groups)
    sums = GroupSums.from_arrays(*arrays)
    parsed = parse_formula(case.formula)

    def wald():
        result.__dict__.pop("fixef", None)    # cached_property: time the real work
        return result.confint(method="wald")

    return {
        "lmer": Bench("simlab lmer (end to end)",
                      lambda: simlab.lmer(case.formula, case.data), calls),
        "design": Bench("  formula + design (build_design)",
                        lambda: build_design(parsed, case.data), calls),
        "sums": Bench("  GroupSums.from_arrays", lambda: GroupSums.from_arrays(*arrays), calls),
        "fit": Bench("  fit_theta (core fit)", lambda: fit_theta(sums), calls),
        "profile": Bench("simlab confint(method='profile')", lambda: result.confint(method="profile"), calls),
        "wald": Bench("simlab confint(method='wald')", wald, calls),
    }


def statsmodels_benches(case: Case, calls: int) -> dict[str, Bench]:
    """statsmodels end to end and on a pre-built model, warnings silenced.

    Parameters
    ----------
    case : Case
    calls : int
        Timed calls of each.

    Returns
    -------
    dict of str to Bench
        Keys ``e2e`` and ``fit``.
    """
    design = simlab.lmer(case.formula, case.data).design
    model = MixedLM(design.y, design.X, design.groups)

    def end_to_end():
        return smf.mixedlm(case.fixed, case.data, groups=case.data[case.group]).fit(reml=True)

    return {
        "e2e": Bench("statsmodels mixedlm (end to end)", quietly(end_to_end), calls, 2),
        "fit": Bench("statsmodels MixedLM.fit (pre-built)",
                     quietly(lambda: model.fit(reml=True)), calls, 2),
    }


def agreement(case: Case) -> float:
    """Largest absolute difference of the fixed effects, simlab vs statsmodels.

    Parameters
    ----------
    case : Case

    Returns
    -------
    float
    """
    ours = simlab.lmer(case.formula, case.data).fixef["estimate"].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = smf.mixedlm(case.fixed, case.data, groups=case.data[case.group]).fit(reml=True)
    return float(np.max(np.abs(ours - np.asarray(theirs.fe_params))))


def print_timings(timings: list[Timing]) -> None:
    """Print one line per benchmark: median, IQR and number of calls.

    Parameters
    ----------
    timings : list of Timing
    """
    print(f"  {'benchmark':<38}{'median ms':>11}{'IQR ms':>10}{'calls':>7}")
    for t in timings:
        print(f"  {t.label:<38}{t.median:>11.3f}{t.iqr:>10.3f}{len(t.times):>7}")


def print_ratios(ours: dict[str, Timing], theirs: dict[str, Timing]) -> dict[str, float]:
    """Print simlab's non-fit overhead and statsmodels/simlab ratios of medians.

    Parameters
    ----------
    ours : dict of str to Timing
        simlab timings (keys of :func:`simlab_benches`).
    theirs : dict of str to Timing
        statsmodels timings (keys of :func:`statsmodels_benches`).

    Returns
    -------
    dict of str to float
        ``e2e``: statsmodels end to end / simlab ``lmer``; ``fit``: statsmodels
        pre-built fit / ``fit_theta``; ``fit_sums``: statsmodels pre-built fit /
        (``GroupSums`` + ``fit_theta``).
    """
    core = ours["sums"].median + ours["fit"].median
    ratios = {
        "e2e": theirs["e2e"].median / ours["lmer"].median,
        "fit": theirs["fit"].median / ours["fit"].median,
        "fit_sums": theirs["fit"].median / core,
    }
    overhead = ours["lmer"].median - core
    print(f"  simlab lmer minus (sums + core fit): {overhead:.3f} ms "
          f"({100 * overhead / ours['lmer'].median:.0f}% of lmer: formula, design, result)")
    labels = {"e2e": "end to end   statsmodels mixedlm / simlab lmer",
              "fit": "fit only     statsmodels MixedLM.fit / fit_theta",
              "fit_sums": "fit only     statsmodels MixedLM.fit / (GroupSums+fit)"}
    for key, label in labels.items():
        print(f"  ratio {label:<56}: {ratios[key]:7.1f}x")
    return ratios


def verdict(ok: bool) -> str:
    """``PASS`` or ``MISS``."""
    return "PASS" if ok else "MISS"


def print_targets(name: str, ours: dict[str, Timing], ratios: dict[str, float]) -> None:
    """Print the GPA targets with PASS or MISS.

    Parameters
    ----------
    name : str
        Name of the data set the targets are checked on ("GPA" or its stand-in).
    ours : dict of str to Timing
        simlab timings of that data set.
    ratios : dict of str to float
        Its statsmodels/simlab ratios.
    """
    fit, profile = ours["fit"].median, ours["profile"].median
    lmer = ours["lmer"].median
    print(f"Targets on {name} (lme4 for reference: ~13 ms per fit, ~300 ms per profile confint)")
    print(f"  core fit (fit_theta)       {fit:8.3f} ms  <= {TARGET_FIT_MS:g} ms   "
          f"{verdict(fit <= TARGET_FIT_MS)}")
    print(f"  end-to-end lmer            {lmer:8.3f} ms  <= {TARGET_FIT_MS:g} ms   "
          f"{verdict(lmer <= TARGET_FIT_MS)}  (informational)")
    for key, label in (("e2e", "speed-up end to end"), ("fit", "speed-up fit only (core)"),
                       ("fit_sums", "speed-up fit only (sums+fit)")):
        print(f"  {label:<27}{ratios[key]:8.1f}x   >= {TARGET_SPEEDUP:g}x   "
              f"{verdict(ratios[key] >= TARGET_SPEEDUP)}")
    print(f"  profile confint            {profile:8.3f} ms  <= {TARGET_PROFILE_MS:g} ms  "
          f"{verdict(profile <= TARGET_PROFILE_MS)}")


def run_case(case: Case, repeats: int, sm_repeats: int) -> tuple[dict, dict[str, float]]:
    """Benchmark one data set and print its block.

    Returns
    -------
    (dict of str to Timing, dict of str to float)
        simlab timings and the statsmodels/simlab ratios.
    """
    groups = case.data[case.group].nunique()
    print(f"== {case.name}: {case.formula}  ({len(case.data)} rows, {groups} groups)")
    print(f"   data: {case.note}")
    ours = simlab_benches(case, repeats)
    theirs = statsmodels_benches(case, sm_repeats)
    timed = time_interleaved({**ours, **{f"sm_{key}": b for key, b in theirs.items()}})
    ours = {key: timed[key] for key in ours}
    theirs = {key: timed[f"sm_{key}"] for key in theirs}
    print_timings([*ours.values(), *theirs.values()])
    ratios = print_ratios(ours, theirs)
    print(f"  max |fixef simlab - statsmodels| = {agreement(case):.2e}")
    print()
    return ours, ratios


def print_environment() -> None:
    """Print versions, CPU count, load and OPENBLAS_CORETYPE (slows numpy if set)."""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
          f"statsmodels {statsmodels.__version__}, simlab {simlab.__version__}")
    print(f"cpus {os.cpu_count()}, load average {load}, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")


def repeats_parser(description: str) -> argparse.ArgumentParser:
    """A parser with ``--repeats`` and ``--sm-repeats`` (shared with ``bench_slopes.py``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--repeats", type=int, default=50,
                        help="timed calls per simlab benchmark (default 50)")
    parser.add_argument("--sm-repeats", type=int, default=None,
                        help="timed calls per statsmodels benchmark (default: repeats / 5, "
                             "at least 5)")
    return parser


def checked_repeats(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse ``argv``; ``--sm-repeats`` defaults to ``repeats / 5`` (at least 5)."""
    args = parser.parse_args(argv)
    if args.repeats < 2:
        parser.error("--repeats must be at least 2")
    if args.sm_repeats is None:
        args.sm_repeats = max(5, args.repeats // 5)
    if args.sm_repeats < 2:
        parser.error("--sm-repeats must be at least 2")
    return args


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse ``--repeats`` and ``--sm-repeats``."""
    return checked_repeats(repeats_parser(__doc__.splitlines()[0]), argv)


def main(argv: list[str] | None = None) -> int:
    """Run every benchmark and print the report."""
    args = parse_args(argv)
    print_environment()
    print(f"repeats: simlab {args.repeats}, statsmodels {args.sm_repeats}; "
          f"{WARMUP} warm-up calls (statsmodels 2); per-call wall clock, "
          "interleaved in rounds")
    print()
    gpa = gpa_case()
    gpa_ours, gpa_ratios = run_case(gpa, args.repeats, args.sm_repeats)
    run_case(simulated_case(), args.repeats, args.sm_repeats)
    print_targets(gpa.name, gpa_ours, gpa_ratios)
    print(f"load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
