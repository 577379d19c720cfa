"""Tests for simlab.study.report.write_report on a tiny real sweep."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from simlab.study import sweep  # noqa: E402
from simlab.study.report import write_report  # noqa: E402

GRID = {"n_groups": [5, 10], "n_per_group": [4], "tau": [0.5], "sigma": [1.0]}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("sweep") / "store"
    sweep(GRID, nsim=20, seed=3, store=str(path), ci=("wald",), progress=False)
    return path


def test_write_report_default_folder(store):
    out = write_report(store)
    assert out == store / "report"
    names = sorted(p.name for p in out.iterdir())
    # coverage_profile was not run: skipped.
    assert names == ["bias.png", "coverage_wald.png", "power_wald.png", "rmse.png",
                     "summary.md"]
    assert all((out / n).stat().st_size > 1000 for n in names if n.endswith(".png"))
    text = (out / "summary.md").read_text()
    assert "seed: 3" in text and "nsim per cell: 20" in text and "n_groups" in text
    assert "Failed fits" in text and "singular fits" in text
    assert "coverage_profile" in text  # named as not available
    table = [ln for ln in text.splitlines() if ln.startswith("| ")]
    assert len(table) == 1 + 2 * 4  # header + 2 cells x 4 parameters
    assert any(ln.startswith("| 5 | 4 | 0.5 | 1.0 | 0 | x |") for ln in table)
    assert any(ln.startswith("| 10 | 4 | 0.5 | 1.0 | 1 | x |") for ln in table)
    assert "±" in table[1]
    # lme4's confint names and order, the "|" escaped for Markdown.
    assert [ln.split(" | ")[5] for ln in table[1:5]] == [
        "sd_(Intercept)\\|group", "sigma", "(Intercept)", "x"]


def test_report_of_a_random_slope_sweep(tmp_path):
    store = tmp_path / "store"
    sweep({"n_groups": 8, "n_per_group": 4, "tau": 0.5, "sigma": 0.5, "tau_slope": [None, 0.3],
           "rho": 0.0}, nsim=6, seed=3, store=str(store), ci=("wald",), progress=False)
    out = write_report(store)
    text = (out / "summary.md").read_text()
    table = [ln for ln in text.splitlines() if ln.startswith("| ")]
    assert len(table) == 1 + 4 + 6   # header, the intercept cell's 4 rows, the slope cell's 6
    assert [ln.split(" | ")[7] for ln in table[5:]] == [
        "sd_(Intercept)\\|group", "cor_x.(Intercept)\\|group", "sd_x\\|group", "sigma",
        "(Intercept)", "x"]
    assert (out / "bias.png").stat().st_size > 1000


def test_write_report_custom_out_and_measures(store, tmp_path):
    out = write_report(store, tmp_path / "r", measures=("bias", "coverage_profile"))
    assert out == tmp_path / "r"
    assert sorted(p.name for p in out.iterdir()) == ["bias.png", "summary.md"]


def test_missing_store_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_report(tmp_path / "nope")
    with pytest.raises(ValueError, match="not a sweep store"):
        write_report(tmp_path)


def test_empty_store_raises(tmp_path):
    (tmp_path / "manifest.json").write_text(
        '{"grid": {}, "seed": 1, "ci": ["wald"], "level": 0.95}')
    with pytest.raises(ValueError, match="no results"):
        write_report(tmp_path)
