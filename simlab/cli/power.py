"""``simlab power``: a power curve (and sample size) from a TOML config."""
from __future__ import annotations

import argparse

from ._common import EXIT_OK, Runner, command

__all__ = ["run_power"]

@command("power", "power curve (and sample size) of a test of one fixed effect, from a TOML config")
def _power(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("config", help="TOML file: seed, term, test, nsim, target, a [design] "
                                       "or [model] table, [effects], optional [curve] and [solve]")
    parser.add_argument("--out", default=None,
                        help="folder for power_curve.csv, power_curve.png, report.md "
                             "(default: <config name>-power)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return run_power


def run_power(args: argparse.Namespace) -> int:
    """Run the config's power curve (and search) and print where the report is."""
    from simlab.planning import write_power_report

    report = write_power_report(args.config, args.out, progress=not args.no_progress)
    print(report.curve)
    if report.solved is not None:
        print()
        print(report.solved)
    print(f"\nReport written to {report.folder}")
    for path in report.files:
        print(f"  {path.name}")
    return EXIT_OK
