"""Answers as plain JSON data, and their comparison with the key.

A student's process encodes what each question returned with :func:`encode`
and writes it to a file; the grader compares it with the key in its own
process (:func:`compare`). So no student object is ever unpickled by the
grader, and the student's process never needs the key.

Every encoding is a dict with a ``kind``: ``missing`` (``...``, an
unanswered stub), ``none``, ``bool``, ``number``, ``text``, ``set``,
``array``, ``series``, ``frame``, ``dict``, ``model`` (an ``lmer`` or ``lm``
fit), ``axes`` (a matplotlib plot) or ``other``.

:func:`compare` explains a mismatch in terms a student can act on (the
form, the labels, which entries differ) and never states the expected
values.
"""
from __future__ import annotations

from collections.abc import Mapping
from numbers import Number

import numpy as np
import pandas as pd

__all__ = ["encode", "decode", "check_encoded", "MAX_CELLS"]

#: Tables larger than this many cells are not encoded (no question needs them).
MAX_CELLS = 200_000
_MAX_DEPTH = 4


def encode(value, _depth: int = 0) -> dict:
    """The JSON-ready encoding of an answer (see the module docstring)."""
    if value is Ellipsis or value is NotImplemented:
        return {"kind": "missing"}
    if value is None:
        return {"kind": "none"}
    if isinstance(value, (bool, np.bool_)):
        return {"kind": "bool", "value": bool(value)}
    if isinstance(value, Number) and not isinstance(value, (complex, np.complexfloating)):
        return {"kind": "number", "value": float(value)}
    if isinstance(value, str):
        return {"kind": "text", "value": value}
    for kind, encoder in _ENCODERS:
        if isinstance(value, kind):
            return encoder(value, _depth)
    return _encode_special(value)


def _encode_sequence(value, depth: int) -> dict:
    items = list(value)
    if len(items) > MAX_CELLS:
        return {"kind": "other", "type": f"a collection of {len(items)} values (too large)"}
    if items and all(isinstance(item, str) for item in items):
        return {"kind": "set" if isinstance(value, (set, frozenset)) else "list",
                "values": sorted(items) if isinstance(value, (set, frozenset)) else items}
    try:
        array = np.asarray(items, dtype=float)
    except (TypeError, ValueError):
        return {"kind": "other", "type": "a list mixing numbers with other things"}
    return _encode_array(array, depth)


def _encode_array(value: np.ndarray, depth: int) -> dict:
    if value.size > MAX_CELLS:
        return {"kind": "other", "type": f"an array of {value.size} values (too large)"}
    if value.dtype.kind in "biuf":
        return {"kind": "array", "shape": list(value.shape),
                "values": value.astype(float).ravel().tolist()}
    if value.dtype.kind in "OUS" and all(isinstance(v, str) for v in value.ravel()):
        return _encode_sequence(value.ravel().tolist(), depth)
    return {"kind": "other", "type": f"an array of dtype {value.dtype}"}


def _column(values: pd.Series) -> list:
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return [None if pd.isna(v) else str(v) for v in values]
    return values.astype(float).tolist()


def _encode_series(value: pd.Series, depth: int) -> dict:
    if value.size > MAX_CELLS:
        return {"kind": "other", "type": f"a Series of {value.size} values (too large)"}
    return {"kind": "series", "index": [str(i) for i in value.index], "values": _column(value)}


def _encode_frame(value: pd.DataFrame, depth: int) -> dict:
    if value.size > MAX_CELLS:
        return {"kind": "other", "type": f"a DataFrame of {value.size} cells (too large)"}
    columns = [str(c) for c in value.columns]
    return {"kind": "frame", "index": [str(i) for i in value.index], "columns": columns,
            "data": {name: _column(value.iloc[:, j]) for j, name in enumerate(columns)}}


def _encode_dict(value: Mapping, depth: int) -> dict:
    if depth >= _MAX_DEPTH:
        return {"kind": "other", "type": "a deeply nested dict"}
    return {"kind": "dict", "items": {str(k): encode(v, depth + 1) for k, v in value.items()}}


_ENCODERS = (
    (pd.DataFrame, _encode_frame),
    (pd.Series, _encode_series),
    (np.ndarray, _encode_array),
    (Mapping, _encode_dict),
    ((list, tuple, set, frozenset, pd.Index), _encode_sequence),
)


def _encode_special(value) -> dict:
    """Fitted models and matplotlib Axes, recognised without importing their modules."""
    type_name = type(value).__name__
    if type_name == "LmerResult":
        fixef = value.fixef
        return {"kind": "model", "type": "lmer", "formula": value.formula,
                "reml": bool(value.reml), "terms": [str(t) for t in fixef.index],
                "estimate": fixef["estimate"].tolist(), "se": fixef["se"].tolist(),
                "sigma": float(value.sigma), "tau": _tau(value), "nobs": int(value.nobs)}
    if type_name == "LmResult":
        return {"kind": "model", "type": "lm", "formula": value.formula, "reml": None,
                "terms": [str(t) for t in value.fixef.index],
                "estimate": value.fixef["estimate"].tolist(), "se": value.fixef["se"].tolist(),
                "sigma": float(value.sigma), "tau": None, "nobs": int(value.nobs)}
    if hasattr(value, "get_xlim") and hasattr(value, "get_lines"):
        artists = len(value.get_lines()) + len(value.collections) + len(value.patches)
        return {"kind": "axes", "xlim": [float(v) for v in value.get_xlim()],
                "xlabel": str(value.get_xlabel()), "artists": artists}
    if isinstance(value, np.generic):
        return encode(value.item())
    return {"kind": "other", "type": f"a {type(value).__module__}.{type_name}"}


def _tau(fit) -> float | None:
    """The random intercept's sd, or None for a model with random slopes (``tau`` is
    defined for ``(1 | g)`` only; the fixed effects, their SEs and sigma still compare)."""
    try:
        return float(fit.tau)
    except ValueError:
        return None


def decode(encoded: dict):
    """The Python value of an encoding: float, str, bool, ndarray, Series, DataFrame, ..."""
    kind = encoded["kind"]
    if kind in ("number", "bool", "text"):
        return encoded["value"]
    if kind == "array":
        return np.asarray(encoded["values"], dtype=float).reshape(encoded["shape"])
    if kind == "series":
        return pd.Series(encoded["values"], index=encoded["index"])
    if kind == "frame":
        return pd.DataFrame(encoded["data"], index=encoded["index"], columns=encoded["columns"])
    if kind in ("set", "list"):
        return set(encoded["values"]) if kind == "set" else list(encoded["values"])
    if kind == "dict":
        return {k: decode(v) for k, v in encoded["items"].items()}
    if kind in ("missing", "none"):
        return None
    return encoded


def _is_number(value) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _numbers(values) -> bool:
    return isinstance(values, list) and len(values) <= MAX_CELLS and all(map(_is_number, values))


def _cells(values) -> bool:
    return isinstance(values, list) and len(values) <= MAX_CELLS and all(
        _is_number(v) or isinstance(v, str) for v in values)


def _texts(values) -> bool:
    return isinstance(values, list) and len(values) <= MAX_CELLS and all(
        isinstance(v, str) for v in values)


def _check_frame(encoded: dict) -> bool:
    data, index, columns = encoded.get("data"), encoded.get("index"), encoded.get("columns")
    return (_texts(index) and _texts(columns) and isinstance(data, dict)
            and set(data) == set(columns)
            and all(_cells(col) and len(col) == len(index) for col in data.values()))


def _check_model(encoded: dict) -> bool:
    terms, estimate, se = encoded.get("terms"), encoded.get("estimate"), encoded.get("se")
    return (_texts(terms) and _numbers(estimate) and _numbers(se)
            and len(terms) == len(estimate) == len(se)
            and all(_is_number(encoded.get(k)) for k in ("sigma", "tau", "nobs")))


_SHAPES = {
    "missing": lambda e: True, "none": lambda e: True, "other": lambda e: True,
    "bool": lambda e: isinstance(e.get("value"), bool),
    "number": lambda e: _is_number(e.get("value")) and e.get("value") is not None,
    "text": lambda e: isinstance(e.get("value"), str),
    "set": lambda e: _texts(e.get("values")), "list": lambda e: _texts(e.get("values")),
    "array": lambda e: (_numbers(e.get("values")) and isinstance(e.get("shape"), list)
                        and all(isinstance(n, int) and n >= 0 for n in e["shape"])
                        and int(np.prod(e["shape"])) == len(e["values"])),
    "series": lambda e: (_texts(e.get("index")) and _cells(e.get("values"))
                         and len(e["index"]) == len(e["values"])),
    "frame": _check_frame, "model": _check_model,
    "axes": lambda e: (_numbers(e.get("xlim")) and len(e["xlim"]) == 2
                       and isinstance(e.get("xlabel"), str) and _is_number(e.get("artists"))),
}


def check_encoded(encoded, _depth: int = 0) -> str | None:
    """Why ``encoded`` is not an encoding :func:`encode` could have made, or None if it is.

    The grader reads answers from a process that runs student code, so it
    checks their shape before comparing them with the key.
    """
    if not isinstance(encoded, dict):
        return f"expected an encoded answer, got {type(encoded).__name__}"
    kind = encoded.get("kind")
    if kind == "dict":
        items = encoded.get("items")
        if _depth >= _MAX_DEPTH or not isinstance(items, dict):
            return "a malformed dict"
        return next(filter(None, (check_encoded(v, _depth + 1) for v in items.values())), None)
    if kind not in _SHAPES:
        return f"unknown kind {str(kind)[:40]!r}"
    return None if _SHAPES[kind](encoded) else f"a malformed {kind}"
