"""Memory of ``confint(method="boot")`` on large data, against the fit alone (same run).

Target (issue 10): ``confint(method="boot", nsim=1000)`` on 1 M rows under 2 GB peak RSS.
The bootstrap refits replicates in chunks of about ``CHUNK_VALUES`` simulated
values, so its peak should stay near the fit's own, whatever ``nsim`` is.

Run by hand: ``python benchmarks/bench_boot.py [--rows 1000000] [--nsim 1000]``.
Each measurement runs in a fresh process, so peak RSS is its own.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

CHILD = r"""
import json, resource, sys, time
import simlab
rows, nsim, boot = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "boot"
data = simlab.simulate(n_groups=rows // 10, n_per_group=10, tau=0.5, sigma=1.0, seed=1)
fit = simlab.lmer("y ~ x + (1 | group)", data)
start = time.perf_counter()
if boot:
    fit.confint(method="boot", nsim=nsim, seed=1)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
print(json.dumps({"peak_mib": peak, "seconds": seconds}))
"""


def measure(rows: int, nsim: int, what: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, str(rows), str(nsim), what],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--nsim", type=int, default=1000)
    args = parser.parse_args()
    start = time.perf_counter()
    fit = measure(args.rows, args.nsim, "fit")
    boot = measure(args.rows, args.nsim, "boot")
    print(f"rows {args.rows:,}, nsim {args.nsim}")
    print(f"  fit alone      peak RSS {fit['peak_mib']:8.0f} MiB")
    print(f"  fit + boot     peak RSS {boot['peak_mib']:8.0f} MiB   ({boot['seconds']:.1f} s "
          f"for the bootstrap)")
    print(f"  ratio boot / fit: {boot['peak_mib'] / fit['peak_mib']:.2f}x; target < 2048 MiB: "
          f"{'PASS' if boot['peak_mib'] < 2048 else 'MISS'} "
          f"(wall {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
