"""Answer-key structures (simlab.grading.questions)."""
from __future__ import annotations

import math

import pytest

from simlab.grading.questions import (VISIBILITIES, ExerciseKey, KeyContext, Mistake,
                                      Question)


def q(name="q1", points=1, **kwargs) -> Question:
    return Question(name, f"prompt of {name}", points, f"hint for {name}", **kwargs)


def test_question_defaults():
    question = q()
    assert question.rtol == 1e-6 and question.atol == 0.0
    assert question.visibility == "public" and not question.hidden
    assert question.choices is None and question.mistakes == () and question.published is None


def test_visibilities():
    assert VISIBILITIES == ("public", "hidden")


def test_hidden_question():
    assert q(visibility="hidden").hidden


@pytest.mark.parametrize("visibility", ["private", "Hidden", "", "visible", None])
def test_bad_visibility_raises(visibility):
    with pytest.raises(ValueError, match="visibility must be one of"):
        q(visibility=visibility)


@pytest.mark.parametrize("points", [0, -1, -0.5, math.nan])
def test_points_must_be_positive(points):
    with pytest.raises(ValueError, match="points must be > 0"):
        q(points=points)


@pytest.mark.parametrize("kwargs", [{"rtol": -1e-6}, {"atol": -0.1}])
def test_negative_tolerance_raises(kwargs):
    with pytest.raises(ValueError, match="tolerances >= 0"):
        q(**kwargs)


def test_error_names_the_question():
    with pytest.raises(ValueError, match="'q_bad'"):
        q("q_bad", points=0)


def test_zero_tolerances_allowed():
    question = q(rtol=0.0, atol=0.0)
    assert question.rtol == 0.0


def test_question_is_frozen():
    with pytest.raises(AttributeError):
        q().points = 3


def test_mistake_holds_hint_and_function():
    mistake = Mistake("you used ML", lambda ctx: ctx.expected["a"] * 2)
    ctx = KeyContext({"a": 1.5}, "123")
    assert mistake.wrong(ctx) == 3.0
    assert ctx.student_id == "123"
    assert KeyContext({}).student_id is None


def key(*questions, **kwargs) -> ExerciseKey:
    return ExerciseKey("ex", "An exercise", tuple(questions), **kwargs)


def test_duplicate_question_names_raise():
    with pytest.raises(ValueError, match="duplicate question names"):
        key(q("q1"), q("q2"), q("q1", points=2))


def test_max_score_sums_points():
    exercise = key(q("q1", 1), q("q2", 2.5), q("q3", 0.5, visibility="hidden"))
    assert exercise.max_score == 4.0
    assert isinstance(exercise.max_score, float)


def test_empty_key_has_zero_max_score():
    assert key().max_score == 0.0


def test_question_by_name():
    first, second = q("q1"), q("q2", 2)
    exercise = key(first, second)
    assert exercise.question("q2") is second
    assert exercise.question("q1") is first


def test_unknown_question_raises_key_error():
    with pytest.raises(KeyError):
        key(q("q1")).question("nope")


def test_public_drops_hidden_questions():
    exercise = key(q("q1"), q("q2", visibility="hidden"), q("q3", 2), data_files=("a.csv",),
                   variants=True)
    public = exercise.public()
    assert [x.name for x in public.questions] == ["q1", "q3"]
    assert public.max_score == 3.0
    assert (public.name, public.title, public.data_files, public.variants) == (
        "ex", "An exercise", ("a.csv",), True)
    assert public.question("q3") is exercise.question("q3")
    with pytest.raises(KeyError):
        public.question("q2")
    # the original key is unchanged
    assert [x.name for x in exercise.questions] == ["q1", "q2", "q3"]


def test_public_of_all_public_key_is_equal():
    exercise = key(q("q1"), q("q2"))
    assert exercise.public() == exercise


def test_keys_compare_by_content():
    assert key(q("q1")) == key(q("q1"))
    assert key(q("q1")) != key(q("q2"))
