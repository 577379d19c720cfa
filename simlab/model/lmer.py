"""``lmer``: fit ``y ~ fixed + (1 | g)`` by REML or ML."""
from __future__ import annotations

import warnings

import pandas as pd

from .design import build_design
from .estimates import exact_estimates
from .formula import parse_formula
from .result import LmerResult

__all__ = ["lmer", "SingularFitWarning"]

ENGINES = ("exact", "statsmodels")


class SingularFitWarning(UserWarning):
    """The optimum is on the boundary: the group variance is estimated as 0."""


def lmer(formula: str, data: pd.DataFrame, *, reml: bool = True, engine: str = "exact",
         data_name: str | None = None) -> LmerResult:
    """Fit a linear mixed model with one random intercept, like R's ``lme4::lmer``.

    Parameters
    ----------
    formula : str
        ``"y ~ x1 + x2 + (1 | group)"``. The fixed part accepts formulaic
        syntax (factors, interactions, transforms); strings get treatment
        coding with the first sorted level as reference and pandas
        Categoricals keep their category order, as in R.
    data : DataFrame
        Rows with a missing value in a model variable are dropped (R's
        ``na.omit``); ``result.n_dropped`` counts them.
    reml : bool
        REML (default, as lme4) or maximum likelihood.
    engine : {"exact", "statsmodels"}
        ``exact`` minimises the profiled criterion in ``theta = tau / sigma``
        exactly from per-group sums. ``statsmodels`` fits the same model with
        ``MixedLM`` (and also fits random slopes).
    data_name : str, optional
        Name of the data in the summary.

    Returns
    -------
    LmerResult

    Warns
    -----
    SingularFitWarning
        When the fit is singular (``tau = 0``), as lme4's "boundary (singular) fit".
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if not isinstance(reml, bool):
        raise TypeError(f"reml must be True or False, got {reml!r}")
    parsed = parse_formula(formula)
    _check_random_part(parsed, engine)
    design = build_design(parsed, data)
    if engine == "exact":
        estimates = exact_estimates(design, reml)
    else:
        from .statsmodels_engine import statsmodels_estimates
        estimates = statsmodels_estimates(design, reml)
    if estimates.singular:
        warnings.warn("boundary (singular) fit: the group variance is estimated as 0",
                      SingularFitWarning, stacklevel=2)
    return LmerResult(design=design, estimates=estimates, data_name=data_name or "data")


def _check_random_part(parsed, engine: str) -> None:
    if not parsed.random:
        raise ValueError(f"formula {parsed.text!r} has no random effect; add one such as "
                         "'+ (1 | group)', or use simlab.lm for a fixed-effects model")
    if len(parsed.random) > 1:
        raise ValueError(f"formula {parsed.text!r} has {len(parsed.random)} random terms; only "
                         "one grouping factor is supported yet")
    term = parsed.random[0]
    if not term.is_intercept_only and engine != "statsmodels":
        raise ValueError(f"random term {term} is not supported yet by the exact engine, which "
                         "fits random intercepts (1 | g); pass engine='statsmodels' to fit it")
