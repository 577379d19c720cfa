"""``simlab figures``: the teaching figures from the command line."""
from simlab import cli


def test_figures_writes_the_pngs_and_lists_them(tmp_path, capsys):
    status = cli.main(["figures", "--out", str(tmp_path / "figs"), "--data", "sim", "--seed", "7"])
    out = capsys.readouterr().out
    written = sorted(p.name for p in (tmp_path / "figs").glob("*.png"))
    assert status == 0 and len(written) == 5
    assert all(name in out for name in written)
    assert all((tmp_path / "figs" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for name in written)


def test_figures_rejects_an_unknown_data_set(tmp_path, capsys):
    status = cli.main(["figures", "--out", str(tmp_path), "--data", "iris"])
    assert status == 2 and "invalid choice: 'iris'" in capsys.readouterr().err


def test_figures_without_the_gpa_data_says_how_to_get_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SIMLAB_DATA_DIR", str(tmp_path / "empty"))
    status = cli.main(["figures", "--out", str(tmp_path / "figs"), "--data", "gpa"])
    err = capsys.readouterr().err
    assert status == 2 and "gpa.csv" in err and "Traceback" not in err
