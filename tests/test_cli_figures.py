"""``simlab figures``: the teaching figures from the command line."""
import functools
import socket

import simlab.figures
from simlab import cli


def test_figures_writes_the_pngs_and_lists_them(tmp_path, capsys):
    status = cli.main(["figures", "--out", str(tmp_path / "figs"), "--data", "sim", "--seed", "7"])
    out = capsys.readouterr().out
    written = sorted(p.name for p in (tmp_path / "figs").glob("*.png"))
    assert status == 0 and len(written) == 5
    assert all(name in out for name in written)
    assert all((tmp_path / "figs" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for name in written)


def test_figures_passes_the_model_on(tmp_path, capsys, monkeypatch):
    calls = []

    def fake(out, **options):  # the drawing itself is tested in tests/test_figures.py
        calls.append((out, options))
        return [tmp_path / "sleepstudy_slopes_caterpillar.png"]

    # The real signature (functools.wraps): the command line reads its defaults from it.
    monkeypatch.setattr("simlab.figures.write_figures",
                        functools.wraps(simlab.figures.write_figures)(fake))
    status = cli.main(["figures", "--out", str(tmp_path), "--data", "sleepstudy",
                       "--model", "slopes"])
    assert status == 0
    assert calls == [(str(tmp_path), {"data": "sleepstudy", "model": "slopes", "seed": 1234})]
    assert "Wrote 1 figures" in capsys.readouterr().out
    cli.main(["figures", "--out", str(tmp_path), "--data", "sim"])
    assert calls[-1][1]["model"] == "intercept"  # the default


def test_figures_rejects_an_unknown_model(tmp_path, capsys):
    status = cli.main(["figures", "--out", str(tmp_path), "--data", "sim", "--model", "quadratic"])
    assert status == 2 and "invalid choice: 'quadratic'" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_figures_rejects_an_unknown_data_set(tmp_path, capsys):
    status = cli.main(["figures", "--out", str(tmp_path), "--data", "iris"])
    assert status == 2 and "invalid choice: 'iris'" in capsys.readouterr().err


def test_figures_without_the_gpa_data_says_how_to_get_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SIMLAB_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("SIMLAB_CACHE_DIR", str(tmp_path / "cache"))
    with socket.socket() as sock:      # a port nothing listens on: offline, even on a networked machine
        sock.bind(("127.0.0.1", 0))
        monkeypatch.setenv("SIMLAB_DATA_URL", f"http://127.0.0.1:{sock.getsockname()[1]}/")
    status = cli.main(["figures", "--out", str(tmp_path / "figs"), "--data", "gpa"])
    err = capsys.readouterr().err
    assert status == 2 and "gpa.csv" in err and "Traceback" not in err
