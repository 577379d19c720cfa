"""Autograding: courses of exercises, a sandbox for student code, and honest feedback.

The pieces, one concept each:

- :mod:`~simlab.grading.course`: a course folder, one instructor source per
  exercise (prompt, solution markers, ``[key]`` cells); :mod:`~simlab.grading.authoring`
  is what a key cell imports (:mod:`~simlab.grading.questions`,
  :mod:`~simlab.grading.mistakes`, :mod:`~simlab.grading.stability`);
- :mod:`~simlab.grading.answers` and :mod:`~simlab.grading.compare`: answers as
  JSON data, and their comparison with a tolerance;
- :mod:`~simlab.grading.cells`, :mod:`~simlab.grading.child`,
  :mod:`~simlab.grading.sandbox` and :mod:`~simlab.grading.isolation`: running a
  file cell by cell in a contained process;
- :mod:`~simlab.grading.variants`: per-student seeds and simulation settings;
- :mod:`~simlab.grading.grader`: keys first, then scoring; :mod:`~simlab.grading.render`:
  text, JSON and Gradescope output; :mod:`~simlab.grading.checks`: public checks
  for students; :mod:`~simlab.grading.assign`: what students and Gradescope get;
  :mod:`~simlab.grading.autograder`: the Gradescope bundle;
  :mod:`~simlab.grading.validate`: checking the keys.

Exercise files import only :func:`sim_variant` from here; scripts and
notebooks grade with :func:`grade_submission` (otter-grader's
``grade_submission``), whose report shows as text or, in Jupyter, as HTML.

The names load on first use (PEP 562): the sandbox's child process imports
this package and must not pay for the grader's modules.
"""
from __future__ import annotations

import importlib

#: Public name -> the module of this package that defines it.
_LAZY = {"SimVariant": "variants", "sim_variant": "variants", "student_seed": "variants",
         "grade_submission": "grader", "GradeReport": "grader", "ExerciseResult": "grader",
         "Limits": "sandbox"}

__all__ = ["SimVariant", "sim_variant", "student_seed", "grade_submission", "GradeReport",
           "ExerciseResult", "Limits"]


def __getattr__(name: str):
    """Load a public name the first time it is used (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f"module 'simlab.grading' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
