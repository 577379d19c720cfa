"""Factor coding and level order follow R."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import simlab


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    d = simlab.simulate(30, 5, 0.5, 0.5, seed=11)
    rng = np.random.default_rng(2)
    return d.assign(colour=rng.choice(["red", "blue", "green"], len(d)),
                    size=pd.Categorical(rng.choice(["small", "large"], len(d)),
                                        categories=["small", "large"]))


def test_strings_use_first_sorted_level_as_reference(data):
    fit = simlab.lmer("y ~ x + colour + (1 | group)", data)
    assert list(fit.fixef.index) == ["(Intercept)", "x", "colourgreen", "colourred"]


def test_categorical_order_is_respected(data):
    fit = simlab.lmer("y ~ x + size + (1 | group)", data)
    assert list(fit.fixef.index) == ["(Intercept)", "x", "sizelarge"]
    flipped = data.assign(size=data["size"].cat.reorder_categories(["large", "small"]))
    other = simlab.lmer("y ~ x + size + (1 | group)", flipped)
    assert list(other.fixef.index) == ["(Intercept)", "x", "sizesmall"]
    assert other.fixef.loc["sizesmall", "estimate"] == pytest.approx(
        -fit.fixef.loc["sizelarge", "estimate"], rel=1e-9)
    assert other.reml_criterion == pytest.approx(fit.reml_criterion, rel=1e-12)


def test_interaction_names(data):
    fit = simlab.lmer("y ~ x * size + (1 | group)", data)
    assert list(fit.fixef.index) == ["(Intercept)", "x", "sizelarge", "x:sizelarge"]


def test_group_levels_in_r_order():
    d = simlab.simulate(12, 3, 1, 1, seed=4)
    fit = simlab.lmer("y ~ x + (1 | group)", d)
    assert list(fit.ranef()["group"]) == [str(g) for g in range(1, 13)]   # numeric, not "1", "10", ...
    as_text = simlab.lmer("y ~ x + (1 | group)", d.assign(group=d["group"].astype(str)))
    assert list(as_text.ranef()["group"])[:4] == ["1", "10", "11", "12"]   # R sorts strings as text
    ordered = d.assign(group=pd.Categorical(d["group"], categories=range(12, 0, -1)))
    assert list(simlab.lmer("y ~ x + (1 | group)", ordered).ranef()["group"])[:2] == ["12", "11"]


def test_predict_matches_group_labels_by_text():
    d = simlab.simulate(12, 3, 1, 1, seed=4)
    fit = simlab.lmer("y ~ x + (1 | group)", d)
    by_text = fit.predict(d.assign(group=d["group"].astype(str)))
    np.testing.assert_allclose(by_text, fit.predict(), rtol=1e-12)


@pytest.mark.parametrize("shift", [1e7, -1e9])
def test_rank_check_is_relative_to_the_columns_scale(data, shift):
    """Shifting x (issue 10, item 2) changes neither the rank nor the slope, and a truly
    collinear design on the shifted scale is still refused."""
    import warnings

    moved = data.assign(x=data["x"] + shift)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lme4's predictor-scale warning
        shifted = simlab.lmer("y ~ x + (1 | group)", moved)
    assert shifted.fixef.loc["x", "estimate"] == pytest.approx(
        simlab.lmer("y ~ x + (1 | group)", data).fixef.loc["x", "estimate"], rel=1e-8)
    assert simlab.lm("y ~ x", moved).fixef.loc["x", "estimate"] == pytest.approx(
        simlab.lm("y ~ x", data).fixef.loc["x", "estimate"], rel=1e-8)
    collinear = moved.assign(x2=2 * moved["x"])
    with pytest.raises(ValueError, match=r"rank deficient.*\['x2'\] is a linear combination"):
        simlab.lmer("y ~ x + x2 + (1 | group)", collinear)
    with pytest.raises(ValueError, match=r"rank deficient.*\['x2'\] is a linear combination"):
        simlab.lm("y ~ x + x2", collinear)


def test_every_dependent_term_is_named(data):
    collinear = data.assign(x2=data["x"] + 1e7, x3=3 - data["x"])
    message = (r"rank deficient \(rank 2 < 4 columns\): \['x2', 'x3'\] are linear combinations"
               ".*drop them")
    with pytest.raises(ValueError, match=message):
        simlab.lmer("y ~ x + x2 + x3 + (1 | group)", collinear)
    with pytest.raises(ValueError, match=message):
        simlab.lm("y ~ x + x2 + x3", collinear)


@pytest.mark.parametrize("rhs", ["x", "x + z", "0 + x + z", "z + x - 1", "1", "x + x + z",
                                 "`two words` + x", "k + x", "u + f32"])
def test_plain_columns_build_what_formulaic_builds(data, rhs):
    """The formulaic-free path (PlainSpec) gives formulaic's matrix, names and predictions."""
    from formulaic import model_matrix
    from simlab.model.design import PlainSpec, fixed_part, r_term_name

    rng = np.random.default_rng(5)
    frame = data.assign(z=rng.normal(size=len(data)), k=rng.integers(-3, 4, len(data)),
                        u=rng.integers(0, 9, len(data)).astype(np.uint8),
                        f32=rng.normal(size=len(data)).astype(np.float32),
                        **{"two words": rng.normal(size=len(data))})
    X, terms, spec = fixed_part(rhs, frame)
    theirs = model_matrix(rhs, frame.astype({"k": float, "u": float}))
    assert isinstance(spec, PlainSpec)
    assert terms == tuple(map(r_term_name, theirs.columns))
    np.testing.assert_array_equal(X, np.asarray(theirs, dtype=float))
    np.testing.assert_array_equal(spec.matrix(frame.head(7)), X[:7])


@pytest.mark.parametrize("rhs", ["x + colour", "x + size", "x:z", "I(x * 2)", "flag"])
def test_other_terms_keep_formulaic(data, rhs):
    from simlab.model.design import PlainSpec, fixed_part

    frame = data.assign(z=1.0 + data["x"] ** 2, flag=data["x"] > 0)
    assert not isinstance(fixed_part(rhs, frame)[2], PlainSpec)


def test_prediction_refuses_text_where_the_fit_had_numbers(data):
    fit = simlab.lmer("y ~ x + (1 | group)", data)
    with pytest.raises(ValueError, match=r"'x'.*not numeric.*were numeric when the model was fitted"):
        fit.predict(data.head(3).assign(x=["1", "2", "3"]))


def test_missing_values_drop_rows_on_the_fast_path(data):
    holes = data.assign(x=data["x"].where(data.index % 7 != 0))
    fit = simlab.lmer("y ~ x + (1 | group)", holes)
    ref = simlab.lmer("y ~ x + (1 | group)", holes.dropna())
    assert fit.n_dropped == (data.index % 7 == 0).sum()
    assert fit.reml_criterion == ref.reml_criterion
