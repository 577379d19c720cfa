"""``simlab check``, ``grade``, ``validate`` and ``autograder-zip`` from the command line."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from simlab import cli

ROOT = Path(__file__).resolve().parents[2]
EXERCISES, SOLUTIONS = ROOT / "exercises", ROOT / "solutions"
DATA = Path(os.environ.get("SIMLAB_DATA_DIR", ROOT.parent / "shared" / "data"))


def run(capsys, *argv):
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_check_fails_an_untouched_exercise_with_actionable_feedback(capsys):
    status, out, _ = run(capsys, "check", EXERCISES / "sleepstudy.py")
    assert status == 1
    assert "not answered yet" in out and "Hint:" in out and "Expected a number" in out
    assert "hidden question(s)" in out
    assert "q3_icc " not in out and "q3_days_effect" not in out  # hidden questions are not run


def test_check_passes_a_solution(capsys):
    status, out, _ = run(capsys, "check", SOLUTIONS / "sleepstudy.py")
    assert status == 0 and "All public checks passed." in out


def test_check_never_prints_a_hidden_or_public_answer(tmp_path, capsys):
    text = (SOLUTIONS / "sleepstudy.py").read_text().replace(
        "return q2_random_intercept_model().tau  # SOLUTION\n", "return 1.0\n")
    (tmp_path / "sleepstudy.py").write_text(text)
    status, out, _ = run(capsys, "check", tmp_path / "sleepstudy.py", "--course", SOLUTIONS)
    assert status == 1 and "q3_subject_sd" in out
    assert "37.12" not in out.split("What your file printed")[0]  # the key's tau is 37.1239


@pytest.mark.parametrize("argv, message", [
    (["check", "no/such/file.py"], "does not exist"),
    (["check", __file__], "is not one of the exercises"),
    (["grade", "no/such/folder"], "does not exist or is not a folder"),
    (["grade", str(EXERCISES), "--exercise", "nope"], "unknown exercise"),
    (["grade", str(EXERCISES), "--jobs", "0"], "--jobs must be at least 1"),
    (["validate", "--jobs", "0"], "--jobs must be at least 1"),
    (["autograder-zip", "--jobs", "0"], "--jobs must be at least 1"),
    (["grade", str(EXERCISES), "--timeout", "0"], "timeout must be a positive number"),
    (["grade", str(EXERCISES), "--course", "no/such/course"], "--course DIR"),
    (["check", str(EXERCISES / "sleepstudy.py"), "--checks", "no/such.json"], "does not exist"),
    (["validate", "--exercises", "no/such/folder"], "is not a folder"),
])
def test_bad_input_gets_a_clear_error(capsys, argv, message):
    status, _, err = run(capsys, *argv)
    assert status == 2 and message in err and "Traceback" not in err


def test_bad_metadata_gets_a_clear_error(tmp_path, capsys):
    (tmp_path / "meta.json").write_text("{not json")
    status, _, err = run(capsys, "grade", EXERCISES, "--metadata", tmp_path / "meta.json",
                         "--exercise", "sleepstudy")
    assert status == 2 and "cannot read a student id" in err


def test_grade_writes_gradescope_results(tmp_path, capsys):
    out = tmp_path / "results" / "results.json"
    status, _, err = run(capsys, "grade", SOLUTIONS, "--exercise", "sleepstudy",
                         "--format", "gradescope", "--output", out)
    assert status == 0 and "14/14 points" in err
    results = json.loads(out.read_text())
    assert results["score"] == 14 and len(results["tests"]) == len(
        cli_keys()["sleepstudy"].questions)
    for test in results["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] == "passed" and test["visibility"] in ("visible", "after_published")


def test_grade_reads_the_student_id_from_gradescope_metadata(tmp_path, capsys):
    submission = tmp_path / "submission"
    submission.mkdir()
    shutil.copy(SOLUTIONS / "icc_simulation.py", submission)
    (tmp_path / "submission_metadata.json").write_text(json.dumps(
        {"id": 1, "users": [{"id": "777", "email": "s@example.org", "name": "S"}]}))
    status, out, _ = run(capsys, "grade", submission, "--exercise", "icc_simulation",
                         "--format", "json")
    report = json.loads(out)
    # Gradescope's id only when there is no roster SID and no e-mail (variants.py)
    assert status == 0 and report["student_id"] == "s@example.org"
    assert report["score"] == report["max_score"]


def test_a_crashing_submission_still_gets_results(tmp_path, capsys):
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "sleepstudy.py").write_text("import os\nos._exit(1)\n")
    out = tmp_path / "results.json"
    status, _, _ = run(capsys, "grade", submission, "--exercise", "sleepstudy",
                       "--exercise", "icc_simulation", "--format", "gradescope", "--output", out)
    results = json.loads(out.read_text())
    assert status == 0 and results["score"] == 0
    outputs = [t["output"] for t in results["tests"]]
    assert any("exit status 1" in o for o in outputs)
    assert any("no icc_simulation.py" in o for o in outputs)


def cli_keys():
    from simlab.grading.course import load_course
    return load_course().keys


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    if not (DATA / "gpa.csv").is_file():
        if os.environ.get("CI"):
            raise FileNotFoundError(DATA / "gpa.csv")
        pytest.skip("gpa.csv not available: set SIMLAB_DATA_DIR")
    out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    assert cli.main(["autograder-zip", "--out", str(out), "--data-dir", str(DATA)]) == 0
    return out


def test_autograder_zip_has_the_gradescope_layout(bundle):
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    assert {"setup.sh", "run_autograder", "data/gpa.csv", "simlab-src/pyproject.toml",
            "simlab-src/simlab/grading/grader.py"} <= names
    assert {f"course/{name}.py" for name in cli_keys()} | {"course/course.toml"} <= names
    assert modes["run_autograder"] & stat.S_IXUSR and modes["setup.sh"] & stat.S_IXUSR
    assert not any("__pycache__" in name for name in names)


def test_run_autograder_grades_a_submission(bundle, tmp_path):
    root = tmp_path / "autograder"
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    submission = root / "submission"
    submission.mkdir()
    shutil.copy(SOLUTIONS / "sleepstudy.py", submission)
    (root / "submission_metadata.json").write_text(json.dumps({"users": [{"id": "1"}]}))
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "SIMLAB_PYTHON": sys.executable}
    subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, check=True,
                   capture_output=True, timeout=600)
    results = json.loads((root / "results" / "results.json").read_text())
    by_exercise = {}
    for test in results["tests"]:
        by_exercise.setdefault(test["tags"][0], []).append(test["score"] == test["max_score"])
    assert all(by_exercise["sleepstudy"]) and not any(by_exercise["gpa_basics"])


def test_autograder_zip_without_the_data_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SIMLAB_DATA_DIR", raising=False)
    status, _, err = run(capsys, "autograder-zip", "--out", tmp_path / "a.zip")
    assert status == 2 and "gpa.csv" in err and "--data-dir" in err
    assert not (tmp_path / "a.zip").exists()


def test_the_grade_formats_are_the_renderers():
    """The command line mirrors render.FORMATS (importing the renderer would slow --help)."""
    from simlab.cli.grading import GRADE_FORMATS
    from simlab.grading.render import FORMATS

    assert GRADE_FORMATS == FORMATS


def test_the_limits_options_default_to_the_librarys(capsys):
    from simlab.grading.sandbox import Limits

    status, out, _ = run(capsys, "grade", "--help")
    assert status == 0
    for value in (Limits().timeout, Limits().cell_timeout, Limits().memory_mb):
        assert f"(default: {value})" in " ".join(out.split())
