"""Per-replicate cost of a sweep chunk against drawing its random numbers (issue 12, item 4).

Run by hand from the repository root::

    python benchmarks/bench_throughput.py [--reps 250] [--repeats 15]

On a chunk of ``--reps`` replicates of the 100 groups x 3 cell
(``tau=.5, sigma=.25``), every call timed on its own and all interleaved in
rounds (as in ``bench_fit.py``), it prints per-replicate medians of

a. drawing each replicate's normals (u, e, x) from a fresh Generator,
   ``default_rng(SeedSequence([seed, cell, rep]))``: the floor of any sweep;
b. :func:`simlab.study.batch.run_chunk` end to end, Wald intervals only;
c. the same with Wald and profile intervals;
d. the batch REML fit alone, ``fit_theta`` on the chunk's stacked sums;
e. the profile intervals alone, ``profile_bounds`` on the same sums;

and, measured in the same run, the targets b / a <= 3 and e / d <= 5.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from bench_fit import Bench, print_environment, time_interleaved, verdict
from simlab.model.intercept import GroupSums, fit_theta
from simlab.model.intercept_profile import profile_bounds
from simlab.study.batch import Chunk, rep_sums, run_chunk, simulate_rep
from simlab.study.grid import make_grid
from simlab.study.runner import DEFAULT_CHUNK_SIZE

TARGET_CHUNK_OVER_DRAWS = 3.0
TARGET_PROFILE_OVER_FIT = 5.0
CELL = {"n_groups": 100, "n_per_group": 3, "tau": 0.5, "sigma": 0.25}
SEED = 1


def draw_normals(cell_index: int, reps: range, n_groups: int, n_rows: int) -> None:
    """Each replicate's u, e and x from a fresh SeedSequence-seeded Generator."""
    for rep in reps:
        gen = np.random.default_rng(np.random.SeedSequence([SEED, cell_index, rep]))
        gen.standard_normal(n_groups)
        gen.standard_normal(n_rows)
        gen.standard_normal(n_rows)


def benches(reps: int, repeats: int) -> dict[str, Bench]:
    """The five timed calls on one chunk of ``reps`` replicates."""
    cell = make_grid(CELL).cells[0]
    n_groups, n_rows = CELL["n_groups"], CELL["n_groups"] * CELL["n_per_group"]
    sums = GroupSums.stack([rep_sums(simulate_rep(cell, SEED, rep)) for rep in range(reps)])

    def chunk(ci: tuple[str, ...]) -> Chunk:
        return Chunk(cell=cell, start=0, stop=reps, seed=SEED, ci=ci, level=0.95)

    wald, profile = chunk(("wald",)), chunk(("wald", "profile"))
    return {
        "draws": Bench("a. draw normals (fresh Generator each)",
                       lambda: draw_normals(cell.index, range(reps), n_groups, n_rows), repeats),
        "wald": Bench("b. run_chunk, wald", lambda: run_chunk(wald), repeats),
        "profile": Bench("c. run_chunk, wald + profile", lambda: run_chunk(profile), repeats),
        "fit": Bench("d. fit_theta (stacked sums)", lambda: fit_theta(sums), repeats),
        "bounds": Bench("e. profile_bounds (stacked sums)", lambda: profile_bounds(sums),
                        repeats),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=DEFAULT_CHUNK_SIZE,
                        help=f"replicates in the chunk (default {DEFAULT_CHUNK_SIZE}, "
                             "the sweep's default chunk size)")
    parser.add_argument("--repeats", type=int, default=15, help="timed calls each (default 15)")
    args = parser.parse_args(argv)
    print_environment()
    timings = time_interleaved(benches(args.reps, args.repeats))
    per_rep = {key: timing.median * 1e3 / args.reps for key, timing in timings.items()}
    print(f"per replicate of 100 x 3, chunk of {args.reps}, median of {args.repeats} calls:")
    for key, timing in timings.items():
        iqr = timing.iqr * 1e3 / args.reps
        print(f"  {timing.label:<42} {per_rep[key]:8.1f} us  (IQR {iqr:.1f})")
    chunk_ratio = per_rep["wald"] / per_rep["draws"]
    profile_ratio = per_rep["bounds"] / per_rep["fit"]
    print(f"b / a  run_chunk (wald) / draws:       {chunk_ratio:6.2f}  "
          f"(target <= {TARGET_CHUNK_OVER_DRAWS:g}) {verdict(chunk_ratio <= TARGET_CHUNK_OVER_DRAWS)}")
    print(f"e / d  profile_bounds / fit_theta:     {profile_ratio:6.2f}  "
          f"(target <= {TARGET_PROFILE_OVER_FIT:g}) {verdict(profile_ratio <= TARGET_PROFILE_OVER_FIT)}")
    print(f"c / b  run_chunk with profile / wald:  {per_rep['profile'] / per_rep['wald']:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
