"""Tests for ``simlab sweep`` and ``simlab report`` (simlab.cli), run in-process with ``main``."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from simlab.cli import load_sweep_config, main
from simlab.study import make_grid, read_store

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "icc.toml"

TINY = """\
reps = 10
seed = 7
ci = ["wald"]

[grid]
n_groups = [8, 12]
n_per_group = [3]
tau = [0.5]
sigma = [0.25]
"""


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _write(tmp_path: Path, text: str, name: str = "cfg.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture
def tiny(tmp_path) -> tuple[Path, Path]:
    return _write(tmp_path, TINY), tmp_path / "store"


def test_sweep_runs_prints_summary_and_resumes(capsys, tiny):
    cfg, store = tiny
    code, out, err = _run(capsys, "sweep", cfg, "--out", store, "--no-progress")
    assert code == 0, err
    assert "bias" in out and "coverage_wald" in out and "sd_(Intercept)" in out
    assert str(store) in out and f"simlab report {store}" in out
    first = read_store(store)
    assert set(first["cell"]) == {0, 1} and first["rep"].max() == 9

    code, out2, err = _run(capsys, "sweep", cfg, "--out", store, "--no-progress")
    assert code == 0, err
    pd.testing.assert_frame_equal(read_store(store), first)
    assert out2 == out

    code, _, err = _run(capsys, "sweep", cfg, "--out", store, "--no-progress", "--reps", "15")
    assert code == 0, err
    extended = read_store(store)
    assert extended["rep"].max() == 14
    pd.testing.assert_frame_equal(
        extended[extended["rep"] < 10].reset_index(drop=True), first)


def test_example_icc_config_has_16_cells():
    config = load_sweep_config(EXAMPLE)
    assert config["reps"] == 1000 and config["seed"] == 1234
    assert config["ci"] == ("wald", "profile")
    grid = make_grid(config["grid"])
    assert len(grid.cells) == 16
    params = {cell.index: cell.params for cell in grid.cells}
    assert params[10] == {"n_groups": 100, "n_per_group": 3, "tau": 0.5, "sigma": 0.25}
    assert params[9] == {"n_groups": 100, "n_per_group": 3, "tau": 0.25, "sigma": 0.5}
    assert params[2] == {"n_groups": 50, "n_per_group": 3, "tau": 0.5, "sigma": 0.25}
    assert params[14] == {"n_groups": 100, "n_per_group": 10, "tau": 0.5, "sigma": 0.25}


@pytest.mark.parametrize("text, needle", [
    ("reps = 10\nseed = 1\n[grid\nn_groups = [8]\n", "not valid TOML"),
    ("seed = 1\n[grid]\nn_groups = [8]\nn_per_group = [3]\ntau = [0.5]\nsigma = [0.25]\n",
     "missing reps"),
    ("reps = 5\n[grid]\nn_groups = [8]\nn_per_group = [3]\ntau = [0.5]\nsigma = [0.25]\n",
     "missing seed"),
    ("reps = 5\nseed = 1\n", "missing [grid]"),
    ("reps = 'ten'\nseed = 1\n[grid]\nn_groups = [8]\nn_per_group = [3]\n", "reps must be"),
    ("reps = 5\nseed = 1\nci = ['boot']\n[grid]\nn_groups = [8]\nn_per_group = [3]\n",
     "unknown ci"),
    ("reps = 5\nseed = 1\n[grid]\nn_groups = [8]\nn_per_group = [3]\ntau = [0.5]\n"
     "sigma = [0.25]\nn_group = [3]\n", "unknown grid key"),
])
def test_bad_config_exits_2_with_message(capsys, tmp_path, text, needle):
    cfg = _write(tmp_path, text)
    code, out, err = _run(capsys, "sweep", cfg, "--out", tmp_path / "store", "--no-progress")
    assert code == 2
    assert err.startswith("simlab: error:") and needle in err, err
    assert "Traceback" not in err
    if needle == "not valid TOML":
        assert "cfg.toml" in err and "line 3" in err


def test_missing_config_file(capsys, tmp_path):
    code, _, err = _run(capsys, "sweep", tmp_path / "nope.toml", "--out", tmp_path / "s")
    assert code == 2 and "nope.toml" in err and "does not exist" in err
    assert "Traceback" not in err


def test_store_that_is_a_file(capsys, tiny, tmp_path):
    cfg, _ = tiny
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    code, _, err = _run(capsys, "sweep", cfg, "--out", blocker, "--no-progress")
    assert code == 2 and "not a directory" in err and "Traceback" not in err


@pytest.mark.skipif(importlib.util.find_spec("simlab.study.report") is None,
                    reason="simlab.study.report is not available yet")
def test_report(capsys, tiny, tmp_path):
    cfg, store = tiny
    assert _run(capsys, "sweep", cfg, "--out", store, "--no-progress")[0] == 0
    code, out, err = _run(capsys, "report", store, "--out", tmp_path / "rep")
    assert code == 0, err
    assert str(tmp_path / "rep") in out and "summary.md" in out


def test_sweep_and_report_are_registered(capsys):
    from simlab import cli

    assert {"sweep", "report"} <= set(cli.COMMANDS)
    code, out, _ = _run(capsys, "--help")
    assert code == 0 and "sweep" in out and "report" in out
