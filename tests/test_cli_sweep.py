"""Tests for ``simlab sweep`` and ``simlab report`` (simlab.cli), run in-process with ``main``."""
from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import simlab.study.runner as runner
from simlab.cli import main
from simlab.study import SweepConfig, read_store

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "icc.toml"

TINY = """\
nsim = 10
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
    assert "bias" in out and "coverage_wald" in out and "sd_(Intercept)|group" in out
    assert str(store) in out and f"simlab report {store}" in out
    first = read_store(store)
    assert set(first["cell"]) == {0, 1} and first["rep"].max() == 9

    code, out2, err = _run(capsys, "sweep", cfg, "--out", store, "--no-progress")
    assert code == 0, err
    pd.testing.assert_frame_equal(read_store(store), first)
    assert out2 == out

    code, _, err = _run(capsys, "sweep", cfg, "--out", store, "--no-progress", "--nsim", "15")
    assert code == 0, err
    extended = read_store(store)
    assert extended["rep"].max() == 14
    pd.testing.assert_frame_equal(
        extended[extended["rep"] < 10].reset_index(drop=True), first)


SLOPES = """\
nsim = 4
seed = 7
{ci}
[grid]
n_groups = [10]
n_per_group = [4]
tau = [0.5]
sigma = [0.25]
tau_slope = [0.2]
rho = [0.0, -0.5]
"""


def test_a_random_slope_sweep_from_a_config(capsys, tmp_path):
    cfg = _write(tmp_path, SLOPES.format(ci='ci = ["wald"]'))
    code, out, err = _run(capsys, "sweep", cfg, "--out", tmp_path / "store", "--no-progress")
    assert code == 0, err
    assert "cor_x.(Intercept)|group" in out and "sd_x|group" in out
    stored = read_store(tmp_path / "store")
    assert set(stored["rho"]) == {0.0, -0.5} and set(stored["tau_slope"]) == {0.2}


def test_example_icc_config_has_16_cells():
    config = SweepConfig.from_toml(EXAMPLE)
    assert config.nsim == 1000 and config.seed == 1234
    assert config.ci == ("wald", "profile")
    grid = config.cells
    assert len(grid.cells) == 16
    params = {cell.index: cell.params for cell in grid.cells}
    assert params[10] == {"n_groups": 100, "n_per_group": 3, "tau": 0.5, "sigma": 0.25}
    assert params[9] == {"n_groups": 100, "n_per_group": 3, "tau": 0.25, "sigma": 0.5}
    assert params[2] == {"n_groups": 50, "n_per_group": 3, "tau": 0.5, "sigma": 0.25}
    assert params[14] == {"n_groups": 100, "n_per_group": 10, "tau": 0.5, "sigma": 0.25}


@pytest.mark.parametrize("text, needle", [
    ("nsim = 10\nseed = 1\n[grid\nn_groups = [8]\n", "not valid TOML"),
    ("seed = 1\n[grid]\nn_groups = [8]\nn_per_group = [3]\ntau = [0.5]\nsigma = [0.25]\n",
     "missing nsim"),
    ("nsim = 5\n[grid]\nn_groups = [8]\nn_per_group = [3]\ntau = [0.5]\nsigma = [0.25]\n",
     "missing seed"),
    ("nsim = 5\nseed = 1\n", "missing [grid]"),
    ("nsim = 'ten'\nseed = 1\n[grid]\nn_groups = [8]\nn_per_group = [3]\n", "nsim must be"),
    ("nsim = 5\nseed = 1\nci = ['boot']\n[grid]\nn_groups = [8]\nn_per_group = [3]\n",
     "unknown ci"),
    ("nsim = 5\nseed = 1\n[grid]\nn_groups = [8]\nn_per_group = [3]\ntau = [0.5]\n"
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


def _error_line(err: str) -> str:
    assert err.startswith("simlab: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err[len("simlab: error: "):-1]


@pytest.mark.parametrize("where", ["option", "config"])
def test_too_many_simulations_are_refused_before_the_store_is_written(capsys, tmp_path, where):
    huge = "1000000000000"
    text = TINY.replace("nsim = 10", f"nsim = {huge}") if where == "config" else TINY
    cfg, store = _write(tmp_path, text), tmp_path / "store"
    extra = ["--nsim", huge] if where == "option" else []
    code, out, err = _run(capsys, "sweep", cfg, "--out", store, "--no-progress", *extra)
    assert code == 2 and out == ""
    line = _error_line(err)
    assert line.startswith("nsim = 1,000,000,000,000 over 2 grid cell(s) gives "
                           "8,000,000,000,000 result rows, which need about ")
    assert line.endswith("; use a smaller nsim or fewer cells")
    assert not store.exists()


def test_a_config_that_is_not_utf8_names_the_file_and_the_byte(capsys, tmp_path):
    cfg = tmp_path / "cfg.toml"
    cfg.write_bytes(b"nsim = 5\nseed = 1\n# caf\xe9\n" + TINY.split("\n", 3)[3].encode())
    code, _, err = _run(capsys, "sweep", cfg, "--out", tmp_path / "store", "--no-progress")
    assert code == 2 and _error_line(err) == (
        f"config file {str(cfg)!r} is not UTF-8 text: byte 0xe9 at line 3, column 6 (byte offset 23): "
        "invalid continuation byte; save the file as UTF-8.")
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize("out", ["", "  "])
def test_an_empty_out_is_refused_not_taken_as_the_current_directory(capsys, tiny, tmp_path,
                                                                   monkeypatch, out):
    cfg, _ = tiny
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, _, err = _run(capsys, "sweep", cfg, "--out", out, "--no-progress")
    assert code == 2 and _error_line(err) == (
        f"store path is empty ({out!r}); give a directory such as 'results' (an empty path "
        "would be the current directory).")
    code, _, err = _run(capsys, "report", out)
    assert code == 2 and "store path is empty" in _error_line(err)
    assert list(work.iterdir()) == []


def test_report_refuses_an_empty_out(capsys, tiny, tmp_path, monkeypatch):
    cfg, store = tiny
    assert _run(capsys, "sweep", cfg, "--out", store, "--no-progress")[0] == 0
    monkeypatch.chdir(tmp_path)
    before = sorted(tmp_path.iterdir())
    code, _, err = _run(capsys, "report", store, "--out", "")
    assert code == 2 and "report folder path is empty ('')" in _error_line(err)
    assert sorted(tmp_path.iterdir()) == before


@pytest.mark.parametrize("failure, message", [
    (MemoryError("out of memory"), "MemoryError: out of memory"),
    (ChildProcessError("a worker process of the sweep was lost"),
     "a worker process of the sweep was lost"),
])
def test_a_failure_of_the_machine_says_what_is_saved_and_how_to_resume(
        capsys, tiny, monkeypatch, failure, message, fail_second_chunk):
    cfg, store = tiny
    real = runner._run
    fail_second_chunk(failure)
    code, out, err = _run(capsys, "sweep", cfg, "--out", store, "--no-progress")
    assert code == 1 and out == ""
    assert _error_line(err) == (f"{message}; 1 of 2 chunks are saved in {store}; rerun the "
                                "same command to resume")
    monkeypatch.setattr(runner, "_run", real)
    assert _run(capsys, "sweep", cfg, "--out", store, "--no-progress")[0] == 0


def test_ctrl_c_says_what_is_saved_and_how_to_resume(tmp_path):
    """SIGINT once a chunk is saved: exit 130 and the note on resuming, no traceback."""
    cfg = _write(tmp_path, TINY.replace("nsim = 10", "nsim = 5000"))
    store = tmp_path / "store"
    sweep = subprocess.Popen([sys.executable, "-m", "simlab", "sweep", str(cfg), "--out",
                              str(store), "--no-progress"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not list(store.glob("*.parquet")) and sweep.poll() is None:
            assert time.monotonic() < deadline, "no chunk was saved"
            time.sleep(0.02)
        sweep.send_signal(signal.SIGINT)
        out, err = sweep.communicate(timeout=120)
    finally:
        sweep.kill()
    saved = len(list(store.glob("*.parquet")))
    assert sweep.returncode == 130 and out == ""
    assert err == (f"simlab: interrupted: {saved} of 40 chunks are saved in {store}; rerun the "
                   "same command to resume\n")
    assert 1 <= saved < 40
