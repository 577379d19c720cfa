"""``import simlab`` in a fresh interpreter: quiet in Jupyter, progress bars loaded lazily.

Each test runs a script in a subprocess, because what is imported (and what
warns at import) depends on the modules already loaded.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

# A Jupyter kernel as tqdm's autonotebook recognises one: the kernel's shell module is
# loaded and IPython's get_ipython() returns the kernel's shell. IPython itself is fake.
FAKE_KERNEL = """
import sys, types

class ZMQInteractiveShell:
    config = {"IPKernelApp": {}}

ipython = types.ModuleType("IPython")
ipython.get_ipython = lambda: ZMQInteractiveShell()
sys.modules["IPython"] = ipython
sys.modules["ipykernel"] = types.ModuleType("ipykernel")
sys.modules["ipykernel.zmqshell"] = types.ModuleType("ipykernel.zmqshell")
"""
# `import ipywidgets` fails: not installed, or installed but broken.
NO_IPYWIDGETS = {
    "missing": 'sys.modules["ipywidgets"] = None\n',
    "broken": 'sys.path.insert(0, BROKEN)\n',
}

SMALL_SWEEP = """
frame = simlab.sweep({"n_groups": [10], "n_per_group": [3], "tau": 0.5, "sigma": 0.25}, nsim=3,
                     seed=1, ci="wald", progress=PROGRESS)
assert len(frame) == 3 * 4, len(frame)
"""


def run_script(script: str) -> subprocess.CompletedProcess:
    """Run ``script`` in a fresh interpreter without Qt/Spyder variables; fail on a non-zero exit.

    Parameters
    ----------
    script : str
        Python source, dedented before it runs.

    Returns
    -------
    subprocess.CompletedProcess
        With ``stdout`` and ``stderr`` as text.
    """
    env = {k: v for k, v in os.environ.items() if k != "QT_API" and not k.startswith("SPYDER")}
    env["MPLBACKEND"] = "Agg"
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.parametrize("ipywidgets", sorted(NO_IPYWIDGETS))
def test_import_and_a_sweep_with_progress_do_not_warn_in_a_kernel_without_ipywidgets(
        ipywidgets, tmp_path):
    (tmp_path / "ipywidgets").mkdir()
    (tmp_path / "ipywidgets" / "__init__.py").write_text("raise ImportError('broken')\n")
    setup = FAKE_KERNEL + f"BROKEN = {str(tmp_path)!r}\n" + NO_IPYWIDGETS[ipywidgets]
    # Recorded, not raised: tqdm catches the exception an "error" filter would raise.
    done = run_script(setup + """
import warnings
with warnings.catch_warnings(record=True) as seen:
    warnings.simplefilter("always")
    import simlab
    PROGRESS = True
""" + textwrap.indent(SMALL_SWEEP, "    ") + """
print([f"{w.category.__name__}: {w.message}" for w in seen])
""")
    assert done.stdout.strip() == "[]"
    # The plain console bar stands in for the notebook widget, counting replicates.
    assert "sweep: 100%" in done.stderr and "3/3" in done.stderr


def test_import_and_a_sweep_without_progress_load_no_progress_bar():
    done = run_script("""
import sys
import simlab
loaded_by_import = sorted(m for m in sys.modules if m.split(".")[0] == "tqdm")
PROGRESS = False
""" + SMALL_SWEEP + """
loaded_by_sweep = sorted(m for m in sys.modules if m.split(".")[0] == "tqdm")
print(loaded_by_import, loaded_by_sweep)
""")
    assert done.stdout.split() == ["[]", "[]"]
    assert done.stderr == ""


def test_import_simlab_loads_no_heavy_library_until_a_name_needs_it():
    """Every command and every grading child pays `import simlab`: it loads numpy only."""
    done = run_script("""
import sys
import simlab
heavy = ("pandas", "scipy", "formulaic", "matplotlib", "statsmodels", "seaborn")
print(sorted(m for m in heavy if m in sys.modules))
print(callable(simlab.simulate), simlab.lmer.__name__, "pandas" in sys.modules)
simlab.sweep  # loads the study package, which imports the simulate module too
print(callable(simlab.simulate), simlab.datasets.sleepstudy().shape)
""")
    assert done.stdout.split("\n")[:3] == ["[]", "True lmer True", "True (180, 3)"]
    assert "AttributeError" not in done.stderr


def test_an_unknown_name_is_an_attribute_error():
    import simlab

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        simlab.nope  # noqa: B018


def test_version_is_the_installed_metadata_read_on_first_use():
    """``__version__`` is pyproject's version as installed, looked up when first read."""
    from importlib.metadata import version

    done = run_script("""
import simlab
print("__version__" in vars(simlab), simlab.__version__)
""")
    assert done.stdout.split() == ["False", version("simlab")]


def test_version_without_installed_metadata_is_a_marked_fallback(monkeypatch):
    """Run from a source tree without installing, the version says it is unknown."""
    import importlib.metadata

    import simlab

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    assert simlab._installed_version() == "0+unknown"
