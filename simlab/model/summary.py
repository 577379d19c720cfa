"""lme4-style printed summary of a fitted model, formatted the way R prints numbers."""
from __future__ import annotations

import numpy as np

from simlab._display import SummaryHTML

__all__ = ["ModelSummary", "format_like_r"]

#: lme4's summary prints with ``digits = max(3, getOption("digits") - 3)``.
DIGITS = 4


def format_like_r(values, digits: int = DIGITS) -> list[str]:
    """Format numbers jointly as R's ``format(x, digits = digits)`` does.

    Every value keeps at least ``digits`` significant digits and all share the
    number of decimals the most demanding one needs (trailing zeros of a
    value's own rounding are not demanded, as in R's ``formatReal``).
    """
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values) & (values != 0)]
    decimals = 0
    for value in finite:
        text = f"{value:.{digits - 1}e}"            # rounded to `digits` significant digits
        mantissa, exponent = text.split("e")
        significant = len(mantissa.replace("-", "").replace(".", "").rstrip("0")) or 1
        decimals = max(decimals, significant - 1 - int(exponent))
    decimals = min(decimals, 15)
    return ["NA" if np.isnan(v) else f"{v:.{decimals}f}" for v in values]


def zapsmall(values, digits: int) -> np.ndarray:
    """R's ``zapsmall``: round away noise relative to the largest magnitude."""
    values = np.asarray(values, dtype=float)
    biggest = np.max(np.abs(values))
    if biggest == 0:
        return values
    return np.round(values, max(0, digits - int(np.ceil(np.log10(biggest)))))


def text_table(columns: dict[str, list[str]], *, row_names: list[str] | None = None,
               left: tuple[str, ...] = ()) -> str:
    """Aligned plain-text table; columns in ``left`` are left-aligned, the rest right."""
    headers = list(columns)
    cells = [list(columns[h]) for h in headers]
    if row_names is not None:
        headers, cells, left = ["", *headers], [row_names, *cells], ("", *left)
    widths = [max(len(h), *(len(c) for c in col)) for h, col in zip(headers, cells)]
    def line(items):
        return " ".join(item.ljust(w) if h in left else item.rjust(w)
                        for item, w, h in zip(items, widths, headers)).rstrip()
    rows = [line(headers)] + [line(row) for row in zip(*cells)]
    return "\n".join(rows)


class ModelSummary(SummaryHTML):
    """The text of ``summary(lmer(...))``; prints itself in a REPL, as HTML in a notebook."""

    def __init__(self, result) -> None:
        self._result = result

    def __str__(self) -> str:
        r = self._result
        kind = "REML" if r.reml else "maximum likelihood"
        title = f"Linear mixed model fit by {kind}"
        lines = [f"{title}. t-tests use Satterthwaite's method ['lmerModLmerTest']"
                 if r.p_value_method == "satterthwaite" else f"{title} ['lmerMod']",
                 f"Formula: {r.formula}", f"   Data: {r.data_name}", ""]
        lines += [f"REML criterion at convergence: {r.reml_criterion:.1f}" if r.reml
                  else _fit_statistics(r)]
        lines += ["", "Scaled residuals: ", _scaled_residuals(r), "",
                  "Random effects:", _random_effects(r),
                  f"Number of obs: {r.nobs}, groups:  {r.design.group_name}, {r.ngroups}", "",
                  "Fixed effects:", _fixed_effects(r)]
        if r.n_dropped:
            lines.append(f"({r.n_dropped} observation(s) deleted due to missingness)")
        lines += list(r.messages)
        return "\n".join(lines)

    __repr__ = __str__


def _fit_statistics(r) -> str:
    stats = {"AIC": r.aic, "BIC": r.bic, "logLik": r.loglik, "deviance": r.deviance,
             "df.resid": r.nobs - r.npar}
    return text_table({k: [f"{v:.1f}" if k != "df.resid" else f"{v:d}"] for k, v in stats.items()})


def _scaled_residuals(r) -> str:
    quantiles = zapsmall(np.quantile(r.residuals / r.sigma, [0, 0.25, 0.5, 0.75, 1]), DIGITS + 1)
    return text_table(dict(zip(["Min", "1Q", "Median", "3Q", "Max"],
                               ([text] for text in format_like_r(quantiles)))))


def _random_effects(r) -> str:
    """lme4's ``print(VarCorr)``: a group's name on its first row, correlations to the right."""
    vc = r.varcorr()
    sds = vc[vc["var2"].isna()].reset_index(drop=True)
    groups = [name if k == 0 or name != sds["grp"][k - 1] else "" for k, name in enumerate(sds["grp"])]
    columns = {"Groups": groups, "Name": [v if isinstance(v, str) else "" for v in sds["var1"]],
               "Variance": _padded(format_like_r(sds["sdcor"] ** 2)),
               "Std.Dev.": _padded(format_like_r(sds["sdcor"]))}
    columns.update(_correlation_columns(vc, sds))
    table = text_table(columns, left=tuple(columns))
    return "\n".join(" " + row for row in table.splitlines())


def _padded(texts: list[str]) -> list[str]:
    """Right-justify to a common width, as R's ``format`` of a column does."""
    width = max(map(len, texts))
    return [text.rjust(width) for text in texts]


def _correlation_columns(vc, sds) -> dict[str, list[str]]:
    """The lower triangle of each block's correlations, rounded to 2 decimals as lme4 prints."""
    pairs = vc[vc["var2"].notna()]
    if pairs.empty:
        return {}
    width = int(sds.groupby("grp").size().max()) - 1
    out = {("Corr" if j == 0 else " " * j): [""] * len(sds) for j in range(width)}
    for k, row in sds.iterrows():
        earlier = pairs[(pairs["grp"] == row["grp"]) & (pairs["var2"] == row["var1"])]
        for j, value in enumerate(earlier["sdcor"]):
            out["Corr" if j == 0 else " " * j][k] = f"{value:.2f}"
    return out


def _fixed_effects(r) -> str:
    """lme4's table, with lmerTest's df and Pr(>|t|) (and stars) when the model has df."""
    fe = r.fixef
    coef_se = format_like_r(np.concatenate([fe["estimate"], fe["se"]]))
    p = len(fe)
    columns = {"Estimate": coef_se[:p], "Std. Error": coef_se[p:]}
    with_df = r.p_value_method != "normal"
    if with_df:
        columns["df"] = format_like_r(fe["df"].to_numpy())
    columns["t value"] = format_like_r(np.round(fe["t"].to_numpy(), DIGITS - 1))
    if not with_df:
        return text_table(columns, row_names=list(fe.index), left=("",))
    columns["Pr(>|t|)"] = [_format_p(value) for value in fe["p"]]
    columns[" "] = [_stars(value) for value in fe["p"]]
    table = text_table(columns, row_names=list(fe.index), left=("", " "))
    return table + "\n---\nSignif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"


def _format_p(value: float) -> str:
    """R's ``format.pval`` with 3 significant digits and ``eps = 2e-16``."""
    return "<2e-16" if value < 2e-16 else f"{value:.3g}"


def _stars(value: float) -> str:
    """R's significance stars."""
    for cut, mark in ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, ".")):
        if value < cut:
            return mark
    return ""
