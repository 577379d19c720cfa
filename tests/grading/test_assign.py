"""``simlab assign``, and the authoring guide (docs/authoring.md) followed step by step:
a new course, its student files checked after a plain ``pip install``, and its Gradescope
bundle graded by the real ``setup.sh`` and ``run_autograder``."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from simlab import cli
from simlab.grading.course import load_course, solution_text

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "authoring.md"


def guide_source() -> str:
    """The exercise source printed in the guide: its python block that has a key cell."""
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.S)
    [source] = [block for block in blocks if "# %% [key]" in block]
    return source


def guide_commands() -> list[list[str]]:
    """The simlab commands of the guide's bash blocks, as argument lists."""
    blocks = re.findall(r"```bash\n(.*?)```", GUIDE.read_text(), flags=re.S)
    lines = [line.split("#")[0].split() for block in blocks for line in block.splitlines()]
    return [words[1:] for words in lines if words and words[0] == "simlab"]


@pytest.fixture(scope="module")
def guide_course(tmp_path_factory):
    """Steps 1 to 3 of the guide, run in an empty folder through simlab's command line."""
    work = tmp_path_factory.mktemp("guide")
    (work / "mycourse").mkdir()
    (work / "mycourse" / "sleep_days.py").write_text(guide_source())
    here = Path.cwd()
    os.chdir(work)
    try:
        statuses = {" ".join(argv[:1]): cli.main(argv + (["--variants", "0"]
                                                         if argv[0] == "validate" else []))
                    for argv in guide_commands() if argv[0] in ("validate", "assign")}
    finally:
        os.chdir(here)
    return work, statuses


def test_the_guide_names_the_commands_it_needs():
    assert [argv[0] for argv in guide_commands()] == ["validate", "assign", "check"]


def test_the_guide_validates_and_assigns(guide_course):
    work, statuses = guide_course
    assert statuses == {"validate": 0, "assign": 0}
    student = (work / "dist" / "student" / "sleep_days.py").read_text()
    assert "return ...  # replace ... with your answer" in student
    assert "fixef.loc" not in student and "[key]" not in student and "QUESTIONS" not in student
    checks = json.loads((work / "dist" / "student" / "sleep_days.checks.json").read_text())
    assert [q["name"] for q in checks["questions"]] == ["q1_days_effect"]
    assert checks["hidden"] == ["q2_subject_sd"]
    assert "37.12" not in json.dumps(checks)  # the hidden sd (37.124) is nowhere


def _check(python: Path, file: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-m", "simlab", "check", file.name], cwd=file.parent,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "SIMLAB_COURSE_DIR": ""})


def test_a_student_checks_with_a_plain_install_and_no_solutions(guide_course, fresh_simlab,
                                                                tmp_path):
    work, _ = guide_course
    for name in ("sleep_days.py", "sleep_days.checks.json"):
        shutil.copy(work / "dist" / "student" / name, tmp_path / name)
    untouched = _check(fresh_simlab, tmp_path / "sleep_days.py")
    assert untouched.returncode == 1 and "not answered yet" in untouched.stdout
    assert "1 hidden question(s)" in untouched.stdout
    solved = solution_text((work / "mycourse" / "sleep_days.py").read_text())
    (tmp_path / "sleep_days.py").write_text(solved.replace(".tau", ".tau / 0"))
    done = _check(fresh_simlab, tmp_path / "sleep_days.py")
    assert done.returncode == 0 and "All public checks passed." in done.stdout
    assert "hidden question q2_subject_sd: your function fails (ZeroDivisionError)" in done.stdout
    (tmp_path / "sleep_days.checks.json").unlink()
    alone = _check(fresh_simlab, tmp_path / "sleep_days.py")
    assert alone.returncode == 2 and "put sleep_days.checks.json" in alone.stderr


def test_the_guide_bundle_grades_on_the_gradescope_layout(guide_course, fresh_simlab, tmp_path):
    work, _ = guide_course
    root = tmp_path / "autograder"
    with zipfile.ZipFile(work / "dist" / "autograder.zip") as archive:
        archive.extractall(root / "source")
    assert sorted(p.name for p in (root / "source" / "course").iterdir()) == [
        "course.toml", "sleep_days.py"]
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "SIMLAB_PYTHON": str(fresh_simlab)}
    if os.geteuid() == 0:  # setup.sh creates the sandbox account, as on Gradescope
        subprocess.run(["bash", str(root / "source" / "setup.sh")], env=env, check=True,
                       capture_output=True, timeout=900)
    scores = {}
    for label, text in (("solved", solution_text(guide_source())),
                        ("untouched", (work / "dist" / "student" / "sleep_days.py").read_text())):
        shutil.rmtree(root / "submission", ignore_errors=True)
        (root / "submission").mkdir()
        (root / "submission" / "sleep_days.py").write_text(text)
        subprocess.run(["bash", str(root / "run_autograder")], env=env, check=True,
                       capture_output=True, timeout=600)
        results = json.loads((root / "results" / "results.json").read_text())
        scores[label] = (results["score"], [t["visibility"] for t in results["tests"]])
    assert scores == {"solved": (3.0, ["visible", "after_published"]),
                      "untouched": (0.0, ["visible", "after_published"])}


def test_assign_writes_the_student_files_checks_and_bundle(tmp_path, capsys):
    status = cli.main(["assign", "--out", str(tmp_path / "dist"), "--exercise", "sleepstudy"])
    assert status == 0
    student = tmp_path / "dist" / "student"
    assert sorted(p.name for p in student.iterdir()) == ["sleepstudy.checks.json",
                                                         "sleepstudy.py"]
    assert (student / "sleepstudy.py").read_text() == (REPO / "exercises" / "sleepstudy.py"
                                                       ).read_text()
    with zipfile.ZipFile(tmp_path / "dist" / "autograder.zip") as archive:
        names = set(archive.namelist())
    assert {"course/sleepstudy.py", "course/course.toml", "setup.sh", "run_autograder"} <= names
    assert not any(name.startswith(("solutions/", "course/gpa")) for name in names)
    out = capsys.readouterr().out
    assert "sleepstudy.checks.json" in out and "Hand out" in out


def test_assign_refuses_an_unknown_exercise(tmp_path, capsys):
    assert cli.main(["assign", "--out", str(tmp_path), "--exercise", "nope"]) == 2
    assert "unknown exercise(s) ['nope']" in capsys.readouterr().err


def test_a_broken_solution_is_not_assigned(tmp_path, capsys):
    course = tmp_path / "course"
    course.mkdir()
    (course / "toy.py").write_text(guide_source().replace(
        'fit.fixef.loc["Days", "estimate"]', "undefined_name"))
    assert cli.main(["assign", "--course", str(course), "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert "the solution gave no answer to ['q1_days_effect']" in err


def test_the_built_in_course_loads_from_its_sources():
    assert list(load_course().exercises) == ["gpa_basics", "sleepstudy", "gpa_cluster",
                                             "icc_simulation", "sleepstudy_slopes",
                                             "slopes_simulation"]
