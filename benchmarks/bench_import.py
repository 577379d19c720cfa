"""Start-up time of simlab: ``import simlab``, ``simlab --help`` and the grading child.

Run by hand from the repository root::

    python benchmarks/bench_import.py [--repeats N]

Every case starts a fresh Python process (so each import is cold for the
interpreter, the files being in the page cache as on any second run) and is
timed from launch with :func:`time.perf_counter`. The cases run interleaved in
rounds, so they share the machine's load, after one untimed warm-up round:

* ``python -c pass``: the interpreter alone, the baseline of the ratios;
* ``python -c "import simlab"``;
* ``simlab --help`` (the installed console script);
* the grading child: the sandbox's own bootstrap (:data:`simlab.grading.sandbox._BOOTSTRAP`)
  on a one-cell exercise with one question, timed until it signals ``ready``
  (just before the student's first cell runs), and until it has exited (the
  answer encoder, which loads pandas, comes after the cells);
* a whole ``run_exercise`` of that file, as ``simlab check`` pays it per file
  (staging, the child, killing and cleaning up; as root, the sandbox account).

It prints medians and interquartile ranges in milliseconds, each median's
ratio to ``python -c pass`` measured in the same run, which heavy libraries
each case loads, and the targets (at most 0.5 s) with PASS or MISS. See
``benchmarks/README.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from simlab.grading import sandbox

#: The issue's target for cold import, --help and the child's start-up.
TARGET_S = 0.5
HEAVY = ("numpy", "pandas", "scipy", "matplotlib", "formulaic", "pooch", "statsmodels")


def _run(argv: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def _script() -> list[str]:
    """The ``simlab`` console script, run by this interpreter; else ``python -m simlab``."""
    found = shutil.which("simlab") or str(Path(sys.executable).with_name("simlab"))
    return [sys.executable, found] if Path(found).is_file() else [sys.executable, "-m", "simlab"]


def _child(exercise: Path) -> tuple[float, float]:
    """(seconds to ``ready``, seconds to exit) of the sandbox's child on ``exercise``."""
    events_r, events_w = os.pipe()
    request = {"file": str(exercise), "names": ["a"], "fd": events_w, "cell_timeout": 10,
               "memory_mb": 4096, "file_bytes": 2 ** 26, "processes": 64, "account": None}
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", sandbox._BOOTSTRAP, json.dumps(request)],
                             cwd=exercise.parent, pass_fds=(events_w,),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(events_w)
    with os.fdopen(events_r, "rb") as events:
        first = events.readline()
        ready = time.perf_counter() - start
        events.read()
    child.wait()
    if json.loads(first) != {"event": "ready"}:
        raise RuntimeError(f"the child's first event is {first!r}, not ready")
    return ready, time.perf_counter() - start


def _loaded(code: str) -> str:
    """The heavy libraries a fresh process has loaded after running ``code``."""
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                         text=True).stdout.strip()
    return out or "none"


def _cases(exercise: Path) -> dict[str, Callable[[], float]]:
    """Every timed case: name -> a call returning seconds."""
    child: dict[str, float] = {}

    def child_ready() -> float:
        child["ready"], child["exit"] = _child(exercise)
        return child["ready"]

    return {
        "python -c pass": lambda: _run([sys.executable, "-c", "pass"]),
        "python -c 'import simlab'": lambda: _run([sys.executable, "-c", "import simlab"]),
        "simlab --help": lambda: _run(_script() + ["--help"]),
        "grading child, to ready": child_ready,
        "grading child, to exit": lambda: child["exit"],  # the same launch as to ready
        "run_exercise (one cell)": lambda: _timed(lambda: sandbox.run_exercise(exercise, ["a"])),
    }


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def measure(repeats: int) -> dict[str, list[float]]:
    """Seconds per case, ``repeats`` interleaved rounds after one warm-up round."""
    with tempfile.TemporaryDirectory(prefix="bench-import-") as folder:
        exercise = Path(folder) / "ex.py"
        exercise.write_text("# %%\na = 1\n")
        cases = _cases(exercise)
        times: dict[str, list[float]] = {name: [] for name in cases}
        for round_ in range(repeats + 1):
            for name, case in cases.items():
                seconds = case()
                if round_:  # round 0 warms the page cache and the bytecode caches
                    times[name].append(seconds)
    return times


def report(times: dict[str, list[float]]) -> None:
    """Print the table, the loaded libraries and the targets."""
    base = statistics.median(times["python -c pass"])
    print(f"{'case':<28} {'median ms':>10} {'IQR ms':>15} {'x pass':>7}")
    for name, values in times.items():
        q1, _, q3 = statistics.quantiles(values, n=4)
        median = statistics.median(values)
        print(f"{name:<28} {median * 1e3:>10.1f} {q1 * 1e3:>7.1f}-{q3 * 1e3:<7.1f} "
              f"{median / base:>7.1f}")
    print("\nHeavy libraries loaded:")
    for name, code in (("import simlab", "import simlab"),
                       ("simlab --help", "from simlab.cli import build_parser\n"
                                         "build_parser().format_help()"),
                       ("child, at ready", "import simlab.grading.child, simlab.grading.cells")):
        print(f"  {name:<18} {_loaded(code)}")
    print(f"\nTargets (median at most {TARGET_S:g} s):")
    for name in ("python -c 'import simlab'", "simlab --help", "grading child, to ready"):
        median = statistics.median(times[name])
        verdict = "PASS" if median <= TARGET_S else "MISS"
        print(f"  {name:<28} {median:.3f} s  {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="timed rounds (default: 20)")
    args = parser.parse_args(argv)
    print(f"Python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
          f"{args.repeats} rounds\n")
    report(measure(args.repeats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
