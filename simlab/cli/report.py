"""``simlab report``: plots and a summary.md for a sweep store."""
from __future__ import annotations

import argparse
from pathlib import Path

from ._common import EXIT_OK, Runner, command

__all__ = ["run_report"]

@command("report", "write plots and a summary.md for a sweep store")
def _report(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("store", help="store directory written by simlab sweep --out")
    parser.add_argument("--out", default=None,
                        help="folder for the report (default: chosen by write_report)")
    return run_report


def run_report(args: argparse.Namespace) -> int:
    """Write the report of the store and list its files."""
    from simlab.study.report import write_report

    folder = Path(write_report(args.store, args.out))
    print(f"Report written to {folder}")
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.is_file():
            print(f"  {path.name}")
    return EXIT_OK
