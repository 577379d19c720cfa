"""Tests for simlab.figures.write_figures: which PNG files it writes, and its errors."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from simlab.figures import DATA_CHOICES, write_figures  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIGURES = {
    "gpa": ["trajectories", "caterpillar", "predictions", "re_density", "re_sim"],
    "sleepstudy": ["trajectories", "caterpillar", "predictions", "re_density", "re_sim"],
    "sim": ["scatter", "caterpillar", "predictions", "re_density", "re_sim"],
}


def _assert_pngs(paths, folder, data):
    assert paths == [folder / f"{data}_{name}.png" for name in FIGURES[data]]
    for path in paths:
        content = path.read_bytes()
        assert content.startswith(PNG_SIGNATURE) and len(content) > 1000, path


@pytest.mark.parametrize("data", ["sleepstudy", "sim"])
def test_offline_data_sets_write_their_figures(tmp_path, data):
    out = tmp_path / "nested" / "figures"  # created with its parents
    before = plt.get_fignums()
    _assert_pngs(write_figures(out, data=data, seed=1), out, data)
    assert plt.get_fignums() == before  # drawn on bare Figures: nothing left open in pyplot


def test_gpa_figures_from_data_dir(tmp_path, gpa_data):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    gpa_data.to_csv(data_dir / "gpa.csv", index=False)
    out = tmp_path / "out"
    _assert_pngs(write_figures(out, data="gpa", data_dir=data_dir), out, "gpa")


def test_gpa_without_the_file_says_where_to_put_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="gpa.csv"):
        write_figures(tmp_path / "out", data="gpa", data_dir=tmp_path)


def test_bad_arguments(tmp_path):
    assert DATA_CHOICES == ("gpa", "sleepstudy", "sim")
    with pytest.raises(ValueError, match=r"unknown data 'iris'; choose one of "
                                         r"\['gpa', 'sleepstudy', 'sim'\]"):
        write_figures(tmp_path, data="iris")
    with pytest.raises(TypeError, match="seed must be an int"):
        write_figures(tmp_path, data="sim", seed=1.5)
    assert not any(tmp_path.iterdir())  # arguments are checked before anything is written
