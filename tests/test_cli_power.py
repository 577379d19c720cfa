"""``simlab power CONFIG.toml``: the curve, the search and the report files."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from simlab.cli import main
from simlab.planning.config import load_power_config

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "power_cluster.toml"
REFERENCE = Path(__file__).parent / "reference" / "power"

SMALL = """\
seed = 3
term = "z"
nsim = 200
target = 0.8

[design]
n_groups = 12
n_per_group = 6
tau = 0.7071
sigma = 1.0

[effects]
z = 1.0

[curve]
breaks = [6, 12]
"""


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_example_config_writes_table_png_and_report(tmp_path, capsys):
    code, out, err = _run(capsys, "power", EXAMPLE, "--out", tmp_path / "rep", "--no-progress")
    assert code == 0, err
    folder = tmp_path / "rep"
    assert sorted(p.name for p in folder.iterdir()) == ["power_curve.csv", "power_curve.png",
                                                        "report.md", "solve.csv"]
    table = pd.read_csv(folder / "power_curve.csv")
    assert list(table["n_groups"]) == [10, 14, 18, 22, 26, 30]
    assert table["power"].is_monotonic_increasing and (table["nsim"] == 1000).all()
    assert "Smallest n_groups with power >= 0.8: 2" in out           # 23 or 24
    report = (folder / "report.md").read_text()
    assert "![power curve](power_curve.png)" in report and "| 30 | 180 |" in report
    assert (folder / "power_curve.png").read_bytes()[:4] == b"\x89PNG"


def test_same_seed_same_table(tmp_path, capsys):
    config = tmp_path / "small.toml"
    config.write_text(SMALL)
    for out in ("a", "b"):
        assert _run(capsys, "power", config, "--out", tmp_path / out, "--no-progress")[0] == 0
    first, second = (pd.read_csv(tmp_path / out / "power_curve.csv") for out in ("a", "b"))
    pd.testing.assert_frame_equal(first, second)
    assert not (tmp_path / "a" / "solve.csv").exists()


def test_fitted_model_config(tmp_path, capsys):
    (tmp_path / "balanced.csv").write_bytes((REFERENCE / "balanced.csv").read_bytes())
    config = tmp_path / "fit.toml"
    config.write_text('seed = 6\nterm = "w"\nnsim = 100\n[model]\ndata = "balanced.csv"\n'
                      'formula = "y ~ xw + w + (1 | g)"\nn_groups = 20\ntau = 0.7071\n'
                      'sigma = 1.0\n[effects]\nw = 0.8\n"(Intercept)" = 1.0\nxw = 0.2\n'
                      '[curve]\nbreaks = [4, 8, 12, 16, 20]\n')
    code, out, err = _run(capsys, "power", config, "--out", tmp_path / "out", "--no-progress")
    assert code == 0, err
    table = pd.read_csv(tmp_path / "out" / "power_curve.csv")
    assert list(table["nobs"]) == [24, 48, 72, 96, 120]


@pytest.mark.parametrize("text, match", [
    (SMALL.replace('term = "z"\n', ""), "missing term"),
    (SMALL.replace("seed = 3\n", ""), "missing seed"),
    (SMALL + "[model]\nformula = 'y ~ x'\n", "exactly one of a \\[design\\]"),
    (SMALL.replace("[curve]", "[curve]\nalong = 'tau'"), "along must be a design setting"),
    (SMALL.replace("breaks = [6, 12]", "breaks = [12, 6]"), "strictly increasing"),
    (SMALL.replace("target = 0.8", "target = 80"), "target must be strictly between"),
    (SMALL.replace("[effects]\nz = 1.0", "[effects]\nw = 1.0"), "'x'.*'z'"),
    (SMALL + "wrong = 1\n", "unknown key"),
    ("seed = \n", "not valid TOML"),
])
def test_bad_config_is_one_clear_line(tmp_path, capsys, text, match):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    code, out, err = _run(capsys, "power", config, "--out", tmp_path / "o", "--no-progress")
    assert code == 2
    assert err.startswith("simlab: error:") and "Traceback" not in err
    assert re.search(match, err), err


def test_load_config_keeps_the_budget_for_the_curve(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(SMALL.replace("nsim = 200", "nsim = 200\nprecision = 0.01\nmax_nsim = 5000"))
    loaded = load_power_config(config)
    assert loaded.curve == {"breaks": [6, 12], "nsim": 200, "precision": 0.01, "max_nsim": 5000}
    assert loaded.common["term"] == "z" and loaded.target == 0.8 and loaded.solve is None
