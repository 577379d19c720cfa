"""``simlab fit``: fit a model to a CSV file and print lme4's tables, or one JSON record."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from simlab._checks import name_list
from simlab._vocabulary import DEFAULT_LEVEL, INTERVAL_METHODS

from ._common import EXIT_OK, LibraryDefault, Runner, command
from .demo import print_tables

__all__ = ["run_fit", "read_csv"]

_CONFINT = "simlab.model.result:LmerResult.confint"


@command("fit", "fit a random-intercept model to a CSV file")
def _fit(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("data", help="CSV file with a header row")
    parser.add_argument("formula", help="lme4 formula, e.g. 'y ~ x + (1 | g)'")
    parser.add_argument("--ci", choices=INTERVAL_METHODS, default=LibraryDefault(_CONFINT, "method"),
                        help="confidence-interval method (default: %(default)s)")
    parser.add_argument("--level", type=float, default=DEFAULT_LEVEL,
                        help="confidence level (default: %(default)s)")
    parser.add_argument("--nsim", type=int, default=LibraryDefault(_CONFINT, "nsim"),
                        help="bootstrap replicates for --ci boot (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the bootstrap")
    parser.add_argument("--ml", action="store_true", help="fit by maximum likelihood instead of REML")
    parser.add_argument("--engine", default=LibraryDefault("simlab.model.lmer:lmer", "engine"),
                        metavar="{exact,statsmodels}", help="fitting engine (default: %(default)s)")
    parser.add_argument("--head", type=int, default=10,
                        help="random-effect rows to print (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    return run_fit


def run_fit(args: argparse.Namespace) -> int:
    """Read the CSV, fit the formula and print the tables or the JSON record."""
    from simlab import lmer

    data = read_csv(args.data)
    result = lmer(args.formula, data, reml=not args.ml, engine=args.engine,
                  data_name=Path(args.data).name)
    interval = {"method": args.ci, "level": args.level, "nsim": args.nsim, "seed": args.seed}
    if args.json:
        print(json.dumps(result.to_dict(**interval), indent=2, allow_nan=False))
        return EXIT_OK
    ci = result.confint(**interval)
    print(result.summary())
    print_tables(result, ci, method=args.ci, level=args.level, head=args.head, coef=False)
    return EXIT_OK


def read_csv(path: str):
    """``pandas.read_csv``, naming the file when pandas cannot parse it.

    A header naming a column twice is refused: pandas would silently rename
    the second one (``x`` -> ``x.1``), and a formula could fit the wrong column.
    """
    import pandas as pd

    try:
        # The header as written: read as data, its names are not renamed.
        header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
        data = pd.read_csv(path)
    except UnicodeDecodeError as err:
        raise ValueError(f"could not read {path} as CSV: it is not UTF-8 text ({err}); save "
                         "it as UTF-8.") from None
    except ValueError as err:  # pandas' parser errors are ValueErrors
        raise ValueError(f"could not read {path} as CSV: {err}") from None
    _refuse_duplicated_names(path, list(header.iloc[0]) if len(header) else [])
    return data


def _refuse_duplicated_names(path: str, names: list[str]) -> None:
    seen, repeated = set(), []
    for name in names:
        # Blank names are not repeated names: pandas calls each "Unnamed: <i>".
        if name.strip() and name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    if repeated:
        raise ValueError(f"the header of {path} names the column(s) {name_list(repeated)} more "
                         "than once; give every column its own name.")
