"""The power references (tests/reference/power, from ../shared/reference/power): designs, truths, exact powers."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import stats


POWER_REFERENCE = Path(__file__).parents[1] / "reference" / "power"
#: The simr reference model (simr_reference.R): fixef, VarCorr 0.5, sigma 1.
BALANCED_TRUTH = dict(effects={"(Intercept)": 1.0, "xw": 0.2, "w": 0.8}, tau=0.5 ** 0.5,
                      sigma=1.0)
UNBALANCED_TRUTH = dict(effects={"(Intercept)": 1.0, "x": 0.3, "w": 0.8}, tau=0.5 ** 0.5,
                        sigma=1.0)


def noncentral_t_power(effect: float, se: float, df: float, alpha: float = 0.05) -> float:
    """Exact power of a two-sided t test whose statistic is noncentral t (analytic_power.R)."""
    critical = stats.t.ppf(1 - alpha / 2, df)
    ncp = effect / se
    return float(stats.nct.sf(critical, df, ncp) + stats.nct.cdf(-critical, df, ncp))


def cluster_trial_power(n_groups: int, effect: float = 1.0, m: int = 6, s2b: float = 0.5,
                        s2: float = 1.0, alpha: float = 0.05) -> float:
    """analytic_power.R's pow_cr: a two-arm cluster-randomised trial, G // 2 groups treated."""
    treated = n_groups // 2
    se = np.sqrt((s2 / m + s2b) * (1 / treated + 1 / (n_groups - treated)))
    return noncentral_t_power(effect, se, n_groups - 2, alpha)
