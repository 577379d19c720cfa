"""Answer keys: what each question asks, what it is worth and how it is checked.

An :class:`ExerciseKey` lists the :class:`Question` objects of one exercise
file. A question names the function (or variable) of the exercise module
that holds the answer; its expected value is *not* written here but
computed by running the solution file on the same data and seed, except
where ``published`` pins a number printed in the seed's tutorial.

A :class:`Mistake` computes a typical wrong answer (an ML fit, a variance
where an sd was asked, ...) in the grader's process; an answer that
matches it gets the mistake's targeted hint instead of the generic one.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Question", "Mistake", "ExerciseKey", "KeyContext", "VISIBILITIES"]

VISIBILITIES = ("public", "hidden")


@dataclass(frozen=True)
class KeyContext:
    """What a :class:`Mistake` may use: the key's answers and the student's variant.

    Attributes
    ----------
    expected : Mapping
        Decoded expected answers by question name (floats, Series, DataFrames).
    student_id : str or None
        The student's id when grading a per-student variant.
    """

    expected: Mapping[str, Any]
    student_id: str | None = None


@dataclass(frozen=True)
class Mistake:
    """A common wrong answer and the hint to give when a student makes it.

    Parameters
    ----------
    hint : str
        What went wrong and how to fix it, e.g. "you fitted ML, not REML".
    wrong : callable
        ``wrong(ctx: KeyContext) -> value``: the answer this mistake gives.
    """

    hint: str
    wrong: Callable[[KeyContext], Any]


@dataclass(frozen=True)
class Question:
    """One checked answer of an exercise.

    Parameters
    ----------
    name : str
        The function (called without arguments) or variable in the exercise
        module whose value is the answer.
    prompt : str
        What the question asks, in one line.
    points : float
    hint : str
        Shown when the answer is wrong and matches no known mistake.
    rtol, atol : float
        Tolerance for numbers (``numpy.isclose``), suited to the statistic.
    visibility : {"public", "hidden"}
        Public checks run in ``simlab check``; hidden ones only when grading.
    choices : tuple of str, optional
        For multiple choice: the allowed options; the answer is one option
        or a collection of them.
    mistakes : tuple of Mistake
    published : optional
        A number printed in the seed's tutorial that is the expected answer
        itself, instead of the solution's value.
    decision : simlab.grading.stability.Decision, optional
        For an answer decided on noisy numbers: what the key's other answers
        imply and the margin from the threshold every variant must keep
        (checked by ``simlab validate --variants``).
    """

    name: str
    prompt: str
    points: float
    hint: str
    rtol: float = 1e-6
    atol: float = 0.0
    visibility: str = "public"
    choices: tuple[str, ...] | None = None
    mistakes: tuple[Mistake, ...] = ()
    published: Any = None
    decision: Any = None

    def __post_init__(self) -> None:
        if self.visibility not in VISIBILITIES:
            raise ValueError(f"question {self.name!r}: visibility must be one of {VISIBILITIES}, "
                             f"got {self.visibility!r}")
        if not self.points > 0 or self.rtol < 0 or self.atol < 0:
            raise ValueError(f"question {self.name!r}: points must be > 0 and tolerances >= 0")

    @property
    def hidden(self) -> bool:
        return self.visibility == "hidden"


@dataclass(frozen=True)
class ExerciseKey:
    """The answer key of one exercise file ``<name>.py``.

    Parameters
    ----------
    name : str
        File stem shared by ``exercises/<name>.py`` and ``solutions/<name>.py``.
    title : str
    questions : tuple of Question
    data_files : tuple of str
        Data files the exercise reads from ``$SIMLAB_DATA_DIR``.
    variants : bool
        Whether a student id changes the exercise's data (and so the key).
    """

    name: str
    title: str
    questions: tuple[Question, ...]
    data_files: tuple[str, ...] = ()
    variants: bool = False
    _by_name: dict = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [q.name for q in self.questions]
        if len(set(names)) != len(names):
            raise ValueError(f"exercise {self.name!r} has duplicate question names")
        object.__setattr__(self, "_by_name", {q.name: q for q in self.questions})

    @property
    def max_score(self) -> float:
        return float(sum(q.points for q in self.questions))

    def question(self, name: str) -> Question:
        """The question called ``name``."""
        return self._by_name[name]

    def public(self) -> ExerciseKey:
        """The same key with the hidden questions left out (for ``simlab check``)."""
        return ExerciseKey(self.name, self.title, tuple(q for q in self.questions if not q.hidden),
                           self.data_files, self.variants)
