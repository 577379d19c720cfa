"""The ``simlab`` command line: ``demo``, ``fit``, ``sweep``, ``power``, ``report``, ``figures``,
``check``, ``grade``, ``validate``, ``variants``, ``assign`` and ``autograder-zip``.

This module only parses arguments and prints: every number comes from the
public API (:func:`simlab.lmer`, :class:`simlab.LmerResult`,
:func:`simlab.simulate.simulate`). Errors the API raises for bad input
(a bad formula, a missing column or file, an unreadable CSV, ...) are
printed as one line, ``simlab: error: <message>`` with a hint on what to
do, and exit status 2; any other error (out of memory, a full disk, a lost
worker, a bug) is printed the same way with exit status 1. Never a
traceback, unless ``SIMLAB_TRACEBACK=1`` asks for one. Ctrl-C exits with
130, printing ``simlab: interrupted: <note>`` when the interrupted work says
how to resume (a sweep: how many chunks are saved).

Adding a subcommand takes one builder registered with :func:`command`: it
adds its arguments to the parser it is given and returns the function that
runs it, which takes the parsed :class:`argparse.Namespace` and returns the
exit status::

    @command("sweep", "simulate and fit over a grid of designs")
    def _sweep(parser):
        parser.add_argument("grid")
        return run_sweep

The model and pandas are imported inside the runners, not at module level,
so parsing itself needs nothing heavy (importing the ``simlab`` package
still loads the model: about 1 s of the demo's ~1.2 s).
"""
from __future__ import annotations

import argparse
import errno
import json
import math
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from simlab._checks import name_list
from simlab._toml import read_toml

__all__ = ["main", "build_parser", "command", "COMMANDS"]

PROG = "simlab"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
#: Errors the API raises for bad user input, a bad path included (exit status 2). Any other
#: error, e.g. a full disk, a lost worker or a bug, exits with 1. Every error is printed as
#: one line, never as a traceback.
USER_ERRORS = (ValueError, TypeError, KeyError, ImportError, FileNotFoundError,
               FileExistsError, IsADirectoryError, NotADirectoryError, PermissionError)
#: Set to show the traceback of an error (for reporting a bug in simlab).
TRACEBACK_VARIABLE = "SIMLAB_TRACEBACK"
# Choices mirrored from simlab.model (not imported here, to keep --help fast).
CI_METHODS = ("profile", "wald", "boot")
ENGINES = ("exact", "statsmodels")

Runner = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Command:
    """A registered subcommand: its name, one-line help and parser builder."""

    name: str
    help: str
    build: Callable[[argparse.ArgumentParser], Runner]


#: Subcommands in the order ``simlab --help`` lists them.
COMMANDS: dict[str, Command] = {}


def command(name: str, help: str) -> Callable:
    """Register ``build(parser) -> runner`` as the subcommand ``name``."""
    def register(build: Callable[[argparse.ArgumentParser], Runner]):
        COMMANDS[name] = Command(name, help, build)
        return build
    return register


# ----- parser and entry point ------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subparser per registered command."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Learn and study linear mixed models with lme4-parity fits.",
        epilog=f'Start with "{PROG} demo", then "{PROG} fit DATA.csv \'y ~ x + (1 | g)\'".')
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for cmd in COMMANDS.values():
        sub_parser = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        sub_parser.set_defaults(run=cmd.build(sub_parser))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help, --version or a usage error
        return done.code if isinstance(done.code, int) else EXIT_USAGE
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return args.run(args)
    except KeyboardInterrupt as err:
        if _notes(err):  # e.g. how much of a sweep is saved and how to resume it
            print(f"{PROG}: interrupted: {_one_line('; '.join(_notes(err)))}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `simlab fit ... | head`: stop quietly
        _silence_stdout()
        return EXIT_OK
    except Exception as err:  # noqa: BLE001 - the command line prints one line, no traceback
        if os.environ.get(TRACEBACK_VARIABLE):
            raise
        print(f"{PROG}: error: {_error_line(err)}", file=sys.stderr)
        return EXIT_USAGE if isinstance(err, USER_ERRORS) else EXIT_FAILED


def _error_line(err: BaseException) -> str:
    """The one line printed after ``simlab: error:`` for ``err``.

    The error's message, then its notes (a sweep's note says how many
    chunks are saved and how to resume), else a hint on what to do.
    """
    message = _message(err)
    extra = _notes(err) or [hint for hint in (_hint(err),) if hint]
    if extra:
        message = "; ".join([message.rstrip(". "), *extra])
    return _one_line(message)


def _notes(err: BaseException) -> list[str]:
    return [str(note) for note in getattr(err, "__notes__", ())]


def _one_line(text: str) -> str:
    # Library messages may span lines (pyarrow's do); the error must stay one line.
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _message(err: BaseException) -> str:
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        return f"{err.strerror}: {err.filename}"
    if isinstance(err, ImportError):
        return f"{err}: this part of simlab is not available in this installation"
    if isinstance(err, (ValueError, TypeError, OSError)) and str(err):
        return str(err)
    # KeyError's text is only the key, MemoryError's often nothing: name the type.
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def _hint(err: BaseException) -> str | None:
    """What to do about ``err``, where its message may not say."""
    formula = sys.modules.get("simlab.model.formula")  # a FormulaError means it is loaded
    if formula is not None and isinstance(err, formula.FormulaError):
        return "fix the formula, e.g. 'y ~ x + (1 | group)'"
    if isinstance(err, UnicodeDecodeError):
        return "save the file as UTF-8 text"
    if isinstance(err, OSError):
        return _os_hint(err)
    if isinstance(err, MemoryError):
        return "use a smaller design or data set, or free some memory"
    if not isinstance(err, USER_ERRORS):
        return (f"this may be a bug in simlab: please report it with the command "
                f"(set {TRACEBACK_VARIABLE}=1 to see the traceback)")
    return None


def _os_hint(err: OSError) -> str | None:
    if isinstance(err, FileNotFoundError):
        return "check the path"
    if isinstance(err, IsADirectoryError):
        return "give a file, not a folder"
    if isinstance(err, PermissionError):
        return "check the permissions, or use another path"
    if err.errno == errno.ENOSPC:
        return "free some disk space, then rerun the same command"
    return None


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("simlab")
    except PackageNotFoundError:
        return "unknown"


# ----- shared options and printing -------------------------------------------
def _add_interval_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ci", choices=CI_METHODS, default="profile",
                        help="confidence-interval method (default: %(default)s)")
    parser.add_argument("--level", type=float, default=0.95,
                        help="confidence level (default: %(default)s)")
    parser.add_argument("--nsim", type=int, default=1000,
                        help="bootstrap replicates for --ci boot (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the bootstrap")


def _section(title: str, body: str) -> None:
    print(f"\n{title}\n{'-' * len(title)}\n{body}")


def _table(frame, index: bool = True) -> str:
    return frame.to_string(index=index, na_rep="NA", float_format=lambda v: f"{v:.6g}")


def _print_tables(result, ci, *, method: str, level: float, head: int, coef: bool) -> None:
    """The tables after the summary: fixef, varcomp + ICC, confint, ranef (and coef) heads."""
    _section("Fixed effects", _table(result.fixef))
    _section("Variance components",
             f"{_table(result.varcomp, index=False)}\nICC = {result.icc:.6g}")
    _section(f"Confidence intervals ({method}, level {level:g})", _table(ci))
    more = f"first {head} rows; {result.ngroups} groups"
    _section(f"Random effects, ranef() ({more})", _table(result.ranef(level).head(head), index=False))
    if coef:
        _section(f"Group coefficients, coef() ({more})",
                 _table(result.coef(level).head(head), index=False))


# ----- simlab demo -----------------------------------------------------------
DEMO_FORMULA = "y ~ x + (1 | group)"


@command("demo", "simulate a random-intercept study, fit it and print every table")
def _demo(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("--seed", type=int, default=1234, help="simulation seed (default: %(default)s)")
    parser.add_argument("--n-groups", type=int, default=100, help="groups (default: %(default)s)")
    parser.add_argument("--n-per-group", type=int, default=3,
                        help="observations per group (default: %(default)s)")
    parser.add_argument("--tau", type=float, default=0.5,
                        help="sd of the group effect (default: %(default)s)")
    parser.add_argument("--sigma", type=float, default=0.25, help="residual sd (default: %(default)s)")
    parser.add_argument("--intercept", type=float, default=2.0, help="true intercept (default: %(default)s)")
    parser.add_argument("--slope", type=float, default=0.5, help="true slope of x (default: %(default)s)")
    parser.add_argument("--rng", choices=("numpy", "R"), default="numpy",
                        help="random stream; R reproduces R's set.seed(SEED) (default: %(default)s)")
    return run_demo


def run_demo(args: argparse.Namespace) -> int:
    """Simulate the design, fit ``y ~ x + (1 | group)`` and show recovery of the truth."""
    import pandas as pd

    from simlab import lmer
    from simlab.simulate import simulate

    data = simulate(args.n_groups, args.n_per_group, args.tau, args.sigma, intercept=args.intercept,
                    slope=args.slope, seed=args.seed, rng=args.rng)
    print(f"Simulated {args.n_groups} groups x {args.n_per_group} observations (seed {args.seed}, "
          f"rng {args.rng}):\n  y = {args.intercept:g} + {args.slope:g} * x + u[group] + e,  "
          f"u ~ N(0, {args.tau:g}^2),  e ~ N(0, {args.sigma:g}^2)\n")
    result = lmer(DEMO_FORMULA, data, data_name=f"simulate(seed={args.seed})")
    ci = result.confint("profile")
    print(result.summary())
    _print_tables(result, ci, method="profile", level=0.95, head=5, coef=True)
    rows = data.head(6)
    _section("Predictions for the first rows", _table(rows.assign(
        with_ranef=result.predict(rows), fixed_only=result.predict(rows, random_effects=False))))
    estimates = [result.tau, result.sigma, *result.fixef["estimate"]]
    truth = pd.DataFrame({"truth": [args.tau, args.sigma, args.intercept, args.slope],
                          "estimate": estimates, "lower": ci["lower"], "upper": ci["upper"]},
                         index=ci.index)
    _section("Simulated truth vs estimates (profile 95% interval)", _table(truth))
    print(f"\nNext: rerun with another design, e.g. `{PROG} demo --seed 7 --n-groups 20`, or fit "
          f"your own data:\n  {PROG} fit DATA.csv \"y ~ x + (1 | g)\"   (add --json for "
          "machine-readable output)")
    return EXIT_OK


# ----- simlab fit --------------------------------------------------------------
@command("fit", "fit a random-intercept model to a CSV file")
def _fit(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("data", help="CSV file with a header row")
    parser.add_argument("formula", help="lme4 formula, e.g. 'y ~ x + (1 | g)'")
    _add_interval_options(parser)
    parser.add_argument("--ml", action="store_true", help="fit by maximum likelihood instead of REML")
    parser.add_argument("--engine", choices=ENGINES, default="exact", help="fitting engine (default: %(default)s)")
    parser.add_argument("--head", type=int, default=10,
                        help="random-effect rows to print (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    return run_fit


def run_fit(args: argparse.Namespace) -> int:
    """Read the CSV, fit the formula and print the tables or the JSON record."""
    from simlab import lmer

    data = _read_csv(args.data)
    result = lmer(args.formula, data, reml=not args.ml, engine=args.engine,
                  data_name=Path(args.data).name)
    ci = result.confint(args.ci, level=args.level, nsim=args.nsim, seed=args.seed)
    if args.json:
        print(json.dumps(fit_record(result, ci, args), indent=2, allow_nan=False))
        return EXIT_OK
    print(result.summary())
    _print_tables(result, ci, method=args.ci, level=args.level, head=args.head, coef=False)
    return EXIT_OK


def _read_csv(path: str):
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
        raise ValueError(f"the header of {path} names the column(s) {name_list(repeated)} more than once; "
                         "give every column its own name.")


def fit_record(result, ci, args: argparse.Namespace) -> dict:
    """The fit as plain JSON-ready data; NaN and infinities become ``None``."""
    scalars = {
        "formula": result.formula, "data": args.data, "engine": args.engine, "nobs": result.nobs,
        "ngroups": result.ngroups, "n_dropped": result.n_dropped, "reml": result.reml,
        "reml_criterion": result.reml_criterion, "loglik": result.loglik,
        "deviance": result.deviance, "sigma": result.sigma, "tau": result.tau,
        "singular": result.singular, "converged": result.converged,
        "messages": list(result.messages), "icc": result.icc,
        "confint_method": args.ci, "level": args.level,
    }
    record = {key: _plain(value) for key, value in scalars.items()}
    record.update(fixef=_records(result.fixef.reset_index()), varcomp=_records(result.varcomp),
                  confint=_records(ci.reset_index()), ranef=_records(result.ranef(args.level)),
                  coef=_records(result.coef(args.level)))
    return record


def _records(frame) -> list[dict]:
    return [{str(key): _plain(value) for key, value in row.items()}
            for row in frame.to_dict(orient="records")]


def _plain(value):
    """A JSON-safe Python value: numpy scalars unwrapped, non-finite floats as None."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ----- simlab sweep ------------------------------------------------------------
SWEEP_CI = ("wald", "profile")


@command("sweep", "simulate and fit a grid of designs from a TOML config (resumable)")
def _sweep(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("config", help="TOML file with reps, seed, optional ci and level, "
                                       "and a [grid] table of simulate parameters -> lists")
    parser.add_argument("--out", required=True,
                        help="store directory; rerunning the same command resumes it")
    parser.add_argument("--jobs", type=int, default=1,
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


# ----- simlab power -------------------------------------------------------------
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


# ----- simlab report ----------------------------------------------------------
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


# ----- simlab figures -----------------------------------------------------------
FIGURE_DATA = ("gpa", "sleepstudy", "sim")
FIGURE_MODELS = ("intercept", "slopes")


@command("figures", "write the tutorial's teaching figures as PNG files")
def _figures(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("--out", required=True, help="folder for the PNG files (created)")
    parser.add_argument("--data", choices=FIGURE_DATA, default="gpa",
                        help="data set: gpa (needs $SIMLAB_DATA_DIR), the bundled sleepstudy, "
                             "or the simulated tutorial data (default: %(default)s)")
    parser.add_argument("--model", choices=FIGURE_MODELS, default="intercept",
                        help="intercept: the random-intercept model of the first chapter; "
                             "slopes: a random slope (each group's line against separate "
                             "regressions, a caterpillar panel per term) (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=1234,
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


# ----- grading: check, grade, validate, assign, autograder-zip -------------------

def _add_grading_options(parser: argparse.ArgumentParser, *, jobs: bool = True) -> None:
    """--course, the sandbox limits and (for several exercises) --jobs."""
    if jobs:
        parser.add_argument("--jobs", type=int, default=2,
                            help="answer keys computed at once (default: %(default)s)")
    parser.add_argument("--course", default=None, metavar="DIR",
                        help="the instructor's course folder, one source file per exercise "
                             "(default: $SIMLAB_COURSE_DIR, else simlab's built-in course)")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds per exercise file before it is stopped (default: %(default)s)")
    parser.add_argument("--cell-timeout", type=float, default=60.0,
                        help="seconds per cell or question (default: %(default)s)")
    parser.add_argument("--memory-mb", type=int, default=4096,
                        help="memory cap of the student's processes in MiB (default: %(default)s)")


def _limits(args: argparse.Namespace):
    from simlab.grading.sandbox import Limits

    if getattr(args, "jobs", 1) < 1:  # `check` grades one file and has no --jobs
        raise ValueError(f"--jobs must be at least 1, got {args.jobs}")
    return Limits(timeout=args.timeout, cell_timeout=args.cell_timeout, memory_mb=args.memory_mb)


def _course(args: argparse.Namespace):
    from simlab.grading.course import load_course

    return load_course(args.course)


def _add_exercise_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--exercise", action="append", default=None, metavar="NAME",
                        help=f"{what} only this exercise (repeatable; default: all)")


@command("check", "check an exercise file against its public tests (for students)")
def _check(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("file", help="your exercise file, e.g. exercises/sleepstudy.py")
    parser.add_argument("--student-id", default=None,
                        help="your student id, for your own variant of the simulation exercise "
                             "(default: $SIMLAB_STUDENT_ID)")
    parser.add_argument("--checks", default=None, metavar="FILE",
                        help="the public checks your instructor gave you (default: NAME.checks."
                             "json beside the file; without one, the course's solutions)")
    _add_grading_options(parser, jobs=False)
    return run_check


def run_check(args: argparse.Namespace) -> int:
    """Run the public checks of one file; exit 1 if any fails."""
    from simlab.grading.checks import run_checks
    from simlab.grading.render import check_text
    from simlab.grading.variants import STUDENT_ENV

    path = Path(args.file)
    if not path.is_file():
        raise ValueError(f"exercise file {args.file!r} does not exist")
    student_id = args.student_id or os.environ.get(STUDENT_ENV) or None
    limits = _limits(args)
    key, expected, hidden = _public_checks(path, args, student_id, limits)
    report = run_checks(path, key, expected, hidden, student_id=student_id, limits=limits)
    print(check_text(report))
    print("\nAll public checks passed." if report.passed else
          f"\nFix the failing checks above, then run `{PROG} check {args.file}` again.")
    return EXIT_OK if report.passed else EXIT_FAILED


def _public_checks(path: Path, args: argparse.Namespace, student_id, limits):
    """(public key, its answers, hidden names): from a checks file, else from the course."""
    from simlab.grading.checks import checks_path, load_checks
    from simlab.grading.grader import expected_answers

    checks = Path(args.checks) if args.checks else checks_path(path)
    if checks.is_file() and args.course is None:
        public = load_checks(checks, student_id)
        if public.key.name != path.stem:
            raise ValueError(f"{checks.name} holds the checks of {public.key.name}, not of "
                             f"{path.stem}; keep the exercise file's name")
        return public.key, public.expected, public.hidden
    if args.checks:
        raise ValueError(f"checks file {args.checks!r} does not exist")
    try:
        course = _course(args)
    except ValueError as err:
        raise ValueError(f"no public checks for {path.name}: put {checks.name} (from your "
                         f"instructor) beside it, or pass --checks FILE ({err})") from None
    if path.stem not in course.exercises:
        raise ValueError(f"{path.name} is not one of the exercises {list(course.exercises)}; "
                         "keep the exercise file's name")
    key = course.exercises[path.stem].key
    hidden = tuple(q.name for q in key.questions if q.hidden)
    public = key.public()
    return public, expected_answers(public, course.root, student_id, limits), hidden


@command("grade", "grade a folder of exercise files (for instructors and Gradescope)")
def _grade(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("submission", help="folder with the student's exercise files")
    parser.add_argument("--format", choices=("text", "json", "gradescope"), default="text",
                        help="output format (default: %(default)s)")
    parser.add_argument("--output", default=None, help="write to this file instead of stdout")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--student-id", default=None, help="grade this student's variant")
    who.add_argument("--metadata", default=None,
                     help="Gradescope's submission_metadata.json (default: the one beside the "
                          "submission folder, if any)")
    _add_exercise_option(parser, "grade")
    _add_grading_options(parser)
    return run_grade


def _grade_student_id(args: argparse.Namespace) -> str | None:
    from simlab.grading.variants import student_id_from_metadata

    if args.student_id:
        return args.student_id
    metadata = Path(args.metadata) if args.metadata else (
        Path(args.submission).resolve().parent / "submission_metadata.json")
    if metadata.is_file():
        return student_id_from_metadata(metadata)
    if args.metadata:
        warnings.warn(f"metadata file {args.metadata} not found; grading the default variant")
    return None


def run_grade(args: argparse.Namespace) -> int:
    """Grade every exercise; with --output, rewrite the file after each exercise."""
    from simlab.grading.grader import GradeReport, grade
    from simlab.grading.render import render, write_atomic

    course = _course(args)
    keys = course.select(args.exercise)
    limits, student_id = _limits(args), _grade_student_id(args)
    save = (lambda report: write_atomic(args.output, render(report, args.format))
            ) if args.output else None
    if save is not None:  # from the start a results file says grading has not finished
        save(GradeReport((), student_id, pending=tuple(keys)))
    report = grade(args.submission, keys, course_dir=course.root, student_id=student_id,
                   limits=limits, jobs=args.jobs, on_result=save)
    if save is not None:
        save(report)
        print(f"{PROG}: {report.score:g}/{report.max_score:g} points; results written to "
              f"{args.output}", file=sys.stderr)
    else:
        print(render(report, args.format))
    return EXIT_OK


@command("validate", "check that solutions score full marks and untouched exercises 0")
def _validate(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("--exercises", default=None, metavar="DIR",
                        help="folder of student files to check too (default: the student "
                             "files made from the course, as `simlab assign` writes them)")
    parser.add_argument("--variants", type=int, default=None, metavar="N",
                        help="student ids (student1 ... studentN) whose answer keys must be "
                             "stable: every answer usable, every decision clear of its "
                             "threshold (default: 200; 0 for none)")
    parser.add_argument("--roster", default=None, metavar="FILE",
                        help="also check the ids of this roster (as in `simlab variants`)")
    _add_grading_options(parser)
    return run_validate


def run_validate(args: argparse.Namespace) -> int:
    """Print every validation check; exit 1 if one fails."""
    import tempfile

    from simlab.grading.assign import write_student_files
    from simlab.grading.validate import DEFAULT_VARIANTS, validate
    from simlab.grading.variants import read_roster

    course, limits = _course(args), _limits(args)
    variants = DEFAULT_VARIANTS if args.variants is None else args.variants
    roster = read_roster(args.roster) if args.roster else []
    with tempfile.TemporaryDirectory(prefix="simlab-validate-") as made:
        exercises = args.exercises or write_student_files(course, made)
        result = validate(exercises, course.root, course.keys, limits=limits, jobs=args.jobs,
                          variants=variants, student_ids=roster)
    print(result)
    return EXIT_OK if result.ok else EXIT_FAILED


@command("variants", "print each student's id and simulation settings from a roster")
def _variants(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("--roster", required=True, metavar="FILE",
                        help="Gradescope's roster export (CSV; each row's SID, or its Email "
                             "where the SID is blank) or a text file with one id per line")
    parser.add_argument("--format", choices=("text", "csv"), default="text",
                        help="output format (default: %(default)s)")
    return run_variants


def run_variants(args: argparse.Namespace) -> int:
    """Print the table of ids and settings: the id is what each student types into
    `simlab check --student-id` and what Gradescope grades."""
    from simlab.grading.variants import read_roster, variant_table

    table = variant_table(read_roster(args.roster))
    print(table.to_csv(index=False) if args.format == "csv" else table.to_string(index=False),
          end="" if args.format == "csv" else "\n")
    return EXIT_OK


def _data_dir(args: argparse.Namespace) -> str | None:
    from simlab.datasets import DATA_DIR_VARIABLE

    return args.data_dir or os.environ.get(DATA_DIR_VARIABLE)


def _add_bundle_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--data-dir", default=None,
                        help="folder with the data files the exercises read, e.g. gpa.csv "
                             "(default: $SIMLAB_DATA_DIR)")
    _add_exercise_option(parser, what)
    _add_grading_options(parser)


@command("assign", "make the student files, public checks and Gradescope bundle of a course")
def _assign(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("--out", required=True, metavar="DIST",
                        help="folder to write: DIST/student/ (hand out) and "
                             "DIST/autograder.zip (upload to Gradescope)")
    parser.add_argument("--roster", default=None, metavar="FILE",
                        help="public checks for each student id of this roster too (needed "
                             "for exercises with per-student variants)")
    _add_bundle_options(parser, "assign")
    return run_assign


def run_assign(args: argparse.Namespace) -> int:
    """Write DIST/student and DIST/autograder.zip and list them."""
    from simlab.grading.assign import assign
    from simlab.grading.variants import read_roster

    course = _course(args)
    roster = read_roster(args.roster) if args.roster else []
    written = assign(course, args.out, exercises=args.exercise, student_ids=roster,
                     data_dir=_data_dir(args),
                     limits=_limits(args), jobs=args.jobs)
    for path in written:
        print(path)
    print(f"Hand out {Path(args.out) / 'student'} (no solutions, no hidden answers); upload "
          f"{Path(args.out) / 'autograder.zip'} on Gradescope under Configure Autograder.")
    return EXIT_OK


@command("autograder-zip", "build the Gradescope autograder bundle (setup.sh, run_autograder)")
def _autograder_zip(parser: argparse.ArgumentParser) -> Runner:
    parser.add_argument("--out", default="simlab-autograder.zip",
                        help="zip file to write (default: %(default)s)")
    _add_bundle_options(parser, "bundle")
    return run_autograder_zip


def run_autograder_zip(args: argparse.Namespace) -> int:
    """Write the bundle and say how to upload it."""
    from simlab.grading.autograder import build_autograder

    course = _course(args)
    out = build_autograder(args.out, course.select(args.exercise), course_dir=course.root,
                           data_dir=_data_dir(args),
                           limits=_limits(args), jobs=args.jobs)
    print(f"Wrote {out}. Upload it on Gradescope under Configure Autograder -> Zip file "
          "upload; students submit their exercise files (e.g. sleepstudy.py) unchanged in name.")
    return EXIT_OK
