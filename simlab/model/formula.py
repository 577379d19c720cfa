"""Parsing lme4-style formulas such as ``y ~ x + (1 | g)``.

Only the text is handled here; turning it into matrices is
:mod:`simlab.model.design`'s job.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["RandomTerm", "ParsedFormula", "parse_formula"]

_IDENTIFIER = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$")


@dataclass(frozen=True)
class RandomTerm:
    """One ``(expr | group)`` term.

    Attributes
    ----------
    expr : str
        The left of the bar, normalised (``"1"`` for a random intercept).
    group : str
        The grouping column.
    """

    expr: str
    group: str

    @property
    def is_intercept_only(self) -> bool:
        return self.expr.replace(" ", "") in {"1", "1+1"}

    def __str__(self) -> str:
        return f"({self.expr} | {self.group})"


@dataclass(frozen=True)
class ParsedFormula:
    """An lme4 formula split into response, fixed part and random terms."""

    text: str
    response: str
    fixed: str
    random: tuple[RandomTerm, ...]


def parse_formula(formula: str) -> ParsedFormula:
    """Split ``"y ~ fixed + (expr | group)"`` into its parts.

    Raises
    ------
    TypeError
        If ``formula`` is not a string.
    ValueError
        If it has no ``~``, no response, or a malformed random term.
    """
    if not isinstance(formula, str):
        raise TypeError(f"formula must be a string like 'y ~ x + (1 | g)', got {type(formula).__name__}")
    if formula.count("~") != 1:
        raise ValueError(f"formula {formula!r} needs exactly one '~', as in 'y ~ x + (1 | g)'")
    lhs, rhs = (side.strip() for side in formula.split("~"))
    if not lhs:
        raise ValueError(f"formula {formula!r} has no response on the left of '~'")
    random_terms, fixed = _split_random_terms(rhs, formula)
    written_fixed = [] if fixed == "1" and "1" not in rhs.replace(" ", "").split("+") else [fixed]
    text = f"{lhs} ~ " + " + ".join(written_fixed + [str(term) for term in random_terms])
    return ParsedFormula(text=text, response=lhs, fixed=fixed, random=tuple(random_terms))


def _split_random_terms(rhs: str, formula: str) -> tuple[list[RandomTerm], str]:
    """Pull every parenthesised term containing ``|`` out of the right-hand side."""
    terms: list[RandomTerm] = []
    pieces: list[str] = []
    depth, start, last = 0, None, 0
    for pos, char in enumerate(rhs):
        if char == "(":
            if depth == 0:
                start = pos
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"formula {formula!r} has an unmatched ')'")
            inner = rhs[start + 1:pos]
            if depth == 0 and "|" in inner:
                terms.append(_random_term(inner, formula))
                pieces.append(rhs[last:start])
                last = pos + 1
    if depth != 0:
        raise ValueError(f"formula {formula!r} has an unmatched '('")
    pieces.append(rhs[last:])
    return terms, _clean_fixed("".join(pieces))


def _random_term(inner: str, formula: str) -> RandomTerm:
    expr, _, group = inner.replace("||", "|").partition("|")
    expr, group = " ".join(expr.split()), group.strip()
    if not expr or not group:
        raise ValueError(f"random term ({inner}) in {formula!r} must look like (1 | group)")
    if not _IDENTIFIER.match(group):
        raise ValueError(
            f"grouping factor {group!r} in {formula!r} must be a single column name; "
            "nested or crossed grouping (a/b, a:b) is not supported yet"
        )
    return RandomTerm(expr=expr, group=group)


def _clean_fixed(text: str) -> str:
    parts = [part.strip() for part in text.split("+")]
    kept = [part for part in parts if part]
    return " + ".join(kept) if kept else "1"
