"""In a real Jupyter kernel (nbclient), simlab's results display as HTML.

A notebook evaluates a fit, its summary, an OLS fit, a sweep summary and a
power result as the last expression of a cell; each output must carry
``text/html`` (``_repr_html_``), not only the one-line ``text/plain`` repr.
"""
from __future__ import annotations

import os

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

SETUP = """\
import os, simlab
print(os.path.dirname(simlab.__file__))
data = simlab.simulate(20, 4, 0.5, 0.3, seed=1)
fit = simlab.lmer("y ~ x + (1 | group)", data)
"""
#: Cell label -> the expression whose display is checked.
SHOWN = {
    "fit": "fit",
    "summary": "fit.summary()",
    "lm": 'simlab.lm("y ~ x", data)',
    "lm summary": 'simlab.lm("y ~ x", data).summary()',
    "sweep summary": ('simlab.summarize(simlab.sweep({"n_groups": [10], "n_per_group": [3], '
                      '"tau": 0.5, "sigma": 0.25}, nsim=3, seed=1, ci=("wald",), progress=False))'),
    "power": ('simlab.power(term="x", effects={"x": 0.5}, n_groups=10, n_per_group=4, tau=0.5, '
              'sigma=1.0, nsim=20, seed=1, test="z")'),
}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, list]:
    """Run the notebook once in a fresh kernel; each shown cell's outputs by label."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(SETUP)]
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in SHOWN.values()]
    # The kernel runs this interpreter (the test's environment), headless.
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    os.environ.setdefault("MPLBACKEND", "Agg")  # inherited by the kernel: no GUI backend
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     allow_errors=True,
                                     resources={"metadata": {"path": str(tmp_path_factory.mktemp("nb"))}})
    client.execute()
    shown = {label: cell.outputs for label, cell in zip(SHOWN, notebook.cells[1:])}
    return {"setup": notebook.cells[0].outputs, **shown}


def _errors(outputs: list) -> list[str]:
    return [f"{out.get('ename')}: {out.get('evalue')}" for out in outputs
            if out.get("output_type") == "error"]


@pytest.mark.parametrize("label", list(SHOWN))
def test_result_displays_as_html(outputs, label):
    cell = outputs[label]
    assert not _errors(cell), f"{SHOWN[label]} raised {_errors(cell)}"
    results = [out for out in cell if out.get("output_type") == "execute_result"]
    assert results, f"{SHOWN[label]} displayed nothing"
    assert "text/html" in results[0]["data"], (
        f"{SHOWN[label]} shows only {sorted(results[0]['data'])} in a notebook")


def test_the_kernel_imports_the_simlab_under_test(outputs):
    import simlab

    assert not _errors(outputs["setup"]), _errors(outputs["setup"])
    printed = "".join(out.get("text", "") for out in outputs["setup"]).strip()
    assert os.path.realpath(printed) == os.path.realpath(os.path.dirname(simlab.__file__))


def test_a_fit_shows_its_lme4_summary(outputs):
    html = next(out for out in outputs["fit"] if out["output_type"] == "execute_result")
    assert "Linear mixed model fit by REML" in html["data"]["text/html"]
