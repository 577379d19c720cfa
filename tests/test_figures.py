"""Tests for simlab.figures.write_figures: which PNG files it writes, and its errors."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from matplotlib.figure import Figure  # noqa: E402

from simlab import figures  # noqa: E402
from simlab.figures import DATA_CHOICES, MODEL_CHOICES, write_figures  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIGURES = {
    "gpa": ["trajectories", "caterpillar", "predictions", "re_density", "re_sim"],
    "sleepstudy": ["trajectories", "caterpillar", "predictions", "re_density", "re_sim"],
    "sim": ["scatter", "caterpillar", "predictions", "re_density", "re_sim"],
}


SLOPE_FIGURES = ["many_regressions", "many_regressions_panels", "caterpillar", "predictions"]


def _assert_pngs(paths, folder, data, model="intercept"):
    if model == "slopes":
        assert paths == [folder / f"{data}_slopes_{name}.png" for name in SLOPE_FIGURES]
    else:
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


def test_sleepstudy_random_slope_figures(tmp_path):
    before = plt.get_fignums()
    paths = write_figures(tmp_path, data="sleepstudy", model="slopes", seed=1234)
    _assert_pngs(paths, tmp_path, "sleepstudy", "slopes")
    assert plt.get_fignums() == before


def _drawn(monkeypatch, out, data, model, data_dir=None):
    """The Figures write_figures draws, by file name, without writing PNGs."""
    drawn = {}

    def keep(plan, caption, path):
        figure = Figure(figsize=plan.figsize, layout="constrained")
        plan.draw(figure if plan.whole_figure else figure.subplots())
        drawn[path.stem] = figure
        return path

    monkeypatch.setattr(figures, "_save", keep)
    write_figures(out, data=data, model=model, seed=1234, data_dir=data_dir)
    return drawn


def test_random_slope_figures_show_what_they_say(monkeypatch, tmp_path, sleepstudy_data):
    drawn = _drawn(monkeypatch, tmp_path, "sleepstudy", "slopes")
    assert sorted(drawn) == sorted(f"sleepstudy_slopes_{name}" for name in SLOPE_FIGURES)
    panels = drawn["sleepstudy_slopes_many_regressions_panels"].axes
    assert [ax.get_title() for ax in panels if ax.get_visible()] == \
        list(sleepstudy_data["Subject"].cat.categories)  # all 18 subjects
    caterpillar = drawn["sleepstudy_slopes_caterpillar"].axes
    assert [ax.get_title().split(":")[0] for ax in caterpillar] == ["(Intercept)", "Days"]
    (lines,) = drawn["sleepstudy_slopes_many_regressions"].axes
    assert sum(line.get_gid() == "mixed model" for line in lines.get_lines()) == 18
    # Many groups: the first 12 only, in both many-regressions figures.
    drawn = _drawn(monkeypatch, tmp_path, "sim", "slopes")
    panels = drawn["sim_slopes_many_regressions_panels"].axes
    assert [ax.get_title() for ax in panels] == [str(g) for g in range(1, 13)]
    (lines,) = drawn["sim_slopes_many_regressions"].axes
    assert sum(line.get_gid() == "mixed model" for line in lines.get_lines()) == 12
    assert len(drawn["sim_slopes_caterpillar"].axes) == 2


def test_intercept_figures_take_their_columns_from_the_fit(monkeypatch, tmp_path):
    drawn = _drawn(monkeypatch, tmp_path, "sleepstudy", "intercept")
    assert sorted(drawn) == sorted(f"sleepstudy_{name}" for name in FIGURES["sleepstudy"])
    (trajectories,) = drawn["sleepstudy_trajectories"].axes
    assert (trajectories.get_xlabel(), trajectories.get_ylabel()) == ("Days", "Reaction")
    assert sum(line.get_gid() == "highlight" for line in trajectories.get_lines()) == 10
    (re_sim,) = drawn["sleepstudy_re_sim"].axes
    (estimates,) = [line for line in re_sim.get_lines() if line.get_gid() == "estimate"]
    assert len(estimates.get_ydata()) == 18 and "Subject" in re_sim.get_xlabel()
    (density,) = drawn["sleepstudy_re_density"].axes
    low, high = density.get_xlim()
    assert high - low > 6  # milliseconds: not the GPA figure's (-3, 3)
    (density,) = _drawn(monkeypatch, tmp_path, "sim", "intercept")["sim_re_density"].axes
    assert density.get_xlim() == (-3, 3)


def test_gpa_random_slope_figures(monkeypatch, tmp_path, gpa_data):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    gpa_data.to_csv(data_dir / "gpa.csv", index=False)
    drawn = _drawn(monkeypatch, tmp_path / "out", "gpa", "slopes", data_dir=data_dir)
    assert sorted(drawn) == sorted(f"gpa_slopes_{name}" for name in SLOPE_FIGURES)
    panels = drawn["gpa_slopes_many_regressions_panels"].axes
    first = [str(s) for s in gpa_data["student"].drop_duplicates().sort_values()[:12]]
    assert [ax.get_title() for ax in panels] == first
    assert len(drawn["gpa_slopes_caterpillar"].axes) == 2


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
    assert MODEL_CHOICES == ("intercept", "slopes")
    with pytest.raises(ValueError, match=r"unknown model 'slope'; choose one of "
                                         r"\['intercept', 'slopes'\]"):
        write_figures(tmp_path, data="sim", model="slope")
    assert not any(tmp_path.iterdir())  # arguments are checked before anything is written
