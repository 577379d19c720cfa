"""The sandbox: each failure of a student's file costs only what it touches."""
import json
import textwrap

import pytest

from simlab.grading.sandbox import Limits, run_exercise

FAST = Limits(timeout=60, cell_timeout=20, memory_mb=4096, output_chars=200)


def exercise(tmp_path, *cells, name="ex.py"):
    """An exercise file made of percent-format cells."""
    text = "\n".join(f"# %%\n{textwrap.dedent(cell).strip()}\n" for cell in cells)
    path = tmp_path / name
    path.write_text(text)
    return path


def test_answers_are_read_from_functions_and_variables(tmp_path):
    path = exercise(tmp_path, "a = 1.5", "def b():\n    return [1, 2, 3]")
    run = run_exercise(path, ["a", "b"], limits=FAST)
    assert run.problem is None and run.cell_errors == ()
    assert run.answers["a"] == {"kind": "number", "value": 1.5}
    assert run.answers["b"]["values"] == [1.0, 2.0, 3.0]


def test_an_error_in_one_cell_costs_only_that_cell(tmp_path):
    path = exercise(tmp_path, "a = 1", "b = undefined_name + 1", "c = 3")
    run = run_exercise(path, ["a", "b", "c"], limits=FAST)
    assert run.answers["a"]["value"] == 1 and run.answers["c"]["value"] == 3
    # The cell's source starts on line 5 of the file; the error names the student's own line.
    assert run.cell_errors[0] == ("cell 2 (line 5): NameError: name 'undefined_name' is not "
                                  "defined (line 5)")
    assert "`b` is not defined" in run.errors["b"]


def test_a_syntax_error_costs_only_its_cell(tmp_path):
    path = exercise(tmp_path, "a = 1", "b = (", "c = 3")
    run = run_exercise(path, ["a", "b", "c"], limits=FAST)
    assert "SyntaxError" in run.cell_errors[0]
    assert run.answers["c"]["value"] == 3 and "b" in run.errors


def test_an_import_error_is_reported(tmp_path):
    path = exercise(tmp_path, "import no_such_module_xyz", "c = 3")
    run = run_exercise(path, ["c"], limits=FAST)
    assert "ModuleNotFoundError" in run.cell_errors[0] and "no_such_module_xyz" in run.cell_errors[0]
    assert run.answers["c"]["value"] == 3


def test_sys_exit_is_caught_and_explained(tmp_path):
    path = exercise(tmp_path, "a = 1", "import sys\nsys.exit(3)", "c = 3")
    run = run_exercise(path, ["a", "c"], limits=FAST)
    assert "sys.exit(3)" in run.cell_errors[0] and "remove it" in run.cell_errors[0]
    assert run.answers["c"]["value"] == 3 and run.problem is None


def test_an_endless_cell_is_stopped_and_the_rest_still_runs(tmp_path):
    path = exercise(tmp_path, "while True:\n    pass", "c = 3")
    run = run_exercise(path, ["c"], limits=Limits(timeout=60, cell_timeout=1))
    assert "stopped after 1 s" in run.cell_errors[0]
    assert run.answers["c"]["value"] == 3


def test_endless_printing_is_capped_and_counted(tmp_path):
    path = exercise(tmp_path, "while True:\n    print('spam' * 100)", "c = 3")
    run = run_exercise(path, ["c"], limits=Limits(timeout=60, cell_timeout=1, output_chars=500))
    assert len(run.output) == 500 and run.output_chars > 10_000
    assert run.answers["c"]["value"] == 3


def test_a_hang_that_swallows_the_alarm_is_killed_and_reported(tmp_path):
    path = exercise(tmp_path, "a = 1", """
        while True:
            try:
                while True:
                    pass
            except BaseException:
                pass
        """)
    run = run_exercise(path, ["a"], limits=Limits(timeout=4, cell_timeout=1))
    assert "did not finish within 4 s" in run.problem and "cell 2" in run.problem
    assert run.answers == {}


def test_a_hard_exit_is_reported(tmp_path):
    path = exercise(tmp_path, "import os\nos._exit(7)")
    run = run_exercise(path, ["a"], limits=FAST)
    assert "exit status 7" in run.problem and "cell 1" in run.problem


def test_a_crash_by_signal_is_reported(tmp_path):
    path = exercise(tmp_path, "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)")
    run = run_exercise(path, ["a"], limits=FAST)
    assert "crashed (SIGSEGV)" in run.problem


def test_memory_is_capped(tmp_path):
    path = exercise(tmp_path, "big = bytearray(3 * 2**30)", "c = 3")
    run = run_exercise(path, ["c"], limits=Limits(memory_mb=2500))
    assert "ran out of memory (the limit is 2500 MiB)" in run.cell_errors[0]
    assert run.answers["c"]["value"] == 3


def test_a_question_function_that_raises_is_reported_per_question(tmp_path):
    path = exercise(tmp_path, "def a():\n    return 1 / 0\n\ndef b():\n    return 2")
    run = run_exercise(path, ["a", "b"], limits=FAST)
    assert "ZeroDivisionError" in run.errors["a"] and run.answers["b"]["value"] == 2


def test_the_child_sees_only_the_file_and_question_names(tmp_path):
    """The request is the only input; it holds no expected answer."""
    path = exercise(tmp_path, """
        import os, sys
        request = open(sys.argv[1]).read()
        environment = dict(os.environ)
        """)
    run = run_exercise(path, ["request", "environment"], limits=FAST)
    request = json.loads(run.answers["request"]["value"])
    assert set(request) == {"file", "names", "out", "cell_timeout", "memory_mb", "output_chars"}
    assert request["names"] == ["request", "environment"]


def test_notebooks_are_run_too(tmp_path):
    notebook = {"cells": [{"cell_type": "code", "source": ["a = 2\n"]},
                          {"cell_type": "markdown", "source": "text"},
                          {"cell_type": "code", "source": "%matplotlib inline\nb = a * 2"}]}
    path = tmp_path / "ex.ipynb"
    path.write_text(json.dumps(notebook))
    run = run_exercise(path, ["b"], limits=FAST)
    assert run.answers["b"]["value"] == 4


@pytest.mark.parametrize("field, value", [("timeout", 0), ("cell_timeout", -1),
                                          ("memory_mb", "lots"), ("output_chars", True)])
def test_limits_reject_non_positive_values(field, value):
    with pytest.raises(ValueError, match=field):
        Limits(**{field: value})


def test_a_file_in_the_submission_cannot_shadow_simlab(tmp_path):
    (tmp_path / "simlab").mkdir()
    (tmp_path / "simlab" / "__init__.py").write_text("raise ImportError('shadowed')")
    (tmp_path / "helper.py").write_text("VALUE = 5")
    path = exercise(tmp_path, "import helper\nc = helper.VALUE")
    run = run_exercise(path, ["c"], limits=FAST)
    assert run.problem is None and run.answers["c"]["value"] == 5
