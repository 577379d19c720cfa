"""Tests for simlab.study.store: Parquet chunks, manifest and resuming."""
from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from simlab.study.store import MANIFEST, Manifest, Store, chunk_name, read_store

GRID = {"n_groups": [10], "n_per_group": [{"range": [2, 5]}]}


def _manifest(**changes):
    fields = {"grid": GRID, "seed": 1, "ci": ["wald"], "level": 0.95, **changes}
    return Manifest(**fields)


def _frame(cell, start, stop, value=1.0):
    reps = np.repeat(np.arange(start, stop), 2)
    return pd.DataFrame({"cell": cell, "rep": reps, "parameter": ["x", "sigma"] * (stop - start),
                         "estimate": value})


def test_chunk_name():
    assert chunk_name(3, 0, 500) == "cell-0003_reps-000000-000499.parquet"


def test_open_creates_the_directory_and_manifest(tmp_path):
    path = tmp_path / "a" / "store"
    Store.open(path, _manifest())
    saved = json.loads((path / MANIFEST).read_text())
    assert saved["grid"] == GRID and saved["seed"] == 1 and saved["ci"] == ["wald"]
    assert saved["level"] == 0.95 and saved["created"]
    assert set(saved["versions"]) == {"simlab", "numpy", "pandas", "scipy"}
    assert sorted(p.name for p in path.iterdir()) == [MANIFEST]


def test_reopening_keeps_the_original_manifest(tmp_path):
    Store.open(tmp_path, _manifest(created="2020-01-01T00:00:00+00:00"))
    Store.open(tmp_path, _manifest())
    assert json.loads((tmp_path / MANIFEST).read_text())["created"].startswith("2020")


@pytest.mark.parametrize("changes, field", [
    ({"grid": {"n_groups": [20]}}, "grid"),
    ({"seed": 2}, "seed"),
    ({"ci": ["wald", "profile"]}, "ci"),
    ({"level": 0.9}, "level"),
])
def test_a_different_sweep_is_refused(tmp_path, changes, field):
    Store.open(tmp_path, _manifest())
    with pytest.raises(ValueError, match=rf"different sweep: {field} \(store: .*new --out"):
        Store.open(tmp_path, _manifest(**changes))


def test_write_read_and_completed(tmp_path):
    store = Store.open(tmp_path, _manifest())
    store.write(1, 0, 3, _frame(1, 0, 3))
    store.write(0, 2, 4, _frame(0, 2, 4))
    done = store.completed(2, 5)
    assert done.tolist() == [[False, False, True, True, False], [True, True, True, False, False]]
    table = store.read()
    assert list(zip(table["cell"], table["rep"]))[::2] == [(0, 2), (0, 3), (1, 0), (1, 1), (1, 2)]
    assert table["parameter"].tolist()[:2] == ["x", "sigma"]
    assert len(store.read(n_cells=1)) == 4 and len(store.read(reps=1)) == 2


def test_overlapping_chunks_are_deduplicated(tmp_path):
    store = Store.open(tmp_path, _manifest())
    store.write(0, 0, 4, _frame(0, 0, 4, value=1.0))
    store.write(0, 2, 6, _frame(0, 2, 6, value=2.0))
    table = store.read()
    assert len(table) == 12
    assert not table.duplicated(["cell", "rep", "parameter"]).any()
    assert table["rep"].is_monotonic_increasing


def test_leftover_temporary_file_is_ignored_and_removed(tmp_path):
    store = Store.open(tmp_path, _manifest())
    store.write(0, 0, 2, _frame(0, 0, 2))
    partial = tmp_path / ".cell-0000_reps-000002-000003.parquet.0123abcd.tmp"
    partial.write_bytes(b"PAR1 half written")
    assert store.completed(1, 4).tolist() == [[True, True, False, False]]
    assert len(store.read()) == 4
    Store.open(tmp_path, _manifest())
    assert not partial.exists()


def test_a_write_leaves_no_temporary_file(tmp_path):
    store = Store.open(tmp_path, _manifest())
    store.write(0, 0, 2, _frame(0, 0, 2))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "cell-0000_reps-000000-000001.parquet", MANIFEST]


def test_path_that_is_a_file_is_refused(tmp_path):
    file = tmp_path / "results.csv"
    file.write_text("x")
    with pytest.raises(ValueError, match="exists and is not a directory"):
        Store.open(file, _manifest())
    with pytest.raises(ValueError, match="not a writable directory"):
        Store.open(file / "store", _manifest())


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root can write into read-only directories")
def test_read_only_directory_is_refused(tmp_path):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(ValueError, match="not a writable directory"):
            Store.open(tmp_path / "store", _manifest())
    finally:
        tmp_path.chmod(0o700)


def test_store_path_must_be_a_path(tmp_path):
    with pytest.raises(TypeError, match="store must be a directory path"):
        Store.open(3, _manifest())


def test_chunks_without_manifest_are_refused(tmp_path):
    _frame(0, 0, 2).to_parquet(tmp_path / chunk_name(0, 0, 2))
    with pytest.raises(ValueError, match="no manifest.json"):
        Store.open(tmp_path, _manifest())


def test_corrupt_manifest_is_refused(tmp_path):
    (tmp_path / MANIFEST).write_text("{not json")
    with pytest.raises(ValueError, match="is not a sweep manifest"):
        Store.open(tmp_path, _manifest())


def test_corrupt_chunk_names_the_file(tmp_path):
    store = Store.open(tmp_path, _manifest())
    (tmp_path / chunk_name(0, 0, 2)).write_bytes(b"garbage")
    with pytest.raises(ValueError, match="cell-0000_reps-000000-000001.parquet.*delete it"):
        store.read()


def test_read_store(tmp_path):
    Store.open(tmp_path, _manifest()).write(0, 0, 2, _frame(0, 0, 2))
    assert len(read_store(tmp_path)) == 4
    with pytest.raises(ValueError, match="not a sweep store"):
        read_store(tmp_path / "nothing")


def test_other_versions_warn(tmp_path):
    Store.open(tmp_path, _manifest(versions={"simlab": "0.0.1"}))
    with pytest.warns(UserWarning, match="mix versions"):
        Store.open(tmp_path, _manifest())
