"""Benchmark of simulation sweeps: batch fitting, simulation cost, wall time and memory.

Run by hand from the repository root::

    python benchmarks/bench_sweep.py [--nsim 2000] [--jobs 2]

It prints, from one run, the targets of the sweep issue with PASS/MISS:

* batch REML fitting at least 1000x statsmodels MixedLM's per-fit throughput
  on 100 groups x 3 (statsmodels timed in the same run);
* fitting (per-group sums + exact fit) costs at most 2x simulating the same
  data with ``simlab.simulate``, as the sweep does;
* a 4-cell x 2000-rep sweep with Wald and profile intervals under 60 s;
* peak memory flat as nsim grows, results streaming to a store (each size in
  a fresh process, peak RSS read from the operating system).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time

import numpy as np
from statsmodels.regression.mixed_linear_model import MixedLM

import simlab
from bench_fit import Bench, quietly, time_interleaved, verdict
from simlab.model.intercept_profile import profile_bounds
from simlab.model.intercept import GroupSums, fit_theta
from simlab.study.batch import rep_sums

TARGET_BATCH_SPEEDUP = 1000.0
TARGET_FIT_OVER_SIMULATE = 2.0
TARGET_SWEEP_SECONDS = 60.0
GRID = {"n_groups": [50, 100], "n_per_group": [3, 10], "tau": 0.5, "sigma": 0.25}


def replicate_arrays(nsim: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``nsim`` responses and designs of the 100 x 3 model, and the group codes."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(100), 3)
    x = rng.standard_normal((nsim, 300))
    y = (2 + 0.5 * x + 0.5 * rng.standard_normal((nsim, 100))[:, groups]
         + 0.25 * rng.standard_normal((nsim, 300)))
    return y, np.stack([np.ones_like(x), x], axis=-1), groups


def throughput(nsim: int) -> dict[str, float]:
    """Per-fit milliseconds: simlab batch (REML; + profile) against statsmodels one by one."""
    y, X, groups = replicate_arrays(nsim)
    sums = GroupSums.from_arrays(y, X, groups, 100)
    data = simlab.simulate(100, 3, 0.5, 0.25, seed=1)
    exog = np.column_stack([np.ones(len(data)), data["x"]])
    benches = {
        "batch": Bench("simlab batch REML fit", lambda: fit_theta(sums), 5, 1),
        "profile": Bench("simlab batch profile intervals", lambda: profile_bounds(sums), 3, 1),
        "sm": Bench("statsmodels MixedLM.fit", quietly(
            lambda: MixedLM(data["y"], exog, groups=data["group"]).fit(reml=True)), 5, 1),
    }
    timings = time_interleaved(benches)
    return {"batch": timings["batch"].median / nsim, "profile": timings["profile"].median / nsim,
            "sm": timings["sm"].median}


def fit_versus_simulate(nsim: int) -> dict[str, float]:
    """Per-replicate ms of the sweep's simulation and of its sums + fit."""
    start = time.perf_counter()
    datasets = [simlab.simulate(100, 3, 0.5, 0.25, seed=np.random.SeedSequence([1, 0, r]))
                for r in range(nsim)]
    simulate_ms = (time.perf_counter() - start) * 1e3 / nsim
    start = time.perf_counter()
    fit_theta(GroupSums.stack([rep_sums(d) for d in datasets]))
    fit_ms = (time.perf_counter() - start) * 1e3 / nsim
    return {"simulate": simulate_ms, "fit": fit_ms}


def sweep_seconds(nsim: int, jobs: int) -> float:
    """Wall time of the 4-cell sweep with Wald and profile intervals."""
    start = time.perf_counter()
    simlab.sweep(GRID, nsim=nsim, seed=1, n_jobs=jobs, ci=("wald", "profile"), progress=False)
    return time.perf_counter() - start


def peak_rss_mb(nsim: int) -> float:
    """Peak resident memory (MiB) of a fresh process running a one-cell sweep into a store."""
    code = (
        "import json, resource, tempfile, simlab\n"
        "with tempfile.TemporaryDirectory() as store:\n"
        f"    simlab.sweep({{'n_groups': 100, 'n_per_group': 3, 'tau': .5, 'sigma': .25}}, nsim={nsim},\n"
        "                 seed=1, store=store + '/s', progress=False)\n"
        "print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nsim", type=int, default=2000, help="simulations (replicates) per cell (default 2000)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    args = parser.parse_args(argv)
    speed = throughput(args.nsim)
    ratio = speed["sm"] / speed["batch"]
    print(f"per fit on 100x3: simlab batch {speed['batch'] * 1e3:.1f} us, "
          f"+ profile intervals {speed['profile'] * 1e3:.1f} us, statsmodels {speed['sm']:.1f} ms")
    print(f"  batch throughput / statsmodels: {ratio:,.0f}x  (target >= 1000x) {verdict(ratio >= TARGET_BATCH_SPEEDUP)}")
    cost = fit_versus_simulate(min(args.nsim, 1000))
    share = cost["fit"] / cost["simulate"]
    print(f"per replicate: simulate {cost['simulate'] * 1e3:.0f} us, sums + fit {cost['fit'] * 1e3:.0f} us"
          f"  -> fit / simulate {share:.2f}  (target <= 2) {verdict(share <= TARGET_FIT_OVER_SIMULATE)}")
    seconds = sweep_seconds(args.nsim, args.jobs)
    print(f"4 cells x {args.nsim} simulations, wald + profile, {args.jobs} jobs: {seconds:.1f} s"
          f"  (target < 60 s) {verdict(seconds < TARGET_SWEEP_SECONDS)}")
    sizes = [500, 2000, 8000]
    peaks = [peak_rss_mb(nsim) for nsim in sizes]
    growth = peaks[-1] / peaks[0]
    print("peak RSS with a store: " + ", ".join(f"nsim {r}: {m:.0f} MiB" for r, m in zip(sizes, peaks))
          + f"  -> x{growth:.2f} for 16x the simulations {verdict(growth < 1.25)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
