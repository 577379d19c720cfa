"""Memory and time of fitting very unbalanced data, against balanced data of the same size.

Target (issue 10): 1 M groups with Zipf-distributed sizes (about 15 M rows) fit
``y ~ x + (1 | group)`` under 4 GB peak RSS. The peer, measured in the same
run, is a balanced design with the same number of rows (groups of the mean
size): the exact engine pools groups by size, so the unbalanced fit should
cost about what the balanced one costs, whatever the number of distinct sizes.

Run by hand: ``python benchmarks/bench_unbalanced.py [--groups 1000000] [--zipf 1.9]``.
Each measurement runs in a fresh process, so its peak RSS is its own.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CHILD = r"""
import json, resource, sys, time
import numpy as np, pandas as pd
import simlab
groups, zipf, cap, balanced = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "balanced"
rng = np.random.default_rng(2026)
sizes = np.minimum(rng.zipf(zipf, groups), cap)
if balanced:
    per = int(round(sizes.mean()))
    sizes = np.full(int(sizes.sum()) // per, per)
codes = np.repeat(np.arange(sizes.size), sizes)
u = rng.normal(0.0, 0.5, sizes.size)
x = rng.normal(size=codes.size)
data = pd.DataFrame({"y": 1.0 + 0.3 * x + u[codes] + rng.normal(size=codes.size),
                     "x": x, "group": codes})
del codes, x, u
start = time.perf_counter()
fit = simlab.lmer("y ~ x + (1 | group)", data)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
print(json.dumps({"peak_mib": peak, "seconds": seconds, "rows": len(data),
                  "groups": int(sizes.size), "distinct_sizes": int(np.unique(sizes).size),
                  "theta": float(fit.theta[0]), "converged": bool(fit.converged)}))
"""


def measure(groups: int, zipf: float, cap: int, design: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(groups), str(zipf), str(cap), design],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=1_000_000)
    parser.add_argument("--zipf", type=float, default=1.9, help="Zipf exponent of group sizes")
    parser.add_argument("--cap", type=int, default=100_000, help="largest group size")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    runs = {design: measure(args.groups, args.zipf, args.cap, design)
            for design in ("unbalanced", "balanced")}
    for design, run in runs.items():
        print(f"  {design:10s} {run['rows']:>11,} rows in {run['groups']:>9,} groups "
              f"({run['distinct_sizes']:,} sizes): lmer {run['seconds']:6.1f} s, "
              f"peak RSS {run['peak_mib']:7.0f} MiB, theta {run['theta']:.5f}, "
              f"converged {run['converged']}")
    ratio = runs["unbalanced"]["peak_mib"] / runs["balanced"]["peak_mib"]
    peak = runs["unbalanced"]["peak_mib"]
    print(f"  unbalanced / balanced: peak RSS {ratio:.2f}x, time "
          f"{runs['unbalanced']['seconds'] / runs['balanced']['seconds']:.2f}x; "
          f"target < 4096 MiB: {'PASS' if peak < 4096 else 'MISS'}")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
