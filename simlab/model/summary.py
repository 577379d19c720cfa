"""lme4-style printed summary of a fitted model."""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["ModelSummary"]


class ModelSummary:
    """The text of ``summary(lmer(...))``; prints itself in a REPL or notebook."""

    def __init__(self, result) -> None:
        self._result = result

    def __str__(self) -> str:
        r = self._result
        kind = "REML" if r.reml else "maximum likelihood"
        lines = [f"Linear mixed model fit by {kind} ['lmerMod']",
                 f"Formula: {r.formula}", f"   Data: {r.data_name}", ""]
        if r.reml:
            lines.append(f"REML criterion at convergence: {r.reml_criterion:.1f}")
        else:
            lines.append(_fit_statistics(r))
        lines += ["", "Scaled residuals: ", _scaled_residuals(r), "",
                  "Random effects:", _random_effects(r),
                  f"Number of obs: {r.nobs}, groups:  {r.design.group_name}, {r.ngroups}", "",
                  "Fixed effects:", _fixed_effects(r)]
        if r.n_dropped:
            lines.append(f"({r.n_dropped} observation(s) deleted due to missingness)")
        lines += [f"{message}" for message in r.messages]
        return "\n".join(lines)

    __repr__ = __str__


def _fit_statistics(r) -> str:
    n_par = len(r.design.terms) + len(r.design.random_terms) + 1
    aic = r.deviance + 2 * n_par
    bic = r.deviance + np.log(r.nobs) * n_par
    table = pd.DataFrame({"AIC": [aic], "BIC": [bic], "logLik": [r.loglik], "deviance": [r.deviance],
                          "df.resid": [r.nobs - n_par]})
    return table.to_string(index=False, float_format=lambda v: f"{v:.1f}")


def _scaled_residuals(r) -> str:
    scaled = r.residuals / r.sigma
    quantiles = np.quantile(scaled, [0, 0.25, 0.5, 0.75, 1])
    table = pd.DataFrame([quantiles], columns=["Min", "1Q", "Median", "3Q", "Max"])
    return table.to_string(index=False, float_format=lambda v: f"{v:.4f}")


def _random_effects(r) -> str:
    vc = r.varcomp
    table = pd.DataFrame({"Groups": vc["group"], "Name": vc["effect"],
                          "Variance": vc["variance"].map(lambda v: f"{v:.4g}"),
                          "Std.Dev.": vc["sd"].map(lambda v: f"{v:.4g}")})
    return " " + table.to_string(index=False, justify="left").replace("\n", "\n ")


def _fixed_effects(r) -> str:
    fe = r.fixef
    table = pd.DataFrame({"Estimate": fe["estimate"], "Std. Error": fe["se"], "t value": fe["t"]})
    table.index.name = None
    return table.to_string(float_format=lambda v: f"{v:.6g}")
