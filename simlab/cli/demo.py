"""``simlab demo``: simulate the tutorial's design, fit it and print every table."""
from __future__ import annotations

import argparse

from simlab._vocabulary import DEFAULT_LEVEL

from ._common import EXIT_OK, PROG, LibraryDefault, Runner, command, section, table

__all__ = ["run_demo", "print_tables", "DEMO_FORMULA"]

DEMO_FORMULA = "y ~ x + (1 | group)"
#: The seed tutorial's design (set.seed(1234), 100 groups of 3, ...), the library's one copy.
_DESIGN = "simlab.grading.variants:SimVariant"


@command("demo", "simulate a random-intercept study, fit it and print every table")
def _demo(parser: argparse.ArgumentParser) -> Runner:
    for flag, name, kind, what in (
            ("--seed", "seed", int, "simulation seed"),
            ("--n-groups", "n_groups", int, "groups"),
            ("--n-per-group", "n_per_group", int, "observations per group"),
            ("--tau", "tau", float, "sd of the group effect"),
            ("--sigma", "sigma", float, "residual sd"),
            ("--intercept", "intercept", float, "true intercept"),
            ("--slope", "slope", float, "true slope of x")):
        parser.add_argument(flag, type=kind, default=LibraryDefault(_DESIGN, name),
                            help=f"{what} (default: %(default)s)")
    parser.add_argument("--stream", default=LibraryDefault("simlab.simulate:simulate", "stream"),
                        metavar="{numpy,R}",
                        help="random stream; R reproduces R's set.seed(SEED) (default: "
                             "%(default)s)")
    return run_demo


def run_demo(args: argparse.Namespace) -> int:
    """Simulate the design, fit ``y ~ x + (1 | group)`` and show recovery of the truth."""
    import pandas as pd

    from simlab import lmer
    from simlab.simulate import simulate

    data = simulate(args.n_groups, args.n_per_group, args.tau, args.sigma, intercept=args.intercept,
                    slope=args.slope, seed=args.seed, stream=args.stream)
    print(f"Simulated {args.n_groups} groups x {args.n_per_group} observations (seed {args.seed}, "
          f"stream {args.stream}):\n  y = {args.intercept:g} + {args.slope:g} * x + u[group] + e,  "
          f"u ~ N(0, {args.tau:g}^2),  e ~ N(0, {args.sigma:g}^2)\n")
    result = lmer(DEMO_FORMULA, data, data_name=f"simulate(seed={args.seed})")
    ci = result.confint(method="profile")
    print(result.summary())
    print_tables(result, ci, method="profile", level=DEFAULT_LEVEL, head=5, coef=True)
    rows = data.head(6)
    section("Predictions for the first rows", table(rows.assign(
        with_ranef=result.predict(rows), fixed_only=result.predict(rows, random_effects=False))))
    estimates = [result.tau, result.sigma, *result.fixef["estimate"]]
    truth = pd.DataFrame({"truth": [args.tau, args.sigma, args.intercept, args.slope],
                          "estimate": estimates, "lower": ci["lower"], "upper": ci["upper"]},
                         index=ci.index)
    section("Simulated truth vs estimates (profile 95% interval)", table(truth))
    print(f"\nNext: rerun with another design, e.g. `{PROG} demo --seed 7 --n-groups 20`, or fit "
          f"your own data:\n  {PROG} fit DATA.csv \"y ~ x + (1 | g)\"   (add --json for "
          "machine-readable output)")
    return EXIT_OK


def print_tables(result, ci, *, method: str, level: float, head: int, coef: bool) -> None:
    """The tables after the summary: fixef, varcomp + ICC, confint, ranef (and coef) heads."""
    section("Fixed effects", table(result.fixef))
    section("Variance components",
            f"{table(result.varcomp, index=False)}\nICC = {result.icc:.6g}")
    section(f"Confidence intervals ({method}, level {level:g})", table(ci))
    more = f"first {head} rows; {result.ngroups} groups"
    section(f"Random effects, ranef() ({more})",
            table(result.ranef(level=level).head(head), index=False))
    if coef:
        section(f"Group coefficients, coef() ({more})",
                table(result.coef(level=level).head(head), index=False))
