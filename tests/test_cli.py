"""Tests for the ``simlab`` command line (simlab.cli), run in-process with ``main``."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import simlab
from simlab import cli
from simlab.cli import main
from simlab.simulate import simulate

SLEEP_FORMULA = "Reaction ~ Days + (1 | Subject)"
ATOL = 1e-12


def _reject_constant(token: str):
    raise AssertionError(f"invalid JSON token {token}")


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _json(capsys, *argv: str) -> dict:
    code, out, err = _run(capsys, *argv)
    assert code == 0, err
    return json.loads(out, parse_constant=_reject_constant)


@pytest.fixture(scope="module")
def sleep_csv(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("cli") / "sleepstudy.csv"
    simlab.datasets.sleepstudy().to_csv(path, index=False)
    return str(path)


@pytest.fixture(scope="module")
def sleep_api(sleep_csv):
    """The API's fit of the same CSV the command line reads."""
    return simlab.lmer(SLEEP_FORMULA, pd.read_csv(sleep_csv))


# ----- parser -------------------------------------------------------------------
def test_registry_lists_the_subcommands(capsys):
    assert list(cli.COMMANDS) == ["demo", "fit", "sweep", "power", "report", "figures", "check", "grade",
                                  "validate", "variants", "assign", "autograder-zip", "data"]
    code, out, _ = _run(capsys, "--help")
    assert code == 0 and "demo" in out and "fit" in out


def test_usage_errors_return_2_without_traceback(capsys):
    for argv in ([], ["nope"], ["fit", "only-one-arg.csv"], ["fit", "a.csv", "y ~ x", "--ci", "x"]):
        code, out, err = _run(capsys, *argv)
        assert code == 2 and "usage:" in err and "Traceback" not in err and out == ""


# ----- demo ---------------------------------------------------------------------
def test_demo_prints_summary_tables_truth_and_next_step(capsys):
    code, out, err = _run(capsys, "demo")
    assert code == 0, err
    for text in ("Linear mixed model fit by REML", "Formula: y ~ x + (1 | group)",
                 "Number of obs: 300, groups:  group, 100", "Fixed effects\n---",
                 "Variance components", "ICC = ", "Confidence intervals (profile, level 0.95)",
                 "ranef()", "coef()", "with_ranef", "fixed_only", "Simulated truth vs estimates",
                 "sd_(Intercept)|group"):
        assert text in out, text
    assert 'simlab fit DATA.csv "y ~ x + (1 | g)"' in out.strip().splitlines()[-1]
    fit = simlab.lmer("y ~ x + (1 | group)", simulate(100, 3, 0.5, 0.25, seed=1234))
    assert f"ICC = {fit.icc:.6g}" in out
    assert f"{fit.tau:.6g}" in out and f"{fit.fixef.loc['x', 'estimate']:.6g}" in out
    profile = fit.confint(method="profile")
    assert f"{profile.loc['sigma', 'upper']:.6g}" in out


def test_demo_options_change_the_design(capsys):
    code, out, err = _run(capsys, "demo", "--seed", "7", "--n-groups", "20", "--n-per-group", "4",
                          "--tau", "1", "--sigma", "0.5", "--stream", "R")
    assert code == 0, err
    assert "Number of obs: 80, groups:  group, 20" in out
    fit = simlab.lmer("y ~ x + (1 | group)", simulate(20, 4, 1.0, 0.5, seed=7, stream="R"))
    assert f"ICC = {fit.icc:.6g}" in out


def test_demo_reports_a_singular_fit_as_a_warning(capsys):
    code, out, err = _run(capsys, "demo", "--tau", "0", "--seed", "1")
    assert code == 0
    assert err.startswith("simlab: warning: boundary (singular) fit") and "Traceback" not in err


def test_demo_bad_design_exits_2(capsys):
    code, out, err = _run(capsys, "demo", "--n-groups", "1")
    assert code == 2 and err.startswith("simlab: error: n_groups must be at least 2")


# ----- fit ----------------------------------------------------------------------
def test_fit_prints_summary_and_tables(capsys, sleep_csv, sleep_api):
    code, out, err = _run(capsys, "fit", sleep_csv, SLEEP_FORMULA, "--head", "3")
    assert code == 0, err
    for text in ("Linear mixed model fit by REML", f"Formula: {SLEEP_FORMULA}",
                 "Data: sleepstudy.csv", "Fixed effects\n---", "Variance components",
                 "Confidence intervals (profile, level 0.95)", "first 3 rows; 18 groups"):
        assert text in out, text
    assert f"ICC = {sleep_api.icc:.6g}" in out
    assert f"{sleep_api.confint(method='profile').loc['Days', 'lower']:.6g}" in out


def test_fit_json_equals_the_api(capsys, sleep_csv, sleep_api):
    record = _json(capsys, "fit", sleep_csv, SLEEP_FORMULA, "--json")
    assert record["formula"] == SLEEP_FORMULA and record["reml"] is True
    assert (record["nobs"], record["ngroups"], record["n_dropped"]) == (180, 18, 0)
    assert record["singular"] is False and record["converged"] is True and record["messages"] == []
    for key in ("reml_criterion", "loglik", "deviance", "icc"):
        assert record[key] == pytest.approx(getattr(sleep_api, key), abs=ATOL)
    fixef = pd.DataFrame(record["fixef"]).set_index("term")
    assert list(fixef.index) == list(sleep_api.fixef.index)
    np.testing.assert_allclose(fixef[sleep_api.fixef.columns], sleep_api.fixef, rtol=0, atol=ATOL)
    varcomp = pd.DataFrame(record["varcomp"])
    np.testing.assert_allclose(varcomp[["variance", "sd", "var_prop"]],
                               sleep_api.varcomp[["variance", "sd", "var_prop"]], rtol=0, atol=ATOL)
    ci = pd.DataFrame(record["confint"]).set_index("parameter")
    expected = sleep_api.confint(method="profile")
    assert list(ci.index) == list(expected.index)
    np.testing.assert_allclose(ci[["lower", "upper"]], expected, rtol=0, atol=ATOL)
    for table, api in (("ranef", sleep_api.ranef()), ("coef", sleep_api.coef())):
        got = pd.DataFrame(record[table])
        assert len(got) == 18 and list(got["group"]) == list(api["group"])
        np.testing.assert_allclose(got[["value", "se"]], api[["value", "se"]], rtol=0, atol=ATOL)


def test_fit_json_wald_gives_null_for_variance_rows(capsys, sleep_csv, sleep_api):
    record = _json(capsys, "fit", sleep_csv, SLEEP_FORMULA, "--json", "--ci", "wald", "--level", "0.9")
    rows = {row["parameter"]: row for row in record["confint"]}
    for name in ("sd_(Intercept)|Subject", "sigma"):
        assert rows[name]["lower"] is None and rows[name]["upper"] is None
    wald = sleep_api.confint(method="wald", level=0.9)
    for term in ("(Intercept)", "Days"):
        assert rows[term]["lower"] == pytest.approx(wald.loc[term, "lower"], abs=ATOL)
        assert rows[term]["upper"] == pytest.approx(wald.loc[term, "upper"], abs=ATOL)
    assert record["confint_method"] == "wald" and record["level"] == 0.9
    # Every table of the record honours --level (one interval convention, lower/upper).
    ranef = sleep_api.ranef(level=0.9)
    assert record["ranef"][0]["lower"] == pytest.approx(ranef["lower"].iloc[0], abs=ATOL)


def test_fit_json_boot_is_seeded_like_the_api(capsys, sleep_csv, sleep_api):
    argv = ("fit", sleep_csv, SLEEP_FORMULA, "--json", "--ci", "boot", "--nsim", "50", "--seed", "3")
    ci = pd.DataFrame(_json(capsys, *argv)["confint"]).set_index("parameter")
    expected = sleep_api.confint(method="boot", nsim=50, seed=3)
    np.testing.assert_allclose(ci[["lower", "upper"]], expected, rtol=0, atol=ATOL)


def test_fit_json_ml_has_null_reml_criterion(capsys, sleep_csv):
    record = _json(capsys, "fit", sleep_csv, SLEEP_FORMULA, "--json", "--ml", "--ci", "wald")
    ml = simlab.lmer(SLEEP_FORMULA, pd.read_csv(sleep_csv), reml=False)
    assert record["reml"] is False and record["reml_criterion"] is None
    assert record["deviance"] == pytest.approx(ml.deviance, abs=ATOL)


def test_fit_counts_dropped_rows(capsys, sleep_csv, tmp_path):
    data = pd.read_csv(sleep_csv)
    data.loc[[0, 5], "Reaction"] = np.nan
    path = tmp_path / "holes.csv"
    data.to_csv(path, index=False)
    record = _json(capsys, "fit", str(path), SLEEP_FORMULA, "--json", "--ci", "wald")
    assert record["n_dropped"] == 2 and record["nobs"] == 178


# ----- errors -------------------------------------------------------------------
@pytest.fixture
def text_response_csv(tmp_path) -> str:
    path = tmp_path / "text.csv"
    pd.DataFrame({"y": ["a", "b", "c", "d"], "x": [1, 2, 3, 4], "g": [1, 1, 2, 2]}).to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize("case, formula, message", [
    ("missing file", SLEEP_FORMULA, "No such file or directory"),
    ("missing column", "Reaction ~ Dayz + (1 | Subject)", "column(s) ['Dayz'] not found"),
    ("bad formula", "Reaction ~ Days + (1 | Subject", "unmatched '('"),
    ("no random effect", "Reaction ~ Days", "has no random effect"),
    ("non-numeric response", "y ~ x + (1 | g)", "response 'y' must be numeric"),
    ("empty file", "y ~ x + (1 | g)", "could not read"),
    ("bad level", SLEEP_FORMULA, "level must be strictly between 0 and 1"),
])
def test_fit_errors_exit_2_with_a_message(capsys, sleep_csv, text_response_csv, tmp_path,
                                          case, formula, message):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    path = {"missing file": str(tmp_path / "missing.csv"), "non-numeric response": text_response_csv,
            "empty file": str(empty)}.get(case, sleep_csv)
    extra = ["--level", "1.5"] if case == "bad level" else []
    code, out, err = _run(capsys, "fit", path, formula, *extra)
    assert code == 2 and out == ""
    assert err.startswith("simlab: error: ") and message in err
    assert "Traceback" not in err and err.count("\n") == 1


def _one_error_line(err: str) -> str:
    assert err.startswith("simlab: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err[len("simlab: error: "):-1]


@pytest.mark.parametrize("formula, message", [
    ("y ~ x + (1|group", "formula 'y ~ x + (1|group' has an unmatched '('"),
    ("y ~ x + (1|group) )", "formula 'y ~ x + (1|group) )' has an unmatched ')'"),
    ("~ x + (1|group)", "formula '~ x + (1|group)' has no response on the left of '~'"),
    ("y ~ x + (1 group)", "Missing operator between `1` and `group`"),
    ("y ~ x + I(x + ) + (1|group)", "could not read the formula terms"),
])
def test_formula_errors_print_the_message_and_a_hint(capsys, tmp_path, formula, message):
    path = tmp_path / "d.csv"
    simulate(6, 3, 0.5, 0.25, seed=1).to_csv(path, index=False)
    code, out, err = _run(capsys, "fit", str(path), formula)
    line = _one_error_line(err)
    assert code == 2 and out == ""
    assert message in line and line.endswith("; fix the formula, e.g. 'y ~ x + (1 | group)'")


def test_a_duplicated_csv_header_is_refused(capsys, tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("x,x,y,group\n" + "".join(f"{i},{i % 3},{i * 1.5 % 7},{i % 4}\n"
                                              for i in range(24)))
    code, out, err = _run(capsys, "fit", str(path), "y ~ x + (1 | group)")
    assert code == 2 and out == ""
    assert _one_error_line(err) == (f"the header of {path} names the column(s) ['x'] more than "
                                    "once; give every column its own name.")


def test_a_csv_with_20000_columns_gets_a_short_message(capsys, tmp_path):
    """Issue 10: the missing-column message listed all 20,000 names (169 KB)."""
    path = tmp_path / "wide.csv"
    pd.DataFrame(np.zeros((3, 20_000)), columns=[f"c{i}" for i in range(20_000)]).to_csv(
        path, index=False)
    code, _, err = _run(capsys, "fit", str(path), "y ~ x + (1 | group)")
    line = _one_error_line(err)
    assert code == 2 and len(line) < 500
    assert "it has ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9', ...] (19,990 more)" in line


def test_a_csv_that_is_not_utf8_is_named(capsys, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("y,x,group\n1,2,Zo\u00eb\n".encode("latin-1"))
    code, _, err = _run(capsys, "fit", str(path), "y ~ x + (1 | group)")
    line = _one_error_line(err)
    assert code == 2 and line.startswith(f"could not read {path} as CSV: it is not UTF-8 text")
    assert line.endswith("save it as UTF-8.")


@pytest.mark.parametrize("error, code, line", [
    (KeyError("x"), 2, "KeyError: 'x'"),
    (PermissionError(13, "Permission denied", "d.csv"),
     2, "Permission denied: d.csv; check the permissions, or use another path"),
    (IsADirectoryError(21, "Is a directory", "d"), 2, "Is a directory: d; give a file, not a folder"),
    (FileNotFoundError(2, "No such file or directory", "d.csv"),
     2, "No such file or directory: d.csv; check the path"),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), 2,
     "'utf-8' codec can't decode byte 0xff in position 0: invalid start byte; save the file as "
     "UTF-8 text"),
    (OSError(28, "No space left on device"), 1,
     "[Errno 28] No space left on device; free some disk space, then rerun the same command"),
    (MemoryError(), 1, "MemoryError; use a smaller design or data set, or free some memory"),
    (ValueError("first line\n  second line"), 2, "first line second line"),
    (RuntimeError("boom"), 1, "RuntimeError: boom; this may be a bug in simlab: please report it "
                              "with the command (set SIMLAB_TRACEBACK=1 to see the traceback)"),
])
def test_every_error_is_one_line_without_a_traceback(capsys, sleep_csv, monkeypatch, error, code,
                                                     line):
    def fail(*args, **kwargs):
        raise error
    monkeypatch.setattr(simlab, "lmer", fail)
    status, out, err = _run(capsys, "fit", sleep_csv, SLEEP_FORMULA)
    assert status == code and out == "" and _one_error_line(err) == line


def test_simlab_traceback_shows_the_traceback(sleep_csv, monkeypatch):
    def fail(*args, **kwargs):
        raise ValueError("bad input")
    monkeypatch.setattr(simlab, "lmer", fail)
    monkeypatch.setenv("SIMLAB_TRACEBACK", "1")
    with pytest.raises(ValueError, match="bad input"):
        main(["fit", sleep_csv, SLEEP_FORMULA])


def test_keyboard_interrupt_exits_130_quietly(capsys, sleep_csv, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(pd, "read_csv", interrupt)
    code, out, err = _run(capsys, "fit", sleep_csv, SLEEP_FORMULA)
    assert code == 130 and err == ""


# ----- entry point --------------------------------------------------------------
def test_python_dash_m_simlab_demo_runs():
    done = subprocess.run([sys.executable, "-m", "simlab", "demo"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Linear mixed model fit by REML" in done.stdout and "simlab fit" in done.stdout
    assert "Traceback" not in done.stderr


def test_help_loads_nothing_heavy():
    """`simlab --help` parses and prints only: the library loads in the runners."""
    probe = ("import sys\nfrom simlab.cli import main\nassert main(['--help']) == 0\n"
             "print(sorted(m for m in ('pandas', 'scipy', 'matplotlib', 'formulaic', 'pooch', "
             "'simlab.model', 'simlab.grading.answers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_defaults_are_the_librarys(capsys):
    import inspect

    from simlab.grading.variants import SimVariant

    code, out, _ = _run(capsys, "demo", "--help")
    text = " ".join(out.split())
    for flag, value in (("--seed SEED", SimVariant.seed), ("--tau TAU", SimVariant.tau),
                        ("--sigma SIGMA", SimVariant.sigma)):
        assert f"{flag} " in text and f"(default: {value})" in text
    code, out, _ = _run(capsys, "fit", "--help")
    nsim = inspect.signature(simlab.LmerResult.confint).parameters["nsim"].default
    assert code == 0 and f"(default: {nsim})" in " ".join(out.split())


def test_the_sweep_backends_are_the_studys():
    """The command line mirrors the study's backends (importing it would slow --help)."""
    from simlab.cli.sweep import BACKENDS
    from simlab.study.backends import BACKENDS as STUDY_BACKENDS

    assert BACKENDS == STUDY_BACKENDS
