"""``lmer``: fit ``y ~ fixed + (1 | g)`` by REML or ML."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from simlab._checks import check_bool

from .design import build_design
from . import engine as exact_engine
from .formula import parse_formula
from .result import LmerResult

__all__ = ["lmer", "fit_design", "SingularFitWarning", "ConvergenceWarning", "PredictorScaleWarning"]

#: lme4's ``check.scaleX`` tolerance: column sds (and their ratios) beyond 1e3 warn.
SCALE_TOLERANCE = 1e3

ENGINES = ("exact", "statsmodels")


class SingularFitWarning(UserWarning):
    """The optimum is on the boundary: the group variance is estimated as 0."""


class ConvergenceWarning(UserWarning):
    """The fit did not converge; ``result.messages`` says why (lme4's convergence warnings)."""


class PredictorScaleWarning(UserWarning):
    """Predictor columns on very different scales (lme4's ``check.scaleX`` warning).

    The exact engine standardises X internally, so its fit is not affected;
    the warning is kept because lme4 gives it and the coefficients are hard to read.
    """


def lmer(formula: str, data: pd.DataFrame, *, reml: bool = True, engine: str = "exact",
         data_name: str | None = None) -> LmerResult:
    """Fit a linear mixed model with one grouping factor, like R's ``lme4::lmer``.

    Parameters
    ----------
    formula : str
        ``"y ~ x1 + x2 + (1 | group)"``. The random part is one grouping
        factor with a random intercept, ``(1 | g)``, random slopes with a full
        covariance, ``(1 + x | g)`` (or ``(x | g)``, ``(0 + x | g)``), or
        independent ones, ``(1 + x || g)`` or ``(1 | g) + (0 + x | g)``. The
        fixed part accepts formulaic syntax (factors, interactions,
        transforms); strings get treatment
        coding with the first sorted level as reference and pandas
        Categoricals keep their category order, as in R.
    data : DataFrame
        Rows with a missing value in a model variable are dropped (R's
        ``na.omit``); ``result.n_dropped`` counts them.
    reml : bool
        REML (default, as lme4) or maximum likelihood.
    engine : {"exact", "statsmodels"}
        ``exact`` minimises lme4's profiled criterion in ``theta`` exactly
        from per-group cross products. ``statsmodels`` fits the same model
        with ``MixedLM`` (full covariances only), as a cross-check.
    data_name : str, optional
        Name of the data in the summary.

    Returns
    -------
    LmerResult

    Raises
    ------
    ValueError
        With the exact engine, when the fixed effects reproduce the response
        exactly (residual sum of squares 0 to rounding): there is no
        variance left to split between groups and residuals.

    Warns
    -----
    SingularFitWarning
        When the fit is singular (``tau = 0``), as lme4's "boundary (singular) fit".
    ConvergenceWarning
        When the fit did not converge; ``result.messages`` says why.
    PredictorScaleWarning
        When non-binary predictor columns have sds beyond 1e3 or below 1e-3,
        or ratios of sds beyond 1e3, as lme4's "some predictor variables are
        on very different scales".
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    reml = check_bool("reml", reml)
    parsed = parse_formula(formula)
    _check_random_part(parsed, engine)
    design = build_design(parsed, data)
    _check_scales(design.X)
    estimates = fit_design(design, reml, engine)
    if estimates.singular:
        warnings.warn("boundary (singular) fit: the group variance is estimated as 0",
                      SingularFitWarning, stacklevel=2)
    if not estimates.converged:
        reasons = "; ".join(estimates.messages) or "the optimiser stopped early"
        warnings.warn(f"the fit did not converge: {reasons}", ConvergenceWarning, stacklevel=2)
    return LmerResult(design=design, estimates=estimates, data_name=data_name or "data")


def fit_design(design, reml: bool, engine: str = "exact"):
    """Fit a checked design with ``engine``: the optimisation step of :func:`lmer`."""
    if engine == "exact":
        return _exact_fit(design, reml)
    from .statsmodels_engine import statsmodels_estimates
    return statsmodels_estimates(design, reml)


def _exact_fit(design, reml: bool):
    """The exact engine's estimates; a ValueError when the fixed effects fit y exactly."""
    estimates = exact_engine.fit(design, reml)
    if np.isneginf(estimates.criterion):
        raise ValueError(
            f"the fixed effects {list(design.terms)} reproduce the response exactly (residual "
            "sum of squares 0 to rounding), so there is no variance to split between groups "
            "and residuals; check that the response is not computed from the predictors")
    return estimates


def _check_scales(X: np.ndarray) -> None:
    """Warn as lme4's ``checkScaleX`` when predictor columns are on very different scales."""
    continuous = ~np.isin(X, (0.0, 1.0)).all(axis=0)
    sd = X[:, continuous].std(axis=0, ddof=1) if X.shape[0] > 1 else np.zeros(0)
    sd = sd[sd > 0]
    log_sd = np.log(sd)
    spread = np.abs(np.concatenate([log_sd, log_sd[:, None] - log_sd[None, :]], axis=None))
    if (spread > np.log(SCALE_TOLERANCE)).any():
        warnings.warn("Some predictor variables are on very different scales: consider rescaling",
                      PredictorScaleWarning, stacklevel=3)


def _check_random_part(parsed, engine: str) -> None:
    """One grouping factor; the statsmodels engine only fits a full covariance."""
    if not parsed.random:
        raise ValueError(f"formula {parsed.text!r} has no random effect; add one such as "
                         "'+ (1 | group)', or use simlab.lm for a fixed-effects model")
    groups = list(dict.fromkeys(term.group for term in parsed.random))
    if len(groups) > 1:
        raise ValueError(
            f"formula {parsed.text!r} has the grouping factors {groups}; simlab fits one grouping "
            "factor, so crossed or nested random effects ((1 | a) + (1 | b), (1 | a/b)) are not "
            "supported: keep the terms of one factor")
    independent = len(parsed.random) > 1 or not parsed.random[0].correlated
    if engine == "statsmodels" and independent:
        raise ValueError(
            f"engine='statsmodels' fits a full covariance of the random effects, not the "
            f"independent ones of {', '.join(map(str, parsed.random))}; use the exact engine "
            "(the default) for this model")
