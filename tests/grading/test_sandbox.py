"""The sandbox: each failure of a student's file costs only what it touches."""
import json
import os
import socket
import tempfile
import textwrap
from pathlib import Path

import pytest

from simlab.grading import isolation, sandbox
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


def _slow_start(tmp_path, monkeypatch, seconds: float) -> None:
    """Make every child's interpreter start ``seconds`` late (a sitecustomize that sleeps),
    as a loaded machine would, before simlab's harness runs."""
    site = tmp_path / "slow_site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(f"import time\ntime.sleep({seconds})\n")
    monkeypatch.setenv("PYTHONPATH", str(site))


def test_the_time_limit_counts_from_the_childs_start_not_its_launch(tmp_path, monkeypatch):
    """A start slower than the whole budget costs the file nothing: the timeout counts from
    the child's ready signal. Without that, this run would be stopped before its first cell."""
    _slow_start(tmp_path, monkeypatch, 3)
    path = exercise(tmp_path, "a = 1", "import time\ntime.sleep(0.5)\nb = 2")
    run = run_exercise(path, ["a", "b"], limits=Limits(timeout=2, cell_timeout=1))
    assert run.problem is None and run.answers["b"]["value"] == 2
    assert run.seconds > 3


def test_a_child_that_never_gets_ready_is_stopped(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "STARTUP_TIMEOUT", 1.0)
    _slow_start(tmp_path, monkeypatch, 30)
    path = exercise(tmp_path, "a = 1")
    run = run_exercise(path, ["a"], limits=Limits(timeout=60, cell_timeout=1))
    assert "did not start within 1 s" in run.problem and "before running any cell" in run.problem
    assert run.answers == {} and run.seconds < 20


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


def test_the_child_sees_only_the_file_and_question_names(tmp_path, monkeypatch):
    """The request is the only input; it holds no expected answer, and the grader's
    environment (tokens, course paths) stays out of the child's."""
    monkeypatch.setenv("SIMLAB_SOLUTIONS_DIR", "/secret/solutions")
    monkeypatch.setenv("GRADER_TOKEN", "s3cret")
    path = exercise(tmp_path, """
        import os, sys
        request = sys.argv[1]
        environment = dict(os.environ)
        """)
    run = run_exercise(path, ["request", "environment"], limits=FAST)
    request = json.loads(run.answers["request"]["value"])
    assert set(request) == {"file", "names", "fd", "cell_timeout", "memory_mb", "file_bytes",
                            "processes", "account"}
    assert request["names"] == ["request", "environment"]
    environment = run.answers["environment"]
    assert "GRADER_TOKEN" not in environment["items"]
    assert "SIMLAB_SOLUTIONS_DIR" not in environment["items"]
    assert "s3cret" not in json.dumps(run.answers)


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


# ----- containment: each test is an attack that used to work ------------------------------
root_only = pytest.mark.skipif(not isolation.is_root(),
                               reason="runs as root only: the sandbox account needs root")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    status = Path(f"/proc/{pid}/stat")
    return status.exists() and status.read_text().split(") ")[-1][:1] != "Z"


def test_children_and_detached_processes_do_not_outlive_the_run(tmp_path):
    path = exercise(tmp_path, """
        import subprocess, sys
        sleepers = [subprocess.Popen(["sleep", "300"]) for _ in range(40)]
        detached = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"],
                                    start_new_session=True)
        pids = [p.pid for p in sleepers] + [detached.pid]
        """)
    run = run_exercise(path, ["pids"], limits=FAST)
    pids = [int(v) for v in run.answers["pids"]["values"]]
    assert len(pids) == 41
    assert not [pid for pid in pids if _alive(pid)]


@root_only
def test_student_code_runs_as_the_unprivileged_account(tmp_path, sandbox_host):
    path = exercise(tmp_path, "import os\nuid = os.getuid()\neuid = os.geteuid()")
    run = run_exercise(path, ["uid", "euid"], limits=FAST)
    assert run.answers["uid"]["value"] == sandbox_host.uid != 0
    assert run.answers["euid"]["value"] == sandbox_host.uid


@root_only
def test_a_private_file_of_the_grader_cannot_be_read(tmp_path):
    secret = tmp_path / "secret"
    secret.mkdir(mode=0o700)
    (secret / "solution.py").write_text("ANSWER = 42")
    path = exercise(tmp_path, f"""
        def peek():
            return open({str(secret / 'solution.py')!r}).read()
        """)
    run = run_exercise(path, ["peek"], limits=FAST)
    assert "peek" not in run.answers and "PermissionError" in run.errors["peek"]


@root_only
def test_the_student_cannot_signal_the_grader(tmp_path):
    path = exercise(tmp_path, """
        import os, signal
        def kill_parent():
            os.kill(os.getppid(), signal.SIGKILL)
            return "alive"
        def kill_grader():
            os.kill(int(open("/proc/self/stat").read().split(") ")[1].split()[1]), 9)
            return "alive"
        """)
    run = run_exercise(path, ["kill_grader"], limits=FAST)
    assert "PermissionError" in run.errors["kill_grader"]


def test_memory_is_capped_over_all_processes(tmp_path):
    """Each child stays under the per-process cap; together they pass the run's cap."""
    path = exercise(tmp_path, """
        import subprocess, sys, time
        hog = "b = b'x' * (450 * 2 ** 20); import time; time.sleep(60)"
        children = [subprocess.Popen([sys.executable, "-c", hog]) for _ in range(3)]
        time.sleep(30)
        done = True
        """)
    run = run_exercise(path, ["done"], limits=Limits(timeout=40, cell_timeout=35, memory_mb=1000))
    assert run.problem and "1000 MiB of memory" in run.problem
    assert run.seconds < 30


def test_the_number_of_processes_is_capped(tmp_path):
    path = exercise(tmp_path, """
        import subprocess, time
        started = 0
        try:
            for _ in range(150):
                subprocess.Popen(["sleep", "60"])
                started += 1
        except OSError:
            pass
        time.sleep(20)
        """)
    run = run_exercise(path, ["started"], limits=Limits(timeout=30, cell_timeout=25,
                                                        processes=32))
    # As root the kernel refuses the 33rd process; without root the monitor stops the run.
    assert (run.problem and "32 processes" in run.problem) or run.answers["started"]["value"] < 32


def test_disk_use_is_capped_and_files_are_removed(tmp_path):
    path = exercise(tmp_path, """
        import os, tempfile, time
        folder = tempfile.gettempdir()
        names = []
        for i in range(8):
            name = os.path.join(folder, f"junk{i}.bin")
            with open(name, "wb") as handle:
                handle.write(b"x" * (48 * 2 ** 20))
            names.append(name)
        scratch = "/tmp/simlab-test-leftover-" + str(os.getpid())
        open(scratch, "wb").write(b"y" * 1000)
        names.append(scratch)
        time.sleep(5)
        """)
    run = run_exercise(path, ["names"], limits=Limits(timeout=30, cell_timeout=25, disk_mb=200))
    assert run.problem and "200 MiB of files" in run.problem
    assert not list(Path("/tmp").glob("simlab-test-leftover-*"))
    assert not list(Path(tempfile.gettempdir()).glob("simlab-run-*/home/junk*.bin"))


@root_only
def test_there_is_no_network(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    path = exercise(tmp_path, f"""
        import socket
        def send():
            with socket.create_connection(("127.0.0.1", {port}), timeout=3) as s:
                s.sendall(b"the solution file")
            return "sent"
        """)
    try:
        run = run_exercise(path, ["send"], limits=FAST)
    finally:
        server.close()
    assert "send" not in run.answers and "Error" in run.errors["send"]


def test_a_symbolic_link_is_refused(tmp_path):
    target = exercise(tmp_path, "a = 1", name="real.py")
    link = tmp_path / "linked.py"
    link.symlink_to(target)
    run = run_exercise(link, ["a"], limits=FAST)
    assert run.answers == {} and "symbolic link" in run.problem


def test_symlinked_helper_files_are_not_copied(tmp_path):
    secret = tmp_path / "outside.txt"
    secret.write_text("do not read")
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "notes.txt").symlink_to(secret)
    path = exercise(folder, "import os\nfound = sorted(os.listdir('.'))")
    run = run_exercise(path, ["found"], limits=FAST)
    assert "notes.txt" not in run.answers["found"]["values"]


def test_forged_and_malformed_answer_events_are_errors_not_crashes(tmp_path):
    path = exercise(tmp_path, """
        import json, os, sys
        fd = json.loads(sys.argv[1])["fd"]
        for event in ({"event": "answer", "name": "b", "answer": {"value": 1}},
                      {"event": "answer", "name": "c"}, {"event": 3}, [1, 2]):
            os.write(fd, (json.dumps(event) + "\\n").encode())
        os.write(fd, b"not json at all\\n")
        a = 1
        """)
    run = run_exercise(path, ["a"], limits=FAST)
    assert run.problem is None and run.answers == {"a": {"kind": "number", "value": 1.0}}


def test_a_malformed_answer_for_a_question_is_reported_for_that_question(tmp_path):
    path = exercise(tmp_path, """
        import json, os, sys
        fd = json.loads(sys.argv[1])["fd"]
        def b():
            os.write(fd, b'{"event": "answer", "name": "b", "answer": {"value": 1}}\\n')
            os._exit(0)
        a = 1
        """)
    run = run_exercise(path, ["a", "b"], limits=FAST)
    assert run.answers["a"]["value"] == 1
    assert "could not be read" in run.errors["b"]


SWALLOWS_ALARMS = """
            while True:
                try:
                    while True:
                        pass
                except BaseException:
                    pass"""


@pytest.mark.parametrize("body, limits, problem", [
    (SWALLOWS_ALARMS, Limits(timeout=5, cell_timeout=1), "did not finish within 5 s"),
    ("\n            import os\n            os._exit(3)", FAST, "exit status 3"),
])
def test_a_kill_or_hard_exit_keeps_earlier_answers_and_the_output_so_far(tmp_path, body,
                                                                          limits, problem):
    path = exercise(tmp_path, """
        print("hello from the student")
        def a():
            return 1
        def b():""" + body)
    run = run_exercise(path, ["a", "b"], limits=limits)
    assert run.answers["a"]["value"] == 1 and problem in run.problem
    assert "hello from the student" in run.output


def test_display_is_available_as_in_a_notebook(tmp_path):
    path = exercise(tmp_path, "display(40 + 2)\nok = True")
    run = run_exercise(path, ["ok"], limits=FAST)
    assert run.cell_errors == () and "42" in run.output


def test_the_child_starts_without_the_graders_libraries():
    """Before the first cell the child has loaded its own modules only (start-up stays fast;
    the answer encoder, which needs pandas, loads after the cells)."""
    import subprocess
    import sys

    probe = ("import sys\nimport simlab.grading.child, simlab.grading.cells\n"
             "print(sorted(m for m in ('pandas', 'scipy', 'matplotlib', 'pooch', "
             "'simlab.grading.answers', 'simlab.grading.grader', 'simlab.model') "
             "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
