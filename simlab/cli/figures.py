"""``simlab figures``: the tutorial's teaching figures as PNG files."""
from __future__ import annotations

import argparse
from pathlib import Path

from ._common import EXIT_OK, LibraryDefault, Runner, command

__all__ = ["run_figures"]

# Choices mirrored from simlab.figures (importing it loads matplotlib; --help must not).
FIGURE_DATA = ("gpa", "sleepstudy", "sim")
FIGURE_MODELS = ("intercept", "slopes")


@command("figures", "write the tutorial's teaching figures as PNG files")
def _figures(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("--out", required=True, help="folder for the PNG files (created)")
    parser.add_argument("--data", choices=FIGURE_DATA, default=LibraryDefault("simlab.figures:write_figures", "data"),
                        help="data set: gpa (see `simlab data gpa`), the bundled sleepstudy, "
                             "or the simulated tutorial data (default: %(default)s)")
    parser.add_argument("--model", choices=FIGURE_MODELS,
                        default=LibraryDefault("simlab.figures:write_figures", "model"),
                        help="intercept: the random-intercept model of the first chapter; "
                             "slopes: a random slope (each group's line against separate "
                             "regressions, a caterpillar panel per term) (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=LibraryDefault("simlab.figures:write_figures", "seed"),
                        help="seed of the highlighted students and the simulations "
                             "(default: %(default)s)")
    return run_figures


def run_figures(args: argparse.Namespace) -> int:
    """Write the figures of one data set and list them."""
    from simlab.figures import write_figures

    paths = write_figures(args.out, data=args.data, model=args.model, seed=args.seed)
    print(f"Wrote {len(paths)} figures to {args.out}:")
    for path in paths:
        print(f"  {Path(path).name}")
    return EXIT_OK
