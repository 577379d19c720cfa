"""Tests for simlab.study.store: Parquet chunks, manifest and resuming."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import simlab.study.store as store_module
from simlab.study.store import (MANIFEST, QUARANTINE, DamagedChunkError, Manifest, Store,
                                StoreInUseError, chunk_name, directory_path, read_store)

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
    Store.open(path, _manifest()).close()
    saved = json.loads((path / MANIFEST).read_text())
    assert saved["grid"] == GRID and saved["seed"] == 1 and saved["ci"] == ["wald"]
    assert saved["level"] == 0.95 and saved["created"]
    assert set(saved["versions"]) == {"simlab", "numpy", "pandas", "scipy"}
    assert saved["chunk_digests"] is True
    assert sorted(p.name for p in path.iterdir()) == [".lock", MANIFEST]


def test_reopening_keeps_the_original_manifest(tmp_path):
    Store.open(tmp_path, _manifest(created="2020-01-01T00:00:00+00:00")).close()
    Store.open(tmp_path, _manifest()).close()
    assert json.loads((tmp_path / MANIFEST).read_text())["created"].startswith("2020")


@pytest.mark.parametrize("changes, field", [
    ({"grid": {"n_groups": [20]}}, "grid"),
    ({"seed": 2}, "seed"),
    ({"ci": ["wald", "profile"]}, "ci"),
    ({"level": 0.9}, "level"),
])
def test_a_different_sweep_is_refused(tmp_path, changes, field):
    Store.open(tmp_path, _manifest()).close()
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
    assert len(store.read(n_cells=1)) == 4 and len(store.read(nsim=1)) == 2


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
    store.close()
    Store.open(tmp_path, _manifest()).close()
    assert not partial.exists()


def test_a_write_leaves_no_temporary_file(tmp_path):
    store = Store.open(tmp_path, _manifest())
    store.write(0, 0, 2, _frame(0, 0, 2))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".lock", "cell-0000_reps-000000-000001.parquet",
        "cell-0000_reps-000000-000001.parquet.sha256", MANIFEST]


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


@pytest.mark.parametrize("path", ["", "   ", "\t\n"])
def test_an_empty_store_path_is_refused_not_taken_as_the_current_directory(
        tmp_path, monkeypatch, path):
    monkeypatch.chdir(tmp_path)
    message = r"store path is empty \(.*\); give a directory such as 'results'"
    with pytest.raises(ValueError, match=message):
        Store.open(path, _manifest())
    with pytest.raises(ValueError, match=message):
        read_store(path)
    with pytest.raises(ValueError, match="report folder path is empty"):
        directory_path(path, "report folder")
    assert list(tmp_path.iterdir()) == []


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
    with pytest.raises(ValueError, match="cell-0000_reps-000000-000001.parquet is damaged.*"
                                         "rerun the sweep"):
        store.read()


def test_read_store(tmp_path):
    with Store.open(tmp_path, _manifest()) as store:
        store.write(0, 0, 2, _frame(0, 0, 2))
    assert len(read_store(tmp_path)) == 4
    with pytest.raises(ValueError, match="not a sweep store"):
        read_store(tmp_path / "nothing")


def test_other_versions_warn(tmp_path):
    Store.open(tmp_path, _manifest(versions={"simlab": "0.0.1"})).close()
    with pytest.warns(UserWarning, match="mix versions"):
        Store.open(tmp_path, _manifest())


# ----- a store proves its contents (issue 10, item 6) -------------------------
def _flip_in_page(path):
    """Invert one byte inside the data pages of ``estimate``; re-record the digest."""
    meta = pq.ParquetFile(path).metadata
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    column = meta.row_group(0).column(names.index("estimate"))
    data = bytearray(path.read_bytes())
    data[(column.dictionary_page_offset or column.data_page_offset) + 40] ^= 0xFF
    path.write_bytes(bytes(data))
    digest = hashlib.sha256(bytes(data)).hexdigest()
    (path.parent / (path.name + ".sha256")).write_text(f"{digest}  {path.name}\n")


def test_page_checksums_are_written_and_verified(tmp_path):
    with Store.open(tmp_path, _manifest()) as store:
        path = store.write(0, 0, 50, _frame(0, 0, 50, value=np.arange(100.0)))
    _flip_in_page(path)
    with pytest.raises(DamagedChunkError, match="cannot be read as Parquet.*(?i:crc|checksum)"):
        read_store(tmp_path)


@pytest.mark.parametrize("frame, problem", [
    (_frame(1, 0, 2), r"rows of cell\(s\) \[1\]"),
    (_frame(0, 0, 1), "1 distinct reps, not exactly reps 0..1"),
    (_frame(0, 0, 3), "3 distinct reps"),
    (_frame(0, 0, 2).iloc[1:], "one row per parameter"),
    (pd.concat([_frame(0, 0, 2)] * 2), "one row per parameter"),
    (_frame(0, 0, 2).drop(columns="parameter"), "parameter"),
])
def test_a_chunk_must_hold_exactly_the_reps_its_name_states(tmp_path, frame, problem):
    with Store.open(tmp_path, _manifest()) as store:
        store.write(0, 0, 2, frame)   # its digest is right: only the rows are wrong
        with pytest.raises(DamagedChunkError, match=f"damaged: .*{problem}"):
            store.read()
        with pytest.warns(UserWarning, match=f"damaged: .*{problem}.*quarantine"):
            assert store.quarantine_damaged() == [tmp_path / QUARANTINE / chunk_name(0, 0, 2)]
        assert store.completed(1, 2).tolist() == [[False, False]]
        assert (tmp_path / QUARANTINE / (chunk_name(0, 0, 2) + ".sha256")).is_file()


def test_quarantine_keeps_every_damaged_copy(tmp_path):
    with Store.open(tmp_path, _manifest()) as store:
        for _ in range(2):
            store.write(0, 0, 2, _frame(1, 0, 2))
            with pytest.warns(UserWarning):
                store.quarantine_damaged()
        store.write(0, 0, 2, _frame(0, 0, 2))
        assert store.quarantine_damaged() == []
    assert len(list((tmp_path / QUARANTINE).glob("*.parquet"))) == 2
    assert len(read_store(tmp_path)) == 4


def test_a_missing_digest_is_damage_but_not_in_an_old_store(tmp_path):
    with Store.open(tmp_path, _manifest()) as store:
        store.write(0, 0, 2, _frame(0, 0, 2)).with_name(chunk_name(0, 0, 2) + ".sha256").unlink()
    with pytest.raises(DamagedChunkError, match="digest .*sha256 is missing"):
        read_store(tmp_path)
    saved = json.loads((tmp_path / MANIFEST).read_text())
    del saved["chunk_digests"]   # as written before simlab recorded digests
    (tmp_path / MANIFEST).write_text(json.dumps(saved))
    assert len(read_store(tmp_path)) == 4


def test_a_digest_without_its_chunk_is_removed(tmp_path):
    Store.open(tmp_path, _manifest()).close()
    orphan = tmp_path / (chunk_name(0, 0, 2) + ".sha256")
    orphan.write_text("0" * 64 + "  " + chunk_name(0, 0, 2) + "\n")
    Store.open(tmp_path, _manifest()).close()
    assert not orphan.exists()


# ----- one writer per store (issue 10, item 8) --------------------------------
@pytest.mark.skipif(os.name != "posix", reason="flock is POSIX")
def test_a_second_writer_is_refused_until_the_first_closes(tmp_path):
    with Store.open(tmp_path, _manifest()):
        with pytest.raises(StoreInUseError, match="is in use: another sweep is writing to it"):
            Store.open(tmp_path, _manifest())
        assert len(read_store(tmp_path)) == 0   # readers need no lock
    Store.open(tmp_path, _manifest()).close()


@pytest.mark.skipif(os.name != "posix", reason="flock is POSIX")
def test_a_refused_writer_writes_nothing(tmp_path):
    with Store.open(tmp_path / "new", _manifest()):
        with pytest.raises(StoreInUseError):
            Store.open(tmp_path / "new", _manifest(seed=2))
    assert json.loads((tmp_path / "new" / MANIFEST).read_text())["seed"] == 1


@pytest.mark.skipif(os.name != "posix", reason="flock is POSIX")
def test_the_lock_of_a_dead_process_does_not_block(tmp_path):
    (tmp_path / ".lock").write_text("")   # a lock file left behind
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a'); "
         "fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)",
         str(tmp_path / ".lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(StoreInUseError, match=str(tmp_path)):
            Store.open(tmp_path, _manifest())
    finally:
        holder.kill()
        holder.wait()
    Store.open(tmp_path, _manifest()).close()


@settings(max_examples=60, deadline=None)
@given(where=st.floats(0, 1, exclude_max=True), mask=st.integers(1, 255))
def test_any_flipped_byte_is_found(where, mask):
    with tempfile.TemporaryDirectory() as folder:
        with Store.open(folder, _manifest()) as store:
            path = store.write(0, 0, 5, _frame(0, 0, 5, value=np.arange(10.0)))
        data = bytearray(path.read_bytes())
        data[int(where * len(data))] ^= mask
        path.write_bytes(bytes(data))
        with pytest.raises(DamagedChunkError, match=path.name):
            read_store(folder)
        with Store.open(folder, _manifest()) as store, pytest.warns(UserWarning):
            assert len(store.quarantine_damaged()) == 1
        assert store.completed(1, 5).tolist() == [[False] * 5]


@pytest.mark.skipif(os.name != "posix", reason="flock is POSIX")
def test_a_store_that_cannot_be_locked_is_refused(tmp_path, monkeypatch):
    def no_locks(handle, operation):
        raise OSError(37, "No locks available")

    monkeypatch.setattr(store_module.fcntl, "flock", no_locks)
    with pytest.raises(ValueError, match="cannot be locked.*No locks available.*local disk"):
        Store.open(tmp_path, _manifest())
    assert not (tmp_path / MANIFEST).exists()
