"""The key of icc_simulation: hints that teach without code or answers, and its design."""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from simlab.grading.answers import decode
from simlab.grading.course import load_course
from simlab.grading.validate import run_solution

from test_builtin_course import numbers_in, numbers_of, visible_texts  # one leak check

KEYS = load_course().keys

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = ROOT / "solutions" / "icc_simulation.py"
KEY = KEYS["icc_simulation"]
#: What the old hints gave away: the solution's own code.
OLD_CODE = ("simulate_data(", "lmer(", "q1_data()", "confint()", ").icc", "set_xlim", "kdeplot",
            "idxmin", "V.sigma", "tau=", "['value']", "q3_confint", "q4_swapped_icc()")


def solution_lines() -> set[str]:
    """Every statement of the solution's question functions, as source text."""
    tree = ast.parse(SOLUTION.read_text())
    return {ast.unparse(node) for function in tree.body if isinstance(function, ast.FunctionDef)
            for node in ast.walk(function) if isinstance(node, (ast.Return, ast.Assign))}


def test_hints_name_the_idea_and_where_to_read_never_the_code():
    texts = [q.hint for q in KEY.questions] + [m.hint for q in KEY.questions for m in q.mistakes]
    statements = solution_lines()
    assert len(statements) > 15
    for text in texts:
        assert not [code for code in OLD_CODE if code in text], text
        assert not [s for s in statements if s.removeprefix("return ") in text], text
    for q in KEY.questions:
        assert any(where in q.hint for where in ("docstring", "README", "text above",
                                                 "introduction")), q.name


@pytest.mark.parametrize("student_id", [None, "student8", "student66"])
def test_no_prompt_hint_or_exercise_text_gives_a_checked_number(student_id):
    answers, errors = run_solution(SOLUTION, [q.name for q in KEY.questions], student_id)
    assert errors == {}
    leaks = []
    for q in KEY.questions:
        secrets = numbers_of(decode(answers[q.name]))
        for where, text in visible_texts("icc_simulation").items():
            leaks += [(q.name, where, n) for n in numbers_in(text)
                      if secrets and np.isclose(n, secrets, rtol=q.rtol, atol=q.atol).any()]
    assert not leaks


def test_no_hint_names_a_choice_it_checks():
    for q in KEY.questions:
        if q.decision is not None:
            assert not [c for c in q.choices if f"'{c}'" in q.hint or f'"{c}"' in q.hint], q.name


def test_the_decisions_and_their_margins():
    decisions = {q.name: (q.decision.measure, q.decision.minimum) for q in KEY.questions
                 if q.decision is not None}
    assert decisions == {"q4_icc_direction": ("|q4_swapped_icc - q3_icc|", 0.2),
                         "q5_direction": ("min |q5_width_ratio - 1|", 0.02),
                         "q6_narrowed": ("min |q6_width_ratio - 0.75|", 0.05)}


def test_the_tutorial_variant_answers():
    """The seed's own data (no id): fewer groups widen every interval; more per group
    narrow the within-group ones, sigma and x, far below the cut-off, the others barely."""
    answers, _ = run_solution(SOLUTION, [q.name for q in KEY.questions])
    got = {name: decode(a) for name, a in answers.items()}
    assert got["q4_icc_direction"] == "lower" and got["q4_swapped_icc"] < got["q3_icc"] - 0.4
    assert got["q5_direction"] == "wider" and (got["q5_width_ratio"] > 1.1).all()
    assert got["q6_narrowed"] == {"sigma", "x"}
    ratio = got["q6_width_ratio"]
    assert ratio[["sigma", "x"]].max() < 0.65 and ratio[["sd_(Intercept)|group",
                                                          "(Intercept)"]].min() > 0.85
    assert KEY.max_score == 18
