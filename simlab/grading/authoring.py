"""Everything an instructor's key cell needs, in one import.

A ``# %% [key]`` cell of a course source file (see ``docs/authoring.md``)
starts with::

    from simlab.grading.authoring import Question, Mistake

and defines ``TITLE`` and ``QUESTIONS``. The names here are defined in
:mod:`~simlab.grading.questions` (questions and mistakes),
:mod:`~simlab.grading.mistakes` (builders of typical wrong answers) and
:mod:`~simlab.grading.stability` (decisions that must keep a margin).
"""
from __future__ import annotations

from .mistakes import reciprocal, refit, sd_ratio_icc, squared, swapped
from .questions import KeyContext, Mistake, Question
from .stability import Decision, all_sides, below, compared

__all__ = ["Question", "Mistake", "KeyContext", "Decision", "compared", "all_sides", "below",
           "squared", "reciprocal", "refit", "sd_ratio_icc", "swapped"]
