"""Grading tests run student code as the sandbox account when the tests run as root (CI).

The sandbox account must be able to start the test interpreter. Gradescope's
Python lives in /usr; on a CI machine it may live under /root (mode 700), so
the folders leading to it are made traversable (not listable) for others, as
an instructor would install Python where every user can read it. They stay
so: restoring them at the end of one session would break the sandbox runs of
another test session running at the same time.
"""
from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from simlab.grading import isolation


def _blocking_folders() -> list[Path]:
    folders = set()
    for target in (Path(sys.executable).resolve(), Path(sys.prefix), Path(sys.base_prefix)):
        folders.update(p for p in target.parents if not p.stat().st_mode & stat.S_IXOTH)
    return sorted(folders)


@pytest.fixture(scope="session", autouse=True)
def sandbox_host():
    """The sandbox account (None unless root), ready to run this Python."""
    if not isolation.is_root():
        yield None
        return
    for folder in _blocking_folders():
        os.chmod(folder, folder.stat().st_mode | stat.S_IXOTH)
    yield isolation.sandbox_account()


@pytest.fixture(scope="session")
def fresh_simlab(tmp_path_factory):
    """A new virtual environment with simlab installed from the repository as a package
    (``pip install .``, not editable): no checkout, no solutions beside it.

    It lives in a folder every user can read, so the sandbox account can run it too.
    """
    import shutil
    import subprocess
    import tempfile

    repo = Path(__file__).resolve().parents[2]
    home = Path(tempfile.mkdtemp(prefix="simlab-fresh-"))
    home.chmod(0o755)
    source = home / "src"  # a copy, so that pip's build leaves nothing in the checkout
    shutil.copytree(repo, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "*.egg-info", "build", "__pycache__", "solutions", "exercises",
        "tests"))
    venv = home / "venv"
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)],
                   check=True, timeout=300)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                    str(source)], check=True, capture_output=True, timeout=900)
    shutil.rmtree(source)
    yield venv / "bin" / "python"
    shutil.rmtree(home, ignore_errors=True)
