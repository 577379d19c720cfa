"""Model comparison: lme4's ``anova(m0, m1, ...)`` likelihood-ratio table."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .result import LmerResult, require_lmer

__all__ = ["anova", "ANOVA_COLUMNS"]

#: The columns of lme4's ``anova`` table (``Pr(>Chisq)`` is ``p``).
ANOVA_COLUMNS = ["npar", "AIC", "BIC", "logLik", "deviance", "Chisq", "Df", "p"]


def anova(*models: LmerResult, names: Sequence[str] | None = None) -> pd.DataFrame:
    """Likelihood-ratio comparison of nested mixed models, as lme4's ``anova``.

    REML fits are first refitted by maximum likelihood (lme4's ``refitML``,
    "refitting model(s) with ML (instead of REML)"), since REML criteria of
    models with different fixed effects are not comparable. Models are sorted
    by their number of parameters; each row after the first is tested against
    the row above it.

    Parameters
    ----------
    *models : LmerResult
        Two or more fits to the same rows of the same data.
    names : sequence of str, optional
        Row labels; by default the models' formulas.

    Returns
    -------
    pandas.DataFrame
        Indexed by model, columns ``npar, AIC, BIC, logLik, deviance, Chisq,
        Df, p`` (``Chisq``, ``Df`` and ``p`` NaN on the first row), from the
        ML fits.

    Raises
    ------
    TypeError
        If a model is not an :class:`LmerResult`.
    ValueError
        With fewer than two models, models fitted to different data, or
        ``names`` of the wrong length.
    """
    labels = _check_models(models, names)
    fits = [model.refit_ml() for model in models]
    order = sorted(range(len(fits)), key=lambda k: fits[k].npar)
    fits, labels = [fits[k] for k in order], [labels[k] for k in order]
    table = pd.DataFrame({
        "npar": [fit.npar for fit in fits], "AIC": [fit.aic for fit in fits],
        "BIC": [fit.bic for fit in fits], "logLik": [fit.loglik for fit in fits],
        "deviance": [fit.deviance for fit in fits],
    }, index=pd.Index(labels, name="model"))
    chisq = -np.diff(table["deviance"].to_numpy())
    df = np.diff(table["npar"].to_numpy())
    with np.errstate(invalid="ignore"):
        p = np.where(df > 0, stats.chi2.sf(np.maximum(chisq, 0.0), np.maximum(df, 1)), np.nan)
    table["Chisq"] = np.concatenate([[np.nan], chisq])
    table["Df"] = np.concatenate([[np.nan], df])
    table["p"] = np.concatenate([[np.nan], p])
    return table


def _check_models(models: tuple, names: Sequence[str] | None) -> list[str]:
    """Two or more lmer fits of the same response on the same rows; their labels."""
    for model in models:
        require_lmer(model, "anova")
    if len(models) < 2:
        raise ValueError(f"anova compares two or more models; got {len(models)}. Fit the simpler "
                         "model too, e.g. anova(lmer('y ~ x + (1 | g)', d), lmer('y ~ x + (x | g)', d))")
    first = models[0]
    for model in models[1:]:
        if model.nobs != first.nobs or not np.array_equal(model.design.y, first.design.y):
            raise ValueError(
                f"models were not all fitted to the same data ({first.formula!r}: {first.nobs} "
                f"rows, {model.formula!r}: {model.nobs} rows); fit every model to the same rows "
                "of the same response (drop rows with missing values first)")
    if names is None:
        return [model.formula for model in models]
    names = [str(name) for name in names]
    if len(names) != len(models):
        raise ValueError(f"names has {len(names)} labels for {len(models)} models; give one each")
    return names
