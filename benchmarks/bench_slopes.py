"""Wall-time benchmark of simlab's random-slope engine (relcov) against statsmodels.

Run by hand from the repository root::

    SIMLAB_DATA_DIR=/path/to/data python benchmarks/bench_slopes.py [--repeats N] [--nsim 2000]

Three parts, each timed against statsmodels in the same run, call by call
with :func:`time.perf_counter` after warm-up calls, all benchmarks of a part
interleaved in rounds so that they share the machine's load:

* GPA, ``gpa ~ occasion + (1 + occasion | student)`` (or a simulated stand-in
  when ``gpa.csv`` is absent): the engine (``relcov.CrossProducts.from_arrays``
  + ``relcov.fit``), ``relcov.fit`` on prepared cross products and
  ``simlab.lmer`` end to end, against statsmodels' ``MixedLM`` with
  ``re_formula="~occasion"``, pre-built and end to end;
* sleepstudy, ``Reaction ~ Days + (Days | Subject)``: the same;
* a batch of ``--nsim`` replicates of 50 groups x 3 rows, ``y ~ x + (1 + x | g)``
  (one design, a response per replicate): ``CrossProducts.from_arrays`` +
  ``relcov.fit`` of all replicates at once, per replicate and in total,
  against one statsmodels fit of one replicate;
* the same with a new ``x`` per replicate, as a sweep draws it: each
  replicate's ``CrossProducts.from_arrays``, ``CrossProducts.stack`` and one
  ``relcov.fit``, against fitting the replicates one at a time;
* ``confint(method="profile")`` of both data sets (sleepstudy's against a third of
  one statsmodels GPA fit) and ``simlab.sweep`` of ``--nsim`` replicates of
  that slope design on 2 jobs, with Wald and profile intervals and Wald only.

It prints medians and interquartile ranges in milliseconds, statsmodels/simlab
ratios of medians, how far the two packages' estimates are apart, and the
targets with PASS or MISS. See ``benchmarks/README.md``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from statsmodels.regression.mixed_linear_model import MixedLM

import simlab

from bench_fit import (Bench, Timing, checked_repeats, print_environment, print_timings, quietly,
                       repeats_parser, time_interleaved, verdict)
from simlab.model.relcov import CrossProducts, ThetaLayout, fit

#: Engine (cross products + fit) on GPA at least this many times faster than statsmodels.
TARGET_SPEEDUP = 60.0
#: Engine (cross products + fit) on GPA at most this long.
TARGET_ENGINE_MS = 5.0
#: The whole batch of replicates (2000 by default) at most this long, on one core.
TARGET_BATCH_SECONDS = 5.0
#: sleepstudy's profile confint at most this share of one statsmodels GPA slope fit.
TARGET_PROFILE_SHARE = 1 / 3
#: A sweep of the replicates (2000 by default), Wald and profile intervals, 2 jobs.
TARGET_SWEEP_SECONDS = 10.0
SWEEP_GRID = {"n_groups": 50, "n_per_group": 3, "tau": 0.75, "sigma": 0.25, "tau_slope": 0.25,
              "rho": 0.0}
WARMUP = 3
LAYOUT = ThetaLayout.full(2)


class SlopeCase:
    """One data set and its random-slope model, as simlab and statsmodels see it.

    Attributes
    ----------
    name, formula, note : str
    data : DataFrame
    fixed, group, slope : str
        statsmodels' fixed-effects formula, the grouping column, the slope column.
    y, X, codes : ndarray
        The response, ``[1, slope]`` (fixed and random columns alike) and group codes.
    """

    def __init__(self, name: str, data: pd.DataFrame, response: str, group: str, slope: str,
                 note: str):
        self.name, self.data, self.group, self.slope, self.note = name, data, group, slope, note
        self.formula = f"{response} ~ {slope} + (1 + {slope} | {group})"
        self.fixed = f"{response} ~ {slope}"
        self.y = data[response].to_numpy(float)
        x = data[slope].to_numpy(float)
        self.X = np.column_stack([np.ones_like(x), x])
        self.codes = pd.factorize(data[group])[0]


def gpa_case() -> SlopeCase:
    """GPA with a random slope of occasion, or a simulated 200 x 6 stand-in."""
    try:
        data = simlab.datasets.gpa()
    except FileNotFoundError as err:
        data = simlab.simulate(200, 6, 0.25, 0.24, tau_slope=0.07, rho=-0.1, seed=2024)
        note = (f"GPA DATA ABSENT ({err.__class__.__name__}); SIMULATED STAND-IN "
                "simlab.simulate(200, 6, .25, .24, tau_slope=.07, rho=-.1, seed=2024)")
        return SlopeCase("GPA stand-in (sim 200x6)", data, "y", "group", "x", note)
    return SlopeCase("GPA", data, "gpa", "student", "occasion",
                     f"gpa.csv from ${simlab.datasets.DATA_DIR_VARIABLE}")


def sleepstudy_case() -> SlopeCase:
    """lme4's sleepstudy with a random slope of Days."""
    return SlopeCase("sleepstudy", simlab.datasets.sleepstudy(), "Reaction", "Subject", "Days",
                     "simlab.datasets.sleepstudy() (bundled)")


def case_benches(case: SlopeCase, calls: int, sm_calls: int) -> dict[str, Bench]:
    """simlab's engine, its fit alone and lmer; statsmodels pre-built and end to end."""
    cp = CrossProducts.from_arrays(case.y, case.X, case.X, case.codes)
    model = MixedLM(case.y, case.X, case.codes, exog_re=case.X)
    fitted = simlab.lmer(case.formula, case.data)

    def sm_end_to_end():
        return smf.mixedlm(case.fixed, case.data, groups=case.data[case.group],
                           re_formula=f"~{case.slope}").fit(reml=True)

    return {
        "engine": Bench("simlab engine (CrossProducts + fit)",
                        lambda: fit(CrossProducts.from_arrays(case.y, case.X, case.X, case.codes),
                                    LAYOUT), calls),
        "fit": Bench("  relcov.fit (prepared sums)", lambda: fit(cp, LAYOUT), calls),
        "lmer": Bench("simlab lmer (end to end)", lambda: simlab.lmer(case.formula, case.data),
                      calls),
        "profile": Bench("simlab confint(method='profile')", lambda: fitted.confint(method="profile"),
                         max(1, calls // 5)),
        "sm_fit": Bench("statsmodels MixedLM.fit (pre-built)", quietly(lambda: model.fit(reml=True)),
                        sm_calls, 2),
        "sm_e2e": Bench("statsmodels mixedlm (end to end)", quietly(sm_end_to_end), sm_calls, 2),
    }


def agreement(case: SlopeCase) -> tuple[float, float]:
    """``(max |fixef difference|, REML criterion statsmodels - simlab)``."""
    ours = fit(CrossProducts.from_arrays(case.y, case.X, case.X, case.codes), LAYOUT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = MixedLM(case.y, case.X, case.codes, exog_re=case.X).fit(reml=True)
    return (float(np.max(np.abs(ours.beta[0] - np.asarray(theirs.fe_params)))),
            float(-2 * theirs.llf - ours.value[0]))


def run_case(case: SlopeCase, repeats: int, sm_repeats: int) -> dict[str, Timing]:
    """Benchmark one data set and print its block; returns its timings."""
    print(f"== {case.name}: {case.formula}  ({len(case.data)} rows, "
          f"{case.codes.max() + 1} groups)")
    print(f"   data: {case.note}")
    timed = time_interleaved(case_benches(case, repeats, sm_repeats))
    print_timings(list(timed.values()))
    labels = {"engine": "engine       statsmodels MixedLM.fit / (CrossProducts + fit)",
              "fit": "fit only     statsmodels MixedLM.fit / relcov.fit",
              "lmer": "end to end   statsmodels mixedlm / simlab lmer"}
    for key, label in labels.items():
        theirs = timed["sm_e2e" if key == "lmer" else "sm_fit"].median
        print(f"  ratio {label:<62}: {theirs / timed[key].median:7.1f}x")
    fixef, crit = agreement(case)
    print(f"  max |fixef simlab - statsmodels| = {fixef:.2e}; "
          f"REML criterion statsmodels - simlab = {crit:.2e}")
    print()
    return timed


def batch_arrays(reps: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``reps`` responses of 50 groups x 3 rows sharing one x: ``(y (reps, 150), X, groups)``.

    Random intercepts (sd .5) and slopes (sd .25), residual sd .5: about one
    replicate in ten has a singular fit, as in a sweep cell of this size.
    """
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(50), 3)
    x = rng.standard_normal(150)
    u = rng.standard_normal((reps, 50, 2)) * [0.5, 0.25]
    y = 1 + 0.5 * x + u[:, groups, 0] + u[:, groups, 1] * x + 0.5 * rng.standard_normal((reps, 150))
    return y, np.column_stack([np.ones_like(x), x]), groups


def run_batch(reps: int, calls: int, sm_calls: int) -> tuple[Timing, Timing]:
    """The batch of ``reps`` replicates against one statsmodels fit of one of them."""
    y, X, groups = batch_arrays(reps)
    print(f"== batch: {reps} replicates of 50 groups x 3 rows, y ~ x + (1 + x | g), "
          "one design, fitted at once")
    model = MixedLM(y[0], X, groups, exog_re=X)
    timed = time_interleaved({
        "batch": Bench("simlab batch (CrossProducts + fit)",
                       lambda: fit(CrossProducts.from_arrays(y, X, X, groups), LAYOUT), calls, 1),
        "sm": Bench("statsmodels MixedLM.fit, 1 replicate", quietly(lambda: model.fit(reml=True)),
                    sm_calls, 1),
    })
    print_timings(list(timed.values()))
    per_rep = timed["batch"].median / reps
    fitted = fit(CrossProducts.from_arrays(y, X, X, groups), LAYOUT)
    print(f"  per replicate {per_rep:.3f} ms; ratio statsmodels one fit / simlab per replicate: "
          f"{timed['sm'].median / per_rep:7.0f}x")
    print(f"  converged {fitted.converged.mean():.1%}, singular {fitted.singular.mean():.1%}, "
          f"Newton iterations per replicate (all starts) {fitted.iterations.mean():.1f}")
    print()
    return timed["batch"], timed["sm"]


def own_designs(reps: int, seed: int = 2) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``reps`` replicates of 50 groups x 3 rows, each with its own x: ``(y, X, groups)``."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(50), 3)
    out = []
    for _ in range(reps):
        x = rng.standard_normal(150)
        u = rng.standard_normal((50, 2)) * [0.5, 0.25]
        y = 1 + 0.5 * x + u[groups, 0] + u[groups, 1] * x + 0.5 * rng.standard_normal(150)
        out.append((y, np.column_stack([np.ones_like(x), x]), groups))
    return out


def run_stacked(reps: int, calls: int) -> Timing:
    """``reps`` replicates with their own x: stacked and fitted at once, against one at a time."""
    data = own_designs(reps)
    alone = own_designs(max(1, reps // 10), seed=3)
    print(f"== stacked: {reps} replicates of 50 groups x 3 rows, each with its own x "
          "(as a sweep draws them)")

    def stacked():
        return fit(CrossProducts.stack([CrossProducts.from_arrays(y, X, X, g) for y, X, g in data]),
                   LAYOUT)

    def one_at_a_time():
        return [fit(CrossProducts.from_arrays(y, X, X, g), LAYOUT) for y, X, g in alone]

    timed = time_interleaved({
        "stacked": Bench("simlab stack (cross products + fit)", stacked, calls, 1),
        "alone": Bench(f"simlab one at a time, {len(alone)} reps", one_at_a_time, calls, 1),
    })
    print_timings(list(timed.values()))
    per_rep, per_alone = timed["stacked"].median / reps, timed["alone"].median / len(alone)
    print(f"  per replicate: stacked {per_rep:.3f} ms, one at a time {per_alone:.3f} ms "
          f"({per_alone / per_rep:.1f}x)")
    print()
    return timed["stacked"]


def sweep_seconds(reps: int, jobs: int = 2) -> tuple[float, float]:
    """Wall time (s) of ``simlab.sweep`` over :data:`SWEEP_GRID`: default intervals, then Wald only."""
    times = []
    for ci in (("wald", "profile"), ("wald",)):
        start = time.perf_counter()
        simlab.sweep(SWEEP_GRID, nsim=reps, seed=1, n_jobs=jobs, ci=ci, progress=False)
        times.append(time.perf_counter() - start)
    return times[0], times[1]


def print_targets(name: str, gpa: dict[str, Timing], batch: Timing, reps: int) -> None:
    """The targets on GPA and of the batch with PASS or MISS."""
    engine, sm = gpa["engine"].median, gpa["sm_fit"].median
    lmer, sm_e2e = gpa["lmer"].median, gpa["sm_e2e"].median
    print(f"Targets on {name} (lme4 for reference: ~44 ms per fit)")
    print(f"  engine (CrossProducts + fit) {engine:8.3f} ms  <= {TARGET_ENGINE_MS:g} ms     "
          f"{verdict(engine <= TARGET_ENGINE_MS)}")
    print(f"  speed-up engine              {sm / engine:8.1f}x   >= {TARGET_SPEEDUP:g}x       "
          f"{verdict(sm / engine >= TARGET_SPEEDUP)}")
    print(f"  speed-up end to end (lmer)   {sm_e2e / lmer:8.1f}x   (informational)")
    seconds = batch.median / 1e3
    print(f"  batch of {reps} replicates   {seconds:8.2f} s    <  {TARGET_BATCH_SECONDS:g} s, one core  "
          f"{verdict(seconds < TARGET_BATCH_SECONDS)}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse ``--repeats``, ``--sm-repeats`` and ``--nsim``."""
    parser = repeats_parser(__doc__.splitlines()[0])
    parser.add_argument("--nsim", type=int, default=2000,
                        help="replicates in the batch (default 2000)")
    args = checked_repeats(parser, argv)
    if args.nsim < 1:
        parser.error("--nsim must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run every benchmark and print the report."""
    args = parse_args(argv)
    print_environment()
    print(f"repeats: simlab {args.repeats}, statsmodels {args.sm_repeats}; {WARMUP} warm-up calls "
          "(statsmodels 2); per-call wall clock, interleaved in rounds")
    print()
    gpa = gpa_case()
    gpa_timed = run_case(gpa, args.repeats, args.sm_repeats)
    sleep_timed = run_case(sleepstudy_case(), args.repeats, args.sm_repeats)
    batch, _ = run_batch(args.nsim, 5, args.sm_repeats)
    stacked = run_stacked(args.nsim, 3)
    print_targets(gpa.name, gpa_timed, batch, args.nsim)
    print(f"  (stacked, a design per replicate: {stacked.median / 1e3:.2f} s, informational)")
    share = sleep_timed["profile"].median / gpa_timed["sm_fit"].median
    print(f"  sleepstudy profile confint   {sleep_timed['profile'].median:8.2f} ms  = {share:.3f} of one "
          f"statsmodels GPA slope fit <= {TARGET_PROFILE_SHARE:.3f}  {verdict(share <= TARGET_PROFILE_SHARE)}"
          "  (lme4: ~3.1 s)")
    full, wald = sweep_seconds(args.nsim)
    print(f"  sweep, {args.nsim} reps of 50x3, 2 jobs {full:6.2f} s    <  {TARGET_SWEEP_SECONDS:g} s "
          f"(Wald + profile)  {verdict(full < TARGET_SWEEP_SECONDS)}; Wald only {wald:.2f} s")
    print(f"load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
