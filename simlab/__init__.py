"""simlab: learn and study linear mixed models.

Exact lme4-parity random-intercept fits (:func:`lmer`), OLS tables
(:func:`lm`), simulation (:func:`simulate`), parameter sweeps
(:func:`sweep`, :func:`summarize`) and the bundled data sets
(:mod:`simlab.datasets`).
"""
from . import datasets
from .model import LmerResult, SingularFitWarning, lmer
from .model.ols import LmResult, lm
from .simulate import simulate
from .study import summarize, sweep

__version__ = "0.1.0"
__all__ = ["lmer", "LmerResult", "SingularFitWarning", "lm", "LmResult", "simulate", "sweep",
           "summarize", "datasets",
           "__version__"]
