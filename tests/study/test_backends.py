"""Tests for simlab.study.backends: loky workers die with their parent; a lost worker aborts."""
from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from simlab.study import read_store, sweep
from simlab.study.backends import _SPAWNER, WorkerLostError
from simlab.study.batch import ENVIRONMENT_ERRORS

pytestmark = pytest.mark.skipif(os.name != "posix", reason="signals and process trees of POSIX")

try:
    import psutil
except ImportError:  # the /proc fallback below
    psutil = None

GRID = {"n_groups": [30], "n_per_group": [4], "tau": 0.5, "sigma": 0.25}
LOKY_WORKER = "popen_loky_posix"


# ----- processes -------------------------------------------------------------------------
def _children(pid: int) -> dict[int, str]:
    """The living descendants of ``pid``: pid -> command line."""
    if psutil is not None:
        found = {}
        for child in psutil.Process(pid).children(recursive=True):
            try:
                found[child.pid] = " ".join(child.cmdline())
            except psutil.Error:
                pass
        return found
    if not Path("/proc").is_dir():
        pytest.skip("needs psutil or /proc")
    parents, commands = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                commands[int(entry.name)] = (entry / "cmdline").read_bytes().replace(
                    b"\0", b" ").decode()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, todo = {}, [pid]
    while todo:
        parent = todo.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in found:
                found[child] = commands[child]
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for init to reap it counts as gone)."""
    if psutil is not None:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_for(condition, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            said = f"; its stderr:\n{log.read_text(errors='replace')}" if log else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}{said}")
        time.sleep(0.02)


def _workers(pid: int) -> list[int]:
    return [child for child, command in _children(pid).items() if LOKY_WORKER in command]


# ----- the parent dies -------------------------------------------------------------------
_ENDLESS_SWEEP = """
import sys, threading
from simlab.study import sweep

def run():
    sweep({grid!r}, nsim=10**6, seed=1, ci=("wald",), n_jobs=2, store=sys.argv[1], progress=False,
          chunk_size=20)

if sys.argv[2] == "thread":   # workers started by a thread other than the main one
    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
else:
    run()
"""


def test_workers_learn_which_process_and_thread_started_them():
    """What the worker initializer gets: its parent's pid, and whether the main thread started
    it (only then may Linux' parent-death signal, which follows the thread, be used)."""
    here = pickle.loads(pickle.dumps(_SPAWNER))
    assert (here.pid, here.main_thread) == (os.getpid(), True)
    seen = []
    other = threading.Thread(target=lambda: seen.append(pickle.loads(pickle.dumps(_SPAWNER))))
    other.start()
    other.join()
    assert (seen[0].pid, seen[0].main_thread) == (os.getpid(), False)


@pytest.mark.parametrize("starter, sig", [("main", signal.SIGKILL), ("thread", signal.SIGTERM)])
def test_workers_and_trackers_die_with_the_parent(tmp_path, starter, sig):
    store = tmp_path / "out"
    script = textwrap.dedent(_ENDLESS_SWEEP).format(grid=GRID)
    log = tmp_path / "stderr.txt"
    with open(log, "wb") as stderr:
        parent = subprocess.Popen([sys.executable, "-c", script, str(store), starter],
                                  stdout=subprocess.DEVNULL, stderr=stderr)
    orphans = {}
    try:
        _wait_for(lambda: len(_workers(parent.pid)) == 2 and any(store.glob("*.parquet")),
                  60, "two loky workers and a finished chunk", log)
        orphans = _children(parent.pid)
        assert len(orphans) >= 3, orphans  # the workers and loky's resource tracker at least
        parent.send_signal(sig)
        parent.wait(10)
        killed = time.monotonic()
        _wait_for(lambda: not any(_alive(pid) for pid in orphans), 10,
                  f"the orphans of the sweep to end: {orphans}")
        print(f"{starter}/{sig.name}: {len(orphans)} orphans gone after "
              f"{time.monotonic() - killed:.2f} s")
    finally:
        parent.kill()
        parent.wait()
        for pid in orphans:  # only what this test started, only if the test failed
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


# ----- a worker dies ---------------------------------------------------------------------
def _kill_a_worker_after_the_first_chunk(store: Path, killed: list) -> None:
    def kill():
        _wait_for(lambda: any(store.glob("*.parquet")) and _workers(os.getpid()), 60,
                  "a finished chunk")
        victim = _workers(os.getpid())[0]
        os.kill(victim, signal.SIGKILL)
        killed.append(victim)

    threading.Thread(target=kill, daemon=True).start()


def test_lost_worker_aborts_the_sweep_and_a_rerun_resumes(tmp_path):
    store = tmp_path / "out"
    args = dict(grid=GRID, nsim=600, seed=5, ci=("wald", "profile"), chunk_size=10,
                progress=False)
    killed = []
    _kill_a_worker_after_the_first_chunk(store, killed)
    with pytest.raises(WorkerLostError) as info:
        sweep(**args, n_jobs=2, store=store)
    assert killed
    assert isinstance(info.value, ENVIRONMENT_ERRORS)
    assert "worker process of the sweep was lost, likely out of memory or killed (exit codes " \
        "{SIGKILL(-9)" in str(info.value)
    # nothing of the lost chunks became an outcome; the finished chunks are kept
    saved = {p.name: p.stat().st_mtime_ns for p in store.glob("*.parquet")}
    assert 0 < len(saved) < 60
    assert getattr(info.value, "__notes__", []) == [
        f"{len(saved)} of 60 chunks are saved in {store}; rerun the same command to resume"]
    partial = read_store(store)
    assert (partial["error"] == "").all()

    resumed = sweep(**args, n_jobs=2, store=store)
    assert {p.name: p.stat().st_mtime_ns for p in store.glob("*.parquet")
            if p.name in saved} == saved
    pd.testing.assert_frame_equal(resumed, sweep(**args), check_exact=True)


def test_normal_runs_do_not_change():
    """The worker initializer changes no result; workers are reused by the next sweep."""
    args = dict(grid=GRID, nsim=40, seed=3, ci=("wald",), chunk_size=7, progress=False)
    first = sweep(**args, n_jobs=2)
    workers = set(_workers(os.getpid()))
    pd.testing.assert_frame_equal(first, sweep(**args), check_exact=True)
    pd.testing.assert_frame_equal(sweep(**args, n_jobs=2), first, check_exact=True)
    assert set(_workers(os.getpid())) == workers
