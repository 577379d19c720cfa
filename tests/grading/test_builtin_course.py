"""The course's own exercises: validation, lme4 agreement of the keys, diagnostics, variants."""
from __future__ import annotations

import functools
import importlib.util
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab import datasets
from simlab.grading.answers import decode
from simlab.grading.grader import grade_exercise
from simlab.grading.course import load_course, solution_text
from simlab.grading.sandbox import Limits, run_exercise
from simlab.grading.validate import top_level_names, validate

KEYS = load_course().keys

ROOT = Path(__file__).resolve().parents[2]


def _top_conftest():
    """tests/conftest.py, which `import conftest` no longer reaches: tests/grading has its own."""
    path = ROOT / "tests" / "conftest.py"
    spec = importlib.util.spec_from_file_location("_tests_conftest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_TOP = _top_conftest()
REFERENCE, load_reference = _TOP.REFERENCE, _TOP.load_reference
EXERCISES, SOLUTIONS = ROOT / "exercises", ROOT / "solutions"
LIMITS = Limits(timeout=300, cell_timeout=120)


def _gpa_available() -> bool:
    try:
        datasets.gpa()
        return True
    except FileNotFoundError:
        if os.environ.get("CI"):
            raise
        return False


@pytest.fixture(scope="session")
def course_keys():
    """Every key whose data is here (all of them in CI)."""
    gpa = _gpa_available()
    return {name: key for name, key in KEYS.items() if gpa or "gpa.csv" not in key.data_files}


@pytest.fixture(scope="session")
def validation(course_keys):
    return validate(EXERCISES, SOLUTIONS, course_keys, limits=LIMITS)


@functools.lru_cache(maxsize=None)
def solution_answers(name: str, student_id: str | None = None) -> dict:
    key = KEYS[name]
    env = {"SIMLAB_STUDENT_ID": student_id or ""}
    run = run_exercise(SOLUTIONS / f"{name}.py", [q.name for q in key.questions],
                       limits=LIMITS, env=env)
    assert run.problem is None and not run.cell_errors and not run.errors, run
    return {name: decode(answer) for name, answer in run.answers.items()}


@pytest.fixture(scope="session")
def sleep_answers():
    return solution_answers("sleepstudy")


@pytest.fixture(scope="session")
def sim_answers():
    return solution_answers("icc_simulation")


@pytest.fixture(scope="session")
def sleep_slopes_answers():
    return solution_answers("sleepstudy_slopes")


@pytest.fixture(scope="session")
def slopes_sim_answers():
    return solution_answers("slopes_simulation")


def gpa_answers(name: str) -> dict:
    if not _gpa_available():
        pytest.skip("gpa.csv not available: set SIMLAB_DATA_DIR")
    return solution_answers(name)


def test_validate_passes(validation, course_keys):
    assert validation.ok, str(validation)
    for name in course_keys:
        assert any(c.name.startswith(f"{name}: solution scores full marks") for c in validation.checks)
        assert any(c.name.startswith(f"{name}: untouched exercise scores 0") for c in validation.checks)


def test_exercises_and_solutions_are_the_same_files_with_the_same_names():
    assert sorted(p.name for p in EXERCISES.glob("*.py")) == sorted(f"{n}.py" for n in KEYS)
    assert sorted(p.name for p in SOLUTIONS.glob("*.py")) == sorted(f"{n}.py" for n in KEYS)
    for name, key in KEYS.items():
        names = top_level_names(EXERCISES / f"{name}.py")
        assert names == top_level_names(SOLUTIONS / f"{name}.py")
        assert {q.name for q in key.questions} <= names


def test_exercise_files_are_jupytext_percent_notebooks():
    for path in [*EXERCISES.glob("*.py"), *SOLUTIONS.glob("*.py")]:
        text = path.read_text()
        assert "format_name: percent" in text and "# %% [markdown]" in text, path


def test_every_question_has_a_docstring_stating_what_to_return():
    import ast

    for name, key in KEYS.items():
        tree = ast.parse((EXERCISES / f"{name}.py").read_text())
        functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        for question in key.questions:
            doc = ast.get_docstring(functions[question.name])
            assert doc and doc.startswith("Return"), (name, question.name)


def test_sleepstudy_key_matches_lme4(sleep_answers):
    ref = load_reference("sleepstudy")
    assert sleep_answers["q3_subject_sd"] == pytest.approx(ref["vc"]["sd"][0], rel=1e-6)
    assert sleep_answers["q3_residual_sd"] == pytest.approx(ref["vc"]["sd"][1], rel=1e-6)
    assert sleep_answers["q3_days_effect"] == pytest.approx(ref["fixef"]["estimate"][1], rel=1e-8)
    variance = np.array(ref["vc"]["variance"])
    assert sleep_answers["q3_icc"] == pytest.approx(variance[0] / variance.sum(), rel=1e-6)
    model = sleep_answers["q2_random_intercept_model"]
    assert model["se"] == pytest.approx(ref["fixef"]["se"], rel=1e-6)


#: R's lm(Reaction ~ Days, sleepstudy): the SE of Days (tests/model/test_ols.py).
R_LM_DAYS_SE = 1.2382


def test_sleepstudy_days_se_matches_lme4_and_the_tutorial(sleep_answers):
    lmer_se = load_reference("sleepstudy")["fixef"]["se"][1]
    se = sleep_answers["q4_days_se"]
    assert se["lmer"] == pytest.approx(lmer_se, rel=1e-6)
    assert se["lm"] == pytest.approx(R_LM_DAYS_SE, rel=1e-4)
    assert (se["lm"], se["lmer"]) == pytest.approx((1.238, 0.804), abs=5e-4)  # the tutorial
    assert sleep_answers["q4_days_se_ratio"] == pytest.approx(lmer_se / R_LM_DAYS_SE, rel=1e-4)
    assert sleep_answers["q4_days_se_ratio"] < 1
    assert sleep_answers["q4_why_days_se_shrinks"] == "c"


def test_icc_simulation_key_reproduces_the_r_tutorial(sim_answers):
    data = sim_answers["q1_data"]
    r_data = pd.read_csv(REFERENCE / "sim1234.csv")
    np.testing.assert_allclose(data["x"].to_numpy(float), r_data["x"], rtol=1e-12)
    np.testing.assert_allclose(data["y"].to_numpy(float), r_data["y"], rtol=1e-12)
    ref = load_reference("sim1234")
    assert sim_answers["q3_model"]["estimate"] == pytest.approx(ref["fixef"]["estimate"], rel=1e-8)
    profile = ref["confint_profile"]
    assert sim_answers["q3_confint"]["lower"].to_numpy() == pytest.approx(profile["lower"], rel=1e-5)
    assert sim_answers["q3_confint"]["upper"].to_numpy() == pytest.approx(profile["upper"], rel=1e-5)
    assert sim_answers["q2_fixed_effects"] == {"a", "b"}
    # Fewer groups widen every interval; more per group narrows them, sigma's most.
    assert sim_answers["q5_direction"] == "wider" and (sim_answers["q5_width_ratio"] > 1).all()
    assert sim_answers["q6_narrowed"] == {"sigma", "x"}


def _row(table: pd.DataFrame, **where) -> pd.Series:
    """The one row of ``table`` whose columns equal ``where`` (None matches a missing value)."""
    mask = np.ones(len(table), dtype=bool)
    for column, value in where.items():
        mask &= table[column].isna().to_numpy() if value is None else (table[column] == value).to_numpy()
    assert mask.sum() == 1, where
    return table[mask].iloc[0]


def test_sleepstudy_slopes_key_is_simlabs_own_numbers(sleep_slopes_answers):
    """Each key equals the number read directly off the fit, to rounding."""
    got, sleep = sleep_slopes_answers, datasets.sleepstudy()
    fit = simlab.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    vc = fit.varcorr()
    assert got["q2_days_effect"] == pytest.approx(fit.fixef.loc["Days", "estimate"], rel=1e-12)
    assert got["q2_intercept_sd"] == pytest.approx(
        _row(vc, var1="(Intercept)", var2=None)["sdcor"], rel=1e-10)
    assert got["q2_days_sd"] == pytest.approx(_row(vc, var1="Days", var2=None)["sdcor"], rel=1e-10)
    assert got["q2_correlation"] == pytest.approx(
        _row(vc, var1="(Intercept)", var2="Days")["sdcor"], rel=1e-10)
    ranef = _row(fit.ranef(), group="308", effect="Days")["value"]
    coef = _row(fit.coef(), group="308", effect="Days")["value"]
    assert got["q3_ranef_308"] == pytest.approx(ranef, rel=1e-10)
    assert got["q3_coef_308"] == pytest.approx(coef, rel=1e-10)
    # What coef adds to ranef: the fixed effect.
    assert got["q3_coef_308"] - got["q3_ranef_308"] == pytest.approx(got["q2_days_effect"], rel=1e-10)
    table = simlab.anova(simlab.lmer("Reaction ~ Days + (1 | Subject)", sleep), fit)
    assert got["q4_chisq"] == pytest.approx(table["Chisq"].iloc[1], rel=1e-10)
    assert got["q4_p"] == pytest.approx(table["p"].iloc[1], rel=1e-10)
    np.testing.assert_allclose(got["q4_anova"].to_numpy(float), table.to_numpy(float), rtol=1e-10)
    model = got["q1_slopes_model"]
    assert model["tau"] is None and model["reml"] is True
    assert model["se"] == pytest.approx(fit.fixef["se"].tolist(), rel=1e-12)
    assert (got["q2_correlation_meaning"], got["q3_coef_adds"]) == ("a", "a")


def test_sleepstudy_slopes_key_matches_lme4(sleep_slopes_answers):
    got, ref = sleep_slopes_answers, load_reference("sleepstudy_slopes")
    sd, corr = ref["vc"]["sdcor"][:2], ref["vc"]["sdcor"][2]
    assert (got["q2_intercept_sd"], got["q2_days_sd"]) == pytest.approx(sd, rel=1e-4)
    assert got["q2_correlation"] == pytest.approx(corr, abs=1e-5)
    assert got["q2_days_effect"] == pytest.approx(ref["fixef"]["estimate"][1], rel=1e-6)
    ranef = pd.DataFrame(ref["ranef"]).set_index(["level", "term"])
    coef = pd.DataFrame(ref["coef"]["value"], index=ref["coef"]["level"],
                        columns=ref["coef"]["term"])
    # To 1e-4 of the random effect's SE, as tests/model/test_lme4_slopes.py.
    se = ranef.loc[("308", "Days"), "se"]
    assert got["q3_ranef_308"] == pytest.approx(ranef.loc[("308", "Days"), "value"], abs=1e-4 * se)
    assert got["q3_coef_308"] == pytest.approx(coef.loc["308", "Days"], abs=1e-4 * se)
    anova = ref["anova"]
    assert got["q4_chisq"] == pytest.approx(anova["Chisq"][1], rel=1e-6)
    assert got["q4_p"] == pytest.approx(anova["p"][1], rel=1e-6)
    assert got["q4_anova"]["AIC"].tolist() == pytest.approx(anova["AIC"], rel=1e-6)


def test_slopes_simulation_key_reproduces_the_chapter(slopes_sim_answers):
    """No student id: R's set.seed(1234) data of the chapter, and lme4's fit of it."""
    got = slopes_sim_answers
    data, r_data = got["q1_data"], pd.read_csv(REFERENCE / "sim_slopes1234.csv")
    assert list(data.columns) == ["group", "x", "y"]
    np.testing.assert_allclose(data["x"].to_numpy(float), r_data["x"], rtol=1e-12)
    np.testing.assert_allclose(data["y"].to_numpy(float), r_data["y"], rtol=1e-12)
    assert (data["group"].to_numpy(float) == r_data["groups"].to_numpy(float)).all()
    ref = load_reference("sim_slopes1234")
    # lme4's fit of the chapter's model: theta, the variance components and AIC
    fit = simlab.lmer("y ~ x + (1 | group) + (0 + x | group)", r_data.rename(
        columns={"groups": "group"}))
    np.testing.assert_allclose(fit.theta, ref["theta"], rtol=1e-4)
    np.testing.assert_allclose(fit.varcorr()["sdcor"], ref["vc"]["sdcor"], rtol=1e-4)
    assert got["q3_slope_sd"] == pytest.approx(ref["vc"]["sdcor"][1], rel=1e-4)
    assert got["q3_slope_sd"] == pytest.approx(_row(fit.varcorr(), var1="x")["sdcor"], rel=1e-10)
    assert got["q4_aic_slopes"] == pytest.approx(ref["aic_reml"], abs=1e-8)
    assert got["q4_aic_slopes"] == pytest.approx(fit.aic, rel=1e-12)
    assert got["q2_slopes_model"]["se"] == pytest.approx(ref["fixef"]["se"], rel=1e-4)
    intercepts = simlab.lmer("y ~ x + (1 | group)", data)
    assert got["q4_aic_intercepts"] == pytest.approx(intercepts.aic, rel=1e-12)
    assert got["q4_aic_difference"] == pytest.approx(intercepts.aic - fit.aic, rel=1e-10)
    # The chapter's comparison: the random slopes win clearly.
    assert got["q4_aic_difference"] > 10
    assert (got["q4_lower_aic"], got["q5_what_it_shows"]) == ("slopes", "a")


def test_slopes_simulation_variants_and_the_keys_own_settings():
    """A student's data come from their own seed and sds; the key's mistakes simulate the
    same settings as the exercise (an ML refit of the key's data is the ML mistake)."""
    from simlab.grading.questions import KeyContext

    key = KEYS["slopes_simulation"]
    for student_id in ("student-42", "student8"):
        got = solution_answers("slopes_simulation", student_id)
        assert not np.allclose(got["q1_data"]["y"].to_numpy(float),
                               pd.read_csv(REFERENCE / "sim_slopes1234.csv")["y"])
        context = KeyContext(got, student_id)
        ml = simlab.lmer("y ~ x + (1 | group) + (0 + x | group)", got["q1_data"], reml=False)
        ml_mistake = key.question("q3_slope_sd").mistakes[1].wrong(context)
        assert ml_mistake == pytest.approx(_row(ml.varcorr(), var1="x")["sdcor"], rel=1e-8)
        assert got["q4_aic_difference"] >= 4 and got["q4_lower_aic"] == "slopes"


def test_gpa_keys_match_lme4():
    basics = gpa_answers("gpa_basics")
    ref = load_reference("gpa_occasion")
    np.testing.assert_allclose(basics["q5_variance_components"]["variance"], ref["vc"]["variance"],
                               rtol=1e-6)
    np.testing.assert_allclose(basics["q4_confint"]["lower"], ref["confint_profile"]["lower"],
                               rtol=1e-5)
    assert basics["q5_icc"] == pytest.approx(0.064 / 0.122, abs=0.005)  # the tutorial's 52%
    ratio = basics["q3_se_ratio"]
    assert ratio["(Intercept)"] > 1 > ratio["occasion"]
    cluster = gpa_answers("gpa_cluster")
    names = {"base": "gpa_occasion", "sex": "gpa_sex", "highgpa": "gpa_highgpa",
             "both": "gpa_sex_highgpa"}
    for label, reference in names.items():
        assert cluster["q4_student_variance"][label] == pytest.approx(
            load_reference(reference)["vc"]["variance"][0], rel=1e-6)


REML_FIT = 'simlab.lmer("Reaction ~ Days + (1 | Subject)", sleep)'
# Each wrong answer stands alone (Q2 itself is fitted by ML, which Q3 must not inherit).
SLEEP_MISTAKES = {
    "return q2_random_intercept_model().tau\n": f"return {REML_FIT}.tau ** 2\n",
    "return q2_random_intercept_model().sigma\n":
        'return simlab.lmer("Reaction ~ Days + (1 | Subject)", sleep, reml=False).sigma\n',
    "return q2_random_intercept_model().icc\n":
        f"m = {REML_FIT}\n    return m.tau / (m.tau + m.sigma)\n",
    'return simlab.lmer("Reaction ~ Days + (1 | Subject)", sleep)\n':
        'return simlab.lmer("Reaction ~ Days + (1 | Subject)", sleep, reml=False)\n',
    'lmer_se = q2_random_intercept_model().fixef.loc["Days", "se"]\n':
        f'lmer_se = {REML_FIT}.fixef.loc["Days", "se"]\n',
    # The labels swapped, so the ratio of Q4 comes out upside down.
    'return pd.Series({"lm": lm_se, "lmer": lmer_se})\n':
        'return pd.Series({"lm": lmer_se, "lmer": lm_se})\n',
    'return "c"\n': 'return "(C)."\n',  # a decorated choice is still right
}


def failed_feedback(name: str, mistakes: dict, folder: Path) -> dict:
    """Feedback on the failed questions of the solution ``name`` edited by ``mistakes``."""
    text = solution_text((SOLUTIONS / f"{name}.py").read_text())
    for right, wrong in mistakes.items():
        assert right in text
        text = text.replace(right, wrong)
    (folder / f"{name}.py").write_text(text)
    result = grade_exercise(folder / f"{name}.py", KEYS[name], course_dir=SOLUTIONS,
                            limits=LIMITS)
    return {q.name: q.feedback for q in result.questions if not q.passed}


def test_common_mistakes_get_targeted_hints(tmp_path):
    feedback = failed_feedback("sleepstudy", SLEEP_MISTAKES, tmp_path)
    assert "you gave the variance" in feedback["q3_subject_sd"]
    assert "maximum-likelihood" in feedback["q3_residual_sd"]
    assert "you used the standard deviations" in feedback["q3_icc"]
    assert "REML" in feedback["q2_random_intercept_model"]
    assert "labels are swapped" in feedback["q4_days_se"]
    assert "upside down" in feedback["q4_days_se_ratio"]
    assert set(feedback) == {"q3_subject_sd", "q3_residual_sd", "q3_icc",
                             "q2_random_intercept_model", "q4_days_se", "q4_days_se_ratio"}
    for text in feedback.values():
        assert_one_statement(text)


def test_each_student_gets_a_variant_and_a_recomputed_key(tmp_path):
    """A submission that ignores the variant passes for the default id only."""
    text = (SOLUTIONS / "icc_simulation.py").read_text().replace(
        "V = sim_variant()", "from simlab.grading import SimVariant\nV = SimVariant()")
    (tmp_path / "icc_simulation.py").write_text(text)
    key = KEYS["icc_simulation"]
    for student_id, should_pass in ((None, True), ("student-42", False)):
        result = grade_exercise(tmp_path / "icc_simulation.py", key, course_dir=SOLUTIONS,
                                student_id=student_id, limits=LIMITS)
        assert result.questions[0].passed is should_pass, result.questions[0].feedback
    answers = solution_answers("icc_simulation", "student-42")
    assert not np.allclose(answers["q1_data"]["y"].to_numpy(float),
                           pd.read_csv(REFERENCE / "sim1234.csv")["y"])


def test_the_numpy_stream_gets_the_rng_hint(tmp_path):
    text = (SOLUTIONS / "icc_simulation.py").read_text().replace(
        'seed=V.seed, stream="R")', "seed=V.seed)")
    (tmp_path / "icc_simulation.py").write_text(text)
    result = grade_exercise(tmp_path / "icc_simulation.py", KEYS["icc_simulation"].public(),
                            course_dir=SOLUTIONS, limits=LIMITS)
    assert "numpy's stream" in result.questions[0].feedback


GPA_MISTAKES = {
    "return q2_mixed_model().confint()\n": 'return q2_mixed_model().confint(method="wald")\n',
    "return q2_mixed_model().ranef().head(5)\n": "return q2_mixed_model().coef().head(5)\n",
    "return q2_mixed_model().varcomp\n":
        'return simlab.lmer("gpa ~ occasion + (1 | student)", gpa, reml=False).varcomp\n',
    "return lmer_se / lm_se\n": "return lm_se / lmer_se\n",
}


def test_gpa_mistakes_get_targeted_hints(tmp_path):
    if not _gpa_available():
        pytest.skip("gpa.csv not available: set SIMLAB_DATA_DIR")
    feedback = failed_feedback("gpa_basics", GPA_MISTAKES, tmp_path)
    assert set(feedback) == {"q4_confint", "q6_ranef_first5", "q5_variance_components",
                             "q3_se_ratio"}
    assert "Wald intervals" in feedback["q4_confint"]
    assert "student-specific intercepts" in feedback["q6_ranef_first5"]
    assert "maximum-likelihood variances" in feedback["q5_variance_components"]
    assert "upside down" in feedback["q3_se_ratio"]
    for text in feedback.values():
        assert_one_statement(text)


SLOPES_FIT = 'simlab.lmer("Reaction ~ Days + (Days | Subject)", sleep'
# Each wrong answer stands alone: the other questions read the right model, FIT.
SLEEP_SLOPES_MISTAKES = {
    "sleep = simlab.datasets.sleepstudy()  # columns Reaction, Days, Subject\n":
        f"sleep = simlab.datasets.sleepstudy()\nFIT = {SLOPES_FIT})\n",
    "q1_slopes_model().": "FIT.",
    "simlab.anova(intercepts, q1_slopes_model())": "simlab.anova(intercepts, FIT)",
    f"return {SLOPES_FIT})\n": 'return simlab.lmer("Reaction ~ Days + (1 | Subject)", sleep)\n',
    '"(Intercept)") & vc["var2"].isna(), "sdcor"]': '"(Intercept)") & vc["var2"].isna(), "vcov"]',
    'vc = FIT.varcorr()\n    return vc.loc[(vc["var1"] == "Days")':
        f'vc = {SLOPES_FIT}, reml=False).varcorr()\n    return vc.loc[(vc["var1"] == "Days")',
    'return vc.loc[vc["var2"].notna(), "sdcor"].item()':
        'return vc.loc[vc["var2"].notna(), "vcov"].item()',
    "re = FIT.ranef()": "re = FIT.coef()",
    "co = FIT.coef()": "co = FIT.ranef()",
    'return q4_anova()["Chisq"].iloc[1]\n':
        'return 2 * (FIT.loglik - simlab.lmer("Reaction ~ Days + (1 | Subject)", sleep).loglik)\n',
    'return "a"\n': 'return "(A)."\n',  # a decorated choice is still right
}


def test_sleepstudy_slopes_mistakes_get_targeted_hints(tmp_path):
    feedback = failed_feedback("sleepstudy_slopes", SLEEP_SLOPES_MISTAKES, tmp_path)
    assert set(feedback) == {"q1_slopes_model", "q2_intercept_sd", "q2_days_sd",
                             "q2_correlation", "q3_ranef_308", "q3_coef_308", "q4_chisq"}
    assert "random-intercept model" in feedback["q1_slopes_model"]
    assert "you gave the variance (vcov)" in feedback["q2_intercept_sd"]
    assert "maximum-likelihood" in feedback["q2_days_sd"]
    assert "covariance (vcov)" in feedback["q2_correlation"]
    assert "own slope from the coef table" in feedback["q3_ranef_308"]
    assert "random effect from the ranef table" in feedback["q3_coef_308"]
    assert "REML log-likelihoods" in feedback["q4_chisq"]
    for text in feedback.values():
        assert_one_statement(text)


_CHAPTER_DATA = ('simlab.simulate(50, 3, tau=S["tau"], sigma=S["sigma"], tau_slope=S.get('
                 '"tau_slope"), intercept=2, slope=0.5, seed=S["seed"], stream="R")')
# Each wrong answer stands alone: the other questions read the right data and fits.
SLOPES_SIM_MISTAKES = {
    "def q1_data():": (f"DATA = {_CHAPTER_DATA}\nFIT0 = simlab.lmer('y ~ x + (1 | group)', DATA)\n"
                       "FIT1 = simlab.lmer('y ~ x + (1 | group) + (0 + x | group)', DATA)\n\n\n"
                       "def q1_data():"),
    "q2_slopes_model().varcorr()": "FIT1.varcorr()",
    "return q2_intercepts_model().aic\n":
        'return simlab.lmer("y ~ x + (1 | group)", DATA, reml=False).aic\n',
    "return q2_slopes_model().aic\n": "return FIT1.aic\n",
    "return q4_aic_intercepts() - q4_aic_slopes()": "return FIT1.aic - FIT0.aic",
    "if q4_aic_slopes() < q4_aic_intercepts()": "if FIT1.aic < FIT0.aic",
    "if q4_aic_difference() > 0": "if FIT0.aic - FIT1.aic > 0",
    ' tau_slope=S["tau_slope"],\n': "\n",
    '"y ~ x + (1 | group)", q1_data())': '"y ~ x + (1 | group)", DATA)',
    '"y ~ x + (1 | group) + (0 + x | group)", q1_data())': '"y ~ x + (1 + x | group)", DATA)',
    'return vc.loc[vc["var1"] == "x", "sdcor"].item()':
        'return vc.loc[vc["var1"] == "x", "vcov"].item()',
}


def test_slopes_simulation_mistakes_get_targeted_hints(tmp_path):
    feedback = failed_feedback("slopes_simulation", SLOPES_SIM_MISTAKES, tmp_path)
    assert set(feedback) == {"q1_data", "q2_slopes_model", "q3_slope_sd", "q4_aic_intercepts",
                             "q4_aic_difference"}
    assert "no random slopes" in feedback["q1_data"]
    assert "correlation of the intercepts and slopes" in feedback["q2_slopes_model"]
    assert "variance (vcov)" in feedback["q3_slope_sd"]
    assert "maximum-likelihood fit" in feedback["q4_aic_intercepts"]
    assert "wrong sign" in feedback["q4_aic_difference"]
    for text in feedback.values():
        assert_one_statement(text)


# ---------------------------------------------------------------- feedback that teaches

def assert_one_statement(feedback: str) -> None:
    """The mismatch is stated once, then one hint."""
    assert feedback.lower().count("expected") <= 1, feedback
    assert feedback.count("Hint:") == 1, feedback


def test_an_untouched_exercise_gets_one_statement_and_a_hint_without_code():
    result = grade_exercise(EXERCISES / "sleepstudy.py", KEYS["sleepstudy"].public(),
                            course_dir=SOLUTIONS, limits=LIMITS)
    first = result.questions[0].feedback
    assert first.startswith("not answered yet") and "Expected a pandas DataFrame" in first
    assert "simlab.lm(" not in first and ".fixef" not in first and "~" not in first
    for question in result.questions:
        assert not question.passed
        assert_one_statement(question.feedback)


def numbers_of(value) -> list[float]:
    """The non-integer numbers of a decoded answer (integers are labels or counts)."""
    if isinstance(value, dict) and value.get("kind") == "model":
        values = [*value["estimate"], *value["se"], value["sigma"], value["tau"]]
    elif isinstance(value, dict):
        values = [x for v in value.values() for x in numbers_of(v)]
    elif isinstance(value, pd.DataFrame):
        values = value.select_dtypes("number").to_numpy(float).ravel()
    elif isinstance(value, (pd.Series, np.ndarray)):
        values = pd.to_numeric(pd.Series(np.ravel(value)), errors="coerce")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        values = [value]
    else:
        values = []
    return [float(v) for v in values if v is not None and np.isfinite(v) and v != round(v)]


def numbers_in(text: str) -> list[float]:
    """Every number written in ``text``; a percentage also as a fraction."""
    found = []
    for number, percent in re.findall(r"(?<![\w.])(-?\d+(?:\.\d+)?)(%?)", text):
        found += [float(number)] + ([float(number) / 100] if percent else [])
    return found


def visible_texts(name: str) -> dict[str, str]:
    """All a student sees of an exercise before grading: its file, prompts and hints."""
    key = KEYS[name]
    texts = {"exercise file": (EXERCISES / f"{name}.py").read_text()}
    for q in key.questions:
        texts[f"{q.name} prompt"] = q.prompt
        texts[f"{q.name} hints"] = " ".join([q.hint, *(m.hint for m in q.mistakes)])
    return texts


@pytest.mark.parametrize("name", ["sleepstudy", "gpa_basics", "gpa_cluster", "sleepstudy_slopes"])
def test_no_visible_text_gives_a_checked_number(name):
    key = KEYS[name]
    answers = gpa_answers(name) if "gpa.csv" in key.data_files else solution_answers(name)
    leaks = []
    for q in key.questions:
        secrets = numbers_of(answers[q.name]) + numbers_of(q.published)
        for where, text in visible_texts(name).items():
            leaks += [(q.name, where, n) for n in numbers_in(text)
                      if np.isclose(n, secrets, rtol=q.rtol, atol=q.atol).any()]
    assert not leaks


@pytest.mark.parametrize("student_id", [None, "student8", "student66"])
def test_no_visible_text_of_slopes_simulation_gives_a_checked_number(student_id):
    key, answers = KEYS["slopes_simulation"], solution_answers("slopes_simulation", student_id)
    leaks = []
    for q in key.questions:
        secrets = numbers_of(answers[q.name])
        for where, text in visible_texts("slopes_simulation").items():
            leaks += [(q.name, where, n) for n in numbers_in(text)
                      if secrets and np.isclose(n, secrets, rtol=q.rtol, atol=q.atol).any()]
    assert not leaks


def test_the_leak_check_finds_a_printed_answer():
    """What Q5 of gpa_basics used to print (0.064 / 0.122, about 52%) gives the ICC away."""
    icc = KEYS["gpa_basics"].question("q5_icc")
    printed = numbers_in("the ICC is 0.064 / 0.122, about 52%")
    assert np.isclose(printed, icc.published, rtol=icc.rtol, atol=icc.atol).any()
