"""The Gradescope autograder bundle: ``setup.sh``, ``run_autograder`` and what they need.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh``
once to build the image, then ``run_autograder`` for every submission,
which must leave ``/autograder/results/results.json``. The bundle carries
simlab's source (installed by ``setup.sh``), the course's source files the
key is computed from (``course/``), and the data files the exercises read (``gpa.csv`` is copied
from the instructor's data folder into the zip, never into the repository).

Both scripts run as root. ``setup.sh`` creates the unprivileged account
student code runs as and makes the bundle root-only; ``run_autograder``
makes ``/autograder`` and the results folder root-only again before every
run, and replaces the results with a "grading failed" file whenever the
grader does not finish (see :mod:`simlab.grading.isolation`).
"""
from __future__ import annotations

import json
import shlex
import shutil
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from .course import course_title
from .isolation import SANDBOX_USER
from .questions import ExerciseKey
from .sandbox import Limits

__all__ = ["build_autograder", "SETUP_SH", "FAILED_RESULTS",
           "run_autograder_script"]

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
# AUTOGRADER_ROOT and SIMLAB_PYTHON exist for simlab's own tests.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${SIMLAB_PYTHON:-python3}"
cd "$ROOT/source"
if [ -z "${SIMLAB_PYTHON:-}" ]; then "$PYTHON" -m pip install --upgrade pip; fi
"$PYTHON" -m pip install ./simlab-src
# Student code runs as this unprivileged account (simlab would create it on first use).
id -u %(user)s >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent \\
    --shell /usr/sbin/nologin --user-group %(user)s
# Only root may read the course: solutions, data, this bundle.
chmod -R go-rwx "$ROOT/source"
""" % {"user": SANDBOX_USER}

# Written when grading cannot finish (simlab did not start, or the grader was killed):
# a results file that says so, never an empty-but-valid one or one the student's code wrote.
FAILED_RESULTS = ('{"score": 0, "output": "Grading failed: the autograder stopped before it '
                  'finished, so this submission has no grade yet. Please tell your '
                  'instructor.", "tests": []}')


def run_autograder_script(limits: Limits, jobs: int = 2, exercises: Sequence[str] = ()) -> str:
    """The ``run_autograder`` script grading ``exercises`` (default: all of the course);
    ``AUTOGRADER_ROOT`` overrides ``/autograder`` for tests.

    Its whole body is one function, which bash reads in full before running
    any of it, so lines appended to the file while it runs are never executed.
    """
    selected = "".join(f" --exercise {shlex.quote(name)}" for name in exercises)
    return f"""#!/usr/bin/env bash
# Gradescope runs this for every submission, as root.
simlab_run_autograder() {{
  local ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
  local SOURCE="$ROOT/source" RESULTS_DIR="$ROOT/results"
  local RESULTS="$RESULTS_DIR/results.json" status=0
  mkdir -p "$RESULTS_DIR"
  # Student code runs as an unprivileged account: it may read or write nothing here.
  chmod go-rwx "$ROOT" "$RESULTS_DIR"
  chmod -R go-rwx "$SOURCE"
  rm -f "$RESULTS"
  SIMLAB_DATA_DIR="$SOURCE/data" "${{SIMLAB_PYTHON:-python3}}" -m simlab grade \\
      "$ROOT/submission" --format gradescope --output "$RESULTS" \\
      --course "$SOURCE/course" --metadata "$ROOT/submission_metadata.json" \\
      --jobs {jobs} --timeout {limits.timeout:g} --cell-timeout {limits.cell_timeout:g} \\
      --memory-mb {limits.memory_mb}{selected} || status=$?
  if [ "$status" -ne 0 ] || [ ! -s "$RESULTS" ]; then
    echo '{FAILED_RESULTS}' > "$RESULTS"
  fi
  return 0
}}
simlab_run_autograder "$@"
exit 0
"""


def build_autograder(out: str | Path, keys: Mapping[str, ExerciseKey], *,
                     course_dir: str | Path, data_dir: str | Path | None,
                     limits: Limits = Limits(), jobs: int = 2) -> Path:
    """Write the Gradescope autograder zip to ``out`` and return its path.

    Raises
    ------
    ValueError
        If a source file or a data file an exercise needs is missing.
    """
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="simlab-autograder-") as work:
        work = Path(work)
        _copy_sources(work / "simlab-src")
        _copy_course(work / "course", keys, Path(course_dir))
        _copy_data(work / "data", keys, data_dir)
        (work / "setup.sh").write_text(SETUP_SH)
        (work / "run_autograder").write_text(run_autograder_script(limits, jobs, list(keys)))
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
            for path in sorted(work.rglob("*")):
                if path.is_file():
                    info = zipfile.ZipInfo.from_file(path, path.relative_to(work).as_posix())
                    if path.name in ("setup.sh", "run_autograder"):
                        info.external_attr = 0o100755 << 16  # executable
                    bundle.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return out


def _copy_sources(target: Path) -> None:
    """simlab's package, and a ``pyproject.toml`` to install it with (the source tree's, or
    one written from the installed distribution's metadata)."""
    package = Path(__file__).resolve().parents[1]
    shutil.copytree(package, target / "simlab",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    root = package.parent
    if (root / "pyproject.toml").is_file() and (root / "README.md").is_file():
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(root / name, target / name)
    else:
        (target / "pyproject.toml").write_text(_installed_pyproject())


def _installed_pyproject() -> str:
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        meta = metadata("simlab")
    except PackageNotFoundError:
        raise ValueError("cannot find simlab's source tree or installed metadata to put in the "
                         "bundle; install simlab with pip first") from None
    requires = [r for r in meta.get_all("Requires-Dist") or [] if "extra ==" not in r]
    return ('[build-system]\nrequires = ["setuptools>=64"]\n'
            'build-backend = "setuptools.build_meta"\n\n[project]\nname = "simlab"\n'
            f'version = "{meta["Version"]}"\nrequires-python = ">=3.10"\n'
            f"dependencies = {json.dumps(requires)}\n\n"
            '[tool.setuptools.packages.find]\ninclude = ["simlab*"]\n\n'
            '[tool.setuptools.package-data]\n"simlab.datasets" = ["*.csv"]\n')


def _copy_course(target: Path, keys: Mapping[str, ExerciseKey], course_dir: Path) -> None:
    """The source file of each exercise and a ``course.toml`` naming them in order."""
    target.mkdir(parents=True)
    for name in keys:
        path = course_dir / f"{name}.py"
        if not path.is_file():
            raise ValueError(f"the source file {name}.py is missing from {course_dir}; the "
                             "answer key is computed from it")
        shutil.copy2(path, target / path.name)
    title = course_title(course_dir)
    (target / "course.toml").write_text(f"title = {json.dumps(title)}\n"
                                        f"exercises = {json.dumps(list(keys))}\n")


def _copy_data(target: Path, keys: Mapping[str, ExerciseKey], data_dir) -> None:
    target.mkdir(parents=True)
    needed = sorted({name for key in keys.values() for name in key.data_files})
    for name in needed:
        source = Path(data_dir) / name if data_dir else None
        if source is None or not source.is_file():
            raise ValueError(f"the exercises need {name}, which is not in "
                             f"{str(data_dir) if data_dir else 'any data folder'}; pass "
                             "--data-dir DIR or set SIMLAB_DATA_DIR")
        shutil.copy2(source, target / name)
