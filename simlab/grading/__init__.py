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

Exercise files import only :func:`sim_variant` from here.
"""
from .variants import SimVariant, sim_variant, student_seed

__all__ = ["SimVariant", "sim_variant", "student_seed"]
