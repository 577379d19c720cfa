"""Answer-key structures (simlab.grading.questions)."""
from __future__ import annotations

import math
import re

import pytest

from simlab.grading.course import load_course
from simlab.grading.questions import (VISIBILITIES, ExerciseKey, KeyContext, Mistake,
                                      Question)

KEYS = load_course().keys


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


# ---------------------------------------------------------------- the course's hints

#: What gives the solution code away in a hint, and how to spot it. A hint names the idea and
#: where to read (a README section, a docstring such as simlab.LmerResult.confint's, lme4's
#: concept); dotted names are allowed only as simlab's documented API paths to read.
SOLUTION_CODE = {
    "a call": r"[A-Za-z_][\w.]*\(",
    "an attribute of a value": r"[)\]]\.\w|(?<![\w.])\.[A-Za-z_]\w*",
    "a dotted name other than simlab's API": (r"(?<![\w.])(?!simlab\.|e\.g\.|i\.e\.)"
                                             r"(?!\w+\.(?:csv|md|py|ipynb|json)\b)"
                                             r"[A-Za-z_]\w*\.[A-Za-z_]\w*"),
    "indexing": r"[\w)\]]\[",
    "a keyword argument": r"\b\w+=\S",
    "a quoted formula": r"""["'`][^"'`]*~[^"'`]*["'`]""",
    "a variable name": r"\b[a-z][a-z0-9]*_[a-z0-9_]*[a-z0-9]\b",
    "a Python keyword": r"\b(?:return|lambda|import|def)\b",
}
#: Not code: R's term labels, and a name whose docstring the hint sends the student to read.
NOT_CODE = (r"sd_\(Intercept\)\|\w+|\(Intercept\)"
            r"|(?<=docstring of )[\w.]+|(?<=docstrings of )[\w.]+")
#: Where a question's hint may send the student to read.
READ_WHERE = re.compile(r"README|docstring|lme4|tutorial|introduction|the text above")


def solution_code_in(hint: str) -> list[str]:
    """The kinds of solution code found in ``hint`` (empty if none)."""
    text = re.sub(NOT_CODE, "NAME", hint)
    return [kind for kind, pattern in SOLUTION_CODE.items() if re.search(pattern, text)]


@pytest.mark.parametrize("hint, kind", [
    ("use simlab.lm('Reaction ~ Days', sleep).coef", "a call"),
    ("call confint() on the mixed model", "a call"),
    ("lmer(y ~ x + (1 | g), d) in R", "a call"),
    ("take the model's .coef table", "an attribute of a value"),
    ("read fit.tau", "a dotted name other than simlab's API"),
    ("plot ranef()['value']", "indexing"),
    ("take fixef['se']", "indexing"),
    ("do not pass reml=False", "a keyword argument"),
    ("fit 'gpa ~ occasion + (1 | student)'", "a quoted formula"),
    ("fit `y ~ x + (1 | group)`", "a quoted formula"),
    ("(variance_base - variance_model) / variance_base", "a variable name"),
    ("compare with q3_icc", "a variable name"),
    ("return the value with lambda", "a Python keyword"),
])
def test_solution_code_in_a_hint_is_found(hint, kind):
    assert kind in solution_code_in(hint)


@pytest.mark.parametrize("hint", [
    "ordinary least squares ignores who was measured; the docstring of simlab.lm and the "
    "README section 'Use' describe its coefficient table",
    "lme4's default intervals profile the likelihood (the docstring of "
    "simlab.LmerResult.confint)",
    "a random intercept, lme4's (1 | Subject) term, fitted by REML, lmer's default",
    "the ICC is a ratio of variances, tau^2 / (tau^2 + sigma^2), e.g. 0.5 of the total",
    "the spread of sd_(Intercept)|group and the (Intercept) row; gpa.csv is in the data folder",
    "the model y ~ x + (1 | group) of Q3's docstring. Read it again.",
    "the docstrings of width_ratio and of simlab.LmerResult.confint",
])
def test_hints_that_name_the_idea_pass(hint):
    assert solution_code_in(hint) == []


def _hints(key):
    for question in key.questions:
        yield question.name, question.hint
        for mistake in question.mistakes:
            yield f"{question.name} (mistake)", mistake.hint


@pytest.mark.parametrize("name", sorted(KEYS))
def test_no_hint_of_any_key_shows_solution_code(name):
    found = {where: solution_code_in(hint) for where, hint in _hints(KEYS[name])}
    assert not {where: kinds for where, kinds in found.items() if kinds}


@pytest.mark.parametrize("name", sorted(KEYS))
def test_every_question_hint_says_where_to_read(name):
    vague = [q.name for q in KEYS[name].questions if not READ_WHERE.search(q.hint)]
    assert not vague
