"""Confidence-interval tables for :class:`~simlab.model.result.LmerResult`."""
from __future__ import annotations

import numpy as np
import pandas as pd

from simlab._checks import check_level, is_int
from simlab._vocabulary import DEFAULT_LEVEL, LOWER, UPPER

from . import engine
from .bootstrap import parametric_bootstrap
from .ddf import normal_quantile
from .parameters import parameter_names as names_of_parameters

__all__ = ["confint", "parameter_names"]

METHODS = ("profile", "wald", "boot")


def parameter_names(result) -> list[str]:
    """lme4's ``confint(oldNames = FALSE)`` row names of a fitted model (see :mod:`.parameters`)."""
    design = result.design
    return names_of_parameters(design.terms, design.random_terms, design.group_name,
                               correlated=design.correlated)


def confint(result, *, method: str = "profile", level: float = DEFAULT_LEVEL,
            nsim: int = 1000, seed=None) -> pd.DataFrame:
    """Intervals for (sd, cor, sigma, fixed effects); see :meth:`LmerResult.confint`."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    check_level(level)
    if method == "profile":
        lower, upper = engine.profile(result.design, level)
    elif method == "wald":
        lower, upper = _wald(result, level)
    else:
        lower, upper = _bootstrap(result, level, nsim, seed)
    return pd.DataFrame({LOWER: lower, UPPER: upper},
                        index=pd.Index(parameter_names(result), name="parameter"))


def _wald(result, level: float) -> tuple[np.ndarray, np.ndarray]:
    z = normal_quantile(level)
    table = result.fixef
    nan = np.full(len(parameter_names(result)) - len(table), np.nan)
    return (np.concatenate([nan, table["estimate"] - z * table["se"]]),
            np.concatenate([nan, table["estimate"] + z * table["se"]]))


def _bootstrap(result, level: float, nsim: int, seed) -> tuple[np.ndarray, np.ndarray]:
    if not is_int(nsim) or nsim < 2:
        raise ValueError(f"nsim must be an integer of at least 2 bootstrap replicates, got {nsim!r}")
    draws = parametric_bootstrap(result.design, result.estimates, int(nsim), seed)
    tail = (1 - level) / 2
    lower, upper = np.quantile(draws.values, [tail, 1 - tail], axis=0)
    return lower, upper
