"""From a parsed formula and a DataFrame to checked model matrices.

The fixed part goes through formulaic, which keeps pandas Categorical order
and gives strings treatment coding with the first sorted level as reference,
as R does. Column names are rewritten to the names R prints
(``(Intercept)``, ``sexfemale``). Every check that can fail on user data
lives here, so the fitting code only ever sees valid arrays.

formulaic only builds matrices, in :func:`_model_matrix`, after
:func:`simlab.model.formula.check_terms` has accepted every term, so no
formula runs code; the columns a formula reads also come from
``check_terms`` (formulaic's ``required_variables`` evaluates terms). Integer
columns are converted to float first (except inside ``C()``), so ``I(x * x)``
or ``x:z`` cannot wrap around silently in int64.
"""
from __future__ import annotations

import re
import unicodedata
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping, NamedTuple

import numpy as np
import pandas as pd
from formulaic import model_matrix

from simlab._checks import name_list

from .formula import UNICODE_FIX, FormulaError, ParsedFormula, check_terms
from .intercept import standardizing_map

__all__ = ["Design", "FixedTerm", "PlainSpec", "build_design", "r_term_name", "model_frame", "fixed_part",
           "fixed_variables", "numeric_response", "check_full_rank", "new_fixed_matrix",
           "require_columns", "check_random_part"]

_LEVEL_SUFFIX = re.compile(r"\[(?:T\.)?(.*?)\]")
#: R's ``qr`` tolerance (``lm``, lme4's rank check): a column whose residual on the earlier
#: ones keeps less than this share of its norm is a combination of them.
RANK_TOLERANCE = 1e-7
#: The functions of ``formula.ALLOWED_FUNCTIONS`` that formulaic does not provide.
_CONTEXT = {"sqrt": np.sqrt, "abs": np.abs}


def r_term_name(column: str) -> str:
    """Translate a formulaic column name to the name R prints.

    >>> r_term_name("occasion:sex[T.female]")
    'occasion:sexfemale'
    """
    if column == "Intercept":
        return "(Intercept)"
    return _LEVEL_SUFFIX.sub(r"\1", column)


class FixedTerm(NamedTuple):
    """One term of the fixed part, as R's ``terms`` sees it.

    Attributes
    ----------
    label : str
        R's term label (``"(Intercept)"``, ``"sex"``, ``"C(occasion):sex"``).
    columns : tuple of int
        Its columns of ``X``.
    variables : frozenset of str
        The variables it multiplies (none for the intercept).
    numeric : frozenset of str
        Those of ``variables`` that are numeric, not factors.
    """

    label: str
    columns: tuple[int, ...]
    variables: frozenset[str]
    numeric: frozenset[str]


@dataclass(frozen=True)
class Design:
    """Model matrices of one random-intercept (or random-slope) model.

    Attributes
    ----------
    formula : ParsedFormula
    y : ndarray, shape (n,)
    X : ndarray, shape (n, p)
    terms : tuple of str
        Fixed-effect names as R prints them, in formula order.
    groups : ndarray of int, shape (n,)
        Code of each row's group in ``levels``.
    levels : pandas.Index
        Group labels in R's factor order.
    Z : ndarray, shape (n, q)
        Random-effect columns (only the intercept for the exact engine).
    random_terms : tuple of str
    row_index : pandas.Index
        Rows of the data used, after dropping missing values.
    n_dropped : int
        Rows removed because a model variable was missing (R's na.omit).
    """

    formula: ParsedFormula
    y: np.ndarray
    X: np.ndarray
    terms: tuple[str, ...]
    groups: np.ndarray
    levels: pd.Index
    Z: np.ndarray
    random_terms: tuple[str, ...]
    row_index: pd.Index
    n_dropped: int
    spec: Any

    @property
    def group_name(self) -> str:
        return self.formula.random[0].group

    @property
    def correlated(self) -> bool:
        """Whether the random effects have a full covariance matrix.

        True for one term such as ``(1 + x | g)``; False for lme4's
        ``(1 + x || g)`` and for single-column terms written apart,
        ``(1 | g) + (0 + x | g)``, whose effects are independent.
        """
        return len(self.formula.random) == 1 and self.formula.random[0].correlated

    @property
    def random_intercept_only(self) -> bool:
        """The model has one random effect per group, its intercept: ``(1 | g)``."""
        return self.random_terms == ("(Intercept)",)

    @property
    def nobs(self) -> int:
        return self.y.shape[0]

    @property
    def n_groups(self) -> int:
        return len(self.levels)

    @property
    def fixed_terms(self) -> tuple[FixedTerm, ...]:
        """The terms of the fixed part, in formula order, with their columns of ``X``."""
        if isinstance(self.spec, PlainSpec):
            names = [frozenset() if term == "1" else frozenset([term]) for term in self.spec.terms]
            return tuple(FixedTerm(label, (j,), name, name)
                         for j, (label, name) in enumerate(zip(self.spec.names, names)))
        factors = {str(factor) for factor in self.spec.factor_contrasts}
        terms = []
        for term, columns in self.spec.term_indices.items():
            variables = frozenset(str(f) for f in term.factors) - {"1"}
            terms.append(FixedTerm("(Intercept)" if str(term) == "1" else str(term),
                                   tuple(columns), variables, variables - factors))
        return tuple(terms)

    def fixed_matrix(self, newdata: pd.DataFrame) -> np.ndarray:
        """The fixed-effects matrix of ``newdata``, encoded as at fit time."""
        return new_fixed_matrix(self.spec, self.formula.fixed, newdata)

    def group_codes(self, labels: pd.Series) -> np.ndarray:
        """Codes of ``labels`` in ``levels``; -1 for a level not seen at fit time.

        Labels also match by their text, so ``"7"`` finds group ``7``.

        Raises
        ------
        ValueError
            If ``labels`` is several columns (a duplicated column name) or
            holds unhashable values such as lists.
        """
        if isinstance(labels, pd.DataFrame):  # what newdata[name] gives for a duplicated name
            require_columns(labels, [self.group_name], "newdata")
        given = labels
        try:
            labels = pd.Index(labels)
            codes = np.asarray(self.levels.get_indexer(labels))
        except TypeError:  # a list or dict among the labels
            rows = given.index if isinstance(given, pd.Series) else None
            _check_hashable(pd.Series(list(given), index=rows), self.group_name, "newdata")
            raise
        unmatched = codes < 0
        if unmatched.any():
            as_text = pd.Index(self.levels.astype(str))
            codes[unmatched] = as_text.get_indexer(labels[unmatched].astype(str))
        return codes

    def random_matrix(self, newdata: pd.DataFrame) -> np.ndarray:
        """Random-effect columns of ``newdata``."""
        require_columns(newdata, _random_variables(self.formula), "newdata")
        return _random_matrix(self.formula, newdata, _PREDICT_FIX)


def new_fixed_matrix(spec: Any, fixed: str, newdata: pd.DataFrame) -> np.ndarray:
    """The fixed-effects matrix of ``newdata``, encoded by the fit-time ``spec``.

    ``fixed`` is the fixed part of the formula that ``spec`` was built from.

    Raises
    ------
    ValueError
        If a column of ``fixed`` is missing, a value is missing or a
        factor level was not seen at fit time.
    """
    columns = list(_variables_of(fixed))
    require_columns(newdata, columns, "newdata")
    _require_complete(newdata, columns)
    if isinstance(spec, PlainSpec):
        X = spec.matrix(newdata)
        _check_finite(X, spec.names, newdata.index, _PREDICT_FIX)
        return X
    newdata = _in_float(newdata, check_terms(fixed).as_numbers)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            matrix = spec.get_model_matrix(newdata, context=_CONTEXT, na_action="raise")
        except Exception as err:  # formulaic raises several types; name the fix
            raise ValueError(
                f"could not build the fixed effects for newdata: {err}. Use the same "
                "columns and factor levels as the data the model was fitted on."
            ) from None
    X = np.asarray(matrix, dtype=float)
    _check_finite(X, tuple(r_term_name(c) for c in matrix.columns), newdata.index, _PREDICT_FIX)
    return X


def _require_complete(newdata: pd.DataFrame, columns: list[str]) -> None:
    """Refuse missing values in the columns a prediction reads, naming columns and rows."""
    missing = newdata[columns].isna()
    if missing.to_numpy().any():
        rows = newdata.index[missing.any(axis=1).to_numpy()]
        raise ValueError(
            f"newdata has missing values in {[str(c) for c in missing.columns[missing.any()]]} "
            f"(rows {name_list(rows, shown=5)}); a prediction needs every model column: fill or drop "
            "those rows first")


def build_design(formula: ParsedFormula, data: pd.DataFrame) -> Design:
    """Check ``data`` against ``formula`` and build the model matrices.

    Raises
    ------
    TypeError
        If ``data`` is not a DataFrame or the response is not numeric.
    ValueError
        For missing columns, empty data, infinite values, fewer than two
        groups, only singleton groups, a constant response or a
        rank-deficient fixed-effects matrix.
    """
    group = formula.random[0].group
    slope_vars = _random_variables(formula)
    variables = [formula.response, *fixed_variables(formula), *slope_vars, group]
    complete, columns, n_dropped = model_frame(data, variables)
    y = numeric_response(columns[formula.response], formula.response)
    X, terms, spec = fixed_part(formula.fixed, complete, columns)
    codes, levels = _factorize(columns[group])
    design = Design(formula=formula, y=y, X=X, terms=terms, groups=codes, levels=levels,
                    Z=_random_matrix(formula, complete), random_terms=_random_names(formula, complete),
                    row_index=complete.index, n_dropped=n_dropped, spec=spec)
    _check_identifiable(design)
    check_random_part(design, columns)
    return design


class ModelFrame(NamedTuple):
    """The complete rows of the data, with each model column looked up once.

    A pandas column lookup costs about 20 microseconds (more with Arrow
    column names), as much as a small fit's arithmetic, so the design reads
    ``columns`` instead of ``frame[name]``.
    """

    frame: pd.DataFrame
    """Complete rows holding at least the model columns (the data itself when none is dropped)."""
    columns: dict[str, pd.Series]
    """Each model column of ``frame``, by name."""
    n_dropped: int
    """Rows dropped for a missing value (R's ``na.omit``)."""


def model_frame(data: pd.DataFrame, variables: list[str]) -> ModelFrame:
    """The rows of ``data`` without a missing value in ``variables`` (R's ``na.omit``).

    Raises
    ------
    TypeError
        If ``data`` is not a DataFrame.
    ValueError
        If a column is missing or no complete row is left.
    """
    _check_dataframe(data)
    variables = list(dict.fromkeys(variables))
    require_columns(data, variables, "data")
    if data.empty:
        raise ValueError("no rows left to fit: the data is empty")
    columns = {name: data[name] for name in variables}
    if not any(_has_missing(column) for column in columns.values()):
        return ModelFrame(data, columns, 0)
    complete = data[variables].dropna()
    if complete.empty:
        raise ValueError(f"no rows left to fit: every one of the {len(data)} rows has a "
                         f"missing value in {variables}")
    return ModelFrame(complete, {name: complete[name] for name in variables},
                      len(data) - len(complete))


def _has_missing(column: pd.Series) -> bool:
    """Whether ``column`` holds a missing value (NumPy integers and booleans cannot)."""
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "iub":
        return False
    return bool(pd.isna(column.to_numpy()).any())


def _check_dataframe(data) -> None:
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")


def fixed_part(rhs: str, frame: pd.DataFrame, columns: Mapping[str, pd.Series] | None = None,
               ) -> tuple[np.ndarray, tuple[str, ...], Any]:
    """Fixed-effects matrix of ``rhs``, its R term names and the spec that encodes new data.

    ``columns`` are the columns of ``frame`` already looked up by name
    (:class:`ModelFrame`); by default they are read from ``frame``.

    The spec is a :class:`PlainSpec` when every term is the intercept or a
    numeric column (formulaic would build the same matrix, ten times slower),
    else formulaic's model spec.

    Raises
    ------
    ValueError
        If a term is not allowed, formulaic cannot build the matrix, it has
        no column, a complex or an infinite value.
    """
    plain = check_terms(rhs).plain
    if plain is not None and PlainSpec.applies(plain, columns or frame):
        spec: Any = PlainSpec(plain)
        X, terms = spec.matrix(columns or frame), spec.names
    else:
        fixed = _model_matrix(rhs, frame, "fixed effects", na_action="raise")
        _check_real(fixed.dtypes, "fixed-effects column(s)")
        X, terms, spec = np.asarray(fixed, dtype=float), tuple(map(r_term_name, fixed.columns)), fixed.model_spec
    if not terms:
        raise ValueError(f"the fixed part {rhs!r} has no coefficient to estimate; write "
                         "'y ~ 1' (or 'y ~ 1 + (1 | group)') for the mean alone")
    _check_finite(X, terms, frame.index)
    return X, terms, spec


@dataclass(frozen=True)
class PlainSpec:
    """A fixed part of the intercept and numeric columns, built without formulaic.

    Attributes
    ----------
    terms : tuple of str
        formulaic's terms in order: ``"1"`` for the intercept, else a column name.
    """

    terms: tuple[str, ...]

    @staticmethod
    def applies(terms: tuple[str, ...], frame: Mapping[str, pd.Series]) -> bool:
        """Whether every column of ``terms`` in ``frame`` holds real numbers (not bool).

        ``frame`` is a DataFrame or a mapping of its columns.
        """
        return all(term == "1" or _is_real_number(frame[term].dtype) for term in terms)

    @property
    def names(self) -> tuple[str, ...]:
        """The coefficient names R prints."""
        return tuple("(Intercept)" if term == "1" else term for term in self.terms)

    def matrix(self, frame: Mapping[str, pd.Series]) -> np.ndarray:
        """The n x p matrix of ``frame`` (a DataFrame or a mapping of its columns).

        Raises
        ------
        ValueError
            If a column that was numeric at fit time is not numeric in ``frame``.
        """
        text = [t for t in self.terms if t != "1" and not _is_real_number(frame[t].dtype)]
        if text:
            raise ValueError(
                f"column(s) {name_list(text)} of newdata are not numeric ({frame[text[0]].dtype}) "
                "but were numeric when the model was fitted; convert them, e.g. with pd.to_numeric")
        X = np.empty((len(_first(frame)), len(self.terms)))
        for j, term in enumerate(self.terms):
            X[:, j] = 1.0 if term == "1" else frame[term].to_numpy()
        return X


def _first(frame: Mapping[str, pd.Series]) -> pd.Series | pd.DataFrame:
    """Something as long as ``frame``: the frame itself, or a mapping's first column."""
    return frame if isinstance(frame, pd.DataFrame) else next(iter(frame.values()))


def _is_real_number(dtype) -> bool:
    """A NumPy integer or float dtype: what formulaic encodes as one numeric column."""
    return isinstance(dtype, np.dtype) and dtype.kind in "iuf"


@lru_cache(maxsize=256)
def _variables_of(expression: str) -> tuple[str, ...]:
    # Read from the checked terms: formulaic's required_variables evaluates them.
    return check_terms(expression).used


def _model_matrix(expression: str, frame: pd.DataFrame, what: str, **options):
    """formulaic's model matrix of checked terms, with integer arithmetic done in float.

    Raises
    ------
    ValueError
        If a term is not allowed or formulaic cannot build the matrix.
    """
    frame = _in_float(frame, check_terms(expression).as_numbers)
    try:
        return model_matrix(expression, frame, context=_CONTEXT, **options)
    except FormulaError:
        raise
    except Exception as err:  # formulaic's errors vary by cause; keep its message
        raise ValueError(f"could not build the {what} from {expression!r}: {err}") from None


def _in_float(frame: pd.DataFrame, names: frozenset[str]) -> pd.DataFrame:
    """``frame`` with the integer columns among ``names`` as float64."""
    ints = [name for name in names if name in frame.columns
            and pd.api.types.is_integer_dtype(frame[name].dtype)]
    return frame.astype({name: float for name in ints}) if ints else frame


def _check_real(dtypes, what: str) -> None:
    """Refuse complex columns, whose imaginary part a float conversion would drop.

    ``dtypes`` maps column names to dtypes (a dict, or ``DataFrame.dtypes``).
    """
    complex_columns = [str(c) for c, dtype in dtypes.items() if pd.api.types.is_complex_dtype(dtype)]
    if complex_columns:
        raise ValueError(f"{what} {complex_columns} hold complex numbers; a linear mixed model "
                         "needs real values: use the real part, the modulus or both as columns")


def fixed_variables(formula: ParsedFormula) -> list[str]:
    """Data columns the fixed part of ``formula`` uses."""
    return list(_variables_of(formula.fixed))


def _random_variables(formula: ParsedFormula) -> list[str]:
    return sorted({name for term in formula.random for name in _variables_of(term.expr)})


def require_columns(data: pd.DataFrame, names: list[str], what: str) -> None:
    """Refuse a model column missing from ``data`` or present more than once."""
    missing = [name for name in names if name not in data.columns]
    if missing:
        raise ValueError(
            f"column(s) {missing} not found in {what}; it has {name_list(map(str, data.columns))}. "
            f"Check the spelling in the formula or add the column.{_unicode_twins(missing, data)}"
        )
    if data.columns.is_unique:  # cached by pandas, unlike duplicated()
        return
    repeated = data.columns[data.columns.duplicated()]
    twice = [str(name) for name in dict.fromkeys(repeated) if name in names]
    if twice:
        raise ValueError(
            f"{what} has several columns named {twice}, so the model cannot tell which to use; "
            f"rename or drop the duplicates first, e.g. keep the first with "
            f"{what} = {what}.loc[:, ~{what}.columns.duplicated()]")


def _unicode_twins(missing: list[str], data: pd.DataFrame) -> str:
    """Explain columns that differ from a missing name in their Unicode form only.

    Python reads names inside ``I()`` and functions in NFKC form, so a
    column typed with a combining accent or a ligature is not found.
    """
    def nfkc(name: object) -> object:
        return unicodedata.normalize("NFKC", name) if isinstance(name, str) else name

    twins = [str(c) for c in data.columns if nfkc(c) in {nfkc(m) for m in missing}]
    if not twins:
        return ""
    return (f" The column(s) {twins} differ from it only in their Unicode form (Python reads "
            f"names in a formula term in NFKC form); {UNICODE_FIX}")


def numeric_response(column: pd.Series, name: str) -> np.ndarray:
    """The response as a float array; rejects non-numeric, infinite or constant values."""
    if not (pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)):
        raise TypeError(
            f"response {name!r} must be numeric, but has dtype {column.dtype}; "
            f"convert it first, e.g. data[{name!r}] = pd.to_numeric(data[{name!r}])"
        )
    _check_real({name: column.dtype}, "response")
    y = column.to_numpy(dtype=float)
    _check_finite(y[:, None], (name,), column.index)
    if np.ptp(y) == 0:
        raise ValueError(f"response {name!r} is constant ({y[0]:g} in every row), so there is nothing to model")
    return y


_FIT_FIX = "replace them (e.g. with NaN, which drops the row) before fitting"
_PREDICT_FIX = "replace or drop those rows before predicting"


def _check_finite(values: np.ndarray, names: tuple[str, ...], rows: pd.Index,
                  fix: str = _FIT_FIX) -> None:
    """Refuse inf (or NaN) in ``values``, naming its columns ``names`` and ``rows``."""
    bad = ~np.isfinite(values)
    if bad.any():
        cols = [names[j] for j in np.flatnonzero(bad.any(axis=0))]
        kind = "non-finite (inf or NaN)" if np.isnan(values).any() else "infinite"
        raise ValueError(
            f"{int(bad.sum())} {kind} value(s) in {cols} (rows {name_list(rows[bad.any(axis=1)], shown=5)}); "
            f"{fix}"
        )


def _factorize(column: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Group codes in R's factor order: Categorical order, else sorted values.

    Raises
    ------
    ValueError
        If a group value is unhashable (a list, dict, set...), so it cannot be a level.
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        column = column.cat.remove_unused_categories()
        return column.cat.codes.to_numpy(), pd.Index(column.cat.categories)
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "iuf":
        levels, codes = np.unique(column.to_numpy(), return_inverse=True)  # 5x pandas' factorize
        return codes, pd.Index(levels)
    try:
        codes, levels = pd.factorize(column, sort=True)
    except TypeError:  # checked only on failure: a scan of every value costs on big data
        _check_hashable(column, str(column.name), "data")
        raise
    return codes, pd.Index(levels)


def _check_hashable(column: pd.Series, name: str, what: str) -> None:
    """Refuse group values that cannot be factor levels, naming the first one and its row."""
    for row, value in column.items():
        try:
            hash(value)
        except TypeError:
            raise ValueError(
                f"the grouping column {name!r} of {what} holds {type(value).__name__} values "
                f"such as {value!r} (row {row!r}); group values must be hashable scalars such "
                f"as strings or integers: convert them first, e.g. "
                f"{what}[{name!r}] = {what}[{name!r}].astype(str)") from None


def _random_matrix(formula: ParsedFormula, frame: pd.DataFrame, fix: str = _FIT_FIX) -> np.ndarray:
    if all(term.is_intercept_only for term in formula.random):
        return np.ones((len(frame), len(formula.random)))
    blocks = [_model_matrix(term.expr, frame, "random effects") for term in formula.random]
    for block in blocks:
        _check_real(block.dtypes, "random-effect column(s)")
    Z = np.hstack([np.asarray(block, dtype=float) for block in blocks])
    names = tuple(r_term_name(c) for block in blocks for c in block.columns)
    _check_finite(Z, names, frame.index, fix)
    return Z


def _random_names(formula: ParsedFormula, frame: pd.DataFrame) -> tuple[str, ...]:
    if all(term.is_intercept_only for term in formula.random):
        return ("(Intercept)",) * len(formula.random)
    names: list[str] = []
    for term in formula.random:
        columns = _model_matrix(term.expr, frame.head(1), "random effects").columns
        names += [r_term_name(c) for c in columns]
    return tuple(names)


def _check_identifiable(design: Design) -> None:
    if design.n_groups < 2:
        raise ValueError(
            f"grouping factor {design.group_name!r} has only {design.n_groups} level; a random "
            "effect needs at least two groups (use simlab.lm for a single group)"
        )
    sizes = np.bincount(design.groups, minlength=design.n_groups)
    if sizes.max() == 1:
        raise ValueError(
            f"every level of {design.group_name!r} has a single observation, so the group "
            "variance and the residual variance cannot be told apart; check the grouping column"
        )
    check_full_rank(design.X, design.terms)


def check_random_part(design: Design, frame: Mapping[str, pd.Series]) -> None:
    """Refuse random parts the model cannot estimate, as lme4's checks do.

    Raises
    ------
    ValueError
        For a factor (text or categorical column) in the random part, a term
        listed twice, several terms of which one has several columns, a slope
        variable constant within every group, or no more observations than
        random effects (lme4's "number of observations <= number of random
        effects").
    """
    _check_numeric_slopes(design.formula, frame)
    names, q = design.random_terms, len(design.random_terms)
    if len(set(names)) < q:
        raise ValueError(f"random terms {design.formula.random} name the effect(s) "
                         f"{sorted({n for n in names if names.count(n) > 1})} twice; list each once")
    if len(design.formula.random) > 1 and q > len(design.formula.random):
        raise ValueError(
            f"random terms {', '.join(map(str, design.formula.random))}: with several terms for "
            f"{design.group_name!r}, each must have one column; write one term with a full "
            f"covariance, (1 + x | {design.group_name}), or independent ones, "
            f"(1 + x || {design.group_name})")
    if design.nobs <= q * design.n_groups and q > 1:
        raise ValueError(
            f"number of observations ({design.nobs}) <= number of random effects "
            f"({q * design.n_groups} = {q} per group x {design.n_groups} groups), as lme4 says: "
            "the random effects and the residual cannot be told apart; use fewer random terms "
            "or more observations per group")
    _check_slopes_vary(design)


def _check_numeric_slopes(formula: ParsedFormula, frame: Mapping[str, pd.Series]) -> None:
    """A factor in the random part would need one effect per level: not supported."""
    factors = [name for name in _random_variables(formula)
               if not pd.api.types.is_numeric_dtype(frame[name])
               or pd.api.types.is_bool_dtype(frame[name])]
    if factors:
        raise ValueError(
            f"the random part uses the factor column(s) {name_list(factors)}; simlab's random "
            "effects are an intercept and numeric slopes: use a numeric column, or move the "
            "factor to the fixed part")


def _check_slopes_vary(design: Design) -> None:
    """Refuse a random slope whose variable is constant within every group."""
    high = np.full((design.n_groups, design.Z.shape[1]), -np.inf)
    low = np.full_like(high, np.inf)
    np.maximum.at(high, design.groups, design.Z)
    np.minimum.at(low, design.groups, design.Z)
    constant = [name for j, name in enumerate(design.random_terms)
                if name != "(Intercept)" and (high[:, j] <= low[:, j]).all()]
    if constant:
        raise ValueError(
            f"the random slope(s) {constant} are constant within every level of "
            f"{design.group_name!r}, so they cannot vary between groups apart from the random "
            "intercept; put the variable in the fixed part only (a cluster-level covariate)")


def check_full_rank(X: np.ndarray, terms: tuple[str, ...]) -> None:
    """Raise a ValueError naming the terms that are combinations of earlier ones.

    As R's ``lm`` and lme4 (``qr(X, tol = 1e-7)``), a column is dependent
    when its residual on the earlier columns has less than ``RANK_TOLERANCE``
    of its norm; but the columns are first standardised
    (``standardizing_map``: centred when there is an intercept, unit
    scale), so the test is relative to each column's spread: ``x + 1e7`` or
    ``1e-8 * x`` is as full-rank as ``x``, while ``x`` and ``2 * x + 1e7``
    are collinear.
    """
    R, squares = _scaled_r_factor(X, standardizing_map(X[None])[0])
    residual = np.zeros(X.shape[1])
    residual[:min(R.shape)] = np.abs(np.diag(R))  # fewer if X has fewer rows than columns
    dependent = residual <= RANK_TOLERANCE * np.sqrt(squares)
    if not dependent.any():
        return
    names = [terms[j] for j in np.flatnonzero(dependent)]
    is_, it = (("is a linear combination", "it") if len(names) == 1
               else ("are linear combinations", "them"))
    raise ValueError(
        f"the fixed-effects matrix is rank deficient (rank {X.shape[1] - len(names)} < "
        f"{X.shape[1]} columns): {names} {is_} of earlier terms; drop {it} from the formula"
    )


def _scaled_r_factor(X: np.ndarray, x_map: np.ndarray,
                     rows: int = 1 << 16) -> tuple[np.ndarray, np.ndarray]:
    """R of the QR factorisation of ``X @ x_map``, and the squared norms of its columns.

    Built a block of rows at a time (R of [R; next block]), so no n x p
    copy of X is made: on 16 M rows this takes a tenth of the time and
    none of the memory of one QR of the whole matrix.
    """
    p = X.shape[1]
    R, squares = np.zeros((0, p)), np.zeros(p)
    for start in range(0, X.shape[0], rows):
        block = X[start:start + rows] @ x_map
        squares += (block ** 2).sum(axis=0)
        R = np.linalg.qr(np.vstack([R, block]), mode="r")
    return R, squares
