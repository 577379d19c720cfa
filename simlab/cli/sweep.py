"""``simlab sweep``: simulate and fit a grid of designs from a TOML config (resumable).

The config's schema and checks are :meth:`simlab.study.SweepConfig.from_toml`'s;
the summary printed is :func:`simlab.study.summarize`'s own text.
"""
from __future__ import annotations

import argparse

from ._common import EXIT_OK, PROG, LibraryDefault, Runner, command

__all__ = ["run_sweep"]

_RUN = "simlab.study.config:SweepConfig.run"
# simlab.study.backends.BACKENDS, mirrored: importing the study package takes about 1.5 s,
# and --help must not (tests/test_cli.py checks that the two agree).
BACKENDS = ("serial", "loky", "threading", "dask")


@command("sweep", "simulate and fit a grid of designs from a TOML config (resumable)")
def _sweep(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("config", help="TOML file with nsim, seed, optional ci and level, "
                                       "and a [grid] table of simulate parameters -> lists")
    parser.add_argument("--out", required=True,
                        help="store directory; rerunning the same command resumes it")
    parser.add_argument("--jobs", type=int, default=LibraryDefault(_RUN, "n_jobs"),
                        help="parallel workers, -1 for one per CPU (default: %(default)s)")
    parser.add_argument("--nsim", type=int, default=None, help="override the config's nsim")
    parser.add_argument("--backend", choices=BACKENDS, default=LibraryDefault(_RUN, "backend"),
                        help="execution backend (default: chosen from --jobs)")
    parser.add_argument("--scheduler", default=None,
                        help="dask scheduler address, with --backend dask")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return run_sweep


def run_sweep(args: argparse.Namespace) -> int:
    """Run (or resume) the sweep of the config into the store and print a summary."""
    from dataclasses import replace

    from simlab.study import SweepConfig, summarize

    if args.scheduler is not None and args.backend != "dask":
        raise ValueError("--scheduler needs --backend dask.")
    config = SweepConfig.from_toml(args.config)
    if args.nsim is not None:
        config = replace(config, nsim=args.nsim)
    results = config.run(n_jobs=args.jobs, backend=args.backend, scheduler=args.scheduler,
                         store=args.out, progress=not args.no_progress)
    print(summarize(results))
    print(f"\nResults stored in {args.out} ({len(results)} rows); rerun the same command to "
          f"resume or raise --nsim to extend.\nNext: {PROG} report {args.out}")
    return EXIT_OK
