"""``simlab variants --roster`` and ``simlab validate --variants/--roster`` from the shell."""
from __future__ import annotations

import pytest

from simlab import cli
from simlab.grading.variants import sim_variant

GRADESCOPE = ("First Name,Last Name,SID,Email,Role\n"
              "Ada,Lovelace,A001,ada@example.edu,Student\n"
              "Bob,Marley,,bob@example.edu,Student\n")


def run(capsys, *argv):
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_variants_prints_each_students_id_and_settings(tmp_path, capsys):
    (tmp_path / "roster.csv").write_text(GRADESCOPE)
    status, out, err = run(capsys, "variants", "--roster", tmp_path / "roster.csv")
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["id", "seed", "tau", "sigma", "n_groups", "n_per_group"]
    for line, student_id in zip(lines[1:], ["A001", "bob@example.edu"], strict=True):
        v = sim_variant(student_id)
        sid, seed, tau, sigma, n_groups, n_per_group = line.split()
        assert (sid, int(seed), float(tau), float(sigma), int(n_groups), int(n_per_group)) == (
            student_id, v.seed, v.tau, v.sigma, 100, 3)


def test_variants_as_csv_from_a_list_of_ids(tmp_path, capsys):
    (tmp_path / "ids.txt").write_text("student8\n\nA001\n")
    status, out, _ = run(capsys, "variants", "--roster", tmp_path / "ids.txt", "--format", "csv")
    v = sim_variant("student8")
    assert status == 0
    assert out.splitlines()[:2] == ["id,seed,tau,sigma,n_groups,n_per_group",
                                    f"student8,{v.seed},0.4,0.2,100,3"]
    assert len(out.splitlines()) == 3


@pytest.mark.parametrize("name, text, message", [
    (None, None, "does not exist"),
    ("roster.csv", "First Name,Last Name,SID,Email,Role\n", "lists no students"),
    ("roster.csv", "Name,Student Number\nAda,1\n",
     "no SID or Email column; its columns are ['Name', 'Student Number']"),
    ("roster.csv", GRADESCOPE + "Cy,Li,,,Student\n", "no SID or Email on line(s) [4]"),
    ("ids.txt", "A001\nA001\n", "lists the same id more than once: 'A001' (lines [1, 2])"),
])
def test_bad_rosters_get_a_clear_error(tmp_path, capsys, name, text, message):
    path = tmp_path / (name or "missing.csv")
    if text is not None:
        path.write_text(text)
    for command in (["variants"], ["validate", "--variants", "0"]):
        status, out, err = run(capsys, *command, "--roster", path)
        assert status == 2 and message in err and "Traceback" not in err and out == ""


def test_variants_needs_a_roster(capsys):
    status, _, err = run(capsys, "variants")
    assert status == 2 and "--roster" in err


@pytest.mark.parametrize("value, message", [("-1", "--variants must be a whole number >= 0"),
                                            ("two", "invalid int value")])
def test_validate_refuses_a_bad_number_of_variants(capsys, value, message):
    status, _, err = run(capsys, "validate", "--variants", value)
    assert status == 2 and message in err
