"""Parsing lme4-style formulas such as ``y ~ x + (1 | g)``.

Only the text is handled here; turning it into matrices is
:mod:`simlab.model.design`'s job.

A formula never runs code. formulaic evaluates every term that is not a
plain column name as Python (even to list the columns it needs), so
:func:`check_terms` first finds the terms with formulaic's parser (which
runs nothing), reads each evaluated one with :mod:`ast` and accepts only an
allow-list: column names (backticked if they have spaces), numbers,
arithmetic and comparisons, ``I()``, ``C(column)`` and a few transforms
(``ALLOWED_FUNCTIONS``). Everything else (attributes, indexing, other calls,
lambdas, strings, ...) is refused with a :class:`FormulaError`, a
ValueError naming the term and the fix. Every path (``lmer``, ``lm``,
``predict``, both engines) builds its matrices through
:mod:`simlab.model.design`, which calls it before formulaic evaluates
anything.
"""
from __future__ import annotations

import ast
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

__all__ = ["RandomTerm", "ParsedFormula", "FormulaError", "TermColumns", "parse_formula",
           "check_terms", "column_name", "ALLOWED_FUNCTIONS", "UNICODE_FIX"]

_BACKTICKED = re.compile(r"`([^`]*)`")
#: Functions a term may call, each with the keyword arguments it accepts.
_CALLS = {"I": (), "C": ("levels",), "log": (), "log2": (), "log10": (), "exp": (),
          "sqrt": (), "abs": (), "center": (), "scale": (), "poly": ("degree", "raw")}
#: ``np.<name>`` functions a term may call (one positional argument).
_NUMPY_CALLS = ("log", "log2", "log10", "log1p", "exp", "expm1", "sqrt", "abs", "square")
ALLOWED_FUNCTIONS = (*_CALLS, *(f"np.{name}" for name in _NUMPY_CALLS))
_BINARY = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
_COMPARE = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)
_MAX_EXPONENT = 16
_MAX_DEGREE = 20
_HOW_TO_FIX = ("A formula term may use column names, numbers, arithmetic (+ - * / ** and "
               "comparisons), I(...), C(column) and the functions "
               + ", ".join(ALLOWED_FUNCTIONS)
               + "; compute anything else as a new column in pandas first, e.g. "
                 "data['z'] = ..., and use z in the formula")


class FormulaError(ValueError):
    """A formula that cannot be read or uses a term outside the allow-list."""


class TermColumns(NamedTuple):
    """The data columns that formula terms read, found without evaluating them."""

    used: tuple[str, ...]
    """Every column, sorted."""
    as_numbers: frozenset[str]
    """Columns used outside ``C()`` (as numbers, unless they hold text)."""
    plain: tuple[str, ...] | None = None
    """The terms in formulaic's order when each is the intercept (``"1"``) or
    one column looked up by name, as in ``x + z``; None when any term needs
    formulaic (an interaction, a transform, ``C()``)."""


@dataclass(frozen=True)
class RandomTerm:
    """One ``(expr | group)`` term.

    Attributes
    ----------
    expr : str
        The left of the bar, normalised (``"1"`` for a random intercept).
    group : str
        The grouping column.
    correlated : bool
        False for lme4's double bar ``(1 + x || g)``: the terms get
        independent random effects, as ``(1 | g) + (0 + x | g)``.
    """

    expr: str
    group: str
    correlated: bool = True

    @property
    def is_intercept_only(self) -> bool:
        return self.expr.replace(" ", "") in {"1", "1+1"}

    def __str__(self) -> str:
        bar = "|" if self.correlated else "||"
        return f"({self.expr} {bar} {_quoted(self.group)})"


@dataclass(frozen=True)
class ParsedFormula:
    """An lme4 formula split into response, fixed part and random terms."""

    text: str
    response: str
    fixed: str
    random: tuple[RandomTerm, ...]


def parse_formula(formula: str) -> ParsedFormula:
    """Split ``"y ~ fixed + (expr | group)"`` into its parts.

    The response and the grouping factor are column names, backticked if
    they are not identifiers (`` `reaction time` ~ Days + (1 | `subject id`) ``);
    every other term must pass :func:`check_terms`.

    Raises
    ------
    TypeError
        If ``formula`` is not a string.
    FormulaError
        If it has no ``~``, no response, a malformed random term, a syntax
        error or a term outside the allow-list of :func:`check_terms`
        (FormulaError is a ValueError).
    """
    if not isinstance(formula, str):
        raise TypeError(f"formula must be a string like 'y ~ x + (1 | g)', got {type(formula).__name__}")
    if formula.count("~") != 1:
        raise FormulaError(f"formula {formula!r} needs exactly one '~', as in 'y ~ x + (1 | g)'")
    lhs, rhs = (side.strip() for side in formula.split("~"))
    if not lhs:
        raise FormulaError(f"formula {formula!r} has no response on the left of '~'")
    response = column_name(lhs, formula, "response")
    random_terms, fixed_terms = _split_terms(rhs, formula)
    fixed = " + ".join(fixed_terms) or "1"
    for part in (fixed, *(term.expr for term in random_terms)):
        check_terms(part)
    text = f"{lhs} ~ " + " + ".join(fixed_terms + [str(term) for term in random_terms])
    return ParsedFormula(text=text, response=response, fixed=fixed, random=tuple(random_terms))


def column_name(text: str, formula: str, role: str) -> str:
    """The column that the response or grouping factor ``text`` names.

    ``y`` names column ``y``; `` `reaction time` `` names ``reaction time``.

    Raises
    ------
    FormulaError
        If ``text`` is not a single (possibly backticked) column name.
    """
    backticked = re.fullmatch(r"`([^`]+)`", text.strip())
    if backticked:
        return backticked.group(1)
    if _is_name(text.strip()):
        return text.strip()
    if role == "grouping factor":
        raise FormulaError(
            f"grouping factor {text.strip()!r} in {formula!r} must be a single column name "
            "(in backticks if it has spaces); nested or crossed grouping (a/b, a:b) is not supported yet")
    raise FormulaError(
        f"{role} {text.strip()!r} in {formula!r} must be a single column name (in backticks if it "
        "has spaces, as `reaction time`); compute a transformed response such as log(y) as a new "
        "column in pandas first, e.g. data['log_y'] = np.log(data['y'])")


def _is_name(text: str) -> bool:
    """Whether ``text`` is a column name that needs no backticks.

    An identifier in Python's sense, so in any script (``größe``, ``体重``),
    that may also hold dots as R's names do (``my.var``, ``.x``).
    """
    return text.replace(".", "_").isidentifier()


def _quoted(name: str) -> str:
    return name if _is_name(name) else f"`{name}`"


def _split_terms(rhs: str, formula: str) -> tuple[list[RandomTerm], list[str]]:
    """The random and the fixed terms of the right-hand side ``rhs``.

    Terms are the pieces between top-level ``+`` signs; a random term is a
    piece wholly in parentheses with a ``|`` inside, as ``(1 | g)``.

    Raises
    ------
    FormulaError
        If nothing is right of ``~`` or a ``+`` has no term on one side
        (``y ~ x +``, ``y ~ x + + z``): R refuses both as syntax errors,
        and dropping the ``+`` silently would fit a formula not written.
    """
    if not rhs.strip():
        raise FormulaError(f"formula {formula!r} has nothing on the right of '~'; write the "
                           "terms, as 'y ~ x + (1 | group)', or 'y ~ 1' for the mean alone")
    random_terms: list[RandomTerm] = []
    fixed_terms: list[str] = []
    for piece in _top_level_pieces(rhs, formula):
        inner = _random_inner(piece)
        if inner is not None:
            random_terms.append(_random_term(inner, formula))
        elif "|" in _BACKTICKED.sub("", piece):
            raise FormulaError(f"term {piece!r} of formula {formula!r} uses '|' outside a random "
                               "term; a random term stands alone in parentheses between '+' "
                               "signs, as 'y ~ x + (1 | group)'")
        else:
            fixed_terms.append(piece)
    return random_terms, fixed_terms


def _top_level_pieces(rhs: str, formula: str) -> list[str]:
    """``rhs`` split at the ``+`` signs outside parentheses and backticks, each stripped.

    Raises
    ------
    FormulaError
        For an unmatched parenthesis or backtick, or an empty piece: a
        ``+`` with no term on one side.
    """
    pieces: list[str] = []
    depth, quoted, last = 0, False, 0
    for pos, char in enumerate(rhs):
        if char == "`":
            quoted = not quoted
        elif quoted:
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise FormulaError(f"formula {formula!r} has an unmatched ')'")
        elif char == "+" and depth == 0:
            pieces.append(rhs[last:pos].strip())
            last = pos + 1
    if quoted:
        raise FormulaError(f"formula {formula!r} has an unmatched '`'; a column name with "
                           "spaces goes between two backticks, as `reaction time`")
    if depth != 0:
        raise FormulaError(f"formula {formula!r} has an unmatched '('")
    pieces.append(rhs[last:].strip())
    if not all(pieces):
        raise FormulaError(f"formula {formula!r} has a '+' with no term on one side; remove "
                           "the extra '+' or write the missing term, as 'y ~ x + z'")
    return pieces


def _random_inner(piece: str) -> str | None:
    """The inside of ``piece`` if it is one parenthesised term with a ``|``, else None."""
    if not piece.startswith("("):
        return None
    depth, quoted = 0, False
    for pos, char in enumerate(piece):
        quoted = quoted != (char == "`")
        if not quoted and char in "()":
            depth += 1 if char == "(" else -1
            if depth == 0:
                inner = piece[1:pos]
                return inner if pos == len(piece) - 1 and "|" in inner else None
    return None


def _random_term(inner: str, formula: str) -> RandomTerm:
    correlated = "||" not in inner
    expr, _, group = inner.replace("||", "|").partition("|")
    expr, group = " ".join(expr.split()), group.strip()
    if not expr or not group:
        raise FormulaError(f"random term ({inner}) in {formula!r} must look like (1 | group)")
    _top_level_pieces(expr, formula)  # a dangling '+' on the left of the bar
    return RandomTerm(expr=expr, group=column_name(group, formula, "grouping factor"),
                      correlated=correlated)


# ----- the allow-list of terms -------------------------------------------------
@lru_cache(maxsize=512)
def check_terms(expr: str) -> TermColumns:
    """Refuse every term of the formula part ``expr`` outside the allow-list.

    Plain column names are looked up, never evaluated; every other term is
    Python for formulaic and must use only column names, real numbers,
    ``+ - * / // % **`` (a numeric exponent of at most 16), comparisons,
    unary minus and the calls of ``ALLOWED_FUNCTIONS`` (``C`` of a column
    name, with an optional ``levels=[...]`` list of constants).

    Parameters
    ----------
    expr : str
        The fixed part or a random term's left side, e.g. ``"x + I(x**2)"``.

    Returns
    -------
    TermColumns
        The columns the terms read, and those used outside ``C()`` (whose
        arithmetic, interactions included, :mod:`simlab.model.design` does
        in float).

    Raises
    ------
    FormulaError
        A ValueError, for a syntax error or a term outside the allow-list, naming the
        term, what is not allowed and how to compute it instead.
    """
    lookups, evaluated, plain = _parse_terms(expr)
    names: set[tuple[str, bool]] = set()
    for term in evaluated:
        names |= _check_python_term(term)
    used = sorted({*lookups, *(name for name, _ in names)})
    as_numbers = {*lookups, *(name for name, arithmetic in names if arithmetic)}
    return TermColumns(tuple(used), frozenset(as_numbers), plain)


def _parse_terms(expr: str) -> tuple[list[str], list[str], tuple[str, ...] | None]:
    """Column names formulaic looks up, terms it would evaluate as Python, and the plain terms.

    The third item is :attr:`TermColumns.plain`.

    Parsing only: nothing runs.
    """
    from formulaic import Formula
    from formulaic.formula import SimpleFormula

    try:
        parsed = Formula(expr)
    except Exception as err:  # formulaic's syntax errors are not ValueErrors
        raise FormulaError(f"could not read the formula terms {expr!r}: {_plain(err)}. Check "
                           "the parentheses and operators: terms look like x, x:z, x*z, "
                           f"C(f) or I(x**2){_unicode_hint(expr)}") from None
    if not isinstance(parsed, SimpleFormula):
        raise FormulaError(f"formula terms {expr!r} use '|' outside a random term; write a random "
                         "effect in parentheses, as (1 | group)")
    factors = [factor for term in parsed for factor in term.factors]
    simple = all(str(term) == "1" or [f.eval_method.name for f in term.factors] == ["LOOKUP"]
                 for term in parsed)
    plain = tuple("1" if str(term) == "1" else term.factors[0].expr for term in parsed)
    return ([factor.expr for factor in factors if factor.eval_method.name == "LOOKUP"],
            [factor.expr for factor in factors if factor.eval_method.name not in ("LOOKUP", "LITERAL")],
            plain if simple else None)


#: How to fix a name typed in another Unicode form than the one Python reads names in.
UNICODE_FIX = ("normalise the formula and the column names, e.g. data.columns = "
               "[unicodedata.normalize('NFKC', c) for c in data.columns]")


def _unicode_hint(text: str) -> str:
    """A hint when ``text`` is not in the Unicode form Python reads names in (NFKC)."""
    if unicodedata.normalize("NFKC", text) == text:
        return ""
    return (". The formula has characters that Unicode normalisation changes (such as an "
            f"accent typed as a separate combining mark, or a ligature); {UNICODE_FIX}")


def _plain(err: BaseException) -> str:
    """An exception's message without terminal colours or formulaic's markers."""
    text = re.sub(r"\x1b\[[0-9;]*m|[\u29da\u29db]", "", str(err))
    text = "".join(char if char.isprintable() else " " for char in text)
    return " ".join(text.split()) or type(err).__name__


def _check_python_term(term: str) -> set[tuple[str, bool]]:
    """``(column, used in arithmetic)`` pairs of an evaluated term; refuses what is not allowed."""
    if "`" in term and ("'" in term or '"' in term):
        _refuse(term, "backticks together with quotes")
    aliases: dict[str, str] = {}

    def alias(match: re.Match) -> str:
        aliases[f"_simlab_column_{len(aliases)}"] = match.group(1)
        return f"_simlab_column_{len(aliases) - 1}"

    source = _BACKTICKED.sub(alias, term).strip()
    names: set[tuple[str, bool]] = set()
    try:
        _check_node(ast.parse(source, mode="eval").body, term, names)
    except FormulaError:
        raise
    except (SyntaxError, ValueError) as err:  # ValueError: a null byte
        _refuse(term, f"invalid syntax ({getattr(err, 'msg', err)})")
    except (RecursionError, MemoryError):
        _refuse(term, "nesting this deep")
    return {(aliases.get(name, name), arithmetic) for name, arithmetic in names}


def _refuse(term: str, what: str):
    raise FormulaError(f"formula term {term!r} is not allowed: {what} cannot be used in a "
                     f"formula. {_HOW_TO_FIX}")


def _check_node(node: ast.AST, term: str, names: set[tuple[str, bool]]) -> None:
    if isinstance(node, ast.Constant):
        _check_number(node, term)
    elif isinstance(node, ast.Name):
        names.add((_column(node.id, term), True))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        _check_node(node.operand, term, names)
    elif isinstance(node, ast.BinOp) and isinstance(node.op, _BINARY):
        if isinstance(node.op, ast.Pow):
            _check_exponent(node.right, term)
        _check_node(node.left, term, names)
        _check_node(node.right, term, names)
    elif isinstance(node, ast.Compare) and all(isinstance(op, _COMPARE) for op in node.ops):
        for child in (node.left, *node.comparators):
            _check_node(child, term, names)
    elif isinstance(node, ast.Call):
        _check_call(node, term, names)
    else:
        _refuse(term, _describe(node))


def _describe(node: ast.AST) -> str:
    """What ``node`` is, in words, for the error message."""
    text = ast.unparse(node)
    snippet = repr(text if len(text) <= 40 else text[:37] + "...")
    if isinstance(node, ast.Attribute):
        return f"attribute access '.{node.attr}' (in {snippet})"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitXor):
        return f"'^' (in {snippet}; write a power inside I() as x**2)"
    kinds = {ast.Subscript: "indexing with [...]", ast.Lambda: "a lambda",
             ast.ListComp: "a comprehension", ast.SetComp: "a comprehension",
             ast.DictComp: "a comprehension", ast.GeneratorExp: "a comprehension",
             ast.JoinedStr: "an f-string", ast.BoolOp: "'and'/'or'", ast.IfExp: "'if ... else'",
             ast.NamedExpr: "':='", ast.Starred: "'*' unpacking"}
    kind = kinds.get(type(node), f"Python {type(node).__name__} syntax")
    if isinstance(node, (ast.BinOp, ast.UnaryOp)):
        kind = f"the operator {type(node.op).__name__}"
    return f"{kind} (in {snippet})"


def _check_number(node: ast.Constant, term: str) -> None:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "a string" if isinstance(value, (str, bytes)) else f"the constant {value!r}"
        _refuse(term, f"{kind} (only real numbers are allowed)")


def _check_exponent(node: ast.AST, term: str) -> None:
    number = node.operand if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) else node
    if not (isinstance(number, ast.Constant) and isinstance(number.value, (int, float))
            and not isinstance(number.value, bool) and abs(number.value) <= _MAX_EXPONENT):
        _refuse(term, f"the exponent {ast.unparse(node)!r} (** takes a number of at most "
                      f"{_MAX_EXPONENT})")


def _column(name: str, term: str) -> str:
    if name.startswith("__"):
        _refuse(term, f"the name {name!r} (names starting with '__' are not columns)")
    if name in _CALLS or name == "np":
        _refuse(term, f"{name!r} without a call")
    return name


def _function_name(func: ast.AST, term: str) -> str:
    if isinstance(func, ast.Name) and func.id in _CALLS:
        return func.id
    if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
            and func.value.id == "np" and func.attr in _NUMPY_CALLS):
        return f"np.{func.attr}"
    _refuse(term, f"calling {ast.unparse(func)!r}")


def _check_call(node: ast.Call, term: str, names: set[tuple[str, bool]]) -> None:
    name = _function_name(node.func, term)
    if any(isinstance(arg, ast.Starred) for arg in node.args):
        _refuse(term, f"'*' unpacking in {name}()")
    for keyword in node.keywords:
        if keyword.arg not in _CALLS.get(name, ()):
            _refuse(term, f"the keyword argument {keyword.arg or '**'}= of {name}()")
        _check_literal(keyword.value, term)
    if not 1 <= len(node.args) <= (2 if name == "poly" else 1):
        _refuse(term, f"{name}() with {len(node.args)} positional argument(s)")
    if name == "C":
        if not isinstance(node.args[0], ast.Name):
            _refuse(term, "C() of anything but a column name")
        names.add((_column(node.args[0].id, term), False))
    else:
        _check_node(node.args[0], term, names)
    for extra in node.args[1:]:
        _check_literal(extra, term)
    degrees = [*node.args[1:], *(k.value for k in node.keywords if k.arg == "degree")]
    if any(not (isinstance(d, ast.Constant) and type(d.value) is int and 1 <= d.value <= _MAX_DEGREE)
           for d in degrees):
        _refuse(term, f"a degree of poly() other than a whole number from 1 to {_MAX_DEGREE}")


def _check_literal(node: ast.AST, term: str) -> None:
    """An option such as ``levels=['a', 'b']`` or ``degree=2``: constants only."""
    items = node.elts if isinstance(node, (ast.List, ast.Tuple)) else [node]
    for item in items:
        if not (isinstance(item, ast.Constant) and isinstance(item.value, (int, float, str, bool))):
            _refuse(term, f"the argument {ast.unparse(node)!r} (options take constants only)")
        if isinstance(item.value, (int, float)) and abs(item.value) > 1e6:
            _refuse(term, f"the argument {item.value!r} (too large)")
