"""Autograding of the exercise modules (``exercises/``) against their solutions.

The pieces, one concept each:

- :mod:`~simlab.grading.questions`: answer keys (points, tolerance, hint, visibility, mistakes);
- :mod:`~simlab.grading.keys`: the keys of the course's exercises;
- :mod:`~simlab.grading.answers` and :mod:`~simlab.grading.compare`: answers as
  JSON data, and their comparison with a tolerance;
- :mod:`~simlab.grading.cells`, :mod:`~simlab.grading.child` and
  :mod:`~simlab.grading.sandbox`: running a file cell by cell in a limited process;
- :mod:`~simlab.grading.variants`: per-student seeds and simulation settings;
- :mod:`~simlab.grading.grader`: scoring; :mod:`~simlab.grading.render`: text,
  JSON and Gradescope output; :mod:`~simlab.grading.autograder`: the
  Gradescope bundle; :mod:`~simlab.grading.validate`: checking the keys.

Exercise files import only :func:`sim_variant` from here.
"""
from .variants import SimVariant, sim_variant, student_seed

__all__ = ["SimVariant", "sim_variant", "student_seed"]
