"""The names and order of a mixed model's parameters: one definition for every table.

lme4's ``confint(oldNames = FALSE)`` names the parameters of a model with one
grouping factor ``g`` and random terms ``a, b`` (lme4's column names, such as
``(Intercept)`` and ``Days``) as

* ``sd_a|g``, ``cor_b.a|g``, ``sd_b|g``: the lower triangle of the random-effect
  covariance, column by column, as standard deviations and correlations
  (no correlations when the terms are uncorrelated, as ``(1 + x || g)``);
* ``sigma``, the residual standard deviation;
* the fixed effects, by R's term names.

``confint``, sweeps, summaries and reports all take their row names from here.
"""
from __future__ import annotations

from collections.abc import Sequence

__all__ = ["variance_names", "parameter_names", "RESIDUAL"]

#: The residual standard deviation's name.
RESIDUAL = "sigma"


def variance_names(random_terms: Sequence[str], group: str, *, correlated: bool = True) -> list[str]:
    """Names of the random-effect standard deviations and correlations, in lme4's order.

    Parameters
    ----------
    random_terms : sequence of str
        R's names of the random-effect columns, e.g. ``("(Intercept)", "Days")``.
    group : str
        The grouping factor.
    correlated : bool
        Whether the terms have a full covariance (``(1 + x | g)``) or
        independent ones (``(1 + x || g)``, ``(1 | g) + (0 + x | g)``).

    Examples
    --------
    >>> variance_names(["(Intercept)", "Days"], "Subject")
    ['sd_(Intercept)|Subject', 'cor_Days.(Intercept)|Subject', 'sd_Days|Subject']
    """
    names = []
    for j, column in enumerate(random_terms):
        names.append(f"sd_{column}|{group}")
        if correlated:
            names += [f"cor_{row}.{column}|{group}" for row in random_terms[j + 1:]]
    return names


def parameter_names(fixed_terms: Sequence[str], random_terms: Sequence[str], group: str, *,
                    correlated: bool = True) -> list[str]:
    """Every parameter's name in lme4's ``confint`` order: variances, ``sigma``, fixed effects.

    >>> parameter_names(["(Intercept)", "x"], ["(Intercept)"], "group")
    ['sd_(Intercept)|group', 'sigma', '(Intercept)', 'x']
    """
    return [*variance_names(random_terms, group, correlated=correlated), RESIDUAL, *fixed_terms]
