"""Keys right for every student: decisions with a margin (simlab.grading.stability) and
``simlab validate --variants`` (simlab.grading.validate)."""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab.grading import variants
from simlab.grading.answers import encode
from simlab.grading.course import load_course, solution_text
from simlab.grading.questions import ExerciseKey, KeyContext, Question
from simlab.grading.sandbox import Limits
from simlab.grading.stability import (Decision, all_sides, answer_problem, below, compared,
                                      decision_problem)
from simlab.grading.validate import (DEFAULT_VARIANTS, VariantFinding, check_variants,
                                     run_solution, stability_checks, validate, variant_ids)
from simlab.grading.variants import STUDENT_ENV, sim_variant

KEYS = load_course().keys

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "solutions"
ICC = KEYS["icc_simulation"]
RATIO = pd.Series([1.3, 0.8, 1.02], index=["a", "b", "c"])


@pytest.fixture(autouse=True)
def no_student_env(monkeypatch):
    monkeypatch.delenv(STUDENT_ENV, raising=False)


def context(**answers) -> KeyContext:
    return KeyContext(answers)


def choice_question(decision=None, choices=("higher", "lower", "unchanged")) -> Question:
    return Question("q_dir", "direction", 1, "think", choices=choices, decision=decision)


# ---------------------------------------------------------------- decisions

@pytest.mark.parametrize("first, second, implied, margin", [
    (0.8, 0.2, "lower", 0.6), (0.2, 0.8, "higher", 0.6), (0.5, 0.5, "unchanged", 0.0)])
def test_compared(first, second, implied, margin):
    decision = compared("icc", "swapped", minimum=0.2)
    ctx = context(icc=first, swapped=second)
    assert decision.implied(ctx) == implied
    assert decision.margin(ctx) == pytest.approx(margin)
    assert decision.measure == "|swapped - icc|"


@pytest.mark.parametrize("values, implied, margin", [
    ([1.3, 1.5, 1.02], "wider", 0.02), ([0.7, 0.9, 0.95], "narrower", 0.05),
    ([1.3, 0.8, 1.1], "mixed", 0.1), ([1.3, 1.0, 1.1], "mixed", 0.0)])
def test_all_sides(values, implied, margin):
    decision = all_sides("ratio", 1.0, minimum=0.02)
    ctx = context(ratio=pd.Series(values, index=["a", "b", "c"]))
    assert decision.implied(ctx) == implied
    assert decision.margin(ctx) == pytest.approx(margin)
    assert decision.measure == "min |ratio - 1|"


def test_below():
    decision = below("ratio", 0.75, minimum=0.05)
    ctx = context(ratio=pd.Series([0.47, 0.95, 0.55, 0.81], index=["sigma", "sd", "x", "b"]))
    assert decision.implied(ctx) == {"sigma", "x"}
    assert decision.margin(ctx) == pytest.approx(0.06)


@pytest.mark.parametrize("minimum", [0, -0.1, math.nan, math.inf, "0.1", None])
def test_a_decision_needs_a_positive_minimum(minimum):
    with pytest.raises(ValueError, match="minimum margin of 'm' must be a positive number"):
        Decision(lambda ctx: "a", lambda ctx: 1.0, minimum, "m")


def test_question_keeps_its_decision():
    decision = compared("a", "b", minimum=0.1)
    assert choice_question(decision).decision is decision
    assert Question("x", "p", 1, "h").decision is None


def test_decision_problem_accepts_a_clear_implied_answer():
    question = choice_question(compared("icc", "swapped", minimum=0.2))
    margin, problem = decision_problem(question, context(icc=0.8, swapped=0.2),
                                       encode("lower"))
    assert (margin, problem) == (pytest.approx(0.6), None)


def test_decision_problem_finds_a_key_contradicting_its_numbers():
    question = choice_question(compared("icc", "swapped", minimum=0.2))
    margin, problem = decision_problem(question, context(icc=0.8, swapped=0.2),
                                       encode("higher"))
    assert margin == pytest.approx(0.6)
    assert problem == "the key answers 'higher' but its numbers imply 'lower'"


def test_decision_problem_finds_a_margin_too_small():
    question = choice_question(compared("icc", "swapped", minimum=0.2))
    margin, problem = decision_problem(question, context(icc=0.52, swapped=0.49),
                                       encode("lower"))
    assert margin == pytest.approx(0.03)
    assert problem == "|swapped - icc| is 0.03, less than the margin 0.2 the decision needs"


def test_decision_problem_compares_sets_as_choices():
    question = Question("q6", "set", 1, "h", choices=("sigma", "x", "sd", "b"),
                        decision=below("ratio", 0.75, minimum=0.05))
    ctx = context(ratio=pd.Series([0.47, 0.95, 0.55, 0.81], index=["sigma", "sd", "x", "b"]))
    assert decision_problem(question, ctx, encode({"x", "sigma"}))[1] is None
    assert decision_problem(question, ctx, encode({"sigma"}))[1] == (
        "the key answers {'sigma'} but its numbers imply {'sigma', 'x'}")


def test_decision_problem_with_nan_or_failing_numbers():
    question = choice_question(compared("icc", "swapped", minimum=0.2))
    margin, problem = decision_problem(question, context(icc=math.nan, swapped=0.2),
                                       encode("unchanged"))
    assert math.isnan(margin) and "is nan, less than the margin 0.2" in problem
    margin, problem = decision_problem(question, context(icc=0.8), encode("lower"))
    assert math.isnan(margin)
    assert problem == "its decision cannot be computed: KeyError: 'swapped'"


# ---------------------------------------------------------------- usable answers

@pytest.mark.parametrize("value", [0.5, RATIO, pd.DataFrame({"g": ["a", "b"], "y": [1.0, 2.0]}),
                                   np.arange(3.0), {"a": 1.0, "b": [1.0, 2.0]}])
def test_finite_answers_are_usable(value):
    assert answer_problem(Question("q", "p", 1, "h"), encode(value)) is None


@pytest.mark.parametrize("value", [math.nan, -math.inf, pd.Series([1.0, math.nan]),
                                   pd.DataFrame({"g": ["a", "b"], "y": [1.0, math.inf]}),
                                   {"a": {"b": math.nan}}])
def test_non_finite_answers_are_not_usable(value):
    assert answer_problem(Question("q", "p", 1, "h"), encode(value)) == (
        "an answer with a NaN or infinite number")


def test_a_fitted_model_with_a_nan_is_not_usable():
    fit = simlab.lmer("y ~ x + (1 | group)", simlab.simulate(20, 3, 0.5, 0.25, seed=1))
    encoded = encode(fit)
    assert answer_problem(Question("q", "p", 1, "h"), encoded) is None
    encoded["se"][0] = math.nan
    assert "NaN" in answer_problem(Question("q", "p", 1, "h"), encoded)


@pytest.mark.parametrize("encoded, error, problem", [
    (None, "ZeroDivisionError: division by zero",
     "no answer (ZeroDivisionError: division by zero)"),
    (None, None, "no answer"),
    (encode(...), None, "no usable answer (missing)"),
    (encode(None), None, "no usable answer (none)"),
    (encode(object()), None, "no usable answer (a builtins.object)"),
])
def test_missing_answers_are_not_usable(encoded, error, problem):
    assert answer_problem(Question("q", "p", 1, "h"), encoded, error) == problem


def test_a_choice_must_be_one_of_the_choices():
    question = choice_question()
    assert answer_problem(question, encode("Lower")) is None
    assert answer_problem(question, encode("down")) == (
        "an answer that is not among the choices ['higher', 'lower', 'unchanged']")
    assert answer_problem(question, encode(0.5)) is not None


# ---------------------------------------------------------------- the trusted runner

SOLUTION = '''\
# %%
import os
import sys
print("noise")
print("more noise", file=sys.stderr)
ID = os.environ["SIMLAB_STUDENT_ID"]

# %%
def q_id():
    return ID

def q_half():
    return 1 / 2

# %%
raise RuntimeError("broken cell")

# %%
def q_later():
    return 1
'''


def test_run_solution_runs_the_cells_for_one_student(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(STUDENT_ENV, "someone-else")
    path = tmp_path / "demo.py"
    path.write_text(SOLUTION)
    answers, errors = run_solution(path, ["q_id", "q_half", "q_missing"], "student8")
    assert answers == {"q_id": encode("student8"), "q_half": encode(0.5)}
    assert errors == {"q_missing": "cell 3 (line 16) failed: RuntimeError: broken cell; "
                                   "NotDefined: `q_missing` is not defined; define it as the "
                                   "exercise asks (keep the name unchanged)"}
    assert os.environ[STUDENT_ENV] == "someone-else"  # restored
    assert capsys.readouterr() == ("", "")  # what the solution printed is dropped
    assert run_solution(path, ["q_id"], None)[0] == {"q_id": encode("")}


def test_run_solution_gives_the_sandbox_answers_of_the_real_solution():
    answers, errors = run_solution(SOLUTIONS / "icc_simulation.py",
                                   ["q1_data", "q3_icc", "q6_narrowed"], "student8")
    v = sim_variant("student8")
    data = simlab.simulate(100, 3, v.tau, v.sigma, intercept=2, slope=0.5, seed=v.seed, stream="R")
    assert errors == {}
    assert answers["q1_data"] == encode(data)
    assert answers["q3_icc"] == encode(simlab.lmer("y ~ x + (1 | group)", data).icc)
    assert answers["q6_narrowed"] == encode({"sigma", "x"})


# ---------------------------------------------------------------- every variant of the course

@pytest.fixture(scope="module")
def icc_findings():
    return check_variants(SOLUTIONS, {"icc_simulation": ICC}, variant_ids(DEFAULT_VARIANTS),
                          jobs=2)


def margins(findings, question: str) -> dict:
    return {f.student_id: f.margin for f in findings
            if f.question == question and f.check == "decision"}


def test_variant_ids():
    assert DEFAULT_VARIANTS >= 200
    assert variant_ids(3) == ["student1", "student2", "student3"]
    assert variant_ids(0) == []


def test_every_variant_of_icc_simulation_has_a_clear_key(icc_findings):
    assert [f for f in icc_findings if f.problem] == []
    decisions = {q.name: q.decision for q in ICC.questions if q.decision}
    assert set(decisions) == {"q4_icc_direction", "q5_direction", "q6_narrowed"}
    assert len(icc_findings) == DEFAULT_VARIANTS * (len(ICC.questions) + len(decisions))
    for name, decision in decisions.items():
        found = margins(icc_findings, name)
        assert set(found) == set(variant_ids(DEFAULT_VARIANTS))
        assert min(found.values()) >= decision.minimum, name
    # measured smallest margins of the 200 ids: far from their thresholds
    assert min(margins(icc_findings, "q4_icc_direction").values()) > 0.4
    assert min(margins(icc_findings, "q5_direction").values()) > 0.1
    assert min(margins(icc_findings, "q6_narrowed").values()) > 0.1


def test_student8_swapped_icc_margin_is_what_the_fits_give(icc_findings):
    """student8 had tau = sigma before; now tau = 2 sigma and the ICC drops by far."""
    v = sim_variant("student8")
    assert (v.tau, v.sigma) == (0.4, 0.2)

    def icc(tau, sigma):
        data = simlab.simulate(100, 3, tau, sigma, intercept=2, slope=0.5, seed=v.seed, stream="R")
        return simlab.lmer("y ~ x + (1 | group)", data).icc

    drop = icc(v.tau, v.sigma) - icc(v.sigma, v.tau)
    assert drop > 0.4
    assert margins(icc_findings, "q4_icc_direction")["student8"] == pytest.approx(drop, rel=1e-9)


def test_the_summary_states_the_smallest_margin(icc_findings):
    checks = stability_checks(icc_findings, {"icc_simulation": ICC})
    assert all(c.ok for c in checks) and len(checks) == 4
    assert checks[0].name == ("icc_simulation: the solution answers every question for 200 "
                              "variants (no error, finite numbers, valid choices)")
    q4 = margins(icc_findings, "q4_icc_direction")
    worst = min(q4, key=q4.get)
    assert checks[1].name == (f"icc_simulation: q4_icc_direction is implied and clear for 200 "
                              f"variants (|q4_swapped_icc - q3_icc| >= 0.2; smallest "
                              f"{q4[worst]:.3g}, student id {worst!r})")


def test_tau_equal_to_sigma_fails_the_check(monkeypatch):
    """The old variant sets gave student8 tau = sigma: swapping them changes nothing (the
    same seed draws the same data), so the ICC is unchanged while the key said "lower"."""
    monkeypatch.setattr(variants, "RATIOS", (1.0,))  # runs in this process: jobs=1
    ids = ["student8", "student1"]
    findings = check_variants(SOLUTIONS, {"icc_simulation": ICC}, ids, jobs=1)
    q4 = [f for f in findings if f.question == "q4_icc_direction" and f.check == "decision"]
    assert [(f.student_id, f.margin) for f in q4] == [("student8", 0.0), ("student1", 0.0)]
    assert {f.problem for f in q4} == {
        "the key answers 'lower' but its numbers imply 'unchanged'"}
    checks = {c.name.split(" is ")[0]: c for c in stability_checks(findings, KEYS)}
    assert not checks["icc_simulation: q4_icc_direction"].ok
    assert checks["icc_simulation: q4_icc_direction"].detail.startswith(
        "student id 'student8', q4_icc_direction: the key answers 'lower'")


def test_a_noisy_decision_fails_the_margin(monkeypatch):
    """tau barely above sigma: the ICC falls, but by less than the margin Q4 needs."""
    monkeypatch.setattr(variants, "RATIOS", (1.05,))
    findings = check_variants(SOLUTIONS, {"icc_simulation": ICC}, ["student8"], jobs=1)
    [q4] = [f for f in findings if f.question == "q4_icc_direction" and f.check == "decision"]
    assert 0 < q4.margin < 0.2
    assert q4.problem == (f"|q4_swapped_icc - q3_icc| is {q4.margin:.3g}, less than the margin "
                          "0.2 the decision needs")


def broken_solution(tmp_path, old: str, new: str) -> Path:
    text = solution_text((SOLUTIONS / "icc_simulation.py").read_text())
    assert old in text
    (tmp_path / "icc_simulation.py").write_text(text.replace(old, new))
    return tmp_path


def problems(findings) -> dict:
    return {(f.question, f.check): f.problem for f in findings if f.problem}


def test_a_key_that_contradicts_its_numbers_fails(tmp_path):
    folder = broken_solution(tmp_path, 'return "higher" if q4_swapped_icc() > q3_icc() else '
                                       '"lower"', 'return "higher"')
    found = problems(check_variants(folder, {"icc_simulation": ICC}, ["student8"], jobs=1))
    assert found == {("q4_icc_direction", "decision"):
                     "the key answers 'higher' but its numbers imply 'lower'"}


def test_missing_and_non_finite_answers_fail(tmp_path):
    folder = broken_solution(tmp_path, "    return q3_model().icc\n",
                             '    return float("nan")\n')
    text = (folder / "icc_simulation.py").read_text()
    (folder / "icc_simulation.py").write_text(text.replace("def q6_narrowed", "def q6_renamed"))
    found = problems(check_variants(folder, {"icc_simulation": ICC}, ["student8"], jobs=1))
    assert found[("q3_icc", "answer")] == "an answer with a NaN or infinite number"
    assert found[("q4_icc_direction", "decision")].startswith(
        "the key answers 'lower' but its numbers imply 'unchanged'")
    assert found[("q6_narrowed", "answer")].startswith("no answer (NotDefined: `q6_narrowed`")
    checks = stability_checks(check_variants(folder, {"icc_simulation": ICC},
                                             ["student8", "student9"], jobs=1), KEYS)
    assert not checks[0].ok and "student id 'student9', q6_narrowed: no answer" in checks[0].detail
    # q6's decision is not checked when its answer is unusable: that is reported once, above
    assert not any("q6_narrowed" in c.name for c in checks)


def test_failure_detail_is_capped():
    findings = [VariantFinding("ex", "q", f"s{i}", "answer", problem="no answer")
                for i in range(8)]
    key = ExerciseKey("ex", "Ex", (Question("q", "p", 1, "h"),), variants=True)
    [check] = stability_checks(findings, {"ex": key})
    assert not check.ok
    assert check.detail.count("no answer") == 5 and check.detail.endswith("... and 3 more")


# ---------------------------------------------------------------- validate() end to end

GAP_SOLUTION = '''\
# %% [markdown]
# The gap between tau and sigma.

# %%
from simlab.grading import sim_variant

V = sim_variant()


def q1_gap():
    """Return tau - sigma."""
    return round(V.tau - V.sigma, 9)


def q1_sign():
    """Return "positive", "negative" or "zero"."""
    return "positive" if q1_gap() > 0 else "negative" if q1_gap() < 0 else "zero"
'''


def gap_course(tmp_path, minimum: float):
    exercises, solutions = tmp_path / "exercises", tmp_path / "solutions"
    exercises.mkdir()
    solutions.mkdir()
    (solutions / "gap.py").write_text(GAP_SOLUTION)
    untouched = GAP_SOLUTION.replace("return round(V.tau - V.sigma, 9)", "return ...").replace(
        'return "positive" if q1_gap() > 0 else "negative" if q1_gap() < 0 else "zero"',
        "return ...")
    (exercises / "gap.py").write_text(untouched)
    sign = Decision(lambda ctx: "positive" if ctx.expected["q1_gap"] > 0 else "negative",
                    lambda ctx: abs(ctx.expected["q1_gap"]), minimum, "|q1_gap|")
    key = ExerciseKey("gap", "Gap", (
        Question("q1_gap", "Q1: the gap", 1, "subtract"),
        Question("q1_sign", "Q1: its sign", 1, "compare with 0",
                 choices=("positive", "negative", "zero"), decision=sign)), variants=True)
    return exercises, solutions, {"gap": key}


def test_validate_checks_the_variants_and_the_roster(tmp_path):
    exercises, solutions, keys = gap_course(tmp_path, minimum=0.2)
    result = validate(exercises, solutions, keys, limits=Limits(timeout=120), jobs=2,
                      variants=12, student_ids=[" A001 ", "student3"])
    checked = variant_ids(12) + ["A001"]
    too_close = [s for s in checked if sim_variant(s).tau - sim_variant(s).sigma < 0.2 - 1e-9]
    assert too_close and len(too_close) < len(checked)
    by_name = {c.name.split(" for ")[0]: c for c in result.checks}
    assert by_name["gap: the solution answers every question"].ok
    sign = by_name["gap: q1_sign is implied and clear"]
    assert not sign.ok and not result.ok
    assert "13 variants" in sign.name
    shown = [s for s in too_close[:5]]
    assert [f"student id {s!r}, q1_sign: |q1_gap| is" in sign.detail for s in shown] == (
        [True] * len(shown))
    assert all(c.ok for c in result.checks if c is not sign)


def test_validate_passes_a_clear_decision_and_can_skip_the_variants(tmp_path):
    exercises, solutions, keys = gap_course(tmp_path, minimum=0.15)
    result = validate(exercises, solutions, keys, limits=Limits(timeout=120), jobs=2,
                      variants=8)
    assert result.ok, str(result)
    assert any(c.name.startswith("gap: q1_sign is implied and clear for 8 variants (|q1_gap| "
                                 ">= 0.15; smallest 0.16") for c in result.checks)
    skipped = validate(exercises, solutions, keys, limits=Limits(timeout=120), variants=0)
    assert skipped.ok and not any("implied and clear" in c.name for c in skipped.checks)


@pytest.mark.parametrize("bad", [-1, 1.5, "200", True])
def test_validate_refuses_a_bad_number_of_variants(tmp_path, bad):
    exercises, solutions, keys = gap_course(tmp_path, minimum=0.2)
    with pytest.raises(ValueError, match="--variants must be a whole number >= 0"):
        validate(exercises, solutions, keys, variants=bad)
