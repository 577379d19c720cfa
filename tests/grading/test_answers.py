"""Encoding answers as JSON data (simlab.grading.answers) and decoding them back."""
from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import simlab  # noqa: E402
from simlab.grading.answers import MAX_CELLS, check_encoded, decode, encode  # noqa: E402
from simlab.grading.compare import compare  # noqa: E402


def roundtrip(value):
    """encode -> JSON text -> decode, as between the student's process and the grader."""
    return decode(json.loads(json.dumps(encode(value))))


@pytest.fixture(scope="module")
def lm_fit(sleepstudy_data):
    return simlab.lm("Reaction ~ Days", sleepstudy_data)


@pytest.fixture
def axes():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


# ---------------------------------------------------------------- scalars

@pytest.mark.parametrize("value", [..., NotImplemented])
def test_unanswered_stub_is_missing(value):
    assert encode(value) == {"kind": "missing"}


def test_missing_and_none_decode_to_none():
    assert decode(encode(...)) is None
    assert decode(encode(None)) is None


def test_none():
    assert encode(None) == {"kind": "none"}


@pytest.mark.parametrize("value, expected", [(True, True), (False, False),
                                             (np.bool_(True), True), (np.bool_(False), False)])
def test_bool_including_numpy_bool(value, expected):
    encoded = encode(value)
    assert encoded == {"kind": "bool", "value": expected}
    assert type(encoded["value"]) is bool


def test_bool_is_not_a_number():
    # bool is a subclass of int; it must keep its own kind
    assert encode(True)["kind"] == "bool"


@pytest.mark.parametrize("value, expected", [
    (3, 3.0), (-2.5, -2.5), (np.float64(0.125), 0.125), (np.float32(0.5), 0.5),
    (np.int64(7), 7.0), (np.int8(-3), -3.0), (np.uint16(9), 9.0),
    (Fraction(1, 4), 0.25), (Decimal("1.5"), 1.5),
])
def test_number_including_numpy_scalars_and_ints(value, expected):
    encoded = encode(value)
    assert encoded == {"kind": "number", "value": expected}
    assert type(encoded["value"]) is float


def test_nan_number_survives_json():
    back = roundtrip(float("nan"))
    assert np.isnan(back)


@pytest.mark.parametrize("value", [1 + 2j, np.complex128(1 + 2j), np.complex64(1 + 2j)])
def test_complex_numbers_are_other_not_silently_truncated(value):
    encoded = encode(value)
    assert encoded["kind"] == "other"
    assert "complex" in encoded["type"]


@pytest.mark.parametrize("value", ["higher", "", "  a, c ", np.str_("b")])
def test_text(value):
    assert encode(value) == {"kind": "text", "value": str(value)}
    assert roundtrip(value) == value


# ---------------------------------------------------------------- collections

def test_set_of_strings_is_sorted_set():
    encoded = encode({"c", "a", "b"})
    assert encoded == {"kind": "set", "values": ["a", "b", "c"]}
    assert roundtrip({"c", "a"}) == {"a", "c"}


def test_frozenset_of_strings_is_set():
    assert encode(frozenset({"x"})) == {"kind": "set", "values": ["x"]}


@pytest.mark.parametrize("value", [["b", "a"], ("b", "a"), pd.Index(["b", "a"]),
                                   np.array(["b", "a"])])
def test_list_of_strings_keeps_order(value):
    assert encode(value) == {"kind": "list", "values": ["b", "a"]}
    assert roundtrip(value) == ["b", "a"]


@pytest.mark.parametrize("value", [[1, 2.5, 3], (1, 2.5, 3), np.array([1, 2.5, 3]),
                                   pd.Index([1, 2.5, 3])])
def test_numeric_sequence_is_array(value):
    encoded = encode(value)
    assert encoded == {"kind": "array", "shape": [3], "values": [1.0, 2.5, 3.0]}
    back = roundtrip(value)
    assert isinstance(back, np.ndarray)
    np.testing.assert_array_equal(back, [1.0, 2.5, 3.0])


def test_array_keeps_its_shape():
    value = np.arange(6).reshape(2, 3)
    encoded = encode(value)
    assert encoded["kind"] == "array"
    assert encoded["shape"] == [2, 3]
    back = roundtrip(value)
    assert back.shape == (2, 3)
    np.testing.assert_array_equal(back, value)


def test_nested_numeric_list_is_2d_array():
    assert encode([[1, 2], [3, 4]])["shape"] == [2, 2]


def test_bool_array_is_numeric():
    assert encode(np.array([True, False]))["values"] == [1.0, 0.0]


def test_zero_dimensional_array():
    encoded = encode(np.array(2.5))
    assert encoded == {"kind": "array", "shape": [], "values": [2.5]}
    assert float(roundtrip(np.array(2.5))) == 2.5


def test_empty_list_is_empty_array():
    assert encode([]) == {"kind": "array", "shape": [0], "values": []}


def test_list_mixing_numbers_and_text_is_other():
    encoded = encode([1, "a"])
    assert encoded["kind"] == "other"
    assert "mixing" in encoded["type"]


def test_array_of_unsupported_dtype_is_other():
    encoded = encode(np.array(["2020-01-01"], dtype="datetime64[D]"))
    assert encoded["kind"] == "other"
    assert "datetime64" in encoded["type"]


def test_too_large_array_is_other():
    encoded = encode(np.zeros(MAX_CELLS + 1))
    assert encoded["kind"] == "other"
    assert "too large" in encoded["type"]


def test_array_at_the_limit_is_encoded():
    assert encode(np.zeros(MAX_CELLS))["kind"] == "array"


def test_too_large_numeric_list_is_other():
    assert encode([0.0] * (MAX_CELLS + 1))["kind"] == "other"


def test_too_large_list_of_strings_is_other():
    encoded = encode(["a"] * (MAX_CELLS + 1))
    assert encoded["kind"] == "other"
    assert "too large" in encoded["type"]


# ---------------------------------------------------------------- pandas

def test_series_keeps_labels_as_strings():
    value = pd.Series([0.5, 1.5], index=["sigma", "(Intercept)"])
    assert encode(value) == {"kind": "series", "index": ["sigma", "(Intercept)"],
                             "values": [0.5, 1.5]}
    pd.testing.assert_series_equal(roundtrip(value), value)


def test_series_integer_labels_become_strings():
    encoded = encode(pd.Series([1, 2], index=[10, 20]))
    assert encoded["index"] == ["10", "20"]
    assert encoded["values"] == [1.0, 2.0]


def test_series_of_strings_and_bools_are_text_entries():
    assert encode(pd.Series(["x", None], index=["a", "b"]))["values"] == ["x", None]
    assert encode(pd.Series([True, False]))["values"] == ["True", "False"]


def test_too_large_series_is_other():
    encoded = encode(pd.Series(np.zeros(MAX_CELLS + 1)))
    assert encoded["kind"] == "other"
    assert "Series" in encoded["type"]


def test_frame_with_numeric_string_and_categorical_columns():
    frame = pd.DataFrame({
        "y": [1.5, 2.5, np.nan],
        "n": [1, 2, 3],
        "name": ["a", "b", None],
        "group": pd.Categorical(["g1", "g2", "g1"]),
    }, index=["r1", "r2", "r3"])
    encoded = encode(frame)
    assert encoded["kind"] == "frame"
    assert encoded["index"] == ["r1", "r2", "r3"]
    assert encoded["columns"] == ["y", "n", "name", "group"]
    assert encoded["data"]["n"] == [1.0, 2.0, 3.0]
    assert encoded["data"]["name"] == ["a", "b", None]
    assert encoded["data"]["group"] == ["g1", "g2", "g1"]
    assert np.isnan(encoded["data"]["y"][2])

    back = roundtrip(frame)
    assert list(back.columns) == ["y", "n", "name", "group"]
    assert list(back.index) == ["r1", "r2", "r3"]
    np.testing.assert_array_equal(back["y"].to_numpy(), [1.5, 2.5, np.nan])
    np.testing.assert_array_equal(back["n"].to_numpy(), [1.0, 2.0, 3.0])
    assert back["name"].tolist()[:2] == ["a", "b"] and pd.isna(back["name"].iloc[2])
    assert back["group"].tolist() == ["g1", "g2", "g1"]


def test_frame_non_string_column_names_become_strings():
    encoded = encode(pd.DataFrame({0: [1.0], 1: [2.0]}))
    assert encoded["columns"] == ["0", "1"]
    assert encoded["data"] == {"0": [1.0], "1": [2.0]}


def test_too_large_frame_is_other():
    encoded = encode(pd.DataFrame(np.zeros((MAX_CELLS // 2 + 1, 2))))
    assert encoded["kind"] == "other"
    assert "DataFrame" in encoded["type"]


# ---------------------------------------------------------------- dicts

def test_dict_nesting_encodes_each_value():
    value = {"a": 1, "b": {"c": "x", "d": [1, 2]}, 3: None}
    encoded = encode(value)
    assert encoded["kind"] == "dict"
    assert set(encoded["items"]) == {"a", "b", "3"}
    assert encoded["items"]["a"] == {"kind": "number", "value": 1.0}
    assert encoded["items"]["b"]["items"]["c"] == {"kind": "text", "value": "x"}
    assert encoded["items"]["3"] == {"kind": "none"}


def test_dict_roundtrip():
    value = {"icc": 0.25, "labels": ["a", "b"], "inner": {"flag": True, "s": "x"}}
    assert roundtrip(value) == value


def test_dict_with_series_roundtrip():
    back = roundtrip({"s": pd.Series([1.0, 2.0], index=["a", "b"])})
    pd.testing.assert_series_equal(back["s"], pd.Series([1.0, 2.0], index=["a", "b"]))


def test_deeply_nested_dict_is_cut_off():
    value = {"x": 1.0}
    for _ in range(6):
        value = {"d": value}
    encoded = encode(value)
    inner, depth = encoded, 0
    while inner["kind"] == "dict":
        inner, depth = inner["items"]["d"], depth + 1
    assert depth == 4
    assert inner["kind"] == "other"
    assert "nested" in inner["type"]


# ---------------------------------------------------------------- models and plots

def test_lmer_fit_is_model(sleep_fit):
    encoded = encode(sleep_fit)
    assert encoded["kind"] == "model"
    assert encoded["type"] == "lmer"
    assert encoded["formula"] == "Reaction ~ Days + (1 | Subject)"
    assert encoded["reml"] is True
    assert encoded["terms"] == ["(Intercept)", "Days"]
    np.testing.assert_allclose(encoded["estimate"], sleep_fit.fixef["estimate"])
    np.testing.assert_allclose(encoded["se"], sleep_fit.fixef["se"])
    assert encoded["sigma"] == pytest.approx(sleep_fit.sigma)
    assert encoded["tau"] == pytest.approx(sleep_fit.tau)
    assert encoded["nobs"] == 180


def test_a_random_slopes_fit_is_a_model_without_tau(sleepstudy_data, sleep_fit):
    """tau is defined for (1 | g) only: a slopes fit encodes it as None instead of failing,
    and still differs from the random-intercept fit (its SEs and sigma)."""
    slopes = simlab.lmer("Reaction ~ Days + (Days | Subject)", sleepstudy_data)
    encoded = encode(slopes)
    assert encoded["kind"] == "model" and encoded["tau"] is None
    assert check_encoded(encoded) is None
    assert decode(json.loads(json.dumps(encoded))) == encoded
    assert compare(encoded, encoded, rtol=1e-6, atol=0).ok
    intercept = encode(sleep_fit)
    for want, got in ((encoded, intercept), (intercept, encoded)):
        assert not compare(want, got, rtol=1e-6, atol=0).ok


def test_lm_fit_is_model(lm_fit):
    encoded = encode(lm_fit)
    assert encoded["kind"] == "model"
    assert encoded["type"] == "lm"
    assert encoded["reml"] is None and encoded["tau"] is None
    assert encoded["terms"] == ["(Intercept)", "Days"]
    np.testing.assert_allclose(encoded["estimate"], lm_fit.fixef["estimate"])
    assert encoded["nobs"] == 180


def test_model_encoding_is_json_and_decodes_to_itself(sleep_fit, lm_fit):
    for fit in (sleep_fit, lm_fit):
        encoded = encode(fit)
        assert decode(json.loads(json.dumps(encoded))) == encoded


def test_axes(axes):
    axes.plot([0, 1], [0, 1])
    axes.set_xlim(-3, 3)
    axes.set_xlabel("value")
    encoded = encode(axes)
    assert encoded == {"kind": "axes", "xlim": [-3.0, 3.0], "xlabel": "value", "artists": 1}
    assert decode(json.loads(json.dumps(encoded))) == encoded


def test_empty_axes_has_no_artists(axes):
    assert encode(axes)["artists"] == 0


def test_axes_counts_collections_and_patches(axes):
    axes.scatter([0, 1], [0, 1])
    axes.bar([0], [1])
    assert encode(axes)["artists"] >= 2


# ---------------------------------------------------------------- unsupported

class Gadget:
    pass


def test_unsupported_object_is_other_with_type_name():
    encoded = encode(Gadget())
    assert encoded["kind"] == "other"
    assert "Gadget" in encoded["type"]
    assert decode(encoded) == encoded


def test_function_is_other():
    encoded = encode(lambda: 1)
    assert encoded["kind"] == "other"
    assert "function" in encoded["type"]


# ---------------------------------------------------------------- JSON

@pytest.mark.parametrize("value", [
    ..., None, True, 2.5, "text", {"a", "b"}, ["x", "y"], [1.0, 2.0],
    np.arange(4.0).reshape(2, 2), pd.Series([1.0], index=["a"]),
    pd.DataFrame({"a": [1.0], "b": ["x"]}), {"k": {"j": 1.0}}, Gadget(),
])
def test_every_encoding_is_json_serialisable(value):
    encoded = encode(value)
    assert json.loads(json.dumps(encoded)) == encoded
