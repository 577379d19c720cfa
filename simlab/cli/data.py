"""``simlab data``: download a teaching data set into simlab's cache and print where it is."""
from __future__ import annotations

import argparse

from simlab.datasets.remote import REMOTE_FILES

from ._common import EXIT_OK, Runner, command

__all__ = ["run_data"]


@command("data", "download a data set simlab may not redistribute (gpa) and print its path")
def _data(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("name", choices=sorted(REMOTE_FILES), help="the data set")
    parser.add_argument("--force", action="store_true",
                        help="download it again into the cache even if a copy is here")
    return run_data


def run_data(args: argparse.Namespace) -> int:
    """Find or download the data set (:func:`simlab.datasets.fetch`) and print its path."""
    from simlab.datasets import fetch

    print(fetch(args.name, force=args.force))
    return EXIT_OK
