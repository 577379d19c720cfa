from __future__ import annotations

import functools
import hashlib
import os
import shutil
import socket
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from simlab import datasets
from simlab.cli import main
from simlab.datasets import remote

GPA_SHA256 = "7c1eec50027b5ad9c82e118ef5b0d46bf30e300ddd195602b301856d9bc1c48c"


def test_sleepstudy_is_bundled():
    data = datasets.sleepstudy()
    assert data.shape == (180, 3)
    assert list(data.columns) == ["Reaction", "Days", "Subject"]
    assert list(data["Subject"].cat.categories[:3]) == ["308", "309", "310"]


def test_gpa_from_environment(gpa_data):
    assert gpa_data.shape == (1200, 10)
    assert list(gpa_data["sex"].cat.categories) == ["male", "female"]


def test_gpa_from_explicit_folder_and_file(gpa_data, monkeypatch):
    folder = os.environ["SIMLAB_DATA_DIR"]
    monkeypatch.delenv("SIMLAB_DATA_DIR")
    assert datasets.gpa(folder).equals(gpa_data)
    assert datasets.gpa(os.path.join(folder, "gpa.csv")).equals(gpa_data)


def test_gpa_wrong_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="gpa.csv does not exist.*SIMLAB_DATA_DIR"):
        datasets.gpa(tmp_path)


def test_the_recorded_checksum_is_that_of_the_real_file():
    assert remote.REMOTE_FILES["gpa"].sha256 == GPA_SHA256
    assert remote.REMOTE_FILES["gpa"].size == 62958


def test_an_unknown_data_set_is_refused():
    with pytest.raises(ValueError, match="unknown data set 'iris'.*gpa"):
        datasets.fetch("iris")


# ----- downloads, against a local server -----------------------------------------------
@pytest.fixture
def real_gpa() -> Path:
    """The real gpa.csv, from $SIMLAB_DATA_DIR (never from the repository)."""
    folder = os.environ.get("SIMLAB_DATA_DIR")
    if not folder or not (Path(folder) / "gpa.csv").is_file():
        pytest.skip("gpa.csv not available: set SIMLAB_DATA_DIR to the folder holding it")
    return Path(folder) / "gpa.csv"


@pytest.fixture
def offline_home(tmp_path, monkeypatch) -> Path:
    """No data folder, an empty cache of our own; returns the cache folder."""
    cache = tmp_path / "cache"
    monkeypatch.delenv("SIMLAB_DATA_DIR", raising=False)
    monkeypatch.setenv("SIMLAB_CACHE_DIR", str(cache))
    return cache


class _Server:
    """A local HTTP server of one folder in a thread, counting the requests it answers."""

    def __init__(self, folder: Path) -> None:
        self.requests: list[str] = []
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep the test output clean
                server.requests.append(self.path)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0),
                                         functools.partial(Handler, directory=str(folder)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/data/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve(tmp_path, monkeypatch):
    """serve(content) -> a server whose data/gpa.csv holds ``content``; SIMLAB_DATA_URL names it."""
    servers = []

    def start(content: bytes) -> _Server:
        folder = tmp_path / f"www{len(servers)}"
        (folder / "data").mkdir(parents=True)
        (folder / "data" / "gpa.csv").write_bytes(content)
        servers.append(_Server(folder))
        monkeypatch.setenv("SIMLAB_DATA_URL", servers[-1].url)
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_gpa_is_downloaded_checked_and_cached(real_gpa, offline_home, serve):
    server = serve(real_gpa.read_bytes())
    data = datasets.gpa()
    assert data.shape == (1200, 10) and list(data["sex"].cat.categories) == ["male", "female"]
    cached = offline_home / "gpa.csv"
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == GPA_SHA256
    assert server.requests == ["/data/gpa.csv"]
    assert datasets.gpa().equals(data)  # from the cache: the server is not asked again
    assert server.requests == ["/data/gpa.csv"]
    assert sorted(p.name for p in offline_home.iterdir()) == ["gpa.csv"]  # no leftovers


def test_a_corrupted_download_is_refused_and_nothing_is_cached(real_gpa, offline_home, serve):
    content = bytearray(real_gpa.read_bytes())
    content[100] ^= 1  # one bit
    serve(bytes(content))
    with pytest.raises(ValueError, match="does not match its SHA-256.*refused.*nothing was cached"):
        datasets.gpa()
    assert not offline_home.exists() or list(offline_home.iterdir()) == []


def test_a_corrupted_cache_is_downloaded_again(real_gpa, offline_home, serve):
    offline_home.mkdir()
    (offline_home / "gpa.csv").write_text("student,gpa\n1,4.0\n")
    server = serve(real_gpa.read_bytes())
    assert datasets.gpa().shape == (1200, 10) and len(server.requests) == 1


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_offline_the_error_names_every_way_to_provide_the_file(offline_home, monkeypatch):
    monkeypatch.setenv("SIMLAB_DATA_URL", f"http://127.0.0.1:{_closed_port()}/data")
    with pytest.raises(FileNotFoundError) as info:
        datasets.gpa()
    message = str(info.value)
    for way in ("could not be downloaded", "simlab.datasets.gpa('path/to/gpa.csv')",
                "SIMLAB_DATA_DIR", str(offline_home), "simlab data gpa"):
        assert way in message
    assert not offline_home.exists() or list(offline_home.iterdir()) == []


def test_a_data_folder_without_the_file_falls_back_to_the_cache(real_gpa, offline_home,
                                                                monkeypatch, tmp_path):
    offline_home.mkdir()
    shutil.copyfile(real_gpa, offline_home / "gpa.csv")
    monkeypatch.setenv("SIMLAB_DATA_DIR", str(tmp_path))  # holds no gpa.csv
    monkeypatch.setenv("SIMLAB_DATA_URL", f"http://127.0.0.1:{_closed_port()}/")
    assert datasets.gpa().shape == (1200, 10)


# ----- simlab data -------------------------------------------------------------------
def test_cli_data_gpa_downloads_and_prints_where(real_gpa, offline_home, serve, capsys):
    server = serve(real_gpa.read_bytes())
    assert main(["data", "gpa"]) == 0
    assert capsys.readouterr().out.strip().endswith(str(offline_home / "gpa.csv"))
    assert main(["data", "gpa"]) == 0 and len(server.requests) == 1  # already here
    assert main(["data", "gpa", "--force"]) == 0 and len(server.requests) == 2


def test_cli_data_offline_is_one_clear_error(offline_home, monkeypatch, capsys):
    monkeypatch.setenv("SIMLAB_DATA_URL", f"http://127.0.0.1:{_closed_port()}/")
    assert main(["data", "gpa"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("simlab: error: gpa.csv is not on this machine")
    assert "SIMLAB_DATA_DIR" in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_cli_data_unknown_name(capsys):
    assert main(["data", "iris"]) == 2
    assert "invalid choice: 'iris'" in capsys.readouterr().err
