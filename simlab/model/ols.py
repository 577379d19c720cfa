"""``lm``: ordinary least squares with R's ``summary(lm(...))`` table.

The design goes through the same checks and formulaic coding as
:func:`simlab.lmer` (:mod:`simlab.model.design`), so term names, factor
coding and error messages are the same in both; the fit is statsmodels'
``OLS``. R's definitions are kept where statsmodels could differ: a model
without ``(Intercept)`` gets the uncentred R-squared and F-statistic, as R's
``summary.lm`` does, even if its columns span a constant (``y ~ 0 + f``).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import special

from simlab._checks import check_level
from simlab._display import SummaryHTML
from simlab._vocabulary import DEFAULT_LEVEL, LOWER, UPPER

from .design import (check_full_rank, fixed_part, fixed_variables, model_frame,
                     new_fixed_matrix, numeric_response)
from .formula import parse_formula
from .intercept import standardizing_map
from .summary import format_like_r, zapsmall

__all__ = ["lm", "LmResult", "FStatistic"]

#: ``print.summary.lm`` prints with ``digits = max(3, getOption("digits") - 3)``.
DIGITS = 4


class FStatistic(NamedTuple):
    """The overall F test against the intercept-only model (R's ``fstatistic``)."""

    value: float
    numdf: int
    dendf: int
    p: float


@dataclass(frozen=True, eq=False)
class LmResult(SummaryHTML):
    """A fitted linear model with R's ``summary.lm`` quantities.

    Do not build it directly; call :func:`simlab.lm`. ``str(result)`` is
    the R-style ``summary(lm(...))`` printout (HTML of it in a notebook).

    Attributes
    ----------
    formula : str
    fixef : DataFrame
        Indexed by R term names (``term``), columns ``estimate, se, df, t, p,
        lower, upper`` as :attr:`LmerResult.fixef`: ``df`` is ``df_resid``,
        ``p`` from the t distribution on it and the bounds R's 95%
        ``confint.lm``; :meth:`fixed_tests` gives another level.
    vcov : DataFrame
        Covariance matrix of the estimates.
    nobs : int
        Rows used in the fit.
    sigma : float
        Residual standard error.
    df_resid : int
    r_squared, adj_r_squared : float
        Centred when the model has an intercept, uncentred otherwise (as R).
    fstatistic : FStatistic or None
        None for an intercept-only model, for which R prints none.
    n_dropped : int
        Rows dropped because a model variable was missing (R's na.omit).
    fitted, residuals : ndarray
    data_name : str
        How the data is named in the ``Call:`` line.
    """

    formula: str
    fixef: pd.DataFrame
    vcov: pd.DataFrame
    nobs: int
    sigma: float
    df_resid: int
    r_squared: float
    adj_r_squared: float
    fstatistic: FStatistic | None
    n_dropped: int
    fitted: pd.Series
    residuals: pd.Series
    data_name: str = "data"
    _spec: Any = field(default=None, repr=False)
    _fixed: str = field(default="1", repr=False)

    def predict(self, newdata: pd.DataFrame | None = None) -> pd.Series:
        """Predicted means: the fitted values, or ``X_new @ estimate`` for ``newdata``.

        Returns
        -------
        Series
            ``prediction``, indexed like ``newdata`` (or the rows fitted).

        Raises
        ------
        TypeError
            If ``newdata`` is not a DataFrame.
        ValueError
            If ``newdata`` lacks a model column, has a missing value or a
            factor level not seen at fit time.
        """
        if newdata is None:
            return self.fitted.rename("prediction")
        if not isinstance(newdata, pd.DataFrame):
            raise TypeError(f"newdata must be a pandas DataFrame, got {type(newdata).__name__}")
        X = new_fixed_matrix(self._spec, self._fixed, newdata)
        return pd.Series(X @ self.fixef["estimate"].to_numpy(), index=newdata.index,
                         name="prediction")

    def fixed_tests(self, *, level: float = DEFAULT_LEVEL) -> pd.DataFrame:
        """:attr:`fixef` with its interval at ``level``: ``estimate, se, df, t, p, lower, upper``.

        Raises
        ------
        TypeError, ValueError
            If ``level`` is not a number strictly between 0 and 1.
        """
        return _with_bounds(self.fixef.drop(columns=[LOWER, UPPER]), level)

    def confint(self, *, level: float = DEFAULT_LEVEL) -> pd.DataFrame:
        """``estimate +/- t_{df_resid} se`` intervals (R's ``confint.lm``): ``lower, upper``."""
        return self.fixed_tests(level=level)[[LOWER, UPPER]]

    def summary(self) -> LmSummary:
        """R's ``summary(lm(...))`` printout; ``print`` it or read it as text."""
        return LmSummary(_summary_text(self))

    def __str__(self) -> str:
        return _summary_text(self)

    def __repr__(self) -> str:
        return (f"<LmResult {self.formula!r}: nobs={self.nobs}, sigma={self.sigma:.4g}, "
                f"r_squared={self.r_squared:.4g}>")


class LmSummary(SummaryHTML):
    """The text of ``summary(lm(...))``; prints itself in a REPL, as HTML in a notebook."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__


def lm(formula: str, data: pd.DataFrame, *, data_name: str | None = None) -> LmResult:
    """Fit a linear model by ordinary least squares, like R's ``lm``.

    Parameters
    ----------
    formula : str
        ``"y ~ x1 + x2"``, with the same formulaic syntax and R-style
        coding of factors as :func:`simlab.lmer`'s fixed part. A random term
        such as ``(1 | g)`` is rejected: use :func:`simlab.lmer`.
    data : DataFrame
        Rows with a missing value in a model variable are dropped (R's
        ``na.omit``); ``result.n_dropped`` counts them.
    data_name : str, optional
        Name of the data in the summary's ``Call:`` line.

    Returns
    -------
    LmResult

    Raises
    ------
    TypeError
        If ``data`` is not a DataFrame or the response is not numeric.
    ValueError
        For a random term, missing columns, no complete rows, infinite
        values, a constant response, a rank-deficient design or no residual
        degrees of freedom.

    Warns
    -----
    UserWarning
        For an essentially perfect fit, as R's ``summary.lm`` does.
    """
    parsed = parse_formula(formula)
    if parsed.random:
        raise ValueError(
            f"formula {parsed.text!r} has the random term {parsed.random[0]}; simlab.lm fits "
            "fixed effects only. Use simlab.lmer for a mixed model, e.g. "
            f"simlab.lmer({parsed.text!r}, data)")
    variables = [parsed.response, *fixed_variables(parsed)]
    complete, columns, n_dropped = model_frame(data, variables)
    y = numeric_response(columns[parsed.response], parsed.response)
    X, terms, spec = fixed_part(parsed.fixed, complete, columns)
    _check_estimable(X, terms)
    # Fitted on standardised columns: on X itself, x + 1e8 squares the condition number
    # past 1 / eps and statsmodels' pinv returns a wrong slope without a word.
    x_map = standardizing_map(X[None])[0]
    fit = _ols(y, X @ x_map, "(Intercept)" in terms)
    fixef, vcov = _coef_table(fit, x_map, terms)
    rows = complete.index
    return LmResult(
        formula=parsed.text, fixef=fixef, vcov=vcov, nobs=len(y),
        sigma=float(np.sqrt(fit.scale)), df_resid=int(fit.df_resid),
        r_squared=float(fit.rsquared), adj_r_squared=float(fit.rsquared_adj),
        fstatistic=_fstatistic(fit), n_dropped=n_dropped,
        fitted=pd.Series(np.asarray(fit.fittedvalues, dtype=float), index=rows, name="fitted"),
        residuals=pd.Series(np.asarray(fit.resid, dtype=float), index=rows, name="residual"),
        data_name=data_name or "data", _spec=spec, _fixed=parsed.fixed,
    )


def _check_estimable(X: np.ndarray, terms: tuple[str, ...]) -> None:
    # fixed_part refuses a design without columns.
    check_full_rank(X, terms)
    if X.shape[0] <= X.shape[1]:
        raise ValueError(
            f"{X.shape[0]} complete row(s) for {X.shape[1]} coefficient(s) leave no residual "
            "degrees of freedom, so no standard error can be estimated; add data or drop terms")


def _ols(y: np.ndarray, X: np.ndarray, has_intercept: bool):
    """statsmodels OLS; ``hasconst`` tells it what R's ``summary.lm`` assumes."""
    from statsmodels.regression.linear_model import OLS

    fit = OLS(y, X, hasconst=has_intercept).fit()
    # R's summary.lm test for an essentially perfect fit.
    if fit.scale < (np.mean(fit.fittedvalues) ** 2 + np.var(fit.fittedvalues, ddof=1)) * 1e-30:
        warnings.warn("essentially perfect fit: summary may be unreliable", UserWarning,
                      stacklevel=3)
    return fit


def _coef_table(fit, x_map: np.ndarray,
                terms: tuple[str, ...]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The coefficient table and covariance on X's scale, from a fit on ``X @ x_map``.

    ``beta = x_map beta_s`` and ``cov = x_map cov_s x_map'``; t and p as
    ``summary.lm``, on ``df_resid`` degrees of freedom; 95% bounds.
    """
    index = pd.Index(terms, name="term")
    beta = x_map @ np.asarray(fit.params)
    cov = x_map @ np.asarray(fit.cov_params()) @ x_map.T
    se = np.sqrt(np.diag(cov))
    with np.errstate(divide="ignore", invalid="ignore"):  # se = 0 on a perfect fit
        t = beta / se
    table = pd.DataFrame({"estimate": beta, "se": se, "df": float(fit.df_resid), "t": t,
                          "p": 2 * special.stdtr(fit.df_resid, -np.abs(t))}, index=index)
    return _with_bounds(table, DEFAULT_LEVEL), pd.DataFrame(cov, index=index, columns=index.copy())


def _with_bounds(table: pd.DataFrame, level: float) -> pd.DataFrame:
    """``table`` with ``lower, upper`` = ``estimate +/- t_{df} se`` at ``level`` (R's ``confint.lm``)."""
    check_level(level)
    # special.stdtrit is the t quantile without importing scipy.stats (slow to import).
    half = special.stdtrit(table["df"].to_numpy(), 0.5 + level / 2) * table["se"]
    return table.assign(**{LOWER: table["estimate"] - half, UPPER: table["estimate"] + half})


def _fstatistic(fit) -> FStatistic | None:
    if fit.df_model == 0:  # intercept only: nothing to test
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        return FStatistic(value=float(fit.fvalue), numdf=int(fit.df_model),
                          dendf=int(fit.df_resid), p=float(fit.f_pvalue))


# ----- R's print.summary.lm ------------------------------------------------

_EPS = np.finfo(float).eps
_STARS = ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, "."), (1.0, " "))
_LEGEND = "Signif. codes:  0 \u2018***\u2019 0.001 \u2018**\u2019 0.01 \u2018*\u2019 0.05 \u2018.\u2019 0.1 \u2018 \u2019 1"


def _summary_text(result: LmResult) -> str:
    lines = ["Call:", f"lm(formula = {result.formula}, data = {result.data_name})", "",
             "Residuals:", _residual_block(result.residuals, result.df_resid), "", "Coefficients:",
             _coefficient_block(result.fixef), "---", _LEGEND, "",
             f"Residual standard error: {_signif(result.sigma)} on {result.df_resid} "
             "degrees of freedom"]
    if result.n_dropped:
        lines.append(f"  ({result.n_dropped} observation{'s' if result.n_dropped > 1 else ''} "
                     "deleted due to missingness)")
    if result.fstatistic is not None:
        f = result.fstatistic
        lines += [f"Multiple R-squared:  {result.r_squared:.{DIGITS}g},\tAdjusted R-squared:  "
                  f"{result.adj_r_squared:.{DIGITS}g} ",
                  f"F-statistic: {f.value:.{DIGITS}g} on {f.numdf} and {f.dendf} DF,  p-value: "
                  f"{_format_pvalues([f.p], DIGITS)[0]}"]
    return "\n".join(lines)


def _signif(value: float, digits: int = DIGITS) -> str:
    """R's ``format(signif(x, digits))``: fixed notation unless tiny or huge."""
    rounded = float(f"{value:.{digits}g}")
    if rounded == 0 or 1e-4 <= abs(rounded) < 1e15:
        return np.format_float_positional(rounded, trim="-")
    return f"{rounded:.{digits}g}"


def _residual_block(residuals: np.ndarray, df_resid: int) -> str:
    """Residual quantiles (every residual up to 5 residual df), as R prints a named vector."""
    if df_resid > 5:
        names = ["Min", "1Q", "Median", "3Q", "Max"]
        values = zapsmall(np.quantile(residuals, [0, 0.25, 0.5, 0.75, 1]), DIGITS + 1)
    else:
        names, values = [str(i + 1) for i in range(len(residuals))], residuals
    texts = format_like_r(values, DIGITS)
    # R prints a named vector with one common column width.
    width = max(len(text) for text in texts + names)
    return "\n".join([" ".join(name.rjust(width) for name in names),
                      " ".join(text.rjust(width) for text in texts)])


def _coefficient_block(coef: pd.DataFrame) -> str:
    """R's ``printCoefmat`` for estimate, se, t and p, with significance stars."""
    coef_se = np.concatenate([coef["estimate"], coef["se"]])
    magnitudes = np.abs(coef_se[np.isfinite(coef_se) & (coef_se != 0)])
    smallest = 1 + int(np.floor(np.log10(magnitudes.min()))) if magnitudes.size else 1
    texts = format_like_r(np.round(coef_se, max(1, DIGITS - smallest)), DIGITS)
    p = len(coef)
    columns = {"Estimate": texts[:p], "Std. Error": texts[p:],
               "t value": format_like_r(np.round(coef["t"].to_numpy(), DIGITS - 1), DIGITS),
               "Pr(>|t|)": _format_pvalues(coef["p"].to_numpy(), DIGITS - 1),
               "": [_stars(value) for value in coef["p"]]}
    names = list(coef.index)
    widths = {name: max(len(name), *(len(cell) for cell in cells)) for name, cells in columns.items()}
    label_width = max(len(name) for name in names)
    rows = [" " * label_width + " " + " ".join(h.rjust(widths[h]) if h else h.ljust(widths[h])
                                              for h in columns)]
    for i, name in enumerate(names):
        cells = [columns[h][i].rjust(widths[h]) if h else columns[h][i].ljust(widths[h])
                 for h in columns]
        rows.append(name.ljust(label_width) + " " + " ".join(cells))
    return "\n".join(row.rstrip() for row in rows)


def _stars(p: float) -> str:
    return next((symbol for cut, symbol in _STARS if p <= cut), " ")


def _format_pvalues(pvalues, digits: int) -> list[str]:
    """R's ``format.pval``: ``< eps`` below machine precision, else ``digits`` digits."""
    pvalues = np.asarray(pvalues, dtype=float)
    tiny = pvalues < _EPS
    texts = [""] * len(pvalues)
    fixed = [i for i, p in enumerate(pvalues) if not tiny[i] and (p == 0 or p >= 1e-3 or np.isnan(p))]
    small = [i for i, p in enumerate(pvalues) if not tiny[i] and i not in fixed]
    for i, text in zip(fixed, format_like_r(pvalues[fixed], digits)):
        texts[i] = text
    for i, text in zip(small, _scientific(pvalues[small], digits)):
        texts[i] = text
    if tiny.any():
        eps_digits = max(1, digits - 2)
        others = [texts[i] for i in fixed + small]
        width = max((len(t) for t in others), default=0)
        if others and eps_digits > 1 and eps_digits + 6 > width:
            eps_digits = max(1, width - 7)
        sep = "" if eps_digits == 1 and (not others or width <= 6) else " "
        eps_text = _scientific(np.array([_EPS]), eps_digits)[0]
        for i in np.flatnonzero(tiny):
            texts[i] = f"<{sep}{eps_text}"
    return texts


def _scientific(values: np.ndarray, digits: int) -> list[str]:
    """R's scientific ``format``: the fewest shared significant digits up to ``digits``."""
    if values.size == 0:
        return []
    needed = 1
    for value in values:
        mantissa = f"{value:.{digits - 1}e}".split("e")[0].replace("-", "").replace(".", "")
        needed = max(needed, len(mantissa.rstrip("0")) or 1)
    return [f"{value:.{needed - 1}e}" for value in values]
