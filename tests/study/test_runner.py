"""Tests for simlab.study.sweep: the grid x nsim study, its backends and resuming."""
from __future__ import annotations

import json
import re
import shutil
import sys
import threading
import time

import pandas as pd
import pyarrow.parquet as pq
import pytest

import simlab.study.batch as batch
import simlab.study.runner as runner
from simlab.study import read_store, sweep
from simlab.study.store import MANIFEST, Store, chunk_name

GRID = {"n_groups": [15, 25], "n_per_group": [3], "tau": 0.5, "sigma": 0.25}
NSIM = 20


def _sweep(grid=GRID, nsim=NSIM, **kwargs):
    return sweep(grid, nsim=nsim, **{"seed": 2024, "progress": False, **kwargs})


@pytest.fixture(scope="module")
def reference():
    """The serial, in-memory result every other way of running must reproduce."""
    return _sweep()


@pytest.fixture
def calls(monkeypatch):
    """Record the (cell, start, stop) of every chunk computed in this process."""
    seen = []
    real = runner.run_chunk

    def counting(chunk):
        seen.append((chunk.cell.index, chunk.start, chunk.stop))
        return real(chunk)

    monkeypatch.setattr(runner, "run_chunk", counting)
    return seen


def _same(left, right):
    pd.testing.assert_frame_equal(left, right, check_exact=True)


def test_long_format(reference):
    assert list(reference.columns) == [
        "n_groups", "n_per_group", "tau", "sigma", "cell", "rep", "parameter", "truth",
        "estimate", "se", "lower_wald", "upper_wald", "lower_profile", "upper_profile",
        "singular", "converged", "error"]
    assert len(reference) == 2 * NSIM * 4
    first = reference.iloc[:4]
    assert first["parameter"].tolist() == ["sd_(Intercept)|group", "sigma", "(Intercept)", "x"]
    assert first["truth"].tolist() == [0.5, 0.25, 2.0, 0.5]
    keys = list(zip(reference["cell"], reference["rep"]))
    assert keys == sorted(keys)
    assert reference.groupby("cell")["n_groups"].first().tolist() == [15, 25]
    assert (reference["error"] == "").all()


def test_chunking_does_not_change_results(reference):
    _same(_sweep(chunk_size=3), reference)


def test_joblib_processes_give_identical_results(reference):
    _same(_sweep(n_jobs=2, chunk_size=7), reference)


def test_store_gives_identical_results(reference, tmp_path):
    _same(_sweep(store=tmp_path / "out", chunk_size=8), reference)


def test_resume_reuses_finished_reps(reference, tmp_path, calls):
    store = tmp_path / "out"
    first = _sweep(nsim=10, store=store)
    _same(first, reference[reference["rep"] < 10].reset_index(drop=True))
    stamps = {p.name: p.stat().st_mtime_ns for p in store.glob("*.parquet")}
    assert calls == [(0, 0, 10), (1, 0, 10)]
    calls.clear()
    _same(_sweep(store=store), reference)
    assert calls == [(0, 10, 20), (1, 10, 20)]
    assert {p.name: p.stat().st_mtime_ns for p in store.glob("*.parquet")
            if p.name in stamps} == stamps
    calls.clear()
    _same(_sweep(store=store), reference)
    assert calls == []


def test_interrupted_sweep_resumes(reference, tmp_path, monkeypatch, calls, fail_second_chunk):
    real = runner._run
    fail_second_chunk(KeyboardInterrupt())
    store = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt) as info:
        _sweep(store=store, chunk_size=10)
    assert info.value.__notes__ == [
        f"1 of 4 chunks are saved in {store}; rerun the same command to resume"]
    assert sorted(p.name for p in store.glob("*.parquet")) == [
        "cell-0000_reps-000000-000009.parquet"]
    monkeypatch.setattr(runner, "_run", real)
    calls.clear()
    _same(_sweep(store=store, chunk_size=10), reference)
    assert (0, 0, 10) not in calls and len(calls) == 3


@pytest.mark.parametrize("failure", [
    MemoryError("out of memory"),
    OSError(28, "No space left on device"),
])
def test_a_failure_of_the_machine_says_how_many_chunks_are_saved(
        reference, tmp_path, monkeypatch, failure, fail_second_chunk):
    """A resumed sweep counts the chunks stored before it too."""
    store = tmp_path / "out"
    _sweep(nsim=10, store=store, chunk_size=10)
    real = runner._run
    fail_second_chunk(failure)
    with pytest.raises(type(failure)) as info:
        _sweep(store=store, chunk_size=10)
    assert info.value is failure
    assert failure.__notes__ == [
        f"3 of 4 chunks are saved in {store}; rerun the same command to resume"]
    monkeypatch.setattr(runner, "_run", real)
    _same(_sweep(store=store, chunk_size=10), reference)
    del failure.__notes__
    fail_second_chunk(failure)
    with pytest.raises(type(failure)):
        _sweep(chunk_size=10)  # without a store nothing is saved: no note
    assert not hasattr(failure, "__notes__")


def test_leftover_temporary_file_is_ignored(reference, tmp_path):
    store = tmp_path / "out"
    _sweep(nsim=10, store=store)
    partial = store / ".cell-0001_reps-000010-000019.parquet.deadbeef.tmp"
    partial.write_bytes(b"PAR1 killed mid-write")
    _same(_sweep(store=store), reference)
    assert not partial.exists()


@pytest.mark.parametrize("change", [
    {"seed": 1}, {"grid": {**GRID, "n_groups": [15, 30]}}, {"ci": ("wald",)}, {"level": 0.9}])
def test_mismatched_store_is_refused(tmp_path, change, calls):
    store = tmp_path / "out"
    _sweep(nsim=2, store=store)
    calls.clear()
    with pytest.raises(ValueError, match="different sweep.*new --out"):
        _sweep(nsim=2, store=store, **change)
    assert calls == []


def test_a_store_of_an_older_simlab_is_refused_when_resumed(tmp_path, calls):
    """Stores written before parameter names followed confint (no format) are not mixed."""
    store = tmp_path / "out"
    _sweep(nsim=2, store=store)
    saved = json.loads((store / MANIFEST).read_text())
    assert saved["format"] == 2
    del saved["format"]
    (store / MANIFEST).write_text(json.dumps(saved))
    calls.clear()
    with pytest.raises(ValueError, match=r"written by an older simlab .*store format 1: "
                                         r"parameters named \(Intercept\), x, sd_\(Intercept\)"
                                         r".*Use a new store \(--out directory\) for this sweep"):
        _sweep(nsim=4, store=store)
    assert calls == []
    assert len(read_store(store)) == 2 * 2 * 4      # it can still be read
    saved["format"] = 3
    (store / MANIFEST).write_text(json.dumps(saved))
    with pytest.raises(ValueError, match="written by a newer simlab"):
        _sweep(nsim=4, store=store)


SLOPE_GRID = {"n_groups": 12, "n_per_group": [4, (3, 5)], "tau": 0.5, "sigma": 0.3,
              "tau_slope": [None, 0.25], "rho": 0.0}


def test_a_slope_sweep_does_not_depend_on_how_it_runs(tmp_path):
    kwargs = {"grid": SLOPE_GRID, "nsim": 6, "ci": ("wald",)}
    reference = _sweep(**kwargs)
    params = reference.groupby("cell")["parameter"].nunique().tolist()
    assert params == [4, 6, 4, 6]        # tau_slope None (intercept only), 0.25 (slopes)
    slopes = reference[reference["cell"] == 1]
    assert slopes["parameter"].tolist()[:6] == ["sd_(Intercept)|group", "cor_x.(Intercept)|group",
                                                "sd_x|group", "sigma", "(Intercept)", "x"]
    assert (reference["error"] == "").all()
    slope_cells = reference["cell"].isin([1, 3])
    store = tmp_path / "out"
    _sweep(**{**kwargs, "nsim": 3}, store=store)
    for other in (_sweep(**kwargs, chunk_size=4), _sweep(**kwargs, n_jobs=2, chunk_size=5),
                  _sweep(**kwargs, store=store)):
        # Slope fits are bit for bit the same; (1 | group) batches can differ in the last bit
        # with the replicates they are batched with (profiled.fit_theta).
        _same(other[slope_cells], reference[slope_cells])
        pd.testing.assert_frame_equal(other, reference, rtol=1e-12, atol=1e-14)


def test_a_cell_where_every_fit_fails_is_kept(monkeypatch):
    real = batch.fit_sums

    def fail_large(sums, ci, level):
        if sums.multiplicity.sum(axis=-1).max() == 25:   # the cell with 25 groups
            raise FloatingPointError("diverged")
        return real(sums, ci, level)

    monkeypatch.setattr(batch, "fit_sums", fail_large)
    table = _sweep(nsim=5)
    failed = table[table["cell"] == 1]
    assert len(failed) == 5 * 4 and failed["estimate"].isna().all()
    assert (failed["error"] == "fit: FloatingPointError: diverged").all()
    assert (table.loc[table["cell"] == 0, "error"] == "").all()


def test_progress_bar(capsys):
    _sweep(nsim=2, progress=True)
    assert "4/4" in capsys.readouterr().err


def test_ci_argument():
    table = _sweep(nsim=2, ci="wald")
    assert "lower_wald" in table and "lower_profile" not in table
    assert "lower_wald" not in _sweep(nsim=2, ci=())


@pytest.mark.parametrize("kwargs, error, match", [
    ({"grid": {**GRID, "n_grups": [5]}}, ValueError, "unknown grid key.*valid keys"),
    ({"grid": {**GRID, "n_groups": [1]}}, ValueError, "n_groups must be at least 2"),
    ({"grid": {**GRID, "tau": -0.5}}, ValueError, "tau must be >= 0"),
    ({"grid": {**GRID, "sigma": [-1]}}, ValueError, "sigma must be >= 0"),
    ({"grid": {**GRID, "n_per_group": []}}, ValueError, "is empty"),
    ({"nsim": 0}, ValueError, "nsim must be at least 1"),
    ({"nsim": 2.5}, TypeError, "nsim must be an int"),
    ({"nsim": True}, TypeError, "nsim must be an int"),
    ({"seed": -1}, ValueError, "seed must be at least 0"),
    ({"seed": "1"}, TypeError, "seed must be an int"),
    ({"ci": ("wald", "boot")}, ValueError, r"unknown ci method.*boot"),
    ({"ci": None}, TypeError, "ci must be"),
    ({"level": 1.5}, ValueError, "level must be"),
    ({"chunk_size": 0}, ValueError, "chunk_size must be at least 1"),
    ({"n_jobs": 0}, ValueError, "n_jobs must be"),
    ({"n_jobs": "2"}, TypeError, "n_jobs must be an int"),
    ({"backend": "spark"}, ValueError, "backend must be one of"),
    ({"backend": "loky", "scheduler": "tcp://x:1"}, ValueError, "only used with backend='dask'"),
    ({"progress": "yes"}, TypeError, "progress must be"),
])
def test_bad_input_fails_before_any_work(tmp_path, calls, kwargs, error, match):
    store = tmp_path / "out"
    with pytest.raises(error, match=match):
        _sweep(store=store, **kwargs)
    assert calls == [] and not store.exists()


def test_more_results_than_memory_fail_before_the_store_is_written(tmp_path, calls):
    store = tmp_path / "out"
    with pytest.raises(ValueError, match=r"^nsim = 1,000,000,000,000 over 2 grid cell\(s\) "
                                         r"gives 8,000,000,000,000 result rows, .* use a "
                                         r"smaller nsim or fewer cells$"):
        _sweep(nsim=10 ** 12, store=store)
    assert calls == [] and not store.exists()
    with pytest.raises(ValueError, match="use a smaller nsim"):
        _sweep(nsim=10 ** 12)
    assert calls == []


@pytest.mark.parametrize("path", ["", " "])
def test_an_empty_store_path_is_refused(tmp_path, calls, monkeypatch, path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"store path is empty .* give a directory"):
        _sweep(store=path)
    assert calls == [] and list(tmp_path.iterdir()) == []


def test_unwritable_store_fails_before_any_work(tmp_path, calls):
    file = tmp_path / "taken"
    file.write_text("")
    with pytest.raises(ValueError, match="not a directory"):
        _sweep(store=file)
    assert calls == []


def test_missing_dask_says_how_to_install(monkeypatch, calls):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pip install 'simlab\[dask\]'"):
        _sweep(backend="dask")
    assert calls == []


def test_dask_cluster_gives_identical_results(reference):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=False, dashboard_address=None) as cluster:
        _same(_sweep(scheduler=cluster, chunk_size=6), reference)
        with distributed.Client(cluster) as client:
            _same(_sweep(backend="dask", scheduler=client), reference)
            assert client.status == "running"
        _same(_sweep(backend="dask", scheduler=cluster.scheduler_address), reference)


def test_dask_starts_and_closes_its_own_cluster(reference):
    pytest.importorskip("distributed")
    _same(_sweep(backend="dask", n_jobs=1), reference)


# ----- a damaged store (issue 10, item 6) -------------------------------------
def _flip(path, offset, count):
    """Invert ``count`` bytes of ``path`` from ``offset`` on."""
    data = bytearray(path.read_bytes())
    data[offset:offset + count] = bytes(b ^ 0xFF for b in data[offset:offset + count])
    path.write_bytes(bytes(data))


def _flip_middle(store, target):
    _flip(target, target.stat().st_size // 2, 40)


def _flip_estimate(store, target):
    """Flip 4 bytes of the values of ``estimate`` (a plain read then returns other values)."""
    meta = pq.ParquetFile(target).metadata
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    column = meta.row_group(0).column(names.index("estimate"))
    _flip(target, (column.dictionary_page_offset or column.data_page_offset) + 40, 4)


def _other_cells_chunk(store, target):
    shutil.copyfile(store / chunk_name(1, 10, 20), target)
    for sidecar in store.glob(chunk_name(1, 10, 20) + ".*"):
        shutil.copyfile(sidecar, store / (target.name + sidecar.name[len(target.name):]))


def _truncate(store, target):
    target.write_bytes(target.read_bytes()[:-100])


@pytest.mark.parametrize("damage", [_flip_middle, _flip_estimate, _other_cells_chunk, _truncate])
def test_damaged_chunk_is_refused_then_quarantined_and_recomputed(reference, tmp_path, calls,
                                                                   damage):
    store = tmp_path / "out"
    _sweep(store=store, chunk_size=10)
    target = store / chunk_name(0, 10, 20)
    damage(store, target)
    with pytest.raises(ValueError, match=rf"{target.name} is damaged.*rerun the sweep"):
        read_store(store)
    calls.clear()
    with pytest.warns(UserWarning, match=rf"{target.name} is damaged.*quarantine"):
        resumed = _sweep(store=store, chunk_size=10)
    _same(resumed, reference)
    assert calls == [(0, 10, 20)]
    assert (store / "quarantine" / target.name).is_file()
    _same(read_store(store), reference)


def test_sweep_checks_it_returns_every_replicate(tmp_path, monkeypatch):
    real = Store.read
    monkeypatch.setattr(Store, "read", lambda self, *args: real(self, *args).iloc[4:])
    with pytest.raises(RuntimeError, match="39 of the 40 replicates"):
        _sweep(store=tmp_path / "out")


# ----- one writer per store (issue 10, item 8) --------------------------------
@pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")
def test_a_second_writer_on_a_new_store_is_refused(tmp_path, monkeypatch):
    store = tmp_path / "out"
    real = Store._write_manifest

    def slow(self, manifest):
        time.sleep(0.3)   # a slow file system
        real(self, manifest)

    monkeypatch.setattr(Store, "_write_manifest", slow)
    outcomes = {}

    def run(seed):
        try:
            outcomes[seed] = _sweep(nsim=4, store=store, seed=seed)
        except ValueError as err:
            outcomes[seed] = err

    threads = [threading.Thread(target=run, args=(seed,)) for seed in (7, 8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    refused = [seed for seed, out in outcomes.items() if isinstance(out, ValueError)]
    assert len(refused) == 1
    assert re.search(r"another sweep is writing to it", str(outcomes[refused[0]]))
    winner = 15 - refused[0]
    assert json.loads((store / MANIFEST).read_text())["seed"] == winner
    _same(read_store(store), _sweep(nsim=4, seed=winner))
