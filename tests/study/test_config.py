"""SweepConfig: a sweep's checked settings, and SweepConfig.from_toml (the config of ``simlab sweep``)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from simlab.study import SweepConfig, sweep

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "icc.toml"
GRID_TABLE = "[grid]\nn_groups = [8]\nn_per_group = [3]\ntau = [0.5]\nsigma = [0.25]\n"
TINY = "nsim = 4\nseed = 7\nci = [\"wald\"]\n\n" + GRID_TABLE


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cfg.toml"
    path.write_text(text)
    return path


def test_the_example_config_reads_into_16_cells():
    config = SweepConfig.from_toml(EXAMPLE)
    assert (config.nsim, config.seed, config.ci, config.level) == (1000, 1234, ("wald", "profile"), 0.95)
    assert config.chunk_size is None and len(config.cells.cells) == 16
    params = {cell.index: cell.params for cell in config.cells.cells}
    assert params[10] == {"n_groups": 100, "n_per_group": 3, "tau": 0.5, "sigma": 0.25}
    assert params[9] == {"n_groups": 100, "n_per_group": 3, "tau": 0.25, "sigma": 0.5}
    assert params[14] == {"n_groups": 100, "n_per_group": 10, "tau": 0.5, "sigma": 0.25}


def test_defaults_and_a_single_ci_name(tmp_path):
    config = SweepConfig.from_toml(_write(tmp_path, "nsim = 5\nseed = 1\nci = 'wald'\n" + GRID_TABLE))
    assert config.ci == ("wald",) and config.level == 0.95
    config = SweepConfig.from_toml(_write(tmp_path, "nsim = 5\nseed = 1\nlevel = 0.9\n" + GRID_TABLE))
    assert config.ci == ("wald", "profile") and config.level == 0.9
    assert config.grid == {"n_groups": [8], "n_per_group": [3], "tau": [0.5], "sigma": [0.25]}


def test_run_is_the_sweep_of_the_settings(tmp_path):
    config = SweepConfig.from_toml(_write(tmp_path, TINY))
    expected = sweep(config.grid, nsim=4, seed=7, ci=("wald",), progress=False)
    pd.testing.assert_frame_equal(config.run(progress=False), expected, check_exact=True)
    store = tmp_path / "store"
    pd.testing.assert_frame_equal(config.run(store=store, progress=False), expected)
    assert config.manifest().seed == 7 and config.manifest().ci == ["wald"]


def test_replace_checks_again(tmp_path):
    """The command line's --nsim overrides the file's nsim with dataclasses.replace."""
    config = SweepConfig.from_toml(_write(tmp_path, TINY))
    assert dataclasses.replace(config, nsim=6).nsim == 6
    with pytest.raises(ValueError, match="nsim must be at least 1, got 0"):
        dataclasses.replace(config, nsim=0)


def test_the_constructor_checks_and_normalises():
    config = SweepConfig({"n_groups": 8, "n_per_group": 3, "tau": 0.5, "sigma": 0.25},
                         nsim=3, seed=1, ci=["profile", "wald"], level=0.9, chunk_size=2)
    assert config.ci == ("wald", "profile") and config.level == 0.9 and config.chunk_size == 2
    with pytest.raises(TypeError, match="grid must be a dict"):
        SweepConfig([1, 2], nsim=3, seed=1)


@pytest.mark.parametrize("text, error, message", [
    ("nsim = 10\nseed = 1\n[grid\nn_groups = [8]\n", ValueError, "is not valid TOML"),
    ("seed = 1\n" + GRID_TABLE, ValueError,
     "missing nsim in config file {cfg!r}: add a top-level line like 'nsim = 1000'."),
    ("nsim = 5\n" + GRID_TABLE, ValueError,
     "missing seed in config file {cfg!r}: add a top-level line like 'seed = 1234'."),
    ("nsim = 5\nseed = 1\n", ValueError, "missing [grid] table in config file {cfg!r}: add e.g. "
     "'[grid]' followed by 'n_groups = [50, 100]', 'n_per_group = [3]', 'tau = [0.5]', "
     "'sigma = [0.25]'."),
    ("nsim = 5\nseed = 1\ngrid = 3\n", TypeError, "grid must be a [grid] table in config file "
     "{cfg!r}, got 3."),
    ("nsim = 'ten'\nseed = 1\n" + GRID_TABLE, TypeError,
     "nsim must be an integer in config file {cfg!r}, got 'ten'."),
    ("nsim = 5\nseed = true\n" + GRID_TABLE, TypeError,
     "seed must be an integer in config file {cfg!r}, got True."),
    ("nsim = 5\nseed = 1\nci = ['boot']\n" + GRID_TABLE, ValueError,
     "unknown ci method(s) ['boot'] in config file {cfg!r}; choose from ['wald', 'profile']."),
    ("nsim = 5\nseed = 1\nci = []\n" + GRID_TABLE, TypeError,
     "ci must be a list of method names in config file {cfg!r}, e.g. ci = [\"wald\", "
     "\"profile\"]; got []."),
    ("nsim = 5\nseed = 1\nlevel = 95\n" + GRID_TABLE, ValueError,
     "level must be a number strictly between 0 and 1 in config file {cfg!r}, got 95."),
    ("nsim = 5\nseed = 1\nlevel = '0.9'\n" + GRID_TABLE, ValueError,
     "level must be a number strictly between 0 and 1 in config file {cfg!r}, got '0.9'."),
    ("nsim = 5\nseed = 1\nn_jobs = 2\n" + GRID_TABLE, ValueError,
     "unknown top-level key(s) ['n_jobs'] in config file {cfg!r}; expected nsim, seed, ci, "
     "level and a [grid] table."),
    ("reps = 5\nseed = 1\n" + GRID_TABLE, ValueError,
     "unknown top-level key(s) ['reps'] in config file {cfg!r}; expected nsim, seed, ci, "
     "level and a [grid] table (reps is now nsim since simlab 0.2)."),
    ("nsim = 5\nseed = 1\n" + GRID_TABLE + "n_group = [3]\n", ValueError,
     "bad [grid] in config file {cfg!r}: unknown grid key(s) ['n_group']"),
    ("nsim = 5\nseed = 1\n[grid]\nn_groups = [1]\nn_per_group = [3]\ntau = [0.5]\nsigma = [0.5]\n",
     ValueError, "bad [grid] in config file {cfg!r}: "),
    ("nsim = 0\nseed = 1\n" + GRID_TABLE, ValueError, "nsim must be at least 1, got 0."),
    ("nsim = 5\nseed = -1\n" + GRID_TABLE, ValueError, "seed must be at least 0, got -1."),
])
def test_a_bad_config_names_the_file_and_the_problem(tmp_path, text, error, message):
    cfg = _write(tmp_path, text)
    with pytest.raises(error) as info:
        SweepConfig.from_toml(cfg)
    assert message.format(cfg=str(cfg)) in str(info.value)


def test_the_grid_is_checked_before_nsim_as_the_command_line_did(tmp_path):
    cfg = _write(tmp_path, "nsim = 0\nseed = 1\n" + GRID_TABLE + "n_group = [3]\n")
    with pytest.raises(ValueError, match=r"^bad \[grid\] in config file"):
        SweepConfig.from_toml(cfg)


def test_a_missing_file_or_a_directory(tmp_path):
    with pytest.raises(ValueError, match=r"config file '.*nope.toml' does not exist\.$"):
        SweepConfig.from_toml(tmp_path / "nope.toml")
    with pytest.raises(ValueError, match=r"is a directory, not a file\.$"):
        SweepConfig.from_toml(tmp_path)


def test_a_config_that_is_not_utf8_names_the_byte(tmp_path):
    cfg = tmp_path / "cfg.toml"
    cfg.write_bytes(b"nsim = 5\nseed = 1\n# caf\xe9\n" + GRID_TABLE.encode())
    with pytest.raises(ValueError) as info:
        SweepConfig.from_toml(cfg)
    assert str(info.value) == (
        f"config file {str(cfg)!r} is not UTF-8 text: byte 0xe9 at line 3, column 6 (byte offset "
        "23): invalid continuation byte; save the file as UTF-8.")
