"""Keys that are right for every student: answers that must be usable, decisions with a margin.

Some answers are decisions taken on noisy numbers: whether the ICC went down
after a change, whether every interval got wider, which intervals fell below
a cut-off. For one student's data the key states what that student's numbers
imply. That is fair only if the numbers lie clearly on one side of the
threshold: otherwise the key hangs on the sampling noise of the variant, and
a student who understood the idea (and answers what the design implies) is
marked wrong, as ``tau = sigma`` did to the swapped-ICC question.

A question declares this with a :class:`Decision`: what the key's other
answers imply (``implied``), how far they are from the threshold
(``margin``, in the units of the numbers) and the smallest margin allowed.
:func:`decision_problem` checks one variant; :func:`answer_problem` checks
that an answer is usable at all (present, finite, one of the choices).
``simlab validate --variants N`` runs both on N student ids.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from .answers import encode
from .compare import normalize_choice
from .questions import KeyContext, Question

__all__ = ["Decision", "compared", "all_sides", "below", "answer_problem", "decision_problem"]

#: Encodings that carry no answer.
_EMPTY = ("missing", "none", "other")


@dataclass(frozen=True)
class Decision:
    """How a decision question's answer follows from the key's other answers.

    Parameters
    ----------
    implied : callable
        ``implied(ctx: KeyContext) -> answer``: the choice (or set of choices)
        that the numbers in ``ctx.expected`` imply.
    margin : callable
        ``margin(ctx) -> float``: how far those numbers are from the nearest
        threshold of the decision.
    minimum : float
        The smallest margin a variant may have: well beyond any rounding or
        tolerance, so the decision is the design's, not the noise's.
    measure : str
        What the margin measures, in words, e.g. ``"|swapped ICC - ICC|"``.
    """

    implied: Callable[[KeyContext], Any]
    margin: Callable[[KeyContext], float]
    minimum: float
    measure: str

    def __post_init__(self) -> None:
        if not (isinstance(self.minimum, (int, float)) and math.isfinite(self.minimum)
                and self.minimum > 0):
            raise ValueError(f"the minimum margin of {self.measure!r} must be a positive "
                             f"number, got {self.minimum!r}")


def compared(first: str, second: str, *, minimum: float,
             words: tuple[str, str, str] = ("higher", "lower", "unchanged")) -> Decision:
    """The answer ``second`` compared with ``first``: ``words[0]`` if above, ``words[1]``
    if below, ``words[2]`` if equal; the margin is ``|second - first|``."""
    def implied(ctx: KeyContext) -> str:
        a, b = ctx.expected[first], ctx.expected[second]
        return words[0] if b > a else words[1] if b < a else words[2]

    return Decision(implied, lambda ctx: abs(ctx.expected[second] - ctx.expected[first]),
                    minimum, f"|{second} - {first}|")


def all_sides(name: str, threshold: float, *, minimum: float,
              words: tuple[str, str, str] = ("wider", "narrower", "mixed")) -> Decision:
    """Where the entries of the Series ``name`` lie: ``words[0]`` if all above
    ``threshold``, ``words[1]`` if all below, else ``words[2]``; the margin is the
    smallest ``|value - threshold|``."""
    def implied(ctx: KeyContext) -> str:
        values = ctx.expected[name]
        return (words[0] if (values > threshold).all() else
                words[1] if (values < threshold).all() else words[2])

    return Decision(implied, lambda ctx: float((ctx.expected[name] - threshold).abs().min()),
                    minimum, f"min |{name} - {threshold:g}|")


def below(name: str, threshold: float, *, minimum: float) -> Decision:
    """The labels of the Series ``name`` whose value is below ``threshold``; the margin
    is the smallest ``|value - threshold|``."""
    def implied(ctx: KeyContext) -> set[str]:
        values = ctx.expected[name]
        return {str(label) for label in values.index[values < threshold]}

    return Decision(implied, lambda ctx: float((ctx.expected[name] - threshold).abs().min()),
                    minimum, f"min |{name} - {threshold:g}|")


def answer_problem(question: Question, encoded: dict | None, error: str | None = None
                   ) -> str | None:
    """Why the key's encoded answer to ``question`` is unusable, or None if it is fine.

    Unusable means: an error or no answer, ``...``/None or an object that cannot
    be compared, any number that is NaN or infinite, or (for multiple choice)
    an option that is not one of the question's choices.
    """
    if encoded is None:
        return f"no answer ({error})" if error else "no answer"
    if encoded["kind"] in _EMPTY:
        return f"no usable answer ({encoded.get('type', encoded['kind'])})"
    if not all(math.isfinite(number) for number in _numbers(encoded)):
        return "an answer with a NaN or infinite number"
    if question.choices:
        chosen = normalize_choice(encoded, question.choices)
        allowed = {c.lower() for c in question.choices}
        if chosen is None or not chosen <= allowed:
            return f"an answer that is not among the choices {list(question.choices)}"
    return None


def _numbers(encoded: dict) -> Iterator[float]:
    """Every number of an encoded answer (text cells of tables are skipped)."""
    kind = encoded["kind"]
    if kind == "number":
        yield encoded["value"]
    elif kind in ("array", "series"):
        yield from _numeric(encoded["values"])
    elif kind == "frame":
        for column in encoded["data"].values():
            yield from _numeric(column)
    elif kind == "model":
        yield from [*encoded["estimate"], *encoded["se"], encoded["sigma"]]
        yield from [encoded["tau"]] if encoded["tau"] is not None else []
    elif kind == "axes":
        yield from encoded["xlim"]
    elif kind == "dict":
        for item in encoded["items"].values():
            yield from _numbers(item)


def _numeric(values: list) -> Iterator[float]:
    return (v for v in values if v is not None and not isinstance(v, str))


def decision_problem(question: Question, context: KeyContext,
                     stated: dict) -> tuple[float, str | None]:
    """The margin of ``question``'s decision for one variant, and what is wrong with it.

    Parameters
    ----------
    question : Question
        A question with a :class:`Decision`.
    context : KeyContext
        The key's decoded answers for the variant.
    stated : dict
        The key's own encoded answer to ``question``.

    Returns
    -------
    margin : float
        NaN if it could not be computed.
    problem : str or None
        None if the stated answer is what the numbers imply and the margin is at
        least the decision's minimum.
    """
    decision = question.decision
    try:
        implied, margin = decision.implied(context), float(decision.margin(context))
    except Exception as err:  # noqa: BLE001 - report any failure of the key's own numbers
        return math.nan, f"its decision cannot be computed: {type(err).__name__}: {err}"
    if normalize_choice(encode(implied), question.choices) != normalize_choice(
            stated, question.choices):
        return margin, (f"the key answers {_shown(stated)} but its numbers imply "
                        f"{_shown(encode(implied))}")
    if not margin >= decision.minimum:  # also catches NaN
        return margin, (f"{decision.measure} is {margin:.3g}, less than the margin "
                        f"{decision.minimum:g} the decision needs")
    return margin, None


def _shown(encoded: dict) -> str:
    if encoded["kind"] in ("set", "list"):
        return "{" + ", ".join(repr(v) for v in encoded["values"]) + "}"
    return repr(encoded.get("value", encoded["kind"]))
