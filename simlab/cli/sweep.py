"""``simlab sweep``: simulate and fit a grid of designs from a TOML config (resumable)."""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from simlab._toml import read_toml

from ._common import EXIT_OK, PROG, LibraryDefault, Runner, command

__all__ = ["run_sweep", "load_sweep_config", "sweep_summary_table"]

SWEEP_CI = ("wald", "profile")


@command("sweep", "simulate and fit a grid of designs from a TOML config (resumable)")
def _sweep(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("config", help="TOML file with reps, seed, optional ci and level, "
                                       "and a [grid] table of simulate parameters -> lists")
    parser.add_argument("--out", required=True,
                        help="store directory; rerunning the same command resumes it")
    parser.add_argument("--jobs", type=int, default=LibraryDefault("simlab.study:sweep", "n_jobs"),
                        help="parallel workers, -1 for one per CPU (default: %(default)s)")
    parser.add_argument("--reps", type=int, default=None, help="override the config's reps")
    parser.add_argument("--backend", choices=("serial", "loky", "threading", "dask"),
                        default=None, help="execution backend (default: chosen from --jobs)")
    parser.add_argument("--scheduler", default=None,
                        help="dask scheduler address, with --backend dask")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return run_sweep


def load_sweep_config(path: str | os.PathLike) -> dict:
    """Read and check a sweep config; return the keyword arguments of ``sweep``.

    Raises ValueError/TypeError naming the file and the problem.
    """
    path = Path(path)
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise ValueError(f"config file {str(path)!r} {what}.")
    data = read_toml(path)
    where = f"in config file {str(path)!r}"
    unknown = sorted(set(data) - {"reps", "seed", "ci", "level", "grid"})
    if unknown:
        raise ValueError(f"unknown top-level key(s) {unknown} {where}; expected reps, seed, "
                         "ci, level and a [grid] table.")
    for key in ("reps", "seed"):
        if key not in data:
            raise ValueError(f"missing {key} {where}: add a top-level line like "
                             f"'{key} = {1000 if key == 'reps' else 1234}'.")
        if isinstance(data[key], bool) or not isinstance(data[key], int):
            raise TypeError(f"{key} must be an integer {where}, got {data[key]!r}.")
    if "grid" not in data:
        raise ValueError(f"missing [grid] table {where}: add e.g. '[grid]' followed by "
                         "'n_groups = [50, 100]', 'n_per_group = [3]', 'tau = [0.5]', "
                         "'sigma = [0.25]'.")
    if not isinstance(data["grid"], dict):
        raise TypeError(f"grid must be a [grid] table {where}, got {data['grid']!r}.")
    config = {"grid": data["grid"], "reps": data["reps"], "seed": data["seed"]}
    if "ci" in data:
        ci = data["ci"]
        if isinstance(ci, str):
            ci = [ci]
        if not isinstance(ci, list) or not ci or not all(isinstance(m, str) for m in ci):
            raise TypeError(f"ci must be a list of method names {where}, e.g. "
                            f"ci = [\"wald\", \"profile\"]; got {data['ci']!r}.")
        bad = [m for m in ci if m not in SWEEP_CI]
        if bad:
            raise ValueError(f"unknown ci method(s) {bad} {where}; choose from {list(SWEEP_CI)}.")
        config["ci"] = tuple(ci)
    if "level" in data:
        level = data["level"]
        if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
            raise ValueError(f"level must be a number strictly between 0 and 1 {where}, "
                             f"got {level!r}.")
        config["level"] = float(level)
    return config


def run_sweep(args: argparse.Namespace) -> int:
    """Run (or resume) the sweep of the config into the store and print a summary."""
    from simlab.study import make_grid, summarize, sweep

    config = load_sweep_config(args.config)
    if args.reps is not None:
        config["reps"] = args.reps
    if args.scheduler is not None and args.backend != "dask":
        raise ValueError("--scheduler needs --backend dask.")
    try:  # sweep checks the grid too; checking it here names the config file
        make_grid(config["grid"])
    except (TypeError, ValueError) as err:
        raise ValueError(f"bad [grid] in config file {args.config!r}: {err}") from None
    results = sweep(config.pop("grid"), config.pop("reps"), **config, n_jobs=args.jobs,
                    backend=args.backend, scheduler=args.scheduler, store=args.out,
                    progress=not args.no_progress)
    print(sweep_summary_table(summarize(results)))
    print(f"\nResults stored in {args.out} ({len(results)} rows); rerun the same command to "
          f"resume or raise --reps to extend.\nNext: {PROG} report {args.out}")
    return EXIT_OK


def sweep_summary_table(summary) -> str:
    """A compact text table: per cell x parameter, bias +- MCSE and coverage per method."""
    import pandas as pd

    methods = [c[len("coverage_"):] for c in summary.columns
               if c.startswith("coverage_") and not c.endswith("_mcse")]
    first = list(summary.columns).index("cell")
    table = summary.iloc[:, :first].copy()
    table["parameter"] = summary["parameter"]
    table["n_sim"] = summary["n_sim"]
    table["bias"] = [_pm(b, s) for b, s in zip(summary["bias"], summary["bias_mcse"])]
    for m in methods:
        table[f"coverage_{m}"] = [_pm(c, s) for c, s in
                                  zip(summary[f"coverage_{m}"], summary[f"coverage_{m}_mcse"])]
    with pd.option_context("display.max_rows", None, "display.width", 200):
        return "Summary (bias and coverage, each +- Monte Carlo SE)\n" + table.to_string(
            index=False, na_rep="NA", float_format=lambda v: f"{v:.6g}")


def _pm(value, mcse) -> str:
    if value is None or not math.isfinite(value):
        return "NA"
    return f"{value:.4f} +- {mcse:.4f}" if math.isfinite(mcse) else f"{value:.4f}"
