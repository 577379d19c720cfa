"""The Gradescope autograder bundle: ``setup.sh``, ``run_autograder`` and what they need.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh``
once to build the image, then ``run_autograder`` for every submission,
which must leave ``/autograder/results/results.json``. The bundle carries
simlab's source (installed by ``setup.sh``), the solution files the key is
computed from, and the data files the exercises read (``gpa.csv`` is copied
from the instructor's data folder into the zip, never into the repository).
"""
from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

from .grader import find_exercise_file
from .questions import ExerciseKey
from .sandbox import Limits

__all__ = ["build_autograder", "project_root", "SETUP_SH", "run_autograder_script"]

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder image.
set -euo pipefail
cd /autograder/source
python3 -m pip install --upgrade pip
python3 -m pip install ./simlab-src
"""

# results.json must exist even if simlab cannot start, or Gradescope shows no feedback at all.
_FALLBACK = ('{"score": 0, "output": "The autograder could not grade this submission: simlab '
             'failed to start. Please tell your instructor.", "tests": []}')


def run_autograder_script(limits: Limits, jobs: int = 2) -> str:
    """The ``run_autograder`` script; ``AUTOGRADER_ROOT`` overrides ``/autograder`` for tests."""
    return f"""#!/usr/bin/env bash
# Gradescope runs this for every submission.
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
SOURCE="$ROOT/source"
RESULTS="$ROOT/results/results.json"
mkdir -p "$ROOT/results"
export SIMLAB_DATA_DIR="$SOURCE/data"
"${{SIMLAB_PYTHON:-python3}}" -m simlab grade "$ROOT/submission" --format gradescope \\
    --output "$RESULTS" --solutions "$SOURCE/solutions" \\
    --metadata "$ROOT/submission_metadata.json" --jobs {jobs} \\
    --timeout {limits.timeout:g} --cell-timeout {limits.cell_timeout:g} \\
    --memory-mb {limits.memory_mb}
if [ ! -s "$RESULTS" ]; then
  echo '{_FALLBACK}' > "$RESULTS"
fi
"""


def project_root() -> Path:
    """The folder holding simlab's ``pyproject.toml`` (an editable install or a checkout).

    Raises
    ------
    ValueError
        If simlab was installed without its source tree.
    """
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        raise ValueError("autograder-zip needs simlab's source tree to put in the bundle; run "
                         "it from a checkout installed with pip install -e .")
    return root


def build_autograder(out: str | Path, keys: Mapping[str, ExerciseKey], *,
                     solutions_dir: str | Path, data_dir: str | Path | None,
                     limits: Limits = Limits(), jobs: int = 2) -> Path:
    """Write the Gradescope autograder zip to ``out`` and return its path.

    Raises
    ------
    ValueError
        If a solution file or a data file an exercise needs is missing.
    """
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="simlab-autograder-") as work:
        work = Path(work)
        _copy_sources(work / "simlab-src")
        _copy_solutions(work / "solutions", keys, Path(solutions_dir))
        _copy_data(work / "data", keys, data_dir)
        (work / "setup.sh").write_text(SETUP_SH)
        (work / "run_autograder").write_text(run_autograder_script(limits, jobs))
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
    root = project_root()
    shutil.copytree(root / "simlab", target / "simlab",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(root / name, target / name)


def _copy_solutions(target: Path, keys: Mapping[str, ExerciseKey], solutions_dir: Path) -> None:
    target.mkdir(parents=True)
    for name in keys:
        path = find_exercise_file(solutions_dir, name)
        if path is None:
            raise ValueError(f"solution file {name}.py is missing from {solutions_dir}; the "
                             "answer key is computed from it")
        shutil.copy2(path, target / path.name)


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
