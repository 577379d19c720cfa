"""The Gradescope bundle under attack.

Each test is a cheat that earned marks (or escaped grading) before, run the
way Gradescope runs it: the bundle is unpacked, its real ``setup.sh``
installs simlab from the bundle into a fresh virtual environment (no
repository checkout to read) and creates the sandbox account, then the real
``run_autograder`` grades a submission as root. The cheat must earn nothing.
"""
from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from simlab.grading.autograder import FAILED_RESULTS, build_autograder, run_autograder_script
from simlab.grading.isolation import SANDBOX_USER, processes
from simlab.grading.course import load_course, solution_text
from simlab.grading.sandbox import Limits

KEYS = load_course().keys

REPO = Path(__file__).resolve().parents[2]
EXERCISE = (REPO / "exercises" / "sleepstudy.py").read_text()
LIMITS = Limits(timeout=120, cell_timeout=60, memory_mb=2500)
root_only = pytest.mark.skipif(not (hasattr(os, "geteuid") and os.geteuid() == 0),
                               reason="Gradescope runs run_autograder as root; so must this test")


class Gradescope:
    """An autograder image built from the bundle, and one fresh copy per submission."""

    def __init__(self, work: Path, python: Path) -> None:
        self.work, self.python, self.runs = work, python, 0

    def submit(self, files: dict, *, world_readable: bool = False) -> tuple[dict, Path]:
        """Grade ``files`` (name -> text, or a Path for a symbolic link); (results, root)."""
        self.runs += 1
        root = self.work / f"run{self.runs}"
        shutil.copytree(self.work / "image", root, symlinks=True)
        if world_readable:  # as if the image had lost setup.sh's permissions
            for path in [root, *root.rglob("*")]:
                path.chmod(path.stat().st_mode | 0o055)
        (root / "submission").mkdir()
        for name, content in files.items():
            target = root / "submission" / name
            if isinstance(content, Path):
                target.symlink_to(content)
            else:
                target.write_text(content.replace("ROOT", str(root)))
        (root / "submission_metadata.json").write_text(json.dumps(
            {"users": [{"id": "4242", "email": "student@example.edu"}]}))
        env = {**os.environ, "AUTOGRADER_ROOT": str(root), "SIMLAB_PYTHON": str(self.python)}
        subprocess.run(["bash", str(root / "run_autograder")], env=env, check=True,
                       capture_output=True, timeout=600)
        return json.loads((root / "results" / "results.json").read_text()), root


@pytest.fixture(scope="module")
def gradescope(fresh_simlab):
    """Build the bundle for sleepstudy, unpack it as Gradescope does and run its setup.sh
    with a Python that has no repository checkout beside it."""
    work = Path(tempfile.mkdtemp(prefix="simlab-gradescope-"))
    work.chmod(0o755)  # like /autograder: the bundle's own permissions must do the protecting
    try:
        bundle = build_autograder(work / "autograder.zip", {"sleepstudy": KEYS["sleepstudy"]},
                                  course_dir=REPO / "solutions", data_dir=None, limits=LIMITS)
        image = work / "image"
        with zipfile.ZipFile(bundle) as archive:
            archive.extractall(image / "source")
        for script in ("setup.sh", "run_autograder"):
            (image / "source" / script).chmod(0o755)
        shutil.copy2(image / "source" / "run_autograder", image / "run_autograder")
        python = fresh_simlab
        env = {**os.environ, "AUTOGRADER_ROOT": str(image), "SIMLAB_PYTHON": str(python)}
        subprocess.run(["bash", str(image / "source" / "setup.sh")], env=env, check=True,
                       capture_output=True, timeout=900)
        yield Gradescope(work, python)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def cheat(code: str) -> dict:
    """The untouched exercise with the cheat appended as a last cell."""
    return {"sleepstudy.py": EXERCISE + "\n# %%\n" + textwrap.dedent(code)}


def score(results: dict) -> float:
    return sum(test["score"] for test in results["tests"])


def leftovers(token: str) -> list[int]:
    """Live processes of the sandbox account whose command line holds ``token`` (zombies run
    nothing and hold no memory; another grader's runs hold other tokens)."""
    try:
        uid = pwd.getpwnam(SANDBOX_USER).pw_uid
    except KeyError:
        return []
    return [p.pid for p in processes() if p.uid == uid and not p.zombie
            and token in _command_line(p.pid)]


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


STEAL_SOLUTION = """
    import glob
    for path in glob.glob("ROOT/**/*.py", recursive=True):
        if "submission" not in path:
            try:
                exec(open(path).read())
            except Exception:
                pass
    """


@root_only
def test_the_honest_solution_scores_full_marks(gradescope):
    solution = solution_text((REPO / "solutions" / "sleepstudy.py").read_text())
    results, _ = gradescope.submit({"sleepstudy.py": solution})
    assert results["tests"] and score(results) == KEYS["sleepstudy"].max_score
    assert all(t["status"] == "passed" for t in results["tests"])


@root_only
def test_a_random_slopes_model_does_not_pass_as_the_random_intercept_model(gradescope):
    """A slopes fit has the random-intercept fit's fixed effects on sleepstudy and no tau
    (encoded as None): handed in for (1 | Subject), it earns nothing, and the rest still does."""
    solution = solution_text((REPO / "solutions" / "sleepstudy.py").read_text())
    swap = textwrap.dedent("""
        def q2_random_intercept_model():
            return simlab.lmer("Reaction ~ Days + (Days | Subject)", simlab.datasets.sleepstudy())
        """)
    results, _ = gradescope.submit({"sleepstudy.py": solution + "\n# %%\n" + swap})
    by_name = {t["name"]: t for t in results["tests"]}
    wrong = [name for name in by_name if "Q2: Reaction ~ Days + (1 | Subject)" in name]
    assert wrong and all(by_name[name]["score"] == 0 for name in wrong)
    assert score(results) > 0


@root_only
def test_reading_the_solutions_earns_nothing(gradescope):
    results, _ = gradescope.submit(cheat(STEAL_SOLUTION))
    assert results["tests"] and score(results) == 0


@root_only
def test_reading_the_solutions_earns_nothing_even_if_the_bundle_is_world_readable(gradescope):
    results, _ = gradescope.submit(cheat(STEAL_SOLUTION), world_readable=True)
    assert results["tests"] and score(results) == 0


@root_only
def test_a_symbolic_link_to_the_solution_earns_nothing(gradescope):
    image_solution = gradescope.work / "image" / "source" / "course" / "sleepstudy.py"
    results, _ = gradescope.submit({"sleepstudy.py": image_solution})
    assert score(results) == 0
    assert "symbolic link" in results["tests"][0]["output"]


@root_only
def test_appending_to_run_autograder_earns_nothing(gradescope):
    results, root = gradescope.submit(cheat("""
        forged = "echo '{\\"score\\": 57, \\"tests\\": []}' > ROOT/results/results.json"
        for script in ("ROOT/run_autograder", "ROOT/source/run_autograder"):
            try:
                with open(script, "a") as handle:
                    handle.write("\\n" + forged + "\\n")
            except OSError:
                pass
        """))
    assert results["tests"] and score(results) == 0
    assert "57" not in (root / "run_autograder").read_text()


@root_only
def test_writing_the_results_directly_earns_nothing(gradescope):
    results, _ = gradescope.submit(cheat("""
        import os
        for folder in ("ROOT/results", "ROOT"):
            try:
                os.makedirs(folder, exist_ok=True)
                with open(folder + "/results.json", "w") as handle:
                    handle.write('{"score": 57, "tests": []}')
            except OSError:
                pass
        """))
    assert results["tests"] and score(results) == 0


@root_only
def test_a_detached_process_cannot_rewrite_the_results_later(gradescope):
    results, root = gradescope.submit(cheat("""
        import subprocess, sys
        loop = ("import time\\n"
                "for _ in range(400):\\n"
                "    try:\\n"
                "        open('ROOT/results/results.json', 'w').write('{\\"score\\": 57}')\\n"
                "    except OSError:\\n"
                "        pass\\n"
                "    time.sleep(0.05)\\n")
        subprocess.Popen([sys.executable, "-c", loop], start_new_session=True)
        """))
    time.sleep(1.5)
    again = json.loads((root / "results" / "results.json").read_text())
    assert again == results and results["tests"] and score(results) == 0
    assert leftovers("range(400)") == []


@root_only
def test_killing_the_grader_earns_nothing(gradescope):
    results, _ = gradescope.submit(cheat("""
        import os, signal
        pid = os.getpid()
        for _ in range(8):
            stat = open(f"/proc/{pid}/stat").read()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent <= 1:
                break
            argv = open(f"/proc/{parent}/cmdline", "rb").read().split(b"\\0")
            if b"--output" in argv:
                try:
                    with open(argv[argv.index(b"--output") + 1], "w") as handle:
                        handle.write('{"score": 999, "tests": []}')
                except OSError:
                    pass
            try:
                os.kill(parent, signal.SIGKILL)
            except OSError:
                pass
            pid = parent
        """))
    assert results["tests"] and score(results) == 0
    assert all(t["tags"] == ["sleepstudy"] for t in results["tests"])


@root_only
def test_rewriting_the_answer_channel_or_the_key_earns_nothing(gradescope):
    """Every answer forged as what the key might hold, written wherever a channel could be."""
    results, _ = gradescope.submit(cheat("""
        import glob, json, os, subprocess, sys
        forged = "".join(json.dumps({"event": "answer", "name": q, "answer": a}) + "\\n"
                         for q in ("q3_icc_meaning", "q3_days_meaning", "q3_subject_sd")
                         for a in ({"kind": "text", "value": "a"}, {"kind": "number",
                                                                     "value": 1.0}))
        writer = ("import glob, time\\n"
                  "for _ in range(200):\\n"
                  "    for path in glob.glob('/tmp/simlab-run-*/**', recursive=True)"
                  " + glob.glob('/proc/[0-9]*/fd/*'):\\n"
                  "        try:\\n"
                  f"            open(path, 'a').write({forged!r})\\n"
                  "        except OSError:\\n"
                  "            pass\\n"
                  "    time.sleep(0.05)\\n")
        subprocess.Popen([sys.executable, "-c", writer], start_new_session=True)
        """))
    assert results["tests"] and score(results) == 0


@root_only
def test_left_over_processes_are_killed(gradescope):
    results, _ = gradescope.submit(cheat("""
        import subprocess, sys
        for _ in range(150):
            try:
                subprocess.Popen(["sleep", "601"])
            except OSError:
                break
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(602)"],
                         start_new_session=True)
        """))
    assert results["tests"] and score(results) == 0
    assert leftovers("601") == [] and leftovers("602") == []


@root_only
def test_memory_is_capped_for_the_submission_as_a_whole(gradescope):
    results, _ = gradescope.submit(cheat("""
        import subprocess, sys, time
        hog = "b = b'x' * (1000 * 2 ** 20); import time; time.sleep(120)"
        children = [subprocess.Popen([sys.executable, "-c", hog]) for _ in range(3)]
        time.sleep(60)
        """))
    outputs = " ".join(t["output"] for t in results["tests"])
    assert "2500 MiB of memory" in outputs and score(results) == 0
    assert leftovers("1000 * 2 ** 20") == []


@root_only
def test_files_written_are_capped_and_removed(gradescope):
    results, _ = gradescope.submit(cheat("""
        import os, time
        for i in range(8):
            for folder in ("/tmp", "/dev/shm", "."):
                try:
                    with open(f"{folder}/simlab-cheat-{i}.bin", "wb") as handle:
                        handle.write(b"x" * (100 * 2 ** 20))
                except OSError:
                    pass
        time.sleep(10)
        """))
    outputs = " ".join(t["output"] for t in results["tests"])
    assert "MiB of files" in outputs
    assert not list(Path("/tmp").glob("simlab-cheat-*")) + list(Path("/dev/shm").glob(
        "simlab-cheat-*"))


@root_only
def test_nothing_leaves_through_a_socket(gradescope):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    try:
        gradescope.submit(cheat(f"""
            import socket
            try:
                with socket.create_connection(("127.0.0.1", {port}), timeout=3) as s:
                    s.sendall(b"stolen")
            except OSError:
                pass
            """))
        with pytest.raises(socket.timeout):
            server.accept()
    finally:
        server.close()


@root_only
def test_a_file_returned_as_an_answer_is_not_shown(gradescope):
    results, _ = gradescope.submit(cheat("""
        def q3_icc_meaning():
            return open("/etc/passwd").read()
        """))
    assert "root:x:0" not in json.dumps(results)


# ----- run_autograder itself, with a stand-in for simlab --------------------------------------
def _script_root(tmp_path: Path, fake_simlab: str) -> tuple[Path, dict]:
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "submission").mkdir()
    script = root / "run_autograder"
    script.write_text(run_autograder_script(LIMITS))
    script.chmod(0o755)
    fake = tmp_path / "fake-python"
    fake.write_text("#!/usr/bin/env bash\n" + fake_simlab)
    fake.chmod(0o755)
    return root, {**os.environ, "AUTOGRADER_ROOT": str(root), "SIMLAB_PYTHON": str(fake)}


def test_lines_added_to_run_autograder_while_it_runs_are_not_executed(tmp_path):
    marker = tmp_path / "injected"
    root, env = _script_root(tmp_path, f"""
echo 'touch {marker}' >> "$AUTOGRADER_ROOT/run_autograder"
echo '{{"score": 1, "tests": []}}' > "$AUTOGRADER_ROOT/results/results.json"
""")
    subprocess.run(["bash", str(root / "run_autograder")], env=env, check=True, timeout=60)
    assert not marker.exists()


def test_a_grader_that_dies_leaves_a_grading_failed_file(tmp_path):
    root, env = _script_root(tmp_path, """
echo '{"score": 999, "tests": []}' > "$AUTOGRADER_ROOT/results/results.json"
kill -9 $$
""")
    subprocess.run(["bash", str(root / "run_autograder")], env=env, check=True, timeout=60)
    results = json.loads((root / "results" / "results.json").read_text())
    assert results == json.loads(FAILED_RESULTS)
    assert results["output"].startswith("Grading failed")


def test_run_autograder_makes_the_course_and_results_root_only(tmp_path):
    root, env = _script_root(tmp_path, 'echo \'{"score": 1, "tests": []}\' > '
                                       '"$AUTOGRADER_ROOT/results/results.json"\n')
    (root / "source" / "solutions").mkdir()
    (root / "source" / "solutions" / "a.py").write_text("x = 1")
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o077)
    subprocess.run(["bash", str(root / "run_autograder")], env=env, check=True, timeout=60)
    for path in (root, root / "results", root / "source", root / "source" / "solutions",
                 root / "source" / "solutions" / "a.py"):
        assert not stat.S_IMODE(path.stat().st_mode) & 0o077, path


@root_only
def test_no_file_of_the_course_or_bundle_is_readable_by_student_code(gradescope):
    """After run_autograder locked the image, the sandbox account opens nothing under it."""
    _, root = gradescope.submit(cheat("pass"), world_readable=True)
    account = pwd.getpwnam(SANDBOX_USER)
    files = [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()]
    probe = ("import sys\nopened = []\nfor path in sys.argv[1:]:\n    try:\n"
             "        open(path, 'rb').close()\n        opened.append(path)\n"
             "    except OSError:\n        pass\nprint(len(opened))\n")
    done = subprocess.run([str(gradescope.python), "-c", probe, *map(str, files)],
                          user=account.pw_uid, group=account.pw_gid, extra_groups=[], cwd="/",
                          capture_output=True, text=True, timeout=120)
    assert len(files) > 50 and done.stdout.strip() == "0", done.stderr
