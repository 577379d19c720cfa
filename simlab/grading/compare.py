"""Comparing an encoded answer with the key's, within a tolerance.

:func:`compare` returns a :class:`Verdict` whose ``problem`` tells the
student what is off (the form, missing labels, which entries differ) but
never the expected values; :func:`describe` states the expected form.
Numbers match when ``|got - expected| <= atol + rtol * |expected|``
(``numpy.isclose``); a number that misses only because it was rounded is
told so, without the key's value. Labels and text must match exactly, up
to case and surrounding spaces; a multiple-choice answer may be written
``"b"``, ``"(b)"``, ``"b)"``, ``"B."`` or as a collection of such options.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = ["Verdict", "compare", "describe", "normalize_choice", "looks_rounded"]

_NUMERIC = ("number", "array", "series")


@dataclass(frozen=True)
class Verdict:
    """Whether an answer matches the key, and if not, why (without the key's values).

    ``problem`` is one lower-case clause (or two sentences for an
    unanswered question, the second naming the expected form), without a
    final full stop.
    """

    ok: bool
    problem: str = ""


PASS = Verdict(True)


def describe(expected: dict, choices: tuple[str, ...] | None = None) -> str:
    """The form of the expected answer, in words a student can act on."""
    if choices:
        return "the option(s) you choose among " + ", ".join(repr(c) for c in choices) + \
            ", as a string"
    kind = expected["kind"]
    if kind == "series":
        return f"a pandas Series with the labels {expected['index'][:8]}"
    if kind == "frame":
        return (f"a pandas DataFrame with {len(expected['index'])} rows and the columns "
                f"{expected['columns']}")
    if kind == "array":
        return f"an array of shape {tuple(expected['shape'])}"
    if kind == "model":
        return ("a fitted model from simlab.lmer" if expected["type"] == "lmer"
                else "a fitted model from simlab.lm")
    if kind == "dict":
        return f"a dict with the keys {sorted(expected['items'])}"
    return {"number": "a number", "bool": "True or False", "text": "a string",
            "axes": "a matplotlib Axes (the plot)", "set": "a set of strings",
            "list": "a list of strings"}.get(kind, kind)


#: Decoration around an option that a student may type: quotes and a full stop (``"b."``),
#: then brackets too (``(b)``, ``b)``, ``[b]``); the first that leaves a known choice counts.
_QUOTES = re.compile(r"""^[\s"'`]+|[\s"'`.:]+$""")
_DECORATION = re.compile(r"""^[\s"'`(\[]+|[\s"'`.:)\]]+$""")


def normalize_choice(encoded: dict, choices: tuple[str, ...] | None = None
                     ) -> frozenset[str] | None:
    """A multiple-choice answer as a set of lower-case options, or None if it is not one.

    Accepts ``"b"``, ``"a, c"``, ``"a c"``, ``["a", "c"]`` and ``{"a", "c"}``.
    With ``choices``, an option written ``"(b)"``, ``"b)"``, ``"B."`` or
    ``'"b"'`` counts as ``"b"``; an option that is itself one of the choices
    (such as ``"(Intercept)"``) is kept as it is.
    """
    allowed = frozenset(c.lower() for c in choices or ())
    if encoded["kind"] == "text":
        parts = _split_options(encoded["value"].strip().lower(), allowed)
    elif encoded["kind"] in ("set", "list"):
        parts = [v.lower() for v in encoded["values"]]
    else:
        return None
    options = (_clean_option(p, allowed) for p in parts)
    return frozenset(option for option in options if option)


def _clean_option(option: str, allowed: frozenset[str]) -> str:
    """``option`` without spaces, and without decoration if that makes it a known choice."""
    option = option.strip()
    if option not in allowed:
        for pattern in (_QUOTES, _DECORATION):
            if pattern.sub("", option) in allowed:
                return pattern.sub("", option)
    return option


def _split_options(text: str, allowed: frozenset[str]) -> list[str]:
    """Split ``"a, c"``, ``"a; c"`` and ``"(a) (c)"`` into options; keep a known choice whole."""
    if _clean_option(text, allowed) in allowed:
        return [text]
    parts = re.split(r"[,;]", text)
    tokens = text.split()
    if len(parts) == 1 and all(len(_DECORATION.sub("", t)) == 1 or _clean_option(t, allowed)
                               in allowed for t in tokens):
        return tokens  # "a c" means a and c
    return parts


def compare(expected: dict, got: dict, *, rtol: float, atol: float,
            choices: tuple[str, ...] | None = None) -> Verdict:
    """Compare the encoded answer ``got`` with the key's ``expected``.

    The verdict's ``problem`` states the mismatch once, with the expected
    form where the form is what is off; the caller adds only a hint.
    """
    if got["kind"] == "missing":
        return Verdict(False, "not answered yet: the stub still returns `...`. "
                              f"Expected {describe(expected, choices)}")
    if choices:
        return _compare_choice(expected, got, choices)
    if expected["kind"] in _NUMERIC and got["kind"] in _NUMERIC:
        return _compare_numeric(expected, got, rtol, atol)
    if expected["kind"] != got["kind"]:
        return Verdict(False, f"expected {describe(expected)}, got {_what(got)}")
    compare_kind = _COMPARERS.get(expected["kind"], _compare_exact)
    return compare_kind(expected, got, rtol, atol)


def _what(got: dict) -> str:
    if got["kind"] == "other":
        return got["type"]
    if got["kind"] == "none":
        return "None (did you forget `return`?)"
    return describe(got)


def _compare_choice(expected, got, choices) -> Verdict:
    chosen = normalize_choice(got, choices)
    if chosen is None:
        return Verdict(False, f"expected {describe(expected, choices)}, got {_what(got)}")
    allowed = {c.lower() for c in choices}
    unknown = sorted(chosen - allowed)
    if unknown:  # not echoed: feedback must not carry what the student's code read
        return Verdict(False, f"your answer names {len(unknown)} option(s) that are not among "
                              f"the choices {list(choices)}")
    if chosen != normalize_choice(expected, choices):
        return Verdict(False, "not the right choice(s)")
    return PASS


def _as_vector(encoded: dict) -> tuple[np.ndarray, list[str] | None]:
    if encoded["kind"] == "number":
        return np.array([encoded["value"]], dtype=float), None
    if encoded["kind"] == "series":
        try:
            return np.asarray(encoded["values"], dtype=float), encoded["index"]
        except (TypeError, ValueError):
            return np.array([np.nan] * len(encoded["values"])), encoded["index"]
    return np.asarray(encoded["values"], dtype=float), None


def _compare_numeric(expected, got, rtol, atol) -> Verdict:
    want, want_labels = _as_vector(expected)
    have, have_labels = _as_vector(got)
    have_raw = _raw_values(got)
    if want.size != have.size:
        return Verdict(False, f"expected {describe(expected)}, got {have.size} value(s)")
    if want_labels is not None and have_labels is not None:
        if sorted(want_labels) != sorted(have_labels):
            return Verdict(False, f"the labels differ: expected {want_labels[:8]}, "
                                  f"got {have_labels[:8]}")
        order = [have_labels.index(label) for label in want_labels]
        have = have[order]
        have_raw = [have_raw[i] for i in order]
    want_raw = _raw_values(expected)
    if not _is_numeric(want_raw):  # a Series of strings or booleans: compare the entries
        return _same_labels(want_raw, have_raw)
    return _close(want, have, rtol, atol, want_labels)


def _raw_values(encoded: dict) -> list:
    return [encoded["value"]] if encoded["kind"] == "number" else list(encoded["values"])


def _close(want: np.ndarray, have: np.ndarray, rtol: float, atol: float,
           labels: list[str] | None = None) -> Verdict:
    good = np.isclose(have, want, rtol=rtol, atol=atol, equal_nan=True)
    if good.all():
        return PASS
    rounded = _ROUNDED if looks_rounded(want[~good], have[~good]) else ""
    if want.size == 1:
        return Verdict(False, f"your value {have[0]:.6g} is not the expected one "
                              f"(tolerance rtol={rtol:g}, atol={atol:g}){rounded}")
    bad = np.flatnonzero(~good)
    where = [labels[i] for i in bad[:5]] if labels else [int(i) for i in bad[:5]]
    return Verdict(False, f"{bad.size} of {want.size} values differ from the key "
                          f"(first at {where}; tolerance rtol={rtol:g}, atol={atol:g}){rounded}")


_ROUNDED = "; your answer looks rounded: return the full-precision value, not a rounded one"
_ROUNDINGS = range(1, 5)


def looks_rounded(want: np.ndarray, have: np.ndarray) -> bool:
    """Whether every value of ``have`` is ``want`` rounded to 1-4 decimals or significant digits.

    Zeros and non-finite values never count as rounded, so an empty or
    placeholder answer gets no rounding hint.

    Parameters
    ----------
    want, have : numpy.ndarray
        The key's values and the student's, of the same shape.
    """
    want, have = np.asarray(want, dtype=float), np.asarray(have, dtype=float)
    if have.size == 0 or not (np.isfinite(want).all() and np.isfinite(have).all()) \
            or (have == 0).any():
        return False
    candidates = [np.round(want, d) for d in _ROUNDINGS]
    candidates += [np.array([float(f"{v:.{d}g}") for v in want.ravel()]).reshape(want.shape)
                   for d in _ROUNDINGS]
    matches = [np.isclose(have, c, rtol=1e-9, atol=0.0) for c in candidates]
    return bool(np.logical_or.reduce(matches).all())


def _compare_frame(expected, got, rtol, atol) -> Verdict:
    missing = [c for c in expected["columns"] if c not in got["columns"]]
    if missing:
        return Verdict(False, f"your table lacks the column(s) {missing}; it has {got['columns']}")
    if len(got["index"]) != len(expected["index"]):
        return Verdict(False, f"expected {len(expected['index'])} rows, got {len(got['index'])}")
    for column in expected["columns"]:
        want, have = expected["data"][column], got["data"][column]
        verdict = (_close(np.asarray(want, float), _floats(have), rtol, atol, expected["index"])
                   if _is_numeric(want) else _same_labels(want, have))
        if not verdict.ok:
            return Verdict(False, f"column {column!r}: {verdict.problem}")
    return PASS


def _is_numeric(values: list) -> bool:
    return all(v is None or isinstance(v, float) for v in values)


def _floats(values: list) -> np.ndarray:
    try:
        return np.asarray([np.nan if v is None else v for v in values], dtype=float)
    except (TypeError, ValueError):
        return np.full(len(values), np.nan)


def _same_labels(want: list, have: list) -> Verdict:
    if [str(v).strip().lower() for v in want] == [str(v).strip().lower() for v in have]:
        return PASS
    return Verdict(False, "the entries differ from the key")


def _compare_model(expected, got, rtol, atol) -> Verdict:
    if got["type"] != expected["type"]:
        return Verdict(False, f"expected {describe(expected)}, got a fit from simlab.{got['type']}")
    if sorted(got["terms"]) != sorted(expected["terms"]):
        return Verdict(False, f"the fixed-effect terms differ: expected {expected['terms']}, "
                              f"got {got['terms']} (check the formula)")
    if got["nobs"] != expected["nobs"]:
        return Verdict(False, f"your model used {got['nobs']} rows; expected {expected['nobs']}")
    if expected["reml"] is not None and got["reml"] != expected["reml"]:
        method = "REML (the default)" if expected["reml"] else "ML (reml=False)"
        return Verdict(False, f"the model should be fitted by {method}")
    order = [got["terms"].index(t) for t in expected["terms"]]
    for part in ("estimate", "se"):
        verdict = _close(np.asarray(expected[part]), np.asarray(got[part])[order], rtol, atol,
                         expected["terms"])
        if not verdict.ok:
            return Verdict(False, f"fixed-effect {part}: {verdict.problem}")
    scales = [p for p in ("sigma", "tau") if expected[p] is not None]
    # A model with random slopes has no tau (None): it is not the random-intercept model.
    have = np.array([np.nan if got[p] is None else got[p] for p in scales], dtype=float)
    return _close(np.array([expected[p] for p in scales]), have, rtol, atol, scales)


def _compare_axes(expected, got, rtol, atol) -> Verdict:
    if got["artists"] == 0:
        return Verdict(False, "the plot is empty")
    if not np.allclose(got["xlim"], expected["xlim"], atol=0.05 * np.ptp(expected["xlim"])):
        return Verdict(False, f"the x-limits {tuple(round(v, 3) for v in got['xlim'])} are "
                              "not the ones asked for")
    return PASS


def _compare_dict(expected, got, rtol, atol) -> Verdict:
    if sorted(got["items"]) != sorted(expected["items"]):
        return Verdict(False, f"expected the keys {sorted(expected['items'])}, "
                              f"got {sorted(got['items'])}")
    for key, want in expected["items"].items():
        verdict = compare(want, got["items"][key], rtol=rtol, atol=atol)
        if not verdict.ok:
            return Verdict(False, f"[{key!r}]: {verdict.problem}")
    return PASS


def _compare_exact(expected, got, rtol, atol) -> Verdict:
    if expected["kind"] == "text":
        same = expected["value"].strip().lower() == got["value"].strip().lower()
    elif expected["kind"] == "set":
        same = ({v.strip().lower() for v in expected["values"]}
                == {v.strip().lower() for v in got["values"]})
    elif expected["kind"] == "list":
        same = ([v.strip().lower() for v in expected["values"]]
                == [v.strip().lower() for v in got["values"]])
    else:
        same = expected == got
    return PASS if same else Verdict(False, "not the expected answer")


_COMPARERS = {"frame": _compare_frame, "model": _compare_model, "axes": _compare_axes,
              "dict": _compare_dict}
