"""The read-only result of :func:`simlab.lmer`."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from simlab._checks import check_bool, check_level
from simlab._display import SummaryHTML
from simlab._vocabulary import DEFAULT_LEVEL, LOWER, RE_KEYS, UPPER

from . import engine
from .ddf import DDF_METHODS, denominator_df, normal_quantile, t_test_p
from .design import Design
from .estimates import FitEstimates
from .ftest import F_METHODS, check_contrast, f_test

__all__ = ["LmerResult", "require_lmer", "F_COLUMNS"]

#: lmerTest's F-test columns (``Sum Sq, Mean Sq, NumDF, DenDF, F value, Pr(>F)``), snake case.
F_COLUMNS = ["sum_sq", "mean_sq", "num_df", "den_df", "f", "p"]


@dataclass(frozen=True, eq=False)
class LmerResult(SummaryHTML):
    """A fitted linear mixed model, with lme4's (and mixedup's) tables.

    Do not build it directly; call :func:`simlab.lmer`. Every table is a
    tidy :class:`pandas.DataFrame` labelled with the names R prints, and
    ``str(result)`` is the lme4-style summary (HTML of it in a notebook).
    Interval bounds are ``lower`` and ``upper`` in every table; their level
    is the ``level=`` option of the call (95% by default).

    Attributes
    ----------
    design : Design
        The checked data the model was fitted to.
    estimates : FitEstimates
        The engine's raw estimates and convergence information.
    data_name : str
        How the data is named in the summary (``Data:`` line).
    """

    design: Design
    estimates: FitEstimates
    data_name: str = field(default="data")

    # ----- fixed effects -------------------------------------------------
    @cached_property
    def fixef(self) -> pd.DataFrame:
        """Fixed effects: ``estimate, se, df, t, p, lower, upper``.

        lmerTest's ``summary`` table: ``df`` and ``p`` from Satterthwaite's
        method (:attr:`p_value_method`). The interval is Wald's 95% interval
        (normal), lme4's ``confint(method = "Wald")`` and mixedup's;
        :meth:`fixed_tests` gives another ``level`` or Kenward-Roger's df.
        """
        return self.fixed_tests(self.p_value_method)

    @property
    def p_value_method(self) -> str:
        """The df method of :attr:`fixef`: ``"satterthwaite"``, as lmerTest's summary."""
        return "satterthwaite"

    def fixed_tests(self, ddf: str = "satterthwaite", *,
                    level: float = DEFAULT_LEVEL) -> pd.DataFrame:
        """t tests of the fixed effects with the denominator df of ``ddf``.

        Parameters
        ----------
        ddf : {"satterthwaite", "kenward-roger", "normal"}
            lmerTest's default; pbkrtest's Kenward-Roger (its adjusted
            covariance gives ``se``, as ``summary(fit, ddf = "Kenward-Roger")``);
            or the normal approximation (``df = inf``).
        level : float, default 0.95
            Coverage of the interval ``estimate +/- z se`` (normal quantile
            ``z``; lme4's ``confint(method = "Wald")`` with the default ``ddf``).

        Returns
        -------
        DataFrame
            ``estimate, se, df, t, p, lower, upper`` by term;
            ``fixed_tests()`` is :attr:`fixef`.

        Raises
        ------
        ValueError
            For an unknown ``ddf`` or a ``level`` not strictly between 0 and 1.
        """
        if ddf not in DDF_METHODS:
            raise ValueError(f"ddf must be one of {DDF_METHODS}, got {ddf!r}")
        z = normal_quantile(check_level(level))
        est = self.estimates.beta
        se = np.sqrt(np.diag(self.estimates.vcov))
        df = np.full(est.shape, np.inf)
        if ddf != "normal":
            df = self._ddf.df_satterthwaite[0] if ddf == "satterthwaite" else self._ddf.df_kr[0]
            if ddf == "kenward-roger":
                se = np.sqrt(np.diag(self._ddf.vcov_kr[0]))
        return pd.DataFrame({"estimate": est, "se": se, "df": df, "t": est / se,
                             "p": t_test_p(est / se, df),
                             LOWER: est - z * se, UPPER: est + z * se},
                            index=pd.Index(self.design.terms, name="term"))

    @cached_property
    def _ddf(self):
        return denominator_df(self._ingredients)

    # ----- F tests ------------------------------------------------------
    def anova(self, *, ddf: str = "satterthwaite") -> pd.DataFrame:
        """lmerTest's ``anova(fit)``: a Type III F test of each fixed-effect term.

        A term's hypothesis is that all its coefficients are 0 (a factor's
        several columns jointly), lmerTest's Type III hypothesis for a term
        that no other term contains. ``simlab.anova(m0, m1)`` is the
        likelihood-ratio comparison of models instead.

        Parameters
        ----------
        ddf : {"satterthwaite", "kenward-roger"}
            lmerTest's default, or ``anova(fit, ddf = "Kenward-Roger")``
            (pbkrtest's scaled F on its adjusted covariance, REML fits only).

        Returns
        -------
        DataFrame
            ``sum_sq, mean_sq, num_df, den_df, f, p`` by term (no intercept),
            lmerTest's ``Sum Sq`` to ``Pr(>F)``; ``attrs["heading"]`` is R's title.

        Raises
        ------
        ValueError
            For an unknown ``ddf``, Kenward-Roger on an ML fit, a model without
            df methods yet (random slopes), or a term contained in another
            (``a`` in ``a * b``), whose Type III hypothesis this does not build:
            test it with :meth:`contest` and an explicit ``L``.
        """
        contrasts = self._term_contrasts()
        rows = [self._f_row(L, ddf, 0.0) for L in contrasts.values()]
        table = pd.DataFrame(rows, columns=F_COLUMNS,
                             index=pd.Index(list(contrasts), name="term", dtype=object))
        method = "Satterthwaite's" if ddf == "satterthwaite" else "Kenward-Roger's"
        table.attrs["heading"] = f"Type III Analysis of Variance Table with {method} method"
        return table

    def contest(self, L=None, *, ddf: str = "satterthwaite", rhs=0.0) -> pd.DataFrame:
        """lmerTest's ``contest(fit, L, joint = TRUE)``: the F test of ``L beta = rhs``.

        Parameters
        ----------
        L : array-like, shape (q, p) or (p,), or DataFrame, optional
            Rows of full rank, one column per fixed effect in :attr:`fixef`'s
            order; a DataFrame's columns are matched to the term names. By
            default every fixed effect but the intercept (the overall F test).
        ddf : {"satterthwaite", "kenward-roger"}
            As in :meth:`anova`.
        rhs : float or array-like, shape (q,)

        Returns
        -------
        DataFrame
            One row, ``sum_sq, mean_sq, num_df, den_df, f, p`` as :meth:`anova`.

        Raises
        ------
        ValueError
            For an ``L`` of the wrong shape, with missing values or dependent
            rows, an ``rhs`` of the wrong length, and as :meth:`anova`.
        """
        terms = list(self.design.terms)
        if L is None:
            L = np.eye(len(terms))[[j for j, term in enumerate(terms) if term != "(Intercept)"]]
            if not len(L):
                raise ValueError("the model has no fixed effect but the intercept, so there is no "
                                 "overall F test; pass L, e.g. fit.contest([1]) for the intercept")
        if isinstance(L, pd.DataFrame):
            unknown = sorted(set(map(str, L.columns)) ^ set(terms))
            if unknown or L.columns.has_duplicates:
                raise ValueError(f"the columns of L must be the fixed effects {terms} once "
                                 f"each; these are not matched: {unknown}")
            L = L[terms].to_numpy()
        L = check_contrast(L, len(terms))
        rhs = np.broadcast_to(np.asarray(rhs, dtype=float), L.shape[:1]) if np.ndim(rhs) == 0 \
            else np.asarray(rhs, dtype=float)
        if rhs.shape != L.shape[:1] or not np.isfinite(rhs).all():
            raise ValueError(f"rhs must be a finite number or {L.shape[0]} of them (one per row "
                             f"of L); got {np.shape(rhs)}")
        return pd.DataFrame([self._f_row(L, ddf, rhs)], columns=F_COLUMNS,
                            index=pd.Index(["L"], name="hypothesis"))

    def _f_row(self, L: np.ndarray, ddf: str, rhs) -> list[float]:
        """``sum_sq, mean_sq, num_df, den_df, f, p`` of ``L beta = rhs``, as lmerTest's ``contestMD``."""
        if ddf not in F_METHODS:
            raise ValueError(f"ddf must be one of {F_METHODS}, got {ddf!r}")
        if ddf == "kenward-roger" and not self.reml:
            raise ValueError("Kenward-Roger's method is for REML fits only (as in lmerTest); "
                             "refit with REML or use ddf='satterthwaite'")
        test = f_test(self._ingredients, self.estimates.beta[None], L, ddf, rhs)
        # lmerTest's Mean Sq is the unscaled F (Kenward-Roger's before its scaling) times sigma^2.
        mean_sq = float(test.wald_f[0]) * self.sigma ** 2
        return [mean_sq * test.num_df, mean_sq, test.num_df, float(test.den_df[0]),
                float(test.f_value[0]), float(test.p[0])]

    def _term_contrasts(self) -> dict[str, np.ndarray]:
        """Each non-intercept term's hypothesis: its columns of ``X`` are 0."""
        terms = [term for term in self.design.fixed_terms if term.label != "(Intercept)"]
        contained = [a.label for a in terms for b in terms
                     if a.variables < b.variables and a.numeric == b.numeric]
        if contained:
            raise ValueError(
                f"the term(s) {sorted(set(contained))} are contained in interactions, and their "
                "Type III hypothesis depends on lmerTest's marginal contrasts, which simlab does "
                "not build; test the hypothesis you mean with fit.contest(L)")
        identity = np.eye(len(self.design.terms))
        return {term.label: identity[list(term.columns)] for term in terms}

    @cached_property
    def _ingredients(self):
        return engine.test_ingredients(self.design, self.estimates)

    @cached_property
    def vcov(self) -> pd.DataFrame:
        """Covariance matrix of the fixed effects."""
        terms = pd.Index(self.design.terms, name="term")
        return pd.DataFrame(self.estimates.vcov, index=terms, columns=terms)

    # ----- variance components -------------------------------------------
    @cached_property
    def varcomp(self) -> pd.DataFrame:
        """Variance components: ``group, effect, variance, sd, var_prop``.

        One row per random term of the grouping factor, then ``Residual``.
        ``var_prop`` is each variance's share of the total.
        """
        variance = np.append(np.diag(self.estimates.re_cov), self.estimates.sigma ** 2)
        q = len(self.design.random_terms)
        table = pd.DataFrame({
            "group": [self.design.group_name] * q + ["Residual"],
            "effect": [*self.design.random_terms, ""],
            "variance": variance,
            "sd": np.sqrt(variance),
            "var_prop": variance / variance.sum(),
        })
        return table

    def varcorr(self) -> pd.DataFrame:
        """lme4's ``as.data.frame(VarCorr(fit))``: ``grp, var1, var2, vcov, sdcor``.

        Per block of correlated effects, the variances (``sdcor`` the sd),
        then the covariances of its lower triangle by columns (``sdcor`` the
        correlation); then the residual. Independent terms, as in
        ``(1 + x || g)``, are blocks of their own, named ``g``, ``g.1``, ...
        """
        cov, terms = self.estimates.re_cov, self.design.random_terms
        sd = np.sqrt(np.diag(cov))
        blocks = [range(len(terms))] if self.design.correlated else [range(j, j + 1) for j in range(len(terms))]
        rows = []
        for number, block in enumerate(blocks):
            grp = self.design.group_name + (f".{number}" if number else "")
            rows += [(grp, terms[a], None, cov[a, a], sd[a]) for a in block]
            with np.errstate(divide="ignore", invalid="ignore"):
                rows += [(grp, terms[a], terms[b], cov[a, b], cov[a, b] / (sd[a] * sd[b]))
                         for a in block for b in block if b > a]
        rows.append(("Residual", None, None, self.sigma ** 2, self.sigma))
        return pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])

    @property
    def sigma(self) -> float:
        """Residual standard deviation."""
        return self.estimates.sigma

    @property
    def tau(self) -> float:
        """Standard deviation of the random intercept of a ``(1 | g)`` model."""
        self._require_random_intercept("tau")
        return float(np.sqrt(self.estimates.re_cov[0, 0]))

    @property
    def theta(self) -> np.ndarray:
        """lme4's ``theta`` (``getME(m, "theta")``), the parameters lme4 optimises.

        The lower triangle, column by column, of the relative covariance
        factor ``Lambda`` (``re_cov = sigma^2 Lambda Lambda'``); for
        ``(1 | g)`` the one value ``tau / sigma``.
        """
        return self.estimates.theta.copy()

    @property
    def icc(self) -> float:
        """Intraclass correlation ``tau^2 / (tau^2 + sigma^2)`` of a ``(1 | g)`` model."""
        self._require_random_intercept("icc")
        tau2 = self.estimates.re_cov[0, 0]
        return float(tau2 / (tau2 + self.sigma ** 2))

    def _require_random_intercept(self, name: str) -> None:
        if not self.design.random_intercept_only:
            raise ValueError(
                f"{name} is defined for a random intercept (1 | g) only; this model has the random "
                f"effects {list(self.design.random_terms)}, whose variance depends on the value of "
                "the slope variables: read result.varcomp (sd per term) and result.varcorr() "
                "(with the correlations) instead")

    # ----- random effects ------------------------------------------------
    def ranef(self, *, level: float = DEFAULT_LEVEL) -> pd.DataFrame:
        """Conditional modes with lme4's conditional sds (``condVar``).

        Parameters
        ----------
        level : float, default 0.95
            Coverage of the interval ``value +/- z se`` (as mixedup's).

        Returns
        -------
        DataFrame
            ``group_var, effect, group, value, se, lower, upper``, one row per
            group and random term.
        """
        return self._random_table(self.estimates.modes, self.estimates.mode_sd, level)

    def coef(self, *, level: float = DEFAULT_LEVEL) -> pd.DataFrame:
        """Group-specific coefficients: fixed effect plus random effect.

        ``se = sqrt(se_ranef^2 + se_fixef^2)``, mixedup's ``extract_coef``.

        Parameters
        ----------
        level : float, default 0.95
            Coverage of the interval ``value +/- z se``.

        Returns
        -------
        DataFrame
            The columns of :meth:`ranef`.
        """
        terms = list(self.design.terms)
        # A random term with no fixed counterpart (y ~ 1 + (x | g)) adds 0, as in lme4.
        index = [terms.index(name) if name in terms else -1 for name in self.design.random_terms]
        has_fixed = np.array(index) >= 0
        fixed = np.where(has_fixed, self.estimates.beta[index], 0.0)
        fixed_var = np.where(has_fixed, np.diag(self.estimates.vcov)[index], 0.0)
        return self._random_table(self.estimates.modes + fixed,
                                  np.sqrt(self.estimates.mode_sd ** 2 + fixed_var), level)

    def _random_table(self, value: np.ndarray, se: np.ndarray, level: float) -> pd.DataFrame:
        z = normal_quantile(check_level(level))
        n_groups, q = value.shape
        group_var, effect, group = RE_KEYS
        return pd.DataFrame({
            group_var: self.design.group_name,
            effect: np.repeat(np.array(self.design.random_terms, dtype=object)[None], n_groups, 0).ravel(),
            group: np.repeat(self.design.levels.astype(str).to_numpy(), q),
            "value": value.ravel(), "se": se.ravel(),
            LOWER: (value - z * se).ravel(), UPPER: (value + z * se).ravel(),
        })

    def re_sim(self, *, nsim: int = 1000, seed=None) -> pd.DataFrame:
        """Draw each group's random effects from their conditional distribution (merTools ``REsim``).

        The method form of :func:`simlab.model.posterior.re_sim`, which
        documents the parameters, the columns (the keys of :meth:`ranef`, then
        the draws' mean, median and sd) and the errors.

        Parameters
        ----------
        nsim : int, default 1000
        seed : None, int, numpy.random.SeedSequence or numpy.random.Generator

        Returns
        -------
        DataFrame
        """
        from .posterior import re_sim
        return re_sim(self, nsim=nsim, seed=seed)

    # ----- predictions ---------------------------------------------------
    def predict(self, newdata: pd.DataFrame | None = None, *, random_effects: bool = True,
                allow_new_levels: bool = False) -> pd.Series:
        """Predictions with or without the groups' random effects.

        Parameters
        ----------
        newdata : DataFrame, optional
            Data to predict for; by default the rows the model was fitted to.
        random_effects : bool
            Add each group's conditional mode (lme4's ``re.form = NULL``);
            ``False`` gives the population prediction (``re.form = NA``).
        allow_new_levels : bool
            Give groups not seen at fit time the population prediction.
            Without it they raise a ``ValueError``.

        Returns
        -------
        Series
            ``prediction``, indexed like ``newdata`` (or the rows fitted).

        Raises
        ------
        TypeError
            If ``newdata`` is not a DataFrame, or a flag is not ``True``/``False``.
        ValueError
            If ``newdata`` lacks a model column, has a missing or infinite
            value, or a group not seen at fit time (without ``allow_new_levels``).
        """
        random_effects = check_bool("random_effects", random_effects)
        allow_new_levels = check_bool("allow_new_levels", allow_new_levels)
        if newdata is None:
            X, Z, codes = self.design.X, self.design.Z, self.design.groups
            index = self.design.row_index
        else:
            X = self._new_fixed_matrix(newdata)
            index = newdata.index
            if random_effects:
                codes = self._new_group_codes(newdata, allow_new_levels=allow_new_levels)
                Z = self.design.random_matrix(newdata)
        prediction = X @ self.estimates.beta
        if random_effects:
            modes = np.where(codes[:, None] >= 0, self.estimates.modes[np.maximum(codes, 0)], 0.0)
            prediction = prediction + (Z * modes).sum(axis=1)
        return pd.Series(prediction, index=index, name="prediction")

    def predict_interval(self, newdata: pd.DataFrame | None = None, *,
                         level: float = DEFAULT_LEVEL, nsim: int = 1000,
                         random_effects: bool = True, allow_new_levels: bool = False,
                         seed=None) -> pd.DataFrame:
        """Prediction intervals by simulation (merTools ``predictInterval``).

        Each draw combines ``beta ~ MVN(beta-hat, vcov)``, the group's effect
        ``b ~ N(b-hat, condVar)``, ``sigma`` from its scaled inverse chi-square
        distribution and ``N(0, sigma)`` residual noise; see
        :mod:`simlab.model.posterior`.

        Parameters
        ----------
        newdata : DataFrame, optional
            Rows to predict; by default the rows the model was fitted to. Needs
            the fixed-effect columns and, with ``random_effects``, the grouping
            column.
        level : float, default 0.95
            Coverage of the interval, strictly between 0 and 1.
        nsim : int, default 1000
            Draws per row, at least 1.
        random_effects : bool, default True
            As in :meth:`predict`; ``False`` leaves the random effect out
            (merTools' ``which = "fixed"``), the residual noise stays.
        allow_new_levels : bool, default False
            As in :meth:`predict`: a group not seen at fit time raises unless
            allowed; then its effect is drawn from the population,
            ``b ~ N(0, re_cov)``.
        seed : None, int, numpy.random.SeedSequence or numpy.random.Generator
            Passed to :func:`numpy.random.default_rng`.

        Returns
        -------
        DataFrame
            ``fit, lower, upper``: the median of the draws and their
            ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles, indexed like
            ``newdata`` (or the rows fitted).

        Raises
        ------
        TypeError, ValueError
            For a bad argument, or a new group without ``allow_new_levels``;
            the message names the argument and the fix.
        """
        from .posterior import predict_interval
        return predict_interval(self, newdata, level=level, nsim=nsim,
                                random_effects=random_effects,
                                allow_new_levels=allow_new_levels, seed=seed)

    def _new_fixed_matrix(self, newdata: pd.DataFrame) -> np.ndarray:
        """The fixed-effects matrix of ``newdata``, coded as at fit time.

        Raises
        ------
        TypeError
            If ``newdata`` is not a DataFrame.
        ValueError
            If it lacks a column or has a missing or unseen value.
        """
        if not isinstance(newdata, pd.DataFrame):
            raise TypeError(f"newdata must be a pandas DataFrame (or None for the model's own "
                            f"rows), got {type(newdata).__name__}")
        return self.design.fixed_matrix(newdata)

    def _new_group_codes(self, newdata: pd.DataFrame, *, allow_new_levels: bool) -> np.ndarray:
        """Each row's group code in the fit, ``-1`` for a level not seen at fit time.

        The one check of new levels shared by :meth:`predict` and
        :meth:`predict_interval`.

        Raises
        ------
        ValueError
            If the grouping column is absent or has missing values, or if a
            level is new and ``allow_new_levels`` is False (naming the levels
            and the switch).
        """
        group = self.design.group_name
        if group not in newdata.columns:
            raise ValueError(f"newdata needs the grouping column {group!r} to add random effects; "
                             "pass random_effects=False for population predictions")
        if newdata[group].isna().to_numpy().any():
            raise ValueError(f"newdata has missing values in the grouping column {group!r}; drop "
                             "or fill those rows, or pass random_effects=False")
        codes = self.design.group_codes(newdata[group])
        new = sorted(set(map(str, newdata[group][codes < 0])))
        if new and not allow_new_levels:
            raise ValueError(f"newdata has {group!r} levels not in the fitted model: {new[:5]}"
                             f"{' ...' if len(new) > 5 else ''}; pass allow_new_levels=True to "
                             "predict them from the population of groups")
        return codes

    @cached_property
    def fitted(self) -> pd.Series:
        """Fitted values including the random effects, ``fitted``, indexed like the rows fitted."""
        return self.predict().rename("fitted")

    @cached_property
    def residuals(self) -> pd.Series:
        """Response minus fitted values (with random effects), ``residual``, indexed as :attr:`fitted`."""
        return pd.Series(self.design.y - self.fitted.to_numpy(), index=self.design.row_index,
                         name="residual")

    # ----- fit statistics ------------------------------------------------
    @property
    def reml(self) -> bool:
        return self.estimates.reml

    @property
    def reml_criterion(self) -> float:
        """REML criterion at the optimum (lme4's ``REMLcrit``); NaN for ML fits."""
        return self.estimates.criterion if self.reml else float("nan")

    @cached_property
    def deviance(self) -> float:
        """ML deviance (-2 log-likelihood) at these estimates.

        For a REML fit this is lme4's ``deviance(fit, REML = FALSE)``: the ML
        deviance evaluated at the REML estimates.
        """
        if not self.reml:
            return self.estimates.criterion
        from .engine import ml_deviance
        return ml_deviance(self.design, self.estimates.beta, self.estimates.re_cov, self.sigma)

    @property
    def loglik(self) -> float:
        """Log-likelihood of the fit: REML for REML fits, ML otherwise (R's ``logLik``)."""
        return -0.5 * self.estimates.criterion

    def refit_ml(self) -> "LmerResult":
        """The same model fitted by maximum likelihood (lme4's ``refitML``); itself if ML already."""
        if not self.reml:
            return self
        from .lmer import fit_design
        return LmerResult(design=self.design, data_name=self.data_name,
                          estimates=fit_design(self.design, False, self.estimates.engine))

    @property
    def npar(self) -> int:
        """Parameters counted by R's ``logLik`` ``df``: fixed effects, ``theta`` and ``sigma``."""
        return len(self.design.terms) + len(self.estimates.theta) + 1

    @property
    def aic(self) -> float:
        """R's ``AIC``: ``-2 logLik + 2 npar``, with the log-likelihood as fitted (REML or ML)."""
        return -2.0 * self.loglik + 2.0 * self.npar

    @property
    def bic(self) -> float:
        """R's ``BIC``: ``-2 logLik + log(nobs) npar``."""
        return -2.0 * self.loglik + np.log(self.nobs) * self.npar

    @property
    def nobs(self) -> int:
        return self.design.nobs

    @property
    def ngroups(self) -> int:
        return self.design.n_groups

    @property
    def n_dropped(self) -> int:
        """Rows dropped for missing values (R's na.omit)."""
        return self.design.n_dropped

    @property
    def converged(self) -> bool:
        return self.estimates.converged

    @property
    def singular(self) -> bool:
        """The optimum sits on the boundary ``theta = 0`` (lme4's isSingular)."""
        return self.estimates.singular

    @property
    def messages(self) -> tuple[str, ...]:
        return self.estimates.messages

    @property
    def formula(self) -> str:
        return self.design.formula.text

    @property
    def response(self) -> str:
        """The response column."""
        return self.design.formula.response

    @property
    def group_name(self) -> str:
        """The grouping column."""
        return self.design.group_name

    def model_matrix(self) -> pd.DataFrame:
        """The fixed-effects matrix X of the rows fitted (lme4's ``model.matrix``).

        Columns are R's term names; the index is the data's rows used.
        """
        return pd.DataFrame(self.design.X, index=self.design.row_index,
                            columns=list(self.design.terms))

    def group_factor(self) -> pd.Series:
        """Each fitted row's group, categorical in R's level order (lme4's ``getME(, "flist")``)."""
        values = pd.Categorical.from_codes(self.design.groups, categories=self.design.levels)
        return pd.Series(values, index=self.design.row_index, name=self.group_name)

    @property
    def random_terms(self) -> tuple[str, ...]:
        """R's names of the random effects, e.g. ``("(Intercept)", "Days")``."""
        return self.design.random_terms

    # ----- intervals and printing ----------------------------------------
    def confint(self, *, method: str = "profile", level: float = DEFAULT_LEVEL,
                nsim: int = 1000, seed=None) -> pd.DataFrame:
        """Confidence intervals in lme4's row order, columns ``lower, upper``.

        Parameters
        ----------
        method : {"profile", "wald", "boot"}
            ``profile`` profiles the ML deviance (even for REML fits) and cuts
            it at the chi-square(1) quantile, as lme4 does; ``wald`` gives
            ``estimate +/- z se`` and NaN for the variance parameters;
            ``boot`` is a parametric bootstrap with percentile intervals.
        level : float, default 0.95
        nsim : int, default 1000
            Bootstrap replicates.
        seed : int, SeedSequence or Generator, optional
            Makes ``boot`` reproducible.

        Returns
        -------
        DataFrame
            ``lower, upper`` by ``parameter`` (lme4's ``oldNames = FALSE`` names).
        """
        from .confint import confint
        return confint(self, method=method, level=level, nsim=nsim, seed=seed)

    def to_dict(self, *, level: float = DEFAULT_LEVEL, method: str = "profile",
                nsim: int = 1000, seed=None) -> dict:
        """The fit as plain, JSON-ready Python data (what ``simlab fit --json`` prints).

        Parameters
        ----------
        level : float, default 0.95
            Level of every interval in the record (fixef, confint, ranef, coef).
        method, nsim, seed
            As in :meth:`confint`.

        Returns
        -------
        dict
            Scalars (formula, data, engine, nobs, ..., ``confint_method``,
            ``level``), then the tables ``fixef``, ``varcomp``, ``confint``,
            ``ranef`` and ``coef`` as lists of records. Only ``str``, ``int``,
            ``float``, ``bool``, ``None``, lists and dicts: NaN and infinities
            are ``None`` (``json.dumps(..., allow_nan=False)`` accepts it), and
            ``tau`` and ``icc`` are ``None`` for a model with random slopes.
        """
        ci = self.confint(method=method, level=level, nsim=nsim, seed=seed)
        one_intercept = self.design.random_intercept_only
        scalars = {
            "formula": self.formula, "data": self.data_name, "engine": self.estimates.engine,
            "nobs": self.nobs, "ngroups": self.ngroups, "n_dropped": self.n_dropped,
            "reml": self.reml, "reml_criterion": self.reml_criterion, "loglik": self.loglik,
            "deviance": self.deviance, "sigma": self.sigma,
            "tau": self.tau if one_intercept else None, "singular": self.singular,
            "converged": self.converged, "messages": list(self.messages),
            "icc": self.icc if one_intercept else None,
            "confint_method": method, "level": level,
        }
        record = {key: _plain(value) for key, value in scalars.items()}
        record.update(fixef=_records(self.fixed_tests(self.p_value_method, level=level)
                                     .reset_index()),
                      varcomp=_records(self.varcomp), confint=_records(ci.reset_index()),
                      ranef=_records(self.ranef(level=level)),
                      coef=_records(self.coef(level=level)))
        return record

    def summary(self):
        """The lme4-style summary; ``print`` it or read it as text."""
        from .summary import ModelSummary
        return ModelSummary(self)

    def __str__(self) -> str:
        return str(self.summary())

    def __repr__(self) -> str:
        kind = "REML" if self.reml else "ML"
        sds = ", ".join(f"sd_{name}={sd:.4g}" for name, sd in
                        zip(self.design.random_terms, np.sqrt(np.diag(self.estimates.re_cov))))
        return (f"<LmerResult {self.formula!r} ({kind}, {self.estimates.engine} engine): "
                f"nobs={self.nobs}, ngroups={self.ngroups}, sigma={self.sigma:.4g}, {sds}>")


def _records(frame: pd.DataFrame) -> list[dict]:
    """A table as JSON-ready records (see :func:`_plain`)."""
    return [{str(key): _plain(value) for key, value in row.items()}
            for row in frame.to_dict(orient="records")]


def _plain(value):
    """A JSON-safe Python value: numpy scalars unwrapped, non-finite floats as None."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def require_lmer(model: object, caller: str) -> None:
    """Raise a TypeError unless ``model`` is an :class:`LmerResult`, naming ``caller``."""
    if isinstance(model, LmerResult):
        return
    kind = type(model).__name__
    hint = " (a model without random effects)" if kind == "LmResult" else ""
    raise TypeError(f"{caller} needs a mixed model fitted with simlab.lmer, e.g. "
                    f"simlab.lmer('y ~ x + (1 | group)', data); got {kind}{hint}")
