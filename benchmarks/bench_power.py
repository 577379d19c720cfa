"""Wall-time benchmark of simlab's power analysis against simr-style refitting.

Run by hand from the repository root::

    SIMLAB_DATA_DIR=/path/to/data python benchmarks/bench_power.py [--repeats 5] [--solve-seeds 100]

Parts (all timed in one run, interleaved with their peers, medians reported):

* ``simlab.power`` with the ``kr`` test, 1000 simulations of GPA-sized data
  (the GPA fit ``gpa ~ occasion + sex + highgpa + (1 | student)``, 200
  students x 6 occasions, testing ``highgpa``; a simulated 200 x 6 stand-in
  without ``gpa.csv``), on 2 jobs and on 1;
* the peer: what simr does per simulation, a refit and a Kenward-Roger test
  of the same data, timed on ``--peer-sims`` simulations and scaled to 1000:
  ``simlab.lmer`` + ``fixed_tests("kenward-roger")`` per simulation (simlab's
  own single-fit path), statsmodels ``MixedLM`` refits (z test only: it has
  no Kenward-Roger), and, when ``Rscript`` with lme4 and pbkrtest is found,
  lme4's ``refit`` + pbkrtest's ``KRmodcomp`` as simr runs them;
* ``simlab.power_curve``, 10 breaks of 1000 simulations each (the cluster
  trial of ``examples/power_cluster.toml``, 5..50 groups);
* ``simlab.solve_sample_size`` on the cluster trial for ``--solve-seeds``
  seeds: how many return the closed-form answer (24) or its neighbour in the
  zone (23), and the time of each search.

Targets (issue 12): 1000 ``kr`` simulations of GPA-sized data < 1 s on 2
cores; a 10-point curve at 1000 each < 10 s; ``solve_sample_size`` right in
>= 95 of 100 seeds, each < 2 s.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from statsmodels.regression.mixed_linear_model import MixedLM

import simlab
from simlab.planning import power, power_curve, solve_sample_size
from simlab.planning.design import design_from_fit
from simlab.planning.testing import draw_responses

from bench_fit import print_environment, verdict

CLUSTER = dict(term="z", effects={"z": 1.0}, n_per_group=6, tau=0.5 ** 0.5, sigma=1.0)


def gpa_fit():
    """The GPA fit (or a 200 x 6 stand-in) and the effect tested."""
    try:
        data = simlab.datasets.gpa()
        formula, term = "gpa ~ occasion + sex + highgpa + (1 | student)", "highgpa"
    except FileNotFoundError:
        data = simlab.simulate(200, 6, 0.3, 0.25, cluster_effect=0.1, seed=1)
        data = data.rename(columns={"group": "student", "y": "gpa", "x": "occasion",
                                    "z": "highgpa"})
        formula, term = "gpa ~ occasion + highgpa + (1 | student)", "highgpa"
    return simlab.lmer(formula, data), term


def median_seconds(func, repeats: int) -> float:
    func()                                   # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peer_simlab_refits(fit, term: str, ys: np.ndarray) -> float:
    """Seconds per simulation of simr's loop done with simlab.lmer + Kenward-Roger."""
    frame = fit.model_matrix().iloc[:, 1:].assign(student=fit.group_factor().to_numpy())
    names = {c: f"c{i}" for i, c in enumerate(frame.columns[:-1])}
    frame = frame.rename(columns=names)
    formula = "y ~ " + " + ".join(names.values()) + " + (1 | student)"
    start = time.perf_counter()
    for y in ys:
        simlab.lmer(formula, frame.assign(y=y)).fixed_tests("kenward-roger")
    return (time.perf_counter() - start) / len(ys)


def peer_statsmodels(fit, ys: np.ndarray) -> float:
    """Seconds per simulation of a statsmodels MixedLM refit (REML, z test)."""
    X = fit.model_matrix().to_numpy()
    groups = fit.group_factor().cat.codes.to_numpy()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for y in ys:
            MixedLM(y, X, groups).fit(reml=True)
    return (time.perf_counter() - start) / len(ys)


R_SCRIPT = """
suppressPackageStartupMessages({library(lme4); library(pbkrtest)})
d <- read.csv("data.csv"); ys <- as.matrix(read.csv("ys.csv"))
d$g <- factor(d$g); d$y <- ys[, 1]
cols <- setdiff(names(d), c("g", "y")); tested <- cols[length(cols)]
f1 <- lmer(as.formula(paste("y ~", paste(cols, collapse = " + "), "+ (1 | g)")), data = d)
f0 <- update(f1, as.formula(paste(". ~ . -", tested)))
st <- system.time(for (i in seq_len(ncol(ys))) {
  a <- refit(f1, newresp = ys[, i]); b <- refit(f0, newresp = ys[, i]); k <- KRmodcomp(a, b) })
cat(st[["elapsed"]] / ncol(ys), "\\n")
"""


def peer_r(fit, term: str, ys: np.ndarray) -> float | None:
    """Seconds per simulation of lme4 refit + pbkrtest KRmodcomp (simr's kr), if R is here."""
    if shutil.which("Rscript") is None:
        return None
    X = fit.model_matrix()
    cols = [c for c in X.columns[1:] if c != term] + [term]
    data = X[cols].set_axis([f"c{i}" for i in range(len(cols))], axis=1)
    data["g"] = fit.group_factor().cat.codes.to_numpy()
    with tempfile.TemporaryDirectory() as folder:
        data.to_csv(Path(folder) / "data.csv", index=False)
        pd.DataFrame(ys.T).to_csv(Path(folder) / "ys.csv", index=False)
        (Path(folder) / "bench.R").write_text(R_SCRIPT)
        run = subprocess.run(["Rscript", "bench.R"], cwd=folder, capture_output=True, text=True)
    if run.returncode != 0:
        print(f"  (R peer failed: {run.stderr.strip().splitlines()[-1:]})")
        return None
    return float(run.stdout.split()[-1])


def part_gpa(repeats: int, peer_sims: int) -> None:
    fit, term = gpa_fit()
    print(f"\n== 1000 kr simulations, {fit.ngroups} groups, {fit.nobs} rows, testing {term} ==")
    ours2 = median_seconds(lambda: power(fit, term=term, nsim=1000, seed=1, n_jobs=2), repeats)
    ours1 = median_seconds(lambda: power(fit, term=term, nsim=1000, seed=1), repeats)
    design = design_from_fit(fit)
    ys = draw_responses(design, 1, design.nobs, range(peer_sims))
    # Reorder the draws back to the fit's row order for the peers (the design is sorted).
    order = np.argsort(np.argsort(fit.group_factor().cat.codes.to_numpy(), kind="stable"))
    ys = ys[:, order]
    peers = {"simlab.lmer + fixed_tests('kenward-roger') per simulation":
             peer_simlab_refits(fit, term, ys),
             "statsmodels MixedLM refit per simulation (no KR)": peer_statsmodels(fit, ys),
             "R: lme4 refit x 2 + pbkrtest KRmodcomp (simr's kr)": peer_r(fit, term, ys)}
    print(f"  simlab.power, 2 jobs: {ours2:.3f} s   1 job: {ours1:.3f} s  (median of {repeats})")
    for label, seconds in peers.items():
        if seconds is None:
            print(f"  {label}: not available")
            continue
        total = 1000 * seconds
        print(f"  {label}: {1e3 * seconds:.1f} ms/sim -> {total:.1f} s per 1000; "
              f"ratio to simlab (2 jobs) {total / ours2:.0f}x")
    print(f"  target: < 1 s on 2 cores: {verdict(ours2 < 1.0)}")


def part_curve(repeats: int) -> None:
    breaks = list(range(5, 51, 5))
    print(f"\n== power_curve, breaks {breaks}, 1000 simulations each (kr) ==")
    seconds = median_seconds(lambda: power_curve(n_groups=50, breaks=breaks, nsim=1000, seed=2,
                                                 n_jobs=2, **CLUSTER), repeats)
    print(f"  {seconds:.2f} s (median of {repeats}); target < 10 s: {verdict(seconds < 10)}")


def part_solve(seeds: int) -> None:
    print(f"\n== solve_sample_size, cluster trial (exact answer 24; 23 inside the zone), "
          f"{seeds} seeds ==")
    answers, times, nsims = [], [], []
    for seed in range(seeds):
        start = time.perf_counter()
        result = solve_sample_size(n_groups=10, seed=seed, **CLUSTER)
        times.append(time.perf_counter() - start)
        answers.append(result.size)
        nsims.append(result.nsim)
    right = sum(a in (23, 24) for a in answers)
    counts = pd.Series(answers).value_counts().sort_index().to_dict()
    print(f"  answers {counts}; right {right}/{seeds}; time median {statistics.median(times):.2f} s, "
          f"max {max(times):.2f} s; simulations median {statistics.median(nsims):.0f}")
    print(f"  target >= 95% right, each < 2 s: "
          f"{verdict(right >= 0.95 * seeds and max(times) < 2)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--peer-sims", type=int, default=20)
    parser.add_argument("--solve-seeds", type=int, default=20)
    args = parser.parse_args(argv)
    print_environment()
    part_gpa(args.repeats, args.peer_sims)
    part_curve(args.repeats)
    part_solve(args.solve_seeds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
