from __future__ import annotations

import pytest

from simlab import datasets


def test_sleepstudy_is_bundled():
    data = datasets.sleepstudy()
    assert data.shape == (180, 3)
    assert list(data.columns) == ["Reaction", "Days", "Subject"]
    assert list(data["Subject"].cat.categories[:3]) == ["308", "309", "310"]


def test_gpa_from_environment(gpa_data):
    assert gpa_data.shape == (1200, 10)
    assert list(gpa_data["sex"].cat.categories) == ["male", "female"]


def test_gpa_from_explicit_folder_and_file(gpa_data, monkeypatch):
    import os
    folder = os.environ["SIMLAB_DATA_DIR"]
    monkeypatch.delenv("SIMLAB_DATA_DIR")
    assert datasets.gpa(folder).equals(gpa_data)
    assert datasets.gpa(os.path.join(folder, "gpa.csv")).equals(gpa_data)


def test_gpa_absent_explains_how_to_supply_it(monkeypatch):
    monkeypatch.delenv("SIMLAB_DATA_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="not bundled.*SIMLAB_DATA_DIR"):
        datasets.gpa()


def test_gpa_wrong_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="gpa.csv does not exist.*SIMLAB_DATA_DIR"):
        datasets.gpa(tmp_path)
